"""Figures of the attack claims (``verification.attack_claims``, THEORY.md sections 3-4).

Each function takes the ``data`` record of one claim (as read back from ``report.json``:
lists and dicts) and returns a matplotlib ``Figure``, the prediction drawn beside the
measurement.
"""
import math

import numpy as np

from ntk_attack import theory
from ntk_attack.plotting import common


def eta_histogram(data: dict):
    """Histogram of ``eta* sqrt(d)`` at init against the predicted law ``sqrt(2) |N(0, sigma^2)|``,
    ``sigma^2 = 1/2 - 1/(2 pi)`` (THEORY.md 3; balanced signs).

    Args:
        data: ``{"eta_sqrt_d_sample": (n,), "sigma_f": float, "sample_d": int}``.
    """
    sample = np.asarray(data["eta_sqrt_d_sample"], dtype=float)
    scale = math.sqrt(2) * data["sigma_f"]
    fig, ax = common.new_figure()
    ax.hist(sample, bins=60, density=True, color=common.MEASURED, alpha=0.6,
            label=f"measured, d = {data['sample_d']}")
    grid = np.linspace(0, sample.max(), 300)
    ax.plot(grid, 2 / (scale * math.sqrt(2 * math.pi)) * np.exp(-grid ** 2 / (2 * scale ** 2)), "-",
            color=common.PREDICTED, label="predicted sqrt(2)|N(0, sigma^2)|")
    ax.set_xlabel("eta* sqrt(d) (attack size times sqrt of input dimension)")
    ax.set_ylabel("density")
    ax.set_title("attack size at initialisation")
    ax.legend(fontsize="small")
    return fig


def curvature_vs_d(data: dict):
    """Mean ``eta* / (|f| / ||grad f||) - 1`` against ``d``, log-log, beside
    :func:`ntk_attack.theory.curvature_excess`.

    Args:
        data: ``{"d": (k,), "mean_ratio": (k,)}``.
    """
    d = np.asarray(data["d"], dtype=float)
    fig, ax = common.new_figure()
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.plot(d, np.asarray(data["mean_ratio"]) - 1, "o-", color=common.MEASURED, label="measured")
    ax.plot(d, theory.curvature_excess(d), "--", color=common.PREDICTED,
            label=f"{theory.CURVATURE_COEFFICIENT:g} / sqrt(d) (THEORY.md 3)")
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("mean eta* / first-order prediction - 1")
    ax.set_title("curvature correction at initialisation")
    ax.legend(fontsize="small")
    return fig


def eta_vs_d(data: dict):
    """Mean ``eta*`` against ``d`` at init and after lazy training at fixed ``C0``, log-log,
    with the predicted init mean ``theory.init_eta_sqrt_d() / sqrt(d)`` (slope ``-1/2``, THEORY.md 3).

    Args:
        data: ``{"d", "init_mean_eta", "predicted_mean_eta_sqrt_d",
            "trained": {C0: {"d", "mean_eta"}}}``.
    """
    d = np.asarray(data["d"], dtype=float)
    fig, ax = common.new_figure()
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.plot(d, data["init_mean_eta"], "o-", color=common.MEASURED, label="init")
    for i, (C0, trained) in enumerate(data["trained"].items()):
        ax.plot(trained["d"], trained["mean_eta"], "s-", color=f"C{i + 1}",
                label=f"trained, C0 = {C0}")
    ax.plot(d, data["predicted_mean_eta_sqrt_d"] / np.sqrt(d), "--", color=common.PREDICTED,
            label=f"predicted at init, {data['predicted_mean_eta_sqrt_d']:.3f} / sqrt(d)")
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("mean attack size eta* (flipped points)")
    ax.legend(fontsize="small")
    return fig


def eta_vs_m(data: dict):
    """Mean ``eta*`` at init against the width ``m`` (log-log) with the predicted flat line.

    Args:
        data: ``{"m", "d", "mean_eta", "predicted_mean_eta_sqrt_d"}``.
    """
    m = np.asarray(data["m"], dtype=float)
    fig, ax = common.new_figure()
    common.loglog_with_slope(ax, m, np.asarray(data["mean_eta"], dtype=float), 0.0,
                             label=f"measured, d = {data['d']}", slope_label="slope 0 (fitted level)")
    ax.axhline(data["predicted_mean_eta_sqrt_d"] / math.sqrt(data["d"]), ls=":",
               color=common.PREDICTED,
               label=f"first-order prediction {data['predicted_mean_eta_sqrt_d']:.3f} / sqrt(d)")
    ax.set_xlabel("width m")
    ax.set_ylabel("mean attack size eta* (flipped points)")
    ax.legend(fontsize="small")
    return fig


def bound_vs_C0(data: dict):
    """Median ``eta*`` and median envelope ``B(x)`` against ``C0 / sqrt(d)`` per ``d``.

    Args:
        data: ``{"grid": [{"d", "C0_over_sqrt_d", "median_eta", "median_bound"}, ...]}``.
    """
    fig, ax = common.new_figure()
    ax.set_xscale("log")
    ax.set_yscale("log")
    for i, d in enumerate(sorted({row["d"] for row in data["grid"]})):
        rows = sorted((r for r in data["grid"] if r["d"] == d), key=lambda r: r["C0_over_sqrt_d"])
        x = [r["C0_over_sqrt_d"] for r in rows]
        ax.plot(x, [r["median_eta"] for r in rows], "o-", color=f"C{i}", label=f"eta*, d = {d}")
        bound = [r["median_bound"] for r in rows]
        finite = np.isfinite(bound)
        ax.plot(np.asarray(x)[finite], np.asarray(bound)[finite], "--", color=f"C{i}",
                label=f"envelope B(x), d = {d}")
    ax.set_xlabel("lazy radius C0 / sqrt(d)")
    ax.set_ylabel("median over points")
    ax.set_title("attack size under the lazy envelope")
    ax.legend(fontsize="small")
    return fig


def constant_vs_d(data: dict):
    """95th percentile of ``eta* sqrt(d) / (|f0| + C0)`` against ``d`` per ``C0`` (log x).

    Args:
        data: ``{"d": (k,), "quantile_per_d": {C0: (k,)}}``.
    """
    fig, ax = common.new_figure()
    ax.set_xscale("log")
    for C0, values in data["quantile_per_d"].items():
        ax.plot(data["d"], values, "o-", label=f"C0 = {C0}")
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("95% quantile of eta* sqrt(d) / (|f0| + C0)")
    ax.set_title("the constant K does not grow with d")
    ax.legend(fontsize="small")
    return fig


def _by_d(points):
    out = {}
    for point in points:
        out.setdefault(point["d"], []).append(point)
    return {d: sorted(rows, key=lambda r: r["C0"]) for d, rows in sorted(out.items())}


def prefactor_vs_C0(data: dict):
    """Median ``eta* sqrt(d)`` against ``C0`` and against ``C0 / sqrt(d)`` per ``d`` (MNIST).

    Args:
        data: ``{"points": [{"d", "C0", "C0_over_sqrt_d", "median_eta_sqrt_d"}, ...], "c"}``.
    """
    fig, axes = common.new_figure(1, 2)
    for i, (d, rows) in enumerate(_by_d(data["points"]).items()):
        for ax, key in zip(axes, ("C0", "C0_over_sqrt_d")):
            ax.plot([r[key] for r in rows], [r["median_eta_sqrt_d"] for r in rows], "o-",
                    color=f"C{i}", label=f"d = {d}")
    axes[1].axvline(data["c"], ls=":", color=common.PREDICTED, label=f"path C0 = {data['c']} sqrt(d)")
    for ax, label in zip(axes, ("lazy radius C0", "C0 / sqrt(d)")):
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("median eta* sqrt(d), correct test points")
        ax.legend(fontsize="small")
    axes[0].set_title("prefactor grows with C0")
    return fig


def robust_accuracy_vs_C0(data: dict):
    """Robust accuracy (line attack) against ``C0 / sqrt(d)``, one panel per radius ``eps``.

    Args:
        data: ``{"points": [{"d", "C0_over_sqrt_d", "robust_accuracy": (k,), "test_accuracy"}],
            "eps_grid": (k,)}``.
    """
    eps_grid = data["eps_grid"]
    fig, axes = common.new_figure(1, len(eps_grid), width=3.5)
    axes = np.atleast_1d(axes)
    for i, (d, rows) in enumerate(_by_d(data["points"]).items()):
        rows = sorted(rows, key=lambda r: r["C0_over_sqrt_d"])
        x = [r["C0_over_sqrt_d"] for r in rows]
        for j, ax in enumerate(axes):
            ax.plot(x, [r["robust_accuracy"][j] for r in rows], "o-", color=f"C{i}", label=f"d = {d}")
    for ax, eps in zip(axes, eps_grid):
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("C0 / sqrt(d)")
        ax.set_ylabel(f"robust accuracy at eps = {eps}")
        ax.legend(fontsize="small")
    return fig
