"""The project's figure style: a colour-blind-safe palette, paper-size fonts, readable ticks.

Every figure kind in :mod:`ntk_attack.plotting` draws inside :func:`style` and ends with
:func:`finish`, so a figure survives a two-column paper at :data:`COLUMN_WIDTH` inches:
every text is at least :data:`MIN_FONT_SIZE` pt (legends included), the colours are
Okabe & Ito's palette (distinguishable under the common colour-vision deficiencies; Okabe &
Ito, "Color Universal Design", 2008), and every axis carries tick labels, also a log axis
spanning less than a decade (there the ticks sit at 1, 2, 5 times powers of ten, or at
linear steps, and are labelled in plain numbers), and legends of single-panel figures sit
below the axes, where they hide no data.

Example:
    >>> from ntk_attack.plotting import style
    >>> with style.style():
    ...     fig, ax = style.new_figure()
    ...     _ = ax.plot([1, 2], [3, 4], color=style.SERIES[0])
    ...     _ = style.finish(fig)
"""
import contextlib
import math
import textwrap

import matplotlib
import numpy as np
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.ticker import (FixedLocator, FuncFormatter, LogLocator, MaxNLocator,
                               NullFormatter)

#: Okabe-Ito palette, by name.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
}
#: Colours of successive measured series (yellow last: faint on white).
SERIES = tuple(OKABE_ITO[k] for k in ("blue", "vermillion", "bluish_green", "orange",
                                      "reddish_purple", "sky_blue", "yellow"))
PREDICTION = OKABE_ITO["black"]  # predictions at their absolute level
GUIDE = "#777777"                # slope-only guides, fitting ranges
OUTSIDE = "#999999"              # points outside the conditions of the bound shown
THRESHOLD = OKABE_ITO["vermillion"]
#: Every colour a figure of this package may use.
PALETTE = frozenset(c.lower() for c in (*OKABE_ITO.values(), GUIDE, OUTSIDE, "#ffffff"))

COLUMN_WIDTH = 3.3  # inches, one column of a two-column paper
PANEL_HEIGHT = 2.5
MIN_FONT_SIZE = 8.0
LEGEND_LINE = 0.15  # inches per legend line at MIN_FONT_SIZE
LEGEND_CHARS_PER_INCH = 17  # characters per inch at MIN_FONT_SIZE (DejaVu Sans)

RC = {
    "font.size": 8, "axes.labelsize": 8, "axes.titlesize": 9, "figure.titlesize": 9,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8,
    "legend.title_fontsize": 8, "axes.prop_cycle": cycler(color=SERIES),
    "axes.linewidth": 0.8, "lines.linewidth": 1.2, "lines.markersize": 4,
    "errorbar.capsize": 2, "legend.frameon": False, "axes.spines.top": False,
    "axes.spines.right": False, "savefig.dpi": 200, "savefig.bbox": "tight",
    "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none", "svg.hashsalt": "ntk-attack",
    "image.cmap": "cividis", "figure.constrained_layout.use": True,
}


@contextlib.contextmanager
def style():
    """Context manager applying :data:`RC` (``matplotlib.rc_context``) to what is drawn inside."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = COLUMN_WIDTH,
               height: float = PANEL_HEIGHT, **subplots_kw):
    """A headless ``Figure`` (no ``pyplot``) with ``nrows x ncols`` axes, ``width x height``
    inches per panel, constrained layout. Call inside :func:`style`.

    Returns:
        ``(fig, axes)``; ``axes`` is one ``Axes`` for a single panel, else an array.
    """
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=True, **subplots_kw)


def series_color(i: int) -> str:
    """Colour of the ``i``-th measured series (cycles through :data:`SERIES`)."""
    return SERIES[i % len(SERIES)]


def plain_number(value, _pos=None) -> str:
    """Tick label in plain digits (``0.03``, ``256``, ``10000``), ``1e-05`` style beyond."""
    if value == 0 or not 1e-3 <= abs(value) < 1e6:
        return f"{value:.2g}"
    text = f"{value:.4g}"
    return f"{value:.0f}" if "e" in text else text


def readable_log_ticks(axis):
    """Put labelled major ticks on a log ``axis`` whatever its range.

    Ticks already fixed by the caller (``FixedLocator``) are kept. Over more than 2.5
    decades: the default decade ticks. Over less: ticks at ``{1, 3} x 10^k`` (over 1.2
    decades), ``{1, 2, 5} x 10^k`` (over 0.6) or ``{1..9} x 10^k``, or, if that leaves fewer
    than two in view, at linear steps (``MaxNLocator``); labels in plain numbers
    (:func:`plain_number`), minor tick labels off.
    """
    lo, hi = sorted(axis.get_view_interval())
    if axis.get_scale() != "log" or not (lo > 0 and math.isfinite(hi)):
        return
    axis.set_minor_formatter(NullFormatter())
    if isinstance(axis.get_major_locator(), FixedLocator):
        axis.set_major_formatter(FuncFormatter(plain_number))
        return
    span = math.log10(hi / lo)
    if span > 2.5:
        return
    subs = ((1.0, 3.0) if span > 1.2 else (1.0, 2.0, 5.0) if span >= 0.6
            else tuple(np.arange(1.0, 10.0)))
    locator = LogLocator(base=10.0, subs=subs)
    ticks = [t for t in locator.tick_values(lo, hi) if lo <= t <= hi]
    if len(ticks) < 2:
        ticks = [t for t in MaxNLocator(nbins=4).tick_values(lo, hi) if lo <= t <= hi and t > 0]
        locator = FixedLocator(ticks)
    axis.set_major_locator(locator)
    axis.set_major_formatter(FuncFormatter(plain_number))


def grid_ticks(axis, values, *, max_ticks: int = 8):
    """Major ticks at the grid ``values`` themselves (e.g. widths 256, 1024, 4096) when there
    are at most ``max_ticks`` distinct ones; labelled in plain numbers."""
    values = np.unique(np.asarray(values, dtype=float))
    if 2 <= values.size <= max_ticks:
        axis.set_major_locator(FixedLocator(values))
        axis.set_major_formatter(FuncFormatter(plain_number))


def legend(ax, *, loc: str | None = None):
    """A legend at :data:`MIN_FONT_SIZE`. On a figure's only axes it goes below the axes
    (``loc="outside lower center"``), where it hides no data; on a panel, inside at ``loc``
    (default ``"best"``). Labels are wrapped to the figure's width; an outside legend makes
    the figure taller by its height, so the axes keep their size.

    Returns:
        The ``Legend``, or None when nothing is labelled.
    """
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    fig = ax.figure
    width = int(LEGEND_CHARS_PER_INCH * fig.get_figwidth()) - 6
    labels = [textwrap.fill(label, width) for label in labels]
    if loc is None and len(fig.axes) == 1:
        lines = sum(label.count("\n") + 1 for label in labels)
        fig.set_figheight(fig.get_figheight() + LEGEND_LINE * lines + 0.1)
        return fig.legend(handles, labels, loc="outside lower center", fontsize=MIN_FONT_SIZE)
    return ax.legend(handles, labels, loc=loc or "best", fontsize=MIN_FONT_SIZE)


def _wrap_axis_labels(ax):
    """Wrap x/y labels longer than their axes side (at :data:`MIN_FONT_SIZE`); the layout
    must have run (``fig.draw_without_rendering()``) for the axes size to be final."""
    box = ax.get_position()
    width, height = ax.figure.get_size_inches()
    for text, inches in ((ax.xaxis.label, box.width * width),
                         (ax.yaxis.label, box.height * height)):
        limit = max(12, int(LEGEND_CHARS_PER_INCH * inches))
        if "\n" not in text.get_text() and len(text.get_text()) > limit:
            text.set_text(textwrap.fill(text.get_text(), limit))


def finish_axes(fig, ax, *, xlabel: str, ylabel: str, title: str | None = None):
    """Label ``ax`` (and title it when ``title`` is given), add its :func:`legend` and return
    :func:`finish` of ``fig``: the common last step of a single-axes figure kind."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    legend(ax)
    return finish(fig)


def finish(fig):
    """Make ``fig`` paper-ready: readable ticks on every log axis, tick labels at least
    :data:`MIN_FONT_SIZE`, axis labels wrapped to their axes. Call last, inside
    :func:`style`, after the data are drawn.

    Returns:
        ``fig``.
    """
    fig.draw_without_rendering()  # constrained layout sizes the axes
    for ax in fig.axes:
        if not ax.axison:
            continue
        ax.tick_params(labelsize=MIN_FONT_SIZE)
        _wrap_axis_labels(ax)
        for axis in (ax.xaxis, ax.yaxis):
            readable_log_ticks(axis)
    return fig


#: Metadata that would make the bytes depend on the date or the library version.
NO_TIMESTAMPS = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None},
                 "svg": {"Date": None, "Creator": None}}


def savefig(fig, target, *, format: str, dpi: int | None = None):
    """Save ``fig`` to ``target`` (a path or binary file) in ``format`` (png, pdf or svg)
    with :data:`RC` in force at save time (embedded TrueType fonts in PDF, text kept as
    text and fixed ids in SVG) and no timestamps: the same figure gives the same bytes.
    """
    if format not in NO_TIMESTAMPS:
        raise ValueError(f"format must be one of {sorted(NO_TIMESTAMPS)}. Got {format!r}.")
    with style():
        fig.savefig(target, format=format, dpi=dpi, metadata=NO_TIMESTAMPS[format])
