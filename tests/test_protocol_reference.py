"""The statistical protocol and the run summary against reference implementations.

Each reference below is written from the words of THEORY.md section 8 (and the docstrings that
state a formula), in a form of its own, and never calls the code under test: verdicts from
interval containment and overlap, the Bonferroni level from "K claims at overall level 1%, each
CI at 1 - 0.01/K" split again over a claim's checks, the minimum detectable effect by brute
force (shift the band, ask the reference judge), the bootstrap intervals from the resamples the
code hands to the caller's own statistic, slopes from the least-squares formula. Hypothesis
draws CIs, bands (one-sided, degenerate), verdict mixes and claim counts; numbers are mostly
multiples of 1/8, so CI ends land exactly on band edges and half-widths exactly on the allowed
width, where a ``<`` for a ``<=`` shows.
"""
import math
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from verification import protocol, registry, report

FAMILY_ALPHA = 0.01  # THEORY.md 8: "K claims at overall level 1%"
RESAMPLES = 2000  # protocol.bootstrap's docstring: the statistic over N_RESAMPLES resamples
RANK = ("fail", "error", "inconclusive", "pass", "skipped")  # worst first, as the summary ranks
PROPERTY = settings(max_examples=100, deadline=None)
SAMPLED = settings(max_examples=8, deadline=None)  # each example runs 2,000 resamples

INF = math.inf
dyadic = st.integers(-32, 32).map(lambda k: k / 8)  # [-4, 4] in steps of 1/8: exact sums


@st.composite
def bands(draw):
    """Bands with finite, one-sided, two-sided-infinite and degenerate (lo = hi) shapes."""
    lo = draw(st.one_of(dyadic, st.just(-INF)))
    hi = draw(st.one_of(dyadic.filter(lambda v: v >= lo) if lo > -INF else dyadic, st.just(INF)))
    if draw(st.booleans()) and math.isfinite(lo):
        hi = lo  # degenerate: a point
    width = draw(st.one_of(st.integers(0, 24).map(lambda k: k / 8), st.just(INF)))
    return protocol.Band(lo, hi, width, "reference test")


@st.composite
def cis(draw, *, finite: bool = False):
    lo = draw(dyadic)
    hi = lo + draw(st.integers(0, 32).map(lambda k: k / 8))
    if not finite and draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([(lo, math.nan), (math.nan, hi), (-INF, hi), (lo, INF)]))
    return (lo, hi)


# --- references -------------------------------------------------------------------------------

def ref_judge(ci, band) -> str:
    """THEORY.md 8: pass if the CI lies inside the band (and is no wider than allowed), fail if
    it lies entirely outside it (whatever its width), inconclusive otherwise; a CI without two
    finite ends decides nothing."""
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    overlap = min(hi, band.hi) - max(lo, band.lo)  # < 0: no common point (closed intervals)
    if overlap < 0:
        return "fail"
    contained = max(lo, band.lo) == lo and min(hi, band.hi) == hi
    narrow_enough = hi - lo <= 2 * band.max_half_width
    return "pass" if contained and narrow_enough else "inconclusive"


def ref_level(claims: int, checks: int) -> float:
    """Bonferroni: 1% over K claims, each claim's share split again over its checks."""
    per_claim = FAMILY_ALPHA / claims
    return 1 - per_claim / checks


def ref_worst(verdicts) -> str:
    """A claim's verdict: its worst check (fail, then inconclusive, then pass); no check decides
    nothing, so it is inconclusive."""
    if not verdicts:
        return "inconclusive"
    return min(verdicts, key=("fail", "inconclusive", "pass").index)


def ref_mde(ci, band, level, predicted):
    """Brute force: move the prediction and its band by delta (a multiple of 1/8 up to 16), up
    and down, and ask the reference judge. Per direction, the MDE is the largest delta that does
    not fail when every larger one does (0 when none passes); a direction that never fails is
    undetectable. The result is the worst (largest) detectable direction."""
    if level is None or not all(map(math.isfinite, ci)):
        return None
    grid = [k / 8 for k in range(0, 129)]  # CI ends and band edges are multiples of 1/8 in [-8, 8]
    found = []
    for sign in (1, -1):
        moved = [ref_judge(ci, protocol.Band(band.lo + sign * d, band.hi + sign * d,
                                             band.max_half_width, "")) for d in grid]
        if moved[-1] != "fail":
            continue
        holding = [d for d, verdict in zip(grid, moved) if verdict != "fail"]
        found.append(max(holding, default=0.0))
    if not found:
        return None
    absolute = max(found)
    return absolute, (absolute / abs(predicted) if predicted else None)


def ref_slope(x, y) -> float:
    """Least squares of log y on log x: cov(log x, log y) / var(log x)."""
    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return (sum((a - mx) * (b - my) for a, b in zip(lx, ly))
            / sum((a - mx) ** 2 for a in lx))


def ref_t_interval(estimate, resampled, n, level):
    """``estimate +- t_{n-1} sqrt(n/(n-1)) SE*`` (protocol.bootstrap's docstring), SE* the
    sample standard deviation of the resampled statistics."""
    mean = sum(resampled) / len(resampled)
    se = math.sqrt(sum((r - mean) ** 2 for r in resampled) / (len(resampled) - 1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * math.sqrt(n / (n - 1)) * se
    return estimate - half, estimate + half


def ref_quantile(values, q) -> float:
    """The ``q`` quantile with linear interpolation between order statistics."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def ref_summary(verdicts, strict):
    """The run: counts per verdict; its verdict is the worst claim's (error counts as fail,
    skipped below pass, and under ``strict`` a skip is a failure); exit 0 iff every claim that
    ran passed (and, under ``strict``, none was skipped)."""
    counts = Counter(verdicts)
    ran = [v for v in verdicts if v != "skipped"]
    exit_code = 0 if all(v == "pass" for v in ran) and not (strict and counts["skipped"]) else 1
    as_run = [("fail" if v == "error" or (strict and v == "skipped") else v) for v in verdicts]
    verdict = min(as_run or ["skipped"], key=RANK.index)
    return {v: counts[v] for v in RANK}, verdict, exit_code


def _rows_of(units):
    return {tuple(np.atleast_1d(row)) for row in units}


# --- verdicts ---------------------------------------------------------------------------------

@PROPERTY
@given(ci=cis(), band=bands())
@example(ci=(0.5, 1.0), band=protocol.Band(0.5, 1.0, 0.25, "edges touch, width at the limit"))
@example(ci=(1.0, 1.5), band=protocol.Band(0.0, 1.0, 1.0, "CI touches the upper edge"))
@example(ci=(-1.0, 0.0), band=protocol.Band(0.0, 1.0, 1.0, "CI touches the lower edge"))
@example(ci=(2.0, 6.0), band=protocol.Band(0.0, 1.0, 0.5, "wide and wholly outside"))
def test_judge_matches_the_reference(ci, band):
    assert protocol.judge(ci, band) == ref_judge(ci, band)


@PROPERTY
@given(ci=cis(finite=True), band=bands(), level=st.floats(0.5, 0.99999),
       predicted=st.one_of(st.none(), dyadic))
def test_check_and_exact_check_carry_their_inputs_and_the_reference_verdict(ci, band, level,
                                                                             predicted):
    estimate = (ci[0] + ci[1]) / 2
    c = protocol.check("c", prediction="p", estimate=estimate, ci=ci, band=band, level=level,
                       predicted=predicted)
    assert (c.estimate, c.ci, c.band, c.level) == (estimate, ci, band, level)
    assert c.predicted == predicted
    assert c.verdict == ref_judge(ci, band)
    e = protocol.exact_check("e", prediction="p", value=ci[0], band=band, predicted=predicted)
    assert (e.ci, e.level, e.verdict) == ((ci[0], ci[0]), None, ref_judge((ci[0], ci[0]), band))


def _check_with(verdict):
    return protocol.Check("c", "p", 0.0, (0.0, 0.0), protocol.Band(0, 0, 0, ""), None, verdict)


@PROPERTY
@given(st.lists(st.sampled_from(["fail", "inconclusive", "pass"]), max_size=8))
def test_overall_verdict_is_the_reference_worst(verdicts):
    assert protocol.overall_verdict([_check_with(v) for v in verdicts]) == ref_worst(verdicts)


@PROPERTY
@given(claims=st.integers(1, 200), checks=st.integers(1, 40))
def test_context_level_is_the_bonferroni_split(claims, checks):
    ctx = registry.Context(profile="quick", seed=0, runner=None, family_size=claims)
    assert ctx.level(checks) == pytest.approx(ref_level(claims, checks), rel=0, abs=1e-15)
    assert ctx.level() == pytest.approx(ref_level(claims, 1), rel=0, abs=1e-15)
    # Union bound: the K claims' checks share the family-wise error exactly.
    assert claims * checks * (1 - ctx.level(checks)) == pytest.approx(FAMILY_ALPHA, rel=1e-9)


# --- minimum detectable effect ----------------------------------------------------------------

@PROPERTY
@given(ci=cis(), band=bands(), exact=st.booleans(), predicted=st.one_of(st.none(), dyadic))
@example(ci=(0.875, 1.0), band=protocol.Band(0.75, 1.25, 0.125, ""), exact=False,
         predicted=1.0)  # asymmetric about the estimate below: the CI ends decide, not the centre
@example(ci=(-1.0, -0.5), band=protocol.Band(0.0, INF, 1.0, ""), exact=False,
         predicted=None)  # already failing, one-sided: no shift needed
def test_min_detectable_effect_matches_brute_force(ci, band, exact, predicted):
    level = None if exact else 0.99
    estimate = ci[0] + 0.75 * (ci[1] - ci[0]) if all(map(math.isfinite, ci)) else 0.0
    c = protocol.Check("c", "p", estimate, ci, band, level, ref_judge(ci, band), "", predicted)
    expected = ref_mde(ci, band, level, predicted)
    got = protocol.min_detectable_effect(c)
    if expected is None:
        assert got is None
    else:
        assert got[0] == pytest.approx(expected[0], abs=1e-12)
        assert (got[1] is None) == (expected[1] is None)
        if expected[1] is not None:
            assert got[1] == pytest.approx(expected[1], rel=1e-12)


# --- bootstrap and slopes ---------------------------------------------------------------------

@st.composite
def unit_sets(draw):
    """Per-unit data `(n,)` or `(n, 3)` (rows must move together) from a seeded generator."""
    n = draw(st.integers(2, 8))
    shape = (n,) if draw(st.booleans()) else (n, 3)
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    return rng.lognormal(0.0, draw(st.floats(0.05, 1.0)), size=shape)


@SAMPLED
@given(units=unit_sets(), level=st.floats(0.5, 0.9999), seed=st.integers(0, 2**31 - 1),
       method=st.sampled_from(["t", "percentile"]))
@example(units=np.array([0.5, 1.0, 3.0, 1.5]), level=0.9, seed=0, method="t")
@example(units=np.array([0.5, 1.0, 3.0, 1.5]), level=0.9, seed=0, method="percentile")
def test_bootstrap_matches_the_reference_interval_over_its_own_resamples(units, level, seed,
                                                                         method):
    seen = []

    def statistic(rows):  # the caller's statistic sees every resample (and, as is, the units)
        if rows is not units:
            seen.append(np.array(rows))
        return float(np.mean(rows))

    estimate, (lo, hi) = protocol.bootstrap(units, statistic, level=level, seed=seed,
                                            method=method)
    assert len(seen) == RESAMPLES and all(r.shape == units.shape for r in seen)
    assert all(_rows_of(r) <= _rows_of(units) for r in seen)  # whole units, drawn with replacement
    resampled = [float(np.mean(r)) for r in seen]
    assert estimate == pytest.approx(float(np.mean(units)), rel=1e-12)
    if method == "t":
        ref = ref_t_interval(float(np.mean(units)), resampled, len(units), level)
    else:
        ref = (ref_quantile(resampled, (1 - level) / 2), ref_quantile(resampled, (1 + level) / 2))
    assert (lo, hi) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert protocol.bootstrap(units, np.mean, level=level, seed=seed, method=method)[1] == (lo, hi)


@SAMPLED
@given(units=unit_sets(), level=st.floats(0.8, 0.999), seed=st.integers(0, 2**31 - 1))
def test_bootstrap_t_interval_of_a_mean_is_the_student_interval(units, level, seed):
    """``sqrt(n/(n-1)) SE*`` estimates ``s / sqrt(n)``: the t method's interval for a mean is the
    textbook ``mean +- t_{n-1} s / sqrt(n)`` up to the resampling noise (2,000 resamples: ~1.6%
    on SE*; 10% is 6 of its standard deviations)."""
    column = units if units.ndim == 1 else units[:, 0]
    n = len(column)
    mean = sum(column) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in column) / (n - 1))
    half = stats.t.ppf((1 + level) / 2, n - 1) * s / math.sqrt(n)
    _, (lo, hi) = protocol.bootstrap(column, np.mean, level=level, seed=seed)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.10)
    assert (lo + hi) / 2 == pytest.approx(mean, rel=1e-12)


def test_bootstrap_gives_no_interval_when_a_resample_has_no_statistic():
    units = np.array([1.0, 2.0, 3.0, 4.0])
    undefined_sometimes = lambda rows: float(np.mean(rows)) if len(set(rows)) > 1 else math.nan
    _, ci = protocol.bootstrap(units, undefined_sometimes, level=0.9, seed=0)
    assert ci == (-INF, INF) and ref_judge(ci, protocol.Band(0, 5, 5, "")) == "inconclusive"
    with pytest.raises(ValueError, match="at least 2 independent units"):
        protocol.bootstrap(units[:1], np.mean, level=0.9, seed=0)


@PROPERTY
@given(exponents=st.lists(st.integers(0, 14), min_size=2, max_size=6, unique=True),
       ys=st.lists(st.floats(0.01, 100.0), min_size=6, max_size=6))
def test_loglog_slope_is_least_squares(exponents, ys):
    x = [2.0 ** k for k in exponents]
    y = ys[:len(x)]
    assert protocol.loglog_slope(x, y) == pytest.approx(ref_slope(x, y), rel=1e-9, abs=1e-12)


@st.composite
def slope_designs(draw):
    k = draw(st.integers(2, 5))
    x = np.array(sorted(2.0 ** e for e in draw(st.lists(st.integers(2, 14), min_size=k,
                                                          max_size=k, unique=True))))
    n = draw(st.integers(2, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    slope = draw(st.floats(-1.0, 1.0))
    per_unit = x ** slope * rng.lognormal(0.0, draw(st.floats(0.01, 0.5)), size=(n, k))
    return x, per_unit


def _spied_slope_interval(x, per_unit, call, level):
    """Run ``call(reduce)`` with a spy ``reduce`` (the mean over the axis the code names) and
    return the code's result with the reference ``(slope, (lo, hi))`` over the same resamples."""
    batches = []

    def reduce(rows, axis):
        if rows.ndim == 3:
            batches.append(np.array(rows))
        return np.mean(rows, axis=axis)

    result = call(reduce)
    (batch,) = batches  # all resamples in one call, `(resamples, units, grid)`
    assert batch.shape == (RESAMPLES, *per_unit.shape)
    assert all(_rows_of(r) <= _rows_of(per_unit) for r in batch[:50])
    resampled = [ref_slope(x, [sum(col) / len(col) for col in zip(*r)]) for r in batch]
    estimate = ref_slope(x, [sum(col) / len(col) for col in zip(*per_unit)])
    return result, (estimate, ref_t_interval(estimate, resampled, len(per_unit), level))


@SAMPLED
@given(design=slope_designs(), level=st.floats(0.5, 0.9999), seed=st.integers(0, 2**31 - 1))
def test_slope_over_units_matches_the_reference(design, level, seed):
    x, per_unit = design
    (slope, ci), (ref, ref_ci) = _spied_slope_interval(
        x, per_unit, lambda r: protocol.slope_over_units(x, per_unit, level=level, seed=seed,
                                                         reduce=r), level)
    assert slope == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert ci == pytest.approx(ref_ci, rel=1e-9, abs=1e-12)


@SAMPLED
@given(design=slope_designs(), seed=st.integers(0, 2**31 - 1),
       band=st.tuples(dyadic, st.integers(0, 16).map(lambda k: k / 8)),
       share=st.sampled_from([0.25, 0.5, 1.0]))
def test_slope_check_judges_the_reference_interval(design, seed, band, share):
    x, per_unit = design
    lo, hi = band[0], band[0] + band[1]
    c, (ref, ref_ci) = _spied_slope_interval(
        x, per_unit, lambda r: protocol.slope_check("s", x, per_unit, predicted=0.5, band=(lo, hi),
                                                    level=0.99, seed=seed, ci_share=share,
                                                    reduce=r), 0.99)
    expected_band = protocol.Band(lo, hi, share * (hi - lo) / 2, "")
    assert (c.band.lo, c.band.hi, c.band.max_half_width) == (lo, hi, expected_band.max_half_width)
    assert c.predicted == 0.5 and c.level == 0.99
    assert c.ci == pytest.approx(ref_ci, rel=1e-9, abs=1e-12)
    assert c.verdict == ref_judge(c.ci, expected_band)


# --- the run summary, exit code and summary line ----------------------------------------------

SUMMARY_LINE = re.compile(r"^(?P<verdict>\w+): (?P<counts>.+?) in (?P<time>\d+\.\d) s"
                          r"(?P<note> \(.+\))?$")


@PROPERTY
@given(verdicts=st.lists(st.sampled_from(RANK), max_size=40), strict=st.booleans(),
       seconds=st.floats(0, 1e5))
@example(verdicts=["inconclusive", "fail"], strict=False, seconds=1.0)
@example(verdicts=["pass", "inconclusive"], strict=False, seconds=1.0)
@example(verdicts=["inconclusive", "error"], strict=False, seconds=1.0)
@example(verdicts=["pass", "skipped"], strict=False, seconds=1.0)
@example(verdicts=["pass", "skipped"], strict=True, seconds=1.0)
@example(verdicts=["skipped"], strict=False, seconds=1.0)
def test_summary_exit_code_and_summary_line_match_the_reference(verdicts, strict, seconds):
    entries = [{"id": f"c{i}", "verdict": v} for i, v in enumerate(verdicts)]
    summary = report.summarize(entries, strict=strict)
    counts, verdict, code = ref_summary(verdicts, strict)
    assert (summary["counts"], summary["verdict"], summary["exit_code"]) == (counts, verdict, code)
    result = {"summary": summary, "run": {"total_time_s": seconds}}
    assert report.exit_code(result) == code
    line = report.summary_line(result)
    parsed = SUMMARY_LINE.match(line)
    assert parsed, line
    assert parsed["verdict"] == verdict
    assert float(parsed["time"]) == pytest.approx(seconds, abs=0.051)  # printed to 0.1 s
    listed = [part.split(" ", 1) for part in parsed["counts"].split(", ")]
    names = [name for _, name in listed]
    assert names == sorted(names, key=RANK.index)  # worst first
    expected = {v: n for v, n in counts.items() if n or v == "skipped"}  # skips always shown
    assert {name: int(n) for n, name in listed} == expected
    if counts["skipped"]:
        assert "--strict" in (parsed["note"] or "")
