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
from ntk_attack.plotting.encoding import HIDDEN, dodge, encode, shift

DEFAULT_CI_LABEL = "bootstrap CI over networks"


def draw_series(ax, series: list, outside: list, *, ci_label: str, ci_style: str = "bars",
                outside_label: str = "outside the conditions", encoding=None) -> list:
    """Draw each series (line and markers in its :class:`~.encoding.SeriesStyle`, CI as bars
    or a band), series that share an ``x`` value dodged apart (:func:`.encoding.dodge`), with
    the points flagged in ``outside`` hollow and grey. The CI meaning goes to the legend once.

    Args:
        encoding: an :class:`~.encoding.Encoding` (default: one variable, the series' order);
            with ``keys``, the legend shows the keys instead of one entry per series.

    Returns:
        The series as drawn (``x`` dodged), for predictions drawn beside them.
    """
    if ci_style not in ("bars", "band"):
        raise ValueError(f"ci_style must be 'bars' or 'band'. Got {ci_style!r}.")
    encoding = encoding or encode(range(len(series)))
    if len(encoding.styles) != len(series):
        raise ValueError(f"encoding must style every series ({len(series)}); got "
                         f"{len(encoding.styles)} styles.")
    log = ax.get_xscale() == "log"
    offsets = dodge([s.x for s in series], log=log)
    drawn = []
    for s, out, look, offset in zip(series, outside, encoding.styles, offsets):
        s = s._replace(x=shift(s.x, offset, log=log))
        drawn.append(s)
        if ci_style == "band":
            ax.fill_between(s.x, s.ci_lo, s.ci_hi, color=look.color, alpha=0.25, lw=0)
        else:
            ax.errorbar(s.x, s.estimate, yerr=_series.yerr(s), fmt="none", color=look.color,
                        ecolor=look.color)
        label = s.label if encoding.keys is None else HIDDEN + str(s.label)
        ax.plot(s.x, s.estimate, label=label, **look.line())
        if out.any():
            ax.plot(s.x[out], s.estimate[out], look.marker, ls="none", mfc="white",
                    mec=style.OUTSIDE)
    for label, look in encoding.keys or ():
        ax.plot([], [], label=label, **look.line())
    if any(o.any() for o in outside):
        ax.plot([], [], "o", ls="none", mfc="white", mec=style.OUTSIDE, label=outside_label)
    if ci_style == "band":
        ax.fill_between([], [], [], color=style.GUIDE, alpha=0.25, lw=0, label=ci_label)
    else:
        ax.errorbar([], [], yerr=[], fmt="none", ecolor=style.GUIDE, label=ci_label)
    return drawn


def draw_prediction(ax, series: list, prediction, *, label: str, encoding=None):
    """Draw ``prediction`` at its absolute level over each series' ``x`` range.

    ``prediction``: a callable ``x -> y`` (one law shared by all series, drawn black over
    their whole range), or one entry per series, each a callable, a `(k_i,)` array of
    predicted values at the series' ``x`` or None (no prediction for that series), drawn
    dashed in the series' colour (a one-point series: a short bar at its point); an `(s, k)`
    array is one row per series. Every drawn prediction carries ``label`` (the legend shows
    it once, in black when the colours differ).
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
    styles = (encoding or encode(range(len(series)))).styles
    for i, (s, p) in enumerate(zip(series, entries)):
        if p is None:
            continue
        color = styles[i].color if len(series) > 1 else style.PREDICTION
        if callable(p):
            gx = _grid(ax, s.x.min(), s.x.max())
            ax.plot(gx, p(gx) + 0 * gx, "--", color=color, label=label)
            continue
        gy = np.asarray(p, dtype=float)
        if gy.shape != s.x.shape:
            raise ValueError(f"prediction[{i}] must have shape {s.x.shape}. Got {gy.shape}.")
        bar = dict(marker="_", ms=12, mew=1.5) if s.x.size == 1 else {}  # wider than a cap
        ax.plot(s.x, gy[s.order], "--", color=color, label=label, **bar)


def _grid(ax, lo, hi, n=200):
    if ax.get_xscale() == "log" and lo > 0:
        return np.geomspace(lo, hi, n)
    return np.linspace(lo, hi, n)


def draw_slope_guide(ax, series: list, slope, *, encoding=None):
    """Dotted lines of log-log ``slope`` through each series' first point, labelled as
    slope-only guides (their level is not a prediction).

    ``slope``: one float (one guide through the first series' first point, over the ``x``
    range of every series) or one float or None per series (over the series' own range).
    """
    if np.isscalar(slope):
        s = series[0]
        grid = np.geomspace(min(t.x.min() for t in series), max(t.x.max() for t in series), 50)
        ax.plot(grid, s.estimate[0] * (grid / s.x[0]) ** float(slope), ":", color=style.GUIDE,
                label=f"slope-only guide: slope {float(slope):g} (level not predicted)")
        return
    slopes = list(slope)
    if len(slopes) > len(series):
        raise ValueError(f"slope_guide must have at most one entry per series ({len(series)}). "
                         f"Got {len(slopes)}.")
    styles = (encoding or encode(range(len(series)))).styles
    for i, (s, k) in enumerate(zip(series, slopes)):
        if k is None:
            continue
        grid = np.geomspace(s.x.min(), s.x.max(), 50)
        color = styles[i].color
        ax.plot(grid, s.estimate[0] * (grid / s.x[0]) ** float(k), ":", color=color,
                label=f"slope-only guide: slope {float(k):g} (level not predicted)")


def scaling_plot(x, estimate, ci_lo, ci_hi, *, xlabel: str, ylabel: str, labels=None,
                 prediction: Callable | np.ndarray | None = None,
                 prediction_label: str = "prediction", slope_guide=None,
                 out_of_conditions=None, out_of_conditions_label: str = "outside the conditions",
                 logx: bool = True, logy: bool = True, ci_label: str = DEFAULT_CI_LABEL,
                 ci_style: str = "bars", encoding=None, title: str | None = None, ax=None):
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
        slope_guide: a log-log slope drawn through the first series' first point over the
            whole ``x`` range, or one slope (None to skip) per series through its own first
            point, labelled as a slope-only guide.
        out_of_conditions: boolean mask shaped like ``estimate``: points outside the
            conditions of the prediction, drawn hollow and grey.
        out_of_conditions_label: legend label of those points.
        logx, logy: log axes.
        ci_label: what the CI is, e.g. ``"99.9% bootstrap CI over networks"``.
        ci_style: ``"bars"`` (error bars) or ``"band"`` (shaded band).
        encoding: how series are told apart, :func:`ntk_attack.plotting.encoding.encode`
            (default: colour and marker by series; pass two variables for a factorised
            legend).
        title: axes title.
        ax: draw into this ``Axes`` (a panel of a larger figure) instead of a new figure;
            the figure's one legend (:func:`~ntk_attack.plotting.style.figure_legend`) then
            gathers every panel's entries.

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
        drawn = draw_series(ax, series, outside, ci_label=ci_label, ci_style=ci_style,
                            outside_label=out_of_conditions_label, encoding=encoding)
        draw_prediction(ax, drawn, prediction, label=prediction_label, encoding=encoding)
        if slope_guide is not None:
            draw_slope_guide(ax, drawn, slope_guide, encoding=encoding)
        xs = np.unique(np.concatenate([s.x for s in series]))
        if xs.size == 1 and xs[0] > 0:  # one grid value: room for round ticks around it
            ax.set_xlim(xs[0] / 2, xs[0] * (2 if logx else 1.5))
        elif logx:
            style.grid_ticks(ax.xaxis, xs)
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
        K_hat: the fitted constant, one shared or one per series (the legend states a
            shared one's value; give per-series values in the caption).
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
        drawn = draw_series(ax, series, _series.as_mask("none", None, series),
                            ci_label=ci_label)
        thresholds_drawn = set()
        for i, (k, (k_lo, k_hi), t) in enumerate(zip(k_hats, k_cis, thresholds)):
            if shared and i:
                break
            color = style.PREDICTION if shared else style.series_color(i)
            ax.fill_between([d_lo, d_hi], [k_lo, k_lo], [k_hi, k_hi], color=color, alpha=0.15,
                            lw=0)
            ax.plot([d_lo, d_hi], [k, k], "-", lw=2, color=color,
                    label=f"K_hat = {k:.3g}, CI [{k_lo:.3g}, {k_hi:.3g}]" if shared
                    else "K_hat fitted per series, band: its CI")
            if t is not None and t not in thresholds_drawn:
                ax.axhline(t, ls="--", color=style.THRESHOLD if shared else color,
                           label=f"{threshold_label} = {t:.3g}" if shared else threshold_label)
                thresholds_drawn.add(t)
        ax.axvline(held_out_d, ls=":", color=style.GUIDE, label=f"held-out d = {held_out_d:g}")
        for i, s in enumerate(drawn):
            at = np.isclose(series[i].x, held_out_d)
            ax.plot(s.x[at], s.estimate[at], "o", ms=9, mfc="none", mec=style.series_color(i))
        if logx:
            style.grid_ticks(ax.xaxis, np.concatenate([s.x for s in series]))
        top = [float(c[1]) for c in k_cis] + [s.ci_hi.max() for s in series]
        top += [float(t) for t in thresholds if t is not None]
        ax.set_ylim(0, 1.1 * max(top))
        return style.finish_axes(fig, ax, xlabel=xlabel, ylabel=ylabel, title=title)
