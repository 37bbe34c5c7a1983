"""Prototype of the quick-profile grids proposed for the three adversarial-training claims, with
their CPU time (``time.process_time``, all threads) and the numbers each claim would judge.

Usage: ``PYTHONPATH=. python benchmarks/adversarial_quick.py [ball|envelope|helps]``.
"""
import json
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from ntk_attack import attacks, bounds, data, labelled_attacks, models, training  # noqa: E402
from ntk_attack.adversarial import adversarial_train  # noqa: E402

N_TRAIN, N_NETWORKS = 200, 4


def stack(seed, d, m, k=N_NETWORKS):
    nets = [models.init_two_layer(key, d, m) for key in jax.random.split(jax.random.PRNGKey(seed), k)]
    return models.TwoLayer(jnp.stack([p.W for p in nets]), jnp.stack([p.a for p in nets])), nets


def nets_of(params):
    return [models.TwoLayer(W, a) for W, a in zip(*params)]


def ball():
    """``adversarial_training_stays_in_ball``: max over epochs and networks of C0_hat / limit."""
    ds = data.mnist_subset(7)
    x, y = ds.x_train[:N_TRAIN], ds.y_train[:N_TRAIN]
    rows = []
    for m, radius, C0 in ((256, "lazy", 0.5), (256, "lazy", 2.0), (1024, "lazy", 2.0), (1024, "absolute", 0.1)):
        params0, _ = stack(m, 49, m, k=2)
        result = adversarial_train(jax.random.PRNGKey(1), params0, x, y, eps=0.1, C0=C0, epochs=5, lr=8.0,
                                   patience=5, attack_steps=5, batch_size=50, radius=radius)
        limit = C0 if radius == "lazy" else C0 * math.sqrt(m)
        ratio = np.asarray(result.history.C0_hat) / limit
        rows.append(dict(m=m, radius=radius, C0=C0, max_ratio_minus_1=float(ratio.max() - 1),
                         final_min_ratio=float(ratio[:, -1].min())))
    return rows


def envelope():
    """``adversarial_training_obeys_envelope``: eta*/B on eligible points, single-step robust
    accuracy at max B."""
    side, m = 10, 512
    d = side * side
    ds = data.mnist_subset(side)
    x, y, xt, yt = ds.x_train[:N_TRAIN], ds.y_train[:N_TRAIN], ds.x_test, ds.y_test
    kappa = bounds.calibrate_kappa(jax.random.PRNGKey(9000 + d), d, m, n_networks=4, n_points=500).kappa
    rows = []
    for C0 in (0.3, 0.6):
        params0, init = stack(100 + d, d, m)
        f0 = [models.apply(n, xt) for n in init]
        g0 = [jnp.linalg.norm(models.input_grad(n, xt), axis=-1) for n in init]
        eps = float(np.median(np.abs(f0[0]) / g0[0]))
        result = adversarial_train(jax.random.PRNGKey(d), params0, x, y, eps=eps, C0=C0, epochs=5,
                                   lr=10.0, patience=5, attack_steps=10)
        ratios, robust, eligible = [], [], 0
        for i, net in enumerate(nets_of(result.params)):
            C0_net = float(training.C0_hat(net.W, init[i].W))
            B = np.asarray(bounds.lazy_envelope(f0[i], g0[i], C0=C0_net, d=d, m=m, kappa_d=kappa))
            ok = np.asarray(bounds.envelope_conditions(g0[i], C0=C0_net, d=d, m=m).points)
            flip = attacks.min_flip(net, xt)
            ratios.append(np.asarray(flip.eta)[ok] / B[ok])
            eligible += int(ok.sum())
            robust.append(float(labelled_attacks.line_robust_accuracy(flip, yt, [B[ok].max()])[0]))
        pooled = np.concatenate(ratios)
        rows.append(dict(d=d, m=m, C0=C0, kappa=kappa, eligible=eligible, ratio_median=float(np.median(pooled)),
                         ratio_p99=float(np.quantile(pooled, 0.99)), ratio_max=float(pooled.max()),
                         line_robust_at_max_B=robust))
    return rows


def helps():
    """``adversarial_training_helps_only_outside_lazy_regime``: robust test accuracy, AT minus
    standard, lazy C0/sqrt(d) in {0.1, 3} and one absolute radius."""
    side, m = 10, 512
    d = side * side
    ds = data.mnist_subset(side)
    x, y, xt, yt = ds.x_train[:N_TRAIN], ds.y_train[:N_TRAIN], ds.x_test, ds.y_test
    grid = np.array([0.5, 1.0, 2.0]) / math.sqrt(d)
    rows = []
    for radius, C0 in (("lazy", 0.1 * math.sqrt(d)), ("lazy", 3 * math.sqrt(d)), ("absolute", 0.1)):
        params0, _ = stack(200, d, m)
        acc = {}
        for eps in (0.0, 1.0 / math.sqrt(d)):
            result = adversarial_train(jax.random.PRNGKey(2), params0, x, y, eps=eps, C0=C0, epochs=5,
                                       lr=10.0, patience=5, attack_steps=10, batch_size=50, radius=radius)
            acc[eps] = np.array([[np.asarray(labelled_attacks.robust_accuracy(n, xt, yt, grid, attack=a, steps=10,
                                                                     step_fraction=0.25))
                                  for n in nets_of(result.params)] for a in ("pgd", "line")])
        gain = acc[1.0 / math.sqrt(d)] - acc[0.0]  # (attack, network, eps)
        rows.append(dict(radius=radius, C0=C0, gain_mean=gain.mean(axis=1).tolist(),
                         gain_sd=gain.std(axis=1, ddof=1).tolist(),
                         standard=acc[0.0].mean(axis=1).tolist()))
    return rows


if __name__ == "__main__":
    for name in sys.argv[1:] or ("ball", "envelope", "helps"):
        start, wall = time.process_time(), time.time()
        rows = {"ball": ball, "envelope": envelope, "helps": helps}[name]()
        print(json.dumps({"claim": name, "cpu_seconds": time.process_time() - start,
                          "wall_seconds": time.time() - wall, "rows": rows}), flush=True)
