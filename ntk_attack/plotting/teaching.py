"""Figures of the tutorial (``docs/tutorial.ipynb``): arrays in, a matplotlib ``Figure`` out.

Each function takes a student's own measurements (means with confidence intervals, images,
kernel entries) and the predictions to draw beside them, and returns a ``Figure`` built
without ``pyplot`` (STYLE.md rule 10). Predictions are passed in at their absolute level;
nothing here computes a prediction.
"""
import numpy as np
from matplotlib.ticker import NullLocator

from ntk_attack.plotting import common


def _as_1d(values, name: str, k: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or (k is not None and array.shape != (k,)):
        expected = "(k,)" if k is None else f"({k},)"
        raise ValueError(f"{name} must have shape {expected}. Got {array.shape}.")
    return array


def _ci_errors(mean, ci, name: str) -> np.ndarray | None:
    """``(2, k)`` distances below and above ``mean`` from the interval ``ci: (2, k)``."""
    if ci is None:
        return None
    ci = np.asarray(ci, dtype=float)
    if ci.shape != (2, mean.size):
        raise ValueError(f"ci[{name!r}] must have shape (2, {mean.size}). Got {ci.shape}.")
    return np.stack([mean - ci[0], ci[1] - mean])


def measured_vs_predicted(x, measured: dict, *, predicted: dict | None = None,
                          ci: dict | None = None, xlabel: str, ylabel: str, title: str = "",
                          log: bool = True):
    """Measurements against ``x`` with their CIs, each beside its prediction (dashed, same colour).

    Args:
        x: `(k,)` positive abscissae (e.g. ``d`` or ``m``).
        measured: ``{label: (k,)}`` estimates (e.g. means over networks).
        predicted: ``{label: (values: (k,), legend)}``, keyed like ``measured``, drawn at their
            absolute level; a label may be absent (no prediction).
        ci: ``{label: (2, k)}`` lower and upper confidence limits, keyed like ``measured``.
        xlabel, ylabel, title: axis labels (with units) and title.
        log: log-log axes.

    Returns:
        A ``Figure`` with one panel.
    """
    x = _as_1d(x, "x")
    predicted, ci = predicted or {}, ci or {}
    unknown = (set(predicted) | set(ci)) - set(measured)
    if unknown:
        raise ValueError(f"predicted and ci must be keyed like measured ({sorted(measured)}). "
                         f"Got extra keys {sorted(unknown)}.")
    fig, ax = common.new_figure(width=5.5, height=4.0)
    for i, (label, values) in enumerate(measured.items()):
        values = _as_1d(values, f"measured[{label!r}]", x.size)
        ax.errorbar(x, values, yerr=_ci_errors(values, ci.get(label), label), fmt="o-",
                    color=f"C{i}", capsize=3, label=f"{label} (measured)")
        if label in predicted:
            line, legend = predicted[label]
            ax.plot(x, _as_1d(line, f"predicted[{label!r}]", x.size), "--", color=f"C{i}",
                    label=legend)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small")
    return fig


def attack_images(clean, perturbation, attacked, *, captions):
    """One row per image size: the clean image, the perturbation ``delta`` and ``x + delta``.

    The clean and attacked images share one grey scale per row, so the change is drawn to
    scale; the perturbation has its own symmetric colour scale (red positive, blue negative).

    Args:
        clean, perturbation, attacked: lists of `(side, side)` arrays, one per row.
        captions: list of ``(clean, perturbation, attacked)`` title strings per row (e.g.
            ``f(x)``, ``eta*``, ``||delta||`` and ``d``).

    Returns:
        A ``Figure`` with ``len(clean)`` rows and 3 columns.
    """
    rows = len(clean)
    if not (rows == len(perturbation) == len(attacked) == len(captions)) or rows == 0:
        raise ValueError("clean, perturbation, attacked and captions must be non-empty lists of "
                         f"one length. Got {len(clean)}, {len(perturbation)}, {len(attacked)}, "
                         f"{len(captions)}.")
    fig, axes = common.new_figure(rows, 3, width=3.3, height=3.3)
    axes = np.atleast_2d(axes)
    for row, (x, delta, x_adv, titles) in enumerate(zip(clean, perturbation, attacked, captions)):
        x, delta, x_adv = (np.asarray(a, dtype=float) for a in (x, delta, x_adv))
        if x.ndim != 2 or not x.shape == delta.shape == x_adv.shape:
            raise ValueError(f"row {row}: images must be (side, side) arrays of one shape. "
                             f"Got {x.shape}, {delta.shape}, {x_adv.shape}.")
        low, high = min(x.min(), x_adv.min()), max(x.max(), x_adv.max())
        bound = np.abs(delta).max() or 1.0
        for ax, image, title, style in zip(
                axes[row], (x, delta, x_adv), titles,
                ({"cmap": "gray", "vmin": low, "vmax": high},
                 {"cmap": "RdBu_r", "vmin": -bound, "vmax": bound},
                 {"cmap": "gray", "vmin": low, "vmax": high})):
            shown = ax.imshow(image, **style)
            ax.set_title(title, fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(shown, ax=ax, shrink=0.8)
    return fig


def kernel_vs_angle(cos, empirical: dict, *, curve_cos, curve, ylabel: str):
    """Empirical kernel entries against ``cos(theta)``, one panel per width, over the analytic curve.

    Args:
        cos: `(n,)` cosines of the input pairs.
        empirical: ``{m: (n,)}`` entries of the width-``m`` empirical kernel for those pairs.
        curve_cos: `(k,)` cosines at which the analytic kernel is given.
        curve: `(k,)` analytic kernel values (e.g. ``c (pi - arccos c) / (2 pi)`` for unit inputs).
        ylabel: what the entries are.

    Returns:
        A ``Figure`` with one panel per width, axes shared.
    """
    cos = _as_1d(cos, "cos")
    curve_cos = _as_1d(curve_cos, "curve_cos")
    curve = _as_1d(curve, "curve", curve_cos.size)
    fig, axes = common.new_figure(1, len(empirical), width=3.5, height=3.3, sharey=True)
    for ax, (m, values) in zip(np.atleast_1d(axes), empirical.items()):
        ax.plot(cos, _as_1d(values, f"empirical[{m}]", cos.size), ".", ms=3,
                color=common.MEASURED, alpha=0.5, label=f"empirical, m = {m}")
        ax.plot(curve_cos, curve, "-", color=common.PREDICTED, label="analytic")
        ax.set_xlabel("cos(theta) between the inputs")
        ax.set_title(f"width m = {m}")
        ax.legend(fontsize="small")
    np.atleast_1d(axes)[0].set_ylabel(ylabel)
    return fig


def phase_transition(C0_over_sqrt_d, prefactor, robust, *, prefactor_ci=None, robust_ci=None,
                     eps_label: str):
    """The attack size's prefactor and robust accuracy against the lazy radius ``C0 / sqrt(d)``.

    Args:
        C0_over_sqrt_d: `(k,)` positive radii (measured ``C0_hat / sqrt(d)``).
        prefactor: `(k,)` e.g. the median of ``eta* sqrt(d)`` over test points.
        robust: `(k,)` robust accuracy at one radius.
        prefactor_ci, robust_ci: optional `(2, k)` confidence limits.
        eps_label: the attack radius, for the axis label (e.g. ``"eps = 1/sqrt(d)"``).

    Returns:
        A ``Figure`` with two panels.
    """
    x = _as_1d(C0_over_sqrt_d, "C0_over_sqrt_d")
    fig, axes = common.new_figure(1, 2, width=4.2, height=3.5)
    for ax, values, ci, label in ((axes[0], prefactor, prefactor_ci, "median eta* sqrt(d)"),
                                  (axes[1], robust, robust_ci, f"robust accuracy at {eps_label}")):
        values = _as_1d(values, label, x.size)
        ax.errorbar(x, values, yerr=_ci_errors(values, ci, label), fmt="o-",
                    color=common.MEASURED, capsize=3)
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:.2g}" for v in x])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.axvline(1.0, ls=":", color=common.PREDICTED, label="C0 = sqrt(d)")
        ax.set_xlabel("lazy radius C0 / sqrt(d)")
        ax.set_ylabel(label)
        ax.legend(fontsize="small")
    axes[1].set_ylim(-0.02, 1.02)
    return fig
