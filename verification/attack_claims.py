"""Claims of issue 6: the single-step attack against dimension, width and lazy radius (THEORY.md 3-4).

Notation. ``eta*`` is :func:`ntk_attack.attacks.min_flip` (exact) along
``u = -sign(f) grad f / ||grad f||``; ``first_order = |f| / ||grad f||``; ``f0`` and ``grad0``
are taken at the initial weights ``W0``; ``C0_hat = sqrt(m) max_s ||w_s - w_s,0||``.

- ``init_attack_matches_prediction``: at init, ``sqrt(d) |f| / ||grad f||`` averages to
  ``sqrt 2 E|f| -> 0.659`` (balanced signs) and to the random-signs value given each network's
  offset (``0.798`` averaged over sign draws); ``eta* / first_order - 1`` falls like ``d^(-1/2)``.
- ``attack_scales_as_inverse_sqrt_d``: log-log slope of ``eta*`` against ``d`` is ``-1/2``, at
  init and after lazy training at fixed ``C0``.
- ``attack_independent_of_width``: log-log slope of ``eta*`` against ``m`` is 0 (equivalence).
- ``lazy_bound_holds``: ``eta* <= B(x)`` (:func:`ntk_attack.bounds.lazy_envelope`, ``kappa_d``
  calibrated on disjoint seeds) for >= 99% of points at every grid point inside the conditions.
- ``constant_does_not_grow_with_d``: the 95th percentile of ``eta* sqrt(d) / (|f0| + C0)`` at the
  held-out largest ``d`` stays below the upper CI end of ``K_hat(C0)`` fitted on smaller ``d``.
- ``phase_transition_in_C0``: on MNIST 0 vs 1, at fixed ``C0`` the slope against ``d`` is
  ``-1/2`` and the prefactor ``eta* sqrt(d)`` grows with ``C0``; along ``C0 ~ c sqrt(d)`` the slope
  is flatter than ``-1/2``.

Networks are the bootstrap units: all points of one network stay together (they share its
weights and offset). Training data and test points are fixed per grid point (the claims are
conditional on them). Every claim measures through ``ctx.runner.map`` (module-level point
functions of frozen dataclass points, shared between claims through the cache) and judges with
a separate pure function, so tests can feed a wrong prediction and see it fail.
"""
import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from ntk_attack import attacks, bounds, data, models, theory, training
from verification import protocol, registry

RELATIVE_BAND = 0.03  # finite-d, m corrections to the d -> inf limits are < 0.5% at d >= 256
EXCESS_SLOPE = (-0.5, (-0.75, -0.25))  # ratio ~ 1 + 0.25 / sqrt(d): excess ~ d^(-1/2)
D_SLOPE_INIT = (-0.5, (-0.55, -0.45))  # curvature moves it by ~ -0.02 between d = 16 and 256
D_SLOPE_TRAINED = (-0.5, (-0.6, -0.4))  # trained margins: d-dependence not predicted, +-0.1
M_SLOPE = (0.0, (-0.05, 0.05))  # the law of (f, grad f) at init does not depend on m
SLOPE_CI_SHARE = 0.5  # a slope's CI half-width may be at most half its band width
VIOLATION_MAX = 0.01  # lazy envelope: at most 1% of points above B(x)
VIOLATION_HALF_WIDTH = 0.005
K_QUANTILE = 0.95
K_HALF_WIDTH_SHARE = 0.1  # held-out quantile's CI half-width at most 10% of K_hat
KAPPA_QUANTILE = 0.999
GROWTH_HALF_WIDTH = 0.5  # slope of log(prefactor) against log(C0): sign must be decidable
FLATTER_HALF_WIDTH = 0.25
MNIST_LR = 4.0  # the prototype's full-batch rate (issue 6)
MNIST_SIDE = 28
SPHERE_LR = 4.0


@dataclasses.dataclass(frozen=True)
class Grid:
    """Sizes of one profile (see :data:`GRIDS`)."""
    init_ds: tuple
    init_m: int
    init_networks: int
    init_points: int
    first_order_d: int  # claim 1's comparison with the d -> inf limits
    first_order_m: int
    first_order_networks: int
    first_order_points: int
    width_d: int
    widths: tuple
    width_networks: int
    width_points: int
    sphere_ds: tuple
    sphere_m: int
    sphere_networks: int
    sphere_train: int
    sphere_test: int
    sphere_steps: int
    fixed_C0: tuple  # claims 2 and 5, sphere data
    bound_ds: tuple
    bound_ratios: tuple  # C0 / sqrt(d), claim 4
    kappa_networks: int
    kappa_points: int
    mnist_sizes: tuple
    mnist_fit_sizes: tuple  # sizes of the fixed-C0 slope fits
    mnist_m: int
    mnist_networks: int
    mnist_fit_networks: int  # networks of the fixed-C0 slope fits (their offsets dominate the CI)
    mnist_steps: int
    mnist_fixed_C0: tuple
    mnist_c: float  # C0 = mnist_c * sqrt(d) along the lazy-escape path
    mnist_sweep_C0: tuple  # extra C0 values for the figures
    eps_grid: tuple


# Every attacked batch has N_POINTS points, so each (d, m) compiles the attack once for all claims.
N_POINTS = 200

GRIDS = {
    "quick": Grid(init_ds=(16, 64, 256), init_m=1024, init_networks=60, init_points=N_POINTS,
                  first_order_d=256, first_order_m=512, first_order_networks=80,
                  first_order_points=500, width_d=64, widths=(256, 1024, 4096), width_networks=60,
                  width_points=N_POINTS, sphere_ds=(16, 64, 256), sphere_m=1024, sphere_networks=8,
                  sphere_train=400, sphere_test=N_POINTS, sphere_steps=300, fixed_C0=(0.0, 1.0),
                  bound_ds=(64, 256), bound_ratios=(0.01, 0.03, 0.1), kappa_networks=40,
                  kappa_points=N_POINTS, mnist_sizes=(7, 14), mnist_fit_sizes=(7, 28), mnist_m=512,
                  mnist_networks=16, mnist_fit_networks=96, mnist_steps=300, mnist_fixed_C0=(1.0, 2.0, 3.0), mnist_c=0.57,
                  mnist_sweep_C0=(), eps_grid=(0.01, 0.03, 0.1, 0.3)),
    "full": Grid(init_ds=(16, 64, 256, 1024), init_m=4096, init_networks=100, init_points=N_POINTS,
                 first_order_d=1024, first_order_m=4096, first_order_networks=128,
                 first_order_points=1000, width_d=256, widths=(256, 1024, 4096, 16384),
                 width_networks=100, width_points=N_POINTS, sphere_ds=(16, 64, 256, 1024),
                 sphere_m=1024, sphere_networks=8, sphere_train=800, sphere_test=N_POINTS,
                 sphere_steps=1000, fixed_C0=(0.0, 0.5, 1.0), bound_ds=(64, 256, 1024),
                 bound_ratios=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0), kappa_networks=100,
                 kappa_points=N_POINTS, mnist_sizes=(7, 14, 28), mnist_fit_sizes=(14, 28),
                 mnist_m=4096, mnist_networks=32, mnist_fit_networks=128, mnist_steps=3000, mnist_fixed_C0=(1.0, 2.0, 4.0),
                 mnist_c=0.57, mnist_sweep_C0=(0.25, 0.5, 8.0, 16.0, 32.0),
                 eps_grid=(0.01, 0.03, 0.1, 0.3)),
}


# ------------------------------------------------------------------------------------------
# Measurements (module-level point functions).

def _unit_points(key, n: int, d: int):
    x = jax.random.normal(key, (n, d))
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def _flip_arrays(result: attacks.FlipResult) -> dict:
    return {"eta": result.eta, "first_order": result.first_order, "f": result.f0,
            "grad_norm": result.grad_norm, "status": result.status}


@dataclasses.dataclass(frozen=True)
class InitPoint:
    """``n_networks`` networks at init, each attacked at its own ``n_points`` sphere points."""
    d: int
    m: int
    signs: str
    n_networks: int
    n_points: int
    seed: int


def init_point(point: InitPoint) -> dict:
    """Per network and point `(n_networks, n_points)`: ``eta``, ``first_order``, ``f``,
    ``grad_norm``, ``status``; per network `(n_networks,)`: ``sum_a = sum_s a_s``."""
    rows, sums = [], []
    for key in jax.random.split(jax.random.PRNGKey(point.seed), point.n_networks):
        key_w, key_x = jax.random.split(key)
        params = models.init_two_layer(key_w, point.d, point.m, signs=point.signs)
        rows.append(_flip_arrays(attacks.min_flip(params, _unit_points(key_x, point.n_points, point.d))))
        sums.append(jnp.sum(params.a))
    out = {name: np.stack([np.asarray(r[name]) for r in rows]) for name in rows[0]}
    return {**out, "sum_a": np.asarray(sums)}


@functools.partial(jax.jit, static_argnames=("d", "m", "signs", "n_points"))
def _first_order_means(keys, *, d: int, m: int, signs: str, n_points: int):
    def one(key):
        key_w, key_x = jax.random.split(key)
        params = models.init_two_layer(key_w, d, m, signs=signs)
        x = _unit_points(key_x, n_points, d)
        grad_norm = jnp.linalg.norm(models.input_grad(params, x), axis=-1)
        return jnp.mean(math.sqrt(d) * jnp.abs(models.apply(params, x)) / grad_norm), jnp.sum(params.a)

    return jax.lax.map(one, keys)


def first_order_point(point: InitPoint) -> dict:
    """Per network `(n_networks,)`: mean over its points of ``sqrt(d) |f| / ||grad f||`` and
    ``sum_a``. Two products per network, no attack: cheap enough for ~10^5 points."""
    keys = jax.random.split(jax.random.PRNGKey(point.seed), point.n_networks)
    means, sums = _first_order_means(keys, d=point.d, m=point.m, signs=point.signs,
                                     n_points=point.n_points)
    return {"mean_first_order_sqrt_d": np.asarray(means), "sum_a": np.asarray(sums)}


@dataclasses.dataclass(frozen=True)
class KappaPoint:
    """Calibration of ``kappa_d`` at init on seeds used nowhere else (THEORY.md 4)."""
    d: int
    m: int
    n_networks: int
    n_points: int
    seed: int


def kappa_point(point: KappaPoint) -> dict:
    calibration = bounds.calibrate_kappa(jax.random.PRNGKey(point.seed), point.d, point.m,
                                         n_networks=point.n_networks, n_points=point.n_points,
                                         q=KAPPA_QUANTILE)
    return dict(calibration._asdict())


@dataclasses.dataclass(frozen=True)
class TrainedPoint:
    """``n_networks`` networks trained (logistic loss, full-batch GD, stop rule at ``C0``;
    ``C0 = 0``: untrained) on one data set; ``dataset`` is ``"sphere"`` (labels
    ``sign(x_1)``, ``n_train + n_test`` points in ``R^d``) or ``"mnist"`` (the bundled 0-vs-1
    subset at ``size x size``, ``d = size^2``; ``n_train``, ``n_test`` unused)."""
    dataset: str
    d: int
    m: int
    C0: float
    n_networks: int
    n_train: int
    n_test: int
    lr: float
    steps: int
    data_seed: int
    seed: int
    eps_grid: tuple = ()


def pooled_init(key, d: int, m: int) -> models.TwoLayer:
    """A balanced network on ``size x size`` images (``d = size^2``, ``size`` dividing 28) whose
    rows are the ``k x k`` block sums, divided by ``k = 28 / size``, of one ``28 x 28`` draw.

    Each row is exactly ``N(0, I_d)`` at every size, so every size gets the model of THEORY.md
    section 1. For one key the sizes share the draw: ``w'_s . x'`` is ``w_s . x~`` with ``x~`` the
    unit-norm block-constant upsampling of the small image, close to the full image. A network
    at ``d = 49`` then sees nearly the offset ``f(x; W0)`` of its twin at ``d = 784`` (common
    random numbers), so the slope against ``d`` compares each network with itself instead of
    with an independent offset, which MNIST's correlated test images share.
    """
    size = math.isqrt(d)
    if size * size != d or MNIST_SIDE % size:
        raise ValueError(f"d must be size^2 with size dividing {MNIST_SIDE}. Got d = {d}.")
    k, full = MNIST_SIDE // size, models.init_two_layer(key, MNIST_SIDE ** 2, m)
    W = full.W.reshape(m, size, k, size, k).sum(axis=(2, 4)) / k
    return models.TwoLayer(W.reshape(m, d), full.a)


@functools.lru_cache(maxsize=None)
def load(dataset: str, d: int, n_train: int, n_test: int, data_seed: int) -> data.Dataset:
    """Sphere points with labels ``sign(x_1)``, or the bundled MNIST 0-vs-1 subset at
    ``sqrt(d) x sqrt(d)`` (memoised: the subset takes seconds to load and resize)."""
    if dataset == "sphere":
        return data.sphere(jax.random.PRNGKey(data_seed), n_train + n_test, d,
                           test_fraction=n_test / (n_train + n_test))
    return data.mnist_subset(math.isqrt(d), seed=data_seed)


def trained_point(point: TrainedPoint) -> dict:
    """Attack the trained networks at the test points.

    Returns per network and test point `(n_networks, n_test)`: ``eta``, ``first_order``, ``f``,
    ``grad_norm``, ``status`` of the trained network, ``init_f`` and ``init_grad_norm`` of
    ``W0``; per network:
    ``C0_hat``, ``steps``, ``train_accuracy``, ``robust_accuracy`` `(n_networks, len(eps_grid))`;
    ``y`` `(n_test,)`.
    """
    ds = load(point.dataset, point.d, point.n_train, point.n_test, point.data_seed)
    keys = jax.random.split(jax.random.PRNGKey(point.seed), point.n_networks)
    init = pooled_init if point.dataset == "mnist" else models.init_two_layer
    stack = [init(key, point.d, point.m) for key in keys]
    params0 = models.TwoLayer(jnp.stack([p.W for p in stack]), jnp.stack([p.a for p in stack]))
    if point.C0 > 0:
        result = training.train(params0, ds.x_train, ds.y_train, loss="logistic", lr=point.lr,
                                steps=point.steps, C0=point.C0, rule="stop")
        trained, history = result.params, result.history
        C0_hat, steps = history.C0_hat[:, -1], history.steps_taken
        train_accuracy = history.accuracy[:, -1]
    else:
        trained, C0_hat, steps = params0, jnp.zeros(point.n_networks), jnp.zeros(point.n_networks)
        train_accuracy = jnp.mean(jnp.sign(jax.vmap(models.apply, (0, None))(params0, ds.x_train))
                                  == ds.y_train, axis=-1)
    rows = []
    for i in range(point.n_networks):
        net = models.TwoLayer(trained.W[i], trained.a[i])
        flip = attacks.min_flip(net, ds.x_test)
        row = {**_flip_arrays(flip), "init_f": models.apply(stack[i], ds.x_test),
               "init_grad_norm": jnp.linalg.norm(models.input_grad(stack[i], ds.x_test), axis=-1)}
        if point.eps_grid:
            row["robust_accuracy"] = attacks.line_robust_accuracy(flip, ds.y_test, point.eps_grid)
        rows.append(row)
    out = {name: np.stack([np.asarray(r[name]) for r in rows]) for name in rows[0]}
    return {**out, "C0_hat": np.asarray(C0_hat), "steps": np.asarray(steps),
            "train_accuracy": np.asarray(train_accuracy), "y": ds.y_test}


# ------------------------------------------------------------------------------------------
# Shared helpers.

def init_points(grid: Grid, seed: int, ds, m: int, signs: str = "balanced", *,
                n_networks=None, n_points=None) -> list:
    return [InitPoint(d, m, signs, n_networks or grid.init_networks, n_points or grid.init_points,
                      protocol.derive_seed(seed, "init", d, m, signs)) for d in ds]


def sphere_points(grid: Grid, seed: int, ds, C0s) -> list:
    """Sphere-trained grid points; ``C0s(d)`` lists the radii at dimension ``d``."""
    return [TrainedPoint("sphere", d, grid.sphere_m, float(C0), grid.sphere_networks,
                         grid.sphere_train, grid.sphere_test, SPHERE_LR, grid.sphere_steps,
                         protocol.derive_seed(seed, "sphere-data", d),
                         protocol.derive_seed(seed, "sphere-networks", d, float(C0)))
            for d in ds for C0 in C0s(d)]


def kappa_points(grid: Grid, seed: int, ds, m: int) -> list:
    return [KappaPoint(d, m, grid.kappa_networks, grid.kappa_points,
                       protocol.derive_seed(seed, "kappa-calibration", d, m)) for d in ds]


def mean_eta(result: dict, mask=None) -> np.ndarray:
    """Per-network mean of ``eta*`` over flipped points, `(n_networks,)` (THEORY.md 3: no-flip
    points have no ``eta*``; their fraction is reported). ``mask`` `(n_networks, n_points)`
    further selects points (e.g. correctly classified)."""
    keep = np.asarray(result["status"]) == attacks.FLIPPED
    if mask is not None:
        keep = keep & mask
    eta = np.where(keep, np.asarray(result["eta"], dtype=float), 0.0)
    return eta.sum(axis=1) / np.maximum(keep.sum(axis=1), 1)


def median_eta(result: dict, mask=None) -> np.ndarray:
    """Per-network median of ``eta*`` (no flip counts as ``inf``), for the reports."""
    eta = np.asarray(result["eta"], dtype=float)
    if mask is None:
        return np.median(eta, axis=1)
    return np.array([np.median(row[keep]) if keep.any() else np.nan for row, keep in zip(eta, mask)])


def slope_check(name: str, x, per_unit, *, slope, band, level: float, seed: int, note: str = ""):
    """Log-log slope of per-unit positive summaries `(n_units, k)` against ``x`` `(k,)`."""
    lo, hi = band
    estimate, ci = protocol.slope_over_units(x, per_unit, level=level, seed=seed)
    return protocol.check(name, prediction=f"slope {slope:g}", estimate=estimate, ci=ci,
                          band=protocol.Band(lo, hi, SLOPE_CI_SHARE * (hi - lo) / 2,
                                             f"equivalence band [{lo:g}, {hi:g}] around {slope:g}"),
                          level=level, note=note)


def _no_flip_fraction(result: dict) -> float:
    return float(np.mean(np.asarray(result["status"]) != attacks.FLIPPED))


# ------------------------------------------------------------------------------------------
# init_attack_matches_prediction

def judge_init(large: dict, by_d: dict, *, d_large: int, m: int, level: float, seed: int,
               predicted=theory.INIT_ETA_SQRT_D, excess_slope=EXCESS_SLOPE) -> list:
    """Checks of claim 1.

    Args:
        large: ``{signs: first_order_point result}`` at ``d_large`` and width ``m``.
        by_d: ``{d: init_point result}`` (balanced signs) for the curvature trend.
        predicted: ``{signs: predicted mean of sqrt(d) |f| / ||grad f||}`` in the limit.
        excess_slope: ``(slope, (lo, hi))`` of ``log(mean ratio - 1)`` against ``log d``.
    """
    checks = []
    target = predicted["balanced"]
    estimate, ci = protocol.bootstrap(large["balanced"]["mean_first_order_sqrt_d"], np.mean,
                                      level=level, seed=protocol.derive_seed(seed, "balanced"))
    checks.append(protocol.check(
        f"balanced signs, d = {d_large}, m = {m}: mean sqrt(d) |f| / ||grad f||",
        prediction=f"{target:.4f} = sqrt(2) sqrt(1/2 - 1/(2 pi)) sqrt(2/pi)", estimate=estimate, ci=ci,
        band=protocol.Band(target * (1 - RELATIVE_BAND), target * (1 + RELATIVE_BAND),
                           RELATIVE_BAND * target / 2, "+-3%: finite d, m corrections are < 0.5% "
                           "(1/(2 pi d) in ||grad f||^2, CLT in m)"),
        level=level))
    if "random" in large:
        result = large["random"]
        measured = np.asarray(result["mean_first_order_sqrt_d"])
        # The offset c is drawn once per network, so the unconditional mean varies ~30% between
        # networks; dividing by the prediction given c leaves only the within-network noise.
        ratio = measured / theory.conditional_first_order(result["sum_a"], d_large, m)
        scale = predicted["random"] / theory.averaged_random_first_order()
        estimate, ci = protocol.bootstrap(ratio * scale, np.mean, level=level,
                                          seed=protocol.derive_seed(seed, "random"))
        checks.append(protocol.check(
            f"random signs, d = {d_large}, m = {m}: mean sqrt(d) |f| / ||grad f|| / prediction "
            "given the network's offset", prediction=f"1 (averages to {predicted['random']:.3f} over sign draws)",
            estimate=estimate, ci=ci,
            band=protocol.Band(1 - RELATIVE_BAND, 1 + RELATIVE_BAND, RELATIVE_BAND / 2,
                               "+-3%, as for balanced signs"),
            level=level, note=f"unconditional mean {np.mean(measured):.4f} over {len(measured)} networks"))
    ds = sorted(by_d)
    excess = np.stack([[np.mean(e[s == attacks.FLIPPED] / f[s == attacks.FLIPPED]) - 1
                        for e, f, s in zip(by_d[d]["eta"], by_d[d]["first_order"], by_d[d]["status"])]
                       for d in ds], axis=1)
    slope, band = excess_slope
    checks.append(slope_check("mean eta* / first-order - 1 over flipped points against d (log-log)",
                              ds, excess, slope=slope, band=band, level=level,
                              seed=protocol.derive_seed(seed, "excess"),
                              note="mean ratio " + ", ".join(f"{1 + np.mean(excess[:, i]):.4f}"
                                                             for i in range(len(ds)))))
    return checks


@registry.claim("init_attack_matches_prediction",
                title=f"At init, eta* sqrt(d) ~ sqrt(2)|f|: mean {theory.INIT_ETA_SQRT_D['balanced']:.3f} "
                      f"(balanced), {theory.INIT_ETA_SQRT_D['random']:.3f} (random signs)",
                figures=lambda data: _figures("init", data))
def init_attack_matches_prediction(ctx: registry.Context) -> registry.Outcome:
    """At init the first-order attack size ``sqrt(d) |f| / ||grad f||`` averages to
    ``sqrt(2) E|f| = 0.659`` (balanced signs) and ``0.798`` (random signs, over sign draws);
    the curvature factor ``eta* / (|f| / ||grad f||)`` falls to 1 like ``1 + 0.25 / sqrt(d)``."""
    grid = GRIDS[ctx.profile]
    by_d_points = init_points(grid, ctx.seed, grid.init_ds, grid.init_m)
    large_points = {signs: InitPoint(grid.first_order_d, grid.first_order_m, signs,
                                     grid.first_order_networks, grid.first_order_points,
                                     protocol.derive_seed(ctx.seed, "first-order", signs))
                    for signs in ("balanced", "random")}
    by_d = dict(zip(grid.init_ds, ctx.runner.map(init_point, by_d_points, desc="init attacks")))
    large = dict(zip(large_points, ctx.runner.map(first_order_point, list(large_points.values()),
                                                  desc="first-order at init")))
    checks = judge_init(large, by_d, d_large=grid.first_order_d, m=grid.first_order_m,
                        level=ctx.level(3), seed=ctx.seed)
    random_limit = theory.INIT_ETA_SQRT_D["random"]
    checks.append(protocol.exact_check(
        "Gauss-Hermite average of the conditional random-signs prediction",
        prediction=f"{random_limit:.4f} = sqrt(2) sqrt(1/2) sqrt(2/pi)", value=theory.averaged_random_first_order(),
        band=protocol.Band(random_limit - 1e-9, random_limit + 1e-9, 0,
                           "64-node quadrature of a smooth integrand: exact to ~1e-12")))
    d_sample = grid.init_ds[-1]
    sample = np.sqrt(d_sample) * np.asarray(by_d[d_sample]["eta"]).ravel()
    flipped = [r["status"] == attacks.FLIPPED for r in by_d.values()]
    data = {"d": list(grid.init_ds),
            "mean_ratio": [float(np.mean((r["eta"] / r["first_order"])[f]))
                           for r, f in zip(by_d.values(), flipped)],
            "no_flip_fraction": [_no_flip_fraction(r) for r in by_d.values()],
            "mean_eta_sqrt_d": [float(np.mean(np.sqrt(d) * r["eta"][f]))
                                for d, r, f in zip(by_d, by_d.values(), flipped)],
            "mean_first_order_sqrt_d": {s: float(np.mean(r["mean_first_order_sqrt_d"]))
                                        for s, r in large.items()},
            "predicted_mean": theory.INIT_ETA_SQRT_D, "sigma_f": math.sqrt(theory.var_f_init("balanced")),
            "eta_sqrt_d_sample": sample[np.isfinite(sample)], "sample_d": d_sample}
    config = {"points": [dataclasses.asdict(p) for p in by_d_points],
              "first_order_points": {s: dataclasses.asdict(p) for s, p in large_points.items()}}
    return registry.Outcome(checks, data, config,
                            notes="No-flip fraction per d: " + ", ".join(
                                f"d = {d}: {f:.2g}" for d, f in zip(grid.init_ds, data["no_flip_fraction"]))
                            + ". The ratio's mean is over flipped points only; mean eta* sqrt(d) over "
                              "flipped points: "
                            + ", ".join(f"{v:.4f}" for v in data["mean_eta_sqrt_d"]) + ".")


# ------------------------------------------------------------------------------------------
# attack_scales_as_inverse_sqrt_d

def judge_d_scaling(init_by_d: dict, trained_by_C0: dict, *, level: float, seed: int,
                    init_slope=D_SLOPE_INIT, trained_slope=D_SLOPE_TRAINED) -> list:
    """Slopes of the per-network mean ``eta*`` against ``d``: at init and per fixed ``C0``.

    Args:
        init_by_d: ``{d: init_point result}``.
        trained_by_C0: ``{C0: {d: trained_point result}}``.
    """
    ds = sorted(init_by_d)
    per_unit = np.stack([mean_eta(init_by_d[d]) for d in ds], axis=1)
    slope, band = init_slope
    checks = [slope_check("init: mean eta* against d", ds, per_unit, slope=slope, band=band,
                          level=level, seed=protocol.derive_seed(seed, "init"))]
    slope, band = trained_slope
    for C0, by_d in trained_by_C0.items():
        ds = sorted(by_d)
        per_unit = np.stack([mean_eta(by_d[d]) for d in ds], axis=1)
        C0_hat = max(float(np.max(by_d[d]["C0_hat"])) for d in ds)
        checks.append(slope_check(f"trained to C0 = {C0:g} (sphere, logistic): mean eta* against d",
                                  ds, per_unit, slope=slope, band=band, level=level,
                                  seed=protocol.derive_seed(seed, "trained", C0),
                                  note=f"max C0_hat {C0_hat:.3g}; C0 / sqrt(d) from "
                                       f"{C0 / math.sqrt(ds[-1]):.2g} to {C0 / math.sqrt(ds[0]):.2g}"))
    return checks


@registry.claim("attack_scales_as_inverse_sqrt_d",
                title="eta* scales like d^(-1/2), at init and after lazy training at fixed C0",
                figures=lambda data: _figures("d", data))
def attack_scales_as_inverse_sqrt_d(ctx: registry.Context) -> registry.Outcome:
    """The log-log slope of ``eta*`` against ``d`` is ``-1/2`` at init (band ``[-0.55, -0.45]``)
    and after lazy training at each fixed ``C0`` (band ``[-0.6, -0.4]``)."""
    grid = GRIDS[ctx.profile]
    fixed = [C0 for C0 in grid.fixed_C0 if C0 > 0]
    init = init_points(grid, ctx.seed, grid.init_ds, grid.init_m)
    trained = sphere_points(grid, ctx.seed, grid.sphere_ds, lambda d: fixed)
    results = ctx.runner.map(init_point, init, desc="init attacks")
    trained_results = ctx.runner.map(trained_point, trained, desc="sphere training")
    init_by_d = dict(zip(grid.init_ds, results))
    trained_by_C0 = {C0: {p.d: r for p, r in zip(trained, trained_results) if p.C0 == C0} for C0 in fixed}
    checks = judge_d_scaling(init_by_d, trained_by_C0, level=ctx.level(1 + len(fixed)), seed=ctx.seed)
    data = {"d": list(grid.init_ds),
            "predicted_mean_eta_sqrt_d": theory.INIT_ETA_SQRT_D["balanced"],
            "init_mean_eta": [float(np.mean(mean_eta(init_by_d[d]))) for d in grid.init_ds],
            "init_median_eta": [float(np.median(median_eta(init_by_d[d]))) for d in grid.init_ds],
            "trained": {str(C0): {"d": sorted(by_d),
                                  "mean_eta": [float(np.mean(mean_eta(by_d[d]))) for d in sorted(by_d)],
                                  "test_accuracy": [float(np.mean(np.sign(by_d[d]["f"]) == by_d[d]["y"]))
                                                    for d in sorted(by_d)]}
                        for C0, by_d in trained_by_C0.items()}}
    return registry.Outcome(checks, data, {"init": [dataclasses.asdict(p) for p in init],
                                           "trained": [dataclasses.asdict(p) for p in trained]},
                            notes="Per network the mean of eta* over its flipped points; slopes by "
                                  "least squares on log-log data with a bootstrap over networks. "
                                  "Init means of eta* sqrt(d) exceed the d -> inf value "
                                  f"{theory.INIT_ETA_SQRT_D['balanced']:.3f} by "
                                  "finite-d terms (curvature, Jensen on 1/||grad f||), which steepen "
                                  "the slope over small d.")


# ------------------------------------------------------------------------------------------
# attack_independent_of_width

def judge_width(by_m: dict, *, level: float, seed: int, width_slope=M_SLOPE) -> list:
    widths = sorted(by_m)
    per_unit = np.stack([mean_eta(by_m[m]) for m in widths], axis=1)
    slope, band = width_slope
    return [slope_check("init: mean eta* against m", widths, per_unit, slope=slope, band=band,
                        level=level, seed=protocol.derive_seed(seed, "width"))]


@registry.claim("attack_independent_of_width", title="eta* does not depend on the width m",
                figures=lambda data: _figures("m", data))
def attack_independent_of_width(ctx: registry.Context) -> registry.Outcome:
    """The log-log slope of ``eta*`` against the width ``m`` at init is 0: ``|slope| <= 0.05``
    (equivalence test, CI half-width at most 0.025)."""
    grid = GRIDS[ctx.profile]
    points = [init_points(grid, ctx.seed, [grid.width_d], m, n_networks=grid.width_networks,
                          n_points=grid.width_points)[0] for m in grid.widths]
    by_m = dict(zip(grid.widths, ctx.runner.map(init_point, points, desc="width attacks")))
    checks = judge_width(by_m, level=ctx.level(1), seed=ctx.seed)
    data = {"m": list(grid.widths), "d": grid.width_d,
            "predicted_mean_eta_sqrt_d": theory.INIT_ETA_SQRT_D["balanced"],
            "mean_eta": [float(np.mean(mean_eta(by_m[m]))) for m in grid.widths],
            "mean_eta_per_network": [mean_eta(by_m[m]) for m in grid.widths],
            "no_flip_fraction": [_no_flip_fraction(by_m[m]) for m in grid.widths]}
    return registry.Outcome(checks, data, {"points": [dataclasses.asdict(p) for p in points]})


# ------------------------------------------------------------------------------------------
# lazy_bound_holds

def inside_conditions(*, d: int, m: int, C0: float) -> bool:
    """Whether grid point ``(d, m, C0)`` is inside the envelope's conditions (THEORY.md 4):
    ``d >= 64``, ``C0 <= sqrt(d)/4``, ``m >= 16 C0^2`` and the denominator condition at the
    typical gradient norm ``sqrt(d/2 - 1/(2 pi))`` (points are then screened one by one)."""
    typical = np.array([theory.typical_grad_norm(d)])
    return bool(bounds.envelope_conditions(typical, C0=C0, d=d, m=m).points[0])


def violations(result: dict, *, d: int, m: int, C0: float, kappa: float, bound=None):
    """Per network `(n_networks, 2)`: points with ``eta* > B(x)`` and points eligible (inside
    the per-point denominator condition), ``B`` evaluated at each network's ``C0_hat``.

    ``bound(f0_init, grad0_norm, *, C0, d, m)`` defaults to :func:`bounds.lazy_envelope` with
    ``kappa_d = kappa``.
    """
    bound = bound or functools.partial(bounds.lazy_envelope, kappa_d=kappa)
    rows = []
    for eta, f0, g0, C0_hat in zip(result["eta"], result["init_f"], result["init_grad_norm"],
                                   result["C0_hat"]):
        C0_net = float(C0_hat) if C0 > 0 else 0.0
        eligible = np.asarray(bounds.envelope_conditions(g0, C0=C0_net, d=d, m=m).points)
        above = np.asarray(eta) > np.asarray(bound(f0, g0, C0=C0_net, d=d, m=m))
        rows.append((np.sum(above & eligible), np.sum(eligible)))
    return np.array(rows, dtype=float)


def judge_bound(counts: dict, *, level: float, seed: int, max_fraction=VIOLATION_MAX) -> list:
    """One check per grid point: pooled violation fraction ``<= max_fraction``.

    Args:
        counts: ``{label: (n_networks, 2)}`` per-network (violations, eligible points).
    """
    checks = []
    for label, rows in counts.items():
        if rows[:, 1].sum() == 0:
            continue  # no point meets the denominator condition: nothing is claimed
        def fraction(r):
            return r[:, 0].sum() / max(r[:, 1].sum(), 1)
        estimate, (lo, hi) = protocol.bootstrap(rows, fraction, level=level,
                                                seed=protocol.derive_seed(seed, label))
        # A bootstrap shows no uncertainty when no violation is seen (CI (0, 0) from 5 points as
        # from 5000): widen it to at least the exact binomial interval of the pooled counts.
        exact = stats.binomtest(int(rows[:, 0].sum()), int(rows[:, 1].sum())).proportion_ci(
            confidence_level=level, method="exact")
        ci = (min(lo, exact.low), max(hi, exact.high))
        checks.append(protocol.check(
            f"{label}: fraction of points with eta* > B(x)", prediction=f"<= {max_fraction:g}",
            estimate=estimate, ci=ci,
            band=protocol.Band(0, max_fraction, VIOLATION_HALF_WIDTH,
                               "THEORY.md 4: at most 1% of points; kappa_d is a 99.9% quantile"),
            level=level, note=f"{int(rows[:, 1].sum())} eligible points, "
                              f"{int(rows[:, 0].sum())} violations"))
    return checks


@registry.claim("lazy_bound_holds", title="eta* <= B(x) for >= 99% of points inside the lazy conditions",
                figures=lambda data: _figures("bound", data))
def lazy_bound_holds(ctx: registry.Context) -> registry.Outcome:
    """For networks trained inside the lazy ball, ``eta* <= B(x) = kappa_d (|f(x; W0)| + C0) /
    (||grad f(x; W0)|| - 2 C0 - (2/pi)^(1/4) sqrt(C0 d) m^(-1/4))`` for at least 99% of points at
    every grid point with ``d >= 64``, ``C0 <= sqrt(d)/4``, ``m >= 16 C0^2`` and denominator
    ``>= ||grad f(x; W0)|| / 2`` at the typical gradient norm (points whose own denominator is
    below half their gradient norm are outside the claim)."""
    grid = GRIDS[ctx.profile]
    trained = sphere_points(grid, ctx.seed, grid.bound_ds,
                            lambda d: [r * math.sqrt(d) for r in grid.bound_ratios])
    calibration = kappa_points(grid, ctx.seed, grid.bound_ds, grid.sphere_m)
    kappas = {p.d: float(r["kappa"]) for p, r in zip(calibration, ctx.runner.map(
        kappa_point, calibration, desc="kappa calibration"))}
    results = ctx.runner.map(trained_point, trained, desc="sphere training")
    counts, outside, table = {}, {}, []
    for p, r in zip(trained, results):
        label = f"d = {p.d}, m = {p.m}, C0 = {p.C0:.3g} (C0/sqrt(d) = {p.C0 / math.sqrt(p.d):.2g})"
        rows = violations(r, d=p.d, m=p.m, C0=p.C0, kappa=kappas[p.d])
        inside = inside_conditions(d=p.d, m=p.m, C0=p.C0)
        (counts if inside else outside)[label] = rows
        table.append({"d": p.d, "m": p.m, "C0": p.C0, "C0_over_sqrt_d": p.C0 / math.sqrt(p.d),
                      "inside": bool(inside), "violations": rows[:, 0].sum(), "eligible": rows[:, 1].sum(),
                      "median_eta": float(np.median(r["eta"])),
                      "median_bound": float(np.median(bounds.lazy_envelope(
                          r["init_f"].ravel(), r["init_grad_norm"].ravel(), C0=p.C0, d=p.d, m=p.m,
                          kappa_d=kappas[p.d]))),
                      "max_C0_hat": float(np.max(r["C0_hat"]))})
    n_checks = sum(1 for rows in counts.values() if rows[:, 1].sum() > 0)
    checks = judge_bound(counts, level=ctx.level(max(n_checks, 1)), seed=ctx.seed)
    data = {"kappa": {str(d): k for d, k in kappas.items()}, "grid": table}
    notes = ("kappa_d (99.9% quantile of eta*/first-order at init, calibration seeds disjoint from "
             "the checked networks): " + ", ".join(f"d = {d}: {k:.3f}" for d, k in kappas.items())
             + ". Outside the conditions (reported, not claimed): "
             + ("; ".join(f"{label}: {int(r[:, 0].sum())}/{int(r[:, 1].sum())}"
                          for label, r in outside.items()) or "none in this profile") + ".")
    return registry.Outcome(checks, data, {"trained": [dataclasses.asdict(p) for p in trained],
                                           "calibration": [dataclasses.asdict(p) for p in calibration]},
                            notes=notes)


# ------------------------------------------------------------------------------------------
# constant_does_not_grow_with_d

def constants(result: dict, *, d: int, C0: float) -> np.ndarray:
    """`(n_networks, n_points)` ``eta* sqrt(d) / (|f(x; W0)| + C0)``."""
    return np.asarray(bounds.k_ratio(result["eta"], result["init_f"], C0=C0, d=d))


def judge_constant(by_C0: dict, held_out: int, *, level: float, seed: int,
                   quantile: float = K_QUANTILE) -> list:
    """Per ``C0``: the ``quantile`` at ``held_out`` must not exceed ``K_hat``'s upper CI end.

    Args:
        by_C0: ``{C0: {d: (n_networks, n_points) constants}}``.
    """
    checks = []
    for C0, by_d in by_C0.items():
        fit = np.concatenate([by_d[d] for d in sorted(by_d) if d != held_out], axis=1)
        k_hat = bounds.K_hat(fit, q=quantile, level=level, seed=protocol.derive_seed(seed, "K", C0))
        estimate, ci = protocol.bootstrap(by_d[held_out], lambda rows: bounds.pooled_quantile(rows, quantile),
                                          level=level, seed=protocol.derive_seed(seed, "held", C0))
        checks.append(protocol.check(
            f"C0 = {C0:g}: {quantile:.0%} quantile of eta* sqrt(d) / (|f0| + C0) at d = {held_out}",
            prediction=f"<= upper CI end of K_hat = {k_hat.value:.3f} [{k_hat.lo:.3f}, {k_hat.hi:.3f}] "
                       f"(d in {sorted(d for d in by_d if d != held_out)})",
            estimate=estimate, ci=ci,
            band=protocol.Band(-math.inf, k_hat.hi, K_HALF_WIDTH_SHARE * k_hat.value,
                               "one-sided: the constant stays bounded (THEORY.md 4)"),
            level=level))
    return checks


@registry.claim("constant_does_not_grow_with_d",
                title="The constant of eta* <= K (|f0| + C0) / sqrt(d) does not grow with d (held out)",
                figures=lambda data: _figures("constant", data))
def constant_does_not_grow_with_d(ctx: registry.Context) -> registry.Outcome:
    """At each fixed ``C0``, the 95th percentile of ``eta* sqrt(d) / (|f(x; W0)| + C0)`` at the
    held-out largest ``d`` does not exceed the upper end of the bootstrap CI of ``K_hat(C0)``,
    the same percentile pooled over the smaller ``d``."""
    grid = GRIDS[ctx.profile]
    points = sphere_points(grid, ctx.seed, grid.sphere_ds, lambda d: grid.fixed_C0)
    results = ctx.runner.map(trained_point, points, desc="sphere training")
    by_C0 = {C0: {p.d: constants(r, d=p.d, C0=float(np.max(r["C0_hat"])) if C0 > 0 else 0.0)
                  for p, r in zip(points, results) if p.C0 == C0} for C0 in grid.fixed_C0}
    held_out = grid.sphere_ds[-1]
    checks = judge_constant(by_C0, held_out, level=ctx.level(len(grid.fixed_C0)), seed=ctx.seed)
    data = {"d": list(grid.sphere_ds),
            "quantile_per_d": {str(C0): [bounds.pooled_quantile(by_d[d], K_QUANTILE) for d in grid.sphere_ds]
                               for C0, by_d in by_C0.items()}}
    return registry.Outcome(checks, data, {"points": [dataclasses.asdict(p) for p in points],
                                           "held_out_d": held_out},
                            notes="C0 in the constant is the largest C0_hat reached (the stop rule "
                                  "lands on C0); C0 = 0 is the untrained network.")


# ------------------------------------------------------------------------------------------
# phase_transition_in_C0

def mnist_points(grid: Grid, seed: int, sizes, C0s, n_networks: int) -> list:
    """MNIST-trained grid points of ``n_networks`` networks; ``C0s(d)`` lists the radii at
    ``d = size^2``. All points share one seed, so every radius and every size starts from the
    same draws (:func:`pooled_init`; common random numbers): slopes against ``C0`` and ``d``
    compare each network with itself, free of the init offset ``f(x; W0)``, which MNIST's highly
    correlated test images share (one network is nearly one sample of it)."""
    return [TrainedPoint("mnist", size ** 2, grid.mnist_m, float(C0), n_networks, 0, 0,
                         MNIST_LR, grid.mnist_steps, 0,
                         protocol.derive_seed(seed, "mnist-networks"), grid.eps_grid)
            for size in sizes for C0 in C0s(size ** 2)]


def correct(result: dict) -> np.ndarray:
    """`(n_networks, n_test)` correctly classified test points (the misclassified are reported
    separately, never counted as ``delta = 0``)."""
    return np.sign(np.asarray(result["f"])) == np.asarray(result["y"])[None, :]


def judge_transition(fixed: dict, path: dict, *, fit_ds, level: float, seed: int,
                     fixed_slope=D_SLOPE_TRAINED, envelope=None) -> list:
    """Checks of claim 6.

    Args:
        fixed: ``{C0: {d: trained_point result}}`` at fixed radii.
        path: ``{d: trained_point result}`` along ``C0 = c sqrt(d)``.
        fit_ds: dimensions of the fixed-``C0`` slope fits.
        envelope: `(n_units, 2)` (violations, eligible) of ``eta* <= B(x)`` at the fixed-``C0``
            grid points inside the conditions (see :func:`violations`), or None.
    """
    checks = []
    slope, band = fixed_slope
    for C0, by_d in fixed.items():
        per_unit = np.stack([mean_eta(by_d[d], correct(by_d[d])) for d in fit_ds], axis=1)
        checks.append(slope_check(f"MNIST, fixed C0 = {C0:g}: mean eta* (correct points) against d",
                                  fit_ds, per_unit, slope=slope, band=band, level=level,
                                  seed=protocol.derive_seed(seed, "fixed", C0)))
    C0s = sorted(fixed)
    for d in sorted(next(iter(fixed.values()))):
        per_unit = np.stack([np.sqrt(d) * mean_eta(fixed[C0][d], correct(fixed[C0][d]))
                             for C0 in C0s], axis=1)
        estimate, ci = protocol.slope_over_units(C0s, per_unit, level=level,
                                                 seed=protocol.derive_seed(seed, "growth", d))
        checks.append(protocol.check(
            f"MNIST, d = {d}: log-log slope of mean eta* sqrt(d) against C0 in {C0s}",
            prediction="> 0 (training grows the margin |f| by up to C0)", estimate=estimate, ci=ci,
            band=protocol.Band(0, math.inf, GROWTH_HALF_WIDTH, "one-sided: the prefactor grows"),
            level=level))
    if envelope is not None:
        checks += judge_bound({"MNIST, fixed C0 inside the conditions": envelope}, level=level,
                              seed=protocol.derive_seed(seed, "envelope"))
    ds = sorted(path)
    per_unit = np.stack([mean_eta(path[d], correct(path[d])) for d in ds], axis=1)
    estimate, ci = protocol.slope_over_units(ds, per_unit, level=level,
                                             seed=protocol.derive_seed(seed, "path"))
    checks.append(protocol.check(
        "MNIST, C0 = c sqrt(d): mean eta* (correct points) against d",
        prediction="slope > -1/2 (flatter: robustness escapes the 1/sqrt(d) law)",
        estimate=estimate, ci=ci,
        band=protocol.Band(-0.5, math.inf, FLATTER_HALF_WIDTH, "one-sided: flatter than -1/2 by "
                           "more than the CI half-width"),
        level=level))
    return checks


def _summary(point: TrainedPoint, result: dict) -> dict:
    """JSON-able summary of one MNIST grid point (medians over networks)."""
    right = correct(result)
    return {"d": point.d, "C0": point.C0, "C0_over_sqrt_d": point.C0 / math.sqrt(point.d),
            "C0_hat": float(np.median(result["C0_hat"])), "steps": float(np.median(result["steps"])),
            "median_eta_sqrt_d": float(np.median(np.sqrt(point.d) * median_eta(result, right))),
            "mean_eta_sqrt_d": float(np.mean(np.sqrt(point.d) * mean_eta(result, right))),
            "test_accuracy": float(np.mean(right)), "misclassified": float(np.mean(~right)),
            "train_accuracy": float(np.mean(result["train_accuracy"])),
            "robust_accuracy": np.mean(result["robust_accuracy"], axis=0)}


@registry.claim("phase_transition_in_C0",
                title="MNIST 0 vs 1: eta* ~ d^(-1/2) at fixed C0, flatter once C0 ~ sqrt(d)",
                figures=lambda data: _figures("transition", data))
def phase_transition_in_C0(ctx: registry.Context) -> registry.Outcome:
    """On MNIST 0 vs 1 (logistic loss, full-batch GD, stop rule), at each fixed ``C0 <= sqrt(d)/2``
    the slope of ``eta*`` against ``d`` is ``-1/2`` (band ``[-0.6, -0.4]``), the prefactor
    ``eta* sqrt(d)`` grows with ``C0`` and stays under the envelope ``B(x)``; along
    ``C0 = c sqrt(d)`` the slope is flatter than ``-1/2``."""
    grid = GRIDS[ctx.profile]
    m = grid.mnist_m
    fit_ds = [size ** 2 for size in grid.mnist_fit_sizes]
    fixed_points = mnist_points(grid, ctx.seed, grid.mnist_fit_sizes, lambda d: grid.mnist_fixed_C0,
                                grid.mnist_fit_networks)
    path_points = mnist_points(grid, ctx.seed, grid.mnist_sizes,
                               lambda d: [grid.mnist_c * math.sqrt(d)], grid.mnist_networks)
    sweep_points = mnist_points(grid, ctx.seed, grid.mnist_sizes, lambda d: grid.mnist_sweep_C0,
                                grid.mnist_networks)
    calibration = kappa_points(grid, ctx.seed, fit_ds, m)
    kappas = {p.d: float(r["kappa"]) for p, r in zip(calibration, ctx.runner.map(
        kappa_point, calibration, desc="kappa calibration"))}
    points = fixed_points + path_points + sweep_points
    results = ctx.runner.map(trained_point, points, desc="MNIST training")
    by = dict(zip(points, results))
    fixed = {C0: {p.d: by[p] for p in fixed_points if p.C0 == C0} for C0 in grid.mnist_fixed_C0}
    path = {p.d: by[p] for p in path_points}
    inside = [violations(by[p], d=p.d, m=m, C0=p.C0, kappa=kappas[p.d]) for p in fixed_points
              if inside_conditions(d=p.d, m=m, C0=p.C0)]
    envelope = np.sum(inside, axis=0) if inside else None
    n_checks = 2 * len(fixed) + len(fit_ds) + (envelope is not None)
    checks = judge_transition(fixed, path, fit_ds=fit_ds, level=ctx.level(n_checks), seed=ctx.seed,
                              envelope=envelope)
    data = {"points": [_summary(p, by[p]) for p in points], "eps_grid": list(grid.eps_grid),
            "c": grid.mnist_c, "fit_d": fit_ds}
    return registry.Outcome(checks, data, {"points": [dataclasses.asdict(p) for p in points],
                                           "kappa": {str(d): k for d, k in kappas.items()}},
                            notes="Checks use per-network means of eta* over correctly classified "
                                  "(and flipped) test points; medians and the misclassified "
                                  "fraction are reported per grid point. The radii of one size "
                                  "share their initial networks. Robust accuracy: the line "
                                  "attack along u at radii eps_grid.")


def _figures(kind: str, data: dict) -> dict:
    """The figures of each claim, drawn from its JSON data (``ntk_attack.plotting.attack_figures``)."""
    from ntk_attack.plotting import attack_figures as af
    return {"init": lambda: {"eta_sqrt_d_histogram": af.eta_histogram(data),
                             "curvature_vs_d": af.curvature_vs_d(data)},
            "d": lambda: {"eta_vs_d": af.eta_vs_d(data)},
            "m": lambda: {"eta_vs_m": af.eta_vs_m(data)},
            "bound": lambda: {"eta_and_bound_vs_C0": af.bound_vs_C0(data)},
            "constant": lambda: {"constant_vs_d": af.constant_vs_d(data)},
            "transition": lambda: {"prefactor_vs_C0": af.prefactor_vs_C0(data),
                                   "robust_accuracy_vs_C0": af.robust_accuracy_vs_C0(data)}}[kind]()
