"""The five narrow-width claims (docs/THEORY.md 10): networks of width ``m`` far below ``d``.

Networks are the bootstrap units; every grid point is shared between the claims through the
cache. Predictions come from :mod:`narrow_width.limit_law` (numpy, ``z`` and signs only, its own
root finders): P1 and P2 in closed form (P2's finite-d term from the law's Monte Carlo, whose
error is added to the CI in quadrature); P3-P5 as the law evaluated at each attacked point's own
``z = W x`` (common random numbers: the law's own spread cancels from the comparison), with the
law's Monte Carlo means reported beside.
"""
import dataclasses
import math

import numpy as np
from scipy import stats

from narrow_width import figures, limit_law, measure
from verification import protocol, registry

CI_SHARE = 0.75  # the widest CI half-width that may decide a check, as a share of its band's
BANDS = {  # relative half-widths, fixed tolerances (README.md: why each)
    "p0": 0.10, "p2": 0.10, "R": 0.10, "T": 0.03, "R_erf": 0.25, "T_erf": 0.03}
FLAT = 0.15  # |slope of log(R - 1) in log d|; the wide regime's law has slope -1/2
LAW_SEED = 0  # the limit laws are constants: one fixed Monte Carlo stream for every run


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """Networks of 250 points per grid point: ``main`` and ``erf`` ``{m: networks}`` at every
    ``d`` of ``ds``; ``extra`` ``{(m, signs): networks}`` for P2; ``p1`` ``{m: (networks, points)}``
    at every ``p1_ds``; ``law`` ``{(activation, m): samples}``; the regimes sweep at ``d = 1024``."""
    ds: tuple
    main: dict
    extra: dict
    erf: dict
    p1: dict
    p1_ds: tuple
    law: dict
    p2_m: tuple = (4, 8)
    regimes_m: tuple = tuple(2 ** i for i in range(1, 15))
    regimes_networks: int = 4


def _grid(ds, scale, p1_ds, p1_m8):
    n = lambda k: int(round(k * scale))  # noqa: E731
    # Sizes from the measured variances (seeds 0, 1): each CI about half of the widest allowed.
    return Grid(ds=ds, main={8: n(560), 16: n(48), 32: n(40), 64: n(40)},
                extra={(4, "balanced"): n(160), (4, "random"): n(100), (8, "random"): n(320)},
                erf={8: n(140), 16: n(90), 32: n(90), 64: n(64)},
                p1={2: (192, 500), 4: (800, 500), **({8: (n(3000), 2000)} if p1_m8 else {})}, p1_ds=p1_ds,
                law={**{("relu", "balanced", m): 300_000 for m in (4, 8, 16, 32, 64)},
                     **{("relu", "random", m): 300_000 for m in (4, 8)},
                     **{("erf", "balanced", m): 300_000 // (1 + (m > 16)) for m in (8, 16, 32, 64)}},
                regimes_networks=n(4))


# P1 at m = 8 needs 6M points (networks at d = 64 differ by ~6% in p0): full only.
GRIDS = {"quick": _grid((1024, 4096), 1.0, (64,), False), "full": _grid((1024, 4096, 16384), 1.25, (64, 256), True)}


def attacks(ctx, specs: dict) -> dict:
    """``{key: attack_point result}`` for ``{key: (d, m, networks, points, signs, activation)}``;
    a point's seed depends on its fields only, so claims share it."""
    points = {key: measure.Point(d=d, m=m, networks=k, points=p, signs=s, activation=act,
                                 seed=protocol.derive_seed(ctx.seed, "narrow", d, m, k, p, s, act))
              for key, (d, m, k, p, s, act) in specs.items()}
    return dict(zip(points, ctx.runner.map(measure.attack_point, list(points.values()), desc="narrow")))


def main(ctx, grid, kind="relu"):
    table = grid.main if kind == "relu" else grid.erf
    return attacks(ctx, {(m, d): (d, m, k, 250, "balanced", kind) for m, k in table.items() for d in grid.ds})


def laws(ctx, grid, wanted) -> dict:
    """``{(activation, signs, m): law_point result}`` for the keys of ``grid.law`` that
    ``wanted(key)`` accepts; the same for every run seed."""
    keys = [key for key in grid.law if wanted(key)]
    points = [measure.Law(m=m, samples=grid.law[act, s, m], activation=act, signs=s, seed=LAW_SEED) for act, s, m in keys]
    return dict(zip(keys, ctx.runner.map(measure.law_point, points, desc="limit law")))


def fraction(result, numerator, denominator):
    units = np.stack([np.asarray(result[numerator], float), np.asarray(result[denominator], float)], 1)
    return units, lambda u: u[:, 0].sum() / u[:, 1].sum()


def versus(name, units_statistic, target, *, band, why, level, seed, target_se=0.0, offset=0.0,
           prediction="the limit law at each point's own z"):
    """The statistic over networks, as ``(S - offset) / (target - offset)``: 1 within ``+-band``;
    the CI over networks is widened by the Monte Carlo error ``target_se`` of ``target``."""
    units, statistic = units_statistic
    scale = target - offset
    estimate, (lo, hi) = protocol.bootstrap(units, lambda u: (statistic(u) - offset) / scale,
                                            level=level, seed=seed)
    half = math.hypot((hi - lo) / 2, stats.norm.ppf((1 + level) / 2) * estimate * target_se / scale)
    return protocol.check(name, prediction=f"1 ({prediction})", estimate=estimate,
                          ci=(estimate - half, estimate + half), predicted=1.0, level=level,
                          band=protocol.Band(1 - band, 1 + band, CI_SHARE * band, why))


def zero_count(name, value, why):
    return protocol.exact_check(name, prediction="0", value=float(value), band=protocol.Band(0, 0, 0, why))


def total(results, name):
    return int(sum(np.sum(r[name]) for r in results.values()))


def estimate(result, numerator, denominator):
    units, statistic = fraction(result, numerator, denominator)
    return float(statistic(units))


def outcome(checks, data, grid, judged, unjudged, notes=""):
    """The Outcome; every data key neither judged nor unjudged is an input (grid, predictions)."""
    inputs = tuple(k for k in data if k not in judged and k not in unjudged and k != "captions")
    config = {k: {str(key): v for key, v in v.items()} if isinstance(v, dict) else v
              for k, v in dataclasses.asdict(grid).items()}
    return registry.Outcome(checks, data, config, notes=notes, inputs=inputs, judged=judged, unjudged=unjudged)


@registry.claim("narrow_no_gradient_fraction", title="m << d: no gradient (every neuron off) at a fraction 2^-m of points")
def narrow_no_gradient_fraction(ctx, *, grid=None):
    """P1: min_flip reports FlipStatus.ZERO_GRADIENT exactly where no neuron is active, at a
    fraction 2^-m of points, at every d."""
    grid = grid or GRIDS[ctx.profile]
    p1 = attacks(ctx, {(m, d): (d, m, k, p, "balanced", "relu") for m, (k, p) in grid.p1.items() for d in grid.p1_ds})
    level = ctx.level(len(p1))
    why = "P1 is exact at every d; +-10% (fixed) separates 2^-m from 2^-(m/2) (paired rows) or 0 (status lost)"
    checks = [versus(f"d = {d}, m = {m}: fraction of points with status ZERO_GRADIENT / 2^-m",
                     fraction(r, "zero_gradient_status", "points"), limit_law.no_gradient(m), band=BANDS["p0"],
                     why=why, level=level, seed=protocol.derive_seed(ctx.seed, "p1", m, d),
                     prediction=f"2^-{m} = {limit_law.no_gradient(m):.4g}") for (m, d), r in p1.items()]
    checks.append(zero_count("points where ZERO_GRADIENT is reported iff no neuron is active (z = W x <= 0), violated",
                             total(p1, "status_mismatch"),
                             "a count: the status and z are computed apart; any disagreement is a bug"))
    data = {"grid": [list(k) for k in p1], "p0": [estimate(r, "zero_gradient_status", "points") for r in p1.values()],
            "predicted": [limit_law.no_gradient(m) for m, _ in p1], "status_mismatch": total(p1, "status_mismatch")}
    return outcome(checks, data, grid,
                   judged={"p0": "ZERO_GRADIENT / 2^-m", "status_mismatch": "iff no neuron"}, unjudged={})


@registry.claim("narrow_no_strict_flip_fraction",
                title="m << d: a single ReLU step only reaches f = 0, without a strict flip, at a fraction ~2^(1 - m/2)")
def narrow_no_strict_flip_fraction(ctx, *, grid=None):
    """P2: where no active neuron opposes sign f (A- empty) the step drives f to 0 and stops
    there: the fraction of points with a gradient and no strict sign change is
    2 2^(-m/2) (1 - 2^(-m/2)) / (1 - 2^-m) (balanced), 2 [(3/4)^m - (1/2)^m] / (1 - 2^-m) (random
    signs); min_flip reports those points as flipped where f reaches 0 (the reach-zero fraction)."""
    grid = grid or GRIDS[ctx.profile]
    wide = main(ctx, grid)
    extra = attacks(ctx, {(m, d, s): (d, m, k, 250, s, "relu") for (m, s), k in grid.extra.items() for d in grid.ds})
    rows = {**{(m, d, "balanced"): wide[m, d] for m in grid.p2_m if m in grid.main for d in grid.ds}, **extra}
    law = laws(ctx, grid, lambda key: key[0] == "relu" and key[2] in grid.p2_m)
    level = ctx.level(sum(2 if s == "balanced" else 1 for _, _, s in rows))
    why = ("+-10% (fixed) of P2 less its first-order finite-d term (inactive neurons switching on "
           "before f reaches 0, O(m T / sqrt(d)): 3-9% at d = 1024), which covers the next order")
    checks, predicted = [], {}
    for (m, d, s), r in rows.items():
        # Balanced: P2 itself (a network whose signs are not balanced fails). Random signs vary
        # a lot between networks: each network's own P2 given its signs. Both less the finite-d term.
        seed, lags, p2 = protocol.derive_seed(ctx.seed, "p2", m, d, s), law["relu", s, m], limit_law.no_strict_flip(m, s)
        given = limit_law.no_strict_flip_given(m, np.asarray(r["plus"])) if s == "random" else p2
        r = {**r, "not_strict": np.asarray(r["gradient"]) - np.asarray(r["strict"]),
             "expected": np.asarray(r["gradient"]) * given}
        for kind, numerator, lag in (("without a strict flip", "not_strict", "lag_strict"),
                                     ("flipped by reaching f = 0", "reach_zero", "lag_zero"))[:2 if s == "balanced" else 1]:
            shrink = 1 - lags[lag][0] / (p2 * math.sqrt(d))
            predicted[f"{s}, m = {m}, d = {d}, {kind}"] = p2 * shrink
            units, statistic = fraction(r, numerator, "expected")
            checks.append(versus(f"{s} signs, d = {d}, m = {m}: fraction {kind} / P2" + (" given the network's signs" if s == "random" else "") + " (finite d)",
                                 (units, lambda u, shrink=shrink: statistic(u) / shrink), 1.0, band=BANDS["p2"], why=why,
                                 target_se=lags[lag][1] / (p2 * math.sqrt(d) * shrink), level=level, seed=seed + len(checks),
                                 prediction=f"P2 = {p2:.4f} averaged over sign draws, x {shrink:.4f} at this d"))
    data = {"rows": [list(k) for k in rows], "P2": [limit_law.no_strict_flip(m, s) for m, _, s in rows], "predicted": predicted}
    for name in ("strict", "reach_zero", "no_flip", "opposed_empty"):
        data[name] = [estimate(r, name, "gradient") for r in rows.values()]
    data["main_strict"] = {f"m = {m}, d = {d}": estimate(r, "strict", "gradient") for (m, d), r in wide.items()}
    data["main_p0"] = {f"m = {m}, d = {d}": estimate(r, "no_active", "points") for (m, d), r in wide.items()}
    data["opposed_not_strict"] = total(rows, "opposed_not_strict") + total(wide, "opposed_not_strict")
    checks.append(zero_count("points with an active neuron opposing sign f (A- nonempty) and no strict flip at eta*",
                             data["opposed_not_strict"], "a count: f then crosses 0 with slope < 0"))
    return outcome(checks, data, grid, judged={"strict": "without a strict flip", "reach_zero": "by reaching f = 0",
                                               "opposed_not_strict": "no strict flip at eta*"},
                   unjudged={"no_flip": "part of the fraction without a strict flip (judged); its own size, "
                                        "O(m / sqrt(d)) at A- empty points, is not predicted",
                             "opposed_empty": "P2's event read from z; the attack's fractions are judged against it",
                             "main_strict": "P2 = 0.0078 at m = 16 and < 1e-4 beyond: a +-10% band needs ~1.5M points; "
                                            "the A- count is judged",
                             "main_p0": "2^-m of the main grid's points is a few hundred at m = 8 and < 1 from m = 16: "
                                        "too few for P1's band (judged on its own grid)"})


def paired(result, measured, law, offset=0.0):
    """Units and statistic ``(sum measured - offset n) / (sum law - offset n)`` over ``used``
    points: 1 where the measurement follows the limit law at the same ``z``."""
    units = np.stack([np.asarray(result[k], float) for k in (measured, law, "used")], 1)
    return units, lambda u: (u[:, 0].sum() - offset * u[:, 2].sum()) / (u[:, 1].sum() - offset * u[:, 2].sum())


@registry.claim("narrow_curvature_is_width_limited",
                title="m << d: eta* / first-order -> R(m) = 1 + ~0.19 / sqrt(m), flat in d")
def narrow_curvature_is_width_limited(ctx, *, grid=None):
    """P3: R(m) = E[eta* / (|f| / ||grad f||) | A- nonempty] tends to the limit law's value at
    every d (1.053, 1.052, 1.035, 1.024 at m = 8, 16, 32, 64) and does not fall with d: the
    curvature is set by the narrower of m and d."""
    grid = grid or GRIDS[ctx.profile]
    wide = main(ctx, grid)
    law = {m: v for (_, _, m), v in laws(ctx, grid, lambda key: key[:2] == ("relu", "balanced") and key[2] in grid.main).items()}
    level = ctx.level(len(wide) + len(grid.main))
    why = "+-10% of R - 1 (fixed); finite-d corrections are O(m / d) (second order in sqrt(m/d)): 2% at m = 64, d = 1024"
    checks = [versus(f"d = {d}, m = {m}: (R - 1) / (R_law - 1), A- nonempty, law at the same z", paired(r, "sum_ratio", "sum_ratio_law", 1.0),
                     1.0, band=BANDS["R"], why=why, level=level, seed=protocol.derive_seed(ctx.seed, "p3", m, d))
              for (m, d), r in wide.items()]
    for m in grid.main:
        per_unit = np.stack([(np.asarray(wide[m, d]["sum_ratio"]) - wide[m, d]["used"])
                             / (np.asarray(wide[m, d]["sum_ratio_law"]) - wide[m, d]["used"]) for d in grid.ds], 1)
        checks.append(protocol.slope_check(
            f"m = {m}: slope of log((R - 1) / (R_law - 1)) against log d", grid.ds, per_unit, predicted=0.0, band=(-FLAT, FLAT),
            level=level, seed=protocol.derive_seed(ctx.seed, "p3-slope", m), ci_share=CI_SHARE,
            why=f"equivalence band |slope| <= {FLAT} (fixed): the wide regime's 1 + 0.25 / sqrt(d) has slope -1/2"))
    data = {"grid": [list(k) for k in wide], "R": [estimate(r, "sum_ratio", "used") for r in wide.values()],
            "R_law_here": [estimate(r, "sum_ratio_law", "used") for r in wide.values()],
            "R_law": [law[m]["R"][0] for m, _ in wide], "slope": [c.estimate for c in checks[len(wide):]]}
    return outcome(checks, data, grid, judged={"R": "(R - 1) / (R_law - 1)", "slope": "slope of log"},
                   unjudged={"R_law_here": "the law at the measured z: the prediction of each level check (its denominator)"})


@registry.claim("narrow_attack_size_limit_law", title="m << d: eta* sqrt(d) follows a fixed-width limit law",
                figures=figures.regimes)
def narrow_attack_size_limit_law(ctx, *, grid=None):
    """P4: E[eta* sqrt(d) | A- nonempty] tends to the limit law's mean (0.655, 0.710, 0.698, 0.684
    at m = 8, 16, 32, 64) at every d; eta* is a sign change of f."""
    grid = grid or GRIDS[ctx.profile]
    wide = main(ctx, grid)
    law = {m: v for (_, _, m), v in laws(ctx, grid, lambda key: key[:2] == ("relu", "balanced") and key[2] in grid.main).items()}
    regimes = attacks(ctx, {m: (1024, m, grid.regimes_networks, 250, "balanced", "relu") for m in grid.regimes_m})
    level = ctx.level(len(wide))
    why = "+-5% (fixed); finite-d corrections are O(m / d): < 1.5% measured at m = 64, d = 1024"
    checks = [versus(f"d = {d}, m = {m}: mean eta* sqrt(d) / law at the same z, A- nonempty", paired(r, "sum_T", "sum_T_law"),
                     1.0, band=BANDS["T"], why=why, level=level, seed=protocol.derive_seed(ctx.seed, "p4", m, d))
              for (m, d), r in wide.items()]
    every = {**wide, **{(m, 1024, "regimes"): r for m, r in regimes.items()}}
    checks.append(zero_count("flipped points where sign(f) f(x + t u) at t = eta* (1 -+ 1e-9) is not positive, "
                             "then not non-positive", total(every, "not_a_change"),
                             "a count: f is evaluated by its forward pass, apart from the breakpoint walk"))
    # Per network, for the figure: the main grid's networks where it has them (many more).
    sweep = {m: wide.get((m, 1024), r) for m, r in regimes.items()}
    T = {m: [float(v) for v in np.asarray(r["sum_T"]) / np.maximum(np.asarray(r["used"]), 1)] for m, r in sweep.items()}
    data = {"grid": [list(k) for k in wide], "T": [estimate(r, "sum_T", "used") for r in wide.values()],
            "T_law": [law[m]["T"][0] for m, _ in wide], "T_law_here": [estimate(r, "sum_T_law", "used") for r in wide.values()],
            "regimes_m": list(grid.regimes_m), "regimes_d": 1024,
            "regimes_T": [T[m] for m in grid.regimes_m], "level": level,
            "regimes_strict": [[float(v) for v in np.asarray(r["strict"]) / np.asarray(r["points"])] for r in sweep.values()],
            "not_a_change": total(every, "not_a_change")}
    return outcome(checks, data, grid, judged={"T": "mean eta* sqrt(d) / law", "not_a_change": "not positive"},
                   unjudged={"T_law_here": "the law at the measured z: the prediction of each level check",
                             "regimes_T": "the crossover figure's sweep (per network; the main grid's networks at m = 8..64): "
                                          "its narrow end is judged here (paired), its wide end by "
                                          "init_attack_matches_prediction",
                             "regimes_strict": "the figure's strict-flip fractions per network; judged at m = 4, 8 by "
                                               "narrow_no_strict_flip_fraction"})


@registry.claim("narrow_smooth_activation_flips",
                title="m << d, erf activation: every point flips, eta* / first-order -> 1 + ~0.12 / m")
def narrow_smooth_activation_flips(ctx, *, grid=None):
    """P5: an erf network flips at every point (Bubeck et al.'s Theorem 1 regime); the mean of
    eta* / first-order tends to R_erf(m) (1.034, 1.011, 1.004, 1.002 at m = 8, 16, 32, 64) and
    the mean of eta* sqrt(d) to the erf limit law's (0.834, 0.758, 0.738, 0.729)."""
    grid = grid or GRIDS[ctx.profile]
    erf = main(ctx, grid, "erf")
    law = {m: v for (_, _, m), v in laws(ctx, grid, lambda key: key[0] == "erf").items()}
    level = ctx.level(2 * len(erf))
    checks = []
    for (m, d), r in erf.items():
        seed = protocol.derive_seed(ctx.seed, "p5", m, d)
        checks.append(versus(f"d = {d}, m = {m}: (R_erf - 1) / (law - 1), law at the same z", paired(r, "sum_ratio", "sum_ratio_law", 1.0),
                             1.0, band=BANDS["R_erf"], level=level, seed=seed,
                             why="+-25% of R_erf - 1 (fixed): separates 1/m from 1/sqrt(m); finite-d effects O(m / d)"))
        checks.append(versus(f"d = {d}, m = {m}: mean eta* sqrt(d) / erf law at the same z", paired(r, "sum_T", "sum_T_law"),
                             1.0, band=BANDS["T_erf"], level=level, seed=seed + 1,
                             why="+-5% (fixed), as for ReLU"))
    not_flipped = total(erf, "points") - total(erf, "flipped")
    checks += [zero_count("erf: points that do not flip", not_flipped, "a count: every point flips (P5)"),
               zero_count("erf: flipped points where sign f has not changed at eta or has at eta (1 - 2 rtol)",
                          total(erf, "not_a_change"), "a count: bisection returns the flipped end of its bracket")]
    data = {"grid": [list(k) for k in erf], "R_erf": [estimate(r, "sum_ratio", "used") for r in erf.values()],
            "T_erf": [estimate(r, "sum_T", "used") for r in erf.values()],
            "R_law": [law[m]["R"][0] for m, _ in erf], "T_law": [law[m]["T"][0] for m, _ in erf],
            "R_law_here": [estimate(r, "sum_ratio_law", "used") for r in erf.values()],
            "T_law_here": [estimate(r, "sum_T_law", "used") for r in erf.values()],
            "not_flipped": not_flipped, "not_a_change": total(erf, "not_a_change")}
    return outcome(checks, data, grid, judged={"R_erf": "(R_erf - 1)", "T_erf": "erf law", "not_flipped": "do not flip",
                                               "not_a_change": "has not changed"},
                   unjudged={k: "the law at the measured z: the prediction of each level check" for k in ("R_law_here", "T_law_here")})
