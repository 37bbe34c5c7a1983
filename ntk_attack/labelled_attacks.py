"""Attacks on labelled data ``y in {-1, +1}`` through the margin ``y f(x)`` (THEORY.md 3).

:func:`fgm` (one normalised gradient step), :func:`pgd` (projected gradient ascent on the
negative margin) and :func:`robust_accuracy` (the fraction of points still correctly classified
under an attack of each radius; the ``"line"`` attack is :func:`ntk_attack.attacks.min_flip`'s
exact step). Every function takes one point `(d,)` or a batch `(n, d)`.
"""
import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import theory
from ntk_attack._checks import (check_choice, check_labels, check_model, check_nonnegative,
                                check_positive, check_positive_int)
from ntk_attack.attacks import FlipResult, batched, min_flip, unbatch, value_and_grad

ATTACKS = ("line", "fgm", "pgd")
NORMS = (2, math.inf)


class AttackResult(NamedTuple):
    """A perturbation of labelled points and the margins before and after.

    Attributes:
        delta: `(n, d)` perturbations (`(d,)` for one point).
        margin0: `(n,)` clean margins ``y f(x)``.
        margin: `(n,)` attacked margins ``y f(x + delta)``; ``<= 0`` means misclassified.
    """
    delta: jax.Array
    margin0: jax.Array
    margin: jax.Array


def _check_labels(y, n: int, single: bool, dtype):
    expected = () if single else (n,)
    if np.shape(y) != expected:
        raise ValueError(f"y must have shape {expected} to match x; got shape {np.shape(y)}.")
    return jnp.atleast_1d(jnp.asarray(check_labels(y), dtype=dtype))


def _ascent(grad, norm):
    """Unit steepest-ascent direction of a linear function with gradient ``grad`` `(n, d)`."""
    if norm == 2:
        length = jnp.linalg.norm(grad, axis=-1, keepdims=True)
        return grad / jnp.where(length > 0, length, 1.0)
    return jnp.sign(grad)


def _project(delta, eps, norm):
    if norm == 2:
        length = jnp.linalg.norm(delta, axis=-1, keepdims=True)
        return delta * jnp.minimum(1.0, eps / jnp.where(length > 0, length, 1.0))
    return jnp.clip(delta, -eps, eps)


@functools.partial(jax.jit, static_argnames=("apply_fn", "norm", "steps"))
def _pgd(params, x, y, eps, step_size, *, apply_fn, norm, steps: int):
    f = batched(apply_fn)
    def margin_and_grad(delta):
        value, grad = value_and_grad(f, params, x + delta)
        return y * value, y[:, None] * grad

    def body(_, state):
        delta, best, best_margin = state
        margin, grad = margin_and_grad(delta)
        better = margin < best_margin
        best = jnp.where(better[:, None], delta, best)
        best_margin = jnp.where(better, margin, best_margin)
        delta = _project(delta - step_size * _ascent(grad, norm), eps, norm)
        return delta, best, best_margin

    zero = jnp.zeros_like(x)
    margin0 = y * f(params, x)
    delta, best, best_margin = jax.lax.fori_loop(0, steps, body, (zero, zero, margin0))
    final = y * f(params, x + delta)
    better = final < best_margin
    return AttackResult(jnp.where(better[:, None], delta, best), margin0,
                        jnp.where(better, final, best_margin))


def fgm(params, x, y, *, eps: float, norm=2, apply_fn: Callable | None = None) -> AttackResult:
    """Fast gradient method: one step of size ``eps`` that lowers the margin ``y f(x)``.

    .. math::
        \\delta = -\\epsilon \\, y \\, \\frac{\\nabla f(x)}{\\|\\nabla f(x)\\|_2} \\;(\\ell_2),
        \\qquad \\delta = -\\epsilon \\, y \\, \\mathrm{sign}(\\nabla f(x)) \\;(\\ell_\\infty);
        \\quad \\delta = 0 \\text{ where } \\nabla f(x) = 0.

    Args:
        params, x, apply_fn: as in :func:`min_flip`.
        y: labels in ``{-1, +1}``, `(n,)` (`()` for one point).
        eps: attack radius, ``>= 0``.
        norm: ``2`` or ``math.inf``.

    Returns:
        :class:`AttackResult`.
    """
    batch, single = check_model(params, x, apply_fn)
    y = _check_labels(y, batch.shape[0], single, batch.dtype)
    eps = check_nonnegative(eps, "eps")
    norm = check_choice(norm, "norm", NORMS)
    f = batched(apply_fn)
    value, grad = value_and_grad(f, params, batch)
    delta = -eps * _ascent(y[:, None] * grad, norm)
    result = AttackResult(delta, y * value, y * f(params, batch + delta))
    return unbatch(result, single)


def pgd(params, x, y, *, eps: float, steps: int, step_size: float, norm=2,
        apply_fn: Callable | None = None) -> AttackResult:
    """Projected gradient descent on the margin ``y f(x + delta)`` over ``||delta|| <= eps``.

    From ``delta = 0``: ``delta <- Proj(delta - step_size * dir(y grad f(x + delta)))`` with
    ``dir`` the unit-``l2`` direction or the sign (``l_inf``); returns the iterate with the
    smallest margin (the paper's adversarial training uses 100 steps of ``0.025 eps``,
    :func:`ntk_attack.theory.pgd_step_size`).

    Args:
        params, x, apply_fn: as in :func:`min_flip`.
        y: labels in ``{-1, +1}``, `(n,)` (`()` for one point).
        eps: attack radius, ``>= 0``.
        steps: number of steps, ``>= 1``.
        step_size: ``> 0``.
        norm: ``2`` or ``math.inf``.

    Returns:
        :class:`AttackResult`.
    """
    batch, single = check_model(params, x, apply_fn)
    y = _check_labels(y, batch.shape[0], single, batch.dtype)
    eps = check_nonnegative(eps, "eps")
    steps = check_positive_int(steps, "steps")
    step_size = check_positive(step_size, "step_size")
    norm = check_choice(norm, "norm", NORMS)
    result = _pgd(params, batch, y, eps, step_size, apply_fn=apply_fn, norm=norm,
                  steps=steps)
    return unbatch(result, single)


def line_robust_accuracy(flip: FlipResult, y, eps_grid) -> jax.Array:
    """Robust accuracy under the single-step line attack, from :func:`min_flip`'s result.

    A point is robust at radius ``eps`` iff it is classified correctly (``y f(x) > 0``) and
    ``eta* > eps``.

    Args:
        flip: :func:`min_flip` of `(n, d)` points.
        y: `(n,)` labels in ``{-1, +1}``.
        eps_grid: `(k,)` radii.

    Returns:
        `(k,)` robust accuracies.
    """
    correct = jnp.asarray(y) * flip.f0 > 0
    return jnp.mean(correct[None, :] & (flip.eta[None, :] > jnp.asarray(eps_grid)[:, None]), axis=1)


def robust_accuracy(params, x, y, *, eps_grid, attack: str = "line", norm=2, steps: int = 100,
                    apply_fn: Callable | None = None):
    """Fraction of points classified correctly (``y f(x + delta) > 0``) under attack, per radius.

    ``"line"``: the single-step attack of any size up to ``eps`` along ``u`` (``l2``): a
    correctly classified point is robust at ``eps`` iff ``eta* > eps`` (:func:`min_flip`,
    exact for the two-layer network, bisection over ``(0, max(eps_grid)]`` with ``apply_fn``).
    ``"fgm"``: :func:`fgm` at each radius. ``"pgd"``: :func:`pgd` with ``steps`` steps of
    the paper's size, ``theory.pgd_step_size(eps, steps) = 2.5 eps / steps``. Misclassified clean points count as errors at every radius.

    Args:
        params, x, apply_fn: as in :func:`min_flip`; ``x`` `(n, d)`.
        y: `(n,)` labels in ``{-1, +1}``.
        eps_grid: `(k,)` radii ``>= 0``.
        attack: ``"line"``, ``"fgm"`` or ``"pgd"``.
        norm: ``2`` or ``math.inf`` (``"line"`` is ``l2`` only).
        steps: PGD steps, ``>= 1``.

    Returns:
        `(k,)` robust accuracies.
    """
    check_choice(attack, "attack", ATTACKS)
    norm = check_choice(norm, "norm", NORMS)
    if np.ndim(x) != 2 or np.shape(x)[0] == 0:
        raise ValueError(f"x must have shape (n, d) with n >= 1 (an accuracy needs points); "
                         f"got shape {np.shape(x)}.")
    eps_grid = np.asarray(eps_grid, dtype=float)
    if eps_grid.ndim != 1 or eps_grid.size == 0 or not np.all(np.isfinite(eps_grid)) \
            or np.any(eps_grid < 0):
        raise ValueError(f"eps_grid must be a non-empty 1-d array of finite radii >= 0; got {eps_grid!r}.")
    batch, _ = check_model(params, x, apply_fn)
    y = _check_labels(y, batch.shape[0], False, batch.dtype)
    if attack == "line":
        if norm != 2:
            raise ValueError(f"norm must be 2 for attack='line' (an l2 step); got {norm!r}.")
        if apply_fn is None:
            flip = min_flip(params, batch)
        else:
            flip = min_flip(params, batch, method="bisection", apply_fn=apply_fn,
                            eta_max=max(float(eps_grid.max()), np.finfo(float).tiny))
        return line_robust_accuracy(flip, y, eps_grid)
    margins = []
    for eps in eps_grid:  # a sweep over radii; each attack is batched over points
        if attack == "fgm":
            result = fgm(params, batch, y, eps=float(eps), norm=norm, apply_fn=apply_fn)
        else:
            result = pgd(params, batch, y, eps=float(eps), steps=steps, norm=norm,
                         step_size=max(theory.pgd_step_size(float(eps), steps), np.finfo(float).tiny),
                         apply_fn=apply_fn)
        margins.append(jnp.minimum(result.margin, result.margin0))
    return jnp.mean(jnp.stack(margins) > 0, axis=1)
