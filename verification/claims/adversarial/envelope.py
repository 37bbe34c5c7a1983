"""Claim ``adversarial_training_obeys_envelope``: adversarially trained networks in the lazy ball
are still flipped by one normalised-gradient step of size ``eta* <= B(x)``
(:func:`ntk_attack.bounds.lazy_envelope` at the nominal ``C0``), and their single-step robust
accuracy at ``eps = max B`` is 0 (THEORY.md 4; notation in :mod:`.measure`)."""
import dataclasses
import math

import numpy as np

from ntk_attack import plotting
from verification import protocol, registry
from verification.claims import per_network, stats
from verification.claims.adversarial import measure

CACHE_VERSION = 1
TOLERANCE = 1e-12  # C0_hat <= C0 up to float64 rounding (see ball.TOLERANCE)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """Lazy radii ``C0 = r sqrt(d)`` for ``r`` in ``ratios`` at each ``size`` (``d = size^2``),
    width ``m``, ``networks`` networks trained ``epochs`` full-batch epochs against PGD-l2 of
    radius ``eps sqrt(d) = eps_sqrt_d`` (``attack_steps`` steps); ``kappa_networks x
    kappa_points`` calibration draws; ``test_fraction`` of the bundled subset held out (500 test
    images per network at 0.5: with 4 networks, enough eligible points that the exact binomial
    CI of 0 violations ends below 1% at the suite's Bonferroni level)."""
    sizes: tuple
    ratios: tuple
    m: int
    networks: int
    n_train: int
    epochs: int
    lr: float
    attack_steps: int
    eps_sqrt_d: float
    kappa_networks: int
    kappa_points: int
    test_fraction: float = 0.2


GRIDS = {"quick": Grid(sizes=(10,), ratios=(0.03, 0.06), m=512, networks=4, n_train=200, epochs=5,
                       lr=10.0, attack_steps=10, eps_sqrt_d=1.0, kappa_networks=4, kappa_points=500,
                       test_fraction=0.5),
         "full": Grid(sizes=(10, 14), ratios=(0.01, 0.03, 0.1), m=1024, networks=8,
                      n_train=400, epochs=10, lr=10.0, attack_steps=10, eps_sqrt_d=1.0,
                      kappa_networks=20, kappa_points=1000)}


def points(grid: Grid, seed: int, mnist_path=None) -> list:
    out = []
    for size in grid.sizes:
        d = size ** 2
        eps = grid.eps_sqrt_d / math.sqrt(d)
        out += [measure.AdvPoint(size=size, m=grid.m, C0=r * math.sqrt(d), radius="lazy", eps=eps,
                                 n_networks=grid.networks, n_train=grid.n_train, epochs=grid.epochs,
                                 lr=grid.lr, batch_size=0, attack_steps=grid.attack_steps,
                                 eval_eps=(eps,), eval_steps=grid.attack_steps,
                                 seed=protocol.derive_seed(seed, "adversarial-networks", size,
                                                           grid.m),
                                 test_fraction=grid.test_fraction, mnist_path=mnist_path)
                for r in grid.ratios]
    return out


def label(point: measure.AdvPoint) -> str:
    return f"d = {point.d}, C0/sqrt(d) = {point.C0 / math.sqrt(point.d):.2g}"


def summarise(point: measure.AdvPoint, result: dict, kappa: float) -> dict:
    """The per-network numbers the checks judge, and the per-point ratios ``eta*/B``."""
    B, eligible = measure.envelope(result, d=point.d, m=point.m, C0=point.C0, kappa=kappa)
    eta = np.asarray(result["eta"], dtype=float)
    robust, clean = measure.robust_at_max_bound(result, B, eligible)
    ratio = eta / B
    inside = per_network.inside_conditions(d=point.d, m=point.m, C0=point.C0)
    # Outside the conditions nothing is claimed; the figure shows the ratio wherever B is finite.
    shown = (eligible if inside else np.isfinite(B)) & np.isfinite(ratio)
    return {"label": label(point), "d": point.d, "m": point.m, "C0": point.C0,
            "inside": inside,
            "C0_hat_excess": float(np.max(result["C0_hat"]) / point.C0 - 1),
            "counts": np.stack([np.sum((eta > B) & eligible, axis=1), np.sum(eligible, axis=1)],
                               axis=1).tolist(),
            "robust_at_max_B": robust.tolist(), "clean_at_max_B": clean.tolist(),
            "max_B": [float(b[ok].max()) if ok.any() else math.nan for b, ok in zip(B, eligible)],
            "no_flip": int(np.sum(~np.isfinite(eta[eligible]))),
            "ratios": [float(f"{v:.4g}") for v in ratio[shown]],
            "clean_test_accuracy": float(np.mean(np.sign(result["f"]) == result["y"][None, :])),
            "train_accuracy": float(np.mean(np.asarray(result["train_accuracy"])[:, -1])),
            "train_robust": float(np.mean(np.asarray(result["train_robust"])[:, -1]))}


def judge(rows: list, *, level: float, seed: int) -> list:
    """Three checks per grid point inside the conditions (``rows`` from :func:`summarise`):
    ``C0_hat <= C0`` (deterministic: ``B`` is evaluated at the nominal ``C0``), the violation
    fraction (:func:`.stats.violation_check`), and single-step robust accuracy at
    ``eps = max B`` exactly 0 for every network (inconclusive when no eligible point, or none
    correctly classified, makes it mean something)."""
    checks = []
    for row in rows:
        if not row["inside"]:
            continue
        name = row["label"]
        checks.append(protocol.exact_check(
            f"{name}: max C0_hat / C0 - 1", prediction=f"<= {TOLERANCE:g}",
            value=row["C0_hat_excess"],
            band=protocol.Band(-math.inf, TOLERANCE, 0.0, "projection onto the lazy ball")))
        checks.append(stats.violation_check(name, row["counts"], level=level,
                                            seed=protocol.derive_seed(seed, name)))
        checks.append(measure.robust_at_max_B_check(name, row["robust_at_max_B"],
                                                    row["clean_at_max_B"]))
    return checks


def figures(data: dict) -> dict:
    def tick(row):  # d over C0/sqrt(d): short lines that fit level under each group
        return f"d={row['d']}\n{row['C0'] / math.sqrt(row['d']):.2g}"
    ratios = {tick(row): row["ratios"] for row in data["grid"] if row["ratios"]}
    outside = [tick(row) for row in data["grid"] if row["ratios"] and not row["inside"]]
    if not ratios:
        return {}
    return {"eta_over_bound_by_grid_point": plotting.ratio_distribution_plot(
        ratios, out_of_conditions=outside, ylabel="eta* / B(x) per eligible point",
        xlabel="grid point: d, C0/sqrt(d) (adversarially trained, lazy ball)",
        threshold_label="envelope: eta* = B(x)")}


def caption(data: dict) -> str:
    inside = [row for row in data["grid"] if row["inside"] and row["ratios"]]
    if not inside:
        return "No grid point has a point inside the envelope's conditions."
    return plotting.caption(
        "eta*/B(x) per eligible test point of networks adversarially trained (PGD-l2, eps sqrt(d) "
        "= {eps}) in the lazy ball, B at the nominal C0 with kappa_d from disjoint init seeds: "
        "largest ratio {top} (threshold 1), median {median}; {viol:d} violations among {n:d} "
        "points; single-step robust accuracy at eps = max B: {robust} (largest over networks).",
        eps=data["eps_sqrt_d"], top=max(max(r["ratios"]) for r in inside),
        median=float(np.median(np.concatenate([r["ratios"] for r in inside]))),
        viol=int(sum(np.sum(np.asarray(r["counts"])[:, 0]) for r in inside)),
        n=int(sum(np.sum(np.asarray(r["counts"])[:, 1]) for r in inside)),
        robust=max(float(np.nanmax(r["robust_at_max_B"])) for r in inside))


@registry.claim("adversarial_training_obeys_envelope",
                title="adversarially trained lazy networks: eta* <= B(x), robust accuracy 0 at "
                      "max B",
                figures=figures)
def adversarial_training_obeys_envelope(ctx: registry.Context, *, grid: Grid | None = None
                                        ) -> registry.Outcome:
    """For networks adversarially trained inside the lazy ball (``C0_hat <= C0``), ``eta* <= B(x)``
    (``B`` at the nominal ``C0``) for at least 99% of the points inside the envelope's conditions,
    and single-step robust accuracy at ``eps = max_x B(x)`` is exactly 0, whatever the training
    (THEORY.md 4)."""
    grid = grid or GRIDS[ctx.profile]
    pts = points(grid, ctx.seed, ctx.mnist_path if not ctx.quick else None)
    kappas = measure.kappas(ctx, [p.d for p in pts], grid.m, n_networks=grid.kappa_networks,
                            n_points=grid.kappa_points)
    results = ctx.runner.map(measure.adv_point, pts, desc="adversarial training (envelope)")
    rows = [summarise(p, r, kappas[p.d]) for p, r in zip(pts, results)]
    n_checks = max(sum(row["inside"] for row in rows), 1)
    checks = judge(rows, level=ctx.level(n_checks), seed=ctx.seed)
    data = {"grid": rows, "eps_sqrt_d": grid.eps_sqrt_d,
            "kappa": {str(d): k for d, k in kappas.items()}}
    data["captions"] = {"eta_over_bound_by_grid_point": caption(data)}
    notes = ("kappa_d (99.9% quantile of eta*/first-order at init, seeds disjoint from the checked "
             "networks): " + ", ".join(f"d = {d}: {k:.3f}" for d, k in kappas.items())
             + ". Clean test / train / robust train accuracy per grid point (measured): "
             + "; ".join(f"{r['label']}: {r['clean_test_accuracy']:.3f} / {r['train_accuracy']:.3f}"
                         f" / {r['train_robust']:.3f}" for r in rows) + ".")
    return registry.Outcome(checks, data, {"points": [dataclasses.asdict(p) for p in pts]},
                            notes=notes)
