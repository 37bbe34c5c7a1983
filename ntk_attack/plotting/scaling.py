"""Scaling figures: estimates with CIs against a grid variable, beside the predicted law.

:func:`scaling_plot` draws one or several series (a log-log scaling law, or any estimate
against a grid variable) with their CIs, the prediction at its absolute level, an optional
slope-only guide (labelled as such: its level is not predicted) and the points outside the
conditions of the prediction (hollow, grey). :func:`constant_plot` draws a constant fitted
on a range of ``d`` and tested at a held-out ``d`` (THEORY.md section 4).
"""
from typing import Callable

import numpy as np

from ntk_attack.plotting import _series, style

DEFAULT_CI_LABEL = "bootstrap CI over networks"


def draw_series(ax, series: list, outside: list, *, ci_label: str, ci_style: str = "bars",
                outside_label: str = "outside the conditions", marker: str = "o"):
    """Draw each series (markers and line, CI as bars or a band) with the points flagged in
    ``outside`` hollow and grey. The CI meaning goes to the legend once."""
    if ci_style not in ("bars", "band"):
        raise ValueError(f"ci_style must be 'bars' or 'band'. Got {ci_style!r}.")
    for i, (s, out) in enumerate(zip(series, outside)):
        color = style.series_color(i)
        ax.plot(s.x, s.estimate, "-", color=color, label=s.label)
        inside = ~out
        if ci_style == "band":
            ax.fill_between(s.x, s.ci_lo, s.ci_hi, color=color, alpha=0.25, lw=0)
            ax.plot(s.x[inside], s.estimate[inside], marker, ls="none", color=color)
        else:
            err = _series.yerr(s)
            ax.errorbar(s.x[inside], s.estimate[inside], yerr=err[:, inside], fmt=marker,
                        color=color, ecolor=color)
        if out.any():
            err = _series.yerr(s)
            ax.errorbar(s.x[out], s.estimate[out], yerr=err[:, out], fmt=marker, mfc="white",
                        mec=style.OUTSIDE, ecolor=style.OUTSIDE, color=style.OUTSIDE)
    if any(o.any() for o in outside):
        ax.plot([], [], marker, ls="none", mfc="white", mec=style.OUTSIDE, label=outside_label)
    if ci_style == "band":
        ax.fill_between([], [], [], color=style.GUIDE, alpha=0.25, lw=0, label=ci_label)
    else:
        ax.errorbar([], [], yerr=[], fmt="none", ecolor=style.GUIDE, label=ci_label)


def draw_prediction(ax, series: list, prediction, *, label: str):
    """Draw ``prediction`` at its absolute level over each series' ``x`` range.

    ``prediction``: a callable ``x -> y`` (one law shared by all series, drawn black over
    their whole range), or one entry per series, each a callable, a `(k_i,)` array of
    predicted values at the series' ``x`` or None (no prediction for that series), drawn
    dashed in the series' colour; an `(s, k)` array is one row per series.
    """
    if prediction is None:
        return
    if callable(prediction):
        grid = _grid(ax, min(s.x.min() for s in series), max(s.x.max() for s in series))
        ax.plot(grid, prediction(grid) + 0 * grid, "--", color=style.PREDICTION, label=label)
        return
    if isinstance(prediction, np.ndarray) and prediction.ndim == 1:
        prediction = [prediction] * len(series)
    entries = list(prediction)
    if len(entries) != len(series):
        raise ValueError(f"prediction must have one entry per series ({len(series)}). "
                         f"Got {len(entries)}.")
    labelled = False
    for i, (s, p) in enumerate(zip(series, entries)):
        if p is None:
            continue
        if callable(p):
            gx = _grid(ax, s.x.min(), s.x.max())
            gy = p(gx) + 0 * gx
        else:
            gy = np.asarray(p, dtype=float)
            if gy.shape != s.x.shape:
                raise ValueError(f"prediction[{i}] must have shape {s.x.shape}. Got {gy.shape}.")
            gx, gy = s.x, gy[s.order]
        color = style.series_color(i) if len(series) > 1 else style.PREDICTION
        ax.plot(gx, gy, "--", color=color, label=None if labelled else label)
        labelled = True


def _grid(ax, lo, hi, n=200):
    if ax.get_xscale() == "log" and lo > 0:
        return np.geomspace(lo, hi, n)
    return np.linspace(lo, hi, n)


def draw_slope_guide(ax, series: list, slope):
    """Dotted lines of log-log ``slope`` through each series' first point, labelled as
    slope-only guides (their level is not a prediction).

    ``slope``: one float (for the first series) or one float or None per series.
    """
    slopes = [slope] if np.isscalar(slope) else list(slope)
    if len(slopes) > len(series):
        raise ValueError(f"slope_guide must have at most one entry per series ({len(series)}). "
                         f"Got {len(slopes)}.")
    for i, (s, k) in enumerate(zip(series, slopes)):
        if k is None:
            continue
        grid = np.geomspace(s.x.min(), s.x.max(), 50)
        color = style.series_color(i) if len(slopes) > 1 else style.GUIDE
        ax.plot(grid, s.estimate[0] * (grid / s.x[0]) ** float(k), ":", color=color,
                label=f"slope-only guide: slope {float(k):g} (level not predicted)")


def scaling_plot(x, estimate, ci_lo, ci_hi, *, xlabel: str, ylabel: str, labels=None,
                 prediction: Callable | np.ndarray | None = None,
                 prediction_label: str = "prediction", slope_guide=None,
                 out_of_conditions=None, out_of_conditions_label: str = "outside the conditions",
                 logx: bool = True, logy: bool = True, ci_label: str = DEFAULT_CI_LABEL,
                 ci_style: str = "bars", title: str | None = None, ax=None):
    """Estimates with CIs against a grid variable, beside the prediction at its absolute level.

    Args:
        x: `(k,)`, `(s, k)` or ``s`` ragged `(k_i,)` grid values (e.g. widths ``m``).
        estimate, ci_lo, ci_hi: estimates and CI ends, shaped like ``x`` (``x`` `(k,)` is
            shared by `(s, k)` estimates).
        xlabel, ylabel: axis labels with units.
        labels: ``s`` legend labels of the series.
        prediction: the predicted value at its absolute level: a callable ``x -> y`` (one
            shared law), or per series a callable, an array of values at its ``x`` or None
            (see :func:`draw_prediction`).
        prediction_label: legend label of the prediction (write the formula and its source).
        slope_guide: a log-log slope (or one per series, None to skip) drawn through the
            series' first point, labelled as a slope-only guide.
        out_of_conditions: boolean mask shaped like ``estimate``: points outside the
            conditions of the prediction, drawn hollow and grey.
        out_of_conditions_label: legend label of those points.
        logx, logy: log axes.
        ci_label: what the CI is, e.g. ``"99.9% bootstrap CI over networks"``.
        ci_style: ``"bars"`` (error bars) or ``"band"`` (shaded band).
        title: axes title.
        ax: draw into this ``Axes`` (a panel of a larger figure) instead of a new figure.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:
        >>> import numpy as np
        >>> from ntk_attack.plotting import scaling
        >>> d = np.array([16., 64., 256.])
        >>> fig = scaling.scaling_plot(d, 0.66 / np.sqrt(d), 0.6 / np.sqrt(d), 0.7 / np.sqrt(d),
        ...     prediction=lambda d: 0.659 / np.sqrt(d), prediction_label="0.659 / sqrt(d)",
        ...     xlabel="input dimension d", ylabel="mean eta* (input units)",
        ...     labels=["init"], ci_label="99.9% bootstrap CI over networks")
        >>> fig.axes[0].get_xlabel()
        'input dimension d'
    """
    series = _series.as_series(x, estimate, ci_lo, ci_hi, labels)
    outside = _series.as_mask("out_of_conditions", out_of_conditions, series)
    with style.style():
        fig, ax = (ax.figure, ax) if ax is not None else style.new_figure()
        ax.set_xscale("log" if logx else "linear")
        ax.set_yscale("log" if logy else "linear")
        draw_series(ax, series, outside, ci_label=ci_label, ci_style=ci_style,
                    outside_label=out_of_conditions_label)
        draw_prediction(ax, series, prediction, label=prediction_label)
        if slope_guide is not None:
            draw_slope_guide(ax, series, slope_guide)
        if logx:
            style.grid_ticks(ax.xaxis, np.concatenate([s.x for s in series]))
        return style.finish_axes(fig, ax, xlabel=xlabel, ylabel=ylabel, title=title)


def _per_series(name, value, s: int) -> list:
    """``value`` (one entry shared by all series, or one per series) as a list of ``s``."""
    if value is None or np.isscalar(value):
        return [value] * s
    values = list(value)
    if name == "K_hat_ci" and len(values) == 2 and all(np.isscalar(v) for v in values):
        return [tuple(values)] * s
    if len(values) != s:
        raise ValueError(f"{name} must be one value or one per series ({s}). Got {len(values)}.")
    return values


def constant_plot(d, K, ci_lo, ci_hi, *, fit_range, K_hat, K_hat_ci, held_out_d: float,
                  threshold=None, threshold_label: str = "threshold", labels=None,
                  xlabel: str = "input dimension d", ylabel: str = "K, dimensionless",
                  ci_label: str = DEFAULT_CI_LABEL, logx: bool = True,
                  title: str | None = None, ax=None):
    """A constant ``K(d)`` with CIs, the fitted ``K_hat`` with its CI band over the fitting
    range, the held-out ``d`` marked and the threshold the held-out value must not exceed.

    The y axis starts at 0, so a ratio to ``K_hat`` reads off the figure.

    Args:
        d: `(k,)` dimensions (or per series, as in :func:`scaling_plot`).
        K, ci_lo, ci_hi: estimates and CI ends, `(k,)` or `(s, k)` (e.g. one series per ``C0``).
        fit_range: ``(d_lo, d_hi)``, the ``d`` range ``K_hat`` is fitted on (shaded).
        K_hat: the fitted constant, one shared or one per series.
        K_hat_ci: its ``(lo, hi)`` CI (one pair or one per series), a band over the range.
        held_out_d: the ``d`` not used in the fit (dotted vertical line, points ringed).
        threshold: the largest value the held-out ``K`` may take (e.g. the CI upper end of
            ``K_hat``), one or one per series, a dashed line; ``threshold_label`` says what
            it is.
        labels, xlabel, ylabel, ci_label, logx, title, ax: as in :func:`scaling_plot`.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:
        >>> import numpy as np
        >>> from ntk_attack.plotting import scaling
        >>> d = np.array([16., 64., 256.])
        >>> fig = scaling.constant_plot(d, [2.1, 1.7, 1.5], [2.0, 1.6, 1.45], [2.2, 1.8, 1.56],
        ...     fit_range=(16, 64), K_hat=1.95, K_hat_ci=(1.76, 2.15), held_out_d=256,
        ...     threshold=2.15, threshold_label="upper CI end of K_hat", labels=["C0 = 0"])
    """
    series = _series.as_series(d, K, ci_lo, ci_hi, labels)
    n = len(series)
    shared = np.isscalar(K_hat)
    k_hats = _per_series("K_hat", K_hat, n)
    k_cis = _per_series("K_hat_ci", K_hat_ci, n)
    thresholds = _per_series("threshold", threshold, n)
    for i, (k, ci) in enumerate(zip(k_hats, k_cis)):
        if not float(ci[0]) <= float(k) <= float(ci[1]):
            raise ValueError(f"K_hat_ci must contain K_hat. Got K_hat {k} and CI {tuple(ci)} "
                             f"(series {i}).")
    d_lo, d_hi = (float(v) for v in fit_range)
    with style.style():
        fig, ax = (ax.figure, ax) if ax is not None else style.new_figure()
        ax.set_xscale("log" if logx else "linear")
        ax.axvspan(d_lo, d_hi, color=style.GUIDE, alpha=0.12, lw=0,
                   label=f"fitting range d in [{d_lo:g}, {d_hi:g}]")
        draw_series(ax, series, _series.as_mask("none", None, series), ci_label=ci_label)
        drawn = set()
        for i, (k, (k_lo, k_hi), t) in enumerate(zip(k_hats, k_cis, thresholds)):
            if shared and i:
                break
            color = style.PREDICTION if shared else style.series_color(i)
            name = "" if shared else f" ({series[i].label})"
            ax.fill_between([d_lo, d_hi], [k_lo, k_lo], [k_hi, k_hi], color=color, alpha=0.15,
                            lw=0)
            ax.plot([d_lo, d_hi], [k, k], "-", lw=2, color=color,
                    label=f"K_hat{name} = {k:.3g}, CI [{k_lo:.3g}, {k_hi:.3g}]")
            if t is not None and t not in drawn:
                ax.axhline(t, ls="--", color=style.THRESHOLD if shared else color,
                           label=f"{threshold_label}{name} = {t:.3g}")
                drawn.add(t)
        ax.axvline(held_out_d, ls=":", color=style.GUIDE, label=f"held-out d = {held_out_d:g}")
        for i, s in enumerate(series):
            at = np.isclose(s.x, held_out_d)
            ax.plot(s.x[at], s.estimate[at], "o", ms=9, mfc="none", mec=style.series_color(i))
        if logx:
            style.grid_ticks(ax.xaxis, np.concatenate([s.x for s in series]))
        top = [float(c[1]) for c in k_cis] + [s.ci_hi.max() for s in series]
        top += [float(t) for t in thresholds if t is not None]
        ax.set_ylim(0, 1.1 * max(top))
        return style.finish_axes(fig, ax, xlabel=xlabel, ylabel=ylabel, title=title)
