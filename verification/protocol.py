"""Checks, verdicts and confidence intervals: the statistical protocol of THEORY.md section 8.

A claim compares measurements with independent predictions. Each comparison is a
:class:`Check`: an estimate with a confidence interval (CI) over independent units (networks,
seeds), a band of values that counts as agreement, and the largest CI half-width that makes
the comparison meaningful. Verdicts:

- ``pass``: the CI lies inside the band;
- ``fail``: the CI lies entirely outside the band (whatever its width);
- ``inconclusive``: the CI straddles a band edge, or lies inside the band but is wider than
  allowed. It is never a pass; the fix is more samples, never a wider band.

Deterministic checks (a lemma with zero violations, two implementations agreeing to a
tolerance) use a zero-width CI at the measured value.
"""
import dataclasses
import hashlib
import json
import math
from typing import Callable

import numpy as np
from scipy import stats

ALPHA = 0.01  # family-wise error rate of a whole verification run
# Report order, worst first; "error" is a claim that raised, "skipped" one that could not run here.
VERDICTS = ("fail", "error", "inconclusive", "pass", "skipped")
N_RESAMPLES = 2000


@dataclasses.dataclass(frozen=True)
class Band:
    """Values of the estimate that count as agreement with the prediction.

    Attributes:
        lo, hi: the band; ``-inf`` / ``inf`` for one-sided claims.
        max_half_width: the widest CI half-width that can decide the claim.
        why: where the band and the allowed width come from.
    """
    lo: float
    hi: float
    max_half_width: float
    why: str


@dataclasses.dataclass(frozen=True)
class Check:
    """One comparison of a measurement with a prediction, and its verdict."""
    name: str
    prediction: str
    estimate: float
    ci: tuple
    band: Band
    level: float | None  # CI level; None for a deterministic check
    verdict: str
    note: str = ""
    predicted: float | None = None  # the prediction as a number on the estimate's scale


def min_detectable_effect(c: Check):
    """Smallest shift of the prediction that ``c`` would turn into ``fail`` (THEORY.md 8).

    The band moves with the prediction: shifted by ``delta`` it fails the check once its edge
    passes the far end of the CI ``(ci_lo, ci_hi)``. Down, that is ``delta > hi - ci_lo``; up,
    ``delta > ci_hi - lo`` for the band ``[lo, hi]`` (for a symmetric CI: the distance from the
    estimate to the far band edge plus the half-width). The result is the larger of the finite
    ones, at least 0 (a CI already outside the band fails at no shift): any larger shift fails
    the check in every direction the band can detect (one only, for a one-sided band).
    Absolute, and relative to ``|predicted|``.

    Returns:
        ``(absolute, relative)``: ``relative`` is None without a nonzero ``c.predicted``; None
        for a deterministic check or one without a finite interval.
    """
    ci_lo, ci_hi = c.ci
    if c.level is None or not (math.isfinite(ci_lo) and math.isfinite(ci_hi)):
        return None
    shifts = [s for s in (c.band.hi - ci_lo, ci_hi - c.band.lo) if math.isfinite(s)]
    if not shifts:
        return None
    absolute = max(0.0, *shifts)
    relative = absolute / abs(c.predicted) if c.predicted else None
    return absolute, relative


def judge(ci, band: Band) -> str:
    """Verdict of THEORY.md section 8 for a CI ``(lo, hi)`` against ``band``.

    A CI wholly outside the band fails whatever its width: it already rejects agreement at its
    level. The width limit guards the other verdict: a pass needs a CI narrow enough to mean it.
    Both are closed intervals: a CI touching a band edge from outside straddles it. A CI with
    a non-finite end (no interval could be computed) is inconclusive.
    """
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    if hi < band.lo or lo > band.hi:
        return "fail"
    if (hi - lo) / 2 > band.max_half_width:
        return "inconclusive"
    return "pass" if band.lo <= lo and hi <= band.hi else "inconclusive"


def check(name: str, *, prediction: str, estimate: float, ci, band: Band, level: float,
          note: str = "", predicted: float | None = None) -> Check:
    """A statistical check: ``estimate`` with its ``level`` CI ``(lo, hi)``, judged against ``band``.

    ``predicted`` is the prediction on the estimate's scale (``1`` for a ratio to the
    prediction), from which :func:`min_detectable_effect` is relative.
    """
    ci = (float(ci[0]), float(ci[1]))
    return Check(name, prediction, float(estimate), ci, band, level, judge(ci, band), note,
                 None if predicted is None else float(predicted))


def exact_check(name: str, *, prediction: str, value: float, band: Band, note: str = "",
                predicted: float | None = None) -> Check:
    """A deterministic check: ``value`` (no sampling error) must lie inside ``band``."""
    value = float(value)
    return Check(name, prediction, value, (value, value), band, None, judge((value, value), band),
                 note, None if predicted is None else float(predicted))


def sign_change_check(where: str, *, flipped, h_below, h_above, step: float) -> Check:
    """Exact check that a reported flip size ``eta*`` is a sign change of ``f``: the number of
    flipped points where ``sign(f) f(x + t u)``, evaluated at ``t = eta* (1 -+ step)`` without
    the walk that found ``eta*``, is not positive, then non-positive (band [0, 0]).

    Args:
        where: what was attacked, for the check's name (e.g. ``"d = 16, m = 1024, 2000 points"``).
        flipped, h_below, h_above: same-shape arrays, the points' flip flags and the two values.
        step: the relative step either side of ``eta*``.
    """
    flipped = np.asarray(flipped)
    not_a_change = flipped & ((np.asarray(h_below) <= 0) | (np.asarray(h_above) > 0))
    return exact_check(
        f"exact eta*, {where}: points where sign(f) f(x + t u) at t = eta* (1 -+ {step:g}) is not "
        "positive, then non-positive", prediction="0 (eta* is a sign change of f)",
        value=float(not_a_change.sum()),
        band=Band(0, 0, 0, "f(x + t u) is evaluated directly; its slope there (~||grad f||) moves it "
                  "by ~1e-9 eta*, far above rounding; a walk that stops on the wrong segment is off "
                  "by 1e-5 or more"))


def bootstrap(units, statistic: Callable[[np.ndarray], float], *, level: float, seed: int,
              method: str = "t"):
    """CI of ``statistic`` from a bootstrap over the independent units (axis 0).

    ``method="t"`` (the claims' method): ``estimate +- t_{n-1} sqrt(n/(n-1)) SE*``, with ``SE*``
    the standard deviation of the statistic over ``N_RESAMPLES`` resamples of the ``n`` units
    and ``t_{n-1}`` Student's quantile at ``level``. For the mean of normal units it is the
    t-interval (``sqrt(n/(n-1)) SE*`` estimates ``s/sqrt(n)``); its coverage at the claims' sizes
    and levels is measured by ``tests/test_coverage.py`` (docs/coverage.md).
    ``method="percentile"``: the percentile interval of the resampled statistics. It cannot
    reach levels above ``1 - 2^(1-n)`` for a mean (it lies within the units' range), so it
    under-covers at 99.9x% with 6-8 units; used for a quantile's cross-check and the coverage
    comparison.

    Args:
        units: `(n_units, ...)` per-unit data (one row per network or seed). Points that share
            a network must stay in one row: they are correlated through its weights.
        statistic: maps a `(n_units, ...)` array to a float.
        level: CI level, e.g. ``ctx.level()``.
        seed: integer seed of the resampling.
        method: ``"t"`` or ``"percentile"``.

    Returns:
        ``(estimate, (lo, hi))`` with ``estimate = statistic(units)``.
    """
    units = np.asarray(units, dtype=float)
    if units.shape[0] < 2:
        raise ValueError(f"bootstrap needs at least 2 independent units. Got {units.shape[0]}.")
    picks = _resample_indices(units.shape[0], seed)
    resampled = np.array([statistic(units[i]) for i in picks])
    return float(statistic(units)), _interval(float(statistic(units)), resampled, units.shape[0],
                                              level=level, method=method)


def _resample_indices(n: int, seed: int) -> np.ndarray:
    """`(N_RESAMPLES, n)` indices of units drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(N_RESAMPLES, n))


def _interval(estimate: float, resampled: np.ndarray, n: int, *, level: float, method: str):
    if method == "percentile":
        lo, hi = np.quantile(resampled, [(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)
    if method != "t":
        raise ValueError(f"method must be 't' or 'percentile'. Got {method!r}.")
    finite = resampled[np.isfinite(resampled)]
    if finite.size < resampled.size or not math.isfinite(estimate):
        return (-math.inf, math.inf)  # a resample without a defined statistic: no interval
    half = stats.t.ppf((1 + level) / 2, n - 1) * math.sqrt(n / (n - 1)) * float(np.std(finite, ddof=1))
    return estimate - half, estimate + half


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (``scipy.stats.linregress``)."""
    return float(stats.linregress(np.log(x), np.log(y)).slope)


def _loglog_slopes(x, y) -> np.ndarray:
    """Least-squares slopes of ``log y[..., j]`` against ``log x[j]``, batched: `(..., k) -> (...)`."""
    lx = np.log(x) - np.mean(np.log(x))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(lx * np.log(y), axis=-1) / np.sum(lx * lx)


def slope_over_units(x, per_unit, *, level: float, seed: int, reduce=np.mean, method: str = "t"):
    """Log-log slope of a per-unit summary against ``x``, with a bootstrap CI over units.

    The units are resampled as rows (as :func:`bootstrap`), each resample reduced over its
    units at every grid value and fitted by least squares, all resamples at once.

    Args:
        x: `(k,)` grid values (widths, dimensions, ...).
        per_unit: `(n_units, k)` positive summaries, one row per independent unit.
        reduce: ``reduce(rows, axis=...)``: how the units are combined at each grid value
            (default: mean).
        method: as in :func:`bootstrap`.

    Returns:
        ``(slope, (lo, hi))``.
    """
    x = np.asarray(x, dtype=float)
    per_unit = np.asarray(per_unit, dtype=float)
    if per_unit.shape[0] < 2:
        raise ValueError(f"bootstrap needs at least 2 independent units. Got {per_unit.shape[0]}.")
    estimate = loglog_slope(x, reduce(per_unit, axis=0))
    picks = _resample_indices(per_unit.shape[0], seed)
    resampled = _loglog_slopes(x, reduce(per_unit[picks], axis=1))
    return estimate, _interval(estimate, resampled, per_unit.shape[0], level=level, method=method)


def slope_check(name: str, x, per_unit, *, predicted: float, band, level: float, seed: int,
                ci_share: float, why: str | None = None, note: str = "", reduce=np.mean) -> Check:
    """A log-log slope of per-unit summaries against ``x``, judged against ``band``.

    Args:
        name: the check's name.
        x: `(k,)` grid values; ``per_unit``: `(n_units, k)` positive summaries.
        predicted: the predicted slope; ``band``: ``(lo, hi)`` values that count as agreement.
        level, seed: CI level and bootstrap seed.
        ci_share: the widest allowed CI half-width as a share of the band's half-width (a
            claim's own choice: how sharply its CI must resolve the band).
        why: where the band comes from (default: an equivalence band around ``predicted``).
        reduce: how resampled units are combined at each grid value (default: mean).
    """
    lo, hi = band
    estimate, ci = slope_over_units(x, per_unit, level=level, seed=seed, reduce=reduce)
    return check(name, prediction=f"slope {predicted:g}", estimate=estimate, ci=ci,
                 band=Band(lo, hi, ci_share * (hi - lo) / 2,
                           why or f"equivalence band [{lo:g}, {hi:g}] around {predicted:g}"),
                 level=level, note=note, predicted=predicted)


def derive_seed(seed: int, *labels) -> int:
    """A 31-bit seed derived from ``seed`` and JSON-able ``labels`` (grid point, role, ...).

    Same inputs, same seed; distinct labels give independent streams, so calibration seeds
    are disjoint from checked ones and results do not depend on the order of evaluation.
    """
    text = json.dumps([seed, *labels], sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") >> 1


def overall_verdict(checks) -> str:
    """Worst verdict of ``checks``: fail > inconclusive > pass; no checks is inconclusive."""
    verdicts = {c.verdict for c in checks}
    for verdict in ("fail", "inconclusive"):
        if verdict in verdicts:
            return verdict
    return "pass" if verdicts == {"pass"} else "inconclusive"


def bootstrap_columns(per_unit, *, level: float, seed: int, statistic=np.mean):
    """Per grid value, ``statistic`` of the units with its bootstrap CI (as :func:`bootstrap`):
    the error bars of a figure at its check's ``level``.

    Args:
        per_unit: `(n_units, k)` per-unit summaries (one row per network).
        statistic: maps the `(n_units,)` column to a float (default: mean).

    Returns:
        ``(estimate, lo, hi)``, each `(k,)`.
    """
    per_unit = np.asarray(per_unit, dtype=float)
    rows = [bootstrap(per_unit[:, j], statistic, level=level, seed=derive_seed(seed, j))
            for j in range(per_unit.shape[1])]
    return (np.array([r[0] for r in rows]), np.array([r[1][0] for r in rows]),
            np.array([r[1][1] for r in rows]))
