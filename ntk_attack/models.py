"""The paper's two-layer ReLU network (THEORY.md section 1).

.. math::
    f(x; W) = \\frac{1}{\\sqrt{m}} \\sum_{s=1}^m a_s \\, \\mathrm{relu}(w_s \\cdot x),
    \\qquad w_{s,0} \\sim N(0, I_d), \\quad a_s \\in \\{+1, -1\\} \\text{ fixed}.

Only the first layer ``W`` is trained. Inputs live on the unit sphere; Bubeck et al. use the
same model with ``||x|| = sqrt(d)`` and ``w ~ N(0, I/d)`` (see :func:`to_bubeck`).

Inputs of any norm are accepted, without a warning: ``f`` is positively homogeneous,
``f(c x) = c f(x)`` for ``c >= 0``, so :func:`apply` and :func:`input_grad` are exact for every
``x`` (``x = 0`` gives ``f = 0`` and a zero gradient, every neuron sitting at its kink). The
loaders of :mod:`ntk_attack.data` return unit rows; results stated for ``||x|| = 1`` (attack
sizes, the lazy drift ``C0 ||x||``) scale with ``||x||``. Float32 and float64 both work; the
dtype follows the (promoted) inputs.
"""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack._checks import (check_choice, check_finite, check_network_memory, check_points,
                                check_positive_int)
from ntk_attack._memory import check_weights_memory

SIGNS = ("balanced", "random", "antisymmetric")


class TwoLayer(NamedTuple):
    """Weights of the two-layer network.

    Attributes:
        W: `(m, d)` first-layer weights, one neuron per row.
        a: `(m,)` fixed second-layer signs in {+1, -1}.
    """
    W: jax.Array
    a: jax.Array

    @property
    def m(self) -> int:
        return self.W.shape[0]

    @property
    def d(self) -> int:
        return self.W.shape[1]


def init_two_layer(key, d: int, m: int, *, signs: str = "balanced", dtype=None) -> TwoLayer:
    """Draw ``W0 ~ N(0, I_d)`` row-wise and the fixed signs ``a``.

    Args:
        key: a ``jax.random`` key.
        d: input dimension.
        m: width (even for ``"balanced"`` and ``"antisymmetric"``).
        signs: ``"balanced"`` (exactly ``m/2`` of each sign), ``"random"`` (i.i.d. signs) or
            ``"antisymmetric"`` (rows in pairs ``(w, +1), (w, -1)`` so ``f(.; W0) == 0``).
        dtype: floating dtype of ``W`` and ``a``; the JAX default when None (float64 needs
            ``jax_enable_x64``, otherwise JAX silently gives float32).

    Returns:
        ``TwoLayer(W: (m, d), a: (m,))``.

    Raises:
        ValueError: bad arguments, or an ``m x d`` too large for memory (checked before drawing).
    """
    d = check_positive_int(d, "d")
    m = check_positive_int(m, "m")
    check_choice(signs, "signs", SIGNS)
    if signs != "random" and m % 2:
        raise ValueError(f"m must be even for signs={signs!r}; got m = {m}.")
    if dtype is not None and not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"dtype must be a floating dtype (float32 or float64) or None; got {dtype!r}.")
    dtype = dtype or jnp.zeros(()).dtype
    check_init_memory(d, m, dtype)
    key_w, key_a = jax.random.split(key)
    half = jnp.ones(m // 2, dtype)
    if signs == "antisymmetric":
        W_half = jax.random.normal(key_w, (m // 2, d), dtype)
        return TwoLayer(jnp.concatenate([W_half, W_half]), jnp.concatenate([half, -half]))
    W = jax.random.normal(key_w, (m, d), dtype)
    if signs == "balanced":
        return TwoLayer(W, jnp.concatenate([half, -half]))
    return TwoLayer(W, jax.random.rademacher(key_a, (m,), dtype))


def check_init_memory(d: int, m: int, dtype=None) -> None:
    """Refuse an ``(m, d)`` weight matrix of ``dtype`` (the JAX default when None) that does not
    fit in memory (:func:`ntk_attack._memory.check_weights_memory`)."""
    dtype = np.dtype(dtype or jnp.zeros(()).dtype)
    check_weights_memory(d, m, itemsize=dtype.itemsize, dtype=dtype.name)


def check_params(params: TwoLayer) -> TwoLayer:
    """Check shapes and finiteness of ``params``; raise ``ValueError`` naming the problem.

    Returns:
        ``params`` as a :class:`TwoLayer` (a plain pair ``(W, a)`` is accepted).
    """
    try:
        W, a = params
    except (TypeError, ValueError):
        raise ValueError(f"params must be TwoLayer(W: (m, d), a: (m,)); got {type(params).__name__}."
                         ) from None
    if np.ndim(W) != 2 or np.shape(a) != (np.shape(W)[0],) or np.shape(W)[1] == 0:
        raise ValueError(f"params must be TwoLayer(W: (m, d), a: (m,)) with d >= 1; got W "
                         f"{np.shape(W)}, a {np.shape(a)}.")
    check_finite(W, "params.W")
    check_finite(a, "params.a")
    return params if isinstance(params, TwoLayer) else TwoLayer(W, a)


def preactivations(params: TwoLayer, x) -> jax.Array:
    """``w_s . x`` for every neuron: `(d,) -> (m,)`, `(n, d) -> (n, m)`."""
    return x @ params.W.T


def readout(z, a) -> jax.Array:
    """The output from the preactivations: ``(1/sqrt m) sum_s a_s relu(z_s)``, `(..., m) -> (...)`.

    The one place the forward pass is written (:func:`forward`, :func:`apply`, the training
    loss and the exact attack use it). Neuron ``s`` is added to neuron ``s + m/2`` before the
    sum, so that the antisymmetric init's pairs ``(w, +1), (w, -1)`` cancel exactly in floating
    point, not just to rounding. No validation.
    """
    m = a.shape[-1]
    terms, half = jax.nn.relu(z) * a, m // 2
    paired = terms[..., :half] + terms[..., half:2 * half]
    return (paired.sum(-1) + terms[..., 2 * half:].sum(-1)) / jnp.sqrt(m)


def forward(W, a, x) -> jax.Array:
    """``f(x; W)`` of :func:`apply` without validation (for jitted inner code): `(n, d) -> (n,)`."""
    return readout(x @ W.T, a)


def apply(params: TwoLayer, x) -> jax.Array:
    """Network output ``f(x; W)``.

    Args:
        params: ``TwoLayer(W: (m, d), a: (m,))``.
        x: one point `(d,)` or a batch `(n, d)`.

    Returns:
        `()` for one point, `(n,)` for a batch (`(0,)` for an empty batch).
    """
    params = check_params(params)
    x = jnp.asarray(check_points(x, params.d))
    check_network_memory(params, x, arrays=2)
    return readout(preactivations(params, x), params.a)


def input_grad(params: TwoLayer, x) -> jax.Array:
    """Input gradient in closed form, ``(1/sqrt m) sum_s a_s 1[w_s . x > 0] w_s`` (THEORY.md 2).

    Args:
        params: ``TwoLayer(W: (m, d), a: (m,))``.
        x: one point `(d,)` or a batch `(n, d)`.

    Returns:
        Same shape as ``x``. At a kink (``w_s . x == 0``) the neuron counts as inactive,
        matching ``jax.grad`` of :func:`apply`.
    """
    params = check_params(params)
    x = jnp.asarray(check_points(x, params.d))
    check_network_memory(params, x, arrays=2)
    coef, W, half = (preactivations(params, x) > 0) * params.a, params.W, params.m // 2
    # As in apply: the halves are summed separately, so antisymmetric pairs cancel exactly.
    return (coef[..., :half] @ W[:half] + coef[..., half:2 * half] @ W[half:2 * half]
            + coef[..., 2 * half:] @ W[2 * half:]) / jnp.sqrt(params.m)


def to_bubeck(params: TwoLayer, x):
    """Convert from our convention (``||x|| = 1``, ``w ~ N(0, I)``) to Bubeck et al.'s.

    Their inputs have ``||x|| = sqrt(d)`` and weights ``w ~ N(0, I/d)``; every ``w_s . x``,
    hence every output, is unchanged, and input gradients shrink by ``sqrt(d)``.

    Args:
        params: ``TwoLayer(W: (m, d), a: (m,))`` in our convention.
        x: `(d,)` or `(n, d)` inputs in our convention.

    Returns:
        ``(params, x)`` in Bubeck et al.'s convention.
    """
    params = check_params(params)
    x = jnp.asarray(check_points(x, params.d))
    scale = jnp.sqrt(params.d)
    return TwoLayer(params.W / scale, params.a), x * scale


def from_bubeck(params: TwoLayer, x):
    """Inverse of :func:`to_bubeck`."""
    params = check_params(params)
    x = jnp.asarray(check_points(x, params.d))
    scale = jnp.sqrt(params.d)
    return TwoLayer(params.W * scale, params.a), x / scale
