"""Claim ``phase_transition_in_C0``: on MNIST 0 vs 1, at fixed ``C0`` the slope of ``eta*``
against ``d`` is ``-1/2`` (THEORY.md 4; notation in :mod:`.measure`).

What the theory allows but does not predict is measured and reported, not judged: the growth
of the prefactor ``eta* sqrt(d)`` with ``C0`` and the slope in ``d`` along ``C0 = r sqrt(d)``
(THEORY.md 4: the bound is vacuous there, so it neither implies nor forbids a decay), over a
sweep of ``C0 / sqrt(d)`` from 0.03 to 1 (:mod:`.transition_figures` draws them).
"""
import dataclasses
import math

import numpy as np

from ntk_attack import theory
from verification import protocol, registry
from verification.claims import per_network, stats
from verification.claims.attacks import measure
from verification.claims.attacks.transition_figures import captions, figures

CACHE_VERSION = 1
# Train and test points are an i.i.d. split of one subset: test minus train accuracy is 0 up to
# the binomial noise of ~200 test points (sd ~0.03) and a small generalisation gap.
GAP_BAND = 0.1


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """MNIST 0 vs 1 at ``size x size``: fixed radii ``fixed_C0`` at ``fit_sizes``
    (``fit_networks`` networks of width ``m``, at most ``steps`` steps) for the judged slopes;
    the sweep ``C0 = r sqrt(d)`` for ``r`` in ``ratios`` at ``sizes`` (``networks`` networks of
    width ``sweep_m``, at most ``sweep_steps`` steps); robust accuracy at ``eps = r / sqrt(d)``
    for ``r`` in ``eps_sqrt_d``; ``kappa``: the calibration sweep."""
    kappa: measure.KappaSweep
    fit_sizes: tuple
    m: int
    fit_networks: int  # networks of the fixed-C0 slope fits (their offsets dominate the CI)
    steps: int
    fixed_C0: tuple
    sizes: tuple
    ratios: tuple
    sweep_m: int
    networks: int
    sweep_steps: int
    eps_sqrt_d: tuple


GRIDS = {"quick": Grid(kappa=measure.KAPPA["quick"], fit_sizes=(7, 28), m=512, fit_networks=96,
                       steps=300, fixed_C0=(1.0, 2.0, 3.0), sizes=(4, 7, 14),
                       ratios=(0.03, 0.1, 0.3, 1.0), sweep_m=256, networks=16, sweep_steps=150,
                       eps_sqrt_d=(0.25, 0.5, 1.0, 2.0, 4.0)),
         # 96 networks left the C0 = 1 slope's CI at +-0.051 (the band allows 0.05): 120.
         "full": Grid(kappa=measure.KAPPA["full"], fit_sizes=(14, 28), m=1024, fit_networks=120,
                      steps=300, fixed_C0=(1.0, 2.0, 3.0), sizes=(7, 14, 28),
                      ratios=(0.03, 0.1, 0.3, 1.0), sweep_m=1024, networks=16,
                      sweep_steps=300, eps_sqrt_d=(0.25, 0.5, 1.0, 2.0, 4.0))}


def mnist_points(grid: Grid, seed: int, sizes, C0s, *, m: int, n_networks: int, steps: int) -> list:
    """MNIST-trained grid points; ``C0s(d)`` lists the radii at ``d = size^2``. All points share
    one seed, so every radius and every size starts from the same draws (:func:`pooled_init`;
    common random numbers): slopes against ``C0`` and ``d`` compare each network with itself,
    free of the init offset ``f(x; W0)``, which MNIST's correlated test images share. The radii
    of one size are trained along one trajectory (``C0_group``; bit for bit the same networks)."""
    points = []
    for size in sizes:
        radii = [float(C0) for C0 in C0s(size ** 2)]
        # One size's radii share the init and the data, hence the iterates until each stops.
        group = tuple(C0 for C0 in radii if C0 > 0)
        points += [measure.TrainedPoint(
            dataset="mnist", d=size ** 2, m=m, C0=C0, n_networks=n_networks, n_train=0, n_test=0,
            lr=measure.MNIST_LR, steps=steps, data_seed=0, seed=protocol.derive_seed(seed, "mnist-networks"),
            eps_grid=tuple(r / size for r in grid.eps_sqrt_d), C0_group=group if C0 > 0 else ())
            for C0 in radii]
    return points


def correct(result: dict) -> np.ndarray:
    """`(n_networks, n_test)` correctly classified test points (the misclassified are reported
    separately, never counted as ``delta = 0``)."""
    return np.sign(np.asarray(result["f"])) == np.asarray(result["y"])[None, :]


def prefactor(result: dict, d: int) -> np.ndarray:
    """`(n_networks,)` mean ``eta* sqrt(d)`` over correctly classified, flipped test points."""
    return math.sqrt(d) * measure.mean_eta(result, correct(result))


def judge_transition(fixed: dict, *, fit_ds, level: float, seed: int, fixed_slope=measure.D_SLOPE_TRAINED,
                     envelope=None) -> list:
    """The judged checks: the fixed-``C0`` slopes against ``d`` and the envelope.

    Args:
        fixed: ``{C0: {d: measure.trained_point result}}`` at fixed radii.
        fit_ds: dimensions of the fixed-``C0`` slope fits.
        envelope: `(n_networks, 2)` (violations, eligible) of ``eta* <= B(x)`` at the fixed-``C0``
            grid points inside the conditions (:func:`.measure.violations`), or None.
    """
    checks = []
    slope, band = fixed_slope
    for C0, by_d in fixed.items():
        per_unit = np.stack([measure.mean_eta(by_d[d], correct(by_d[d])) for d in fit_ds], axis=1)
        checks.append(protocol.slope_check(
            f"MNIST, fixed C0 = {C0:g}: mean eta* (correct points) against d", fit_ds, per_unit,
            predicted=slope, band=band, level=level, seed=protocol.derive_seed(seed, "fixed", C0),
            ci_share=measure.SLOPE_CI_SHARE))
    gaps = np.concatenate([np.mean(correct(r), axis=1) - np.asarray(r["train_accuracy"])
                           for by_d in fixed.values() for r in by_d.values()])
    checks.append(stats.bootstrap_check(
        "MNIST, fixed C0: test minus train accuracy, mean over networks and grid points", gaps,
        prediction="0 (i.i.d. train/test split)",
        band=protocol.Band(-GAP_BAND, GAP_BAND, GAP_BAND / 2, "+-0.1: binomial noise of ~200 test "
                           "points (sd ~0.03) and a small generalisation gap; flipped test labels "
                           "give 1 - 2 x accuracy"),
        level=level, seed=protocol.derive_seed(seed, "gap")))
    if envelope is not None:
        checks.append(stats.violation_check("MNIST, fixed C0 inside the conditions", envelope,
                                            level=level, seed=protocol.derive_seed(seed, "envelope")))
    return checks


def measurements(fixed: dict, sweep: dict, *, level: float, seed: int) -> dict:
    """Labelled measurements with CIs over networks (no band: THEORY.md 4 does not predict them).

    ``growth[d]``: log-log slope of the mean prefactor against ``C0`` at the fixed radii;
    ``path[r]``: log-log slope of mean ``eta*`` against ``d`` along ``C0 = r sqrt(d)`` (each
    network is its own twin across sizes, :func:`measure.pooled_init`).

    Args:
        fixed: ``{C0: {d: result}}``; ``sweep``: ``{r: {d: result}}``.
    """
    C0s = sorted(fixed)
    growth = {}
    for d in sorted(next(iter(fixed.values()))):
        per_unit = np.stack([prefactor(fixed[C0][d], d) for C0 in C0s], axis=1)
        slope, ci = protocol.slope_over_units(C0s, per_unit, level=level,
                                              seed=protocol.derive_seed(seed, "growth", d))
        growth[str(d)] = {"C0": C0s, "slope": slope, "ci": list(ci)}
    path = {}
    for r, by_d in sweep.items():
        ds = sorted(by_d)
        per_unit = np.stack([measure.mean_eta(by_d[d], correct(by_d[d])) for d in ds], axis=1)
        slope, ci = protocol.slope_over_units(ds, per_unit, level=level,
                                              seed=protocol.derive_seed(seed, "path", r))
        path[str(r)] = {"d": ds, "slope": slope, "ci": list(ci)}
    return {"growth": growth, "path": path}


def summary(point: measure.TrainedPoint, result: dict, *, role: str, level: float, seed: int) -> dict:
    """JSON-able summary of one MNIST grid point: means over networks with CIs over networks."""
    right = correct(result)
    values = prefactor(result, point.d)
    C0_hat = np.asarray(result["C0_hat"], dtype=float)
    robust = np.asarray(result["robust_accuracy"], dtype=float)
    robust_ci = [list(protocol.bootstrap(robust[:, j], np.mean, level=level,
                                         seed=protocol.derive_seed(seed, "robust", j))[1])
                 for j in range(robust.shape[1])]
    return {"role": role, "d": point.d, "m": point.m, "C0": point.C0, "C0_over_sqrt_d": point.C0 / math.sqrt(point.d),
            "C0_hat": float(np.mean(C0_hat)), "C0_hat_over_sqrt_d": float(np.mean(C0_hat)) / math.sqrt(point.d),
            "steps": float(np.median(result["steps"])), "networks": point.n_networks,
            "inside": theory.lazy_conditions(d=point.d, m=point.m, C0=float(np.max(C0_hat))),
            "mean_eta_sqrt_d": float(np.mean(values)),
            "mean_eta_sqrt_d_ci": list(protocol.bootstrap(values, np.mean, level=level,
                                                          seed=protocol.derive_seed(seed, "pre"))[1]),
            "median_eta_sqrt_d": float(np.median(np.sqrt(point.d) * measure.median_eta(result, right))),
            "test_accuracy": float(np.mean(right)), "misclassified": float(np.mean(~right)),
            "clean_accuracy": float(np.mean(right)),
            "train_accuracy": float(np.mean(result["train_accuracy"])),
            "eps_sqrt_d": [e * math.sqrt(point.d) for e in point.eps_grid],
            "robust_accuracy": list(np.mean(robust, axis=0)), "robust_accuracy_ci": robust_ci}


@registry.claim("phase_transition_in_C0",
                title="MNIST 0 vs 1: eta* ~ d^(-1/2) at fixed C0; the prefactor against C0/sqrt(d) measured",
                figures=figures)
def phase_transition_in_C0(ctx: registry.Context, *, grid: Grid | None = None) -> registry.Outcome:
    """On MNIST 0 vs 1 (logistic loss, full-batch GD, stop rule), at each fixed ``C0`` the slope
    of ``eta*`` against ``d`` is ``-1/2`` (band ``[-0.6, -0.4]``), ``eta* <= B(x)`` inside the
    conditions and test accuracy equals train accuracy within 0.1. Measured, not judged: the growth of ``eta* sqrt(d)`` with ``C0``, the slope along
    ``C0 = r sqrt(d)``, and robust accuracy against ``eps sqrt(d)``."""
    grid = grid or GRIDS[ctx.profile]
    fit_ds = [size ** 2 for size in grid.fit_sizes]
    fixed_points = mnist_points(grid, ctx.seed, grid.fit_sizes, lambda d: grid.fixed_C0,
                                m=grid.m, n_networks=grid.fit_networks, steps=grid.steps)
    sweep_points = mnist_points(grid, ctx.seed, grid.sizes,
                                lambda d: [r * math.sqrt(d) for r in grid.ratios],
                                m=grid.sweep_m, n_networks=grid.networks, steps=grid.sweep_steps)
    calibration = per_network.kappa_points(fit_ds, grid.m, n_networks=grid.kappa.networks,
                                           n_points=grid.kappa.points, seed=ctx.seed,
                                           role="kappa-calibration")
    kappas = {d: c["kappa"] for d, c in per_network.calibrate(ctx, calibration).items()}
    points = fixed_points + sweep_points
    by = dict(zip(points, ctx.runner.map(measure.trained_point, points, desc="MNIST training")))
    fixed = {C0: {p.d: by[p] for p in fixed_points if p.C0 == C0} for C0 in grid.fixed_C0}
    sweep = {r: {p.d: by[p] for p in sweep_points if math.isclose(p.C0, r * math.sqrt(p.d))}
             for r in grid.ratios}
    inside = [measure.violations(by[p], d=p.d, m=p.m, C0=p.C0, kappa=kappas[p.d]) for p in fixed_points
              if theory.lazy_conditions(d=p.d, m=p.m, C0=p.C0)]
    envelope = np.concatenate(inside, axis=0) if inside else None
    level = ctx.level(len(fixed) + 1 + (envelope is not None))
    checks = judge_transition(fixed, fit_ds=fit_ds, level=level, seed=ctx.seed, envelope=envelope)
    data = {"points": [summary(p, by[p], role="fixed" if p in fixed_points else "sweep", level=level,
                               seed=protocol.derive_seed(ctx.seed, i)) for i, p in enumerate(points)],
            "fit_d": fit_ds, "level": level, "lazy_boundary": theory.LAZY_MAX_C0_RATIO,
            **measurements(fixed, sweep, level=level, seed=ctx.seed)}
    data["captions"] = captions(data)
    notes = ("Checks use per-network means of eta* over correctly classified (and flipped) test "
             "points. Labelled measurements (not judged; THEORY.md 4 predicts neither): log-log "
             "slope of mean eta* sqrt(d) against C0 at fixed d: " + "; ".join(
                 f"d = {d}: {g['slope']:.3f} [{g['ci'][0]:.3f}, {g['ci'][1]:.3f}]"
                 for d, g in data["growth"].items())
             + ". Slope of mean eta* against d along C0 = r sqrt(d): " + "; ".join(
                 f"r = {r}: {g['slope']:.3f} [{g['ci'][0]:.3f}, {g['ci'][1]:.3f}] over d in {g['d']}"
                 for r, g in data["path"].items())
             + f". CIs at {level:.4%} over networks. Sweep: width {grid.sweep_m}, {grid.networks} "
               f"networks, at most {grid.sweep_steps} steps (a radius not reached in time is "
               "plotted at the C0_hat reached).")
    return registry.Outcome(checks, data, {"points": [dataclasses.asdict(p) for p in points],
                                           "kappa": {str(d): k for d, k in kappas.items()}},
                            notes=notes)
