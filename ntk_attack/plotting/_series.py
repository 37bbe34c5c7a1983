"""Input checks shared by the figure kinds: one or several series of estimates with CIs.

A *series set* is given as ``x, estimate, ci_lo, ci_hi`` where each is either one 1-d array
(one series), a 2-d array ``(s, k)`` (``s`` series on ``k`` points; ``x`` may stay ``(k,)``)
or a sequence of 1-d arrays of differing lengths (``s`` ragged series).
"""
from typing import NamedTuple

import numpy as np


class Series(NamedTuple):
    """One measured series, sorted by ``x``: `(k,)` arrays, its legend label and ``order``,
    the permutation that sorted it (apply it to any array given in the caller's order)."""
    x: np.ndarray
    estimate: np.ndarray
    ci_lo: np.ndarray
    ci_hi: np.ndarray
    label: str
    order: np.ndarray


def _rows(name, value, count=None):
    """``value`` as a list of float 1-d arrays (one per series)."""
    if isinstance(value, np.ndarray) or np.isscalar(value):
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 1:
            return [arr] * (count or 1)
        if arr.ndim == 2:
            return list(arr)
        raise ValueError(f"{name} must have shape (k,) or (s, k). Got {arr.shape}.")
    rows = [np.asarray(v, dtype=float) for v in value]
    if rows and all(r.ndim == 0 for r in rows):  # a flat list of numbers: one series
        return [np.asarray(rows, dtype=float)] * (count or 1)
    bad = [r.shape for r in rows if r.ndim != 1]
    if bad:
        raise ValueError(f"{name} must be 1-d arrays per series. Got shapes {bad}.")
    return rows


def as_series(x, estimate, ci_lo, ci_hi, labels=None) -> list:
    """Validate and split a series set into a list of :class:`Series`.

    Raises:
        ValueError: mismatched shapes, non-finite ``x``, or a CI that does not contain its
            estimate.
    """
    est = _rows("estimate", estimate)
    s = len(est)
    xs, los, his = _rows("x", x, s), _rows("ci_lo", ci_lo, s), _rows("ci_hi", ci_hi, s)
    if not len(xs) == len(los) == len(his) == s:
        raise ValueError(f"x, estimate, ci_lo and ci_hi must hold the same number of series. "
                         f"Got {len(xs)}, {s}, {len(los)} and {len(his)}.")
    labels = [None] * s if labels is None else [str(v) for v in labels]
    if len(labels) != s:
        raise ValueError(f"labels must have one entry per series ({s}). Got {len(labels)}.")
    out = []
    for i, (xi, e, lo, hi, label) in enumerate(zip(xs, est, los, his, labels)):
        if not xi.shape == e.shape == lo.shape == hi.shape:
            raise ValueError(f"series {i}: x, estimate, ci_lo and ci_hi must have equal shapes. "
                             f"Got {xi.shape}, {e.shape}, {lo.shape} and {hi.shape}.")
        if not np.all(np.isfinite(xi)):
            raise ValueError(f"series {i}: x must be finite. Got {xi}.")
        ok = np.isnan(e) | ((lo <= e + 1e-12 * np.abs(e)) & (e <= hi + 1e-12 * np.abs(e)))
        if not np.all(ok):
            raise ValueError(f"series {i}: each CI must contain its estimate. Got estimate "
                             f"{e[~ok]} with CI lo {lo[~ok]} and hi {hi[~ok]}.")
        order = np.argsort(xi, kind="stable")
        out.append(Series(xi[order], e[order], lo[order], hi[order], label, order))
    return out


def as_mask(name, mask, series: list) -> list:
    """``mask`` (None, one `(k,)` or per-series boolean arrays) aligned with sorted ``series``."""
    if mask is None:
        return [np.zeros(s.x.shape, bool) for s in series]
    rows = _rows(name, mask, len(series))
    if len(rows) != len(series):
        raise ValueError(f"{name} must have one row per series ({len(series)}). Got {len(rows)}.")
    out = []
    for i, (row, s) in enumerate(zip(rows, series)):
        if row.shape != s.x.shape:
            raise ValueError(f"{name}[{i}] must have shape {s.x.shape}. Got {row.shape}.")
        out.append(row.astype(bool)[s.order])
    return out


def yerr(series: Series) -> np.ndarray:
    """`(2, k)` distances from the estimate to the CI ends (``errorbar``'s ``yerr``)."""
    return np.stack([series.estimate - series.ci_lo, series.ci_hi - series.estimate]).clip(0)
