"""Bounds and predictions for the attack size ``eta*`` (THEORY.md sections 3-4).

Every constant is an explicit argument; the defaults are THEORY.md's values. The paper's own
constants and width conditions are not known to us, so nothing here is "the theorem": the
envelope :func:`lazy_envelope` is a checkable heuristic whose curvature factor ``kappa_d`` is
measured at initialisation on calibration seeds (:func:`calibrate_kappa`), never fitted to the
data it is checked against.

A user bound plugs into the checks as any callable with the signature of
:func:`lazy_envelope` after its constants are bound, e.g.
``functools.partial(lazy_envelope, kappa_d=1.2, c_sys=2.0)``:
``bound(f0_init: (n,), grad0_norm: (n,), *, C0, d, m) -> (n,)`` upper bounds on ``eta*``.
"""
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import theory
from ntk_attack._checks import (check_choice, check_fraction, check_nonnegative, check_positive,
                                check_positive_int)
from ntk_attack._memory import check_memory
from ntk_attack.attacks import min_flip
from ntk_attack.models import SIGNS, apply, check_params, init_two_layer, input_grad

class Calibration(NamedTuple):
    """Curvature factor measured at initialisation.

    Attributes:
        kappa: the ``q`` quantile of ``eta* / (|f| / ||grad f||)`` over flipped points.
        n_flipped: number of flipped points it was computed from.
        no_flip_fraction: fraction of points with no sign change along ``u``.
        median: the median of the same ratio (the envelope's typical tightness at ``C0 = 0`` is
            ``median / kappa``).
    """
    kappa: float
    n_flipped: int
    no_flip_fraction: float
    median: float


class Estimate(NamedTuple):
    """A statistic and its bootstrap confidence interval ``(lo, hi)`` over networks."""
    value: float
    lo: float
    hi: float


class EnvelopeConditions(NamedTuple):
    """Where :func:`lazy_envelope` is claimed to hold (THEORY.md section 4).

    Attributes:
        grid: ``d >= min_d``, ``C0 <= max_C0_ratio sqrt(d)`` and ``m >= width_factor C0^2``.
        points: `(n,)` ``grid`` and, per point, denominator ``>= ||grad f(x; W0)|| / 2``.
    """
    grid: bool
    points: jax.Array


def first_order_prediction(params, x) -> jax.Array:
    """First-order attack size ``|f(x)| / ||grad_x f(x)||`` (THEORY.md section 3).

    Not a bound: ``eta*`` falls below it for a fraction of points (27% at ``d = 16``, 6% at
    ``d = 1024``, at init). ``inf`` where the gradient is zero.

    Args:
        params: ``TwoLayer(W: (m, d), a: (m,))``.
        x: `(d,)` or `(n, d)`.

    Returns:
        `()` or `(n,)`.
    """
    check_params(params)
    return theory.first_order(apply(params, x), jnp.linalg.norm(input_grad(params, x), axis=-1))


def activation_flip_drift(*, C0: float, d: int, m: int, constant: float = theory.DRIFT_CONSTANT):
    """Typical norm of the activation-flip part of the gradient drift (THEORY.md section 4).

    .. math:: \\text{constant} \\cdot \\sqrt{C_0 d} \\, m^{-1/4},
        \\qquad \\text{constant} = (2/\\pi)^{1/4}.

    Validates ``C0`` and evaluates :func:`ntk_attack.theory.activation_flip_drift`.
    """
    return theory.activation_flip_drift(C0=check_nonnegative(C0, "C0"), d=d, m=m, constant=constant)


def lazy_envelope(f0_init, grad0_norm, *, C0: float, d: int, m: int, kappa_d: float,
                  c_sys: float = 2.0, drift_constant: float = theory.DRIFT_CONSTANT):
    """Checkable envelope ``B(x)`` on ``eta*`` for any network in the lazy ball (THEORY.md 4).

    .. math::
        B(x) = \\kappa_d \\frac{|f(x; W_0)| + C_0}
            {\\|\\nabla f(x; W_0)\\| - c_{sys} C_0 - (2/\\pi)^{1/4} \\sqrt{C_0 d} \\, m^{-1/4}}

    ``|f| + C0`` bounds the trained value (relu is 1-Lipschitz); the denominator bounds the
    trained gradient norm from below: ``c_sys C0`` covers the learned directions (``<= C0``)
    and the systematic activation-flip term, the last term its random part. ``inf`` where the
    denominator is ``<= 0`` (the envelope says nothing there).

    Args:
        f0_init: `(n,)` ``f(x; W0)`` at initialisation.
        grad0_norm: `(n,)` ``||grad_x f(x; W0)||``.
        C0: lazy radius times ``sqrt(m)``, ``>= 0``.
        d, m: input dimension and width.
        kappa_d: curvature factor from :func:`calibrate_kappa` at this ``d``.
        c_sys: multiple of ``C0`` lost from the gradient norm.
        drift_constant: prefactor of the activation-flip term.

    Returns:
        `(n,)` upper envelopes on ``eta*``.
    """
    kappa_d = check_positive(kappa_d, "kappa_d")
    c_sys = check_nonnegative(c_sys, "c_sys")
    C0 = check_nonnegative(C0, "C0")
    return theory.lazy_envelope(f0_init, jnp.asarray(grad0_norm), C0=C0, d=d, m=m, kappa_d=kappa_d,
                                c_sys=c_sys, drift_constant=drift_constant)


def envelope_conditions(grad0_norm, *, C0: float, d: int, m: int, c_sys: float = 2.0,
                        drift_constant: float = theory.DRIFT_CONSTANT, min_d: int = 64,
                        max_C0_ratio: float = 0.25, width_factor: float = 16.0) -> EnvelopeConditions:
    """Conditions under which :func:`lazy_envelope` is claimed (THEORY.md section 4).

    ``d >= min_d``, ``C0 <= max_C0_ratio sqrt(d)``, ``m >= width_factor C0^2`` (the grid point)
    and, per point, ``||grad f(x; W0)|| - c_sys C0 - drift >= ||grad f(x; W0)|| / 2``.

    Args:
        grad0_norm: `(n,)` ``||grad_x f(x; W0)||``.
        C0, d, m, c_sys, drift_constant: as in :func:`lazy_envelope`.
        min_d, max_C0_ratio, width_factor: the grid conditions' constants.

    Returns:
        :class:`EnvelopeConditions`.
    """
    C0 = check_nonnegative(C0, "C0")
    grid = theory.lazy_grid(d=d, m=m, C0=C0, min_d=min_d, max_C0_ratio=max_C0_ratio,
                            width_factor=width_factor)
    points = theory.denominator_condition(jnp.asarray(grad0_norm), C0=C0, d=d, m=m, c_sys=c_sys,
                                          drift_constant=drift_constant)
    return EnvelopeConditions(grid, grid & points)


def sqrt_d_envelope(*, C0: float, d: int, K: float) -> float:
    """The ``O(1/sqrt(d))`` envelope of the lazy regime, ``K (1 + C0) / sqrt(d)`` (THEORY.md 4)."""
    return theory.sqrt_d_envelope(C0=check_nonnegative(C0, "C0"), d=d, K=check_nonnegative(K, "K"))


def k_ratio(eta, f0_init, *, C0: float, d: int):
    """Per-point constant ``eta* sqrt(d) / (|f(x; W0)| + C0)`` (``inf`` where no flip)."""
    C0 = check_nonnegative(C0, "C0")
    denominator = jnp.abs(f0_init) + C0
    safe = jnp.where(denominator > 0, denominator, 1.0)
    return jnp.where(denominator > 0, jnp.asarray(eta) * math.sqrt(d) / safe, jnp.inf)


def pooled_quantile(rows, q: float) -> float:
    """The ``q`` quantile of all entries of ``rows``, an order statistic (``inf`` entries are
    legitimate: points that never flip are as robust as can be)."""
    return float(np.quantile(np.asarray(rows, dtype=float), q, method="inverted_cdf"))


def K_hat(ratios, *, q: float = 0.95, level: float = 0.95, seed: int,
          n_resamples: int = 2000) -> Estimate:
    """``K_hat``: the ``q`` quantile of the constants :func:`k_ratio`, with a bootstrap CI.

    THEORY.md section 4: pooled over the networks (and dimensions) of ``ratios``; the
    percentile-bootstrap CI resamples whole networks, never points that share a network.

    Args:
        ratios: `(n_networks, n_points)` constants, one row per independent network.
        q: quantile, in ``(0, 1)``.
        level: CI level, in ``(0, 1)``.
        seed: integer seed of the resampling.
        n_resamples: bootstrap resamples.

    Returns:
        :class:`Estimate`.
    """
    ratios = np.asarray(ratios, dtype=float)
    if ratios.ndim != 2 or ratios.shape[0] < 2 or np.isnan(ratios).any():
        raise ValueError("ratios must be an (n_networks, n_points) array without NaN and with "
                         f"n_networks >= 2; got shape {ratios.shape}.")
    check_fraction(q, "q")
    check_fraction(level, "level")
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    check_memory(2 * n_resamples * ratios.size * 8, name="n_resamples", got=f"n_resamples = "
                 f"{n_resamples} of {ratios.size} ratios", what="the resampled ratios")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, ratios.shape[0], size=(n_resamples, ratios.shape[0]))
    resampled = np.quantile(ratios[picks].reshape(n_resamples, -1), q, axis=1,
                            method="inverted_cdf")
    lo, hi = np.quantile(resampled, [(1 - level) / 2, (1 + level) / 2])
    return Estimate(pooled_quantile(ratios, q), float(lo), float(hi))


def calibrate_kappa(key, d: int, m: int, *, n_networks: int = 8, n_points: int = 1000,
                    signs: str = "balanced", q: float = 0.999) -> Calibration:
    """Curvature factor ``kappa_d``: the ``q`` quantile of ``eta* / (|f| / ||grad f||)`` at init.

    Networks ``W0`` and points uniform on the unit sphere (at init the law of ``f(x)`` and
    ``grad f(x)`` does not depend on which unit ``x``) are drawn from ``key``: use a key
    disjoint from every checked sweep, so the envelope is a prediction, not a fit.

    Args:
        key: a ``jax.random`` key.
        d, m: input dimension and width.
        n_networks, n_points: sample sizes.
        signs: second-layer signs, as in :func:`ntk_attack.models.init_two_layer`.
        q: quantile, in ``(0, 1)``.

    Returns:
        :class:`Calibration`.
    """
    n_networks = check_positive_int(n_networks, "n_networks")
    n_points = check_positive_int(n_points, "n_points")
    check_choice(signs, "signs", SIGNS)
    check_fraction(q, "q")
    d, m = check_positive_int(d, "d"), check_positive_int(m, "m")
    ratios, flipped = [], []
    for key_net in jax.random.split(key, n_networks):  # networks one at a time: (n, m) memory
        key_w, key_x = jax.random.split(key_net)
        x = jax.random.normal(key_x, (n_points, d))
        result = min_flip(init_two_layer(key_w, d, m, signs=signs),
                          x / jnp.linalg.norm(x, axis=-1, keepdims=True))
        ratios.append(np.asarray(result.eta / result.first_order)[np.asarray(result.flipped)])
        flipped.append(np.asarray(result.flipped))
    ratios, flipped = np.concatenate(ratios), np.concatenate(flipped)
    if ratios.size == 0:
        raise ValueError(f"no point flipped at d = {d}, m = {m}: kappa_d is undefined.")
    return Calibration(float(np.quantile(ratios, q)), int(ratios.size),
                       float(1 - flipped.mean()), float(np.median(ratios)))
