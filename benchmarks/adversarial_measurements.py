"""Measurements behind the adversarial-training claims (THEORY.md 4, 7; paper section 5.2).

Prototype numbers for the claims' grids, on the bundled MNIST 0-vs-1 subset:

- ``envelope``: inside THEORY.md 4's conditions, adversarially trained networks (lazy radius):
  per-point ``eta* / B(x)`` (eligible points) and single-step robust accuracy at ``max B``.
- ``fig3``: robust test accuracy (PGD and the single-step line attack) against ``eps sqrt(d)``
  for several ``C0 / sqrt(d)`` (lazy radius), adversarial vs standard training.
- ``fig4``: the same at an absolute radius against the width ``m``.

Every grid point records its wall time. Usage:
``PYTHONPATH=. python benchmarks/adversarial_measurements.py SECTION OUT.json`` (each grid point is
also printed as one JSON line; ``benchmarks/results/adversarial_SECTION.jsonl`` keeps those lines
from the run on a shared 2-core machine, three sections in parallel).
"""
import json
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

jax.config.update("jax_enable_x64", True)

from ntk_attack import attacks, bounds, data, labelled_attacks, models  # noqa: E402
from ntk_attack.adversarial import adversarial_train  # noqa: E402
from ntk_attack.training import C0_hat  # noqa: E402

N_TRAIN = 400
N_NETWORKS = 4
ATTACK_STEPS = 20


def dataset(side):
    ds = data.mnist_subset(side, seed=0)
    return ds.x_train[:N_TRAIN], ds.y_train[:N_TRAIN], ds.x_test, ds.y_test


def stack(seed, d, m, k=N_NETWORKS):
    nets = [models.init_two_layer(key, d, m) for key in jax.random.split(jax.random.PRNGKey(seed), k)]
    return models.TwoLayer(jnp.stack([p.W for p in nets]), jnp.stack([p.a for p in nets])), nets


def ci(values, seed=0):
    """Mean over networks and its 95% percentile-bootstrap CI (resampling networks)."""
    values = np.asarray(values, float)
    if np.ptp(values) == 0:
        return [float(values[0])] * 3
    res = stats.bootstrap((values,), np.mean, confidence_level=0.95, method="percentile",
                          random_state=seed, n_resamples=2000)
    return [float(values.mean()), float(res.confidence_interval.low), float(res.confidence_interval.high)]


def nets_of(params):
    return [models.TwoLayer(W, a) for W, a in zip(*params)]


def robust(params, x, y, eps_grid):
    """Per network `(k, len(eps_grid))` robust test accuracy, PGD-l2 and the line attack."""
    pgd = [np.asarray(labelled_attacks.robust_accuracy(n, x, y, eps_grid=eps_grid, attack="pgd",
                                                                  steps=ATTACK_STEPS)) for n in nets_of(params)]
    line = [np.asarray(labelled_attacks.robust_accuracy(n, x, y, eps_grid=eps_grid, attack="line")) for n in nets_of(params)]
    return np.array(pgd), np.array(line)


def train(params0, x, y, *, eps, C0, radius, lr, epochs, seed):
    return adversarial_train(jax.random.PRNGKey(seed), params0, x, y, eps=eps, C0=C0, epochs=epochs,
                             lr=lr, patience=epochs, attack_steps=ATTACK_STEPS, radius=radius)


def envelope(out, sides=(10, 14), ratios=(0.03, 0.05, 0.1)):
    m, rows = 1024, []
    for side in sides:
        d = side * side
        x, y, xt, yt = dataset(side)
        kappa = bounds.calibrate_kappa(jax.random.PRNGKey(9000 + d), d, m, n_networks=8, n_points=500).kappa
        for ratio in ratios:
            C0 = ratio * math.sqrt(d)
            params0, init = stack(100 + d, d, m)
            f0 = [models.apply(n, xt) for n in init]
            g0 = [jnp.linalg.norm(models.input_grad(n, xt), axis=-1) for n in init]
            B0 = np.asarray(bounds.lazy_envelope(f0[0], g0[0], C0=C0, d=d, m=m, kappa_d=kappa))
            # Train at the init attack scale (median |f| / ||grad f||) and at the envelope's own scale.
            for scale, eps in (("init_eta", float(np.median(np.abs(f0[0]) / g0[0]))),
                               ("median_B", float(np.median(B0[np.isfinite(B0)])))):
                t = time.time()
                result = train(params0, x, y, eps=eps, C0=C0, radius="lazy", lr=10.0, epochs=15, seed=d)
                row = envelope_row(result, init, f0, g0, xt, yt, d=d, m=m, kappa=kappa)
                row.update(C0=C0, C0_over_sqrt_d=ratio, eps_scale=scale, eps_train=eps,
                           seconds=time.time() - t)
                print(json.dumps(row), flush=True)
                rows.append(row)
    out["envelope"] = rows


def envelope_row(result, init, f0, g0, xt, yt, *, d, m, kappa):
    ratios, max_B, line_acc, line_acc_all, pgd_acc, no_flip = [], [], [], [], [], []
    for i, net in enumerate(nets_of(result.params)):
        C0_net = float(C0_hat(net.W, init[i].W))  # the returned (best-epoch) weights
        B = np.asarray(bounds.lazy_envelope(f0[i], g0[i], C0=C0_net, d=d, m=m, kappa_d=kappa))
        ok = np.asarray(bounds.envelope_conditions(g0[i], C0=C0_net, d=d, m=m).points)
        if not ok.any():  # the per-point denominator condition excludes every test point
            continue
        flip = attacks.min_flip(net, xt)
        eta = np.asarray(flip.eta)
        ratios.append(eta[ok] / B[ok])
        no_flip.append(int((~np.asarray(flip.flipped)).sum()))
        top = float(B[ok].max())
        max_B.append(top)
        robust_points = np.asarray(yt * flip.f0 > 0) & (eta > top)
        line_acc.append(float(robust_points[ok].mean()))
        line_acc_all.append(float(robust_points.mean()))
        pgd_acc.append(float(labelled_attacks.robust_accuracy(net, xt, yt, eps_grid=[top], attack="pgd",
                                                     steps=ATTACK_STEPS)[0]))
    pooled = np.concatenate(ratios) if ratios else np.full(1, np.nan)
    history = result.history
    return dict(d=d, m=m, kappa=kappa, eligible=int(pooled.size), n_test=int(len(yt) * len(init)),
                ratio_median=float(np.median(pooled)), ratio_p99=float(np.quantile(pooled, 0.99)),
                ratio_max=float(pooled.max()), violations=int((pooled > 1).sum()), no_flip=no_flip,
                max_B=max_B, line_robust_at_max_B_eligible=line_acc, line_robust_at_max_B_all=line_acc_all,
                pgd_robust_at_max_B=pgd_acc, C0_hat=np.asarray(history.C0_hat[:, -1]).tolist(),
                train_robust=np.asarray(history.robust_accuracy[:, -1]).tolist(),
                train_clean=np.asarray(history.accuracy[:, -1]).tolist(),
                best_epoch=np.asarray(history.best_epoch).tolist())


def fig3(out):
    side, m = 10, 1024
    d = side * side
    x, y, xt, yt = dataset(side)
    scaled = (0.5, 1.0, 2.0)  # eps sqrt(d)
    grid = np.array(scaled) / math.sqrt(d)
    rows = []
    for ratio in (0.1, 0.3, 1.0, 3.0):
        C0 = ratio * math.sqrt(d)
        params0, _ = stack(200, d, m)
        for e in (0.0, 1.0, 2.0):
            t = time.time()
            result = train(params0, x, y, eps=e / math.sqrt(d), C0=C0, radius="lazy", lr=10.0, epochs=10,
                           seed=int(1000 * e))
            pgd, line = robust(result.params, xt, yt, grid)
            row = dict(d=d, m=m, C0_over_sqrt_d=ratio, eps_train_sqrt_d=e, eps_eval_sqrt_d=list(scaled),
                       pgd=[ci(pgd[:, j]) for j in range(len(grid))],
                       line=[ci(line[:, j]) for j in range(len(grid))],
                       C0_hat=np.asarray(result.history.C0_hat[:, -1]).tolist(),
                       train_clean=np.asarray(result.history.accuracy[:, -1]).tolist(),
                       seconds=time.time() - t)
            print(json.dumps(row), flush=True)
            rows.append(row)
    out["fig3"] = rows


def fig4(out, C0_abs=0.1):
    side, e = 10, 1.0
    d = side * side
    x, y, xt, yt = dataset(side)
    grid = np.array([0.5, 1.0, 2.0]) / math.sqrt(d)
    rows = []
    for m in (256, 1024, 4096):
        params0, _ = stack(300 + m, d, m)
        for train_eps in (0.0, e / math.sqrt(d)):
            t = time.time()
            result = train(params0, x, y, eps=train_eps, C0=C0_abs, radius="absolute", lr=10.0, epochs=10,
                           seed=m)
            pgd, line = robust(result.params, xt, yt, grid)
            row = dict(d=d, m=m, C0_absolute=C0_abs, C0_lazy_equivalent=C0_abs * math.sqrt(m),
                       eps_train_sqrt_d=train_eps * math.sqrt(d), eps_eval_sqrt_d=[0.5, 1.0, 2.0],
                       pgd=[ci(pgd[:, j]) for j in range(len(grid))],
                       line=[ci(line[:, j]) for j in range(len(grid))],
                       C0_hat=np.asarray(result.history.C0_hat[:, -1]).tolist(),
                       train_clean=np.asarray(result.history.accuracy[:, -1]).tolist(),
                       seconds=time.time() - t)
            print(json.dumps(row), flush=True)
            rows.append(row)
    out["fig4"] = rows


if __name__ == "__main__":
    section, path = sys.argv[1], sys.argv[2]
    results = {}
    sections = {"envelope": envelope, "fig3": fig3, "fig4": fig4,
                "envelope196": lambda out: envelope(out, sides=(14,), ratios=(0.05, 0.1)),
                "fig4_radius1": lambda out: fig4(out, C0_abs=1.0)}
    sections[section](results)
    with open(path, "w") as file:
        json.dump(results, file, indent=1)
