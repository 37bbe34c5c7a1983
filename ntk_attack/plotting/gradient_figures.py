"""Figures of the kernel-vs-network gradient claims (``verification.gradient_claims``, THEORY.md 6).

Each function takes a claim's ``data`` record (JSON-able: lists of per-network values of
shape `(n_networks, n_widths)` per data set) and returns a ``matplotlib.figure.Figure``.
Points are means over networks, error bars one standard deviation over networks.
"""
import numpy as np
from matplotlib.ticker import NullFormatter

from ntk_attack.plotting import common

# (data key, legend label, predicted-slope key or a fixed slope)
DISTANCES = (
    ("trained", "|grad f_t - grad f_0 - grad h_t| / |grad h_t|", "trained"),
    ("lin_to_limit", "|g_lin - L| / |L| (linearisation to its limit)", "linearization"),
    ("lin_to_kernel", "|g_lin - grad h_t| / |grad h_t| (misses the angle term)", 0.0),
    ("persist_paired", "|grad f_t - grad h_t| / |grad f_0|", 0.0),
)


def _mean_sd(values):
    values = np.asarray(values, dtype=float)
    return values.mean(axis=0), values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])


def _predicted_line(ax, widths, y, slope, color):
    widths = np.asarray(widths, dtype=float)
    log_c = np.mean(np.log(y)) - slope * np.mean(np.log(widths))
    grid = np.geomspace(widths.min(), widths.max(), 50)
    ax.plot(grid, np.exp(log_c) * grid ** slope, "--", color=color, alpha=0.7)


def _width_axis(ax, widths):
    ax.set_xscale("log")
    ax.set_xticks(widths, [f"{int(w)}" for w in widths])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("width m")


def distance_vs_width(data: dict):
    """Relative gradient distances against width ``m`` (log-log), one panel per data set.

    One line per comparison (:data:`DISTANCES`); each has its predicted slope dashed beside it,
    through the geometric mean of the measurement (the slope is the prediction, not the level),
    and the angle term, the predicted level of the linearisation's gap, is dotted.

    Args:
        data: ``{"widths": (k,), "slopes": {name: slope}, "series": {dataset: {key: (n, k)}}}``
            with keys among those of :data:`DISTANCES` and ``"angle"``.
    """
    widths = np.asarray(data["widths"], dtype=float)
    series = data["series"]
    fig, axes = common.new_figure(1, len(series), width=5.5, height=4.2)
    axes = np.atleast_1d(axes)
    for ax, (name, s) in zip(axes, series.items()):
        for i, (key, label, slope) in enumerate(DISTANCES):
            if key not in s:
                continue
            slope = data["slopes"][slope] if isinstance(slope, str) else slope
            mean, sd = _mean_sd(s[key])
            color = f"C{i}"
            ax.errorbar(widths, mean, yerr=sd, fmt="o-", color=color, capsize=3,
                        label=f"{label}; predicted slope {slope:g} (dashed)")
            _predicted_line(ax, widths, mean, slope, color)
        if "angle" in s:
            ax.plot(widths, _mean_sd(s["angle"])[0], ":", color="k",
                    label="predicted gap: angle term |grad h_t - L| / |grad h_t|")
        ax.set_yscale("log")
        _width_axis(ax, widths)
        ax.set_ylabel("relative distance of input gradients")
        ax.set_title(name)
        ax.legend(fontsize=6)
    return fig


def cosine_vs_width(data: dict):
    """Cosine between network and kernel-predictor input gradients against width ``m``.

    Lines: ``cos(grad f_t, grad h_t)`` with antisymmetric init (``f_0 == 0``, tends to 1), and
    with balanced init ``cos(grad f_t, grad h_t)`` (stays small: the init's ``sqrt(d)`` gradient)
    and ``cos(grad f_t - grad f_0, grad h_t)`` (tends to 1).

    Args:
        data: ``{"widths": (k,), "series": {dataset: {"cos_full": (n, k)}},
            "balanced": {dataset: {"cos_full": (n, k), "cos_delta": (n, k)}}}``.
    """
    widths = np.asarray(data["widths"], dtype=float)
    fig, axes = common.new_figure(1, len(data["series"]), width=5.0, height=4.0)
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, data["series"]):
        lines = (("antisymmetric init: cos(grad f_t, grad h_t)", data["series"][name]["cos_full"]),
                 ("balanced init: cos(grad f_t, grad h_t)", data["balanced"][name]["cos_full"]),
                 ("balanced init: cos(grad f_t - grad f_0, grad h_t)", data["balanced"][name]["cos_delta"]))
        for i, (label, values) in enumerate(lines):
            mean, sd = _mean_sd(values)
            ax.errorbar(widths, mean, yerr=sd, fmt="o-", color=f"C{i}", capsize=3, label=label)
        ax.axhline(1.0, color=common.PREDICTED, ls="--", lw=1, label="kernel limit (cosine 1)")
        _width_axis(ax, widths)
        ax.set_ylim(-0.1, 1.05)
        ax.set_ylabel("cosine similarity (mean over test points)")
        ax.set_title(name)
        ax.legend(fontsize=6)
    return fig
