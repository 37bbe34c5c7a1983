"""Empirical NTK of a deep relu net: per-layer Gram products against neural-tangents.

Same inputs for every method: ``n`` unit points in ``R^d``, one :mod:`ntk_attack.deep` network
with ``L`` hidden layers of width ``w``, float64. Prints each method's steady-state time (best
of ``--repeats`` after one compiling call), its ratio to ``deep.empirical_ntk_deep`` measured in
the same run, and the agreement ``max |K - K_fast| / max |K_fast|`` (float64 rounding: ~1e-15).

    python benchmarks/deep_empirical_ntk.py [--n 64 --d 64 --width 512 --depth 3 --repeats 3]
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from ntk_attack import deep, kernels  # noqa: E402


def best_time(fn, repeats):
    result = jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times), np.asarray(result)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    widths = (args.width,) * args.depth
    key_x, key_w = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(key_x, (args.n, args.d))
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    params = deep.init_deep(key_w, args.d, widths)
    apply_fn = kernels.deep_stax(args.d, widths)[1]
    stax_params = deep.to_stax_params(params)
    methods = {"closed form (deep.empirical_ntk_deep)": lambda: deep.empirical_ntk_deep(params, x)}
    for implementation in kernels.NTK_IMPLEMENTATIONS:
        ntk_fn = jax.jit(kernels.empirical_ntk_fn(apply_fn, vmap_axes=0, implementation=implementation))
        methods[f"neural-tangents {implementation}"] = lambda ntk_fn=ntk_fn: ntk_fn(x, None, stax_params)
    print(f"n = {args.n}, d = {args.d}, widths = {widths}, float64, best of {args.repeats}")
    reference = None
    for name, fn in methods.items():
        best, kernel = best_time(fn, args.repeats)
        reference = reference or (best, kernel)
        diff = np.max(np.abs(kernel - reference[1])) / np.max(np.abs(reference[1]))
        print(f"{name:42s} best {best:8.4f} s  x{best / reference[0]:7.1f} of closed form  rel. diff {diff:.1e}")


if __name__ == "__main__":
    main()
