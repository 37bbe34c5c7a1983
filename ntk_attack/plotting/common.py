"""Figure helpers on arrays: a headless figure factory, a log-log plot with a slope line, and
atomic saving in the project style.

Figures are built on ``matplotlib.figure.Figure`` directly (not ``pyplot``), so they need no
GUI backend, hold no global state and are freed when dropped.
"""
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ntk_attack.io import atomic_write
from ntk_attack.plotting import style

MEASURED = "C0"   # colour of measurements
PREDICTED = "C3"  # colour of predictions (lines drawn beside the measurement)
FORMATS = ("png", "pdf", "svg")


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 4.5, height: float = 3.5,
               **subplots_kw):
    """A ``Figure`` with a grid of axes, ``width x height`` inches per panel.

    Returns:
        ``(fig, axes)``; ``axes`` is one ``Axes`` for a single panel, else an array.
    """
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, **subplots_kw)
    return fig, axes


def loglog_with_slope(ax, x, y, slope: float, *, yerr=None, label: str = "measured",
                      slope_label: str | None = None, anchor: str = "geomean"):
    """Plot ``y`` against ``x`` on log-log axes with the reference line ``c x^slope``.

    Args:
        ax: matplotlib ``Axes``.
        x, y: `(k,)` positive values.
        slope: predicted log-log slope (e.g. ``-0.5``).
        yerr: optional `(k,)` or `(2, k)` error bars (e.g. CI half-widths).
        label: legend label of the measurement.
        slope_label: legend label of the reference line (default ``"slope {slope:g}"``).
        anchor: ``"geomean"`` puts the line through the geometric mean of the data (shape
            comparison), ``"first"`` through the first point.

    Returns:
        ``ax``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"x and y must be equal-length 1-d arrays. Got {x.shape} and {y.shape}.")
    if anchor not in ("geomean", "first"):
        raise ValueError(f"anchor must be 'geomean' or 'first'. Got {anchor!r}.")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.errorbar(x, y, yerr=yerr, fmt="o-", color=MEASURED, label=label, capsize=3)
    if anchor == "first":
        log_c = np.log(y[0]) - slope * np.log(x[0])
    else:
        log_c = np.mean(np.log(y)) - slope * np.mean(np.log(x))
    grid = np.geomspace(x.min(), x.max(), 50)
    ax.plot(grid, np.exp(log_c) * grid ** slope, "--", color=PREDICTED,
            label=slope_label or f"slope {slope:g}")
    ax.legend()
    return ax


def save_figure(fig, path, *, formats=("png",), dpi: int = 120) -> list:
    """Save ``fig`` to ``path`` with each suffix in ``formats`` through
    :func:`ntk_attack.plotting.style.savefig` (project style, no timestamps: the same figure
    gives the same bytes), each file written atomically.

    Args:
        fig: a matplotlib ``Figure``.
        path: target without suffix (a given suffix is replaced).
        formats: subset of ``("png", "pdf", "svg")``.
        dpi: resolution of raster formats.

    Returns:
        The written paths.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"formats must be among {FORMATS}. Got {tuple(formats)}.")
    written = []
    for fmt in formats:
        target = Path(path).with_suffix(f".{fmt}")
        with atomic_write(target) as file:
            style.savefig(fig, file, format=fmt, dpi=dpi)
        written.append(target)
    return written


def use_agg():
    """Select the headless Agg backend for ``pyplot`` (the CLI and the report call this)."""
    import matplotlib
    matplotlib.use("Agg")


def close(fig):
    """Release ``fig``: close it in ``pyplot`` if it was made there (a no-op otherwise)."""
    import sys
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
