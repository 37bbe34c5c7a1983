"""Claim ``adversarial_training_stays_in_ball``: after every epoch of adversarial training with
row projection, ``C0_hat <= C0`` (lazy ball) or ``C0_hat <= C0 sqrt(m)`` (absolute row radius
``C0``): deterministic (THEORY.md 1, 7; notation in :mod:`.measure`)."""
import dataclasses
import math

import numpy as np

from ntk_attack import plotting, theory
from ntk_attack.plotting import style
from verification import protocol, registry
from verification.claims.adversarial import measure

CACHE_VERSION = 1
# Float64 rounding of a projection onto a sphere of radius r: |r (1 + O(1e-16 d))| stays within
# 1e-12 of r; a projection that is skipped or scaled wrongly misses by orders of magnitude more.
TOLERANCE = 1e-12
FLOOR = 1e-17  # figure floor for an excess <= 0 (the row sits inside or exactly on its ball)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Ball:
    """One ball: width ``m``, ``radius`` kind and its parameter ``C0``."""
    m: int
    radius: str
    C0: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """Balls ``balls`` at ``size x size`` MNIST, ``networks`` networks each, ``epochs`` epochs of
    minibatch (``batch_size``) adversarial training at ``eps sqrt(d) = eps_sqrt_d`` with
    ``attack_steps`` PGD steps, learning rate ``lr`` (large enough that the ball binds)."""
    size: int
    balls: tuple
    networks: int
    n_train: int
    epochs: int
    batch_size: int
    attack_steps: int
    eps_sqrt_d: float
    lr: float


GRIDS = {
    "quick": Grid(size=7, balls=(Ball(m=256, radius="lazy", C0=0.5),
                                 Ball(m=256, radius="lazy", C0=2.0),
                                 Ball(m=1024, radius="lazy", C0=2.0),
                                 Ball(m=1024, radius="absolute", C0=0.1)),
                  networks=2, n_train=200, epochs=5, batch_size=50, attack_steps=5, eps_sqrt_d=0.7,
                  lr=8.0),
    "full": Grid(size=10, balls=tuple(Ball(m=m, radius="lazy", C0=c * 10) for m in (256, 1024)
                                      for c in (0.03, 0.1, 0.3, 1.0))
                 + tuple(Ball(m=m, radius="absolute", C0=0.1) for m in (256, 1024)),
                 networks=4, n_train=400, epochs=10, batch_size=100, attack_steps=10,
                 eps_sqrt_d=1.0, lr=8.0),
}


def points(grid: Grid, seed: int, mnist_path=None) -> list:
    d = grid.size ** 2
    return [measure.AdvPoint(size=grid.size, m=b.m, C0=b.C0, radius=b.radius,
                             eps=grid.eps_sqrt_d / math.sqrt(d), n_networks=grid.networks,
                             n_train=grid.n_train, epochs=grid.epochs, lr=grid.lr,
                             batch_size=grid.batch_size, attack_steps=grid.attack_steps,
                             eval_eps=(grid.eps_sqrt_d / math.sqrt(d),),
                             eval_steps=grid.attack_steps,
                             seed=protocol.derive_seed(seed, "adversarial-networks", grid.size,
                                                       b.m),
                             mnist_path=mnist_path)
            for b in grid.balls]


def label(point: measure.AdvPoint) -> str:
    return f"m = {point.m}, {point.radius} C0 = {point.C0:g}"


def judge(ratios: dict) -> list:
    """Per ball: ``max C0_hat / limit - 1 <= TOLERANCE`` over networks and epochs (the lemma), and
    ``final max ratio >= 1 - 1e-9`` (some row reaches the boundary; otherwise the first check
    cannot fail and is inconclusive).

    Args:
        ratios: ``{label: (n_networks, epochs + 1)}`` ``C0_hat / theory.C0_hat_limit``.
    """
    checks = []
    for name, ratio in ratios.items():
        ratio = np.asarray(ratio, dtype=float)
        excess = float(ratio.max() - 1)
        binds = float(ratio[:, -1].max()) >= 1 - 1e-9
        band = protocol.Band(-math.inf, TOLERANCE, 0.0,
                             "projection onto ||w_s - w_s,0|| <= r after every step; float64 "
                             "rounding is below 1e-12")
        check = protocol.exact_check(f"{name}: max over epochs and networks of C0_hat / limit - 1",
                                     prediction=f"<= {TOLERANCE:g}", value=excess, band=band,
                                     note=f"largest final ratio {ratio[:, -1].max():.6g}")
        if check.verdict == "pass" and not binds:
            check = dataclasses.replace(check, verdict="inconclusive",
                                        note=check.note + ": the ball never binds, the check "
                                        "cannot fail here")
        checks.append(check)
    return checks


def figures(data: dict) -> dict:
    """Left: ``C0_hat / limit`` per ball and epoch (mean over networks, bars: their range);
    right: the largest excess over the limit per epoch on a log scale (``<= 0`` drawn at the
    floor ``FLOOR``) against the tolerance. Colour: the ball's radius; line style and marker:
    the width; balls on the same epochs are dodged apart."""
    balls = data["balls"]
    ratios = [np.asarray(b["ratio"], dtype=float) for b in balls]
    epochs = np.arange(ratios[0].shape[1], dtype=float)
    enc = plotting.encode([f"{b['radius']} C0 = {b['C0']:g}" for b in balls],
                          [f"m = {b['m']}" for b in balls])
    with style.style():
        fig, (ax, zoom) = style.new_figure(1, 2)
    plotting.scaling_plot(
        epochs, np.stack([r.mean(axis=0) for r in ratios]),
        np.stack([r.min(axis=0) for r in ratios]), np.stack([r.max(axis=0) for r in ratios]),
        labels=[b["label"] for b in balls], encoding=enc, logx=False, logy=False,
        ci_label=f"range over the {ratios[0].shape[0]} networks of a ball", xlabel="epoch",
        ylabel="C0_hat / limit (mean over networks)", ax=ax)
    offsets = plotting.encoding.dodge([epochs[1:]] * len(balls), log=False)
    with style.style():
        for b, r, look, offset in zip(balls, ratios, enc.styles, offsets):
            zoom.plot(epochs[1:] + offset, np.maximum(r.max(axis=0)[1:] - 1, FLOOR),
                      label=plotting.encoding.HIDDEN + b["label"], **look.line())
        ax.axhline(1.0, ls="--", color=style.THRESHOLD, label="ball boundary C0_hat = limit")
        zoom.axhline(TOLERANCE, ls="--", color=style.THRESHOLD, label=f"tolerance {TOLERANCE:g}")
        zoom.set_yscale("log")
        zoom.set_ylim(FLOOR / 3, TOLERANCE * 30)
        zoom.set_xlabel("epoch")
        zoom.set_ylabel("max over networks of C0_hat / limit - 1")
        for a in (ax, zoom):
            style.grid_ticks(a.xaxis, epochs)
        return {"C0_hat_by_epoch": (style.finish(fig), caption(data))}


def caption(data: dict) -> str:
    top = max(np.max(row["ratio"]) for row in data["balls"])
    return plotting.caption(
        "C0_hat / limit after every epoch of adversarial training (limit C0 for the lazy ball, "
        "C0 sqrt(m) for an absolute row radius C0), {n:d} balls, mean over networks with their "
        "range; right: the largest excess over the limit per epoch: largest value {top:.15g}, "
        "so no epoch leaves the ball (tolerance 1e-12).", n=len(data["balls"]), top=top)


@registry.claim("adversarial_training_stays_in_ball",
                title="adversarial training keeps C0_hat <= C0 after every epoch", figures=figures)
def adversarial_training_stays_in_ball(ctx: registry.Context, *, grid: Grid | None = None
                                       ) -> registry.Outcome:
    """After every epoch of adversarial training with row projection, ``C0_hat = sqrt(m)
    max_s ||w_s - w_s,0|| <= C0`` for the lazy ball (``C0 sqrt(m)`` for an absolute row radius
    ``C0``), up to float64 rounding (1e-12): deterministic, for every network and epoch."""
    grid = grid or GRIDS[ctx.profile]
    pts = points(grid, ctx.seed, ctx.mnist_path if not ctx.quick else None)
    results = ctx.runner.map(measure.adv_point, pts, desc="adversarial training (ball)")
    ratios = {label(p): np.asarray(r["C0_hat"]) / theory.C0_hat_limit(p.C0, p.m, radius=p.radius)
              for p, r in zip(pts, results)}
    checks = judge(ratios)
    data = {"balls": [{"label": name, "m": p.m, "radius": p.radius, "C0": p.C0,
                       "C0_over_sqrt_d": theory.effective_C0_over_sqrt_d(p.C0, m=p.m, d=p.d,
                                                                        radius=p.radius),
                       "ratio": ratio.tolist()} for p, (name, ratio) in zip(pts, ratios.items())]}
    data["captions"] = {"C0_hat_by_epoch": caption(data)}
    return registry.Outcome(checks, data, {"points": [dataclasses.asdict(p) for p in pts]},
                            notes="C0_hat is recorded after every epoch (each epoch: several "
                                  "minibatch steps, each projected).")
