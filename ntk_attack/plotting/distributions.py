"""Per-point distributions against a threshold, and samples against their predicted law.

:func:`ratio_distribution_plot` draws, per group (grid point), the distribution of a
per-point ratio such as ``eta* / B(x)`` (THEORY.md section 4: the bound holds where the
ratio is at most 1) as quantile bars: 1%-99% range, median, 99th percentile and maximum.
:func:`histogram_with_law` draws a histogram with a per-bin binomial CI beside a predicted
density (e.g. THEORY.md section 3's law of ``eta* sqrt(d)`` at initialisation).
"""
from typing import Callable, Mapping

import numpy as np
from scipy import stats

from ntk_attack.plotting import style

GROUP_WIDTH = 0.45  # inches per group of ratio_distribution_plot


def _quantiles(values, name):
    values = np.asarray(values, dtype=float).ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ValueError(f"group {name!r} must hold at least one non-NaN ratio. Got none.")
    return np.quantile(values, [0.01, 0.5, 0.99]), values.max(), values.size


def ratio_distribution_plot(ratios_by_group: Mapping, *, threshold: float = 1.0,
                            threshold_label: str = "bound: ratio = 1",
                            ylabel: str = "eta* / B(x) per point",
                            xlabel: str = "grid point", out_of_conditions=(),
                            out_of_conditions_label: str = "outside the conditions",
                            logy: bool = False, title: str | None = None, ax=None):
    """Per-group distributions of a per-point ratio with the threshold line.

    Each group gets a bar from the 1% to the 99% quantile (``errorbar``), a dot at the
    median, a bar end at the 99th percentile and a cross at the maximum, and its count of
    points above ``threshold`` written above it. Groups named in ``out_of_conditions`` are
    drawn hollow and grey. Group labels are turned 30 degrees only when their longest line
    does not fit under its group (write ``"d=64\\n0.01"`` to keep them level).

    Args:
        ratios_by_group: ``{label: (n_i,) ratios}`` in display order (NaN dropped).
        threshold: the value the ratio must not exceed (dashed line).
        threshold_label: legend label of the threshold.
        xlabel, ylabel: axis labels (say what the ratio is).
        out_of_conditions: labels of groups outside the conditions of the bound.
        out_of_conditions_label: legend label of those groups.
        logy: log y axis.
        title: axes title.
        ax: draw into this ``Axes`` instead of a new figure.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:
        >>> import numpy as np
        >>> from ntk_attack.plotting import distributions
        >>> rng = np.random.default_rng(0)
        >>> fig = distributions.ratio_distribution_plot(
        ...     {"d=64, C0/sqrt(d)=0.01": rng.uniform(0.2, 0.8, 500),
        ...      "d=64, C0/sqrt(d)=0.3": rng.uniform(0.1, 1.2, 500)},
        ...     out_of_conditions=["d=64, C0/sqrt(d)=0.3"])
    """
    if not ratios_by_group:
        raise ValueError("ratios_by_group must hold at least one group. Got none.")
    unknown = set(out_of_conditions) - set(ratios_by_group)
    if unknown:
        raise ValueError(f"out_of_conditions names unknown groups {sorted(map(str, unknown))}. "
                         f"Known: {list(map(str, ratios_by_group))}.")
    names = list(ratios_by_group)
    with style.style():
        width = max(style.COLUMN_WIDTH, GROUP_WIDTH * len(names) + 1.0)
        longest = max(len(line) for n in names for line in str(n).split("\n"))
        rotate = longest > style.LEGEND_CHARS_PER_INCH * (width - 1.0) / len(names)
        label_height = 0.06 * longest * (0.5 if rotate else 0.0)
        fig, ax = (ax.figure, ax) if ax is not None else style.new_figure(
            width=width, height=style.PANEL_HEIGHT + label_height)
        ax.set_yscale("log" if logy else "linear")
        color = style.series_color(0)
        for i, name in enumerate(names):
            (p01, median, p99), top, n = _quantiles(ratios_by_group[name], name)
            out = name in out_of_conditions
            c = style.OUTSIDE if out else color
            ax.errorbar([i], [median], yerr=[[median - p01], [p99 - median]], fmt="o",
                        color=c, ecolor=c, mfc="white" if out else c, capsize=4)
            ax.plot([i], [top], "x", color=c)
            above = int(np.sum(np.asarray(ratios_by_group[name], dtype=float) > threshold))
            ax.annotate(f"{above}/{n}", (i, max(top, p99)), textcoords="offset points",
                        xytext=(0, 4), ha="center", fontsize=style.MIN_FONT_SIZE, color=c)
        ax.errorbar([], [], yerr=[], fmt="o", color=color, capsize=4,
                    label="median, bar 1%..99% quantile")
        ax.plot([], [], "x", color=color, label="maximum; count above threshold / points")
        if out_of_conditions:
            ax.plot([], [], "o", mfc="white", mec=style.OUTSIDE, label=out_of_conditions_label)
        ax.axhline(threshold, ls="--", color=style.THRESHOLD, label=threshold_label)
        ax.set_xticks(range(len(names)), [str(n) for n in names],
                      rotation=30 if rotate else 0, ha="right" if rotate else "center")
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.margins(y=0.12)
        return style.finish_axes(fig, ax, xlabel=xlabel, ylabel=ylabel, title=title)


def histogram_with_law(samples, *, pdf: Callable, pdf_label: str, xlabel: str,
                       ylabel: str = "density", sample_label: str = "measured",
                       bins: int | str = "auto", ci_level: float = 0.95,
                       title: str | None = None, ax=None):
    """Histogram of ``samples`` (density) with a Clopper-Pearson CI per bin, beside ``pdf``.

    The CI of bin ``j`` is the exact binomial interval of its probability ``n_j / n``
    divided by the bin width; a predicted density outside many bars' CIs
    disagrees with the sample beyond sampling noise (for independent samples).

    Args:
        samples: `(n,)` finite values.
        pdf: predicted density, a callable ``x -> density`` at its absolute level.
        pdf_label: legend label of the law (write the formula and its source).
        xlabel: x label with units; ``ylabel``: y label.
        sample_label: legend label of the histogram.
        bins: ``numpy.histogram_bin_edges`` bins.
        ci_level: level of the per-bin CI (said in the legend).
        title, ax: as in :func:`ntk_attack.plotting.scaling.scaling_plot`.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:
        >>> import numpy as np
        >>> from ntk_attack.plotting import distributions
        >>> x = np.abs(np.random.default_rng(0).normal(size=2000))
        >>> fig = distributions.histogram_with_law(x, xlabel="|z|",
        ...     pdf=lambda t: 2 * np.exp(-t ** 2 / 2) / np.sqrt(2 * np.pi),
        ...     pdf_label="half-normal density")
    """
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 1 or samples.size < 2 or not np.all(np.isfinite(samples)):
        raise ValueError(f"samples must be a finite 1-d array of at least 2 values. "
                         f"Got shape {samples.shape}.")
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must lie in (0, 1). Got {ci_level}.")
    edges = np.histogram_bin_edges(samples, bins=bins)
    counts, _ = np.histogram(samples, bins=edges)
    n, widths = samples.size, np.diff(edges)
    alpha = 1 - ci_level
    lo = np.where(counts > 0, stats.beta.ppf(alpha / 2, counts, n - counts + 1), 0.0)
    hi = np.where(counts < n, stats.beta.ppf(1 - alpha / 2, counts + 1, n - counts), 1.0)
    density = counts / (n * widths)
    centres = 0.5 * (edges[1:] + edges[:-1])
    with style.style():
        fig, ax = (ax.figure, ax) if ax is not None else style.new_figure()
        color = style.series_color(0)
        ax.bar(centres, density, width=widths, color=color, alpha=0.35, lw=0,
               label=f"{sample_label} (n = {n})")
        ax.errorbar(centres, density, yerr=[density - lo / widths, hi / widths - density],
                    fmt="none", ecolor=color, capsize=0,
                    label=f"{ci_level:.0%} Clopper-Pearson CI per bin")
        grid = np.linspace(edges[0], edges[-1], 300)
        ax.plot(grid, pdf(grid), "-", color=style.PREDICTION, label=pdf_label)
        return style.finish_axes(fig, ax, xlabel=xlabel, ylabel=ylabel, title=title)
