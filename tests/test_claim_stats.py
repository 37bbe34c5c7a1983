"""The claims' estimators (verification/claims/stats.py) against direct computations from
THEORY.md 8's words: networks are the units, one estimator per quantity."""
import math

import numpy as np
import pytest
from scipy.stats import binomtest

from verification.claims import stats

LEVEL = 0.999


def test_row_means_average_each_network_over_its_kept_points():
    rng = np.random.default_rng(0)
    values, keep = rng.normal(size=(5, 7)), rng.random((5, 7)) < 0.5
    keep[2] = False  # a network that keeps no point gives 0
    expected = [np.mean(v[k]) if k.any() else 0.0 for v, k in zip(values, keep)]
    np.testing.assert_allclose(stats.row_means(values, keep), expected, rtol=1e-15)


def test_ratio_of_means_and_rms_ratio():
    rows = np.array([[4.0, 1.0], [12.0, 3.0]])
    assert stats.ratio_of_means(rows) == pytest.approx(8.0 / 2.0)
    assert stats.rms_ratio(rows) == pytest.approx(2.0)


def test_ratio_check_is_the_mean_over_networks_relative_to_the_prediction():
    values = np.random.default_rng(1).normal(2.0, 0.01, size=(40, 3))  # rows resampled whole
    check = stats.ratio_check("level", values, 2.0, prediction="1",
                              band=stats.relative_band(0.03, "test"), level=LEVEL, seed=0)
    assert check.estimate == pytest.approx(np.mean(values) / 2.0, rel=1e-14)
    assert check.predicted == 1.0 and check.verdict == "pass"
    # A prediction 10% off: the CI (about +-0.2%) lies outside the +-3% band.
    wrong = stats.ratio_check("level", values, 2.2, prediction="1",
                              band=stats.relative_band(0.03, "test"), level=LEVEL, seed=0)
    assert wrong.verdict == "fail"


def test_violation_fraction_is_the_mean_of_per_network_fractions():
    # Pooled, these rows give 10 / 1010 < 1%; per network the mean fraction is 5%.
    rows = [[10, 10], [0, 1000]] * 3
    check = stats.violation_check("g", rows, level=LEVEL, seed=0)
    assert check.estimate == pytest.approx(np.mean([1.0, 0.0] * 3))
    assert check.verdict != "pass"


def test_violation_fraction_without_spread_contains_the_binomial_interval():
    # No violation: the bootstrap over networks is [0, 0]; the exact binomial bound of the
    # pooled count (0 of 4000) is the upper end, below 1%: pass.
    check = stats.violation_check("g", [[0, 1000]] * 4, level=LEVEL, seed=0)
    exact = binomtest(0, 4000).proportion_ci(confidence_level=LEVEL, method="exact")
    assert check.ci == pytest.approx((0.0, exact.high)) and check.verdict == "pass"
    # Too few points for a zero count to certify 1%: inconclusive, never a pass.
    few = stats.violation_check("g", [[0, 50]] * 2, level=LEVEL, seed=0)
    assert few.verdict == "inconclusive"
    # The same nonzero fraction in every network: not a zero-width CI at the band's edge.
    equal = stats.violation_check("g", [[10, 1000]] * 4, level=LEVEL, seed=0)
    exact = binomtest(40, 4000).proportion_ci(confidence_level=LEVEL, method="exact")
    assert equal.ci == pytest.approx((exact.low, exact.high)) and equal.verdict == "inconclusive"


def test_violation_fraction_needs_two_networks_with_eligible_points():
    check = stats.violation_check("g", [[0, 1000], [0, 0]], level=LEVEL, seed=0)
    assert check.verdict == "inconclusive" and math.isnan(check.estimate)
