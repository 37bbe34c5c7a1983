"""Claim ``init_attack_matches_prediction``: at init ``sqrt(d) |f| / ||grad f||`` averages to
``sqrt 2 E|f|`` (:func:`ntk_attack.theory.init_eta_sqrt_d`; balanced signs) and to the
random-signs value given each network's offset (:func:`ntk_attack.theory.conditional_first_order`);
``eta* / first_order - 1`` falls like ``d^(-1/2)`` (THEORY.md 3; notation in :mod:`.measure`)."""
import dataclasses
import math

import numpy as np

from ntk_attack import attacks, theory
from ntk_attack.plotting import common
from verification import protocol, registry
from verification.claims.attacks import measure

CACHE_VERSION = 1
RELATIVE_BAND = 0.03  # finite-d, m corrections to the d -> inf limits are < 0.5% at d >= 256
EXCESS_SLOPE = (-0.5, (-0.75, -0.25))  # ratio ~ 1 + 0.25 / sqrt(d): excess ~ d^(-1/2)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """The shared init sweep (curvature trend) and the comparison with the ``d -> inf`` limits
    at ``first_order_d``: ``first_order_networks`` networks of width ``first_order_m``,
    ``first_order_points`` points each, per sign scheme."""
    init: measure.InitSweep
    first_order_d: int
    first_order_m: int
    first_order_networks: int
    first_order_points: int


GRIDS = {"quick": Grid(init=measure.INIT["quick"], first_order_d=256, first_order_m=512,
                       first_order_networks=80, first_order_points=500),
         "full": Grid(init=measure.INIT["full"], first_order_d=1024, first_order_m=4096,
                      first_order_networks=128, first_order_points=1000)}


def judge_init(large: dict, by_d: dict, *, d_large: int, m: int, level: float, seed: int,
               predicted=theory.INIT_ETA_SQRT_D, excess_slope=EXCESS_SLOPE) -> list:
    """Checks of claim 1.

    Args:
        large: ``{signs: first_order_point result}`` at ``d_large`` and width ``m``.
        by_d: ``{d: init_point result}`` (balanced signs) for the curvature trend.
        predicted: ``{signs: predicted mean of sqrt(d) |f| / ||grad f||}`` in the limit.
        excess_slope: ``(slope, (lo, hi))`` of ``log(mean ratio - 1)`` against ``log d``.
    """
    checks = []
    target = predicted["balanced"]
    estimate, ci = protocol.bootstrap(large["balanced"]["mean_first_order_sqrt_d"], np.mean,
                                      level=level, seed=protocol.derive_seed(seed, "balanced"))
    checks.append(protocol.check(
        f"balanced signs, d = {d_large}, m = {m}: mean sqrt(d) |f| / ||grad f||",
        prediction=f"{target:.4f} = sqrt(2) sqrt(1/2 - 1/(2 pi)) sqrt(2/pi)", estimate=estimate, ci=ci,
        band=protocol.Band(target * (1 - RELATIVE_BAND), target * (1 + RELATIVE_BAND),
                           RELATIVE_BAND * target / 2, "+-3%: finite d, m corrections are < 0.5% "
                           "(1/(2 pi d) in ||grad f||^2, CLT in m)"),
        level=level))
    if "random" in large:
        result = large["random"]
        measured = np.asarray(result["mean_first_order_sqrt_d"])
        # The offset c is drawn once per network, so the unconditional mean varies ~30% between
        # networks; dividing by the prediction given c leaves only the within-network noise.
        ratio = measured / theory.conditional_first_order(result["sum_a"], d_large, m)
        scale = predicted["random"] / theory.averaged_random_first_order()
        estimate, ci = protocol.bootstrap(ratio * scale, np.mean, level=level,
                                          seed=protocol.derive_seed(seed, "random"))
        checks.append(protocol.check(
            f"random signs, d = {d_large}, m = {m}: mean sqrt(d) |f| / ||grad f|| / prediction "
            "given the network's offset", prediction=f"1 (averages to {predicted['random']:.3f} over sign draws)",
            estimate=estimate, ci=ci,
            band=protocol.Band(1 - RELATIVE_BAND, 1 + RELATIVE_BAND, RELATIVE_BAND / 2,
                               "+-3%, as for balanced signs"),
            level=level, note=f"unconditional mean {np.mean(measured):.4f} over {len(measured)} networks"))
    ds = sorted(by_d)
    excess = np.stack([[np.mean(e[s == attacks.FlipStatus.FLIPPED] / f[s == attacks.FlipStatus.FLIPPED]) - 1
                        for e, f, s in zip(by_d[d]["eta"], by_d[d]["first_order"], by_d[d]["status"])]
                       for d in ds], axis=1)
    slope, band = excess_slope
    checks.append(measure.slope_check("mean eta* / first-order - 1 over flipped points against d (log-log)",
                              ds, excess, slope=slope, band=band, level=level,
                              seed=protocol.derive_seed(seed, "excess"),
                              note="mean ratio " + ", ".join(f"{1 + np.mean(excess[:, i]):.4f}"
                                                             for i in range(len(ds)))))
    return checks


def eta_histogram(data: dict):
    """Histogram of ``eta* sqrt(d)`` at init against the predicted law ``sqrt(2) |N(0, sigma^2)|``,
    ``sigma^2 = 1/2 - 1/(2 pi)`` (THEORY.md 3; balanced signs).

    Args:
        data: ``{"eta_sqrt_d_sample": (n,), "sigma_f": float, "sample_d": int}``.
    """
    sample = np.asarray(data["eta_sqrt_d_sample"], dtype=float)
    scale = math.sqrt(2) * data["sigma_f"]
    fig, ax = common.new_figure()
    ax.hist(sample, bins=60, density=True, color=common.MEASURED, alpha=0.6,
            label=f"measured, d = {data['sample_d']}")
    grid = np.linspace(0, sample.max(), 300)
    ax.plot(grid, 2 / (scale * math.sqrt(2 * math.pi)) * np.exp(-grid ** 2 / (2 * scale ** 2)), "-",
            color=common.PREDICTED, label="predicted sqrt(2)|N(0, sigma^2)|")
    ax.set_xlabel("eta* sqrt(d) (attack size times sqrt of input dimension)")
    ax.set_ylabel("density")
    ax.set_title("attack size at initialisation")
    ax.legend(fontsize="small")
    return fig


def curvature_vs_d(data: dict):
    """Mean ``eta* / (|f| / ||grad f||) - 1`` against ``d``, log-log, beside
    :func:`ntk_attack.theory.curvature_excess`.

    Args:
        data: ``{"d": (k,), "mean_ratio": (k,)}``.
    """
    d = np.asarray(data["d"], dtype=float)
    fig, ax = common.new_figure()
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.plot(d, np.asarray(data["mean_ratio"]) - 1, "o-", color=common.MEASURED, label="measured")
    ax.plot(d, theory.curvature_excess(d), "--", color=common.PREDICTED,
            label=f"{theory.CURVATURE_COEFFICIENT:g} / sqrt(d) (THEORY.md 3)")
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("mean eta* / first-order prediction - 1")
    ax.set_title("curvature correction at initialisation")
    ax.legend(fontsize="small")
    return fig


def figures(data: dict) -> dict:
    return {"eta_sqrt_d_histogram": eta_histogram(data), "curvature_vs_d": curvature_vs_d(data)}


@registry.claim("init_attack_matches_prediction",
                title=f"At init, eta* sqrt(d) ~ sqrt(2)|f|: mean {theory.INIT_ETA_SQRT_D['balanced']:.3f} "
                      f"(balanced), {theory.INIT_ETA_SQRT_D['random']:.3f} (random signs)",
                figures=figures)
def init_attack_matches_prediction(ctx: registry.Context, *, grid: Grid | None = None
        ) -> registry.Outcome:
    """At init the first-order attack size ``sqrt(d) |f| / ||grad f||`` averages to
    ``sqrt(2) E|f| = 0.659`` (balanced signs) and ``0.798`` (random signs, over sign draws);
    the curvature factor ``eta* / (|f| / ||grad f||)`` falls to 1 like ``1 + 0.25 / sqrt(d)``."""
    grid = grid or GRIDS[ctx.profile]
    by_d_points = measure.sweep_init_points(grid.init, ctx.seed)
    large_points = {signs: measure.InitPoint(d=grid.first_order_d, m=grid.first_order_m, signs=signs,
                                             n_networks=grid.first_order_networks,
                                             n_points=grid.first_order_points,
                                             seed=
                                     protocol.derive_seed(ctx.seed, "first-order", signs))
                    for signs in ("balanced", "random")}
    by_d = dict(zip(grid.init.ds, ctx.runner.map(measure.init_point, by_d_points, desc="init attacks")))
    large = dict(zip(large_points, ctx.runner.map(measure.first_order_point, list(large_points.values()),
                                                  desc="first-order at init")))
    checks = judge_init(large, by_d, d_large=grid.first_order_d, m=grid.first_order_m,
                        level=ctx.level(3), seed=ctx.seed)
    random_limit = theory.INIT_ETA_SQRT_D["random"]
    checks.append(protocol.exact_check(
        "Gauss-Hermite average of the conditional random-signs prediction",
        prediction=f"{random_limit:.4f} = sqrt(2) sqrt(1/2) sqrt(2/pi)", value=theory.averaged_random_first_order(),
        band=protocol.Band(random_limit - 1e-9, random_limit + 1e-9, 0,
                           "64-node quadrature of a smooth integrand: exact to ~1e-12")))
    d_sample = grid.init.ds[-1]
    sample = np.sqrt(d_sample) * np.asarray(by_d[d_sample]["eta"]).ravel()
    flipped = [r["status"] == attacks.FlipStatus.FLIPPED for r in by_d.values()]
    data = {"d": list(grid.init.ds),
            "mean_ratio": [float(np.mean((r["eta"] / r["first_order"])[f]))
                           for r, f in zip(by_d.values(), flipped)],
            "no_flip_fraction": [measure.no_flip_fraction(r) for r in by_d.values()],
            "mean_eta_sqrt_d": [float(np.mean(np.sqrt(d) * r["eta"][f]))
                                for d, r, f in zip(by_d, by_d.values(), flipped)],
            "mean_first_order_sqrt_d": {s: float(np.mean(r["mean_first_order_sqrt_d"]))
                                        for s, r in large.items()},
            "predicted_mean": theory.INIT_ETA_SQRT_D, "sigma_f": math.sqrt(theory.var_f_init("balanced")),
            "eta_sqrt_d_sample": sample[np.isfinite(sample)], "sample_d": d_sample}
    config = {"points": [dataclasses.asdict(p) for p in by_d_points],
              "first_order_points": {s: dataclasses.asdict(p) for s, p in large_points.items()}}
    return registry.Outcome(checks, data, config,
                            notes="No-flip fraction per d: " + ", ".join(
                                f"d = {d}: {f:.2g}" for d, f in zip(grid.init.ds, data["no_flip_fraction"]))
                            + ". The ratio's mean is over flipped points only; mean eta* sqrt(d) over "
                              "flipped points: "
                            + ", ".join(f"{v:.4f}" for v in data["mean_eta_sqrt_d"]) + ".")
