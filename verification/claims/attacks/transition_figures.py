"""Figures and captions of ``phase_transition_in_C0`` (THEORY.md 4), drawn from its JSON data:
the prefactor ``eta* sqrt(d)`` against ``C0 / sqrt(d)`` per ``d`` with the lazy conditions'
boundary, and robust accuracy against ``eps sqrt(d)`` per ``C0``, one panel per ``d``."""
import numpy as np

from ntk_attack import plotting
from ntk_attack.plotting import style


def _by_d(points) -> dict:
    out = {}
    for point in points:
        out.setdefault(point["d"], []).append(point)
    return {d: sorted(rows, key=lambda r: r["C0_hat_over_sqrt_d"]) for d, rows in sorted(out.items())}


def _sweep(data: dict) -> dict:
    """``{d: sweep points sorted by C0}`` (the points of the ``C0 = r sqrt(d)`` sweep)."""
    return {d: sorted(g, key=lambda r: r["C0"]) for d, g in
            _by_d([p for p in data["points"] if p["role"] == "sweep"]).items()}


def prefactor_figure(data: dict):
    """Mean ``eta* sqrt(d)`` (correct test points) against the reached ``C0_hat / sqrt(d)``, one
    series per ``d``, CIs over networks, points outside the lazy conditions hollow.

    Args:
        data: ``{"points": [{"d", "C0_hat_over_sqrt_d", "mean_eta_sqrt_d", "mean_eta_sqrt_d_ci",
            "inside"}], "lazy_boundary", "level"}``.
    """
    groups = _by_d(data["points"])
    rows = list(groups.values())
    return plotting.phase_plot(
        [np.array([r["C0_hat_over_sqrt_d"] for r in g]) for g in rows],
        [np.array([r["mean_eta_sqrt_d"] for r in g]) for g in rows],
        [np.array([r["mean_eta_sqrt_d_ci"][0] for r in g]) for g in rows],
        [np.array([r["mean_eta_sqrt_d_ci"][1] for r in g]) for g in rows],
        labels=[f"d = {d}" for d in groups], lazy_boundary=data["lazy_boundary"],
        lazy_label="C0 <= sqrt(d)/4", out_of_conditions=[np.array([not r["inside"] for r in g]) for g in rows],
        xlabel="reached lazy radius C0_hat / sqrt(d)", ylabel="mean eta* sqrt(d), correct points",
        ci_label=f"{data['level']:.2%} bootstrap CI over networks")


def robust_figure(data: dict):
    """Robust accuracy (line attack) against ``eps sqrt(d)``, one panel per ``d`` of the sweep,
    one series per ``C0``, with clean accuracy at ``eps = 0``."""
    groups = _sweep(data)
    with style.style():
        fig, axes = style.new_figure(1, len(groups), width=style.COLUMN_WIDTH)
        for ax, (d, rows) in zip(np.atleast_1d(axes), groups.items()):
            plotting.robust_accuracy_plot(
                np.array(rows[0]["eps_sqrt_d"]), np.array([r["robust_accuracy"] for r in rows]),
                np.array([[c[0] for c in r["robust_accuracy_ci"]] for r in rows]).clip(0, 1),
                np.array([[c[1] for c in r["robust_accuracy_ci"]] for r in rows]).clip(0, 1),
                labels=[f"C0/sqrt(d) = {r['C0_over_sqrt_d']:.2g}" for r in rows],
                clean_accuracy=[r["clean_accuracy"] for r in rows], title=f"d = {d}",
                ci_label=f"{data['level']:.2%} CI over networks", ax=ax)
        return style.finish(fig)


def figures(data: dict) -> dict:
    return {"prefactor_vs_C0_over_sqrt_d": prefactor_figure(data),
            "robust_accuracy_vs_eps_sqrt_d": robust_figure(data)}


def captions(data: dict) -> dict:
    """Captions written from ``data``: what the prefactor does at matched ``C0 / sqrt(d)``."""
    groups = _sweep(data)
    ds = sorted(groups)
    matched = []
    for i, _ in enumerate(groups[ds[0]]):
        values = [groups[d][i]["mean_eta_sqrt_d"] for d in ds if i < len(groups[d])]
        x = groups[ds[0]][i]["C0_over_sqrt_d"]
        ends = [groups[d][i]["mean_eta_sqrt_d_ci"] for d in (ds[0], ds[-1]) if i < len(groups[d])]
        apart = ends[0][1] < ends[-1][0] or ends[-1][1] < ends[0][0]
        order = "rises with d" if all(np.diff(values) > 0) else (
            "falls with d" if all(np.diff(values) < 0) else "is not monotone in d")
        order += ", CIs of the smallest and largest d disjoint" if apart else ", within the CIs"
        matched.append(plotting.caption("at C0/sqrt(d) = {x}: {v} ({o})", x=x, v=values, o=order))
    reach = max(r["C0_hat_over_sqrt_d"] for g in groups.values() for r in g)
    growth = "; ".join(plotting.caption("d = {d}: {s} [{lo}, {hi}]", d=int(d), s=g["slope"], lo=g["ci"][0],
                                        hi=g["ci"][1]) for d, g in data["growth"].items())
    path = "; ".join(plotting.caption("r = {r}: {s} [{lo}, {hi}]", r=float(r), s=g["slope"], lo=g["ci"][0],
                                      hi=g["ci"][1]) for r, g in data["path"].items())
    rises = [m for m in matched if "rises" in m and "disjoint" in m]
    verdict = ("Where larger d sits higher at equal C0/sqrt(d) beyond the CIs ("
               f"{len(rises)} of {len(matched)} radii), the prefactor tracks C0 rather than C0/sqrt(d)"
               if rises else "At equal C0/sqrt(d) no series of one d sits above another beyond the CIs")
    return {
        "prefactor_vs_C0_over_sqrt_d": (
            f"Mean eta* sqrt(d) (MNIST 0 vs 1, d = {ds}) against the reached C0_hat/sqrt(d), up to "
            f"{reach:.2g}; hollow: outside the lazy conditions (shaded: C0 <= sqrt(d)/4). Means over d = "
            f"{ds}: " + "; ".join(matched) + f". {verdict}. Measured, not predicted: log-log slope against "
            f"C0 at fixed d {growth}; slope against d along C0 = r sqrt(d) {path} (-1/2 would be the lazy law)."),
        "robust_accuracy_vs_eps_sqrt_d": (
            f"Robust accuracy under the line attack against eps sqrt(d), one panel per d = {ds}, one "
            "series per C0 = r sqrt(d); ticks at eps = 0: clean accuracy. " + "; ".join(
                _robust_line(d, rows) for d, rows in groups.items()) + ".")}


def _robust_line(d, rows) -> str:
    """What the robust accuracy does with ``C0`` at the middle radius of the grid, in words."""
    j = len(rows[0]["eps_sqrt_d"]) // 2
    values = [r["robust_accuracy"][j] for r in rows]
    trend = ("rises with C0" if all(np.diff(values) >= 0) else
             "falls with C0" if all(np.diff(values) <= 0) else "is not monotone in C0")
    return plotting.caption("d = {d}: at eps sqrt(d) = {e}, robust accuracy {v} for C0 = {c} ({t})",
                            d=int(d), e=rows[0]["eps_sqrt_d"][j], v=values,
                            c=[r["C0"] for r in rows], t=trend)
