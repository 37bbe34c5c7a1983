"""Claim ``antisymmetric_init_gradient_converges``: with ``f_0 == 0``, ``grad f_t -> grad h_t``
like ``m^(-1/4)`` (THEORY.md 6.5; notation in :mod:`.measure`)."""
import numpy as np

from ntk_attack.plotting import common
from verification import protocol, registry
from verification.claims.gradients import measure

CACHE_VERSION = 1
GRIDS = dict(measure.SWEEPS)


def judge_antisymmetric(widths, summaries, *, level, seed, slope=measure.SLOPES["antisymmetric"]) -> list:
    """Slope of ``|grad f_t - grad h_t| / |grad h_t|`` in ``m`` (``f_0 == 0``, ``h_t`` fit to ``Y``)."""
    return [measure.slope_check(name, widths, s["trained"], slope, level=level,
                         seed=protocol.derive_seed(seed, "antisymmetric", name),
                         what="|grad f_t - grad h_t| / |grad h_t| against m (antisymmetric init)")
            for name, s in summaries.items()]


def cosine_vs_width(data: dict):
    """Cosine between network and kernel-predictor input gradients against width ``m``.

    Lines: ``cos(grad f_t, grad h_t)`` with antisymmetric init (``f_0 == 0``, tends to 1), and
    with balanced init ``cos(grad f_t, grad h_t)`` (stays small: the init's ``sqrt(d)`` gradient)
    and ``cos(grad f_t - grad f_0, grad h_t)`` (tends to 1).

    Args:
        data: ``{"widths": (k,), "series": {dataset: {"cos_full": (n, k)}},
            "balanced": {dataset: {"cos_full": (n, k), "cos_delta": (n, k)}}}``.
    """
    widths = np.asarray(data["widths"], dtype=float)
    fig, axes = common.new_figure(1, len(data["series"]), width=5.0, height=4.0)
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, data["series"]):
        lines = (("antisymmetric init: cos(grad f_t, grad h_t)", data["series"][name]["cos_full"]),
                 ("balanced init: cos(grad f_t, grad h_t)", data["balanced"][name]["cos_full"]),
                 ("balanced init: cos(grad f_t - grad f_0, grad h_t)", data["balanced"][name]["cos_delta"]))
        for i, (label, values) in enumerate(lines):
            mean, sd = common.mean_sd(values)
            ax.errorbar(widths, mean, yerr=sd, fmt="o-", color=f"C{i}", capsize=3, label=label)
        ax.axhline(1.0, color=common.PREDICTED, ls="--", lw=1, label="kernel limit (cosine 1)")
        common.width_axis(ax, widths)
        ax.set_ylim(-0.1, 1.05)
        ax.set_ylabel("cosine similarity (mean over test points)")
        ax.set_title(name)
        ax.legend(fontsize=6)
    return fig


def cosine_figures(data: dict) -> dict:
    return {"gradient_cosine_vs_width": cosine_vs_width(data)}


@registry.claim("antisymmetric_init_gradient_converges",
                title="With antisymmetric init, grad f_t converges to grad h_t like m^(-1/4)",
                figures=cosine_figures)
def antisymmetric_init_gradient_converges(ctx: registry.Context, *, grid=None) -> registry.Outcome:
    """With antisymmetric init ``f_0 == 0``, so ``grad f_t -> grad h_t(.; Y)`` as ``m`` grows,
    like ``m^(-1/4)`` as for the balanced network's gradient change (THEORY.md 6.5)."""
    grid = grid or GRIDS[ctx.profile]
    points, _, summaries = measure.sweep(ctx, grid, "antisymmetric")
    _, _, balanced = measure.sweep(ctx, grid, "balanced")
    checks = judge_antisymmetric(grid.widths, summaries, level=ctx.level(len(summaries)), seed=ctx.seed)
    data = {"widths": grid.widths, "slopes": {"antisymmetric": measure.SLOPES["antisymmetric"][0]},
            "series": measure.series(summaries, ("trained", "cos_full")),
            "balanced": measure.series(balanced, ("cos_full", "cos_delta"))}
    notes = "Mean cos(grad f_t, grad h_t) per width, antisymmetric vs balanced: " + "; ".join(
        f"{name} " + ", ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(s["cos_full"].mean(axis=0),
                                                                balanced[name]["cos_full"].mean(axis=0)))
        for name, s in summaries.items())
    return registry.Outcome(checks, data, measure.config(grid, points), notes)
