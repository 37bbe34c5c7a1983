"""Can a figure be read? Layout problems found from the renderer's bounding boxes.

:func:`layout_problems` draws a figure once (Agg, no pixels inspected) and lists, in words,
what keeps a reader from reading it (the rules of ``docs/figures.md``):

- a legend or a text overlaps an axes it does not belong to (its plot area, tick labels,
  axis labels or title); a figure legend belongs to no axes;
- two axes overlap (one panel's tick labels over another's plot);
- an axes' plot area is smaller than :data:`MIN_AREA_FRACTION` of the figure's share per
  panel (the saved figure's area over the number of panels; colour bars are not panels);
- two tick labels of one axis overlap, or a log axis is labelled with ragged decimals
  (``0.003906`` rather than ``1/256``);
- two series of one axes share colour, line style and marker (and marker fill);
- a series named in the legend draws nothing visible: no point in view, a line through a
  single point without a marker, or every point covered exactly by artists drawn after it.

A *series* is a labelled ``Line2D`` that holds data (also one labelled
``encoding.HIDDEN + name``, left out of a factorised legend); artists sharing one label are
one legend entry and are not compared with each other. A labelled artist with no data at all
(``ax.plot([], [], ...)``) is a *legend key*: it stands for artists drawn unlabelled (error
bars, hollow points) and is exempt.

Example:
    >>> import numpy as np
    >>> from ntk_attack.plotting import layout, style
    >>> with style.style():
    ...     fig, ax = style.new_figure()
    ...     _ = ax.plot([1, 2], [1, 2], "o-", color=style.SERIES[0], label="a")
    ...     _ = ax.plot([1, 2], [1, 2], "o-", color=style.SERIES[0], label="b")
    >>> for problem in layout.layout_problems(fig):
    ...     print(problem)
    axes 1 (''): series 'a' and 'b' share colour, line style and marker ('#0072b2', '-', 'o', 'filled')
    axes 1 (''): series 'a' draws nothing visible (every point covered by later artists)
"""
import itertools

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D
from matplotlib.transforms import Affine2D, Bbox

from ntk_attack.plotting.encoding import HIDDEN

#: Smallest plot area of an axes, as a fraction of the saved figure's area per panel.
MIN_AREA_FRACTION = 0.25
#: Overlaps thinner than this (pixels at the figure's dpi) are touching, not overlapping.
SLACK = 1.0
#: Two points closer than this (pixels) coincide.
COINCIDE = 0.5


def layout_problems(fig, *, min_area_fraction: float = MIN_AREA_FRACTION) -> list:
    """Every layout problem of ``fig`` (see the module docstring), one sentence each.

    Args:
        fig: a matplotlib ``Figure``; it is drawn once on an Agg canvas (its layout engine
            runs), nothing is saved.
        min_area_fraction: smallest plot area of an axes over the figure's area per panel.

    Returns:
        A list of strings naming the axes (by number and title) and the problem; empty
        when the figure passes.
    """
    if not 0 <= min_area_fraction <= 1:
        raise ValueError(f"min_area_fraction must lie in [0, 1]; got {min_area_fraction}.")
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.axison and ax.get_visible()]
    names = {ax: f"axes {i + 1} ({ax.get_title()!r})" for i, ax in enumerate(axes)}
    frames = {ax: _frame(ax, renderer) for ax in axes}
    problems = []
    problems += _intrusions(fig, axes, frames, names, renderer)
    problems += _overlapping_axes(axes, frames, names)
    problems += _small_axes(fig, axes, names, renderer, min_area_fraction)
    for ax in axes:
        problems += [f"{names[ax]}: {p}" for p in _tick_problems(ax, renderer)]
        problems += [f"{names[ax]}: {p}" for p in _series_problems(ax)]
    return problems


def _overlap(a: Bbox, b: Bbox) -> bool:
    """True when ``a`` and ``b`` share more than :data:`SLACK` pixels in both directions."""
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > SLACK
            and min(a.y1, b.y1) - max(a.y0, b.y0) > SLACK)


def _frame(ax, renderer) -> Bbox:
    """The plot area of ``ax`` with its tick labels, axis labels and title (not its legend)."""
    boxes = [ax.get_window_extent(renderer)]
    boxes += [axis.get_tightbbox(renderer) for axis in (ax.xaxis, ax.yaxis)]
    if ax.get_title():
        boxes.append(ax.title.get_window_extent(renderer))
    return Bbox.union([b for b in boxes if b is not None and b.width > 0])


def _twins(a, b) -> bool:
    """Axes drawn on one plot area (``twinx``, ``twiny``)."""
    return np.allclose(a.get_position().bounds, b.get_position().bounds)


def _intrusions(fig, axes, frames, names, renderer) -> list:
    """Legends and texts over an axes they do not belong to."""
    owned = [(leg, None, "figure legend") for leg in fig.legends]
    owned += [(t, None, f"figure text {t.get_text()[:30]!r}") for t in fig.texts if t.get_text()]
    if fig._suptitle is not None and fig._suptitle.get_text():
        owned.append((fig._suptitle, None, "figure title"))
    for ax in axes:
        if ax.get_legend() is not None:
            owned.append((ax.get_legend(), ax, f"legend of {names[ax]}"))
        owned += [(t, ax, f"text {t.get_text()[:30]!r} of {names[ax]}") for t in ax.texts
                  if t.get_text() and t.get_visible()]
    problems = []
    for artist, owner, what in owned:
        box = artist.get_window_extent(renderer)
        for ax in axes:
            if ax is owner or (owner is not None and _twins(ax, owner)):
                continue
            if _overlap(box, frames[ax]):
                problems.append(f"{what} overlaps {names[ax]}")
    return problems


def _overlapping_axes(axes, frames, names) -> list:
    return [f"{names[a]} and {names[b]} overlap (plot areas, tick or axis labels)"
            for a, b in itertools.combinations(axes, 2)
            if not _twins(a, b) and _overlap(frames[a], frames[b])]


def _small_axes(fig, axes, names, renderer, fraction) -> list:
    axes = [ax for ax in axes if ax.get_label() != "<colorbar>"]  # a colour bar is thin
    saved = fig.get_tightbbox(renderer)  # what bbox_inches="tight" saves, in inches
    share = saved.width * saved.height * fig.dpi ** 2 / max(1, len(axes))
    problems = []
    for ax in axes:
        box = ax.get_window_extent(renderer)
        ratio = box.width * box.height / share
        if ratio < fraction:
            problems.append(f"{names[ax]}: plot area is {ratio:.0%} of its share of the figure "
                            f"(at least {fraction:.0%})")
    return problems


def _corners(text, renderer) -> np.ndarray:
    """`(4, 2)` display corners of ``text``'s box, turned with the text (a rotated tick label
    is a slanted box, not its axis-aligned bounding box). The box is matplotlib's own, the
    one ``Text`` draws a ``bbox`` patch in (``Text._get_layout``)."""
    _, _, ((x, y), (w, h)) = text._get_layout(renderer)
    px, py = text.get_transform().transform(text.get_unitless_position())
    box = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
    return Affine2D().rotate_deg(text.get_rotation()).translate(px + x, py + y).transform(box)


def _polygons_overlap(p, q) -> bool:
    """Convex polygons ``p`` and ``q`` overlap by more than :data:`SLACK` along every
    separating axis (the separating axis theorem)."""
    for poly in (p, q):
        edges = np.diff(np.vstack([poly, poly[:1]]), axis=0)
        for normal in np.column_stack([-edges[:, 1], edges[:, 0]]):
            norm = np.hypot(*normal)
            if norm == 0:
                continue
            a, b = p @ normal / norm, q @ normal / norm
            if min(a.max(), b.max()) - max(a.min(), b.min()) <= SLACK:
                return False
    return True


def _round(text: str) -> bool:
    """A tick label is round: not a decimal number with more than 3 significant digits
    (``0.003906``); integers, ``1/256``, ``10^{-3}`` and words pass."""
    text = text.replace("\u2212", "-").strip().lstrip("-")
    if "." not in text:
        return True
    try:
        float(text)
    except ValueError:
        return True
    return len(text.replace(".", "").lstrip("0").rstrip("0")) <= 3


def _tick_problems(ax, renderer) -> list:
    problems = []
    for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        lo, hi = sorted(axis.get_view_interval())
        pad = 1e-9 * max(abs(lo), abs(hi))
        labels = []
        for locs, ticks in ((axis.get_majorticklocs(), axis.get_majorticklabels()),
                            (axis.get_minorticklocs(), axis.get_minorticklabels())):
            labels += [t for v, t in zip(locs, ticks) if lo - pad <= v <= hi + pad
                       and t.get_visible() and t.get_text().strip()]
        if axis.get_scale() == "log":
            ragged = [t.get_text() for t in labels if not _round(t.get_text())]
            if ragged:
                problems.append(f"{name} tick labels of a log axis are not round numbers or "
                                f"fractions: {', '.join(map(repr, ragged))}")
        boxes = [(t.get_text(), _corners(t, renderer)) for t in labels]
        clashes = [f"{a!r} and {b!r}" for (a, p), (b, q) in itertools.combinations(boxes, 2)
                   if _polygons_overlap(p, q)]
        if clashes:
            problems.append(f"{name} tick labels overlap: {', '.join(clashes[:4])}"
                            + (f" and {len(clashes) - 4} more" if len(clashes) > 4 else ""))
    return problems


def _key(line: Line2D) -> tuple:
    """What tells a line apart: colour, line style, marker and whether it is filled."""
    filled = str(line.get_markerfacecolor()).lower() not in ("none", "white", "#ffffff", "w")
    marker = line.get_marker() if line.get_marker() not in ("", " ", None) else "None"
    return (to_hex(line.get_color()), line.get_linestyle(), marker,
            "filled" if filled else "hollow")


def _points(ax, line: Line2D) -> np.ndarray:
    """``(k, 2)`` display coordinates of ``line``'s finite points inside the plot area."""
    xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float),
                          np.asarray(line.get_ydata(), dtype=float)])
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    if xy.size == 0:
        return xy.reshape(0, 2)
    pts = line.get_transform().transform(xy)
    box = ax.get_window_extent().padded(SLACK)
    inside = ((box.x0 <= pts[:, 0]) & (pts[:, 0] <= box.x1)
              & (box.y0 <= pts[:, 1]) & (pts[:, 1] <= box.y1))
    return pts[inside]


def _has_marker(line) -> bool:
    return _key(line)[2] != "None" and line.get_markersize() > 0


def _has_line(line) -> bool:
    return line.get_linestyle() not in ("None", "", " ") and line.get_linewidth() > 0


def _covers(a_pts, b_pts) -> np.ndarray:
    """Which points of ``a_pts`` coincide with a point of ``b_pts``."""
    if len(b_pts) == 0:
        return np.zeros(len(a_pts), bool)
    dist = np.linalg.norm(a_pts[:, None, :] - b_pts[None, :, :], axis=-1)
    return dist.min(axis=1) <= COINCIDE


def _invisible(ax, line, later) -> str | None:
    """Why ``line`` draws nothing visible, or None."""
    pts = _points(ax, line)
    if len(pts) == 0:
        return "no point in view"
    marker, drawn_line = _has_marker(line), _has_line(line) and len(np.unique(
        np.round(pts / COINCIDE), axis=0)) > 1
    if not marker and not drawn_line:
        return "a line through a single point, without a marker"
    hidden_markers = not marker
    if marker:
        covered = np.zeros(len(pts), bool)
        for other in later:
            if (_has_marker(other) and other.get_marker() == line.get_marker()
                    and other.get_markersize() >= line.get_markersize()
                    and (_key(other)[3] == "filled" or _key(line)[3] == "hollow")):
                covered |= _covers(pts, _points(ax, other))
        hidden_markers = covered.all()
    hidden_line = not drawn_line or any(
        _has_line(o) and o.get_linestyle() == "-" and o.get_linewidth() >= line.get_linewidth()
        and _covers(pts, _points(ax, o)).all() for o in later)
    return "every point covered by later artists" if hidden_markers and hidden_line else None


def _is_series(line: Line2D) -> bool:
    label = line.get_label()
    return np.size(line.get_xdata()) > 0 and (not label.startswith("_")
                                              or label.startswith(HIDDEN))


def _series_problems(ax) -> list:
    lines = sorted(ax.lines, key=lambda a: a.get_zorder())  # stable: drawing order
    series = [ln for ln in lines if _is_series(ln)]
    problems = []
    for a, b in itertools.combinations(series, 2):
        if a.get_label() != b.get_label() and _key(a) == _key(b):
            problems.append(f"series {_name(a)!r} and {_name(b)!r} share colour, line style "
                            f"and marker {_key(a)}")
    for line in series:
        why = _invisible(ax, line, lines[lines.index(line) + 1:])
        if why:
            problems.append(f"series {_name(line)!r} draws nothing visible ({why})")
    return problems


def _name(line) -> str:
    return line.get_label().removeprefix(HIDDEN)
