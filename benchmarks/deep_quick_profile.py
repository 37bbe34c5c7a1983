"""Prototype of the deep family's quick-profile checks, on the correct network and planted bugs.

For each proposed check: the estimate, its bootstrap CI over networks at the Bonferroni level
of 5 claims (1 - 0.01/5), the band, the verdict, and the CPU time; then the same checks on each
planted bug of :data:`BUGS`. The gradient and the NTK diagonal are taken by ``jax`` autodiff of
:func:`variant_forward` (not ``deep.empirical_ntk_deep``), so a bug planted there shows.

    python benchmarks/deep_quick_profile.py [--bugs all]
"""
import argparse
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

jax.config.update("jax_enable_x64", True)

from ntk_attack import deep, theory  # noqa: E402

LEVEL = 1 - 0.01 / 5
BUGS = (None, "fan_in_n", "W_std_1", "first_W_std_sqrt_d", "readout_W_std_sqrt2", "fan_out",
        "rademacher_readout", "shared_key")


def variant_forward(weights, readout, x, bug):
    """``f(x)`` of ``deep`` with an optional planted bug in the scales or the weights."""
    z = x
    for l, W in enumerate(weights):
        n_in = W.shape[1] if bug == "fan_out" else W.shape[0]
        scale = {"fan_in_n": math.sqrt(2) / n_in, "W_std_1": 1 / math.sqrt(n_in),
                 "first_W_std_sqrt_d": 1.0 if l == 0 else math.sqrt(2 / n_in)}.get(bug, math.sqrt(2 / n_in))
        z = jax.nn.relu(z @ W * scale)
    return z @ readout * ((math.sqrt(2) if bug == "readout_W_std_sqrt2" else 1.0) / math.sqrt(readout.shape[0]))


def init_variant(key, d, widths, bug):
    if bug == "rademacher_readout":  # +-1 readout (the two-layer model's signs) instead of N(0, 1)
        p = deep.init_deep(key, d, widths)
        return p._replace(readout=jnp.sign(p.readout))
    if bug != "shared_key":
        return deep.init_deep(key, d, widths)
    # Key reuse: every layer drawn from the same key (hidden layers of equal shape identical).
    weights = tuple(jax.random.normal(key, (n_in, n_out)) for n_in, n_out in zip((d,) + widths[:-1], widths))
    return deep.DeepNet(weights, jax.random.normal(jax.random.fold_in(key, 1), (widths[-1],)))


def measure(d, widths, n_nets, seed, bug):
    """Per network: ``||grad f||^2``, ``f``, ``Theta_hat(x, x)`` at one unit ``x``."""
    x = jax.random.normal(jax.random.PRNGKey(777), (d,))
    x = x / jnp.linalg.norm(x)

    def one(key):
        p = init_variant(key, d, widths, bug)
        f, g = jax.value_and_grad(lambda u: variant_forward(p.weights, p.readout, u, bug))(x)
        dw, dr = jax.grad(lambda w, r: variant_forward(w, r, x, bug), argnums=(0, 1))(p.weights, p.readout)
        theta = sum(jnp.sum(a * a) for a in dw) + jnp.sum(dr * dr)
        return g @ g, f, theta

    keys = jax.random.split(jax.random.PRNGKey(seed), n_nets)
    return [np.asarray(a) for a in jax.jit(jax.vmap(one))(keys)]


def ci(stat, *samples):
    res = stats.bootstrap(samples, stat, confidence_level=LEVEL, n_resamples=2000, method="percentile",
                          random_state=0, vectorized=True, axis=-1, paired=len(samples) > 1)
    return float(stat(*samples, axis=-1)), res.confidence_interval.low, res.confidence_interval.high


def relvar(v, axis=-1):
    return np.var(v, axis=axis, ddof=1) / np.mean(v, axis=axis) ** 2


def verdict(lo, hi, band, max_half):
    if hi < band[0] or lo > band[1]:
        return "fail"
    if (hi - lo) / 2 > max_half or lo < band[0] or hi > band[1]:
        return "inconclusive"
    return "pass"


def report(name, est, lo, hi, band, max_half, seconds):
    print(f"  {name:58s} {est:9.4g} [{lo:9.4g}, {hi:9.4g}] band [{band[0]:g}, {band[1]:g}] "
          f"hw {(hi - lo) / 2:.3g}/{max_half:g}  {verdict(lo, hi, band, max_half):12s} {seconds:5.1f} s", flush=True)


def run(bug, n_nets, grid):
    d = 64
    # 1. deep_gradient_norm_matches_kernel: E||grad f||^2 / (sum_i d2K/dx_i dx'_i) at two depths.
    for L, n in grid:
        start = time.perf_counter()
        g2, f, th = measure(d, (n,) * L, n_nets, 10 * L + n, bug)
        pred = float(theory.expected_grad_norm_sq(jnp.ones(d) / 8, depth=L))
        report(f"grad: E||g||^2/pred  L={L} n={n}", *ci(lambda v, axis: v.mean(axis) / pred, g2),
               (0.9, 1.1), 0.08, time.perf_counter() - start)
        # 2. fluctuations: relvar ||g||^2 / exact finite-width prediction.
        exact = theory.relu_finite_width_moments(d, (n,) * L)
        report(f"fluct: relvar ||g||^2 / exact ({exact['grad_relvar']:.3f})  L={L} n={n}",
               *ci(lambda v, axis: relvar(v, axis) / exact["grad_relvar"], g2), (0.75, 1.33), 0.25, 0)
        # 3. first-order attack size law: mean sqrt(d)|f|/||g|| vs sqrt(2/pi) (n -> inf law).
        report(f"attack: mean sqrt(d)|f|/||g|| / 0.798  L={L} n={n}",
               *ci(lambda a, b, axis: np.mean(math.sqrt(d) * np.abs(a) / np.sqrt(b), axis) / theory.FIRST_ORDER_ATTACK_MEAN,
                   f, g2), (0.92, 1.08), 0.06, 0)
        # 4. NTK diagonal: mean vs (L+1) K(x,x) and relvar vs exact.
        report(f"ntk: E Theta_hat/((L+1)/d)  L={L} n={n}", *ci(lambda v, axis: v.mean(axis) * d / (L + 1), th),
               (0.95, 1.05), 0.04, 0)
        report(f"ntk: relvar Theta_hat / exact ({exact['ntk_relvar']:.3f})  L={L} n={n}",
               *ci(lambda v, axis: relvar(v, axis) / exact["ntk_relvar"], th), (0.75, 1.33), 0.25, 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=2000)
    parser.add_argument("--bugs", default="all")
    parser.add_argument("--grid", default="1x64,4x64", help="L x n points, d = 64")
    args = parser.parse_args()
    bugs = BUGS if args.bugs == "all" else [None if b == "None" else b for b in args.bugs.split(",")]
    for bug in bugs:
        start = time.perf_counter()
        print(f"\nbug = {bug}, {args.networks} networks per point, CI level {LEVEL}")
        run(bug, args.networks, [tuple(map(int, p.split("x"))) for p in args.grid.split(",")])
        print(f"  total {time.perf_counter() - start:.1f} s wall, {time.process_time():.1f} s CPU so far")


if __name__ == "__main__":
    main()
