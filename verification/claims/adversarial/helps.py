"""Claim ``adversarial_training_helps_only_outside_lazy_regime``: robust test accuracy of standard
and adversarial training against ``eps sqrt(d)`` for several ``C0 / sqrt(d)`` (the paper's
Figure 3) and against width at an absolute row radius (Figure 4). Judged: inside the lazy
conditions both arms have single-step robust accuracy 0 at ``eps = max B`` (THEORY.md 4); every
PGD perturbation stays in its ``eps`` ball and PGD is never weaker than the exact single step; in
every ball adversarial training lowers the robust training loss below standard training's
(sanity invariants, THEORY.md 8). Measured, not judged: the gains of adversarial over standard
training, paired over networks (notation in :mod:`.measure`)."""
import dataclasses
import math

import numpy as np

from ntk_attack import plotting, theory
from ntk_attack.plotting import style
from verification import protocol, registry
from verification.claims import per_network
from verification.claims.adversarial import measure

CACHE_VERSION = 1
TOLERANCE = 1e-12  # ||delta|| <= eps up to float64 rounding of the projection
# CIs of the measurements (robust accuracies, gains): reported, never judged, so no Bonferroni.
MEASUREMENT_LEVEL = 0.95
LOSS_DROP = 1 - 1e-9  # adversarial / standard robust training loss; rounding is ~1e-16


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """``size x size`` MNIST; lazy balls ``C0 = r sqrt(d)`` for ``r`` in ``ratios`` at width
    ``m``; absolute row radius ``absolute`` at each width of ``widths``; ``networks`` networks per
    ball, trained ``epochs`` epochs in minibatches of ``batch_size`` (0: full batch) by standard
    training and by PGD-l2 training at ``eps sqrt(d) = train_eps_sqrt_d`` (``attack_steps``
    steps), from the same ``params0``; evaluated at ``eps sqrt(d)`` in ``eval_eps_sqrt_d`` (PGD,
    ``eval_steps`` steps, and the exact single step)."""
    size: int
    m: int
    ratios: tuple
    absolute: float
    widths: tuple
    networks: int
    n_train: int
    epochs: int
    lr: float
    batch_size: int
    attack_steps: int
    train_eps_sqrt_d: float
    eval_eps_sqrt_d: tuple
    eval_steps: int
    kappa_networks: int
    kappa_points: int


GRIDS = {"quick": Grid(size=10, m=512, ratios=(0.03, 3.0), absolute=0.1, widths=(128, 512),
                       networks=4,
                       n_train=200, epochs=5, lr=10.0, batch_size=0, attack_steps=10,
                       train_eps_sqrt_d=1.0, eval_eps_sqrt_d=(0.5, 1.0, 2.0), eval_steps=10,
                       kappa_networks=4, kappa_points=500),
         "full": Grid(size=10, m=1024, ratios=(0.03, 0.1, 0.3, 1.0, 3.0), absolute=0.1,
                      widths=(256, 1024), networks=8, n_train=400, epochs=10, lr=10.0,
                      batch_size=100, attack_steps=10, train_eps_sqrt_d=1.0,
                      eval_eps_sqrt_d=(0.25, 0.5, 1.0, 2.0), eval_steps=20,
                      kappa_networks=20, kappa_points=1000)}
ARMS = ("standard", "adversarial")
SINGLE = "_single_step"  # stem suffix of the single-step figure


def balls(grid: Grid) -> list:
    """``(m, radius, C0)`` of every ball: the lazy ones, then the absolute ones by width."""
    d = grid.size ** 2
    return ([(grid.m, "lazy", r * math.sqrt(d)) for r in grid.ratios]
            + [(m, "absolute", grid.absolute) for m in grid.widths])


def points(grid: Grid, seed: int, mnist_path=None) -> dict:
    """``{(ball, arm): AdvPoint}``; both arms of a ball share ``seed`` (the same ``params0``)."""
    d = grid.size ** 2
    eval_eps = tuple(r / math.sqrt(d) for r in grid.eval_eps_sqrt_d)
    out = {}
    for m, radius, C0 in balls(grid):
        for arm, eps in zip(ARMS, (0.0, grid.train_eps_sqrt_d / math.sqrt(d))):
            out[(m, radius, C0), arm] = measure.AdvPoint(
                size=grid.size, m=m, C0=C0, radius=radius, eps=eps, n_networks=grid.networks,
                n_train=grid.n_train, epochs=grid.epochs, lr=grid.lr, batch_size=grid.batch_size,
                attack_steps=grid.attack_steps, eval_eps=eval_eps, eval_steps=grid.eval_steps,
                seed=protocol.derive_seed(seed, "adversarial-networks", grid.size, m),
                mnist_path=mnist_path, robust_train_eps=grid.train_eps_sqrt_d / math.sqrt(d))
    return out


def ball_label(ball) -> str:
    m, radius, C0 = ball
    return f"m = {m}, {radius} C0 = {C0:.3g}"


def judge(norm_ratios, robust_at_max_B: dict, *, attacks: dict, losses: dict) -> list:
    """Deterministic checks.

    Args:
        norm_ratios: every PGD evaluation's largest ``||delta|| / eps``.
        robust_at_max_B: ``{label: ((n_networks,) robust accuracies, (n_networks,) clean shares)}``
            for each (ball, arm) inside the lazy conditions.
        attacks: ``{"pgd", "line": (n_stacks, n_networks, k)}`` robust test accuracies of every
            (ball, arm) at the same radii.
        losses: ``{ball label: ((n_networks,) standard, (n_networks,) adversarial)}`` robust
            training losses at the training radius, paired over networks.
    """
    top = float(np.max(norm_ratios))
    checks = [protocol.exact_check(
        "largest ||delta|| / eps - 1 over every PGD evaluation", prediction=f"<= {TOLERANCE:g}",
        value=top - 1, band=protocol.Band(-math.inf, TOLERANCE, 0.0,
                                          "PGD projects every iterate onto ||delta|| <= eps"))]
    checks.append(measure.pgd_not_weaker_check("every ball and arm", attacks["pgd"],
                                               attacks["line"]))
    checks += [protocol.exact_check(
        f"{name}: max over networks of adversarial / standard robust training loss",
        prediction="< 1", value=float(np.max(np.asarray(adv) / np.asarray(std))),
        band=protocol.Band(-math.inf, LOSS_DROP, 0.0, "sanity: adversarial training minimises "
                           "the robust training loss that standard training ignores, from the "
                           "same params0 in the same ball; equal losses mean it did not act"))
        for name, (std, adv) in losses.items()]
    checks += [measure.robust_at_max_B_check(name, robust, clean)
               for name, (robust, clean) in robust_at_max_B.items()]
    return checks


def _series(rows, key, attack):
    est = np.array([r[attack][key]["mean"] for r in rows])
    lo = np.array([r[attack][key]["lo"] for r in rows])
    return est, lo, np.array([r[attack][key]["hi"] for r in rows])


def figures(data: dict) -> dict:
    out = {}
    lazy = [b for b in data["balls"] if b["radius"] == "lazy"]
    ci_label = f"{data['measurement_level']:.0%} bootstrap CI over networks"
    for stem, attack, title in (("robust_accuracy_vs_eps_sqrt_d", "pgd", "PGD-l2"),
                                (f"robust_accuracy_vs_eps_sqrt_d{SINGLE}", "line", "single step")):
        labels, est, lo, hi, clean, radii, arms = [], [], [], [], [], [], []
        for b in lazy:
            for arm in ARMS:
                e, l, h = (np.clip(v, 0, 1) for v in _series([b[arm]], "robust", attack))
                radii.append(f"C0/sqrt(d) = {b['C0_over_sqrt_d']:.2g}")
                arms.append(f"{arm} training")
                labels.append(f"{radii[-1]}, {arm}")
                est.append(e[0])
                lo.append(l[0])
                hi.append(h[0])
                # reports older than the bookkeeping (figures/full) keep it per ball
                clean.append(data["clean"][b["label"]][arm] if "clean" in data
                             else b[arm]["clean"])
        out[stem] = plotting.robust_accuracy_plot(
            data["eval_eps_sqrt_d"], np.array(est), np.array(lo), np.array(hi), labels=labels,
            clean_accuracy=clean, ci_label=ci_label, ylabel=f"robust test accuracy ({title})",
            encoding=plotting.encode(radii, arms),
            title=f"d = {data['d']}, m = {lazy[0]['m']}, {title} attack")
    absolute = sorted((b for b in data["balls"] if b["radius"] == "absolute"), key=lambda b: b["m"])
    if absolute:
        j = data["eval_eps_sqrt_d"].index(data["train_eps_sqrt_d"])
        est, lo, hi = [], [], []
        for arm in ARMS:
            e, l, h = (np.clip(np.array([b[arm]["pgd"]["robust"][k][j] for b in absolute]), 0, 1)
                       for k in ("mean", "lo", "hi"))
            est.append(e)
            lo.append(l)
            hi.append(h)
        out["robust_accuracy_vs_width"] = plotting.robust_accuracy_plot(
            [b["m"] for b in absolute], np.array(est), np.array(lo), np.array(hi),
            labels=[f"{arm} training" for arm in ARMS], logx=True, xlabel="width m",
            ci_label=ci_label,
            ylabel=f"PGD robust accuracy, eps sqrt(d) = {data['train_eps_sqrt_d']:g}",
            title=f"absolute row radius {absolute[0]['C0']:g}")
        style.grid_ticks(out["robust_accuracy_vs_width"].axes[0].xaxis, [b["m"] for b in absolute])
    return out


def captions(data: dict) -> dict:
    lazy = [b for b in data["balls"] if b["radius"] == "lazy"]
    j = data["eval_eps_sqrt_d"].index(data["train_eps_sqrt_d"])
    text = ("{attack} robust test accuracy (mean over {n:d} networks, 95% CI over networks) of "
            "standard and adversarial (PGD-l2, eps sqrt(d) = {eps}) training for C0/sqrt(d) in "
            "{ratios}; ticks at 0: clean accuracy. Gain of adversarial training at eps sqrt(d) = "
            "{radii} (paired over networks; measured, not judged): {gains}.")
    out = {}
    for stem, attack, name in (("robust_accuracy_vs_eps_sqrt_d", "pgd", "PGD"),
                               (f"robust_accuracy_vs_eps_sqrt_d{SINGLE}", "line", "Single-step")):
        gains = "; ".join(
            plotting.caption("C0/sqrt(d) = {r}: ", r=b["C0_over_sqrt_d"]) + ", ".join(
                plotting.caption("{g:+.3f} {ci}", g=g, ci=(lo, hi)) for g, lo, hi in zip(
                    *(data["gains"][b["label"]][attack][k] for k in ("mean", "lo", "hi"))))
            for b in lazy)
        out[stem] = plotting.caption(text, attack=name, n=data["networks"],
                                     eps=data["train_eps_sqrt_d"], radii=data["eval_eps_sqrt_d"],
                                     ratios=[b["C0_over_sqrt_d"] for b in lazy], gains=gains)
    absolute = sorted((b for b in data["balls"] if b["radius"] == "absolute"), key=lambda b: b["m"])
    if absolute:
        out["robust_accuracy_vs_width"] = plotting.caption(
            "PGD robust test accuracy at eps sqrt(d) = {eps} (mean over networks, 95% CI) against "
            "width m at absolute row radius {r} (C0/sqrt(d) = r sqrt(m/d) = {ratios}): standard "
            "{std}, adversarial {adv}.",
            eps=data["train_eps_sqrt_d"], r=absolute[0]["C0"],
            ratios=[b["C0_over_sqrt_d"] for b in absolute],
            std=[b["standard"]["pgd"]["robust"]["mean"][j] for b in absolute],
            adv=[b["adversarial"]["pgd"]["robust"]["mean"][j] for b in absolute])
    return out


@registry.claim("adversarial_training_helps_only_outside_lazy_regime",
                title="adversarial training: robust accuracy 0 at max B inside the lazy regime; "
                      "gains measured",
                figures=figures)
def adversarial_training_helps_only_outside_lazy_regime(
        ctx: registry.Context, *, grid: Grid | None = None) -> registry.Outcome:
    """Inside the lazy conditions, standard and adversarially trained networks alike have
    single-step robust accuracy exactly 0 at ``eps = max_x B(x)`` (THEORY.md 4), so adversarial
    training cannot help there; every PGD perturbation stays in its ``eps`` ball, PGD robust
    accuracy is at most the single step's at every radius, and adversarial training's robust
    training loss (PGD at the training radius) is below standard training's for every network
    pair. The gains of adversarial training in robust test accuracy (paired over networks with
    the same ``params0``) are measured and reported, not judged."""
    grid = grid or GRIDS[ctx.profile]
    d = grid.size ** 2
    pts = points(grid, ctx.seed, ctx.mnist_path if not ctx.quick else None)
    results = dict(zip(pts, ctx.runner.map(measure.adv_point, list(pts.values()),
                                           desc="adversarial training (helps)")))
    inside = {ball: per_network.inside_conditions(
        d=d, m=ball[0], C0=theory.C0_hat_limit(ball[2], ball[0], radius=ball[1]))
        for ball in balls(grid)}
    kappa = {m: measure.kappas(ctx, [d], m, n_networks=grid.kappa_networks,
                               n_points=grid.kappa_points)[d]
             for m in sorted({ball[0] for ball, ok in inside.items() if ok})}
    level = MEASUREMENT_LEVEL
    rows, robust_at_max_B, norm_ratios, losses, gains, clean = [], {}, [], {}, {}, {}
    attacks = {"pgd": [], "line": []}
    for ball in balls(grid):
        m, radius, C0 = ball
        C0_eff = theory.C0_hat_limit(C0, m, radius=radius)
        row = {"label": ball_label(ball), "m": m, "radius": radius, "C0": C0,
               "inside": inside[ball],
               "C0_over_sqrt_d": theory.effective_C0_over_sqrt_d(C0, m=m, d=d, radius=radius)}
        for arm in ARMS:
            r = results[(ball, arm)]
            norm_ratios.append(np.max(r["pgd_norm_ratio"]))
            for attack in attacks:
                attacks[attack].append(np.asarray(r[f"{attack}_robust"], dtype=float))
            seed = protocol.derive_seed(ctx.seed, ball_label(ball), arm)
            row[arm] = {attack: {"robust": measure.mean_ci(r[f"{attack}_robust"], level=level,
                                                           seed=seed)}
                        for attack in ("pgd", "line")}
            clean.setdefault(ball_label(ball), {})[arm] = float(
                np.mean(np.sign(r["f"]) == r["y"][None, :]))
            if inside[ball]:
                B, eligible = measure.envelope(r, d=d, m=m, C0=C0_eff, kappa=kappa[m])
                robust_at_max_B[f"{ball_label(ball)}, {arm}"] = measure.robust_at_max_bound(
                    r, B, eligible)
        std, adv = results[(ball, "standard")], results[(ball, "adversarial")]
        losses[ball_label(ball)] = (std["robust_train_loss"], adv["robust_train_loss"])
        row["robust_train_loss"] = {arm: float(np.mean(results[(ball, arm)]["robust_train_loss"]))
                                    for arm in ARMS}
        gains[ball_label(ball)] = {attack: measure.mean_ci(
            np.asarray(adv[f"{attack}_robust"], dtype=float)
            - np.asarray(std[f"{attack}_robust"], dtype=float),
            level=level, seed=protocol.derive_seed(ctx.seed, ball_label(ball), attack))
            for attack in ("pgd", "line")}
        rows.append(row)
    checks = judge(norm_ratios, robust_at_max_B, attacks=attacks, losses=losses)
    data = {"balls": rows, "eval_eps_sqrt_d": list(grid.eval_eps_sqrt_d), "networks": grid.networks,
            "train_eps_sqrt_d": grid.train_eps_sqrt_d, "d": d, "measurement_level": level,
            "robust_at_max_B": {k: [v[0].tolist(), v[1].tolist()]
                                for k, v in robust_at_max_B.items()},
            "gains": gains, "clean": clean}
    data["captions"] = captions(data)
    notes = (f"Measured, not judged ({level:.0%} CIs over networks, paired: same params0): "
             "PGD robust-accuracy gain of adversarial over standard training at eps sqrt(d) = "
             f"{list(grid.eval_eps_sqrt_d)}: " + "; ".join(
                 f"{r['label']} (C0/sqrt(d) = {r['C0_over_sqrt_d']:.2g}): " + ", ".join(
                     f"{g:+.3f} [{lo:+.3f}, {hi:+.3f}]" for g, lo, hi in zip(
                         *(gains[r["label"]]["pgd"][k] for k in ("mean", "lo", "hi"))))
                 for r in rows) + ".")
    config = {"points": [dataclasses.asdict(p) for p in pts.values()],
              "kappa": {str(m): k for m, k in kappa.items()}}
    return registry.Outcome(
        checks, data, config, notes=notes,
        inputs=("eval_eps_sqrt_d", "networks", "train_eps_sqrt_d", "d", "measurement_level"),
        judged={"balls": ("PGD - single-step robust accuracy", "robust training loss"),
                "robust_at_max_B": ("eps = max B",)},
        unjudged={"gains": "not predicted: THEORY.md 4 fixes robust accuracy at eps = max B "
                           "(0 for both arms, judged), not the gains at these radii; that "
                           "adversarial training acts is judged by its robust training loss",
                  "clean": "not predicted: clean test accuracy depends on the data and the "
                           "training (the figure's reference ticks)"})
