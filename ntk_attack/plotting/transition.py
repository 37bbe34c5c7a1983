"""Figures of the lazy-to-rich transition (THEORY.md section 4 and the paper's Theorem 4.1).

:func:`phase_plot`: the prefactor ``eta* sqrt(d)`` against ``C0 / sqrt(d)``, one series per
``d``, with the boundary of the lazy conditions drawn. :func:`robust_accuracy_plot`: robust
accuracy against ``eps sqrt(d)`` (the theorem's scale, comparable across ``d``), one series
per ``C0``.
"""
import numpy as np

from ntk_attack.plotting import _series, style
from ntk_attack.plotting.encoding import dodge, encode
from ntk_attack.plotting.scaling import DEFAULT_CI_LABEL, draw_prediction, draw_series


def phase_plot(c0_over_sqrt_d, prefactor, ci_lo, ci_hi, *, labels, lazy_boundary=None,
               lazy_label: str = "lazy conditions hold", prediction=None,
               prediction_label: str = "prediction",
               xlabel: str = "lazy radius C0 / sqrt(d)",
               ylabel: str = "mean eta* sqrt(d)",
               ci_label: str = DEFAULT_CI_LABEL, out_of_conditions=None,
               out_of_conditions_label: str = "outside the lazy conditions",
               logx: bool = True, logy: bool = False, encoding=None, title: str | None = None,
               ax=None):
    """Prefactor ``eta* sqrt(d)`` with CIs against ``C0 / sqrt(d)``, one series per ``d``.

    If the lazy regime is governed by ``C0 / sqrt(d)``, the series of different ``d`` fall on
    one curve; a spread between them at equal abscissa shows the prefactor tracking
    something else (``C0`` itself, say).

    Args:
        c0_over_sqrt_d: `(k,)`, `(s, k)` or ``s`` ragged arrays, ``C0 / sqrt(d)`` per point.
        prefactor, ci_lo, ci_hi: estimates and CI ends shaped like the abscissa.
        labels: ``s`` legend labels, e.g. ``["d = 49", "d = 196", "d = 784"]``.
        lazy_boundary: abscissa up to which the lazy conditions hold (e.g. ``1/4`` for
            ``C0 <= sqrt(d)/4``): the region left of it is shaded and labelled ``lazy_label``.
        prediction: callable ``C0/sqrt(d) -> prefactor`` at its absolute level, ``s``
            callables (one per ``d``) or arrays shaped like ``prefactor``.
        prediction_label, ci_label, out_of_conditions, out_of_conditions_label, logx, logy,
        encoding, title, ax: as in :func:`ntk_attack.plotting.scaling.scaling_plot`.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:
        >>> import numpy as np
        >>> from ntk_attack.plotting import transition
        >>> x = np.geomspace(0.03, 1.0, 6)
        >>> fig = transition.phase_plot([x, x], [0.66 + x, 0.66 + 0.8 * x],
        ...     [0.6 + x, 0.6 + 0.8 * x], [0.7 + x, 0.7 + 0.8 * x],
        ...     labels=["d = 49", "d = 784"], lazy_boundary=0.25,
        ...     prediction=lambda c: 0.659 + 0 * c, prediction_label="init value 0.659")
    """
    series = _series.as_series(c0_over_sqrt_d, prefactor, ci_lo, ci_hi, labels)
    outside = _series.as_mask("out_of_conditions", out_of_conditions, series)
    with style.style():
        fig, ax = (ax.figure, ax) if ax is not None else style.new_figure()
        ax.set_xscale("log" if logx else "linear")
        ax.set_yscale("log" if logy else "linear")
        if lazy_boundary is not None:
            lo = min(s.x.min() for s in series)
            ax.axvspan(min(lo, lazy_boundary) / (1.5 if logx else 1), lazy_boundary,
                       color=style.OKABE_ITO["sky_blue"], alpha=0.15, lw=0,
                       label=f"{lazy_label} (C0/sqrt(d) <= {lazy_boundary:g})")
            ax.axvline(lazy_boundary, color=style.OKABE_ITO["sky_blue"], lw=1)
        drawn = draw_series(ax, series, outside, ci_label=ci_label,
                            outside_label=out_of_conditions_label, encoding=encoding)
        draw_prediction(ax, drawn, prediction, label=prediction_label, encoding=encoding)
        ax.set_xlim(min(s.x.min() for s in series) / (1.3 if logx else 1),
                    max(s.x.max() for s in series) * (1.3 if logx else 1))
        return style.finish_axes(fig, ax, xlabel=xlabel, ylabel=ylabel, title=title)


def robust_accuracy_plot(eps_sqrt_d, accuracy, ci_lo, ci_hi, *, labels,
                         xlabel: str = "attack radius eps sqrt(d)",
                         ylabel: str = "robust accuracy",
                         ci_label: str = DEFAULT_CI_LABEL, clean_accuracy=None,
                         logx: bool = False, encoding=None, title: str | None = None, ax=None):
    """Robust accuracy with CIs against ``eps sqrt(d)``, one series per ``C0``.

    Plotting against ``eps sqrt(d)`` puts every ``d`` on the theorem's scale (a lazy
    network's attack size is ``O(1/sqrt(d))``), so panels for different ``d`` are comparable.

    Args:
        eps_sqrt_d: `(k,)` (shared) or per-series radii times ``sqrt(d)``.
        accuracy, ci_lo, ci_hi: `(s, k)` (or ragged) robust accuracies in ``[0, 1]`` and CI ends.
        labels: ``s`` legend labels, e.g. ``["C0 = 1", "C0 = 4"]``.
        clean_accuracy: optional `(s,)` clean test accuracies, drawn as short ticks at
            ``eps = 0`` (dodged like the series).
        xlabel, ylabel, ci_label, logx, encoding, title, ax: as in
            :func:`ntk_attack.plotting.scaling.scaling_plot`.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:
        >>> import numpy as np
        >>> from ntk_attack.plotting import transition
        >>> r = np.linspace(0, 2, 5)
        >>> acc = np.array([np.exp(-2 * r), np.exp(-r)])
        >>> fig = transition.robust_accuracy_plot(r, acc, acc - 0.05, acc + 0.05,
        ...     labels=["C0 = 1", "C0 = 8"], title="d = 784")
    """
    series = _series.as_series(eps_sqrt_d, accuracy, ci_lo, ci_hi, labels)
    for i, s in enumerate(series):
        if np.any((s.estimate < 0) | (s.estimate > 1)):
            raise ValueError(f"accuracy must lie in [0, 1]. Got {s.estimate} in series {i}.")
    with style.style():
        fig, ax = (ax.figure, ax) if ax is not None else style.new_figure()
        ax.set_xscale("log" if logx else "linear")
        draw_series(ax, series, _series.as_mask("none", None, series), ci_label=ci_label,
                    encoding=encoding)
        styles = (encoding or encode(range(len(series)))).styles
        if clean_accuracy is not None:
            clean = np.asarray(clean_accuracy, dtype=float)
            if clean.shape != (len(series),):
                raise ValueError(f"clean_accuracy must have shape ({len(series)},). "
                                 f"Got {clean.shape}.")
            offsets = dodge([np.r_[0.0, s.x] for s in series], log=False)  # eps = 0 is shared
            for value, look, offset in zip(clean, styles, offsets):
                ax.plot(offset[:1], [value], "_", ms=12, mew=2, color=look.color)
            ax.plot([], [], "_", ms=12, mew=2, color=style.GUIDE, label="clean accuracy")
        ax.set_ylim(-0.02, 1.02)
        return style.finish_axes(fig, ax, xlabel=xlabel, ylabel=ylabel, title=title)
