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


def judge(ci, band: Band) -> str:
    """Verdict of THEORY.md section 8 for a CI ``(lo, hi)`` against ``band``.

    A CI wholly outside the band fails whatever its width: it already rejects agreement at its
    level. The width limit guards the other verdict: a pass needs a CI narrow enough to mean it.
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
          note: str = "") -> Check:
    """A statistical check: ``estimate`` with its ``level`` CI ``(lo, hi)``, judged against ``band``."""
    ci = (float(ci[0]), float(ci[1]))
    return Check(name, prediction, float(estimate), ci, band, level, judge(ci, band), note)


def exact_check(name: str, *, prediction: str, value: float, band: Band, note: str = "") -> Check:
    """A deterministic check: ``value`` (no sampling error) must lie inside ``band``."""
    value = float(value)
    return Check(name, prediction, value, (value, value), band, None, judge((value, value), band),
                 note)


def bootstrap(units, statistic: Callable[[np.ndarray], float], *, level: float, seed: int):
    """Percentile-bootstrap CI of ``statistic`` resampling the independent units (axis 0).

    Args:
        units: `(n_units, ...)` per-unit data (one row per network or seed). Points that share
            a network must stay in one row: they are correlated through its weights.
        statistic: maps a `(n_units, ...)` array to a float.
        level: CI level, e.g. ``ctx.level()``.
        seed: integer seed of the resampling.

    Returns:
        ``(estimate, (lo, hi))`` with ``estimate = statistic(units)``.
    """
    units = np.asarray(units, dtype=float)
    if units.shape[0] < 2:
        raise ValueError(f"bootstrap needs at least 2 independent units. Got {units.shape[0]}.")
    index = np.arange(units.shape[0])
    result = stats.bootstrap((index,), lambda i: statistic(units[i.astype(int)]), vectorized=False,
                             confidence_level=level, n_resamples=N_RESAMPLES, method="percentile",
                             random_state=np.random.default_rng(seed))
    interval = result.confidence_interval
    return float(statistic(units)), (float(interval.low), float(interval.high))


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (``scipy.stats.linregress``)."""
    return float(stats.linregress(np.log(x), np.log(y)).slope)


def slope_over_units(x, per_unit, *, level: float, seed: int, reduce=np.mean):
    """Log-log slope of a per-unit summary against ``x``, with a bootstrap CI over units.

    Args:
        x: `(k,)` grid values (widths, dimensions, ...).
        per_unit: `(n_units, k)` positive summaries, one row per independent unit.
        reduce: how the resampled units are combined at each grid value (default: mean).

    Returns:
        ``(slope, (lo, hi))``.
    """
    x = np.asarray(x, dtype=float)
    return bootstrap(per_unit, lambda rows: loglog_slope(x, reduce(rows, axis=0)), level=level,
                     seed=seed)


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
                 level=level, note=note)


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
