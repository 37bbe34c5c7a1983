"""Deep bias-free fully connected networks in neural-tangents' NTK parameterisation (THEORY.md 9).

With ``z_0 = x`` `(d,)`, hidden widths ``n_1, ..., n_L`` (``n_0 = d``) and ``W_l ~ N(0, 1)``:

.. math::
    h_l = \\frac{\\sqrt{2}}{\\sqrt{n_{l-1}}} z_{l-1} W_l, \\quad z_l = \\phi(h_l), \\qquad
    f(x) = \\frac{1}{\\sqrt{n_L}} z_L \\cdot w_{L+1},

i.e. ``stax.serial(Dense(n_1, W_std=sqrt 2), Phi, ..., Dense(n_L, W_std=sqrt 2), Phi,
Dense(1, W_std=1))``, every ``b_std=None`` (:func:`ntk_attack.kernels.deep_stax`). For
``phi = relu`` the ``sqrt 2`` is He's scale: ``E ||z_l||^2 / n_l = ||x||^2 / d`` in every layer,
so ``K(x, x) = ||x||^2 / d`` and ``E ||grad_x f||^2 = 1`` for unit ``x`` at every depth and width.

The empirical NTK in closed form sums one term per layer (THEORY.md 9),

.. math::
    \\hat\\Theta(x, x') = \\sum_{l=1}^{L+1} \\frac{\\sigma_l^2}{n_{l-1}}
        (z_{l-1} \\cdot z'_{l-1}) (\\delta_l \\cdot \\delta'_l),
    \\qquad \\delta_l = \\partial f / \\partial h_l, \\; \\delta_{L+1} = 1,

a forward-activation Gram times a backward-signal Gram (``sigma_l = sqrt 2`` hidden, ``1``
readout). Batches of points go through matmuls; stacks of networks through ``jax.vmap``
(``init_deep`` under ``vmap`` over keys, ``apply_deep`` over a leading params axis).
"""
import functools
import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import attacks, theory
from ntk_attack._checks import (check_choice, check_finite, check_fraction, check_points,
                                check_positive, check_positive_int, itemsize)
from ntk_attack._memory import check_memory
from ntk_attack.attacks import unbatch

ACTIVATIONS = ("relu", "erf", "gelu")
W_STD_HIDDEN = math.sqrt(2.0)
W_STD_READOUT = 1.0


def layer_scale(W, sigma: float) -> float:
    """``sigma / sqrt(n_in)``: the fan-in normalisation of a ``Dense`` layer with weights
    ``W`` `(n_in, n_out)` or, for the readout, `(n_in,)` (neural-tangents' NTK parameterisation).
    Every layer of this module is scaled here."""
    return sigma / math.sqrt(W.shape[0])


class DeepNet(NamedTuple):
    """Weights of a deep network; ``activation`` is static (pytree metadata, not a leaf).

    Attributes:
        weights: ``L`` hidden matrices ``W_l`` of shape `(n_{l-1}, n_l)` (``n_0 = d``), entries
            ``N(0, 1)``, in neural-tangents' orientation (``z_{l-1} @ W_l``).
        readout: `(n_L,)` readout weights ``w_{L+1}``.
        activation: ``"relu"``, ``"erf"`` or ``"gelu"`` (exact GELU), as in
            ``stax.Relu()``, ``stax.Erf()`` and ``stax.Gelu(approximate=False)``.
    """
    weights: tuple
    readout: jax.Array
    activation: str = "relu"

    @property
    def d(self) -> int:
        return self.weights[0].shape[-2]

    @property
    def widths(self) -> tuple:
        return tuple(W.shape[-1] for W in self.weights)


jax.tree_util.register_pytree_node(
    DeepNet, lambda p: ((tuple(p.weights), p.readout), p.activation),
    lambda activation, children: DeepNet(children[0], children[1], activation))


def _phi(activation):
    return {"relu": jax.nn.relu, "erf": jax.scipy.special.erf,
            "gelu": lambda h: jax.nn.gelu(h, approximate=False)}[activation]


def _check_widths(widths) -> tuple:
    if not isinstance(widths, Sequence) or len(widths) == 0:
        raise ValueError(f"widths must be a non-empty sequence of hidden widths n_1, ..., n_L; "
                         f"got {widths!r}.")
    return tuple(check_positive_int(n, "every width") for n in widths)


def init_deep(key, d: int, widths, *, activation: str = "relu", dtype=None) -> DeepNet:
    """Draw every weight i.i.d. ``N(0, 1)`` (the scales live in :func:`apply_deep`).

    Args:
        key: a ``jax.random`` key (vmap over a stack of keys for a stack of networks).
        d: input dimension.
        widths: hidden widths ``(n_1, ..., n_L)``, ``L >= 1``.
        activation: one of :data:`ACTIVATIONS`.
        dtype: floating dtype; the JAX default when None.

    Returns:
        :class:`DeepNet`.
    """
    d = check_positive_int(d, "d")
    widths = _check_widths(widths)
    check_choice(activation, "activation", ACTIVATIONS)
    dtype = dtype or jnp.zeros(()).dtype
    fan_in = (d,) + widths[:-1]
    check_memory(2 * sum(a * b for a, b in zip(fan_in, widths)) * itemsize(dtype),
                 name="d, widths", got=f"d = {d}, widths = {widths}", what="the weights, twice,")
    keys = jax.random.split(key, len(widths) + 1)
    weights = tuple(jax.random.normal(k, (n_in, n_out), dtype)
                    for k, n_in, n_out in zip(keys[:-1], fan_in, widths))
    return DeepNet(weights, jax.random.normal(keys[-1], (widths[-1],), dtype), activation)


def check_deep(params) -> DeepNet:
    """Check the structure, shapes and finiteness of ``params``; raise ``ValueError`` naming them."""
    if not isinstance(params, DeepNet):
        raise ValueError(f"params must be a DeepNet (see init_deep); got {type(params).__name__}.")
    check_choice(params.activation, "params.activation", ACTIVATIONS)
    shapes = [np.shape(W) for W in params.weights]
    chained = all(len(s) == 2 for s in shapes) and all(
        a[1] == b[0] for a, b in zip(shapes[:-1], shapes[1:]))
    if not shapes or not chained or np.shape(params.readout) != (shapes[-1][-1],):
        raise ValueError(f"params must chain: weights (d, n_1), (n_1, n_2), ..., readout (n_L,); "
                         f"got weights {shapes}, readout {np.shape(params.readout)}.")
    for l, W in enumerate(params.weights, 1):
        check_finite(W, f"params.weights[{l - 1}]")
    check_finite(params.readout, "params.readout")
    return params


def forward(params: DeepNet, x):
    """Pre-activations ``h_1..h_L`` and the output of a batch; no validation.

    Args:
        x: `(n, d)`.

    Returns:
        ``(hs, f)``: a list of `(n, n_l)` pre-activations and the `(n,)` outputs.
    """
    phi, z, hs = _phi(params.activation), x, []
    for W in params.weights:
        h = z @ W * layer_scale(W, W_STD_HIDDEN)
        hs.append(h)
        z = phi(h)
    return hs, z @ params.readout * layer_scale(params.readout, W_STD_READOUT)


def apply_deep(params: DeepNet, x) -> jax.Array:
    """Network output ``f(x)`` (module docstring).

    Args:
        params: :class:`DeepNet`.
        x: one point `(d,)` or a batch `(n, d)`.

    Returns:
        `()` for one point, `(n,)` for a batch.
    """
    check_deep(params)
    x = jnp.asarray(check_points(x, params.d))
    _check_activations(params, x)
    f = forward(params, jnp.atleast_2d(x))[1]
    return f[0] if x.ndim == 1 else f


def input_grad_deep(params: DeepNet, x) -> jax.Array:
    """``grad_x f(x)`` by ``jax.grad`` (relu: the kink counts as inactive, ``relu'(0) = 0``).

    Args:
        params: :class:`DeepNet`.
        x: one point `(d,)` or a batch `(n, d)`.

    Returns:
        Same shape as ``x``.
    """
    check_deep(params)
    x = jnp.asarray(check_points(x, params.d))
    _check_activations(params, x)
    grad = jax.grad(lambda u: jnp.sum(forward(params, u)[1]))(jnp.atleast_2d(x))
    return grad[0] if x.ndim == 1 else grad


def _check_activations(params: DeepNet, *xs) -> None:
    """Refuse batches whose activations (forward and backward, every layer) do not fit."""
    n = sum(np.shape(x)[0] if np.ndim(x) == 2 else 1 for x in xs if x is not None)
    per_point = 3 * sum(params.widths) * itemsize(params.readout.dtype)
    check_memory(n * per_point, name="n, widths", got=f"n = {n}, widths = {params.widths}",
                 what="the activations of every layer, three times,")


def to_stax_params(params: DeepNet) -> list:
    """``params`` as parameters of ``kernels.deep_stax(d, widths)``: ``[(W_1, None), (), ..., (w[:, None], None)]``."""
    check_deep(params)
    layers = []
    for W in params.weights:
        layers += [(W, None), ()]
    return layers + [(params.readout[:, None], None)]


def _signals(params, x):
    """Forward activations ``z_0..z_L`` and backward signals ``delta_1..delta_L`` of a batch."""
    phi = _phi(params.activation)
    dphi = jax.vmap(jax.vmap(jax.grad(phi)))
    hs, _ = forward(params, x)
    zs = [x] + [phi(h) for h in hs]
    scale_out = layer_scale(params.readout, W_STD_READOUT)
    delta = dphi(hs[-1]) * (params.readout * scale_out)
    deltas = [delta]
    for l in range(len(hs) - 1, 0, -1):  # delta_l = phi'(h_l) * (delta_{l+1} W_{l+1}^T) sigma / sqrt(n_l)
        W = params.weights[l]
        delta = dphi(hs[l - 1]) * (delta @ W.T) * layer_scale(W, W_STD_HIDDEN)
        deltas.insert(0, delta)
    return zs, deltas


@jax.jit
def _empirical_ntk(params, x1, x2):
    zs1, ds1 = _signals(params, x1)
    zs2, ds2 = _signals(params, x2)
    kernel = zs1[-1] @ zs2[-1].T * layer_scale(params.readout, W_STD_READOUT) ** 2
    for z1, z2, d1, d2, W in zip(zs1[:-1], zs2[:-1], ds1, ds2, params.weights):
        kernel = kernel + (z1 @ z2.T) * (d1 @ d2.T) * layer_scale(W, W_STD_HIDDEN) ** 2
    return kernel


def empirical_ntk_deep(params: DeepNet, x1, x2=None) -> jax.Array:
    """Empirical NTK over every layer in closed form (module docstring), ``J(x1) J(x2)^T``.

    Equals neural-tangents' ``empirical_ntk_fn(apply_fn, trace_axes=(-1,))`` of
    ``kernels.deep_stax(d, widths)`` with :func:`to_stax_params`; cost ``O(n1 n2 sum_l n_l)``
    instead of the Jacobian contraction's ``O(n1 n2 sum_l n_{l-1} n_l)``.

    Args:
        params: :class:`DeepNet`.
        x1: `(n1, d)`.
        x2: `(n2, d)`; None means ``x1``.

    Returns:
        `(n1, n2)`.
    """
    check_deep(params)
    for name, x in (("x1", x1), ("x2", x2)):
        if x is not None and (np.ndim(x) != 2 or np.shape(x)[1] != params.d):
            raise ValueError(f"{name} must have shape (n, d) with d = {params.d}; got shape {np.shape(x)}.")
        if x is not None:
            check_finite(x, name)
    _check_activations(params, x1, x2)
    n2 = np.shape(x1 if x2 is None else x2)[0]
    check_memory(2 * np.shape(x1)[0] * n2 * itemsize(params.readout.dtype), name="n1 * n2",
                 got=f"n1 = {np.shape(x1)[0]}, n2 = {n2}", what="the (n1, n2) kernel, twice,")
    x1 = jnp.asarray(x1)
    return _empirical_ntk(params, x1, x1 if x2 is None else jnp.asarray(x2))


# ------------------------------------------------------------------------------------------
# Exact flip along the ray for relu: walk the activation pattern piece by piece.

def _line(params, x, u, pattern=None):
    """On the piece with ``pattern`` (`(N,)` over all hidden units; None: the one just after
    ``t = 0``, where a unit with ``h = 0`` follows its slope): ``h(t) = ha + t hb`` per unit,
    ``f(t) = fa + t fb``. Returns ``(ha, hb, fa, fb, pattern)``."""
    za, zb, has, hbs, ons, start = x, u, [], [], [], 0
    for W in params.weights:
        scale = layer_scale(W, W_STD_HIDDEN)
        ha, hb = za @ W * scale, zb @ W * scale
        on = (ha > 0) | ((ha == 0) & (hb > 0)) if pattern is None else pattern[start:start + W.shape[1]]
        za, zb, start = jnp.where(on, ha, 0.0), jnp.where(on, hb, 0.0), start + W.shape[1]
        has, hbs, ons = has + [ha], hbs + [hb], ons + [on]
    scale = layer_scale(params.readout, W_STD_READOUT)
    return (jnp.concatenate(has), jnp.concatenate(hbs), za @ params.readout * scale,
            zb @ params.readout * scale, jnp.concatenate(ons))


def _walk(params, x, u, sign, eta_max, max_pieces):
    """First zero of ``sign * f(x + t u)`` on ``(0, eta_max]`` for one point: ``(eta, found, t_reached)``."""
    def body(state):
        t, pattern, done, eta, found, pieces = state
        ha, hb, fa, fb, _ = _line(params, x, u, pattern)
        leaving = jnp.where(pattern, hb < 0, hb > 0)  # the unit's sign condition fails ahead
        exits = jnp.where(leaving, -ha / jnp.where(leaving, hb, 1.0), jnp.inf)
        exits = jnp.maximum(exits, t)
        i = jnp.argmin(exits)
        t_next = exits[i]
        g_slope = sign * fb
        zero = jnp.where(g_slope < 0, -fa / jnp.where(g_slope < 0, fb, 1.0), jnp.inf)
        zero = jnp.maximum(zero, t)
        hit = (zero <= jnp.minimum(t_next, eta_max))
        out = ~hit & (t_next > eta_max)
        new_pattern = pattern.at[i].set(~pattern[i])
        return (jnp.where(hit | out, t, t_next), jnp.where(hit | out, pattern, new_pattern),
                hit | out, jnp.where(hit, zero, eta), hit, pieces + 1)

    def cond(state):
        return ~state[2] & (state[5] < max_pieces)

    zero = jnp.zeros((), x.dtype)
    init = (zero, _line(params, x, u)[4], jnp.asarray(False), jnp.asarray(jnp.inf, x.dtype),
            jnp.asarray(False), jnp.asarray(0))
    t, _, done, eta, found, _ = jax.lax.while_loop(cond, body, init)
    return eta, found, jnp.where(done, eta_max, t)


@functools.partial(jax.jit, static_argnames=("relative", "max_pieces"))
def _min_flip_exact(params, x, eta_max, *, relative, max_pieces):
    f0, vjp = jax.vjp(lambda u: forward(params, u)[1], x)
    grad = vjp(jnp.ones_like(f0))[0]
    grad_norm = jnp.linalg.norm(grad, axis=-1)
    first_order = theory.first_order(f0, grad_norm)
    u = attacks._direction(f0, grad, grad_norm)
    searchable = (f0 != 0) & (grad_norm > 0)
    eta_max = jnp.where(searchable, eta_max * first_order if relative else eta_max, 0.0)
    eta, found, searched = jax.vmap(_walk, (None, 0, 0, 0, 0, None))(
        params, x, u, jnp.sign(f0), eta_max, max_pieces)
    status = attacks._status(found & searchable, f0, grad_norm)
    return attacks._result(eta, status, f0, grad_norm, searched)


def min_flip_deep(params: DeepNet, x, *, method: str = "exact", eta_max: float | None = None,
                  max_ratio: float = 64.0, max_pieces: int = 100_000, rtol: float = 1e-12) -> "attacks.FlipResult":
    """Smallest ``eta`` flipping ``sign f`` along ``u = -sign(f) grad f / ||grad f||`` (THEORY.md 3, 9).

    ``"exact"`` (relu only): ``t -> f(x + t u)`` is piecewise linear; on each piece (a fixed
    activation pattern) every pre-activation is ``h(t) = ha + t hb`` and the output
    ``f(t) = fa + t fb``. The walk starts from the pattern just after ``t = 0``, and on each
    piece either finds the output's zero before any unit changes state (then
    ``eta = -fa / fb``, recomputed from ``x`` and ``u`` on that piece, no accumulated rounding)
    or moves to the first unit's switching point and flips that unit. Points are walked in
    parallel (``vmap`` of a ``lax.while_loop`` over pieces). ``"bisection"`` (any activation)
    is :func:`ntk_attack.attacks.min_flip` with ``apply_fn=apply_deep``.

    Args:
        params: :class:`DeepNet`.
        x: one point `(d,)` or a batch `(n, d)`.
        method: ``"exact"`` or ``"bisection"``.
        eta_max: search range ``(0, eta_max]``; None for ``max_ratio |f| / ||grad f||`` per point.
        max_ratio: the relative range used when ``eta_max`` is None.
        max_pieces: the walk stops (``FlipStatus.NO_FLIP``, ``searched_max`` = where it stopped) after
            this many pieces.
        rtol: bisection's relative tolerance.

    Returns:
        :class:`ntk_attack.attacks.FlipResult` (`(n,)` fields, `()` for one point).
    """
    check_choice(method, "method", ("exact", "bisection"))
    check_deep(params)
    check_points(x, params.d)
    _check_activations(params, x)
    relative = eta_max is None
    eta_max = check_positive(max_ratio if relative else eta_max,
                                      "max_ratio" if relative else "eta_max")
    batch = jnp.atleast_2d(jnp.asarray(x))
    if method == "bisection":
        rtol = check_fraction(rtol, "rtol")
        result = attacks._min_flip_bisection(params, batch, eta_max, rtol, apply_fn=_apply_batch,
                                             relative=relative)
        return unbatch(result, np.ndim(x) == 1)
    if params.activation != "relu":
        raise ValueError(f"params.activation must be 'relu' for method='exact' (a piecewise-linear "
                         f"network; use method='bisection'); got {params.activation!r}.")
    max_pieces = check_positive_int(max_pieces, "max_pieces")
    result = _min_flip_exact(params, batch, eta_max, relative=relative, max_pieces=max_pieces)
    return unbatch(result, np.ndim(x) == 1)


def _apply_batch(params, x):
    return forward(params, x)[1]
