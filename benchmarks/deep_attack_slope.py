"""Prototype check for ``deep_attack_scales_as_inverse_sqrt_d``: slope of ``eta*`` against ``d``
and against width at init, per depth, with a bootstrap CI over networks (THEORY.md 3, 9).

Each network gives the median over its points of ``eta*`` (bisection on ``(0, 20 |f|/||grad f||]``,
no-flip points count as ``inf`` in the median); the slope of ``log median`` against ``log d``
(or ``log n``) is fitted by least squares over the networks of all grid values and bootstrapped
by resampling networks within each grid value.

    python benchmarks/deep_attack_slope.py [--networks 16 --points 32]
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from ntk_attack import deep  # noqa: E402

LEVEL = 1 - 0.01 / 5


def medians(d, widths, nets, points, seed):
    out = []
    for k in range(nets):
        x = jax.random.normal(jax.random.PRNGKey(seed + 7919 * k), (points, d))
        x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
        p = deep.init_deep(jax.random.PRNGKey(seed + 104729 * k + 1), d, widths)
        r = deep.min_flip_deep(p, x, method="bisection", max_ratio=20.0, rtol=1e-6)
        out.append(np.median(np.where(np.asarray(r.flipped), np.asarray(r.eta), np.inf)))
    return np.array(out)


def slope_ci(xs, groups, n_boot=2000):
    rng = np.random.default_rng(0)
    lx = np.concatenate([np.full(len(g), np.log(x)) for x, g in zip(xs, groups)])
    fit = lambda gs: np.polyfit(lx, np.log(np.concatenate(gs)), 1)[0]
    boots = [fit([g[rng.integers(0, len(g), len(g))] for g in groups]) for _ in range(n_boot)]
    return fit(groups), np.quantile(boots, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=16)
    parser.add_argument("--points", type=int, default=32)
    parser.add_argument("--depths", default="1,2,4")
    parser.add_argument("--width", type=int, default=256)
    args = parser.parse_args()
    for L in map(int, args.depths.split(",")):
        start = time.perf_counter()
        ds = (64, 256)
        groups = [medians(d, (args.width,) * L, args.networks, args.points, 17 * L + d) for d in ds]
        s, ci = slope_ci(ds, groups)
        print(f"L={L} n={args.width}: slope of median eta* vs d over {ds}: {s:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] "
              f"(band [-0.6, -0.4]); median eta* sqrt(d): {[round(float(np.median(g) * np.sqrt(d)), 3) for g, d in zip(groups, ds)]}"
              f"  {time.perf_counter() - start:.1f} s", flush=True)
        start = time.perf_counter()
        ns = (128, 512)
        groups = [medians(64, (n,) * L, args.networks, args.points, 31 * L + n) for n in ns]
        s, ci = slope_ci(ns, groups)
        print(f"L={L} d=64: slope of median eta* vs width over {ns}: {s:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] "
              f"(band [-0.1, 0.1])  {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
