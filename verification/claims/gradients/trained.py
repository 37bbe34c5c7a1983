"""Claim ``trained_gradient_converges_to_kernel_gradient``: ``|grad f_t - grad f_0 - grad h_t| /
|grad h_t|`` falls like ``m^(-1/4)`` (THEORY.md 6.1; notation in :mod:`.measure`)."""
import math

import numpy as np

from ntk_attack.plotting import common
from verification import protocol, registry
from verification.claims.gradients import measure

CACHE_VERSION = 1
GRIDS = dict(measure.SWEEPS)
# (data key, legend label, predicted-slope key or a fixed slope)
DISTANCES = (
    ("trained", "|grad f_t - grad f_0 - grad h_t| / |grad h_t|", "trained"),
    ("lin_to_limit", "|g_lin - L| / |L| (linearisation to its limit)", "linearization"),
    ("lin_to_kernel", "|g_lin - grad h_t| / |grad h_t| (misses the angle term)", 0.0),
    ("persist_paired", "|grad f_t - grad h_t| / |grad f_0|", 0.0),
)


def judge_trained(widths, summaries, *, level, seed, slope=measure.SLOPES["trained"]) -> list:
    """Slope of the mean relative distance ``|grad f_t - grad f_0 - grad h_t| / |grad h_t|`` in ``m``."""
    return [measure.slope_check(name, widths, s["trained"], slope, level=level,
                         seed=protocol.derive_seed(seed, "trained", name),
                         what="|grad f_t - grad f_0 - grad h_t| / |grad h_t| against m")
            for name, s in summaries.items()]


def distance_vs_width(data: dict):
    """Relative gradient distances against width ``m`` (log-log), one panel per data set.

    One line per comparison (:data:`DISTANCES`); each has its predicted slope dashed beside it,
    through the geometric mean of the measurement (the slope is the prediction, not the level),
    and the angle term, the predicted level of the linearisation's gap, is dotted.

    Args:
        data: ``{"widths": (k,), "slopes": {name: slope}, "series": {dataset: {key: (n, k)}}}``
            with keys among those of :data:`DISTANCES` and ``"angle"``.
    """
    widths = np.asarray(data["widths"], dtype=float)
    series = data["series"]
    fig, axes = common.new_figure(1, len(series), width=5.5, height=4.2)
    axes = np.atleast_1d(axes)
    for ax, (name, s) in zip(axes, series.items()):
        for i, (key, label, slope) in enumerate(DISTANCES):
            if key not in s:
                continue
            slope = data["slopes"][slope] if isinstance(slope, str) else slope
            mean, sd = common.mean_sd(s[key])
            color = f"C{i}"
            ax.errorbar(widths, mean, yerr=sd, fmt="o-", color=color, capsize=3,
                        label=f"{label}; predicted slope {slope:g} (dashed)")
            common.slope_line(ax, widths, mean, slope, color=color)
        if "angle" in s:
            ax.plot(widths, common.mean_sd(s["angle"])[0], ":", color="k",
                    label="predicted gap: angle term |grad h_t - L| / |grad h_t|")
        ax.set_yscale("log")
        common.width_axis(ax, widths)
        ax.set_ylabel("relative distance of input gradients")
        ax.set_title(name)
        ax.legend(fontsize=6)
    return fig


def gradient_distance_figures(data: dict) -> dict:
    return {"gradient_distance_vs_width": distance_vs_width(data)}


@registry.claim("trained_gradient_converges_to_kernel_gradient",
                title="The trained network's gradient change converges to the kernel "
                      "predictor's gradient like m^(-1/4)",
                figures=gradient_distance_figures)
def trained_gradient_converges_to_kernel_gradient(ctx: registry.Context, *, grid=None) -> registry.Outcome:
    """``|grad f_t - grad f_0 - grad h_t| / |grad h_t|`` falls like ``m^(-1/4)``: the activation
    flips leave a random term of norm ``~ sqrt(C0 d) m^(-1/4)`` (THEORY.md 6.1)."""
    grid = grid or GRIDS[ctx.profile]
    points, _, summaries = measure.sweep(ctx, grid, "balanced")
    checks = judge_trained(grid.widths, summaries, level=ctx.level(len(summaries)), seed=ctx.seed)
    data = {"widths": grid.widths, "slopes": {k: v[0] for k, v in measure.SLOPES.items()},
            "series": measure.series(summaries, ("trained", "lin_to_limit", "lin_to_kernel", "angle",
                                          "persist_paired", "C0_hat", "cos_delta"))}
    notes = "C0_hat after training per width (mean over networks), and C0_hat / sqrt(d): " + "; ".join(
        f"{name} " + ", ".join(f"{v:.2f} ({v / math.sqrt(measure.load(name, measure.DATA_SEED, grid.test_fraction).d):.2f})"
                               for v in s["C0_hat"].mean(axis=0))
        for name, s in summaries.items()) + ". Squared loss, full-batch gradient descent."
    return registry.Outcome(checks, data, measure.config(grid, points), notes)
