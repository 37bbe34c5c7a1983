"""Claims of issue 5: lazy training, kernel predictors and their input gradients (THEORY.md 4, 6).

Notation. ``f_0 = f(.; W0)``; ``f_t`` is the network after ``steps`` of full-batch gradient
descent at rate ``lr`` on the squared loss ``(1/2n) sum_i (f(x_i) - y_i)^2`` (first layer
only); ``h_t`` is :func:`ntk_attack.predictors.ntk_regression` with ``Theta_W`` fit to the
residual ``Y - f_0(X)`` with the same ``lr`` and ``steps``; ``grad`` is the input gradient at
held-out test points; ``c`` are the coefficients of ``h_t`` and ``L(x) = sum_i c_i x_i
(pi - theta_i) / (2 pi)`` is ``grad h_t`` without its angle term (THEORY.md 6.2).

- ``lazy_value_drift_bound``: ``|f(x; W) - f(x; W0)| <= C0_hat ||x||``, zero violations.
- ``trained_gradient_converges_to_kernel_gradient``: ``|grad f_t - grad f_0 - grad h_t| /
  |grad h_t|`` falls like ``m^(-1/4)``.
- ``linearization_gradient_misses_activation_flips``: the linearisation's pointwise gradient
  converges to ``L`` like ``m^(-1/2)`` and so stays at the angle term's distance from ``grad h_t``.
- ``init_gradient_term_persists``: ``|grad f_t - grad h_t|`` stays at ``|grad f_0| ~
  sqrt(d/2 - 1/(2 pi))``.
- ``ensemble_gradient_converges``: the mean of ``grad f_t`` over ``k`` inits approaches the
  gradient of ``h_t`` fit to ``Y`` like ``k^(-1/2)``.
- ``antisymmetric_init_gradient_converges``: with ``f_0 == 0``, ``grad f_t -> grad h_t`` like
  ``m^(-1/4)``.
- ``gradient_closed_forms_match_finite_differences``: every closed-form gradient above
  against central finite differences.

Networks (seeds) are the bootstrap units; the test points of one network stay together.
Every claim measures through ``ctx.runner.map`` (module-level point functions of frozen
dataclass points, shared between claims through the cache) and judges with a separate pure
function, so tests can feed it a wrong prediction and see it fail.
"""
import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import data, kernels, models, predictors, theory, training
from verification import protocol, registry

DATA_SEED = 0  # train/test split of the bundled sets and draw of the sphere points
IMAGE_SIZE = 8  # digits and MNIST resized to 8 x 8: d = 64, as in THEORY.md 6
SPHERE_N, SPHERE_D = 400, 64
BALL_LR, BALL_STEPS = 4.0, 40  # logistic loss, the paper's C0 rule (acceptance: ~30 steps at lr 4)

# Predicted log-log slopes and their bands: the band ends halfway to the competing rates
# (0: no convergence, -1/4: activation-flip noise, -1/2: Monte-Carlo kernel error, -1: bias^2).
SLOPES = {
    "trained": (-0.25, (-0.375, -0.125)),
    "linearization": (-0.5, (-0.75, -0.375)),
    "ensemble": (-0.5, (-0.75, -0.375)),
    "antisymmetric": (-0.25, (-0.375, -0.125)),
}
SLOPE_CI_SHARE = 0.8  # a slope CI may be at most 80% as wide as its band, or it cannot decide
CLOSE = (0.9, 1.1)  # "stays close": equal within 10%
CLOSE_HALF_WIDTH = 0.05
DRIFT_RTOL = 1e-9  # float64 rounding of two m-term sums (m <= 65536) is below 1e-12 relative
# Central differences: piecewise-linear functions are exact on kink-free segments up to rounding
# eps/h ~ 1e-10; the kernel predictor has truncation h^2 f'''/6 ~ 1e-8 and rounding ~ 1e-12.
FD_STEP_LINEAR, FD_TOL_LINEAR = 1e-6, 1e-7
FD_STEP_SMOOTH, FD_TOL_SMOOTH = 1e-4, 1e-6


@dataclasses.dataclass(frozen=True)
class Grid:
    """Sizes of one profile.

    Width sweeps train ``n_seeds`` balanced (``n_seeds_antisymmetric`` antisymmetric) networks
    per width on each data set, holding out ``test_fraction`` of it; ``lr`` maps each data set to
    its rate, below ``2 n / lambda_max(Theta_W(X, X))`` = 7.0 (digits), 7.9 (MNIST), 229
    (sphere) so that gradient descent on the linear model is stable (``ntk_regression`` refuses
    unstable rates). Ensembles: ``ensemble_replicates`` groups of ``ensemble_k`` networks.
    Lazy-ball runs: logistic loss at every ``ball_C0`` and both rules. Finite differences:
    ``fd_points`` test points times ``fd_directions`` directions, one network of width ``fd_m``.
    """
    datasets: tuple
    test_fraction: float
    widths: tuple
    n_seeds: int
    n_seeds_antisymmetric: int
    steps: int
    lr: dict
    ensemble_dataset: str
    ensemble_m: int
    ensemble_k: int
    ensemble_replicates: int
    ball_datasets: tuple
    ball_widths: tuple
    ball_C0: tuple
    fd_m: int
    fd_points: int
    fd_directions: int


GRIDS = {
    # quick: 70% of the digits held out (108 training points) so that 40 networks per width fit
    # the time budget; the linearisation error varies ~20% between networks, hence 40 seeds
    # (the antisymmetric and ensemble distances vary ~3%: fewer units decide them).
    "quick": Grid(datasets=("digits",), test_fraction=0.7, widths=(256, 1024, 4096), n_seeds=40,
                  n_seeds_antisymmetric=6, steps=50, lr={"digits": 5.0},
                  ensemble_dataset="digits", ensemble_m=256, ensemble_k=16, ensemble_replicates=6,
                  ball_datasets=("digits",), ball_widths=(256, 1024), ball_C0=(0.5, 4.0),
                  fd_m=256, fd_points=6, fd_directions=4),
    "full": Grid(datasets=("digits", "mnist", "sphere"), test_fraction=0.2,
                 widths=(256, 1024, 4096, 16384, 65536), n_seeds=8, n_seeds_antisymmetric=8,
                 steps=300, lr={"digits": 3.0, "mnist": 3.0, "sphere": 50.0},
                 ensemble_dataset="digits", ensemble_m=1024, ensemble_k=64,
                 ensemble_replicates=8, ball_datasets=("digits", "mnist"),
                 ball_widths=(256, 1024, 4096), ball_C0=(0.5, 2.0, 8.0, 16.0), fd_m=1024,
                 fd_points=16, fd_directions=8),
}


# ------------------------------------------------------------------------------------------
# Data and measurements.

@functools.lru_cache(maxsize=None)
def load(name: str, data_seed: int, test_fraction: float = 0.2) -> data.Dataset:
    """The data sets of the claims: ``"digits"``, ``"mnist"`` (bundled subset), 0 vs 1 at 8 x 8
    with labels ±1; ``"sphere"``, uniform points in ``d = 64`` with target ``tanh(3 x_1)``."""
    if name == "digits":
        return data.digits(IMAGE_SIZE, seed=data_seed, test_fraction=test_fraction)
    if name == "mnist":
        return data.mnist_subset(IMAGE_SIZE, seed=data_seed, test_fraction=test_fraction)
    if name == "sphere":
        return data.sphere(jax.random.PRNGKey(data_seed), SPHERE_N, SPHERE_D, target="tanh",
                           test_fraction=test_fraction)
    raise ValueError(f"dataset must be 'digits', 'mnist' or 'sphere'. Got {name!r}.")


@dataclasses.dataclass(frozen=True)
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


def _norm(v):
    return np.linalg.norm(np.asarray(v), axis=-1)


def _cos(u, v):
    return np.sum(np.asarray(u) * np.asarray(v), axis=-1) / (_norm(u) * _norm(v))


def network_gradients(point: NetworkPoint) -> dict:
    """Gradient norms and distances at every test point, for one trained network.

    Returns per test point `(n_test,)`: ``g0 = |grad f_0|``, ``gh = |grad h_t|``, ``limit =
    |L|``, ``trained = |grad f_t - grad f_0 - grad h_t|``, ``lin_to_limit = |g_lin - L|`` and
    ``lin_to_kernel = |g_lin - grad h_t|`` with ``g_lin = (1/sqrt m) sum_s a_s 1[w_s,0 . x > 0]
    (w_s,t - w_s,0)``, ``angle = |grad h_t - L|``, ``persist = |grad f_t - grad h_t|``, the
    cosines ``cos_delta = cos(grad f_t - grad f_0, grad h_t)`` and ``cos_full = cos(grad f_t,
    grad h_t)``, ``drift = |f_t - f_0|`` and ``x_norm``; scalars ``C0_hat`` and ``train_loss``.
    """
    ds = load(point.dataset, point.data_seed, point.test_fraction)
    x, y, xt = ds.x_train, ds.y_train, ds.x_test
    params0 = models.init_two_layer(jax.random.PRNGKey(point.seed), ds.d, point.m, signs=point.signs)
    result = training.train(params0, x, y, loss="squared", lr=point.lr, steps=point.steps)
    h = predictors.ntk_regression(x, y - np.asarray(models.apply(params0, x)),
                                  kernel=kernels.ntk_first_layer, ridge=0.0, steps=point.steps,
                                  lr=point.lr)
    g0 = np.asarray(models.input_grad(params0, xt))
    gt = np.asarray(models.input_grad(result.params, xt))
    gh = np.asarray(h.input_grad(xt))
    limit = np.asarray(predictors.angle_free_input_grad(h, xt))
    g_lin = np.asarray(predictors.linearize(params0).input_grad(result.params.W, xt)) - g0
    drift = np.abs(np.asarray(models.apply(result.params, xt) - models.apply(params0, xt)))
    return {"g0": _norm(g0), "gh": _norm(gh), "limit": _norm(limit),
            "trained": _norm(gt - g0 - gh), "lin_to_limit": _norm(g_lin - limit),
            "lin_to_kernel": _norm(g_lin - gh), "angle": _norm(gh - limit),
            "persist": _norm(gt - gh), "cos_delta": _cos(gt - g0, gh), "cos_full": _cos(gt, gh),
            "drift": drift, "x_norm": _norm(xt), "C0_hat": result.history.C0_hat[-1],
            "train_loss": result.history.loss[-1]}


def network_grid(grid: Grid, seed: int, signs: str) -> list:
    """The width sweep's points, ordered by data set, width, then seed index (the unit)."""
    n_seeds = grid.n_seeds_antisymmetric if signs == "antisymmetric" else grid.n_seeds
    return [NetworkPoint(name, DATA_SEED, grid.test_fraction, m, signs,
                         protocol.derive_seed(seed, "network", name, signs, m, i), grid.lr[name],
                         grid.steps)
            for name in grid.datasets for m in grid.widths for i in range(n_seeds)]


def per_network(points, results) -> dict:
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
                               "C0_hat": float(r["C0_hat"]), "train_loss": float(r["train_loss"])}
                for key, value in summary.items():
                    rows.setdefault(key, {}).setdefault(m, []).append(float(value))
        out[name] = {key: np.array([by_m[m] for m in widths]).T for key, by_m in rows.items()}
    return out


def _sweep(ctx, signs: str):
    grid = GRIDS[ctx.profile]
    points = network_grid(grid, ctx.seed, signs)
    results = ctx.runner.map(network_gradients, points, desc=f"{signs} networks")
    return grid, points, results, per_network(points, results)


def _config(grid: Grid, points) -> dict:
    return {"grid": dataclasses.asdict(grid), "data_seed": DATA_SEED, "image_size": IMAGE_SIZE,
            "points": [dataclasses.asdict(p) for p in points]}


def _series(summaries: dict, keys) -> dict:
    return {name: {k: s[k] for k in keys} for name, s in summaries.items()}


def _slope_check(name, widths, per_unit, slope, *, level, seed, what):
    predicted, (lo, hi) = slope
    band = protocol.Band(lo, hi, SLOPE_CI_SHARE * (hi - lo) / 2,
                         f"predicted slope {predicted:g}; band ends halfway to the competing rates "
                         "(THEORY.md 6, module SLOPES); CI at most 80% of the band")
    estimate, ci = protocol.slope_over_units(widths, per_unit, level=level, seed=seed)
    return protocol.check(f"{name}: log-log slope of {what}", prediction=f"slope {predicted:g}",
                          estimate=estimate, ci=ci, band=band, level=level)


def _mean_check(name, per_unit, *, prediction, level, seed, band=CLOSE, half_width=CLOSE_HALF_WIDTH,
                why="equivalence margin 10% (THEORY.md 8)", statistic=None):
    statistic = statistic or (lambda rows: float(np.mean(rows)))
    estimate, ci = protocol.bootstrap(per_unit, statistic, level=level, seed=seed)
    return protocol.check(name, prediction=prediction, estimate=estimate, ci=ci,
                          band=protocol.Band(band[0], band[1], half_width, why), level=level)


# ------------------------------------------------------------------------------------------
# trained_gradient_converges_to_kernel_gradient

def judge_trained(widths, summaries, *, level, seed, slope=SLOPES["trained"]) -> list:
    """Slope of the mean relative distance ``|grad f_t - grad f_0 - grad h_t| / |grad h_t|`` in ``m``."""
    return [_slope_check(name, widths, s["trained"], slope, level=level,
                         seed=protocol.derive_seed(seed, "trained", name),
                         what="|grad f_t - grad f_0 - grad h_t| / |grad h_t| against m")
            for name, s in summaries.items()]


def gradient_distance_figures(data: dict) -> dict:
    from ntk_attack.plotting import gradient_figures
    return {"gradient_distance_vs_width": gradient_figures.distance_vs_width(data)}


@registry.claim("trained_gradient_converges_to_kernel_gradient",
                title="The trained network's gradient change converges to the kernel "
                      "predictor's gradient like m^(-1/4)",
                figures=gradient_distance_figures)
def trained_gradient_converges_to_kernel_gradient(ctx: registry.Context) -> registry.Outcome:
    """``|grad f_t - grad f_0 - grad h_t| / |grad h_t|`` falls like ``m^(-1/4)``: the activation
    flips leave a random term of norm ``~ sqrt(C0 d) m^(-1/4)`` (THEORY.md 6.1)."""
    grid, points, _, summaries = _sweep(ctx, "balanced")
    checks = judge_trained(grid.widths, summaries, level=ctx.level(len(summaries)), seed=ctx.seed)
    data = {"widths": grid.widths, "slopes": {k: v[0] for k, v in SLOPES.items()},
            "series": _series(summaries, ("trained", "lin_to_limit", "lin_to_kernel", "angle",
                                          "persist_paired", "C0_hat", "cos_delta"))}
    notes = "C0_hat after training per width (mean over networks), and C0_hat / sqrt(d): " + "; ".join(
        f"{name} " + ", ".join(f"{v:.2f} ({v / math.sqrt(load(name, DATA_SEED, grid.test_fraction).d):.2f})"
                               for v in s["C0_hat"].mean(axis=0))
        for name, s in summaries.items()) + ". Squared loss, full-batch gradient descent."
    return registry.Outcome(checks, data, _config(grid, points), notes)


# ------------------------------------------------------------------------------------------
# linearization_gradient_misses_activation_flips

def judge_linearization(widths, summaries, *, level, seed, slope=SLOPES["linearization"]) -> list:
    """The linearisation's gradient converges to ``L`` (slope) and, at the largest width, sits
    at the angle term's distance from ``grad h_t`` (ratio 1)."""
    checks = []
    for name, s in summaries.items():
        checks.append(_slope_check(name, widths, s["lin_to_limit"], slope, level=level,
                                   seed=protocol.derive_seed(seed, "lin", name),
                                   what="|g_lin - L| / |L| against m"))
        last = np.stack([s["lin_to_kernel"][:, -1], s["angle"][:, -1]], axis=1)
        checks.append(_mean_check(
            f"{name}: |g_lin - grad h_t| / |grad h_t - L| at m = {widths[-1]}", last,
            prediction="1 (the gap is the angle term)", level=level,
            seed=protocol.derive_seed(seed, "gap", name),
            statistic=lambda rows: float(np.mean(rows[:, 0]) / np.mean(rows[:, 1]))))
    return checks


@registry.claim("linearization_gradient_misses_activation_flips",
                title="The linearised network's pointwise gradient misses the angle term of grad h_t")
def linearization_gradient_misses_activation_flips(ctx: registry.Context) -> registry.Outcome:
    """The pointwise gradient of the linearisation, ``(1/sqrt m) sum_s a_s 1[w_s,0 . x > 0]
    (w_s,t - w_s,0)``, converges like ``m^(-1/2)`` to ``sum_i c_i x_i (pi - theta_i)/(2 pi)``
    and so stays at the angle term's distance from ``grad h_t`` (THEORY.md 6.2)."""
    grid, points, _, summaries = _sweep(ctx, "balanced")
    checks = judge_linearization(grid.widths, summaries, level=ctx.level(2 * len(summaries)),
                                 seed=ctx.seed)
    data = {"widths": grid.widths,
            "series": _series(summaries, ("lin_to_limit", "lin_to_kernel", "angle", "trained"))}
    notes = "Angle term |grad h_t - L| / |grad h_t| (mean over networks, per width): " + "; ".join(
        f"{name} " + ", ".join(f"{v:.3f}" for v in s["angle"].mean(axis=0))
        for name, s in summaries.items())
    return registry.Outcome(checks, data, _config(grid, points), notes)


# ------------------------------------------------------------------------------------------
# init_gradient_term_persists

def judge_persistence(widths, summaries, d: dict, *, level, seed) -> list:
    """``|grad f_t - grad h_t| / |grad f_0|`` at every width, and the RMS of ``|grad f_t - grad h_t|``
    over all networks against ``sqrt(d/2 - 1/(2 pi))`` (THEORY.md 2)."""
    checks = []
    for name, s in summaries.items():
        for j, m in enumerate(widths):
            checks.append(_mean_check(
                f"{name}: |grad f_t - grad h_t| / |grad f_0| at m = {m}", s["persist_paired"][:, j],
                prediction="1", level=level, seed=protocol.derive_seed(seed, "paired", name, m)))
        scale = theory.grad_norm_sq_init(d[name])
        checks.append(_mean_check(
            f"{name}: RMS |grad f_t - grad h_t| / sqrt(d/2 - 1/(2 pi)), all networks",
            s["persist_sq"].reshape(-1), prediction="1", level=level,
            seed=protocol.derive_seed(seed, "rms", name), half_width=0.1,
            why="equivalence margin 10%; per-network spread ~sqrt(2/d) (|grad f_0|^2 is nearly "
                "chi-square in d dimensions), so the CI may be as wide as 0.1",
            statistic=lambda rows: math.sqrt(float(np.mean(rows)) / scale)))
    return checks


@registry.claim("init_gradient_term_persists",
                title="|grad f_t - grad h_t| stays at |grad f_0| ~ sqrt(d/2) at every width")
def init_gradient_term_persists(ctx: registry.Context) -> registry.Outcome:
    """``|grad f_t - grad h_t|`` stays near ``|grad f_0| ~ sqrt(d/2 - 1/(2 pi))`` at every width:
    the kernel predictor is smooth, the network keeps its init's ``sqrt(d)`` gradient (THEORY.md 6.3)."""
    grid, points, _, summaries = _sweep(ctx, "balanced")
    d = {name: load(name, DATA_SEED, grid.test_fraction).d for name in summaries}
    n_checks = len(summaries) * (len(grid.widths) + 1)
    checks = judge_persistence(grid.widths, summaries, d, level=ctx.level(n_checks), seed=ctx.seed)
    data = {"widths": grid.widths, "d": d,
            "series": _series(summaries, ("persist_paired", "persist_sq", "gh"))}
    notes = "Mean |grad h_t| per width: " + "; ".join(
        f"{name} " + ", ".join(f"{v:.2f}" for v in s["gh"].mean(axis=0)) for name, s in summaries.items())
    return registry.Outcome(checks, data, _config(grid, points), notes)


# ------------------------------------------------------------------------------------------
# antisymmetric_init_gradient_converges

def judge_antisymmetric(widths, summaries, *, level, seed, slope=SLOPES["antisymmetric"]) -> list:
    """Slope of ``|grad f_t - grad h_t| / |grad h_t|`` in ``m`` (``f_0 == 0``, ``h_t`` fit to ``Y``)."""
    return [_slope_check(name, widths, s["trained"], slope, level=level,
                         seed=protocol.derive_seed(seed, "antisymmetric", name),
                         what="|grad f_t - grad h_t| / |grad h_t| against m (antisymmetric init)")
            for name, s in summaries.items()]


def cosine_figures(data: dict) -> dict:
    from ntk_attack.plotting import gradient_figures
    return {"gradient_cosine_vs_width": gradient_figures.cosine_vs_width(data)}


@registry.claim("antisymmetric_init_gradient_converges",
                title="With antisymmetric init, grad f_t converges to grad h_t like m^(-1/4)",
                figures=cosine_figures)
def antisymmetric_init_gradient_converges(ctx: registry.Context) -> registry.Outcome:
    """With antisymmetric init ``f_0 == 0``, so ``grad f_t -> grad h_t(.; Y)`` as ``m`` grows,
    like ``m^(-1/4)`` as for the balanced network's gradient change (THEORY.md 6.5)."""
    grid, points, _, summaries = _sweep(ctx, "antisymmetric")
    _, _, _, balanced = _sweep(ctx, "balanced")
    checks = judge_antisymmetric(grid.widths, summaries, level=ctx.level(len(summaries)), seed=ctx.seed)
    data = {"widths": grid.widths, "slopes": {"antisymmetric": SLOPES["antisymmetric"][0]},
            "series": _series(summaries, ("trained", "cos_full")),
            "balanced": _series(balanced, ("cos_full", "cos_delta"))}
    notes = "Mean cos(grad f_t, grad h_t) per width, antisymmetric vs balanced: " + "; ".join(
        f"{name} " + ", ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(s["cos_full"].mean(axis=0),
                                                                balanced[name]["cos_full"].mean(axis=0)))
        for name, s in summaries.items())
    return registry.Outcome(checks, data, _config(grid, points), notes)


# ------------------------------------------------------------------------------------------
# ensemble_gradient_converges

@dataclasses.dataclass(frozen=True)
class EnsemblePoint:
    """``k`` independent networks of width ``m`` trained together (``jax.vmap``)."""
    dataset: str
    data_seed: int
    test_fraction: float
    m: int
    k: int
    seed: int
    lr: float
    steps: int


def ensemble_gradients(point: EnsemblePoint) -> dict:
    """``distance[j] = mean_x |mean_{i < k_j} grad f_t,i - grad h_t(.; Y)| / |grad h_t(.; Y)|``
    for ``k_j = 1, 2, 4, ..., k``."""
    ds = load(point.dataset, point.data_seed, point.test_fraction)
    keys = jax.random.split(jax.random.PRNGKey(point.seed), point.k)
    params0 = jax.vmap(lambda key: models.init_two_layer(key, ds.d, point.m))(keys)
    result = training.train(params0, ds.x_train, ds.y_train, loss="squared", lr=point.lr,
                            steps=point.steps)
    h = predictors.ntk_regression(ds.x_train, ds.y_train, kernel=kernels.ntk_first_layer, ridge=0.0,
                                  steps=point.steps, lr=point.lr)
    gh = np.asarray(h.input_grad(ds.x_test))
    ks = 2 ** np.arange(int(math.log2(point.k)) + 1)
    distance = [np.mean(_norm(predictors.ensemble_input_grad(
        models.TwoLayer(result.params.W[:k], result.params.a[:k]), ds.x_test) - gh) / _norm(gh))
        for k in ks]
    return {"k": ks, "distance": np.array(distance)}


def judge_ensemble(ks, per_replicate, *, level, seed, slope=SLOPES["ensemble"]) -> list:
    return [_slope_check("ensemble", ks, per_replicate, slope, level=level,
                         seed=protocol.derive_seed(seed, "ensemble"),
                         what="|mean_k grad f_t - grad h_t(Y)| / |grad h_t(Y)| against k")]


@registry.claim("ensemble_gradient_converges",
                title="Mean gradient over k inits converges to the kernel predictor's like k^(-1/2)")
def ensemble_gradient_converges(ctx: registry.Context) -> registry.Outcome:
    """The mean of ``grad f_t`` over ``k`` independent inits approaches ``grad h_t(.; Y)`` (the
    analytic predictor fit to ``Y``) like ``k^(-1/2)``: ``E f_0 = 0``, ``E grad f_0 = 0`` with
    balanced signs (THEORY.md 6.4)."""
    grid = GRIDS[ctx.profile]
    name = grid.ensemble_dataset
    points = [EnsemblePoint(name, DATA_SEED, grid.test_fraction, grid.ensemble_m, grid.ensemble_k,
                            protocol.derive_seed(ctx.seed, "ensemble", name, grid.ensemble_m, r),
                            grid.lr[name], grid.steps) for r in range(grid.ensemble_replicates)]
    results = ctx.runner.map(ensemble_gradients, points, desc="ensembles")
    ks = results[0]["k"]
    per_replicate = np.stack([r["distance"] for r in results])
    checks = judge_ensemble(ks, per_replicate, level=ctx.level(), seed=ctx.seed)
    data = {"k": ks, "distance": per_replicate, "m": grid.ensemble_m, "dataset": name}
    notes = (f"{name}, m = {grid.ensemble_m}; replicates (disjoint groups of {grid.ensemble_k} "
             "networks) are the bootstrap units; the ensemble of size k is the first k of a group.")
    return registry.Outcome(checks, data, {"points": [dataclasses.asdict(p) for p in points]}, notes)


# ------------------------------------------------------------------------------------------
# lazy_value_drift_bound

@dataclasses.dataclass(frozen=True)
class BallPoint:
    """One network trained with the logistic loss inside the lazy ball of radius ``C0 / sqrt(m)``."""
    dataset: str
    data_seed: int
    m: int
    C0: float
    rule: str
    seed: int
    lr: float
    steps: int


def ball_training(point: BallPoint) -> dict:
    """``drift = |f_t - f_0|`` and ``x_norm`` at the test points; ``C0_hat``, ``steps_taken``
    and the test accuracy."""
    ds = load(point.dataset, point.data_seed)
    params0 = models.init_two_layer(jax.random.PRNGKey(point.seed), ds.d, point.m)
    result = training.train(params0, ds.x_train, ds.y_train, loss="logistic", lr=point.lr,
                            steps=point.steps, C0=point.C0, rule=point.rule)
    f_t = np.asarray(models.apply(result.params, ds.x_test))
    drift = np.abs(f_t - np.asarray(models.apply(params0, ds.x_test)))
    return {"drift": drift, "x_norm": _norm(ds.x_test), "C0_hat": result.history.C0_hat[-1],
            "steps_taken": result.history.steps_taken,
            "test_accuracy": np.mean(f_t * ds.y_test > 0)}


def tight_case(m: int = 64, d: int = 16, C0: float = 3.0, seed: int = 0):
    """The case where the lemma is an equality: ``w_s = w_s,0 + (C0 / sqrt m) a_s x`` with every
    ``w_s,0 . x > C0 / sqrt(m)`` (all neurons active at ``x`` before and after) gives
    ``f(x; W) - f(x; W0) = C0 ||x||^2 = C0`` and ``C0_hat = C0``.

    Returns:
        ``((f(x; W) - f(x; W0)) / C0, C0_hat / C0)``, both 1 up to rounding.
    """
    key_w, key_x = jax.random.split(jax.random.PRNGKey(seed))
    x = jax.random.normal(key_x, (d,))
    x = x / jnp.linalg.norm(x)
    params0 = models.init_two_layer(key_w, d, m)
    along = params0.W @ x  # move each row along x so that w_s . x > C0 / sqrt(m) before and > 0 after
    W0 = params0.W + (jnp.abs(along) - along + C0 / math.sqrt(m))[:, None] * x
    W = W0 + (C0 / math.sqrt(m)) * params0.a[:, None] * x
    drift = models.apply(models.TwoLayer(W, params0.a), x) - models.apply(models.TwoLayer(W0, params0.a), x)
    return float(drift / C0), float(training.C0_hat(W, W0) / C0)


def judge_drift(records, *, tight, C0_rule) -> list:
    """Exact checks: zero violations of ``|f_t - f_0| <= C0_hat ||x||``, the tight case, and the
    ``C0`` rules (``"stop"`` lands on ``C0``, ``"project"`` stays inside)."""
    violations = sum(int(np.sum(r["drift"] > r["C0_hat"] * r["x_norm"] * (1 + DRIFT_RTOL)))
                     for r in records)
    n = sum(len(r["drift"]) for r in records)
    drift_ratio, C0_ratio = tight
    stop_error, project_excess = C0_rule
    return [
        protocol.exact_check(f"violations of |f_t - f_0| <= C0_hat ||x|| ({n} test points)",
                             prediction="0", value=violations,
                             band=protocol.Band(0, 0, 0, "deterministic lemma; rounding slack "
                                                f"{DRIFT_RTOL:g} relative")),
        protocol.exact_check("tight case: (f_t - f_0) / C0 - 1 and C0_hat / C0 - 1, larger in size",
                             prediction="0 (equality)", value=max(abs(drift_ratio - 1), abs(C0_ratio - 1)),
                             band=protocol.Band(0, 1e-12, 0, "float64 sums of 64 terms")),
        protocol.exact_check("rule 'stop': max |C0_hat / C0 - 1| over runs that stopped",
                             prediction="0 (the last step lands on the boundary)", value=stop_error,
                             band=protocol.Band(0, 1e-10, 0, "root of a quadratic in float64")),
        protocol.exact_check("rule 'project': max (C0_hat / C0 - 1)", prediction="<= 0",
                             value=project_excess,
                             band=protocol.Band(-math.inf, 1e-12, 0, "float64 rounding of the rescaling")),
    ]


@registry.claim("lazy_value_drift_bound", title="|f(x; W) - f(x; W0)| <= C0_hat ||x|| after training")
def lazy_value_drift_bound(ctx: registry.Context) -> registry.Outcome:
    """``|f(x; W) - f(x; W0)| <= C0_hat ||x||`` at every test point after training (relu is
    1-Lipschitz), with zero violations; equality in the tight case (THEORY.md 4)."""
    grid, points, results, _ = _sweep(ctx, "balanced")
    ball = [BallPoint(name, DATA_SEED, m, C0, rule,
                      protocol.derive_seed(ctx.seed, "ball", name, m, C0, rule), BALL_LR, BALL_STEPS)
            for name in grid.ball_datasets for m in grid.ball_widths for C0 in grid.ball_C0
            for rule in training.RULES]
    ball_results = ctx.runner.map(ball_training, ball, desc="lazy-ball networks")
    records = list(results) + list(ball_results)
    stopped = [abs(float(r["C0_hat"]) / p.C0 - 1) for p, r in zip(ball, ball_results)
               if p.rule == "stop" and int(r["steps_taken"]) < p.steps]
    projected = [float(r["C0_hat"]) / p.C0 - 1 for p, r in zip(ball, ball_results) if p.rule == "project"]
    checks = judge_drift(records, tight=tight_case(), C0_rule=(max(stopped, default=0.0), max(projected)))
    ratios = [float(np.max(r["drift"] / (r["C0_hat"] * r["x_norm"]))) for r in records]
    data = {"ball": [{**dataclasses.asdict(p), "C0_hat": float(r["C0_hat"]),
                      "steps_taken": int(r["steps_taken"]), "test_accuracy": float(r["test_accuracy"]),
                      "max_ratio": float(np.max(r["drift"] / (r["C0_hat"] * r["x_norm"])))}
                     for p, r in zip(ball, ball_results)],
            "max_ratio_gradient_sweep": ratios[:len(results)]}
    notes = (f"Largest |f_t - f_0| / (C0_hat ||x||) seen: {max(ratios):.3f} (the bound is loose for "
             f"trained networks); {len(stopped)} of {sum(p.rule == 'stop' for p in ball)} 'stop' runs "
             "reached C0 within the step budget.")
    config = {**_config(grid, points), "ball": [dataclasses.asdict(p) for p in ball]}
    return registry.Outcome(checks, data, config, notes)


# ------------------------------------------------------------------------------------------
# gradient_closed_forms_match_finite_differences

def _directional_fd(fn, x, v, h):
    return (np.asarray(fn(x + h * v)) - np.asarray(fn(x - h * v))) / (2 * h)


def _kink_free(W, x, v, h):
    """`(n, r)`: no ``w_s . z`` changes sign on the segment ``x +- h v``, where central
    differences of a relu network are exact up to rounding."""
    z_plus = np.einsum("md,nrd->nrm", W, x[:, None] + h * v)
    z_minus = np.einsum("md,nrd->nrm", W, x[:, None] - h * v)
    return np.all((z_plus > 0) == (z_minus > 0), axis=-1)


def finite_difference_errors(grid: Grid, seed: int) -> dict:
    """Largest relative error ``|FD_v - grad . v| / |grad|`` of each closed-form gradient, on
    ``fd_points`` test points times ``fd_directions`` random unit directions ``v``."""
    ds = load("digits", DATA_SEED, grid.test_fraction)
    lr = grid.lr["digits"]
    key_net, key_v = jax.random.split(jax.random.PRNGKey(protocol.derive_seed(seed, "fd")))
    params0 = models.init_two_layer(key_net, ds.d, grid.fd_m)
    trained = training.train(params0, ds.x_train, ds.y_train, loss="squared", lr=lr,
                             steps=grid.steps).params
    h = predictors.ntk_regression(ds.x_train, ds.y_train - np.asarray(models.apply(params0, ds.x_train)),
                                  kernel=kernels.ntk_first_layer, ridge=0.0, steps=grid.steps,
                                  lr=lr)
    lin = predictors.linearize(params0)
    x = ds.x_test[:grid.fd_points]
    v = np.array(jax.random.normal(key_v, (len(x), grid.fd_directions, ds.d)))
    v /= np.linalg.norm(v, axis=-1, keepdims=True)

    def errors(value_fn, grad, step, valid):
        fd = np.stack([[_directional_fd(value_fn, x[i], v[i, j], step) for j in range(v.shape[1])]
                       for i in range(len(x))])
        exact = np.einsum("nd,nrd->nr", np.asarray(grad), v)
        err = np.abs(fd - exact) / np.linalg.norm(np.asarray(grad), axis=-1)[:, None]
        return float(np.max(np.where(valid, err, 0))), int(np.sum(~valid))

    network = errors(lambda z: models.apply(trained, z), models.input_grad(trained, x), FD_STEP_LINEAR,
                     _kink_free(np.asarray(trained.W), x, v, FD_STEP_LINEAR))
    linear = errors(lambda z: lin.apply(trained.W, z), lin.input_grad(trained.W, x), FD_STEP_LINEAR,
                    _kink_free(np.asarray(params0.W), x, v, FD_STEP_LINEAR))
    kernel = errors(h.apply, h.input_grad(x), FD_STEP_SMOOTH, np.ones(v.shape[:2], bool))
    # THEORY.md 6.2 in closed form: grad Theta_W(x, x_i) = x_i kappa0 - (x . x_i) grad(theta_i) / (2 pi).
    angle = theory.angle_term(x, h.x_train, h.coef)
    closed = np.asarray(predictors.angle_free_input_grad(h, x)) + angle
    autodiff = np.asarray(h.input_grad(x))
    decomposition = float(np.max(np.linalg.norm(closed - autodiff, axis=-1)
                                 / np.linalg.norm(autodiff, axis=-1)))
    return {"network": network, "linearization": linear, "kernel_predictor": kernel,
            "angle_decomposition": decomposition}


def judge_finite_differences(errors: dict) -> list:
    (net, net_skip), (lin, lin_skip), (ker, _) = (errors["network"], errors["linearization"],
                                                  errors["kernel_predictor"])
    linear_band = protocol.Band(0, FD_TOL_LINEAR, 0, f"piecewise linear: central differences with h = "
                                f"{FD_STEP_LINEAR:g} are exact on kink-free segments up to rounding eps/h")
    return [
        protocol.exact_check("network input_grad vs central differences", prediction="equal",
                             value=net, band=linear_band,
                             note=f"{net_skip} (point, direction) pairs crossing a kink skipped"),
        protocol.exact_check("linearisation input_grad vs central differences", prediction="equal",
                             value=lin, band=linear_band,
                             note=f"{lin_skip} (point, direction) pairs crossing a gate of W0 skipped"),
        protocol.exact_check("kernel predictor input_grad (jax.grad) vs central differences",
                             prediction="equal", value=ker,
                             band=protocol.Band(0, FD_TOL_SMOOTH, 0, f"h = {FD_STEP_SMOOTH:g}: truncation "
                                                "h^2 f'''/6 and rounding eps/h both far below")),
        protocol.exact_check("grad h_t = L + angle term (THEORY.md 6.2 closed form) vs jax.grad",
                             prediction="equal", value=errors["angle_decomposition"],
                             band=protocol.Band(0, 1e-10, 0, "same formula, float64; arccos is "
                                                "well conditioned away from training points")),
    ]


@registry.claim("gradient_closed_forms_match_finite_differences",
                title="Closed-form input gradients match central finite differences")
def gradient_closed_forms_match_finite_differences(ctx: registry.Context) -> registry.Outcome:
    """Every closed-form input gradient (network, linearisation, kernel predictor, and the split
    of ``grad h_t`` into ``L`` plus the angle term) equals central finite differences of its value."""
    grid = GRIDS[ctx.profile]
    errors = finite_difference_errors(grid, ctx.seed)
    return registry.Outcome(judge_finite_differences(errors), {"errors": errors},
                            {"m": grid.fd_m, "points": grid.fd_points, "directions": grid.fd_directions,
                             "steps": grid.steps, "lr": grid.lr["digits"]})
