"""The project's figure style: a colour-blind-safe palette, paper-size fonts, readable ticks.

Every figure kind in :mod:`ntk_attack.plotting` draws inside :func:`style` and ends with
:func:`finish`, so a figure survives a two-column paper at :data:`COLUMN_WIDTH` inches:
every text is at least :data:`MIN_FONT_SIZE` pt (legends included), the colours are
Okabe & Ito's palette (distinguishable under the common colour-vision deficiencies; Okabe &
Ito, "Color Universal Design", 2008), and every axis carries tick labels, also a log axis
spanning less than a decade (there the ticks sit at 1, 2, 5 times powers of ten, or at
linear steps, and are labelled in plain numbers or fractions ``1/256``), and a figure has
one legend, below its panels, where it hides no data (:func:`figure_legend`; the rules:
``docs/figures.md``).

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
from matplotlib.collections import Collection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
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
LEGEND_HANDLE = 0.6  # inches of a legend entry's handle and padding

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


def _reciprocal(value: float) -> int | None:
    """``n`` when ``value`` is ``1/n`` for an integer ``n >= 2``, else None."""
    if not 0 < value < 1:
        return None
    n = round(1 / value)
    return n if n >= 2 and abs(1 / value - n) <= 1e-9 * n else None


def tick_formatter(values) -> FuncFormatter:
    """Labels for ticks at ``values``: fractions ``1/n`` when every value below 1 is one
    (``beta = 1/256, 1/64``) and some plain label would need more than 3 significant digits
    (``0.003906``), else :func:`plain_number`."""
    values = [float(v) for v in np.ravel(values) if v > 0]
    small = [v for v in values if v < 1]
    long = any(len(f"{v:.4g}".lstrip("0.").replace(".", "")) > 3 for v in small)
    if small and long and all(_reciprocal(v) for v in small):
        return FuncFormatter(lambda v, _pos=None: f"1/{_reciprocal(v)}" if _reciprocal(v)
                             else plain_number(v))
    return FuncFormatter(plain_number)


def readable_log_ticks(axis):
    """Put labelled major ticks on a log ``axis`` whatever its range.

    Ticks already fixed by the caller (``FixedLocator``) are kept and labelled by
    :func:`tick_formatter`. Over more than 2.5 decades: decade ticks. Over less: ticks at
    ``{1, 3} x 10^k`` (over 1.2 decades), ``{1, 2, 5} x 10^k`` (over 0.6) or
    ``{1..9} x 10^k``, or, if that leaves fewer than two in view, at linear steps
    (``MaxNLocator``); labels in plain numbers (:func:`plain_number`), minor tick labels off.
    """
    lo, hi = sorted(axis.get_view_interval())
    if axis.get_scale() != "log" or not (lo > 0 and math.isfinite(hi)):
        return
    axis.set_minor_formatter(NullFormatter())
    if isinstance(axis.get_major_locator(), FixedLocator):
        axis.set_major_formatter(tick_formatter(axis.get_major_locator().locs))
        return
    span = math.log10(hi / lo)
    subs = ((1.0,) if span > 2.5 else (1.0, 3.0) if span > 1.2 else (1.0, 2.0, 5.0)
            if span >= 0.6 else tuple(np.arange(1.0, 10.0)))
    locator = LogLocator(base=10.0, subs=subs)
    ticks = [t for t in locator.tick_values(lo, hi) if lo <= t <= hi]
    if len(ticks) < 2:
        ticks = [t for t in MaxNLocator(nbins=4).tick_values(lo, hi) if lo <= t <= hi and t > 0]
        locator = FixedLocator(ticks)
    axis.set_major_locator(locator)
    axis.set_major_formatter(FuncFormatter(plain_number))


def grid_ticks(axis, values, *, max_ticks: int = 6):
    """Major ticks at the grid ``values`` themselves (e.g. widths 256, 1024, 4096), every
    second (third, ...) one when there are more than ``max_ticks``; labelled by
    :func:`tick_formatter`."""
    values = np.unique(np.asarray(values, dtype=float))
    if values.size >= 2:
        values = values[::math.ceil(values.size / max_ticks)]
        axis.set_major_locator(FixedLocator(values))
        axis.set_major_formatter(tick_formatter(values))
        axis.set_minor_formatter(NullFormatter())


def _legend_layout(labels: list, width: float) -> tuple:
    """``(ncols, wrapped labels, height in inches)`` of a legend of ``labels`` across a figure
    ``width`` inches wide: as many columns as fit without wrapping (at most 4), else one
    column with labels wrapped to the width. Columns fill top to bottom (matplotlib's order)."""
    for ncols in range(min(4, len(labels)), 0, -1):
        chars = int(LEGEND_CHARS_PER_INCH * (width / ncols - LEGEND_HANDLE))
        if ncols == 1 or max(len(line) for label in labels for line in label.split("\n")) <= chars:
            break
    wrapped = [textwrap.fill(label, max(12, chars)) if len(label) > chars else label
               for label in labels]
    rows = math.ceil(len(wrapped) / ncols)
    lines = sum(max(wrapped[i].count("\n") + 1 for i in range(r, len(wrapped), rows))
                for r in range(rows))
    return ncols, wrapped, LEGEND_LINE * lines + 0.1


def _legend_key(handles: list):
    """The legend handle of one label: its artist, or a black copy of its line when the
    label names lines of several colours or markers (a prediction in each series' colour)."""
    first = handles[0]
    if isinstance(first, Line2D):
        lines = [h for h in handles if isinstance(h, Line2D)]
        if len({(to_hex(h.get_color()), h.get_marker()) for h in lines}) == 1:
            return first
        marker = first.get_marker() if len({h.get_marker() for h in lines}) == 1 else "None"
        points = all(np.size(h.get_xdata()) == 1 for h in lines)  # bars, no line between
        return Line2D([], [], color=PREDICTION, ls="None" if points else first.get_linestyle(),
                      marker=marker, lw=first.get_linewidth(), ms=first.get_markersize(),
                      mew=first.get_markeredgewidth())
    if isinstance(first, Collection) and len({to_hex(c) for h in handles if isinstance(
            h, Collection) for c in h.get_facecolor()}) > 1:
        return Patch(facecolor=GUIDE, alpha=0.3, lw=0)
    return first


def figure_legend(fig):
    """One legend for the whole figure, below its panels (``loc="outside lower center"``),
    where it covers no data and no other panel.

    Entries come from every axes' labelled artists, one per label (a label repeated in
    several panels or series is one entry, drawn in black when its artists differ in colour),
    at :data:`MIN_FONT_SIZE`, in as many columns as the figure's width holds. Axes legends are
    removed. The figure grows by the legend's height, so the panels keep their size; calling
    it again replaces the legend it made.

    Returns:
        The ``Legend``, or None when nothing is labelled.
    """
    for old in [leg for leg in fig.legends if hasattr(leg, "added_height")]:
        fig.set_figheight(fig.get_figheight() - old.added_height)
        old.remove()
    entries = {}
    for ax in fig.axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, []).append(handle)
    if not entries:
        return None
    ncols, labels, height = _legend_layout(list(entries), fig.get_figwidth())
    fig.set_figheight(fig.get_figheight() + height)
    leg = fig.legend([_legend_key(h) for h in entries.values()], labels, ncols=ncols,
                     loc="outside lower center", fontsize=MIN_FONT_SIZE)
    leg.added_height = height
    return leg


def _wrap_axis_labels(ax, legend_height: float):
    """Wrap x/y labels longer than their axes side (at :data:`MIN_FONT_SIZE`), the side
    estimated from the axes' grid position in the figure less the legend (no drawing)."""
    box = ax.get_position()
    width, height = ax.figure.get_size_inches()
    for text, inches in ((ax.xaxis.label, box.width * width),
                         (ax.yaxis.label, box.height * (height - legend_height))):
        limit = max(12, int(LEGEND_CHARS_PER_INCH * inches))
        if "\n" not in text.get_text() and len(text.get_text()) > limit:
            text.set_text(textwrap.fill(text.get_text(), limit))


def finish_axes(fig, ax, *, xlabel: str, ylabel: str, title: str | None = None):
    """Label ``ax`` (and title it when ``title`` is given) and return :func:`finish` of
    ``fig``: the common last step of a figure kind."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return finish(fig)


def finish(fig):
    """Make ``fig`` paper-ready: readable ticks on every log axis, tick labels at least
    :data:`MIN_FONT_SIZE`, axis labels wrapped to their axes, one :func:`figure_legend`
    below the panels. Call last, inside :func:`style`, after the data are drawn; calling it
    again (after drawing more) redoes the legend.

    Returns:
        ``fig``.
    """
    leg = figure_legend(fig)
    for ax in fig.axes:
        if not ax.axison:
            continue
        ax.tick_params(labelsize=MIN_FONT_SIZE)
        _wrap_axis_labels(ax, leg.added_height if leg is not None else 0.0)
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
