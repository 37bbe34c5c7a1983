"""Empirical kernel entries against the angle between inputs, on the analytic kernel
(THEORY.md section 5: ``Theta_W(theta) = cos(theta) (pi - theta) / (2 pi)`` on unit inputs).
"""
from typing import Callable, Mapping

import numpy as np

from ntk_attack.plotting import style


def kernel_vs_angle(theta, empirical_by_width: Mapping, analytic: Callable, *,
                    analytic_label: str = "analytic kernel",
                    predicted_sd: Callable | None = None, band_z: float = 2.0,
                    xlabel: str = "angle theta between inputs (rad)",
                    ylabel: str = "kernel entry (dimensionless)", title: str | None = None,
                    ax=None):
    """Scatter of empirical kernel entries per width against ``theta``, the analytic curve,
    and optionally the predicted Monte Carlo spread as a band per width.

    Args:
        theta: `(k,)` angles in ``[0, pi]``.
        empirical_by_width: ``{m: (k,) entries}`` (one network per width).
        analytic: callable ``theta -> kernel`` (the infinite-width limit).
        analytic_label: legend label of the curve.
        predicted_sd: optional callable ``(theta, m) -> SD`` of one network's entry at width
            ``m``; draws ``analytic +- band_z SD`` per width (the band the entries should
            mostly fall in, labelled with ``band_z``).
        band_z: band half-width in SDs.
        xlabel, ylabel, title, ax: as in :func:`ntk_attack.plotting.scaling.scaling_plot`.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:
        >>> import numpy as np
        >>> from ntk_attack.plotting import kernel_angle
        >>> th = np.linspace(0, np.pi, 40)
        >>> law = lambda t: np.cos(t) * (np.pi - t) / (2 * np.pi)
        >>> noise = np.random.default_rng(0).normal(size=40)
        >>> fig = kernel_angle.kernel_vs_angle(th, {64: law(th) + 0.05 * noise}, law,
        ...     predicted_sd=lambda t, m: 0.4 / np.sqrt(m) + 0 * t)
    """
    theta = np.asarray(theta, dtype=float)
    if theta.ndim != 1 or np.any((theta < 0) | (theta > np.pi + 1e-9)):
        raise ValueError(f"theta must be a 1-d array in [0, pi]. Got shape {theta.shape}, "
                         f"range [{theta.min():.3g}, {theta.max():.3g}].")
    for m, values in empirical_by_width.items():
        if np.shape(values) != theta.shape:
            raise ValueError(f"empirical_by_width[{m}] must have shape {theta.shape}. "
                             f"Got {np.shape(values)}.")
    grid = np.linspace(0, np.pi, 200)
    with style.style():
        fig, ax = (ax.figure, ax) if ax is not None else style.new_figure()
        for i, (m, values) in enumerate(empirical_by_width.items()):
            color = style.series_color(i)
            ax.scatter(theta, values, s=6, alpha=0.7, color=color, lw=0,
                       label=f"empirical, m = {m}")
            if predicted_sd is not None:
                sd = predicted_sd(grid, m)
                ax.fill_between(grid, analytic(grid) - band_z * sd, analytic(grid) + band_z * sd,
                                color=color, alpha=0.15, lw=0,
                                label=f"analytic +- {band_z:g} predicted SD (per width)")
        ax.plot(grid, analytic(grid), "-", color=style.PREDICTION, label=analytic_label)
        ax.set_xlim(0, np.pi)
        ax.set_xticks([0, np.pi / 4, np.pi / 2, 3 * np.pi / 4, np.pi],
                      ["0", "π/4", "π/2", "3π/4", "π"])
        return style.finish_axes(fig, ax, xlabel=xlabel, ylabel=ylabel, title=title)
