"""Tests that kill the generated mutants the quick tests missed in the protocol and the report.

Each test answers survivors of `benchmarks/mutation.py` (triage: figures/mutation/before/
triage.md) with a reference written from THEORY.md section 8's words or from the documented
contract, never from the code under test.
"""
import math

import numpy as np
import pytest
from scipy import stats

from verification import protocol, report

BAND = protocol.Band(lo=0.0, hi=1.0, max_half_width=0.25, why="test")


# --- judge: the verdict of a CI against a band, edges included ------------------------------------

def reference_verdict(lo, hi, band):
    """THEORY.md 8: fail when the CI lies outside the band (no common point), pass when it lies
    inside and is narrow enough, inconclusive otherwise (a non-finite end is no interval)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    if hi < band.lo or lo > band.hi:
        return "fail"
    inside = band.lo <= lo and hi <= band.hi
    return "pass" if inside and (hi - lo) / 2 <= band.max_half_width else "inconclusive"


@pytest.mark.parametrize("ci", [
    (1.0, 1.25),    # touches the upper edge from outside: a common point, not outside
    (-0.25, 0.0),   # touches the lower edge from outside
    (0.5, 1.0),     # inside, ending on the edge, half-width exactly the allowed 0.25
    (0.0, 0.5),
    (0.25, 0.75),
    (1.0, 1.0),     # a zero-width CI on the edge
    (-0.5, 1.5),    # covers the band
    (0.1, 0.7),     # inside, but wider than allowed
    (2.0, math.inf),
    (-math.inf, -1.0),
], ids=["touch-hi", "touch-lo", "edge-hi-max-width", "edge-lo-max-width", "centre", "point-edge",
        "covers", "inside-too-wide", "half-open-above", "half-open-below"])
def test_judge_at_the_edges(ci):
    assert protocol.judge(ci, BAND) == reference_verdict(*ci, BAND)


def test_check_and_exact_check_carry_their_fields():
    c = protocol.check("name", prediction="p", estimate=np.float32(0.5), ci=[np.float32(0.25), 0.75],
                       band=BAND, level=0.99, note="n", predicted=np.int64(1))
    assert (c.name, c.prediction, c.estimate, c.ci, c.level, c.note, c.predicted, c.verdict) == \
        ("name", "p", 0.5, (0.25, 0.75), 0.99, "n", 1.0, "pass")
    assert type(c.ci[0]) is float and type(c.predicted) is float and type(c.estimate) is float
    assert c.band is BAND
    plain = protocol.check("c", prediction="", estimate=0, ci=(0, 0), band=BAND, level=0.9)
    assert plain.predicted is None and plain.note == ""
    e = protocol.exact_check("e", prediction="0", value=np.int64(2), band=BAND, note="n", predicted=0)
    assert (e.name, e.prediction, e.estimate, e.ci, e.level, e.verdict, e.note, e.predicted) == \
        ("e", "0", 2.0, (2.0, 2.0), None, "fail", "n", 0.0)
    assert e.band is BAND
    plain = protocol.exact_check("e", prediction="", value=1, band=BAND)
    assert plain.predicted is None and plain.note == ""


# --- minimum detectable effect ---------------------------------------------------------------------

def reference_mde(estimate, lo, hi, band, predicted):
    """THEORY.md 8: the band moves with the prediction; a shift fails the check once the band's
    edge passes the far end of the CI, in either direction; the larger finite shift counts."""
    half = (hi - lo) / 2
    shifts = [s for s in ((band.hi - estimate) + half, (estimate - band.lo) + half) if math.isfinite(s)]
    if not shifts:
        return None
    absolute = max(shifts)
    return absolute, (absolute / abs(predicted) if predicted else None)


@pytest.mark.parametrize("estimate, ci, band, predicted", [
    (1.01, (0.99, 1.03), protocol.Band(0.95, 1.05, 0.03, "t"), -2.0),
    (0.30, (0.10, 0.50), protocol.Band(0.0, 1.0, 0.3, "t"), 0.5),
    (0.30, (0.10, 0.50), protocol.Band(-math.inf, 1.0, 0.3, "t"), 0.5),
    (0.30, (0.10, 0.50), protocol.Band(0.0, math.inf, 0.3, "t"), 0.0),
], ids=["asymmetric", "far-up", "one-sided-hi", "one-sided-lo"])
def test_min_detectable_effect_against_reference(estimate, ci, band, predicted):
    c = protocol.check("c", prediction="", estimate=estimate, ci=ci, band=band, level=0.99,
                       predicted=predicted)
    got = protocol.min_detectable_effect(c)
    expected = reference_mde(estimate, *ci, band, predicted)
    assert got[0] == pytest.approx(expected[0], rel=1e-12)
    assert (got[1] is None) == (expected[1] is None)
    if expected[1] is not None:
        assert got[1] == pytest.approx(expected[1], rel=1e-12)
    both_infinite = protocol.check("c", prediction="", estimate=0.5, ci=(0.4, 0.6),
                                   band=protocol.Band(-math.inf, math.inf, 1, "t"), level=0.99)
    assert protocol.min_detectable_effect(both_infinite) is None
    no_ci = protocol.check("c", prediction="", estimate=0.5, ci=(-math.inf, math.inf), band=BAND,
                           level=0.99, predicted=1.0)
    assert protocol.min_detectable_effect(no_ci) is None


# --- the bootstrap t-interval against the classical t-interval -------------------------------------

@pytest.mark.parametrize("n, level", [(4, 0.99), (6, 0.9), (12, 0.999)])
def test_bootstrap_t_interval_is_the_student_interval(n, level):
    # For the mean, SE* (sd of the resampled means) estimates the plug-in sd / sqrt(n), so
    # estimate +- t_(n-1) sqrt(n/(n-1)) SE* is the Student interval t_(n-1) s / sqrt(n) up to
    # the resampling error of SE*: relative sd ~ 1/sqrt(2 * 2000) = 1.6%; 6% is ~4 of them.
    rng = np.random.default_rng(n)
    for seed in range(3):
        units = rng.normal(3.0, 2.0, size=n)
        estimate, (lo, hi) = protocol.bootstrap(units, np.mean, level=level, seed=seed)
        student = stats.t.ppf((1 + level) / 2, n - 1) * np.std(units, ddof=1) / math.sqrt(n)
        assert estimate == pytest.approx(np.mean(units), rel=1e-15)
        assert (lo + hi) / 2 == pytest.approx(estimate, rel=1e-12)
        assert (hi - lo) / 2 == pytest.approx(student, rel=0.06)


def test_resamples_draw_every_unit_with_replacement():
    picks = protocol._resample_indices(5, 0)
    assert picks.shape == (protocol.N_RESAMPLES, 5)
    assert set(np.unique(picks)) == set(range(5))
    counts = np.bincount(picks.ravel(), minlength=5) / picks.size  # 10,000 draws: sd 0.004
    np.testing.assert_allclose(counts, 0.2, atol=0.02)


def test_bootstrap_intervals_are_those_of_the_resampled_statistics():
    # The docstring's words on the protocol's own resamples: the percentile interval is the
    # (1 -+ level) / 2 quantiles of the resampled statistics; the t interval is
    # estimate +- t_(n-1) sqrt(n/(n-1)) SE*, SE* their standard deviation.
    units = np.random.default_rng(4).normal(size=7)
    resampled = np.array([np.mean(units[i]) for i in protocol._resample_indices(7, 3)])
    _, ci = protocol.bootstrap(units, np.mean, level=0.9, seed=3, method="percentile")
    np.testing.assert_allclose(ci, np.quantile(resampled, [0.05, 0.95]), rtol=1e-14)
    estimate, ci = protocol.bootstrap(units, np.mean, level=0.9, seed=3)
    half = stats.t.ppf(0.95, 6) * math.sqrt(7 / 6) * np.std(resampled, ddof=1)
    np.testing.assert_allclose(ci, (estimate - half, estimate + half), rtol=1e-12)


def test_bootstrap_percentile_interval_and_edges():
    # Percentile interval of the mean of 400 normal units: the normal quantiles of the sample
    # mean, to the resampling error of a 5% tail quantile of 2000 draws (~4%); 10%.
    units = np.random.default_rng(0).normal(0.0, 1.0, size=400)
    estimate, (lo, hi) = protocol.bootstrap(units, np.mean, level=0.9, seed=0, method="percentile")
    se = np.std(units) / math.sqrt(400)
    assert lo < estimate < hi
    assert estimate - lo == pytest.approx(1.645 * se, rel=0.1)
    assert hi - estimate == pytest.approx(1.645 * se, rel=0.1)
    assert protocol.bootstrap([1.0, 2.0], np.mean, level=0.9, seed=0)[0] == 1.5  # 2 units suffice
    with pytest.raises(ValueError, match="at least 2 independent units. Got 1"):
        protocol.bootstrap([1.0], np.mean, level=0.9, seed=0)
    with pytest.raises(ValueError, match="method must be 't' or 'percentile'. Got 'normal'"):
        protocol.bootstrap([1.0, 2.0, 3.0], np.mean, level=0.9, seed=0, method="normal")
    # A statistic infinite on the sample, or on some resamples only (1 / range is infinite on
    # the ~1/64 of resamples of 4 units that repeat one unit): no interval.
    with np.errstate(divide="ignore"):
        for statistic in (lambda u: 1 / np.min(u), lambda u: 1 / np.ptp(u)):
            _, ci = protocol.bootstrap([0.0, 1.0, 2.0, 3.0], statistic, level=0.9, seed=0)
            assert ci == (-math.inf, math.inf)


# --- slopes ----------------------------------------------------------------------------------------

def test_slopes_against_linregress():
    x = np.array([16.0, 64.0, 256.0, 1024.0])
    rng = np.random.default_rng(3)
    per_unit = x ** -0.5 * np.exp(rng.normal(0, 0.1, size=(8, 4)))
    batched = protocol._loglog_slopes(x, per_unit)
    expected = [stats.linregress(np.log(x), np.log(row)).slope for row in per_unit]
    np.testing.assert_allclose(batched, expected, rtol=1e-12)
    assert protocol._loglog_slopes(x, per_unit[0]) == pytest.approx(expected[0], rel=1e-12)  # (k,) -> ()
    # The units are resampled as rows, as protocol.bootstrap does: the same CI as a bootstrap of
    # "slope of the units' mean" (batched fits round differently: 1e-9).
    for reduce in (np.mean, np.median):
        got = protocol.slope_over_units(x, per_unit, level=0.99, seed=7, reduce=reduce)
        ref = protocol.bootstrap(per_unit, lambda rows: protocol.loglog_slope(x, reduce(rows, axis=0)),
                                 level=0.99, seed=7)
        assert got[0] == pytest.approx(ref[0], rel=1e-12)
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-9)
    assert math.isfinite(protocol.slope_over_units(x, per_unit[:2], level=0.9, seed=0)[1][0])
    slope, (lo, hi) = protocol.slope_over_units(x, per_unit, level=0.99, seed=0, reduce=np.median)
    assert slope == pytest.approx(stats.linregress(np.log(x), np.log(np.median(per_unit, 0))).slope,
                                  rel=1e-12)
    assert lo < slope < hi
    with pytest.raises(ValueError, match="at least 2 independent units. Got 1"):
        protocol.slope_over_units(x, per_unit[:1], level=0.99, seed=0)


def test_slope_check_band_and_prediction():
    x = np.array([16.0, 64.0, 256.0])
    per_unit = np.tile(x ** -0.5, (4, 1)) * np.exp(np.random.default_rng(0).normal(0, 0.01, (4, 3)))
    c = protocol.slope_check("s", x, per_unit, predicted=-0.5, band=(-0.6, -0.4), level=0.99,
                             seed=0, ci_share=0.5)
    assert c.band.max_half_width == pytest.approx(0.05, rel=1e-12)  # half of the band's half-width
    assert (c.band.lo, c.band.hi, c.predicted, c.prediction, c.level) == (-0.6, -0.4, -0.5, "slope -0.5", 0.99)
    assert c.band.why == "equivalence band [-0.6, -0.4] around -0.5" and c.note == "" and c.name == "s"
    assert (c.estimate, c.ci) == protocol.slope_over_units(x, per_unit, level=0.99, seed=0)
    median = protocol.slope_check("s", x, per_unit, predicted=-0.5, band=(-0.6, -0.4), level=0.99,
                                  seed=0, ci_share=0.5, reduce=np.median, note="n")
    assert (median.estimate, median.ci) == protocol.slope_over_units(x, per_unit, level=0.99, seed=0,
                                                                     reduce=np.median)
    assert median.note == "n"
    assert protocol.slope_check("s", x, per_unit, predicted=-0.5, band=(-0.6, -0.4), level=0.99,
                                seed=0, ci_share=0.5, why="w").band.why == "w"


# --- seeds, overall verdicts, figure columns -------------------------------------------------------

def test_derived_seeds_are_31_bit_and_use_every_bit():
    seeds = [protocol.derive_seed(0, "label", i) for i in range(2000)]
    assert all(0 <= s < 2 ** 31 for s in seeds)
    assert max(seeds) >= 2 ** 30  # a 30-bit seed misses this with probability 2^-2000
    assert any(s % 2 for s in seeds)
    assert protocol.derive_seed(0, {"a": 1, "b": 2}) == protocol.derive_seed(0, {"b": 2, "a": 1})
    assert protocol.derive_seed(0, "x") != protocol.derive_seed(1, "x")
    # Labels that JSON cannot hold are written as text (a path, a numpy scalar).
    from pathlib import Path
    assert protocol.derive_seed(0, Path("a/b")) == protocol.derive_seed(0, "a/b")
    # Stored results are reproducible across versions only while the derivation is: the first
    # 4 bytes of sha256 of the JSON of [seed, *labels], little-endian, halved to 31 bits.
    import hashlib
    digest = hashlib.sha256(b'[0, "d", 64]').digest()
    assert protocol.derive_seed(0, "d", 64) == int.from_bytes(digest[:4], "little") >> 1


@pytest.mark.parametrize("verdicts, expected", [
    (["pass", "inconclusive", "fail"], "fail"),
    (["inconclusive", "fail"], "fail"),
    (["pass", "inconclusive"], "inconclusive"),
    (["pass", "pass"], "pass"),
    ([], "inconclusive"),
])
def test_overall_verdict_is_the_worst(verdicts, expected):
    band = protocol.Band(0, 1, 0.25, "t")
    ci = {"pass": (0.4, 0.6), "inconclusive": (0.9, 1.1), "fail": (2.0, 3.0)}
    checks = [protocol.check(v, prediction="", estimate=sum(ci[v]) / 2, ci=ci[v], band=band, level=0.9)
              for v in verdicts]
    assert [c.verdict for c in checks] == verdicts
    assert protocol.overall_verdict(checks) == expected


def test_bootstrap_columns_are_per_column_bootstraps():
    per_unit = np.random.default_rng(1).normal(size=(6, 3)) + np.arange(3)
    estimate, lo, hi = protocol.bootstrap_columns(per_unit, level=0.9, seed=5, statistic=np.median)
    for j in range(3):
        e, (l, h) = protocol.bootstrap(per_unit[:, j], np.median, level=0.9,
                                       seed=protocol.derive_seed(5, j))
        assert (estimate[j], lo[j], hi[j]) == (e, l, h)


def test_sign_change_check_counts_points_that_are_not_a_sign_change():
    flipped = np.array([True, True, True, True, False])
    below = np.array([1.0, 0.0, 1.0, 1.0, -1.0])   # must be positive before eta*
    above = np.array([-1.0, -1.0, 0.0, 1e-9, 1.0])  # and non-positive after
    c = protocol.sign_change_check("here", flipped=flipped, h_below=below, h_above=above, step=1e-6)
    # point 0 is a sign change, point 2 too (0 is non-positive); 1 and 3 are not; 4 did not flip
    assert c.estimate == 2.0 and c.verdict == "fail" and c.level is None
    assert "here" in c.name and "1e-06" in c.name and "positive, then non-positive" in c.name
    assert c.prediction == "0 (eta* is a sign change of f)"
    assert (c.band.lo, c.band.hi, c.band.max_half_width) == (0, 0, 0)
    clean = protocol.sign_change_check("here", flipped=flipped[[0, 2, 4]], h_below=below[[0, 2, 4]],
                                       h_above=above[[0, 2, 4]], step=1e-6)
    assert clean.estimate == 0.0 and clean.verdict == "pass"


# --- the run summary and the exit code -------------------------------------------------------------

def reference_summary(verdicts):
    """THEORY.md 8 and the CLI's promise: the run fails if any claim failed or raised, else is
    inconclusive if any claim was, else passes if any claim passed; only skips: skipped.
    Exit code 0 only for pass or skipped."""
    if "fail" in verdicts or "error" in verdicts:
        verdict = "fail"
    elif "inconclusive" in verdicts:
        verdict = "inconclusive"
    elif "pass" in verdicts:
        verdict = "pass"
    else:
        verdict = "skipped"
    return verdict, 0 if verdict in ("pass", "skipped") else 1


@pytest.mark.parametrize("verdicts", [
    [], ["skipped"], ["pass"], ["pass", "skipped"], ["inconclusive", "pass"], ["error", "pass"],
    ["error"], ["fail", "inconclusive"], ["skipped", "inconclusive"], ["error", "inconclusive"],
])
def test_summary_and_exit_code_against_reference(verdicts):
    summary = report.summarize([{"verdict": v} for v in verdicts])
    verdict, code = reference_summary(verdicts)
    assert summary["verdict"] == verdict and summary["exit_code"] == code
    assert summary["counts"] == {v: verdicts.count(v) for v in protocol.VERDICTS}
    assert report.exit_code({"summary": summary}) == code
