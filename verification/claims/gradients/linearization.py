"""Claim ``linearization_gradient_misses_activation_flips``: the linearisation's pointwise
gradient converges to ``L`` like ``m^(-1/2)`` and so stays at the angle term's distance from
``grad h_t`` (THEORY.md 6.2; notation in :mod:`.measure`)."""
import numpy as np

from verification import protocol, registry
from verification.claims import stats
from verification.claims.gradients import measure

CACHE_VERSION = 1
GRIDS = dict(measure.SWEEPS)


def judge_linearization(widths, summaries, *, level, seed) -> list:
    """The linearisation's gradient converges to ``L`` (slope) and, at the largest width, sits
    at the angle term's distance from ``grad h_t`` (ratio 1)."""
    checks, slope = [], measure.SLOPES["linearization"]
    for name, s in summaries.items():
        checks.append(protocol.slope_check(
            f"{name}: log-log slope of |g_lin - L| / |L| against m", widths, s["lin_to_limit"],
            predicted=slope[0], band=slope[1], level=level,
            seed=protocol.derive_seed(seed, "lin", name), ci_share=measure.SLOPE_CI_SHARE,
            why=measure.SLOPE_WHY.format(slope[0])))
        last = np.stack([s["lin_to_kernel"][:, -1], s["angle"][:, -1]], axis=1)
        checks.append(stats.bootstrap_check(
            f"{name}: |g_lin - grad h_t| / |grad h_t - L| at m = {widths[-1]}", last,
            statistic=stats.ratio_of_means, band=measure.CLOSE,
            prediction="1 (the gap is the angle term)", level=level,
            seed=protocol.derive_seed(seed, "gap", name), predicted=1.0))
    return checks


@registry.claim("linearization_gradient_misses_activation_flips",
                title="The linearised network's pointwise gradient misses the angle term of grad h_t")
def linearization_gradient_misses_activation_flips(ctx: registry.Context, *, grid=None) -> registry.Outcome:
    """The pointwise gradient of the linearisation, ``(1/sqrt m) sum_s a_s 1[w_s,0 . x > 0]
    (w_s,t - w_s,0)``, converges like ``m^(-1/2)`` to ``sum_i c_i x_i (pi - theta_i)/(2 pi)``
    and so stays at the angle term's distance from ``grad h_t`` (THEORY.md 6.2)."""
    grid = grid or GRIDS[ctx.profile]
    points, _, summaries = measure.sweep(ctx, grid, "balanced")
    checks = judge_linearization(grid.widths, summaries, level=ctx.level(2 * len(summaries)),
                                 seed=ctx.seed)
    data = {"widths": grid.widths,
            "series": measure.series(summaries, ("lin_to_limit", "lin_to_kernel", "angle"))}
    notes = "Angle term |grad h_t - L| / |grad h_t| (mean over networks, per width): " + "; ".join(
        f"{name} " + ", ".join(f"{v:.3f}" for v in s["angle"].mean(axis=0))
        for name, s in summaries.items())
    return registry.Outcome(checks, data, measure.config(grid, points), notes, inputs=("widths",),
                            judged={"series": ("log-log slope of |g_lin - L|", "|g_lin - grad h_t| / "
                                               "|grad h_t - L|")})
