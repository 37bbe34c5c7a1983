"""Claim ``deep_lazy_training_attack``: every layer of a deep ReLU net trained lazily (each
unit's incoming weights within ``C0 / sqrt(n_l)`` of init, :mod:`ntk_attack.deep_training`) on
MNIST 0 vs 1 stays inside its ball, and the single-step attack still flips at the first-order
size ``|f| / ||grad_x f||``: ``eta* = O(1 / sqrt(d))`` (THEORY.md 4, 9; notation in
:mod:`.measure`). ``eta* sqrt(d)``, ``C0_hat`` per layer and the accuracy are measurements."""
import dataclasses
import math

import numpy as np

from ntk_attack import plotting, theory
from ntk_attack.plotting import style
from verification import protocol, registry
from verification.claims import stats
from verification.claims.deep import measure

CACHE_VERSION = 1
RADIUS_TOL = 1e-9  # the projection lands on the ball up to float64 rounding of a norm
FIRST_ORDER_BAND = protocol.Band(
    0.8, 1.25, 0.1, "first-order law (THEORY.md 3) on the trained network; margin 25% (symmetric "
    "in log) for the curvature, which at depth is not predicted (at init, d = 64, L <= 2 the "
    "median ratio is 1.02-1.09).")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """MNIST side (``d = side^2``), architecture, lazy radii and training of each trained point."""
    side: int
    n_train: int
    widths: tuple
    C0s: tuple
    lr: float
    steps: int
    n_networks: int
    n_test: int


GRIDS = {"quick": Grid(side=8, n_train=200, widths=(128, 128), C0s=(2.0,), lr=20.0, steps=20,
                       n_networks=32, n_test=25),
         "full": Grid(side=14, n_train=400, widths=(512, 512), C0s=(1.0, 3.0), lr=20.0, steps=100,
                      n_networks=12, n_test=100)}


def lazy_points(grid: Grid, seed: int) -> list:
    return [measure.LazyPoint(side=grid.side, n_train=grid.n_train, widths=grid.widths, C0=C0, lr=grid.lr,
                              steps=grid.steps, n_networks=grid.n_networks, n_test=grid.n_test,
                              seed=protocol.derive_seed(seed, "deep lazy", C0))
            for C0 in grid.C0s]


def median_ratio(eta, first_order, max_ratio: float = measure.LazyPoint.max_ratio) -> np.ndarray:
    """`(N,)` per-network median of ``eta* / first_order``; a point without a flip within
    ``max_ratio`` times the first-order size counts as ``max_ratio`` (a lower bound), so a
    network whose points mostly do not flip has a finite median far above the band."""
    return np.median(np.minimum(np.asarray(eta) / np.asarray(first_order), max_ratio), axis=1)


def judge_lazy(by_C0: dict, *, level: float, seed: int) -> list:
    """Per ``C0``: ``max C0_hat <= C0`` (deterministic) and the first-order law after training.

    Args:
        by_C0: ``{C0: lazy_point result}``.
    """
    checks = []
    for C0, result in by_C0.items():
        C0_hat = float(np.max(result["C0_hat"]))
        checks.append(protocol.exact_check(
            f"C0 = {C0:g}: max over networks and layers of C0_hat / C0", prediction="<= 1",
            value=C0_hat / C0, band=protocol.Band(-math.inf, 1 + RADIUS_TOL, 0,
                                                  "projection after every step; float64 rounding")))
        checks.append(stats.bootstrap_check(
            f"C0 = {C0:g}: mean per-network median eta* / (|f| / ||grad f||) after training",
            median_ratio(result["eta"], result["first_order"]), prediction="1 (first order)",
            band=FIRST_ORDER_BAND, level=level, seed=protocol.derive_seed(seed, "lazy ratio", C0),
            predicted=1.0))
    return checks


def summary(result: dict, d: int) -> dict:
    """Labelled measurements of one trained point."""
    def median_eta_sqrt_d(eta):
        return float(np.median(np.asarray(eta)) * math.sqrt(d))
    return {"median_eta_sqrt_d_init": median_eta_sqrt_d(result["eta_0"]),
            "median_eta_sqrt_d_trained": median_eta_sqrt_d(result["eta"]),
            "per_network_median_eta_sqrt_d_init": list(np.median(result["eta_0"], axis=1) * math.sqrt(d)),
            "per_network_median_eta_sqrt_d_trained": list(np.median(result["eta"], axis=1) * math.sqrt(d)),
            "median_ratio_init": float(np.median(median_ratio(result["eta_0"], result["first_order_0"]))),
            "C0_hat_per_layer": [float(c) for c in np.max(result["C0_hat"], axis=0)],
            "accuracy_init": float(np.mean(result["accuracy_0"])),
            "accuracy_trained": float(np.mean(result["accuracy"])),
            "final_loss": float(np.mean(result["loss"][:, -1])),
            "grad_norm_ratio": float(np.median(result["grad_norm"] / result["grad_norm_0"])),
            "no_flip_fraction": float(np.mean(~np.isfinite(result["eta"])))}


def eta_before_after(data: dict):
    """Per-network median ``eta* sqrt(d)`` at init and after lazy training, against ``C0``,
    with the first-order infinite-width law ``sqrt(2/pi)`` at init for reference.

    Args:
        data: ``{"C0", "init", "trained": per C0 lists of per-network values, "level"}``.
    """
    C0 = np.asarray(data["C0"], float)
    series = {"init": data["init"], "lazily trained": data["trained"]}
    est, lo, hi = [], [], []
    for values in series.values():
        rows = [protocol.bootstrap(np.asarray(v), np.mean, level=data["level"], seed=0) for v in values]
        est.append([r[0] for r in rows])
        lo.append([r[1][0] for r in rows])
        hi.append([r[1][1] for r in rows])
    with style.style():
        fig, ax = style.new_figure()
    ax.axhline(data["predicted_init"], ls="--", color="k", lw=0.8,
               label=f"first-order law at init, sqrt(2/pi) = {data['predicted_init']:.3f}")
    return plotting.scaling_plot(
        C0, np.asarray(est), np.asarray(lo), np.asarray(hi), labels=list(series), logx=False,
        logy=False, xlabel="lazy radius C0 (every layer)", ylabel="median eta* sqrt(d)",
        ci_label=measure.ci_label(data["level"]), ax=ax)


def figures(data: dict) -> dict:
    return {"eta_sqrt_d_before_after": eta_before_after(data)}


@registry.claim("deep_lazy_training_attack",
                title="Deep ReLU nets trained lazily (every layer) on MNIST stay attackable at the first-order size",
                figures=figures)
def deep_lazy_training_attack(ctx: registry.Context, *, grid: Grid | None = None) -> registry.Outcome:
    """After projected GD inside the lazy ball of radius ``C0`` (all layers): ``C0_hat <= C0``
    exactly, and the mean per-network median of ``eta* / (|f| / ||grad f||)`` lies in
    ``[0.8, 1.25]`` (half-width <= 0.1)."""
    grid = grid or GRIDS[ctx.profile]
    points = lazy_points(grid, ctx.seed)
    results = ctx.runner.map(measure.lazy_point, points, desc="deep lazy training")
    by_C0 = {p.C0: r for p, r in zip(points, results)}
    level = ctx.level(len(points))
    checks = judge_lazy(by_C0, level=level, seed=ctx.seed)
    d = grid.side ** 2
    measured = {str(C0): summary(r, d) for C0, r in by_C0.items()}
    caption = plotting.caption(
        "MNIST 0 vs 1 (d = {d:d}, {t:d} training images), widths {w}, {n:d} networks, {s:d} GD steps: median eta* sqrt(d) "
        "{a} at init and {b} after training at C0 = {c} (C0_hat per layer {h}); test accuracy {acc}.",
        d=d, t=grid.n_train, w=list(grid.widths), n=grid.n_networks, s=grid.steps,
        a=[v["median_eta_sqrt_d_init"] for v in measured.values()],
        b=[v["median_eta_sqrt_d_trained"] for v in measured.values()], c=list(grid.C0s),
        h=[max(v["C0_hat_per_layer"]) for v in measured.values()],
        acc=[v["accuracy_trained"] for v in measured.values()])
    data = {"C0": list(grid.C0s), "level": level, "measured": measured,
            "init": [v["per_network_median_eta_sqrt_d_init"] for v in measured.values()],
            "trained": [v["per_network_median_eta_sqrt_d_trained"] for v in measured.values()],
            "predicted_init": theory.deep_first_order_attack_mean(),
            "captions": {"eta_sqrt_d_before_after": caption}}
    return registry.Outcome(checks, data, {"grid": dataclasses.asdict(grid), "level": level,
                                           "C0_over_sqrt_d": [C0 / math.sqrt(d) for C0 in grid.C0s]},
                            notes="Measured, not predicted: " + "; ".join(
                                f"C0 = {k}: median eta* sqrt(d) {v['median_eta_sqrt_d_init']:.3f} -> "
                                f"{v['median_eta_sqrt_d_trained']:.3f}, C0_hat per layer "
                                f"{[round(c, 3) for c in v['C0_hat_per_layer']]}, accuracy "
                                f"{v['accuracy_init']:.3f} -> {v['accuracy_trained']:.3f}, median "
                                f"||grad f_t|| / ||grad f_0|| {v['grad_norm_ratio']:.3f}"
                                for k, v in measured.items()))
