"""Time the exact attack against bisection, the paper's line search and its matmul floor.

One run, float64, n = 1000 unit points, d = 784, m = 4096. The floor is the three
products the exact method cannot avoid: ``Z = X W^T``, ``G = (1[Z > 0] * a) W``,
``V = U W^T``. Targets: exact >= 20x faster than the batched reference line search and within
3x of the floor. Each time is the best of ``--repeats`` interleaved rounds after one compiling
call (best-of, interleaved: the machine is shared, so single timings are noisy).

    python benchmarks/min_flip.py [--n 1000 --d 784 --m 4096 --repeats 3]
"""
import argparse
import time

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

from ntk_attack.attacks import min_flip  # noqa: E402
from line_search import line_search_reference  # noqa: E402 (benchmarks/, beside this file)
from ntk_attack.models import init_two_layer  # noqa: E402


@jax.jit
def three_matmuls(W, a, x):
    """The exact method's unavoidable work: `W x`, `W^T (a * mask)`, `W u` for a batch."""
    z = x @ W.T
    grad = ((z > 0) * a) @ W
    return grad @ W.T


def best_times(fns: dict, repeats: int) -> dict:
    """Best wall time of each ``fns[name]()`` over ``repeats`` interleaved rounds."""
    for fn in fns.values():
        jax.block_until_ready(fn())  # compile
    times = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times[name] = min(times[name], time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--m", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    key_params, key_x = jax.random.split(jax.random.PRNGKey(args.seed))
    params = init_two_layer(key_params, args.d, args.m)
    x = jax.random.normal(key_x, (args.n, args.d))
    x = x / jnp.linalg.norm(x, axis=-1, keepdims=True)

    exact = min_flip(params, x)
    reference = line_search_reference(params, x)
    steps = int(jnp.ceil(jnp.max(jnp.where(reference.flipped, reference.eta, 0.0)) / 0.001))
    times = best_times({
        "floor (3 matmuls)": lambda: three_matmuls(params.W, params.a, x),
        "exact": lambda: min_flip(params, x),
        "bisection": lambda: min_flip(params, x, method="bisection"),
        "reference line search": lambda: line_search_reference(params, x),
    }, args.repeats)
    print(f"n = {args.n}, d = {args.d}, m = {args.m}, float64, {jax.device_count()} CPU device, "
          f"best of {args.repeats} interleaved rounds")
    for name, seconds in times.items():
        print(f"  {name:<24} {seconds * 1e3:9.1f} ms")
    print(f"  reference line search ran {steps} forward passes (step 0.001); "
          f"flipped {int(exact.flipped.sum())}/{args.n} (exact)")
    print(f"  reference / exact  = {times['reference line search'] / times['exact']:6.1f}x "
          "(target >= 20x)")
    print(f"  exact / floor      = {times['exact'] / times['floor (3 matmuls)']:6.2f}x "
          "(target <= 3x)")
    print(f"  bisection / exact  = {times['bisection'] / times['exact']:6.1f}x")


if __name__ == "__main__":
    main()
