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
import functools
import math

import numpy as np
from scipy import stats

from ntk_attack import bounds, plotting, theory
from verification import protocol, registry
from verification.claims.attacks import measure

CACHE_VERSION = 1
VIOLATION_MAX = 0.01  # lazy envelope: at most 1% of points above B(x)
VIOLATION_HALF_WIDTH = 0.005
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


def inside_conditions(*, d: int, m: int, C0: float) -> bool:
    """Whether grid point ``(d, m, C0)`` is inside the envelope's conditions (THEORY.md 4):
    ``d >= 64``, ``C0 <= sqrt(d)/4``, ``m >= 16 C0^2`` and the denominator condition at the
    typical gradient norm ``sqrt(d/2 - 1/(2 pi))`` (points are then screened one by one)."""
    return theory.lazy_conditions(d=d, m=m, C0=C0)


def ratios(result: dict, *, d: int, m: int, C0: float, kappa: float, bound=None):
    """Per network and point `(n_networks, n_points)`: ``eta* / B(x)`` (``B`` at each network's
    ``C0_hat``) and whether the point is eligible (inside the per-point denominator condition).

    ``bound(f0_init, grad0_norm, *, C0, d, m)`` defaults to :func:`bounds.lazy_envelope` with
    ``kappa_d = kappa``. No flip gives ``inf`` (a violation).
    """
    bound = bound or functools.partial(bounds.lazy_envelope, kappa_d=kappa)
    out, eligible = [], []
    for eta, f0, g0, C0_hat in zip(result["eta"], result["init_f"], result["init_grad_norm"],
                                   result["C0_hat"]):
        C0_net = float(C0_hat) if C0 > 0 else 0.0
        eligible.append(np.asarray(bounds.envelope_conditions(g0, C0=C0_net, d=d, m=m).points))
        with np.errstate(invalid="ignore"):
            out.append(np.asarray(eta) / np.asarray(bound(f0, g0, C0=C0_net, d=d, m=m)))
    return np.array(out, dtype=float), np.array(eligible, dtype=bool)


def violations(result: dict, *, d: int, m: int, C0: float, kappa: float, bound=None):
    """Per network `(n_networks, 2)`: points with ``eta* > B(x)`` and eligible points."""
    ratio, eligible = ratios(result, d=d, m=m, C0=C0, kappa=kappa, bound=bound)
    return np.stack([np.sum((ratio > 1) & eligible, axis=1), np.sum(eligible, axis=1)], axis=1).astype(float)


def violation_check(label: str, rows, *, level: float, seed: int, max_fraction=VIOLATION_MAX):
    """Violation fraction ``<= max_fraction``: the mean over networks of each network's fraction,
    a t-interval from the bootstrap over networks (points of a network are correlated).

    Args:
        rows: `(n_networks, 2)` (violations, eligible points) per network.

    When no network shows a violation the interval over networks is ``[0, 0]`` whatever the
    sample size; its upper end is then floored at the exact binomial bound of the pooled
    count, the most a zero count can certify.
    """
    rows = np.asarray(rows, dtype=float)
    has = rows[:, 1] > 0
    fractions = rows[has, 0] / rows[has, 1]
    estimate, (lo, hi) = protocol.bootstrap(fractions, np.mean, level=level, seed=seed)
    note = (f"{int(rows[:, 1].sum())} eligible points on {int(has.sum())} networks, "
            f"{int(rows[:, 0].sum())} violations on {int(np.sum(rows[:, 0] > 0))} networks")
    if rows[:, 0].sum() == 0:
        exact = stats.binomtest(0, int(rows[:, 1].sum())).proportion_ci(confidence_level=level,
                                                                        method="exact")
        hi = max(hi, exact.high)
        note += "; no violation: upper end floored at the exact binomial bound of the pooled count"
    return protocol.check(
        f"{label}: mean fraction of points with eta* > B(x)",
        prediction=f"<= {max_fraction:g}", estimate=estimate, ci=(max(lo, 0.0), hi),
        band=protocol.Band(0, max_fraction, VIOLATION_HALF_WIDTH,
                           "THEORY.md 4: at most 1% of points; kappa_d is a 99.9% quantile"),
        level=level, note=note)


def judge_bound(points: list, *, level: float, seed: int, max_fraction=VIOLATION_MAX) -> list:
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
        checks.append(violation_check(p["label"], p["rows"], level=level, max_fraction=max_fraction,
                                      seed=protocol.derive_seed(seed, p["label"])))
        if p["C0"] == 0:
            target = p["median_calibration"] / p["kappa"]
            estimate, ci = protocol.bootstrap(
                np.where(p["eligible"], p["ratio"], np.nan),
                lambda r: float(np.nanmedian(r)) / target, level=level,
                seed=protocol.derive_seed(seed, "tight", p["label"]))
            checks.append(protocol.check(
                f"{p['label']}: median eta*/B(x) / (calibration median / kappa_d)",
                prediction=f"1 (median / kappa_d = {target:.4f}: B is tight, THEORY.md 4)",
                estimate=estimate, ci=ci,
                band=protocol.Band(1 - TIGHTNESS_BAND, 1 + TIGHTNESS_BAND, TIGHTNESS_BAND / 2,
                                   "+-3%: same law as the calibration, disjoint seeds; a slack "
                                   "factor or a missing kappa_d moves it by its own size"),
                level=level))
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
    calibration = measure.kappa_points(grid.kappa, ctx.seed, grid.ds, grid.sphere.m)
    calibrated = {p.d: r for p, r in zip(calibration, ctx.runner.map(
        measure.kappa_point, calibration, desc="kappa calibration"))}
    results = ctx.runner.map(measure.trained_point, trained, desc="sphere training")
    inside, table, stored, outside = [], [], {}, []
    for p, r in zip(trained, results):
        short = f"d={p.d}, {p.C0 / math.sqrt(p.d):.2g}"
        label = f"d = {p.d}, m = {p.m}, C0 = {p.C0:.3g} (C0/sqrt(d) = {p.C0 / math.sqrt(p.d):.2g})"
        kappa = float(calibrated[p.d]["kappa"])
        ratio, eligible = ratios(r, d=p.d, m=p.m, C0=p.C0, kappa=kappa)
        rows = np.stack([np.sum((ratio > 1) & eligible, axis=1), np.sum(eligible, axis=1)], axis=1)
        is_inside = inside_conditions(d=p.d, m=p.m, C0=p.C0)
        point = {"label": label, "C0": p.C0, "rows": rows.astype(float), "ratio": ratio,
                 "eligible": eligible, "C0_hat": np.asarray(r["C0_hat"]), "kappa": kappa,
                 "median_calibration": float(calibrated[p.d]["median"])}
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
    data = {"kappa": {str(d): float(c["kappa"]) for d, c in calibrated.items()},
            "calibration_median": {str(d): float(c["median"]) for d, c in calibrated.items()},
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
