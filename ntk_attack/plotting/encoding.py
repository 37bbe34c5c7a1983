"""How series are told apart: one variable per visual channel, coincident points dodged.

:func:`encode` gives every series a :class:`SeriesStyle`: one variable on colour (with a marker
per colour, so a grey-scale print still separates them), an optional second variable on line
style, marker shape and fill, with a *factorised* legend (one entry per colour, one per style)
instead of one entry per combination. :func:`dodge` shifts series that share an ``x`` value
side by side, so neither their markers nor their error bars hide each other. The rules, with
an example each, are in ``docs/figures.md``.

Example:
    >>> from ntk_attack.plotting import encoding
    >>> enc = encoding.encode(["C0 = 1", "C0 = 1", "C0 = 4", "C0 = 4"],
    ...                       ["standard", "adversarial", "standard", "adversarial"])
    >>> [(s.color, s.marker, s.filled) for s in enc.styles[:2]]
    [('#0072B2', 'o', True), ('#0072B2', 's', False)]
    >>> [label for label, _ in enc.keys]
    ['C0 = 1', 'C0 = 4', 'standard', 'adversarial']
"""
from typing import NamedTuple

import numpy as np

from ntk_attack.plotting import style

#: Marker per colour when one variable is drawn (redundant with colour).
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: Second channel: ``(line style, marker, filled)``. Dashed (``--``) is kept for predictions
#: and dotted (``:``) for slope-only guides, so measured series never use them.
VARIANTS = (("-", "o", True), ("-.", "s", False), ((0, (4, 1.5, 1, 1.5, 1, 1.5)), "^", True))
#: Distance between neighbouring dodged points, as a fraction of the ``x`` span of the data
#: (in decades on a log axis; about 5 pt on a one-column axes, a marker and its cap), and at
#: most :data:`DODGE_GAP` of the smallest grid gap for the largest cluster.
DODGE = 0.03
DODGE_GAP = 0.6
#: Prefix of the label of a series that a factorised legend leaves out (matplotlib skips
#: labels starting with ``_``); :mod:`ntk_attack.plotting.layout` still checks it.
HIDDEN = "_series: "


class SeriesStyle(NamedTuple):
    """How one series is drawn: colour, line style, marker, and whether the marker is filled."""
    color: str
    linestyle: object = "-"
    marker: str = "o"
    filled: bool = True

    def line(self) -> dict:
        """Keyword arguments of ``Axes.plot`` for this style."""
        return dict(color=self.color, ls=self.linestyle, marker=self.marker, mec=self.color,
                    mfc=self.color if self.filled else "white")


class Encoding(NamedTuple):
    """One :class:`SeriesStyle` per series and, for two variables, the legend ``keys``:
    ``[(label, SeriesStyle)]``, the colours (solid lines) then the styles (black)."""
    styles: list
    keys: list | None


def _distinct(values) -> list:
    return list(dict.fromkeys(values))


def encode(colour_by, style_by=None) -> Encoding:
    """Styles of series by one variable (``colour_by``) or two (``style_by`` too).

    Args:
        colour_by: one value (a legend label, e.g. ``"C0/sqrt(d) = 0.03"``) per series;
            distinct values get distinct colours and markers, in order of first appearance.
        style_by: optional second value per series (e.g. ``"standard"``); distinct values get
            distinct line styles, markers and fills (:data:`VARIANTS`).

    Returns:
        An :class:`Encoding`; ``keys`` is None for one variable (the series' own labels make
        the legend).

    Raises:
        ValueError: lengths differ, or more distinct values than a channel can show.
    """
    colours = _distinct(colour_by)
    if len(colours) > len(style.SERIES):
        raise ValueError(f"colour_by must take at most {len(style.SERIES)} distinct values "
                         f"(the palette); got {len(colours)}: split into panels or a second "
                         "channel.")
    if style_by is None:
        return Encoding([SeriesStyle(style.SERIES[colours.index(c)], "-",
                                     MARKERS[colours.index(c)]) for c in colour_by], None)
    style_by = list(style_by)
    if len(style_by) != len(list(colour_by)):
        raise ValueError(f"style_by must have one value per series ({len(list(colour_by))}); "
                         f"got {len(style_by)}.")
    variants = _distinct(style_by)
    if len(variants) > len(VARIANTS):
        raise ValueError(f"style_by must take at most {len(VARIANTS)} distinct values; got "
                         f"{len(variants)}.")
    styles = [SeriesStyle(style.SERIES[colours.index(c)], *VARIANTS[variants.index(v)])
              for c, v in zip(colour_by, style_by)]
    keys = [(str(c), SeriesStyle(style.SERIES[i], "-", "None")) for i, c in enumerate(colours)]
    keys += [(str(v), SeriesStyle(style.PREDICTION, *VARIANTS[j])) for j, v in enumerate(variants)]
    return Encoding(styles, keys)


def dodge(xs, *, log: bool) -> list:
    """Offsets that set apart series sharing an ``x`` value: per series a `(k_i,)` array to add
    to ``x`` (to ``log10 x`` on a log axis). At each ``x`` value the series having a point
    there are spread symmetrically around it, in series order; a point no other series shares
    stays where it is.

    Args:
        xs: the series' `(k_i,)` abscissae.
        log: the axis is logarithmic.
    """
    xs = [np.log10(np.asarray(x, float)) if log else np.asarray(x, float) for x in xs]
    values = np.sort(np.concatenate(xs)) if xs else np.zeros(0)
    if values.size == 0:
        return [np.zeros(0) for _ in xs]
    grid = values[np.r_[True, ~np.isclose(values[1:], values[:-1], rtol=1e-9, atol=1e-12)]]
    at = [np.argmin(np.abs(x[:, None] - grid[None, :]), axis=1) for x in xs]
    count = np.zeros(grid.size, int)
    for idx in at:
        np.add.at(count, np.unique(idx), 1)
    if count.max() < 2:
        return [np.zeros(x.size) for x in xs]
    step = DODGE * (grid[-1] - grid[0] if grid.size > 1 else 1.0)
    if grid.size > 1:
        step = min(step, DODGE_GAP * np.diff(grid).min() / (count.max() - 1))
    rank = np.zeros(grid.size, int)
    offsets = []
    for idx in at:
        offsets.append(step * (rank[idx] - (count[idx] - 1) / 2))
        rank[np.unique(idx)] += 1
    return offsets


def shift(x, offset, *, log: bool) -> np.ndarray:
    """``x`` moved by its :func:`dodge` offsets."""
    x = np.asarray(x, float)
    return x * 10.0 ** offset if log else x + offset
