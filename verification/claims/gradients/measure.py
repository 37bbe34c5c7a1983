"""Shared measurements of the gradient claims: data, the width sweep of trained networks and its
per-network summaries (THEORY.md 4, 6).

Notation. ``f_0 = f(.; W0)``; ``f_t`` is the network after ``steps`` of full-batch gradient
descent at rate ``lr`` on the squared loss ``(1/2n) sum_i (f(x_i) - y_i)^2`` (first layer
only); ``h_t`` is :func:`ntk_attack.predictors.ntk_regression` with ``Theta_W`` fit to the
residual ``Y - f_0(X)`` with the same ``lr`` and ``steps``; ``grad`` is the input gradient at
held-out test points; ``c`` are the coefficients of ``h_t`` and ``L(x) = sum_i c_i x_i
(pi - theta_i) / (2 pi)`` is ``grad h_t`` without its angle term (THEORY.md 6.2).

Networks (seeds) are the bootstrap units; the test points of one network stay together. Point
functions are module-level (they pickle into workers) and shared between claims through the
cache.
"""
import dataclasses

import jax
import numpy as np

from ntk_attack import kernels, models, predictors, theory, training
from verification import protocol
from verification.claims import per_network, stats

CACHE_VERSION = 3
DATA_SEED = 0  # train/test split of the bundled sets
IMAGE_SIZE = 8  # digits and MNIST (0 vs 1, labels +-1) resized to 8 x 8: d = 64, as in THEORY.md 6
D = IMAGE_SIZE ** 2
# Predicted log-log slopes and their bands: the band ends halfway to the competing rates
# (0: no convergence, -1/4: activation-flip noise, -1/2: Monte-Carlo kernel error, -1: bias^2).
SLOPES = {
    "trained": (-0.25, (-0.375, -0.125)),
    "linearization": (-0.5, (-0.75, -0.375)),
    "ensemble": (-0.5, (-0.75, -0.375)),
    "antisymmetric": (-0.25, (-0.375, -0.125)),
}
SLOPE_CI_SHARE = 0.8  # a slope CI may be at most 80% as wide as its band, or it cannot decide
SLOPE_WHY = ("predicted slope {:g}; band ends halfway to the competing rates (THEORY.md 6, SLOPES); "
             "CI at most 80% of the band")
LOSS_DROP = 1e-6  # "training lowers the loss": by more than float32 rounding of the loss
CLOSE = protocol.Band(0.9, 1.1, 0.05, "equivalence margin 10% (THEORY.md 8)")  # "stays close"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sweep:
    """The width sweep: ``n_seeds[dataset]`` balanced (``n_seeds_antisymmetric`` antisymmetric)
    networks per width on each data set, holding out ``test_fraction`` of it; ``lr`` maps each data set
    to its rate, below ``2 n / lambda_max(Theta_W(X, X))`` = 7.0 (digits), 7.9 (MNIST) so that
    gradient descent on the linear model is stable (``ntk_regression`` refuses unstable rates)."""
    datasets: tuple
    test_fraction: float
    widths: tuple
    n_seeds: dict
    n_seeds_antisymmetric: int
    steps: int
    lr: dict


SWEEPS = {
    # quick: 70% of the digits held out (108 training points) so that 40 networks per width fit
    # the time budget; the linearisation error varies ~20% between networks, hence 40 seeds
    # (the antisymmetric and ensemble distances vary ~3%: fewer units decide them).
    "quick": Sweep(datasets=("digits",), test_fraction=0.7, widths=(256, 1024, 4096),
                   n_seeds={"digits": 40}, n_seeds_antisymmetric=10, steps=50, lr={"digits": 5.0}),
    # full: the bundled MNIST subset beside the digits, widths to 16384; one balanced network
    # at m = 16384 costs ~10 s (digits) and ~28 s (MNIST, 800 training points) per 100 steps.
    # 12 seeds left the digits' linearisation slope undecided (-0.465, CI +-0.12 across the
    # band's edge -0.375): 40, as in the quick profile; MNIST's (-0.51, CI +-0.13) was decided.
    # 6 antisymmetric seeds left the m = 16384 distance ratio's CI at +-0.034 (band allows 0.025).
    "full": Sweep(datasets=("digits", "mnist"), test_fraction=0.2, widths=(256, 1024, 4096, 16384),
                  n_seeds={"digits": 40, "mnist": 12}, n_seeds_antisymmetric=12, steps=100,
                  lr={"digits": 3.0, "mnist": 3.0}),
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkPoint:
    """One network of width ``m`` trained by gradient descent on the squared loss."""
    dataset: str
    data_seed: int
    test_fraction: float
    m: int
    signs: str
    seed: int
    lr: float
    steps: int


def norm(v):
    return np.linalg.norm(np.asarray(v), axis=-1)


def cos(u, v):
    return np.sum(np.asarray(u) * np.asarray(v), axis=-1) / (norm(u) * norm(v))


def network_gradients(point: NetworkPoint) -> dict:
    """Gradient norms and distances at every test point, for one trained network.

    Returns per test point `(n_test,)`: ``g0 = |grad f_0|``, ``gh = |grad h_t|``, ``limit =
    |L|``, ``trained = |grad f_t - grad f_0 - grad h_t|``, ``lin_to_limit = |g_lin - L|`` and
    ``lin_to_kernel = |g_lin - grad h_t|`` with ``g_lin = (1/sqrt m) sum_s a_s 1[w_s,0 . x > 0]
    (w_s,t - w_s,0)``, ``angle = |grad h_t - L|``, ``persist = |grad f_t - grad h_t|``, the
    cosines ``cos_delta = cos(grad f_t - grad f_0, grad h_t)`` and ``cos_full = cos(grad f_t,
    grad h_t)``, ``drift = |f_t - f_0|`` and ``x_norm``; the level predictions ``trained_sq =
    |grad f_t - grad f_0 - grad h_t|^2`` against ``noise_sq``
    (:func:`ntk_attack.theory.activation_flip_noise_sq`) and ``cos_pred =
    theory.noisy_cosine(|grad h_t|, noise_sq)``; the split of ``grad f_t - grad h_t`` into its
    coefficient along ``grad f_0`` (``persist_along``) and the squared rest (``persist_perp_sq``);
    scalars ``C0_hat``, ``train_loss`` and ``loss_ratio`` (final over initial training loss).
    """
    ds = per_network.load(point.dataset, D, seed=point.data_seed, test_fraction=point.test_fraction)
    x, y, xt = ds.x_train, ds.y_train, ds.x_test
    params0 = models.init_two_layer(jax.random.PRNGKey(point.seed), ds.d, point.m, signs=point.signs)
    result = training.train(None, params0, x, y, loss="squared", lr=point.lr, steps=point.steps)
    h = predictors.ntk_regression(x, y - np.asarray(models.apply(params0, x)),
                                  kernel=kernels.ntk_first_layer, ridge=0.0, steps=point.steps,
                                  lr=point.lr)
    g0 = np.asarray(models.input_grad(params0, xt))
    gt = np.asarray(models.input_grad(result.params, xt))
    gh = np.asarray(h.input_grad(xt))
    limit = np.asarray(predictors.angle_free_input_grad(h, xt))
    g_lin = np.asarray(predictors.linearize(params0).input_grad(result.params.W, xt)) - g0
    drift = np.abs(np.asarray(models.apply(result.params, xt) - models.apply(params0, xt)))
    noise_sq = theory.activation_flip_noise_sq(params0.W, result.params.W, xt)
    with np.errstate(divide="ignore", invalid="ignore"):  # antisymmetric init: g0 == 0
        along = np.sum((gt - gh) * g0, axis=-1) / norm(g0) ** 2
    perp = gt - gh - np.nan_to_num(along)[:, None] * g0
    return {"g0": norm(g0), "gh": norm(gh), "limit": norm(limit),
            "trained": norm(gt - g0 - gh), "lin_to_limit": norm(g_lin - limit),
            "lin_to_kernel": norm(g_lin - gh), "angle": norm(gh - limit),
            "persist": norm(gt - gh), "cos_delta": cos(gt - g0, gh), "cos_full": cos(gt, gh),
            "trained_sq": norm(gt - g0 - gh) ** 2, "noise_sq": noise_sq,
            "cos_pred": theory.noisy_cosine(norm(gh), noise_sq), "persist_along": along,
            "persist_perp_sq": norm(perp) ** 2,
            "drift": drift, "x_norm": norm(xt), "C0_hat": result.history.C0_hat[-1],
            "train_loss": result.history.loss[-1],
            "loss_ratio": result.history.loss[-1] / result.history.loss[0]}


def network_grid(grid: Sweep, seed: int, signs: str) -> list:
    """The width sweep's points, ordered by data set, width, then seed index (the unit)."""
    return [NetworkPoint(dataset=name, data_seed=DATA_SEED, test_fraction=grid.test_fraction, m=m,
                         signs=signs, seed=protocol.derive_seed(seed, "network", name, signs, m, i),
                         lr=grid.lr[name], steps=grid.steps)
            for name in grid.datasets for m in grid.widths
            for i in range(grid.n_seeds_antisymmetric if signs == "antisymmetric" else grid.n_seeds[name])]


def summaries(points, results) -> dict:
    """``{dataset: {summary: (n_seeds, n_widths)}}``: per-network means over test points."""
    out = {}
    widths = sorted({p.m for p in points})
    for name in dict.fromkeys(p.dataset for p in points):
        rows = {}
        for m in widths:
            for p, r in zip(points, results):
                if p.dataset != name or p.m != m:
                    continue
                with np.errstate(divide="ignore", invalid="ignore"):  # antisymmetric: g0 == 0
                    summary = {"trained": np.mean(r["trained"] / r["gh"]),
                               "lin_to_limit": np.mean(r["lin_to_limit"] / r["limit"]),
                               "lin_to_kernel": np.mean(r["lin_to_kernel"] / r["gh"]),
                               "angle": np.mean(r["angle"] / r["gh"]),
                               "persist_paired": np.mean(r["persist"] / r["g0"]),
                               "persist_sq": np.mean(r["persist"] ** 2),
                               "gh": np.mean(r["gh"]),
                               "cos_delta": np.mean(r["cos_delta"]), "cos_full": np.mean(r["cos_full"]),
                               "cos_pred": np.mean(r["cos_pred"]),
                               "noise_rel": np.mean(np.sqrt(r["noise_sq"]) / r["gh"]),
                               "trained_sq": np.mean(r["trained_sq"]), "noise_sq": np.mean(r["noise_sq"]),
                               "persist_along": np.mean(r["persist_along"]),
                               "persist_perp_sq": np.mean(r["persist_perp_sq"]),
                               "C0_hat": float(r["C0_hat"]), "train_loss": float(r["train_loss"]),
                               "loss_ratio": float(r["loss_ratio"])}
                for key, value in summary.items():
                    rows.setdefault(key, {}).setdefault(m, []).append(float(value))
        out[name] = {key: np.array([by_m[m] for m in widths]).T for key, by_m in rows.items()}
    return out


def sweep(ctx, grid: Sweep, signs: str):
    """``(points, results, per_network summaries)`` of the width sweep with ``signs``."""
    points = network_grid(grid, ctx.seed, signs)
    results = ctx.runner.map(network_gradients, points, desc=f"{signs} networks")
    return points, results, summaries(points, results)


def config(grid, points) -> dict:
    return {"grid": dataclasses.asdict(grid), "data_seed": DATA_SEED, "image_size": IMAGE_SIZE,
            "points": [dataclasses.asdict(p) for p in points]}


def series(summaries: dict, keys) -> dict:
    return {name: {k: s[k] for k in keys} for name, s in summaries.items()}


# Level of the residual at the largest width: an equivalence margin of 5% on the RMS ratio (10%
# on the squared norm, the size of the learned directions' O(m^(-1/2)) error left at m = 4096),
# and of 0.01 on the cosine (about a quarter of 1 - cos at m = 4096 on digits).
LEVEL_RATIO = protocol.Band(0.95, 1.05, 0.025, "equivalence margin 5% (THEORY.md 6.1: the learned "
                            "directions' error, O(m^(-1/2)), is left over)")
LEVEL_COSINE = protocol.Band(-0.01, 0.01, 0.005, "equivalence margin 0.01 of cosine (a quarter of "
                             "1 - cos at m = 4096)")


def level_checks(name, widths, s, *, level, seed, what="grad f_t - grad f_0 - grad h_t") -> list:
    """Level of the residual ``r = what`` at the largest width against the activation-flip noise
    (THEORY.md 6.1): ``RMS |r| / RMS sqrt(noise_sq) = 1`` and ``mean cos(grad f_t - grad f_0,
    grad h_t) - mean theory.noisy_cosine(|grad h_t|, noise_sq) = 0``, networks as units."""
    m = widths[-1]
    pairs = np.stack([s["trained_sq"][:, -1], s["noise_sq"][:, -1]], axis=1)
    cosines = np.stack([s["cos_delta"][:, -1], s["cos_pred"][:, -1]], axis=1)
    return [
        stats.bootstrap_check(f"{name}: RMS |{what}| / RMS flip noise at m = {m}", pairs,
                              statistic=stats.rms_ratio, band=LEVEL_RATIO,
                              prediction="1 (theory.activation_flip_noise_sq)", level=level,
                              seed=protocol.derive_seed(seed, "level", name), predicted=1.0),
        stats.bootstrap_check(
            f"{name}: mean cos(grad f_t - grad f_0, grad h_t) - predicted at m = {m}", cosines,
            statistic=lambda rows: float(np.mean(rows[:, 0]) - np.mean(rows[:, 1])),
            band=LEVEL_COSINE, prediction="0 (theory.noisy_cosine)", level=level,
            seed=protocol.derive_seed(seed, "cosine", name), predicted=0.0),
    ]


def worst_loss_ratio(ratios) -> float:
    """Largest final / initial loss over ``ratios`` (arrays); a non-finite one (diverged
    training) as the largest float, so that its check fails rather than turn inconclusive."""
    worst = np.max(np.concatenate([np.ravel(np.asarray(r, dtype=float)) for r in ratios]))
    return float(np.nan_to_num(worst, nan=np.finfo(float).max, posinf=np.finfo(float).max))


def loss_check(summaries: dict) -> protocol.Check:
    """Exact check that training lowered the squared training loss in every network of the
    sweep (full-batch gradient descent below the stable rate; a network whose training does
    not move stays at ratio 1, a diverged one is counted as the largest float)."""
    worst = worst_loss_ratio([s["loss_ratio"] for s in summaries.values()])
    return protocol.exact_check(
        "training lowers the training loss: max over networks of final / initial loss",
        prediction="< 1", value=worst,
        band=protocol.Band(0.0, 1 - LOSS_DROP, 0, f"gradient descent below the stable rate lowers "
                           f"the loss; at least {LOSS_DROP:g} relative below the start"),
        note="measured: 2-4% of the start after 50 steps at lr 5 (digits, m = 256)")


def figure_series(data: dict, keys, *, seed_label: str):
    """Means over networks per width with bootstrap CIs at ``data["level"]`` for a figure:
    ``{key: (estimate, lo, hi)}`` from ``data``'s `(n_networks, k)` arrays ``keys``."""
    return {key: protocol.bootstrap_columns(np.asarray(data[key]), level=data["level"],
                                            seed=protocol.derive_seed(data["seed"], seed_label, key))
            for key in keys}
