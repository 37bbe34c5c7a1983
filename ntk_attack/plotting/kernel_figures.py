"""Figures of the kernel claims (``verification.kernel_claims``, THEORY.md section 5).

Each function takes the ``data`` record of ``empirical_converges_to_analytic`` (as read back
from ``report.json``: lists and dicts) and returns a matplotlib ``Figure``.
"""
import numpy as np

from ntk_attack import theory
from ntk_attack.plotting import common


def error_vs_width(data: dict):
    """RMS entry error of ``Theta_hat - Theta_W`` against width ``m``, log-log, with the exact
    prediction ``sqrt(mean (x.x')^2 p (1-p) / m)`` (times ``sqrt 2`` for antisymmetric init),
    a line of slope ``-1/2``.

    Args:
        data: ``{"widths": (k,), "rms_error": {signs: (k,)}, "predicted_rms": {signs: (k,)}}``.
    """
    widths = np.asarray(data["widths"], dtype=float)
    fig, ax = common.new_figure()
    ax.set_xscale("log")
    ax.set_yscale("log")
    for i, (signs, rms) in enumerate(data["rms_error"].items()):
        ax.plot(widths, rms, "o", color=f"C{2 * i}", label=f"measured, {signs} signs")
        ax.plot(widths, data["predicted_rms"][signs], "--", color=f"C{2 * i + 1}",
                label=f"predicted ~ m^(-1/2), {signs}")
    ax.set_xlabel("width m")
    ax.set_ylabel("RMS entry error of empirical NTK")
    ax.set_title("Theta_hat - Theta_W against width")
    ax.legend(fontsize="small")
    return fig


def kernel_vs_angle(data: dict):
    """Empirical first-layer NTK entries of one network per width against the angle ``theta``,
    on the analytic curve ``Theta_W = cos(theta) (pi - theta) / (2 pi)`` (unit inputs).

    Args:
        data: ``{"angle": (k,), "theta_hat": {str(m): (k,)}, "theta_hat_signs": str}``, the
            ``k`` upper-triangle entries of the kernel matrix.
    """
    fig, ax = common.new_figure()
    for i, (m, theta_hat) in enumerate(data["theta_hat"].items()):
        ax.scatter(data["angle"], theta_hat, s=8, alpha=0.6, color=f"C{i}", label=f"empirical, m = {m}")
    grid = np.linspace(0, np.pi, 200)
    ax.plot(grid, np.cos(grid) * theory.kappa0(np.cos(grid)), "-", color="k", label="analytic Theta_W")
    ax.set_xlabel("angle theta between inputs (rad)")
    ax.set_ylabel("first-layer NTK")
    ax.set_title(f"one network per width, {data['theta_hat_signs']} signs")
    ax.legend(fontsize="small")
    return fig
