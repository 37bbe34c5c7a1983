"""Empirical first-layer NTK: closed form against neural-tangents' ``empirical_ntk_fn``.

Same inputs for every method: ``n`` unit-norm points in ``R^d``, one network of width ``m``
(balanced signs), float32. Prints the steady-state time of each method (best of ``--repeats``
calls after one compiling call), its ratio to the closed form, and the agreement
``max |K - K_closed| / max |K_closed|`` (target: closed form >= 100x faster, agreement
<= 5e-5: float32 sums over ``d = 784``).

    python benchmarks/empirical_ntk.py [--n 256 --d 784 --m 4096 --repeats 3 --seed 0]
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import kernels, models


def best_time(fn, repeats):
    """``(first-call seconds, best steady-state seconds, result)`` of ``fn()``."""
    start = time.perf_counter()
    result = jax.block_until_ready(fn())
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return first, min(times), np.asarray(result)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--m", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    key_x, key_w = jax.random.split(jax.random.PRNGKey(args.seed))
    x = jax.random.normal(key_x, (args.n, args.d), jnp.float32)
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    params = models.init_two_layer(key_w, args.d, args.m, dtype=jnp.float32)
    apply_fn = kernels.stax_net(args.d, args.m)[1]
    _, _, a_col = kernels.to_stax_params(params)

    def first_layer(W, u):  # the paper's model: only W trained, a fixed to the model's +-1 signs
        return apply_fn([W, (), a_col], u)

    methods = {"closed form (kernels.empirical_ntk)": lambda: kernels.empirical_ntk(params, x)}
    for implementation in kernels.NTK_IMPLEMENTATIONS:
        ntk_fn = jax.jit(kernels.empirical_ntk_fn(first_layer, vmap_axes=0, implementation=implementation))
        methods[f"neural-tangents {implementation}"] = (
            lambda ntk_fn=ntk_fn: ntk_fn(x, None, (params.W.T, None)))

    print(f"n = {args.n}, d = {args.d}, m = {args.m}, float32, {jax.devices()[0].platform}, "
          f"best of {args.repeats} after one compiling call")
    reference = None
    for name, fn in methods.items():
        first, best, kernel = best_time(fn, args.repeats)
        if reference is None:
            reference = (best, kernel)
        agreement = np.max(np.abs(kernel - reference[1])) / np.max(np.abs(reference[1]))
        print(f"{name:45s} first {first:8.3f} s  best {best:8.4f} s  "
              f"x{best / reference[0]:8.1f} of closed form  rel. diff {agreement:.1e}")


if __name__ == "__main__":
    main()
