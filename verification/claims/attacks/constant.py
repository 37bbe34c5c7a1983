"""Claim ``constant_does_not_grow_with_d``: the 95th percentile of ``eta* sqrt(d) / (|f0| + C0)``
at the held-out largest ``d`` stays below the upper CI end of ``K_hat(C0)`` fitted on smaller
``d`` (THEORY.md 4; notation in :mod:`.measure`)."""
import dataclasses
import math

import numpy as np

from ntk_attack import bounds
from ntk_attack.plotting import common
from verification import protocol, registry
from verification.claims.attacks import measure

CACHE_VERSION = 1
K_QUANTILE = 0.95
K_HALF_WIDTH_SHARE = 0.1  # held-out quantile's CI half-width at most 10% of K_hat


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """Shared sphere training at ``sphere_ds`` (the largest held out) and each of ``fixed_C0``."""
    sphere: measure.SphereSweep
    sphere_ds: tuple
    fixed_C0: tuple


GRIDS = {"quick": Grid(sphere=measure.SPHERE["quick"], sphere_ds=(16, 64, 256), fixed_C0=(0.0, 1.0)),
         "full": Grid(sphere=measure.SPHERE["full"], sphere_ds=(16, 64, 256, 1024),
                      fixed_C0=(0.0, 0.5, 1.0))}


def constants(result: dict, *, d: int, C0: float) -> np.ndarray:
    """`(n_networks, n_points)` ``eta* sqrt(d) / (|f(x; W0)| + C0)``."""
    return np.asarray(bounds.k_ratio(result["eta"], result["init_f"], C0=C0, d=d))


def judge_constant(by_C0: dict, held_out: int, *, level: float, seed: int,
                   quantile: float = K_QUANTILE) -> list:
    """Per ``C0``: the ``quantile`` at ``held_out`` must not exceed ``K_hat``'s upper CI end.

    Args:
        by_C0: ``{C0: {d: (n_networks, n_points) constants}}``.
    """
    checks = []
    for C0, by_d in by_C0.items():
        fit = np.concatenate([by_d[d] for d in sorted(by_d) if d != held_out], axis=1)
        k_hat = bounds.K_hat(fit, q=quantile, level=level, seed=protocol.derive_seed(seed, "K", C0))
        estimate, ci = protocol.bootstrap(by_d[held_out], lambda rows: bounds.pooled_quantile(rows, quantile),
                                          level=level, seed=protocol.derive_seed(seed, "held", C0))
        checks.append(protocol.check(
            f"C0 = {C0:g}: {quantile:.0%} quantile of eta* sqrt(d) / (|f0| + C0) at d = {held_out}",
            prediction=f"<= upper CI end of K_hat = {k_hat.value:.3f} [{k_hat.lo:.3f}, {k_hat.hi:.3f}] "
                       f"(d in {sorted(d for d in by_d if d != held_out)})",
            estimate=estimate, ci=ci,
            band=protocol.Band(-math.inf, k_hat.hi, K_HALF_WIDTH_SHARE * k_hat.value,
                               "one-sided: the constant stays bounded (THEORY.md 4)"),
            level=level))
    return checks


def constant_vs_d(data: dict):
    """95th percentile of ``eta* sqrt(d) / (|f0| + C0)`` against ``d`` per ``C0`` (log x).

    Args:
        data: ``{"d": (k,), "quantile_per_d": {C0: (k,)}}``.
    """
    fig, ax = common.new_figure()
    ax.set_xscale("log")
    for C0, values in data["quantile_per_d"].items():
        ax.plot(data["d"], values, "o-", label=f"C0 = {C0}")
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("95% quantile of eta* sqrt(d) / (|f0| + C0)")
    ax.set_title("the constant K does not grow with d")
    ax.legend(fontsize="small")
    return fig


def figures(data: dict) -> dict:
    return {"constant_vs_d": constant_vs_d(data)}


@registry.claim("constant_does_not_grow_with_d",
                title="The constant of eta* <= K (|f0| + C0) / sqrt(d) does not grow with d (held out)",
                figures=figures)
def constant_does_not_grow_with_d(ctx: registry.Context, *, grid: Grid | None = None
        ) -> registry.Outcome:
    """At each fixed ``C0``, the 95th percentile of ``eta* sqrt(d) / (|f(x; W0)| + C0)`` at the
    held-out largest ``d`` does not exceed the upper end of the bootstrap CI of ``K_hat(C0)``,
    the same percentile pooled over the smaller ``d``."""
    grid = grid or GRIDS[ctx.profile]
    points = measure.sphere_points(grid.sphere, ctx.seed, grid.sphere_ds, lambda d: grid.fixed_C0)
    results = ctx.runner.map(measure.trained_point, points, desc="sphere training")
    by_C0 = {C0: {p.d: constants(r, d=p.d, C0=float(np.max(r["C0_hat"])) if C0 > 0 else 0.0)
                  for p, r in zip(points, results) if p.C0 == C0} for C0 in grid.fixed_C0}
    held_out = grid.sphere_ds[-1]
    checks = judge_constant(by_C0, held_out, level=ctx.level(len(grid.fixed_C0)), seed=ctx.seed)
    data = {"d": list(grid.sphere_ds),
            "quantile_per_d": {str(C0): [bounds.pooled_quantile(by_d[d], K_QUANTILE) for d in grid.sphere_ds]
                               for C0, by_d in by_C0.items()}}
    return registry.Outcome(checks, data, {"points": [dataclasses.asdict(p) for p in points],
                                           "held_out_d": held_out},
                            notes="C0 in the constant is the largest C0_hat reached (the stop rule "
                                  "lands on C0); C0 = 0 is the untrained network.")
