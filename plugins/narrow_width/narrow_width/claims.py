"""The five narrow-width claims (docs/THEORY.md 10): networks of width ``m`` far below ``d``.

Networks are the bootstrap units; claims share grid points through the cache. Predictions come
from :mod:`narrow_width.limit_law` (``z`` and signs only): P1 and P2 in closed form (P2 less its
first-order finite-d term), P3-P5 as the law at each attacked point's own ``z = W x`` (the law's
own spread cancels); the law's network-free means are reported beside.
"""
import dataclasses
import functools

import numpy as np

from narrow_width import figures, limit_law, measure
from verification import protocol, registry

CI_SHARE = 0.75  # the widest CI half-width that may decide a check, as a share of its band's
FLAT = 0.15  # |slope of log(R - 1) in log d|; the wide regime's law has slope -1/2
LAW_SAMPLES = 100_000  # draws of the network-free law, for the means reported beside
HERE = "the law at the measured z: the denominator of each level check"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """Networks of 250 points: ``relu``, ``erf`` ``{m: networks}`` at every d of ``ds``; P2's ``extra``
    ``(m, signs, networks)`` at every d; P1's ``(m, networks, points)`` at ``p1_ds``; the regimes at d = 1024."""
    ds: tuple
    relu: dict
    erf: dict
    extra: tuple
    p1: tuple
    p1_ds: tuple
    regimes_m: tuple = tuple(2 ** i for i in range(1, 15))
    regimes_networks: int = 4


def sized(ds, p1_ds, scale=1.0, p1_m8=()):
    """Sizes from the measured variances: each CI about half of the widest allowed."""
    n = lambda k: int(round(k * scale))  # noqa: E731
    return Grid(ds=ds, relu={8: n(560), 16: n(48), 32: n(40), 64: n(40)}, erf={8: n(140), 16: n(90), 32: n(90), 64: n(64)},
                extra=((4, "balanced", n(160)), (4, "random", n(100)), (8, "random", n(320))),
                p1=((2, 192, 500), (4, 800, 500), *p1_m8), p1_ds=p1_ds, regimes_networks=n(4))


# P1 at m = 8 needs 6M points (p0 varies ~6% between networks at d = 64): full only.
GRIDS = {"quick": sized((1024, 4096), (64,)), "full": sized((1024, 4096, 16384), (64, 256), 1.25, ((8, 3750, 2000),))}


def attacks(ctx, specs: dict) -> dict:
    """``{key: attack_point result}`` for ``{key: (d, m, networks, points, signs, activation)}``;
    a point's seed depends on its fields only, so claims share it."""
    points = {key: measure.Point(d=d, m=m, networks=k, points=p, signs=s, activation=act,
                                 seed=protocol.derive_seed(ctx.seed, "narrow", d, m, k, p, s, act))
              for key, (d, m, k, p, s, act) in specs.items()}
    return dict(zip(points, ctx.runner.map(measure.attack_point, list(points.values()), desc="narrow")))


def main(ctx, grid, activation="relu") -> dict:
    """The main grid ``{(m, d): attack_point result}``, balanced signs."""
    return attacks(ctx, {(m, d): (d, m, k, 250, "balanced", activation)
                         for m, k in getattr(grid, activation).items() for d in grid.ds})


@functools.cache
def law_means(activation: str, m: int) -> tuple:
    """``(E[T / T1], E[T])`` of the network-free law (ReLU: given ``A-`` nonempty), one fixed stream."""
    z, a = limit_law.draw(m, LAW_SAMPLES, signs="balanced", rng=np.random.default_rng(0))
    T, T1 = limit_law.law(z, a, activation)
    use = ((z > 0) & limit_law.opposing(z, a)).any(axis=1) | (activation != "relu")
    return float(np.mean(T[use] / T1[use])), float(np.mean(T[use]))


def ratio(name, num, den, *, used=0.0, offset=0.0, band, why, level, seed, prediction="the law at each point's own z"):
    """``(sum num - offset sum used) / (sum den - offset sum used)`` over networks (`(networks,)` arrays):
    1 within ``+-band``."""
    units = np.stack(np.broadcast_arrays(*(np.asarray(v, float) for v in (num, den, used))), 1)
    excess = lambda u, i: u[:, i].sum() - offset * u[:, 2].sum()  # noqa: E731
    estimate, ci = protocol.bootstrap(units, lambda u: excess(u, 0) / excess(u, 1), level=level, seed=seed)
    return protocol.check(name, prediction=f"1 ({prediction})", estimate=estimate, ci=ci, predicted=1.0,
                          level=level, band=protocol.Band(1 - band, 1 + band, CI_SHARE * band, why))


def zero(name, value, why):
    return protocol.exact_check(name, prediction="0", value=value, band=protocol.Band(0, 0, 0, f"a count: {why}"))


def total(results, key) -> int:
    return int(sum(np.sum(r[key]) for r in results.values()))


def share(result, key, over) -> float:
    return float(np.sum(result[key]) / np.sum(result[over]))


def outcome(checks, data, grid, judged, unjudged=None):
    """The Outcome; every data key neither judged nor unjudged is an input (grid, predictions)."""
    unjudged = unjudged or {}
    return registry.Outcome(checks, data, dataclasses.asdict(grid), judged=judged, unjudged=unjudged,
                            inputs=tuple(k for k in data if k not in judged and k not in unjudged))


@registry.claim("narrow_no_gradient_fraction", title="m << d: no gradient (every neuron off) at a fraction 2^-m of points")
def narrow_no_gradient_fraction(ctx, *, grid=None):
    """P1: min_flip reports FlipStatus.ZERO_GRADIENT exactly where no neuron is active, at a
    fraction 2^-m of points, at every d."""
    grid = grid or GRIDS[ctx.profile]
    p1 = attacks(ctx, {(m, d): (d, m, k, p, "balanced", "relu") for m, k, p in grid.p1 for d in grid.p1_ds})
    level = ctx.level(len(p1))
    checks = [ratio(f"d = {d}, m = {m}: fraction of points with status ZERO_GRADIENT / 2^-m", r["zero_gradient"],
                    r["points"] * 2.0 ** -m, band=0.10, level=level, seed=protocol.derive_seed(ctx.seed, "p1", m, d),
                    prediction=f"2^-{m}", why="P1 is exact at every d; +-10% (fixed) separates 2^-m from "
                    "2^-(m/2) (paired rows) or 0 (status lost)") for (m, d), r in p1.items()]
    checks.append(zero("points where ZERO_GRADIENT is reported iff no neuron is active (z = W x <= 0), violated",
                       total(p1, "status_mismatch"), "the status and z are computed apart"))
    data = {"grid": [list(k) for k in p1], "p0": [share(r, "zero_gradient", "points") for r in p1.values()],
            "status_mismatch": total(p1, "status_mismatch")}
    return outcome(checks, data, grid, judged={"p0": "ZERO_GRADIENT / 2^-m", "status_mismatch": "iff no neuron"})


@registry.claim("narrow_no_strict_flip_fraction",
                title="m << d: a single ReLU step only reaches f = 0, without a strict flip, at a fraction ~2^(1 - m/2)")
def narrow_no_strict_flip_fraction(ctx, *, grid=None):
    """P2: where no active neuron opposes sign f (A- empty) the step drives f to 0 and stops:
    a fraction P2 (limit_law.no_strict_flip) of the points with a gradient has no strict sign
    change; min_flip reports them as flipped where f reaches 0 (the reach-zero fraction)."""
    grid = grid or GRIDS[ctx.profile]
    wide = main(ctx, grid)
    rows = {(8, d, "balanced"): wide[8, d] for d in grid.ds}
    rows.update(attacks(ctx, {(m, d, s): (d, m, k, 250, s, "relu") for m, s, k in grid.extra for d in grid.ds}))
    level = ctx.level(sum(2 if s == "balanced" else 1 for _, _, s in rows))
    checks, data = [], {"rows": [list(k) for k in rows], "predicted": []}
    for (m, d, s), r in rows.items():  # balanced: P2 itself; random signs: given each network's signs
        expected = r["gradient"] * limit_law.no_strict_flip(m, m // 2 if s == "balanced" else r["plus"])
        data["predicted"].append(float(np.sum(expected - r["lag_strict"]) / np.sum(r["gradient"])))
        for kind, num, lag in (("without a strict flip", r["gradient"] - r["strict"], r["lag_strict"]),
                               ("flipped by reaching f = 0", r["reach_zero"], r["lag_zero"]))[:2 if s == "balanced" else 1]:
            checks.append(ratio(
                f"{s} signs, d = {d}, m = {m}: fraction {kind} / (P2 less its finite-d term)", num, expected - lag,
                band=0.10, level=level, seed=protocol.derive_seed(ctx.seed, "p2", m, d, s, kind),
                prediction="P2" + (" given each network's signs" if s == "random" else ""),
                why="+-10% (fixed) of P2 less its first-order finite-d term (inactive neurons switching on, "
                    "O(m T / sqrt(d)): 3-9% at d = 1024), which covers the next order"))
    data.update({key: [share(r, key, "gradient") for r in rows.values()] for key in ("strict", "reach_zero")})
    data["opposed_not_strict"] = total(rows, "opposed_not_strict") + total(wide, "opposed_not_strict")
    checks.append(zero("points with an active neuron opposing sign f (A- nonempty) and no strict flip at eta*",
                       data["opposed_not_strict"], "f then crosses 0 with slope < 0"))
    data["main_strict"] = {f"m = {m}, d = {d}": share(r, "strict", "gradient") for (m, d), r in wide.items()}
    data["main_p0"] = {f"m = {m}, d = {d}": 1 - share(r, "gradient", "points") for (m, d), r in wide.items()}
    return outcome(checks, data, grid, judged={"strict": "without a strict flip", "reach_zero": "by reaching f = 0",
                                               "opposed_not_strict": "no strict flip at eta*"},
                   unjudged={"main_strict": "P2 = 0.0078 at m = 16 and < 1e-4 beyond: a +-10% band needs ~1.5M points; "
                                            "the A- count is judged",
                             "main_p0": "2^-m of the main grid's points is a few hundred at m = 8 and < 1 from m = 16: "
                                        "too few for P1's band (judged on its own grid)"})


@registry.claim("narrow_curvature_is_width_limited",
                title="m << d: eta* / first-order -> R(m) = 1 + ~0.19 / sqrt(m), flat in d")
def narrow_curvature_is_width_limited(ctx, *, grid=None):
    """P3: R(m) = E[eta* / (|f| / ||grad f||) | A- nonempty] follows the limit law at every d
    (1.053, 1.052, 1.035, 1.024 at m = 8, 16, 32, 64) and does not fall with d: the curvature
    is set by the narrower of m and d."""
    grid = grid or GRIDS[ctx.profile]
    wide = main(ctx, grid)
    level = ctx.level(len(wide) + len(grid.relu))
    checks = [ratio(f"d = {d}, m = {m}: (R - 1) / (R_law - 1), A- nonempty", r["ratio"], r["ratio_law"], used=r["used"],
                    offset=1.0, band=0.10, level=level, seed=protocol.derive_seed(ctx.seed, "p3", m, d),
                    why="+-10% of R - 1 (fixed); finite-d corrections are O(m / d): 2% at m = 64, d = 1024")
              for (m, d), r in wide.items()]
    for m in grid.relu:
        excess = [(wide[m, d]["ratio"] - wide[m, d]["used"]) / (wide[m, d]["ratio_law"] - wide[m, d]["used"]) for d in grid.ds]
        checks.append(protocol.slope_check(
            f"m = {m}: slope of log((R - 1) / (R_law - 1)) against log d", grid.ds, np.stack(excess, 1), predicted=0.0,
            band=(-FLAT, FLAT), level=level, seed=protocol.derive_seed(ctx.seed, "p3-slope", m), ci_share=CI_SHARE,
            why=f"equivalence band |slope| <= {FLAT} (fixed): the wide regime's 1 + 0.25 / sqrt(d) has slope -1/2"))
    data = {"grid": [list(k) for k in wide], "R": [share(r, "ratio", "used") for r in wide.values()],
            "R_law_here": [share(r, "ratio_law", "used") for r in wide.values()],
            "R_law": [law_means("relu", m)[0] for m, _ in wide], "slope": [c.estimate for c in checks[len(wide):]]}
    return outcome(checks, data, grid, judged={"R": "(R - 1) / (R_law - 1)", "slope": "slope of log"},
                   unjudged={"R_law_here": HERE})


@registry.claim("narrow_attack_size_limit_law", title="m << d: eta* sqrt(d) follows a fixed-width limit law",
                figures=figures.regimes)
def narrow_attack_size_limit_law(ctx, *, grid=None):
    """P4: E[eta* sqrt(d) | A- nonempty] follows the limit law at every d (0.655, 0.709, 0.699,
    0.684 at m = 8, 16, 32, 64); eta* is a sign change of f."""
    grid = grid or GRIDS[ctx.profile]
    wide = main(ctx, grid)
    regimes = attacks(ctx, {m: (1024, m, grid.regimes_networks, 250, "balanced", "relu") for m in grid.regimes_m})
    level = ctx.level(len(wide))
    checks = [ratio(f"d = {d}, m = {m}: mean eta* sqrt(d) / law, A- nonempty", r["T"], r["T_law"], band=0.03,
                    level=level, seed=protocol.derive_seed(ctx.seed, "p4", m, d),
                    why="+-3% (fixed); finite-d corrections are O(m / d): < 1.5% measured at m = 64, d = 1024")
              for (m, d), r in wide.items()]
    checks.append(zero(f"flipped points where sign(f) f(x + t u) at t = eta* -+ {measure.STEP:g} max(eta*, 1/sqrt d) is not positive, "
                       "then not non-positive", total(wide, "not_a_change") + total(regimes, "not_a_change"),
                       "f is evaluated by its forward pass, apart from the breakpoint walk"))
    sweep = [wide.get((m, 1024), r) for m, r in regimes.items()]  # the main grid's many networks where it has them
    data = {"grid": [list(k) for k in wide], "T": [share(r, "T", "used") for r in wide.values()],
            "T_law": [law_means("relu", m)[1] for m, _ in wide], "T_law_here": [share(r, "T_law", "used") for r in wide.values()],
            "regimes_m": list(grid.regimes_m), "regimes_d": 1024, "level": level,
            "regimes_T": [list(r["T"] / np.maximum(r["used"], 1)) for r in sweep],
            "regimes_strict": [list(r["strict"] / r["points"]) for r in sweep], "not_a_change": checks[-1].estimate}
    return outcome(checks, data, grid, judged={"T": "mean eta* sqrt(d) / law", "not_a_change": "not positive"},
                   unjudged={"T_law_here": HERE,
                             "regimes_T": "the figure's sweep, per network: its narrow end is judged here, its wide end "
                                          "by init_attack_matches_prediction",
                             "regimes_strict": "the figure's strict-flip fractions per network; judged at m = 4, 8 by "
                                               "narrow_no_strict_flip_fraction"})


@registry.claim("narrow_smooth_activation_flips",
                title="m << d, erf activation: every point flips, eta* / first-order -> 1 + ~0.12 / m")
def narrow_smooth_activation_flips(ctx, *, grid=None):
    """P5: an erf network flips at every point (Bubeck et al.'s Theorem 1 regime); eta* /
    first-order follows the limit law, R_erf (1.034, 1.011, 1.004, 1.002 at m = 8, 16, 32, 64),
    and so does eta* sqrt(d) (0.834, 0.758, 0.738, 0.729)."""
    grid = grid or GRIDS[ctx.profile]
    erf = main(ctx, grid, "erf")
    level = ctx.level(2 * len(erf))
    checks = []
    for (m, d), r in erf.items():
        seed = protocol.derive_seed(ctx.seed, "p5", m, d)
        checks += [ratio(f"d = {d}, m = {m}: (R_erf - 1) / (law - 1)", r["ratio"], r["ratio_law"], used=r["used"],
                         offset=1.0, band=0.25, level=level, seed=seed,
                         why="+-25% of R_erf - 1 (fixed): separates 1/m from 1/sqrt(m); finite-d effects O(m / d)"),
                   ratio(f"d = {d}, m = {m}: mean eta* sqrt(d) / erf law", r["T"], r["T_law"], band=0.03, level=level,
                         seed=seed + 1, why="+-3% (fixed), as for ReLU")]
    data = {"grid": [list(k) for k in erf], "not_flipped": total(erf, "points") - total(erf, "flipped"),
            "not_a_change": total(erf, "not_a_change")}
    checks += [zero("erf: points that do not flip", data["not_flipped"], "every point flips (P5)"),
               zero(f"erf: flipped points where sign f has not changed at eta or has at eta (1 - {2 * measure.RTOL:g})",
                    data["not_a_change"], "bisection returns the flipped end of its bracket")]
    for key in ("ratio", "T"):
        data[f"{key}_erf"] = [share(r, key, "used") for r in erf.values()]
        data[f"{key}_law_here"] = [share(r, f"{key}_law", "used") for r in erf.values()]
        data[f"{key}_law"] = [law_means("erf", m)[key == "T"] for m, _ in erf]
    return outcome(checks, data, grid, judged={"ratio_erf": "(R_erf - 1)", "T_erf": "erf law", "not_flipped": "do not flip",
                                               "not_a_change": "has not changed"},
                   unjudged={"ratio_law_here": HERE, "T_law_here": HERE})
