"""Claim ``lazy_bound_holds``: ``eta* <= B(x)`` (:func:`ntk_attack.bounds.lazy_envelope`,
``kappa_d`` calibrated on disjoint seeds) for >= 99% of points at every grid point inside the
conditions (THEORY.md 4; notation in :mod:`.measure`).

Networks are the units: a grid point's violation fraction is the mean over networks of each
network's fraction. Untrained networks (``C0 = 0``) test the calibration's transfer and the
envelope's tightness: there ``B = kappa_d |f| / ||grad f||``, so the median of ``eta* / B`` is
the calibration's median ratio divided by ``kappa_d``. Trained networks must reach their lazy
radius (``C0_hat = C0``), else the "after training" arm re-tests the initialisation.
"""
import dataclasses
import math

import numpy as np

from ntk_attack import plotting
from verification import protocol, registry
from verification.claims import per_network, stats
from verification.claims.attacks import measure

CACHE_VERSION = 1
# At C0 = 0 the median of eta*/B is median/kappa_d of the calibration (same law, disjoint seeds):
# exact up to the calibration's own sampling error (~0.3% for the median of 8000 ratios).
TIGHTNESS_BAND = 0.03
REACHED = 0.99  # C0_hat / C0 of every trained network: the stop rule lands on C0 when reached
RATIO_DIGITS = 4  # significant digits of the stored per-point eta*/B


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """Shared sphere training at each ``d`` in ``ds`` and ``C0 = ratio sqrt(d)`` for ``ratios``
    (``0``: untrained); ``kappa``: the calibration sweep."""
    sphere: measure.SphereSweep
    kappa: measure.KappaSweep
    ds: tuple
    ratios: tuple


GRIDS = {"quick": Grid(sphere=measure.SPHERE["quick"], kappa=measure.KAPPA["quick"], ds=(64, 256),
                       ratios=(0.0, 0.01, 0.03, 0.1)),
         "full": Grid(sphere=measure.SPHERE["full"], kappa=measure.KAPPA["full"], ds=(64, 256, 1024),
                      ratios=(0.0, 0.01, 0.03, 0.1))}


def judge_bound(points: list, *, level: float, seed: int) -> list:
    """Checks of the grid points inside the conditions.

    Args:
        points: dicts with ``label``, ``C0``, ``rows`` `(n_networks, 2)`, ``ratio`` and
            ``eligible`` `(n_networks, n_points)`, ``C0_hat`` `(n_networks,)` and
            ``median_calibration`` (the calibration's median ``eta*/first-order``) and ``kappa``.
    """
    checks = []
    for p in points:
        if p["rows"][:, 1].sum() == 0:
            continue  # no point meets the denominator condition: nothing is claimed
        checks.append(stats.violation_check(p["label"], p["rows"], level=level,
                                            seed=protocol.derive_seed(seed, p["label"])))
        if p["C0"] == 0:
            target = p["median_calibration"] / p["kappa"]
            checks.append(stats.bootstrap_check(
                f"{p['label']}: median eta*/B(x) / (calibration median / kappa_d)",
                np.where(p["eligible"], p["ratio"], np.nan),
                statistic=lambda r: float(np.nanmedian(r)) / target,
                prediction=f"1 (median / kappa_d = {target:.4f}: B is tight, THEORY.md 4)",
                band=stats.relative_band(TIGHTNESS_BAND, "+-3%: same law as the calibration, "
                                         "disjoint seeds; a slack factor or a missing kappa_d "
                                         "moves it by its own size"),
                level=level, seed=protocol.derive_seed(seed, "tight", p["label"])))
        else:
            reached = float(np.min(p["C0_hat"]) / p["C0"])
            checks.append(protocol.exact_check(
                f"{p['label']}: min C0_hat / C0 over networks (radius reached)",
                prediction=f">= {REACHED:g}", value=reached,
                band=protocol.Band(REACHED, 1 + 1e-9, 0, "the stop rule lands on C0 once reached; "
                                   "below it the network never left the init's neighbourhood")))
    return checks


def tightness(ratio, eligible) -> dict:
    """Median, 99th percentile and maximum of ``eta* / B`` over eligible points."""
    values = ratio[eligible]
    if values.size == 0:
        return {"median": math.nan, "p99": math.nan, "max": math.nan}
    return {"median": float(np.median(values)), "p99": float(np.quantile(values, 0.99)),
            "max": float(np.max(values))}


def ratio_figure(data: dict):
    """Per grid point, the distribution of per-point ``eta* / B(x)`` against the bound 1.

    Args:
        data: ``{"ratios": {label: (n,)}, "outside": [label, ...]}``.
    """
    return plotting.ratio_distribution_plot(
        {k: np.asarray(v, dtype=float) for k, v in data["ratios"].items()},
        out_of_conditions=[k for k in data["outside"] if k in data["ratios"]],
        ylabel="eta* / B(x) per eligible point", xlabel="grid point (d, C0 / sqrt(d))",
        threshold_label="envelope: eta* / B = 1")


def figures(data: dict) -> dict:
    return {"eta_over_bound_by_grid_point": ratio_figure(data)}


@registry.claim("lazy_bound_holds", title="eta* <= B(x) for >= 99% of points inside the lazy conditions",
                figures=figures)
def lazy_bound_holds(ctx: registry.Context, *, grid: Grid | None = None) -> registry.Outcome:
    """For networks trained inside the lazy ball, ``eta* <= B(x) = kappa_d (|f(x; W0)| + C0) /
    (||grad f(x; W0)|| - 2 C0 - (2/pi)^(1/4) sqrt(C0 d) m^(-1/4))`` for at least 99% of points at
    every grid point with ``d >= 64``, ``C0 <= sqrt(d)/4``, ``m >= 16 C0^2`` (points whose own
    denominator is below half their gradient norm are outside the claim, and counted); at
    ``C0 = 0`` the median of ``eta*/B`` is the calibration's median over ``kappa_d``; trained
    networks reach ``C0``."""
    grid = grid or GRIDS[ctx.profile]
    trained = measure.sphere_points(grid.sphere, ctx.seed, grid.ds,
                                    lambda d: [r * math.sqrt(d) for r in grid.ratios])
    calibration = per_network.kappa_points(grid.ds, grid.sphere.m, n_networks=grid.kappa.networks,
                                           n_points=grid.kappa.points, seed=ctx.seed,
                                           role="kappa-calibration")
    calibrated = per_network.calibrate(ctx, calibration)
    results = ctx.runner.map(measure.trained_point, trained, desc="sphere training")
    inside, table, stored, outside = [], [], {}, []
    for p, r in zip(trained, results):
        short = f"d={p.d}, {p.C0 / math.sqrt(p.d):.2g}"
        label = f"d = {p.d}, m = {p.m}, C0 = {p.C0:.3g} (C0/sqrt(d) = {p.C0 / math.sqrt(p.d):.2g})"
        kappa = calibrated[p.d]["kappa"]
        ratio, eligible = measure.ratios(r, d=p.d, m=p.m, C0=p.C0, kappa=kappa)
        rows = measure.counts(ratio, eligible)
        is_inside = per_network.inside_conditions(d=p.d, m=p.m, C0=p.C0)
        point = {"label": label, "C0": p.C0, "rows": rows, "ratio": ratio,
                 "eligible": eligible, "C0_hat": np.asarray(r["C0_hat"]), "kappa": kappa,
                 "median_calibration": calibrated[p.d]["median"]}
        if is_inside:
            inside.append(point)
        else:
            outside.append(short)
        if eligible.any():
            stored[short] = [float(f"{v:.{RATIO_DIGITS}g}") for v in ratio[eligible]]
        first_order_ratio = (np.asarray(r["first_order"]) * np.asarray(r["init_grad_norm"])
                             / np.maximum(np.abs(np.asarray(r["init_f"])), 1e-300))
        table.append({"d": p.d, "m": p.m, "C0": p.C0, "C0_over_sqrt_d": p.C0 / math.sqrt(p.d),
                      "inside": bool(is_inside), "violations": int(rows[:, 0].sum()),
                      "eligible": int(rows[:, 1].sum()), "points": int(ratio.size),
                      "ineligible_fraction": float(1 - eligible.mean()),
                      **{f"ratio_{k}": v for k, v in tightness(ratio, eligible).items()},
                      "min_C0_hat_over_C0": float(np.min(r["C0_hat"]) / p.C0) if p.C0 else None,
                      "median_trained_over_init_first_order": float(np.median(first_order_ratio))})
    n_checks = sum(2 for p in inside if p["rows"][:, 1].sum() > 0)
    checks = judge_bound(inside, level=ctx.level(max(n_checks, 1)), seed=ctx.seed)
    data = {"kappa": {str(d): c["kappa"] for d, c in calibrated.items()},
            "calibration_median": {str(d): c["median"] for d, c in calibrated.items()},
            "grid": table, "ratios": stored, "outside": outside}
    lines = [f"d = {t['d']}, C0/sqrt(d) = {t['C0_over_sqrt_d']:.2g}: eta*/B median {t['ratio_median']:.3g}, "
             f"p99 {t['ratio_p99']:.3g}, max {t['ratio_max']:.3g}; {t['ineligible_fraction']:.0%} of points "
             f"outside the denominator condition; trained/init first-order median "
             f"{t['median_trained_over_init_first_order']:.3f}" + ("" if t["inside"] else " (grid point outside)")
             for t in table]
    data["captions"] = {"eta_over_bound_by_grid_point": plotting.caption(
        "Per-point eta*/B(x) per grid point (sphere, m = {m}, {n:d} networks each; eligible points "
        "only). The largest ratio over all points inside the conditions is {top}; points of one "
        "network are correlated.", m=grid.sphere.m, n=grid.sphere.networks,
        top=max((t["ratio_max"] for t in table if t["inside"] and t["eligible"]), default=math.nan))}
    notes = ("kappa_d (99.9% quantile of eta*/first-order at init, calibration seeds disjoint from "
             "the checked networks): " + ", ".join(f"d = {d}: {k:.3f}" for d, k in data["kappa"].items())
             + ". Per grid point: " + "; ".join(lines) + ".")
    return registry.Outcome(checks, data, {"trained": [dataclasses.asdict(p) for p in trained],
                                           "calibration": [dataclasses.asdict(p) for p in calibration]},
                            notes=notes)
