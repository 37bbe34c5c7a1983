"""The statistical protocol of THEORY.md section 8: verdicts, bootstrap CIs, slopes, seeds."""
import math
import numpy as np
import pytest

from verification import protocol

BAND = protocol.Band(lo=-0.6, hi=-0.4, max_half_width=0.05, why="test")


@pytest.mark.parametrize("ci, verdict", [
    ((-0.52, -0.48), "pass"),
    ((-0.30, -0.25), "fail"),
    ((-0.45, -0.35), "inconclusive"),  # straddles the upper edge
    ((-0.70, -0.30), "inconclusive"),  # wider than allowed, even though it covers the band
    ((-0.5, np.nan), "inconclusive"),
    ((0.0, 0.4), "fail"),  # wide, but wholly outside: agreement is already rejected
], ids=["inside", "outside", "straddles", "too-wide", "nan", "wide-outside"])
def test_verdicts(ci, verdict):
    assert protocol.judge(ci, BAND) == verdict


def test_overall_verdict_is_the_worst():
    checks = [protocol.exact_check(name, prediction="", value=value, band=BAND)
              for name, value in (("a", -0.5), ("b", -0.1))]
    assert protocol.overall_verdict(checks) == "fail"
    assert protocol.overall_verdict(checks[:1]) == "pass"
    assert protocol.overall_verdict([]) == "inconclusive"


def test_bootstrap_covers_the_mean_and_is_reproducible():
    units = np.random.default_rng(0).normal(1.0, 1.0, size=400)
    estimate, (lo, hi) = protocol.bootstrap(units, np.mean, level=0.99, seed=1)
    assert lo < 1.0 < hi and lo < estimate < hi
    # 99% normal interval half-width is 2.58 / sqrt(400) = 0.129; the bootstrap's should match to ~15%
    assert 0.11 < (hi - lo) / 2 < 0.15
    assert protocol.bootstrap(units, np.mean, level=0.99, seed=1)[1] == (lo, hi)


def test_slope_over_units_recovers_a_power_law():
    x = np.array([64, 256, 1024, 4096])
    rng = np.random.default_rng(0)
    per_unit = x ** -0.5 * np.exp(rng.normal(0, 0.05, size=(10, 4)))
    slope, (lo, hi) = protocol.slope_over_units(x, per_unit, level=0.99, seed=0)
    assert lo < -0.5 < hi and hi - lo < 0.05


def test_derived_seeds_are_stable_and_distinct():
    assert protocol.derive_seed(0, "d", 64) == protocol.derive_seed(0, "d", 64)
    assert len({protocol.derive_seed(0, "d", d) for d in range(100)}) == 100


def test_min_detectable_effect_is_the_far_band_edge_plus_the_half_width():
    band = protocol.Band(0.95, 1.05, 0.03, "test")
    c = protocol.check("c", prediction="1", estimate=1.01, ci=(0.99, 1.03), band=band, level=0.99,
                       predicted=1.0)
    absolute, relative = protocol.min_detectable_effect(c)
    # down: (1.05 - 1.01) + 0.02 = 0.06; up: (1.01 - 0.95) + 0.02 = 0.08
    assert absolute == pytest.approx(0.08) and relative == pytest.approx(0.08)
    one_sided = protocol.check("c", prediction="<= 0.01", estimate=0.002, ci=(0.0, 0.004),
                               band=protocol.Band(0, math.inf, 0.005, "test"), level=0.99)
    assert protocol.min_detectable_effect(one_sided) == (pytest.approx(0.004), None)
    exact = protocol.exact_check("e", prediction="0", value=0.0, band=protocol.Band(0, 0, 0, "t"))
    assert protocol.min_detectable_effect(exact) is None


def test_min_detectable_effect_uses_the_ci_ends_and_is_never_negative():
    band = protocol.Band(0.95, 1.05, 0.1, "test")
    # A CI asymmetric about its estimate (e.g. mapped from a log scale): the ends decide.
    skewed = protocol.check("c", prediction="1", estimate=1.0, ci=(0.99, 1.05), band=band,
                            level=0.99, predicted=2.0)
    # down: 1.05 - 0.99 = 0.06; up: 1.05 - 0.95 = 0.10 (relative to the prediction 2: 0.05)
    assert protocol.min_detectable_effect(skewed) == (pytest.approx(0.10), pytest.approx(0.05))
    # Already below a one-sided band: it fails with no shift at all, not at a negative one.
    failing = protocol.check("c", prediction=">= 0", estimate=-0.3, ci=(-0.5, -0.1),
                             band=protocol.Band(0, math.inf, 1, "test"), level=0.99)
    assert failing.verdict == "fail" and protocol.min_detectable_effect(failing) == (0.0, None)
