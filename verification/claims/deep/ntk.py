"""Claim ``deep_empirical_ntk_converges``: at init the empirical NTK's diagonal has mean
``(L + 1) / d`` (:func:`ntk_attack.theory.deep_ntk_diag_mean`, exact at every width) and the
exact finite-width relative variance (:func:`ntk_attack.theory.relu_finite_width_moments`,
``~ beta (11 L + 7) / (3 (L + 1))``), so its relative error ``~ sqrt(beta)`` vanishes as the
widths grow at fixed depth and grows like ``sqrt(L)`` at fixed width (THEORY.md 9; notation in
:mod:`.measure`)."""
import dataclasses
import math

import jax.numpy as jnp
import numpy as np

from ntk_attack import plotting, theory
from verification import protocol, registry
from verification.claims import stats
from verification.claims.deep import measure

CACHE_VERSION = 1
RELVAR_BAND = protocol.Band(0.75, 1.33, 0.25, "exact prediction; relative variance from ~2,000 "
                            "networks resolves it to ~10-20%: margin 25% (symmetric in log).")


Grid, GRIDS = measure.InitGrid, measure.INIT_GRIDS  # the shared init sweep


def diagonal(theta) -> np.ndarray:
    """`(N, P)` diagonal entries of `(N, P, P)` kernels."""
    theta = np.asarray(theta)
    return np.diagonal(theta, axis1=1, axis2=2)


def off_diagonal(theta) -> np.ndarray:
    """`(N, P (P - 1))` off-diagonal entries."""
    theta = np.asarray(theta)
    mask = ~np.eye(theta.shape[1], dtype=bool)
    return theta[:, mask]


def judge_ntk(results, *, mean: dict, relvar: dict, level: float, seed: int) -> list:
    """Per architecture: ``mean Theta_hat(x, x) / mean[label]`` and
    ``relvar Theta_hat(x, x) / relvar[label]``."""
    checks = []
    for point, result in results:
        name, diag = measure.label(point), diagonal(result["theta"])
        checks.append(stats.ratio_check(
            f"{name}, d={point.d}: E Theta_hat(x, x) / ((L + 1) / d)", diag, mean[name],
            prediction=f"1 ({mean[name]:.4g})", band=measure.MEAN_BAND, level=level,
            seed=protocol.derive_seed(seed, "ntk mean", name)))
        checks.append(stats.bootstrap_check(
            f"{name}: relvar Theta_hat(x, x) / exact", diag,
            statistic=lambda v: measure.relvar(v) / relvar[name], band=RELVAR_BAND,
            prediction=f"1 (exact {relvar[name]:.4g}; first order "
                       f"{theory.ntk_relvar_first_order(point.widths):.4g})", level=level,
            seed=protocol.derive_seed(seed, "ntk var", name), predicted=1.0))
    return checks


def error_vs_beta(data: dict):
    """Relative error ``sd Theta_hat(x, x) / Theta(x, x)`` against ``beta``, one series per
    depth, with the exact prediction per point and the first-order law.

    Args:
        data: ``{"series": {label: {"beta", "rel_sd", "ci_lo", "ci_hi", "exact"}}, "level"}``.
    """
    series = data["series"]
    return plotting.scaling_plot(
        [np.asarray(s["beta"]) for s in series.values()],
        [np.asarray(s["rel_sd"]) for s in series.values()],
        [np.asarray(s["ci_lo"]) for s in series.values()],
        [np.asarray(s["ci_hi"]) for s in series.values()],
        labels=list(series), prediction=[np.asarray(s["exact"]) for s in series.values()],
        prediction_label="exact finite-width sd / mean (THEORY.md 9)", slope_guide=0.5,
        xlabel="beta = sum_l 1/n_l", ylabel="sd Theta_hat(x, x) / Theta(x, x)",
        ci_label=measure.ci_label(data["level"]))


def figures(data: dict) -> dict:
    return {"ntk_error_vs_beta": error_vs_beta(data)}


@registry.claim("deep_empirical_ntk_converges",
                title="Deep ReLU nets: the empirical NTK's diagonal has the exact finite-width mean and spread",
                figures=figures)
def deep_empirical_ntk_converges(ctx: registry.Context, *, grid: Grid | None = None
                                 ) -> registry.Outcome:
    """``E Theta_hat(x, x) / ((L + 1) / d)`` in ``[0.9, 1.1]`` (half-width <= 0.08) and its
    relative variance / exact in ``[0.75, 1.33]`` (half-width <= 0.25) per architecture."""
    grid = grid or GRIDS[ctx.profile]
    results = measure.run_init(ctx.runner, grid.init, ctx.seed)
    mean = {measure.label(p): theory.deep_ntk_diag_mean(p.d, p.depth) for p, _ in results}
    relvar = {measure.label(p): float(theory.relu_finite_width_moments(p.d, p.widths)["ntk_relvar"])
              for p, _ in results}
    level = ctx.level(2 * len(results))
    checks = judge_ntk(results, mean=mean, relvar=relvar, level=level, seed=ctx.seed)
    series, off = {}, {}
    for i, (point, result) in enumerate(results):
        name = measure.label(point)
        var_check = checks[2 * i + 1]
        s = series.setdefault(f"L = {point.depth}", {"beta": [], "rel_sd": [], "ci_lo": [],
                                                     "ci_hi": [], "exact": []})
        s["beta"].append(theory.beta(point.widths))
        s["rel_sd"].append(math.sqrt(var_check.estimate * relvar[name]))
        s["ci_lo"].append(math.sqrt(max(var_check.ci[0], 0) * relvar[name]))
        s["ci_hi"].append(math.sqrt(var_check.ci[1] * relvar[name]))
        s["exact"].append(math.sqrt(relvar[name]))
        analytic = float(theory.deep_kernel(jnp.eye(point.d)[0], jnp.eye(point.d)[1], depth=point.depth)[1])
        off[name] = {"mean_offdiag_over_analytic": float(np.mean(off_diagonal(result["theta"])) / analytic),
                     "analytic_offdiag": analytic}
    caption = plotting.caption(
        "Relative error of the empirical NTK's diagonal over {n:d} networks per architecture: "
        "{m} at beta {b}, exact prediction {e}; mean over exact mean {r}.",
        n=grid.init.n_networks, m=[s for v in series.values() for s in v["rel_sd"]],
        b=[b for v in series.values() for b in v["beta"]],
        e=[e for v in series.values() for e in v["exact"]], r=[c.estimate for c in checks[::2]])
    data = {"series": series, "level": level, "offdiagonal": off,
            "captions": {"ntk_error_vs_beta": caption}}
    return registry.Outcome(checks, data, {"init": dataclasses.asdict(grid.init), "level": level},
                            notes="Measured (not predicted at finite width): the mean off-diagonal "
                                  "entry at orthogonal inputs over the infinite-width Theta: "
                                  + ", ".join(f"{k} {v['mean_offdiag_over_analytic']:.3f}"
                                              for k, v in off.items()))
