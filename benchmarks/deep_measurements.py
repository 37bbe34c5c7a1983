"""Measurements for the deep-network claims (THEORY.md 9): tables with bootstrap CIs over networks.

    python benchmarks/deep_measurements.py [--networks 2000] [--part table,ntk,attack,mutants]

Each network is drawn with its own key and evaluated at one fixed unit ``x`` (the laws are
rotation invariant); CIs are 99% percentile bootstraps over networks (scipy.stats.bootstrap).
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

CI = 0.99


def boot(values, statistic):
    res = stats.bootstrap((np.asarray(values),), statistic, confidence_level=CI, n_resamples=2000,
                          method="percentile", random_state=0, vectorized=True, axis=-1)
    return float(statistic(np.asarray(values), axis=-1)), res.confidence_interval


def relvar(v, axis=-1):
    return np.var(v, axis=axis, ddof=1) / np.mean(v, axis=axis) ** 2


def ratio_mean(v, axis=-1):
    return np.mean(v, axis=axis)


def unit_x(d):
    x = jax.random.normal(jax.random.PRNGKey(12345), (d,))
    return x / jnp.linalg.norm(x)


def mutant_forward(params, x, bug):
    """``deep.forward`` with a planted bug: the scale of layer ``l`` and its weights."""
    z = x
    for l, W in enumerate(params.weights):
        n_in = W.shape[0]
        if bug == "same_weights" and 0 < l:
            W = params.weights[1] if len(params.weights) > 1 and params.weights[1].shape == W.shape else W
        scale = {"fan_in_n": math.sqrt(2) / n_in, "W_std_1": 1 / math.sqrt(n_in),
                 "first_W_std_sqrt_d": (1.0 if l == 0 else math.sqrt(2 / n_in))}.get(bug, math.sqrt(2 / n_in))
        z = jax.nn.relu(z @ W * scale)
    return z @ params.readout / math.sqrt(params.readout.shape[0])


def per_network(d, widths, n_nets, seed, bug=None, batch=250):
    """``||grad f||^2``, ``f``, ``Theta_hat(x, x)`` per network, `(n_nets,)` each."""
    x = unit_x(d)

    def one(key):
        p = deep.init_deep(key, d, widths)
        if bug is None:
            f, g = jax.value_and_grad(lambda u: deep.forward(p, u[None])[1][0])(x)
            th = deep._empirical_ntk(p, x[None], x[None])[0, 0]
        else:
            f, g = jax.value_and_grad(lambda u: mutant_forward(p, u[None], bug)[0])(x)
            th = jnp.nan
        return g @ g, f, th

    run = jax.jit(jax.vmap(one))
    keys = jax.random.split(jax.random.PRNGKey(seed), n_nets)
    out = [run(keys[i:i + batch]) for i in range(0, n_nets, batch)]
    return [np.concatenate([np.asarray(o[j]) for o in out]) for j in range(3)]


def table(args):
    d = 64
    print(f"\n## Gradient norm, fluctuations, first-order attack (d = {d}, {args.networks} networks, {CI:.0%} CIs)")
    print("| L, n | beta | E||g||^2/(d K) [CI] | relvar ||g||^2 [CI] | exact | (1+2/d)e^{5b}-1 | mean sqrt(d)|f|/||g|| [CI] | ntk relvar [CI] | exact | 1st order | e^{5b}-1 | s/net |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for L, n in [(1, 64), (4, 64), (8, 64), (4, 256), (16, 256)]:
        widths = (n,) * L
        start = time.perf_counter()
        g2, f, th = per_network(d, widths, args.networks, seed=1000 * L + n)
        sec = (time.perf_counter() - start) / args.networks
        pred = float(theory.expected_grad_norm_sq(unit_x(d), depth=L))
        exact = theory.relu_finite_width_moments(d, widths)
        m, ci = boot(g2 / pred, ratio_mean)
        v, civ = boot(g2, relvar)
        a, cia = boot(math.sqrt(d) * np.abs(f) / np.sqrt(g2), ratio_mean)
        t, cit = boot(th, relvar)
        b = theory.beta(widths)
        print(f"| {L}, {n} | {b:.4f} | {m:.3f} [{ci.low:.3f}, {ci.high:.3f}] | {v:.3f} [{civ.low:.3f}, {civ.high:.3f}] | "
              f"{exact['grad_relvar']:.3f} | {theory.grad_relvar_beta_law(d, widths):.3f} | {a:.3f} [{cia.low:.3f}, {cia.high:.3f}] | "
              f"{t:.4f} [{cit.low:.4f}, {cit.high:.4f}] | {exact['ntk_relvar']:.4f} | {theory.ntk_relvar_first_order(widths):.4f} | "
              f"{math.exp(5 * b) - 1:.4f} | {sec * 1e3:.2f} ms |", flush=True)


def ntk(args):
    print(f"\n## NTK diagonal relative variance vs beta ({args.networks} networks)")
    print("| L, n | beta | measured [CI] | /beta | exact | 1st order (11L+7)/(3(L+1)) beta | e^{5b}-1 | mean Theta/(L+1)K [CI] |")
    print("|---|---|---|---|---|---|---|---|")
    d = 16
    for L, n in [(1, 32), (1, 256), (2, 128), (4, 256), (4, 64), (8, 256), (8, 128)]:
        widths = (n,) * L
        _, _, th = per_network(d, widths, args.networks, seed=7 * L + n)
        t, cit = boot(th, relvar)
        mm, cim = boot(th * d / (L + 1), ratio_mean)
        b = theory.beta(widths)
        exact = theory.relu_finite_width_moments(d, widths)["ntk_relvar"]
        print(f"| {L}, {n} | {b:.4f} | {t:.4f} [{cit.low:.4f}, {cit.high:.4f}] | {t / b:.2f} | {exact:.4f} | "
              f"{theory.ntk_relvar_first_order(widths):.4f} | {math.exp(5 * b) - 1:.4f} | {mm:.3f} [{cim.low:.3f}, {cim.high:.3f}] |", flush=True)


def attack(args):
    n, nets, points = args.attack_width, args.attack_networks, args.attack_points
    print(f"\n## eta* / first-order at init (n = {n}, {nets} networks x {points} points, bisection rtol 1e-9, "
          f"range 20 x first order; CIs over networks)")
    print("| d | L | median eta*/fo, all (no flip = inf) | median over flipped | no-flip within 20x [CI] | "
          "mean sqrt(d)|f|/||g|| [CI] | s/point |")
    print("|---|---|---|---|---|---|---|")
    for d in (32, 256):
        for L in (1, 2, 4):
            ratios, fos, nof = [], [], []
            start = time.perf_counter()
            for k in range(nets):
                x = jax.random.normal(jax.random.PRNGKey(1000 * d + k), (points, d))
                x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
                p = deep.init_deep(jax.random.PRNGKey(10 * d + 100 * L + k), d, (n,) * L)
                r = deep.min_flip_deep(p, x, method="bisection", max_ratio=20.0, rtol=1e-9)
                ratios.append(np.where(np.asarray(r.flipped), np.asarray(r.eta / r.first_order), np.inf))
                fos.append(np.mean(math.sqrt(d) * np.asarray(r.first_order)))
                nof.append(np.mean(~np.asarray(r.flipped)))
            sec = (time.perf_counter() - start) / (nets * points)
            ratios = np.concatenate(ratios)
            f, cif = boot(np.array(fos), ratio_mean)
            q, ciq = boot(np.array(nof), ratio_mean)
            print(f"| {d} | {L} | {np.median(ratios):.3f} | {np.median(ratios[np.isfinite(ratios)]):.3f} | "
                  f"{q:.3f} [{ciq.low:.3f}, {ciq.high:.3f}] | {f:.3f} [{cif.low:.3f}, {cif.high:.3f}] | {sec * 1e3:.1f} ms |",
                  flush=True)


def mutants(args):
    d, nets = 64, args.mutant_networks
    print(f"\n## Planted bugs ({nets} networks, d = {d}); prediction E||g||^2 = 1, relvar exact, mean 0.798")
    print("| bug | L, n | E||g||^2/pred [CI] | relvar [CI] vs exact | mean sqrt(d)|f|/||g|| [CI] |")
    print("|---|---|---|---|---|")
    for bug in (None, "fan_in_n", "W_std_1", "first_W_std_sqrt_d", "same_weights"):
        for L, n in [(1, 64), (4, 64)]:
            widths = (n,) * L
            g2, f, _ = per_network(d, widths, nets, seed=31 * L + n + 7, bug=bug)
            m, ci = boot(g2, ratio_mean)
            v, civ = boot(g2, relvar)
            a, cia = boot(math.sqrt(d) * np.abs(f) / np.sqrt(g2), ratio_mean)
            exact = theory.relu_finite_width_moments(d, widths)["grad_relvar"]
            print(f"| {bug} | {L}, {n} | {m:.3g} [{ci.low:.3g}, {ci.high:.3g}] | {v:.3f} [{civ.low:.3f}, {civ.high:.3f}] vs {exact:.3f} | "
                  f"{a:.3f} [{cia.low:.3f}, {cia.high:.3f}] |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=2000)
    parser.add_argument("--mutant-networks", type=int, default=1000)
    parser.add_argument("--attack-width", type=int, default=1024)
    parser.add_argument("--attack-networks", type=int, default=8)
    parser.add_argument("--attack-points", type=int, default=50)
    parser.add_argument("--part", default="table,ntk,attack,mutants")
    args = parser.parse_args()
    for part in args.part.split(","):
        start = time.perf_counter()
        globals()[part](args)
        print(f"({part}: {time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
