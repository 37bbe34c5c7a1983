"""The regimes figure of ``narrow_attack_size_limit_law``: the attack size from m << d to m >> d."""
import numpy as np

from narrow_width import limit_law
from ntk_attack import theory
from ntk_attack.plotting import common

Z_999 = 3.29  # normal quantile of a two-sided 99.9% interval


def mean_and_half(per_network) -> tuple:
    """Mean over networks and the half-width of its ~99.9% normal interval, per grid value."""
    rows = [np.asarray(v, float) for v in per_network]
    return (np.array([v.mean() for v in rows]),
            np.array([Z_999 * v.std(ddof=1) / np.sqrt(v.size) for v in rows]))


def regimes(data: dict) -> dict:
    """Left: mean ``eta* sqrt(d)`` (points with ``A-`` nonempty, CI over networks) against ``m / d``
    at ``d = 1024``, beside the limit law (``m << d``) and THEORY.md 3's finite-d value
    (``m >> d``). Right: the strict-flip fraction against ``m`` beside ``1 - p0(m)`` and the
    limit ``(1 - p0)(1 - P2)``."""
    d, m = data["regimes_d"], np.asarray(data["regimes_m"], float)
    mean, half = mean_and_half(data["regimes_T"])
    fig, (left, right) = common.new_figure(1, 2, width=5.0, height=4.2)
    keep = m >= 8
    left.errorbar(m[keep] / d, mean[keep], yerr=half[keep], fmt="o", color=common.MEASURED, capsize=3,
                  label="measured, ~99.9% CI over networks")
    narrow = [(mm, t) for (mm, dd), t in zip(data["grid"], data["T_law"]) if dd == d]
    left.plot([mm / d for mm, _ in narrow], [t for _, t in narrow], "s--", color=common.PREDICTED,
              label="limit law, m << d (Monte Carlo)")
    wide = theory.init_eta_sqrt_d_finite(d)
    left.hlines(wide, 1, m.max() / d, colors="C2", linestyles=":", label=f"m >> d, THEORY.md 3: {wide:.3f}")
    left.set(xscale="log", xlabel=f"m / d  (d = {d})", ylabel="mean eta* sqrt(d), A- nonempty")
    strict, strict_half = mean_and_half(data["regimes_strict"])
    even = np.unique(np.concatenate([np.arange(2, 66, 2), np.geomspace(64, m.max(), 40).round()]))
    p0, p2 = 2.0 ** -even, limit_law.no_strict_flip(even, even // 2)
    right.errorbar(m, strict, yerr=strict_half, fmt="o", color=common.MEASURED, capsize=3,
                   label="measured strict-flip fraction")
    right.plot(even, 1 - p0, ":", color="C2", label="1 - p0 = 1 - 2^-m (a gradient)")
    right.plot(even, (1 - p0) * (1 - p2), "--", color=common.PREDICTED, label="(1 - p0)(1 - P2), d -> inf")
    right.set(xscale="log", xlabel=f"width m  (d = {d})", ylabel="fraction of points")
    for ax in (left, right):
        ax.xaxis.set_major_formatter("{x:g}")
        ax.legend(fontsize="small", loc="lower left", bbox_to_anchor=(0, 1.01), borderaxespad=0, frameon=False)
    return {"regimes": fig}
