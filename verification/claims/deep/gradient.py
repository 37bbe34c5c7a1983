"""Claim ``deep_gradient_norm_matches_kernel``: at init ``E ||grad_x f(x)||^2`` equals
``sum_i d^2 K / dx_i dx'_i`` at ``x' = x`` (:func:`ntk_attack.theory.expected_grad_norm_sq`),
``= 1`` for unit ``x`` at every depth and width of the He-ReLU net (THEORY.md 9; notation in
:mod:`.measure`)."""
import dataclasses

import jax.numpy as jnp
import numpy as np

from ntk_attack import plotting, theory
from verification import protocol, registry
from verification.claims import stats
from verification.claims.deep import measure

CACHE_VERSION = 1


Grid, GRIDS = measure.InitGrid, measure.INIT_GRIDS  # the shared init sweep


def predicted_grad_norm_sq(d: int, depth: int) -> float:
    """The kernel's prediction at the unit input ``(1, ..., 1) / sqrt(d)`` (it depends on ``x``
    only through ``||x||``)."""
    return float(theory.expected_grad_norm_sq(jnp.ones(d) / np.sqrt(d), depth=depth))


def judge_gradient(results, *, predicted: dict, level: float, seed: int) -> list:
    """Per architecture: ``mean ||grad_x f||^2 / predicted`` (networks are the units).

    Args:
        results: ``[(InitPoint, init_point result)]``.
        predicted: ``{label: predicted E ||grad_x f||^2}``.
    """
    checks = []
    for point, result in results:
        name = measure.label(point)
        checks.append(stats.ratio_check(
            f"{name}, d={point.d}: E||grad_x f||^2 / sum_i d2K/dx_i dx'_i", result["g2"],
            predicted[name], prediction=f"1 (= {predicted[name]:.4g} / {predicted[name]:.4g})",
            band=measure.MEAN_BAND, level=level, seed=protocol.derive_seed(seed, "gradient", name),
            note=f"{point.n_networks} networks x {point.n_points} orthonormal points"))
    return checks


def ratio_vs_depth(data: dict):
    """``E||grad_x f||^2 / (sum_i d^2 K / dx_i dx'_i)`` against depth, one series per width,
    with the exact prediction 1.

    Args:
        data: ``{"series": {label: {"depth", "ratio", "ci_lo", "ci_hi"}}, "level", "d"}``.
    """
    series = data["series"]
    return plotting.scaling_plot(
        [np.asarray(s["depth"], float) for s in series.values()],
        [np.asarray(s["ratio"]) for s in series.values()],
        [np.asarray(s["ci_lo"]) for s in series.values()],
        [np.asarray(s["ci_hi"]) for s in series.values()],
        labels=list(series), logy=False, prediction=lambda L: 1.0,
        prediction_label="prediction: d K(x/|x|, x/|x|) = 1 at every width (THEORY.md 9)",
        xlabel="depth L (hidden layers)", ylabel="E||grad_x f||^2 / kernel prediction",
        ci_label=measure.ci_label(data["level"]))


def figures(data: dict) -> dict:
    return {"gradient_norm_ratio_vs_depth": ratio_vs_depth(data)}


@registry.claim("deep_gradient_norm_matches_kernel",
                title="Deep ReLU nets at init: E||grad_x f||^2 equals the NNGP kernel's mixed derivative",
                figures=figures)
def deep_gradient_norm_matches_kernel(ctx: registry.Context, *, grid: Grid | None = None
                                      ) -> registry.Outcome:
    """``E ||grad_x f||^2 / sum_i d^2 K / dx_i dx'_i`` lies in ``[0.9, 1.1]`` at every depth
    and width of the grid (CI half-width at most 0.08)."""
    grid = grid or GRIDS[ctx.profile]
    results = measure.run_init(ctx.runner, grid.init, ctx.seed)
    predicted = {measure.label(p): predicted_grad_norm_sq(p.d, p.depth) for p, _ in results}
    level = ctx.level(len(results))
    checks = judge_gradient(results, predicted=predicted, level=level, seed=ctx.seed)
    series = {}
    for (point, _), check in zip(results, checks):
        s = series.setdefault(f"n = {point.widths[0]}", {"depth": [], "ratio": [], "ci_lo": [], "ci_hi": []})
        s["depth"].append(point.depth)
        s["ratio"].append(check.estimate)
        s["ci_lo"].append(check.ci[0])
        s["ci_hi"].append(check.ci[1])
    caption = plotting.caption(
        "Mean squared input gradient over {n:d} networks per architecture (d = {d:d}), divided by "
        "the kernel prediction: {ratios} at depths {depths}; prediction 1.",
        n=grid.init.n_networks, d=grid.init.d, ratios=[c.estimate for c in checks],
        depths=[p.depth for p, _ in results])
    data = {"series": series, "level": level, "d": grid.init.d, "predicted": predicted,
            "captions": {"gradient_norm_ratio_vs_depth": caption}}
    return registry.Outcome(checks, data, {"init": dataclasses.asdict(grid.init), "level": level},
                            notes="For relu the prediction is exact at every width, so the band "
                                  "is an equivalence margin, not a finite-width allowance.")
