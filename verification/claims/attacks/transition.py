"""Claim ``phase_transition_in_C0``: on MNIST 0 vs 1, at fixed ``C0`` the slope of ``eta*``
against ``d`` is ``-1/2`` and the prefactor ``eta* sqrt(d)`` grows with ``C0``; along
``C0 ~ c sqrt(d)`` the slope is flatter than ``-1/2`` (THEORY.md 4; notation in :mod:`.measure`)."""
import dataclasses
import math

import numpy as np

from ntk_attack.plotting import common
from verification import protocol, registry
from verification.claims.attacks import measure
from verification.claims.attacks.bound import inside_conditions, judge_bound, violations
from verification.claims.attacks.d_scaling import D_SLOPE_TRAINED

CACHE_VERSION = 1
GROWTH_HALF_WIDTH = 0.5  # slope of log(prefactor) against log(C0): sign must be decidable
FLATTER_HALF_WIDTH = 0.25


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """MNIST 0 vs 1 at ``size x size``: fixed radii ``fixed_C0`` at ``fit_sizes``
    (``fit_networks`` networks), the path ``C0 = c sqrt(d)`` and extra radii ``sweep_C0`` at
    ``sizes`` (``networks`` networks); width ``m``, at most ``steps`` steps; robust accuracy at
    the radii ``eps_grid``; ``kappa``: the calibration sweep."""
    kappa: measure.KappaSweep
    sizes: tuple
    fit_sizes: tuple
    m: int
    networks: int
    fit_networks: int  # networks of the fixed-C0 slope fits (their offsets dominate the CI)
    steps: int
    fixed_C0: tuple
    c: float
    sweep_C0: tuple
    eps_grid: tuple


GRIDS = {"quick": Grid(kappa=measure.KAPPA["quick"], sizes=(7, 14), fit_sizes=(7, 28), m=512,
                       networks=16, fit_networks=96, steps=300, fixed_C0=(1.0, 2.0, 3.0), c=0.57,
                       sweep_C0=(), eps_grid=(0.01, 0.03, 0.1, 0.3)),
         "full": Grid(kappa=measure.KAPPA["full"], sizes=(7, 14, 28), fit_sizes=(14, 28), m=4096,
                      networks=32, fit_networks=128, steps=3000, fixed_C0=(1.0, 2.0, 4.0), c=0.57,
                      sweep_C0=(0.25, 0.5, 8.0, 16.0, 32.0), eps_grid=(0.01, 0.03, 0.1, 0.3))}


def mnist_points(grid: Grid, seed: int, sizes, C0s, n_networks: int) -> list:
    """MNIST-trained grid points of ``n_networks`` networks; ``C0s(d)`` lists the radii at
    ``d = size^2``. All points share one seed, so every radius and every size starts from the
    same draws (:func:`pooled_init`; common random numbers): slopes against ``C0`` and ``d``
    compare each network with itself, free of the init offset ``f(x; W0)``, which MNIST's highly
    correlated test images share (one network is nearly one sample of it)."""
    return [measure.TrainedPoint(dataset="mnist", d=size ** 2, m=grid.m, C0=float(C0),
                                 n_networks=n_networks, n_train=0, n_test=0, lr=measure.MNIST_LR,
                                 steps=grid.steps, data_seed=0,
                                 seed=protocol.derive_seed(seed, "mnist-networks"),
                                 eps_grid=grid.eps_grid)
            for size in sizes for C0 in C0s(size ** 2)]


def correct(result: dict) -> np.ndarray:
    """`(n_networks, n_test)` correctly classified test points (the misclassified are reported
    separately, never counted as ``delta = 0``)."""
    return np.sign(np.asarray(result["f"])) == np.asarray(result["y"])[None, :]


def judge_transition(fixed: dict, path: dict, *, fit_ds, level: float, seed: int,
                     fixed_slope=D_SLOPE_TRAINED, envelope=None) -> list:
    """Checks of claim 6.

    Args:
        fixed: ``{C0: {d: measure.trained_point result}}`` at fixed radii.
        path: ``{d: measure.trained_point result}`` along ``C0 = c sqrt(d)``.
        fit_ds: dimensions of the fixed-``C0`` slope fits.
        envelope: `(n_units, 2)` (violations, eligible) of ``eta* <= B(x)`` at the fixed-``C0``
            grid points inside the conditions (see :func:`violations`), or None.
    """
    checks = []
    slope, band = fixed_slope
    for C0, by_d in fixed.items():
        per_unit = np.stack([measure.mean_eta(by_d[d], correct(by_d[d])) for d in fit_ds], axis=1)
        checks.append(measure.slope_check(f"MNIST, fixed C0 = {C0:g}: mean eta* (correct points) against d",
                                  fit_ds, per_unit, slope=slope, band=band, level=level,
                                  seed=protocol.derive_seed(seed, "fixed", C0)))
    C0s = sorted(fixed)
    for d in sorted(next(iter(fixed.values()))):
        per_unit = np.stack([np.sqrt(d) * measure.mean_eta(fixed[C0][d], correct(fixed[C0][d]))
                             for C0 in C0s], axis=1)
        estimate, ci = protocol.slope_over_units(C0s, per_unit, level=level,
                                                 seed=protocol.derive_seed(seed, "growth", d))
        checks.append(protocol.check(
            f"MNIST, d = {d}: log-log slope of mean eta* sqrt(d) against C0 in {C0s}",
            prediction="> 0 (training grows the margin |f| by up to C0)", estimate=estimate, ci=ci,
            band=protocol.Band(0, math.inf, GROWTH_HALF_WIDTH, "one-sided: the prefactor grows"),
            level=level))
    if envelope is not None:
        checks += judge_bound({"MNIST, fixed C0 inside the conditions": envelope}, level=level,
                              seed=protocol.derive_seed(seed, "envelope"))
    ds = sorted(path)
    per_unit = np.stack([measure.mean_eta(path[d], correct(path[d])) for d in ds], axis=1)
    estimate, ci = protocol.slope_over_units(ds, per_unit, level=level,
                                             seed=protocol.derive_seed(seed, "path"))
    checks.append(protocol.check(
        "MNIST, C0 = c sqrt(d): mean eta* (correct points) against d",
        prediction="slope > -1/2 (flatter: robustness escapes the 1/sqrt(d) law)",
        estimate=estimate, ci=ci,
        band=protocol.Band(-0.5, math.inf, FLATTER_HALF_WIDTH, "one-sided: flatter than -1/2 by "
                           "more than the CI half-width"),
        level=level))
    return checks


def _summary(point: measure.TrainedPoint, result: dict) -> dict:
    """JSON-able summary of one MNIST grid point (medians over networks)."""
    right = correct(result)
    return {"d": point.d, "C0": point.C0, "C0_over_sqrt_d": point.C0 / math.sqrt(point.d),
            "C0_hat": float(np.median(result["C0_hat"])), "steps": float(np.median(result["steps"])),
            "median_eta_sqrt_d": float(np.median(np.sqrt(point.d) * measure.median_eta(result, right))),
            "mean_eta_sqrt_d": float(np.mean(np.sqrt(point.d) * measure.mean_eta(result, right))),
            "test_accuracy": float(np.mean(right)), "misclassified": float(np.mean(~right)),
            "train_accuracy": float(np.mean(result["train_accuracy"])),
            "robust_accuracy": np.mean(result["robust_accuracy"], axis=0)}


def _by_d(points):
    out = {}
    for point in points:
        out.setdefault(point["d"], []).append(point)
    return {d: sorted(rows, key=lambda r: r["C0"]) for d, rows in sorted(out.items())}


def prefactor_vs_C0(data: dict):
    """Median ``eta* sqrt(d)`` against ``C0`` and against ``C0 / sqrt(d)`` per ``d`` (MNIST).

    Args:
        data: ``{"points": [{"d", "C0", "C0_over_sqrt_d", "median_eta_sqrt_d"}, ...], "c"}``.
    """
    fig, axes = common.new_figure(1, 2)
    for i, (d, rows) in enumerate(_by_d(data["points"]).items()):
        for ax, key in zip(axes, ("C0", "C0_over_sqrt_d")):
            ax.plot([r[key] for r in rows], [r["median_eta_sqrt_d"] for r in rows], "o-",
                    color=f"C{i}", label=f"d = {d}")
    axes[1].axvline(data["c"], ls=":", color=common.PREDICTED, label=f"path C0 = {data['c']} sqrt(d)")
    for ax, label in zip(axes, ("lazy radius C0", "C0 / sqrt(d)")):
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("median eta* sqrt(d), correct test points")
        ax.legend(fontsize="small")
    axes[0].set_title("prefactor grows with C0")
    return fig


def robust_accuracy_vs_C0(data: dict):
    """Robust accuracy (line attack) against ``C0 / sqrt(d)``, one panel per radius ``eps``.

    Args:
        data: ``{"points": [{"d", "C0_over_sqrt_d", "robust_accuracy": (k,), "test_accuracy"}],
            "eps_grid": (k,)}``.
    """
    eps_grid = data["eps_grid"]
    fig, axes = common.new_figure(1, len(eps_grid), width=3.5)
    axes = np.atleast_1d(axes)
    for i, (d, rows) in enumerate(_by_d(data["points"]).items()):
        rows = sorted(rows, key=lambda r: r["C0_over_sqrt_d"])
        x = [r["C0_over_sqrt_d"] for r in rows]
        for j, ax in enumerate(axes):
            ax.plot(x, [r["robust_accuracy"][j] for r in rows], "o-", color=f"C{i}", label=f"d = {d}")
    for ax, eps in zip(axes, eps_grid):
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("C0 / sqrt(d)")
        ax.set_ylabel(f"robust accuracy at eps = {eps}")
        ax.legend(fontsize="small")
    return fig


def figures(data: dict) -> dict:
    return {"prefactor_vs_C0": prefactor_vs_C0(data),
            "robust_accuracy_vs_C0": robust_accuracy_vs_C0(data)}


@registry.claim("phase_transition_in_C0",
                title="MNIST 0 vs 1: eta* ~ d^(-1/2) at fixed C0, flatter once C0 ~ sqrt(d)",
                figures=figures)
def phase_transition_in_C0(ctx: registry.Context, *, grid: Grid | None = None
        ) -> registry.Outcome:
    """On MNIST 0 vs 1 (logistic loss, full-batch GD, stop rule), at each fixed ``C0 <= sqrt(d)/2``
    the slope of ``eta*`` against ``d`` is ``-1/2`` (band ``[-0.6, -0.4]``), the prefactor
    ``eta* sqrt(d)`` grows with ``C0`` and stays under the envelope ``B(x)``; along
    ``C0 = c sqrt(d)`` the slope is flatter than ``-1/2``."""
    grid = grid or GRIDS[ctx.profile]
    m = grid.m
    fit_ds = [size ** 2 for size in grid.fit_sizes]
    fixed_points = mnist_points(grid, ctx.seed, grid.fit_sizes, lambda d: grid.fixed_C0,
                                grid.fit_networks)
    path_points = mnist_points(grid, ctx.seed, grid.sizes,
                               lambda d: [grid.c * math.sqrt(d)], grid.networks)
    sweep_points = mnist_points(grid, ctx.seed, grid.sizes, lambda d: grid.sweep_C0,
                                grid.networks)
    calibration = measure.kappa_points(grid.kappa, ctx.seed, fit_ds, m)
    kappas = measure.kappas(ctx, calibration)
    points = fixed_points + path_points + sweep_points
    results = ctx.runner.map(measure.trained_point, points, desc="MNIST training")
    by = dict(zip(points, results))
    fixed = {C0: {p.d: by[p] for p in fixed_points if p.C0 == C0} for C0 in grid.fixed_C0}
    path = {p.d: by[p] for p in path_points}
    inside = [violations(by[p], d=p.d, m=m, C0=p.C0, kappa=kappas[p.d]) for p in fixed_points
              if inside_conditions(d=p.d, m=m, C0=p.C0)]
    envelope = np.sum(inside, axis=0) if inside else None
    n_checks = 2 * len(fixed) + len(fit_ds) + (envelope is not None)
    checks = judge_transition(fixed, path, fit_ds=fit_ds, level=ctx.level(n_checks), seed=ctx.seed,
                              envelope=envelope)
    data = {"points": [_summary(p, by[p]) for p in points], "eps_grid": list(grid.eps_grid),
            "c": grid.c, "fit_d": fit_ds}
    return registry.Outcome(checks, data, {"points": [dataclasses.asdict(p) for p in points],
                                           "kappa": {str(d): k for d, k in kappas.items()}},
                            notes="Checks use per-network means of eta* over correctly classified "
                                  "(and flipped) test points; medians and the misclassified "
                                  "fraction are reported per grid point. The radii of one size "
                                  "share their initial networks. Robust accuracy: the line "
                                  "attack along u at radii eps_grid.")
