"""The claims' statistics: one estimator per quantity, each with a bootstrap CI over the
independent units (THEORY.md 8).

Units are networks (or seeds, replicates of an ensemble); the points of one unit stay in its
row, since they share its weights and offset. Every estimate below is a plain function of the
units' rows, and its CI the t-interval of :func:`verification.protocol.bootstrap` over them:

- a level against a prediction: the mean over units of ``value / prediction``
  (:func:`ratio_check`; any other statistic of the rows: :func:`bootstrap_check`);
- a ratio of two levels measured on the same units (``RMS a / RMS b``): the ratio of the two
  means over units (:func:`ratio_of_means`, :func:`rms_ratio`);
- a fraction of points (the envelope's violations): the mean over networks of each network's
  fraction (:func:`violation_check`);
- a per-network summary over a subset of its points (flipped, correctly classified): the
  mean over the kept points of each row (:func:`row_means`).

Slopes are :func:`verification.protocol.slope_check` itself.
"""
import math

import numpy as np
from scipy.stats import binomtest

from verification import protocol

VIOLATION_MAX = 0.01  # THEORY.md 4: eta* <= B(x) for at least 99% of points
VIOLATION_HALF_WIDTH = 0.005  # a violation fraction's CI may be at most +-0.5% wide


def relative_band(half: float, why: str) -> protocol.Band:
    """``1 +- half`` for a ratio to its prediction, the CI at most half as wide as the band."""
    return protocol.Band(1 - half, 1 + half, half / 2, why)


def bootstrap_check(name: str, units, *, prediction: str, band: protocol.Band, level: float,
                    seed: int, statistic=np.mean, predicted: float | None = None,
                    note: str = "") -> protocol.Check:
    """``statistic`` of the units with its bootstrap CI over them, judged against ``band``.

    Args:
        units: `(n_units, ...)` rows, one per network (or seed).
        statistic: maps `(n_units, ...)` rows to a float (default: the mean of every entry).
        predicted: the prediction on the estimate's scale (:func:`protocol.check`).
    """
    estimate, ci = protocol.bootstrap(units, statistic, level=level, seed=seed)
    return protocol.check(name, prediction=prediction, estimate=estimate, ci=ci, band=band,
                          level=level, note=note, predicted=predicted)


def ratio_check(name: str, values, predicted: float, *, prediction: str, band: protocol.Band,
                level: float, seed: int, note: str = "") -> protocol.Check:
    """Mean over units of ``values / predicted`` (1 if the prediction holds), judged against
    ``band`` (e.g. :func:`relative_band`).

    Args:
        values: `(n_units,)` per-unit values, or `(n_units, n_points)` (the mean is then over
            every entry; the rows are resampled whole).
        predicted: the predicted mean of ``values``.
    """
    return bootstrap_check(name, np.asarray(values, dtype=float) / predicted, prediction=prediction,
                           band=band, level=level, seed=seed, predicted=1.0, note=note)


def ratio_of_means(rows) -> float:
    """``mean(rows[:, 0]) / mean(rows[:, 1])`` of `(n_units, 2)` paired per-unit values."""
    return float(np.mean(rows[:, 0]) / np.mean(rows[:, 1]))


def rms_ratio(rows) -> float:
    """``sqrt(mean(rows[:, 0]) / mean(rows[:, 1]))`` of `(n_units, 2)` per-unit mean squares:
    the ratio of two root-mean-square norms."""
    return math.sqrt(ratio_of_means(rows))


def row_means(values, keep) -> np.ndarray:
    """`(n_units,)` mean of each row of ``values`` `(n_units, n_points)` over its ``keep``
    points (a boolean mask of the same shape); 0 for a row that keeps none."""
    keep = np.asarray(keep, dtype=bool)
    kept = np.where(keep, np.asarray(values, dtype=float), 0.0)
    return kept.sum(axis=1) / np.maximum(keep.sum(axis=1), 1)


def violation_check(label: str, rows, *, level: float, seed: int) -> protocol.Check:
    """The fraction of points with ``eta* > B(x)`` is at most :data:`VIOLATION_MAX`
    (THEORY.md 4).

    The estimate is the mean over networks of each network's fraction (networks without an
    eligible point are left out), with the t-interval of the bootstrap over networks. When every
    network has the same fraction (always so when none violates) that interval has zero width
    whatever the sample size: it cannot see the sampling noise of each network's own points, so
    it is then widened to contain the exact binomial interval of the pooled count (for zero
    violations: the most a zero count can certify). Fewer than two networks with an eligible
    point: inconclusive.

    Args:
        label: the grid point(s), for the check's name.
        rows: `(n_networks, 2)` (violations, eligible points) per network.
    """
    rows = np.asarray(rows, dtype=float)
    has = rows[:, 1] > 0
    name = f"{label}: mean fraction of points with eta* > B(x)"
    band = protocol.Band(0.0, VIOLATION_MAX, VIOLATION_HALF_WIDTH,
                         "THEORY.md 4: at most 1% of points; kappa_d is a 99.9% quantile")
    note = (f"{int(rows[:, 1].sum())} eligible points on {int(has.sum())} networks, "
            f"{int(rows[:, 0].sum())} violations on {int(np.sum(rows[:, 0] > 0))} networks")
    if has.sum() < 2:
        return protocol.Check(name, f"<= {VIOLATION_MAX:g}", math.nan, (-math.inf, math.inf), band,
                              level, "inconclusive", note + ": fewer than 2 networks to resample")
    fractions = rows[has, 0] / rows[has, 1]
    estimate, (lo, hi) = protocol.bootstrap(fractions, np.mean, level=level, seed=seed)
    if np.ptp(fractions) == 0:
        exact = binomtest(int(rows[:, 0].sum()), int(rows[:, 1].sum())).proportion_ci(
            confidence_level=level, method="exact")
        lo, hi = min(lo, exact.low), max(hi, exact.high)
        note += ("; every network has the same fraction: the CI contains the exact binomial "
                 "interval of the pooled count")
    return protocol.check(name, prediction=f"<= {VIOLATION_MAX:g}", estimate=estimate,
                          ci=(max(lo, 0.0), hi), band=band, level=level, note=note)
