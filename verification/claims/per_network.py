"""Measurement pieces shared by the families' point functions, which measure one network at a
time (a network and its points are one bootstrap unit): the claims' data sets, test points on
the sphere, the per-network rows stacked into arrays, the fields of a flip, the ray evaluated
directly at ``eta*`` for the exact sign-change check
(:func:`verification.protocol.sign_change_check`), and what the attack and adversarial
families share about the lazy envelope (THEORY.md 4): the calibration of ``kappa_d`` and the
grid conditions.
"""
import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import bounds, data, theory
from verification import protocol

SIGN_CHANGE_STEP = 1e-9  # relative step either side of eta* at which the sign is evaluated
KAPPA_QUANTILE = 0.999


@functools.lru_cache(maxsize=None)
def load(name: str, d: int, *, seed: int, test_fraction: float = 0.2, n: int = 0,
         path: str | None = None) -> data.Dataset:
    """A data set of the claims, memoised (the MNIST subset takes seconds to load and resize).

    Args:
        name: ``"sphere"`` (``n`` points uniform on the unit sphere in ``R^d``, labels
            ``sign(x_1)``), ``"digits"`` (scikit-learn's) or ``"mnist"`` (the bundled subset, or
            the full file at ``path`` with its official split); images of 0 vs 1 at
            ``sqrt(d) x sqrt(d)``, labels +-1.
        seed: the sphere's draw, or the split of the bundled images.
        test_fraction: the share held out (not for a full MNIST file).
    """
    if name == "sphere":
        return data.sphere(jax.random.PRNGKey(seed), n, d, test_fraction=test_fraction)
    if name not in ("digits", "mnist"):
        raise ValueError(f"name must be 'sphere', 'digits' or 'mnist'; got {name!r}.")
    size = math.isqrt(d)
    if size * size != d:
        raise ValueError(f"d must be a square (images are sqrt(d) x sqrt(d)); got {d}.")
    if name == "digits":
        return data.digits(size, seed=seed, test_fraction=test_fraction)
    if path is not None:
        return data.mnist(path, size)
    return data.mnist_subset(size, seed=seed, test_fraction=test_fraction)


def unit_points(key, n: int, d: int):
    """`(n, d)` points drawn uniformly on the unit sphere."""
    x = jax.random.normal(key, (n, d))
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def stack_rows(rows: list) -> dict:
    """One dict of numpy arrays with a leading networks axis, from one dict of arrays per
    network (all with the same names and shapes)."""
    return {name: np.stack([np.asarray(row[name]) for row in rows]) for name in rows[0]}


def flip_arrays(result) -> dict:
    """The per-point fields of an :class:`ntk_attack.attacks.FlipResult` as numpy arrays:
    ``eta``, ``first_order``, ``flipped``, ``status``, ``f`` (``f0``), ``grad_norm``."""
    return {"eta": np.asarray(result.eta), "first_order": np.asarray(result.first_order),
            "flipped": np.asarray(result.flipped), "status": np.asarray(result.status),
            "f": np.asarray(result.f0), "grad_norm": np.asarray(result.grad_norm)}


@functools.partial(jax.jit, static_argnames="forward")
def values_beside(forward, params, x, eta):
    """``sign(f(x)) f(x + t u)`` at ``t = eta (1 -+ SIGN_CHANGE_STEP)`` along
    ``u = -sign(f) grad f / ||grad f||``, from the forward pass and its autodiff gradient alone
    (no breakpoint or piece walk).

    Args:
        forward: ``forward(params, x) -> (n,)`` outputs at `(n, d)` points (a module-level
            function: it is a static argument).
        params: the network's parameters, as ``forward`` takes them.
        x: `(n, d)` points.
        eta: `(n,)` finite steps (put 0 where there is no ``eta*``).

    Returns:
        ``[below, above]``, two `(n,)` arrays: positive, then non-positive, where ``eta*`` is
        the first sign change.
    """
    f, vjp = jax.vjp(lambda z: forward(params, z), x)
    grad = vjp(jnp.ones_like(f))[0]
    u = -jnp.sign(f)[:, None] * grad / jnp.linalg.norm(grad, axis=-1, keepdims=True)
    return [jnp.sign(f) * forward(params, x + (eta * (1 + step))[:, None] * u)
            for step in (-SIGN_CHANGE_STEP, SIGN_CHANGE_STEP)]


@dataclasses.dataclass(frozen=True, kw_only=True)
class KappaPoint:
    """Calibration of ``kappa_d`` at init on seeds used nowhere else (THEORY.md 4)."""
    d: int
    m: int
    n_networks: int
    n_points: int
    seed: int


def kappa_point(point: KappaPoint) -> dict:
    """:func:`ntk_attack.bounds.calibrate_kappa` at the :data:`KAPPA_QUANTILE`, as a dict."""
    calibration = bounds.calibrate_kappa(jax.random.PRNGKey(point.seed), point.d, point.m,
                                         n_networks=point.n_networks, n_points=point.n_points,
                                         q=KAPPA_QUANTILE)
    return dict(calibration._asdict())


def kappa_points(ds, m: int, *, n_networks: int, n_points: int, seed: int, role: str) -> list:
    """One :class:`KappaPoint` per distinct ``d`` of ``ds`` at width ``m``, seeded from ``seed``
    and ``role`` (a family's label), so disjoint from every checked network."""
    return [KappaPoint(d=d, m=m, n_networks=n_networks, n_points=n_points,
                       seed=protocol.derive_seed(seed, role, d, m)) for d in sorted(set(ds))]


def calibrate(ctx, points) -> dict:
    """``{d: {"kappa", "median", "n_flipped", "no_flip_fraction"}}`` (floats) calibrated at
    ``points`` (:func:`kappa_point`, through the run's cache)."""
    results = ctx.runner.map(kappa_point, points, desc="kappa calibration")
    return {p.d: {name: float(value) for name, value in r.items()} for p, r in zip(points, results)}


def inside_conditions(*, d: int, m: int, C0: float) -> bool:
    """Whether grid point ``(d, m, C0)`` is inside the envelope's conditions (THEORY.md 4):
    ``d >= 64``, ``C0 <= sqrt(d)/4``, ``m >= 16 C0^2`` and the denominator condition at the
    typical gradient norm ``sqrt(d/2 - 1/(2 pi))`` (points are then screened one by one)."""
    return theory.lazy_conditions(d=d, m=m, C0=C0)
