"""Shared measurements of the deep claims (THEORY.md 9): networks of :mod:`ntk_attack.deep` at
initialisation, attacked, and lazily trained on MNIST.

Notation. ``L`` hidden layers of widths ``n_l``, input dimension ``d``, unit inputs ``x``;
``g = grad_x f(x)``; ``Theta_hat`` the empirical NTK over every layer; ``eta*`` the exact
single-step flip of :func:`ntk_attack.deep.min_flip_deep`; ``first_order = |f| / ||g||``.

Every quantity is measured through ``deep.forward`` and ``deep.init_deep`` looked up at call
time, by ``jax`` autodiff (input gradients and the parameter Jacobian), independently of the
closed forms of :mod:`ntk_attack.theory.deep` it is compared with. Networks are the bootstrap
units: the points of one network stay together (they share its weights). Point functions are
module-level (they pickle into workers) and shared between claims through the cache.
"""
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import data, deep, deep_training
from verification import protocol
from verification.claims import per_network

CACHE_VERSION = 1
# E ||grad_x f||^2 and E Theta_hat(x, x) against their kernel predictions (exact at every width).
MEAN_BAND = protocol.Band(0.9, 1.1, 0.08, "exact identity at every width; equivalence margin 10%: a "
                          "wrong weight scale moves it by a factor (W_std = 1: 0.5, fan-in n: 1/n), "
                          "shared layers by ~1.4 at depth 8.")
BATCH = 100  # networks per vmapped batch, at most
BATCH_FLOATS = 50_000_000  # and at most this many floats of weights and Jacobian rows per batch


@dataclasses.dataclass(frozen=True, kw_only=True)
class InitPoint:
    """``n_networks`` He-ReLU networks of hidden widths ``widths`` at init, each at the same
    ``n_points`` orthonormal unit inputs in ``R^d`` (drawn with ``points_seed``)."""
    d: int
    widths: tuple
    n_networks: int
    n_points: int
    seed: int
    points_seed: int

    @property
    def depth(self) -> int:
        return len(self.widths)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FlipPoint:
    """``n_networks`` networks at init, each attacked at its own ``n_points`` unit inputs,
    flips searched within ``max_ratio`` times the first-order size."""
    d: int
    widths: tuple
    n_networks: int
    n_points: int
    seed: int
    max_ratio: float = 20.0

    @property
    def depth(self) -> int:
        return len(self.widths)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LazyPoint:
    """``n_networks`` networks trained on the first ``n_train`` training images of MNIST 0 vs 1
    (bundled subset, ``side x side``, so ``d = side^2``) by projected GD within the lazy radius
    ``C0`` (every layer), then attacked at ``n_test`` held-out points."""
    side: int
    n_train: int
    widths: tuple
    C0: float
    lr: float
    steps: int
    n_networks: int
    n_test: int
    seed: int
    max_ratio: float = 20.0


def orthonormal_points(d: int, n: int, seed: int) -> np.ndarray:
    """`(n, d)` orthonormal rows (a random orthogonal frame), ``n <= d``."""
    q = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, n)))[0]
    return q.T


def _network_stats(key, x, widths):
    """``||g||^2`` `(P,)`, ``f`` `(P,)` and ``Theta_hat`` `(P, P)` of one network at ``x`` `(P, d)`."""
    params = deep.init_deep(key, x.shape[1], widths)
    f, vjp = jax.vjp(lambda u: deep.forward(params, u)[1], x)
    g = vjp(jnp.ones_like(f))[0]
    jac = jax.jacrev(lambda p: deep.forward(p, x)[1])(params)
    rows = jnp.concatenate([leaf.reshape(x.shape[0], -1) for leaf in jax.tree_util.tree_leaves(jac)], 1)
    return jnp.sum(g * g, axis=1), f, rows @ rows.T


def init_point(point: InitPoint) -> dict:
    """Per network `(n_networks, n_points)`: ``g2 = ||grad_x f||^2``, ``f``; and
    `(n_networks, n_points, n_points)`: ``theta``, the empirical NTK (parameter-Jacobian Gram)."""
    x = jnp.asarray(orthonormal_points(point.d, point.n_points, point.points_seed))
    keys = jax.random.split(jax.random.PRNGKey(point.seed), point.n_networks)
    n_params = sum(a * b for a, b in zip((point.d,) + point.widths, point.widths)) + point.widths[-1]
    batch = max(1, min(BATCH, point.n_networks, BATCH_FLOATS // (n_params * (point.n_points + 1))))
    g2, f, theta = jax.lax.map(lambda k: _network_stats(k, x, point.widths), keys, batch_size=batch)
    return {"g2": np.asarray(g2), "f": np.asarray(f), "theta": np.asarray(theta)}


def _output(params: deep.DeepNet, x):
    """``f(x)`` `(n,)` of the deep network (the forward pass alone)."""
    return deep.forward(params, x)[1]


def flip_point(point: FlipPoint) -> dict:
    """Per network `(n_networks, n_points)`: ``eta`` (inf where no flip within range),
    ``first_order``, ``flipped``, ``f``, ``grad_norm`` (exact walk, relu), and ``h_below``,
    ``h_above``: ``sign(f) f`` evaluated at ``eta* (1 -+ SIGN_CHANGE_STEP)``
    (:func:`.per_network.values_beside`; positive, then non-positive, where ``eta*`` is a sign change)."""
    rows = []
    for key in jax.random.split(jax.random.PRNGKey(point.seed), point.n_networks):
        key_w, key_x = jax.random.split(key)
        params = deep.init_deep(key_w, point.d, point.widths)
        x = per_network.unit_points(key_x, point.n_points, point.d)
        result = deep.min_flip_deep(params, x, max_ratio=point.max_ratio)
        below, above = per_network.values_beside(_output, params, x, jnp.where(result.flipped, result.eta, 0.0))
        rows.append({**per_network.flip_arrays(result), "h_below": below, "h_above": above})
    out = per_network.stack_rows(rows)
    out["eta"] = np.where(out["flipped"], out["eta"], np.inf)
    return out


def lazy_point(point: LazyPoint) -> dict:
    """Per network: ``C0_hat`` `(n_networks, L + 1)`, ``loss`` `(n_networks, steps + 1)`,
    ``accuracy`` `(n_networks,)` on the held-out set, and the attack at ``n_test`` held-out
    points before (``*_0``) and after training, `(n_networks, n_test)` each."""
    split = data.mnist_subset(point.side, seed=point.seed)
    x, y = jnp.asarray(split.x_train[:point.n_train]), jnp.asarray(split.y_train[:point.n_train])
    x_test = jnp.asarray(split.x_test[:point.n_test])
    keys = jax.random.split(jax.random.PRNGKey(point.seed), point.n_networks)
    trained = jax.vmap(lambda k: deep_training.train_lazy_deep(
        k, x, y, widths=point.widths, C0=point.C0, lr=point.lr, steps=point.steps))(keys)
    rows = []
    for i in range(point.n_networks):
        row = {}
        for suffix, params in (("_0", trained.params0), ("", trained.params)):
            one = jax.tree_util.tree_map(lambda leaf: leaf[i], params)
            flips = per_network.flip_arrays(deep.min_flip_deep(one, x_test, max_ratio=point.max_ratio))
            flips["eta"] = np.where(flips["flipped"], flips["eta"], np.inf)
            row.update({name + suffix: value for name, value in flips.items()})
            row["accuracy" + suffix] = np.mean(
                np.sign(np.asarray(deep.forward(one, jnp.asarray(split.x_test))[1])) == split.y_test)
        rows.append(row)
    out = per_network.stack_rows(rows)
    out.update({"C0_hat": np.asarray(trained.C0_hat), "loss": np.asarray(trained.loss)})
    return out


def relvar(values) -> float:
    """``Var / mean^2`` of every entry of ``values`` (pooled over networks and points)."""
    values = np.asarray(values, dtype=float).ravel()
    return float(np.var(values, ddof=1) / np.mean(values) ** 2)


def first_order_sqrt_d(result: dict, d: int) -> np.ndarray:
    """`(N, P)` ``sqrt(d) |f| / ||g||`` from an :func:`init_point` result."""
    return math.sqrt(d) * np.abs(result["f"]) / np.sqrt(result["g2"])


@dataclasses.dataclass(frozen=True, kw_only=True)
class InitSweep:
    """The init sweep shared by three claims: ``n_networks`` networks per hidden-width tuple
    of ``widths`` (one tuple per architecture), at ``n_points`` orthonormal inputs in ``R^d``."""
    d: int
    widths: tuple
    n_networks: int
    n_points: int


# The quick grid has a width != d (an output-width normalisation shows only there), a depth
# >= 8 (weights shared across layers show only at depth) and an equal-beta pair (1 x 64, 2 x 128).
INIT = {"quick": InitSweep(d=64, widths=((64,), (128, 128), (64,) * 8), n_networks=2000,
                           n_points=4),
        "full": InitSweep(d=256, widths=((256,), (512, 512), (256,) * 4, (256,) * 8, (256,) * 16),
                          n_networks=2000, n_points=4)}  # 1000 left the d = 256 CIs at +-0.06-0.09


@dataclasses.dataclass(frozen=True, kw_only=True)
class InitGrid:
    """The grid of the claims that read the shared init sweep (:class:`InitSweep`)."""
    init: InitSweep


INIT_GRIDS = {profile: InitGrid(init=INIT[profile]) for profile in ("quick", "full")}


def init_points(sweep: InitSweep, seed: int) -> list:
    """One :class:`InitPoint` per architecture of ``sweep``."""
    points_seed = protocol.derive_seed(seed, "deep", "points", sweep.d)
    return [InitPoint(d=sweep.d, widths=tuple(w), n_networks=sweep.n_networks,
                      n_points=sweep.n_points, points_seed=points_seed,
                      seed=protocol.derive_seed(seed, "deep", "init", sweep.d, list(w)))
            for w in sweep.widths]


def run_init(runner, sweep: InitSweep, seed: int) -> list:
    """``[(InitPoint, result)]`` of the shared sweep (cached: the three claims share it)."""
    points = init_points(sweep, seed)
    return list(zip(points, runner.map(init_point, points, desc="deep networks at init")))


def ci_label(level: float) -> str:
    """Legend text of a CI at ``level``, e.g. ``"99.992% bootstrap CI over networks"``."""
    return f"{100 * level:.4f}".rstrip("0").rstrip(".") + "% bootstrap CI over networks"


def label(point) -> str:
    """``"L x n"`` (equal widths) or the widths tuple."""
    widths = point.widths
    return f"L={len(widths)}, n={widths[0]}" if len(set(widths)) == 1 else f"widths {widths}"
