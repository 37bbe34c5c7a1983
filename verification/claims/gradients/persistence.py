"""Claim ``init_gradient_term_persists``: ``|grad f_t - grad h_t|`` stays at ``|grad f_0| ~
sqrt(d/2 - 1/(2 pi))`` at every width (THEORY.md 2, 6.3; notation in :mod:`.measure`)."""
import math

import numpy as np

from ntk_attack import theory
from verification import protocol, registry
from verification.claims import stats
from verification.claims.gradients import measure

CACHE_VERSION = 1
GRIDS = dict(measure.SWEEPS)


def judge_persistence(widths, summaries, d: dict, *, level, seed) -> list:
    """``|grad f_t - grad h_t| / |grad f_0|`` at every width, and the RMS of ``|grad f_t - grad h_t|``
    over all networks against ``sqrt(d/2 - 1/(2 pi))`` (THEORY.md 2)."""
    checks = []
    for name, s in summaries.items():
        for j, m in enumerate(widths):
            checks.append(stats.bootstrap_check(
                f"{name}: |grad f_t - grad h_t| / |grad f_0| at m = {m}", s["persist_paired"][:, j],
                band=measure.CLOSE, prediction="1", level=level,
                seed=protocol.derive_seed(seed, "paired", name, m), predicted=1.0))
        scale = theory.grad_norm_sq_init(d[name])
        checks.append(stats.bootstrap_check(
            f"{name}: RMS |grad f_t - grad h_t| / sqrt(d/2 - 1/(2 pi)), all networks",
            s["persist_sq"].reshape(-1), prediction="1", level=level,
            seed=protocol.derive_seed(seed, "rms", name),
            band=protocol.Band(0.9, 1.1, 0.1, "equivalence margin 10%; per-network spread "
                               "~sqrt(2/d) (|grad f_0|^2 is nearly chi-square in d dimensions), so "
                               "the CI may be as wide as 0.1"),
            statistic=lambda rows: math.sqrt(float(np.mean(rows)) / scale), predicted=1.0))
        checks += persistence_level_checks(name, widths, s, level=level, seed=seed)
    return checks


def persistence_level_checks(name, widths, s, *, level, seed) -> list:
    """``grad f_t - grad h_t = grad f_0 + r`` (THEORY.md 6.3 with 6.1) at the largest width: the
    coefficient of ``grad f_t - grad h_t`` along ``grad f_0`` is 1 (the init's gradient survives
    undamped) and the rest has the squared norm of the activation-flip noise ``r``
    (:func:`ntk_attack.theory.activation_flip_noise_sq`). ``grad h_t`` enters both at first
    order: a wrong ``grad h_t`` shifts the coefficient (it is correlated with ``grad f_0``
    through the residual targets ``Y - f_0(X)``) and adds its error to the rest."""
    m = widths[-1]
    perp = np.stack([s["persist_perp_sq"][:, -1], s["noise_sq"][:, -1]], axis=1)
    return [
        stats.bootstrap_check(
            f"{name}: <grad f_t - grad h_t, grad f_0> / |grad f_0|^2 at m = {m}",
            s["persist_along"][:, -1], prediction="1", level=level,
            seed=protocol.derive_seed(seed, "along", name), predicted=1.0,
            band=protocol.Band(0.95, 1.05, 0.025, "equivalence margin 5%: r's component along "
                               "grad f_0 is the flipped-off neurons' own term, -(1/m) sum "
                               "||w_s,0||^2 / |grad f_0|^2 ~ -1.6% at m = 4096")),
        stats.bootstrap_check(
            f"{name}: RMS of the rest of grad f_t - grad h_t / RMS flip noise at m = {m}", perp,
            statistic=stats.rms_ratio, band=measure.LEVEL_RATIO,
            prediction="1 (theory.activation_flip_noise_sq)", level=level,
            seed=protocol.derive_seed(seed, "perp", name), predicted=1.0),
    ]


@registry.claim("init_gradient_term_persists",
                title="|grad f_t - grad h_t| stays at |grad f_0| ~ sqrt(d/2) at every width")
def init_gradient_term_persists(ctx: registry.Context, *, grid=None) -> registry.Outcome:
    """``|grad f_t - grad h_t|`` stays near ``|grad f_0| ~ sqrt(d/2 - 1/(2 pi))`` at every width:
    the kernel predictor is smooth, the network keeps its init's ``sqrt(d)`` gradient (THEORY.md 6.3)."""
    grid = grid or GRIDS[ctx.profile]
    points, _, summaries = measure.sweep(ctx, grid, "balanced")
    d = {name: measure.D for name in summaries}
    n_checks = len(summaries) * (len(grid.widths) + 3)
    checks = judge_persistence(grid.widths, summaries, d, level=ctx.level(n_checks), seed=ctx.seed)
    data = {"widths": grid.widths, "d": d,
            "series": measure.series(summaries, ("persist_paired", "persist_sq")),
            "gh": measure.series(summaries, ("gh",))}
    notes = "Mean |grad h_t| per width: " + "; ".join(
        f"{name} " + ", ".join(f"{v:.2f}" for v in s["gh"].mean(axis=0)) for name, s in summaries.items())
    return registry.Outcome(
        checks, data, measure.config(grid, points), notes, inputs=("widths", "d"),
        judged={"series": ("|grad f_t - grad h_t| / |grad f_0| at m", "RMS |grad f_t - grad h_t| / "
                           "sqrt(d/2 - 1/(2 pi))")},
        unjudged={"gh": "|grad h_t|, for scale (the notes); it is the denominator judged by "
                        "trained_gradient_converges_to_kernel_gradient's level checks"})
