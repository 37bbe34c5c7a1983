"""Claim ``attack_independent_of_width``: the log-log slope of ``eta*`` against the width ``m``
at init is 0 (THEORY.md 3; notation in :mod:`.measure`)."""
import dataclasses
import math

import numpy as np

from ntk_attack import theory
from ntk_attack.plotting import common
from verification import protocol, registry
from verification.claims.attacks import measure

CACHE_VERSION = 1
M_SLOPE = (0.0, (-0.05, 0.05))  # the law of (f, grad f) at init does not depend on m


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """``networks`` networks at init per width in ``widths``, at ``d``, ``points`` points each."""
    d: int
    widths: tuple
    networks: int
    points: int = measure.N_POINTS


GRIDS = {"quick": Grid(d=64, widths=(256, 1024, 4096), networks=60),
         "full": Grid(d=256, widths=(256, 1024, 4096, 16384), networks=100)}


def judge_width(by_m: dict, *, level: float, seed: int, width_slope=M_SLOPE) -> list:
    widths = sorted(by_m)
    per_unit = np.stack([measure.mean_eta(by_m[m]) for m in widths], axis=1)
    slope, band = width_slope
    return [measure.slope_check("init: mean eta* against m", widths, per_unit, slope=slope, band=band,
                        level=level, seed=protocol.derive_seed(seed, "width"))]


def eta_vs_m(data: dict):
    """Mean ``eta*`` at init against the width ``m`` (log-log) with the predicted flat line.

    Args:
        data: ``{"m", "d", "mean_eta", "predicted_mean_eta_sqrt_d"}``.
    """
    m = np.asarray(data["m"], dtype=float)
    fig, ax = common.new_figure()
    common.loglog_with_slope(ax, m, np.asarray(data["mean_eta"], dtype=float), 0.0,
                             label=f"measured, d = {data['d']}", slope_label="slope 0 (fitted level)")
    ax.axhline(data["predicted_mean_eta_sqrt_d"] / math.sqrt(data["d"]), ls=":",
               color=common.PREDICTED,
               label=f"first-order prediction {data['predicted_mean_eta_sqrt_d']:.3f} / sqrt(d)")
    ax.set_xlabel("width m")
    ax.set_ylabel("mean attack size eta* (flipped points)")
    ax.legend(fontsize="small")
    return fig


def figures(data: dict) -> dict:
    return {"eta_vs_m": eta_vs_m(data)}


@registry.claim("attack_independent_of_width", title="eta* does not depend on the width m",
                figures=figures)
def attack_independent_of_width(ctx: registry.Context, *, grid: Grid | None = None
        ) -> registry.Outcome:
    """The log-log slope of ``eta*`` against the width ``m`` at init is 0: ``|slope| <= 0.05``
    (equivalence test, CI half-width at most 0.025)."""
    grid = grid or GRIDS[ctx.profile]
    points = [measure.init_points(ctx.seed, [grid.d], m=m, n_networks=grid.networks,
                                  n_points=grid.points)[0] for m in grid.widths]
    by_m = dict(zip(grid.widths, ctx.runner.map(measure.init_point, points, desc="width attacks")))
    checks = judge_width(by_m, level=ctx.level(1), seed=ctx.seed)
    data = {"m": list(grid.widths), "d": grid.d,
            "predicted_mean_eta_sqrt_d": theory.INIT_ETA_SQRT_D["balanced"],
            "mean_eta": [float(np.mean(measure.mean_eta(by_m[m]))) for m in grid.widths],
            "mean_eta_per_network": [measure.mean_eta(by_m[m]) for m in grid.widths],
            "no_flip_fraction": [measure.no_flip_fraction(by_m[m]) for m in grid.widths]}
    return registry.Outcome(checks, data, {"points": [dataclasses.asdict(p) for p in points]})
