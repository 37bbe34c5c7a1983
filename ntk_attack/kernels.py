"""Kernels of the paper's network (THEORY.md section 5): analytic, neural-tangents, empirical.

With ``cos(theta) = x . x' / (||x|| ||x'||)``, ``kappa0 = (pi - theta) / (2 pi)`` and
``kappa1 = (sin(theta) + (pi - theta) cos(theta)) / (2 pi)``:

.. math::
    K(x, x') = \\|x\\| \\|x'\\| \\kappa_1, \\qquad
    \\Theta_W(x, x') = (x \\cdot x') \\kappa_0, \\qquad
    \\Theta = \\Theta_W + K.

``K`` is the NNGP (the second-layer NTK), ``Theta_W`` the NTK of the first layer (the paper
trains only ``W``). The empirical first-layer NTK of a width-``m`` network is
``Theta_hat = (X1 X2^T) * (A1 diag(a^2) A2^T) / m`` with ``A[i, s] = 1[w_s . x_i > 0]``.

Conventions at the singular points (input gradients are finite everywhere):

* The cosine is clipped to ``[-1, 1]``; a zero-norm input gets ``cos(theta) = 0`` and no
  gradient through its norm, so every kernel is 0 there and its gradient is finite
  (``Theta_W``: ``x'/4``; ``K``: 0).
* ``Theta_W`` has cone singularities at ``theta = 0`` and ``theta = pi``: the one-sided
  gradients along different approach directions differ by the angle term
  ``-(x . x') grad_x(theta) / (2 pi)``. At ``|cos(theta)| = 1`` that term is taken as 0, the
  mean of the one-sided limits, so ``grad_x Theta_W(x, x') = x' (pi - theta) / (2 pi)``:
  ``x'/2`` at coincident and ``0`` at antipodal points. ``K`` is differentiable there
  (``d kappa1 / d theta = -(pi - theta) sin(theta)`` vanishes) and needs no convention.
* ``arccos`` is ``sqrt(eps)``-conditioned next to ``|cos(theta)| = 1``: the computed cosine
  of a duplicate pair is off by a few ``eps`` (up to 8 measured at ``d <= 4096``: the dot
  product and the norms are summed in different orders), which ``arccos`` turns into an
  angle of ~ ``1e-8``. So cosines within ``16 eps`` of ``+-1`` are set to ``+-1``: duplicate
  and rescaled points are exact (and their Gram matrices exactly PSD), and the change is
  at most ``sqrt(32 eps) / (2 pi) ~ 1.3e-8`` relative in float64, the size of the rounding
  it removes. Other nearly coincident points keep errors ~ ``1e-8`` relative, as in
  neural-tangents. Choose tolerances by ``cos(theta)``, not by index.

Dtypes follow the (promoted) inputs: float64 when ``jax_enable_x64`` is on (the CLI and
``verification`` turn it on; use float64 for kernel regression), float32 by passing float32.

``neural_tangents`` is imported only here, inside the functions that need it, so that
``import ntk_attack`` loads neither it nor TensorFlow. It is optional (docs/install.md): where it
does not import, those functions raise ``ImportError`` with :data:`NT_MISSING`.
"""
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import theory
from ntk_attack._checks import check_choice, check_points, check_positive_int, itemsize
from ntk_attack._memory import check_memory, memory_limit
from ntk_attack.models import TwoLayer, check_params

# STRUCTURED_DERIVATIVES fails under jax 0.4.38 (it uses removed JAX internals); AUTO is wrong on CPU.
NTK_IMPLEMENTATIONS = ("jacobian_contraction", "ntk_vector_products")
SNAP_EPS = 16  # cosines within 16 eps of +-1 are set to +-1 (module docstring)
ANALYTIC_ARRAYS = 8  # (n1, n2) arrays alive at once in an analytic kernel


# ------------------------------------------------------------------------------------------
# Analytic (infinite-width) kernels.

@jax.custom_jvp
def _kappa0(c):
    return theory.kappa0(jnp.asarray(c))


@_kappa0.defjvp
def _kappa0_jvp(primals, tangents):
    # d kappa0 / dc = 1 / (2 pi sqrt(1 - c^2)) inside (-1, 1); 0 at |c| >= 1 (the convention).
    (c,), (dc,) = primals, tangents
    inside = jnp.abs(c) < 1
    slope = jnp.where(inside, 1 / (2 * jnp.pi * jnp.sqrt(jnp.where(inside, 1 - c * c, 1))), 0)
    return _kappa0(c), slope * dc


@jax.custom_jvp
def _kappa1(c):
    return theory.kappa1(jnp.asarray(c))


@_kappa1.defjvp
def _kappa1_jvp(primals, tangents):
    # d kappa1 / dc = kappa0 exactly: no cancellation between the sin and angle terms.
    (c,), (dc,) = primals, tangents
    return _kappa1(c), _kappa0(c) * dc


def _safe_norm(x):
    sq = jnp.sum(x * x, axis=-1)
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1)), 0)


def _dot_norms_cos(x1, x2):
    """``x1 . x2``, ``||x1|| ||x2||`` and the cosine, each of shape ``x1.shape[:-1] + x2.shape[:-1]``."""
    dot = x1 @ x2.T
    n1, n2 = _safe_norm(x1), _safe_norm(x2)
    norms = n1.reshape(n1.shape + (1,) * n2.ndim) * n2
    positive = norms > 0
    c = jnp.where(positive, dot / jnp.where(positive, norms, 1), 0)
    return dot, norms, jnp.where(jnp.abs(c) >= 1 - SNAP_EPS * jnp.finfo(c.dtype).eps, jnp.sign(c), c)


def _check_pair(x1, x2, *, batch: bool = False, arrays: int = ANALYTIC_ARRAYS):
    """Two batches of points with the same ``d``, and ``arrays`` `(n1, n2)` arrays that fit."""
    allowed = (2,) if batch else (1, 2)
    if np.ndim(x1) not in allowed:
        want = "(n1, d)" if batch else "(d,) or (n1, d)"
        raise ValueError(f"x1 must have shape {want}; got shape {np.shape(x1)}.")
    d = np.shape(x1)[-1]
    if d == 0:
        raise ValueError(f"x1 must have d >= 1 columns; got shape {np.shape(x1)}.")
    check_points(x1, d, "x1")
    if np.ndim(x2) in (1, 2) and np.shape(x2)[-1] != d:
        raise ValueError(f"x1 and x2 must have the same number of columns d; got shapes "
                         f"{np.shape(x1)} and {np.shape(x2)}.")
    check_points(x2, d, "x2")
    if batch and np.ndim(x2) != 2:
        raise ValueError(f"x2 must have shape (n2, d) with d = {d}; got shape {np.shape(x2)}.")
    n1, n2 = (np.shape(x)[0] if np.ndim(x) == 2 else 1 for x in (x1, x2))
    check_memory(arrays * n1 * n2 * itemsize(jnp.result_type(x1, x2, np.float32)),
                 name="n1 * n2", got=f"n1 = {n1}, n2 = {n2}",
                 what=f"{arrays} (n1, n2) arrays (products, norms, angles, the kernel)")


def nngp(x1, x2):
    """NNGP kernel ``K = ||x|| ||x'|| (sin(theta) + (pi - theta) cos(theta)) / (2 pi)``.

    ``E_w relu(w . x) relu(w . x')`` for ``w ~ N(0, I_d)``; the NTK of the second layer.

    Args:
        x1: one point `(d,)` or a batch `(n1, d)`.
        x2: one point `(d,)` or a batch `(n2, d)`.

    Returns:
        `(n1, n2)` for two batches; a point's axis is dropped (`(n2,)`, `(n1,)` or `()`).
    """
    _check_pair(x1, x2)
    return _analytic(x1, x2, nngp=True, first_layer=False)


def ntk_first_layer(x1, x2):
    """First-layer NTK ``Theta_W = (x . x') (pi - theta) / (2 pi)`` (only ``W`` trained).

    Jax-traceable and differentiable in both arguments (convention at ``theta = 0, pi`` in
    the module docstring): ``grad_x Theta_W(x, x') = x' (pi - theta)/(2 pi)
    - (x . x') grad_x(theta) / (2 pi)`` (THEORY.md section 6).

    Args:
        x1: one point `(d,)` or a batch `(n1, d)`.
        x2: one point `(d,)` or a batch `(n2, d)`.

    Returns:
        `(n1, n2)` for two batches; a point's axis is dropped (`(n2,)`, `(n1,)` or `()`).
    """
    _check_pair(x1, x2)
    return _analytic(x1, x2, nngp=False, first_layer=True)


def ntk_both_layers(x1, x2):
    """NTK with both layers trained, ``Theta = Theta_W + K``; shapes as :func:`nngp`."""
    _check_pair(x1, x2)
    return _analytic(x1, x2, nngp=True, first_layer=True)


@functools.partial(jax.jit, static_argnames=("nngp", "first_layer"))
def _analytic(x1, x2, *, nngp, first_layer):
    dot, norms, c = _dot_norms_cos(x1, x2)
    return (dot * _kappa0(c) if first_layer else 0) + (norms * _kappa1(c) if nngp else 0)


# ------------------------------------------------------------------------------------------
# neural-tangents stax.

NT_MISSING = ('neural-tangents is not importable here; install it with the stack it runs on '
              '(jax 0.4.38, TensorFlow): pip install "ntk-attack[nt]"')


def neural_tangents_available() -> bool:
    """Whether neural-tangents is installed (imports it; one that does not import raises)."""
    try:
        _neural_tangents()
    except ModuleNotFoundError:
        return False
    return True


def _neural_tangents():
    try:
        import neural_tangents
    except ImportError as error:  # absent, or 0.6.5 on jax >= 0.5: say what to install
        raise type(error)(f"{NT_MISSING} ({error})", name=error.name) from error
    return neural_tangents


def stax_net(d: int, m: int, *, depth: int = 1):
    """Neural-tangents ``stax`` network of the paper's architecture, ``(init_fn, apply_fn, kernel_fn)``.

    ``depth = 1`` is the paper's model (THEORY.md section 5), all layers bias-free in NTK
    parameterisation (``z = W_std / sqrt(fan_in) * x @ W``, ``W_ij ~ N(0, 1)``)::

        Dense(m, W_std=sqrt(d)) -> Relu -> Dense(1, W_std=1)

    so ``w_s . x`` has ``w_s ~ N(0, I_d)`` and the readout is ``(1/sqrt m) sum_s a_s relu``.
    ``depth > 1`` inserts ``depth - 1`` blocks ``Relu -> Dense(m, W_std=sqrt(2))`` (He scale,
    which keeps ``E z^2 = ||x||^2`` in every hidden layer) before the readout.

    Args:
        d: input dimension.
        m: width of every hidden layer (ignored by ``kernel_fn``).
        depth: number of hidden (``Dense -> Relu``) layers, ``>= 1``.

    Returns:
        ``(init_fn, apply_fn, kernel_fn)``; ``apply_fn(params, x)`` maps `(n, d) -> (n, 1)`.
    """
    d = check_positive_int(d, "d")
    m = check_positive_int(m, "m")
    depth = check_positive_int(depth, "depth")
    return _serial((m,) * depth, first_W_std=math.sqrt(d), activation="relu")


DEEP_ACTIVATIONS = ("relu", "erf", "gelu")


def _serial(widths, *, first_W_std, activation):
    """``Dense(n_1, first_W_std) -> Phi -> [Dense(n_l, sqrt 2) -> Phi]... -> Dense(1, 1)``, bias-free."""
    stax = _neural_tangents().stax
    phi = {"relu": stax.Relu, "erf": stax.Erf, "gelu": lambda: stax.Gelu(approximate=False)}[activation]
    layers = []
    for l, n in enumerate(widths):
        W_std = first_W_std if l == 0 else math.sqrt(2)
        layers += [stax.Dense(n, W_std=W_std, b_std=None, parameterization="ntk"), phi()]
    layers += [stax.Dense(1, W_std=1.0, b_std=None, parameterization="ntk")]
    return stax.serial(*layers)


def deep_stax(d: int, widths, *, activation: str = "relu"):
    """Neural-tangents ``stax`` net of :mod:`ntk_attack.deep`, ``(init_fn, apply_fn, kernel_fn)``.

    Every hidden layer is ``Dense(n_l, W_std=sqrt(2), b_std=None)`` followed by the activation
    (``Relu``, ``Erf`` = ``erf``, ``Gelu(approximate=False)``), the readout
    ``Dense(1, W_std=1, b_std=None)``, NTK parameterisation (THEORY.md 9). For relu it is
    :func:`stax_net` with the first layer's ``W_std`` ``sqrt(2)`` instead of ``sqrt(d)``: every
    output, and so both kernels, are ``sqrt(2/d)`` resp. ``2/d`` times :func:`stax_net`'s.

    Args:
        d: input dimension.
        widths: hidden widths ``(n_1, ..., n_L)`` (ignored by ``kernel_fn``).
        activation: ``"relu"``, ``"erf"`` or ``"gelu"``.

    Returns:
        ``(init_fn, apply_fn, kernel_fn)``; ``apply_fn(params, x)`` maps `(n, d) -> (n, 1)`.
    """
    check_positive_int(d, "d")
    if not isinstance(widths, (tuple, list)) or not widths:
        raise ValueError(f"widths must be a non-empty sequence of hidden widths; got {widths!r}.")
    widths = tuple(check_positive_int(n, "every width") for n in widths)
    check_choice(activation, "activation", DEEP_ACTIVATIONS)
    return _serial(widths, first_W_std=math.sqrt(2), activation=activation)


def deep_kernels(x1, x2, *, depth: int, activation: str = "relu") -> "StaxKernels":
    """Infinite-width NNGP and NTK of :func:`deep_stax` with ``depth`` hidden layers (neural-tangents).

    Args:
        x1: `(n1, d)`.
        x2: `(n2, d)`.
        depth: number of hidden layers ``L >= 1``.
        activation: ``"relu"``, ``"erf"`` or ``"gelu"``.

    Returns:
        :class:`StaxKernels` of `(n1, n2)` arrays (``ntk_hidden``: readout frozen).
    """
    _check_pair(x1, x2, batch=True)
    depth = check_positive_int(depth, "depth")
    kernel_fn = deep_stax(np.shape(x1)[-1], (1,) * depth, activation=activation)[2]
    k = kernel_fn(x1, x2, ("nngp", "ntk"))
    return StaxKernels(k.nngp, k.ntk, k.ntk - k.nngp)


def to_stax_params(params: TwoLayer):
    """``TwoLayer(W, a)`` as parameters of ``stax_net(d, m)``: ``[(W^T, None), (), (a[:, None], None)]``.

    With them ``stax_net(d, m)[1](stax_params, x)[:, 0] == models.apply(params, x)``.
    """
    W, a = check_params(params)
    return [(W.T, None), (), (a[:, None], None)]


class StaxKernels(NamedTuple):
    """Infinite-width kernels from neural-tangents, each `(n1, n2)`.

    Attributes:
        nngp: output NNGP (``K`` for ``depth = 1``).
        ntk: NTK with every layer trained (``Theta_W + K`` for ``depth = 1``).
        ntk_hidden: NTK with the readout frozen, ``ntk - nngp`` (the readout's own term is the
            output NNGP because its ``W_std = 1``); ``Theta_W`` for ``depth = 1``.
    """
    nngp: jax.Array
    ntk: jax.Array
    ntk_hidden: jax.Array


def stax_kernels(x1, x2, *, depth: int = 1) -> StaxKernels:
    """Analytic kernels of :func:`stax_net` through neural-tangents' ``kernel_fn``.

    Args:
        x1: `(n1, d)`.
        x2: `(n2, d)`.
        depth: number of hidden layers (see :func:`stax_net`).

    Returns:
        :class:`StaxKernels` of `(n1, n2)` arrays.
    """
    _check_pair(x1, x2, batch=True)
    kernel_fn = stax_net(np.shape(x1)[-1], 1, depth=depth)[2]  # widths are infinite in kernel_fn
    k = kernel_fn(x1, x2, ("nngp", "ntk"))
    return StaxKernels(k.nngp, k.ntk, k.ntk - k.nngp)


def empirical_ntk_fn(apply_fn, *, trace_axes=(-1,), diagonal_axes=(), vmap_axes=None,
                     implementation: str = "jacobian_contraction"):
    """Neural-tangents' empirical NTK of any ``apply_fn(params, x)``, ``J(x1) J(x2)^T``.

    A thin door onto ``neural_tangents.empirical_ntk_fn``: ``trace_axes``, ``diagonal_axes``
    and ``vmap_axes`` have its meaning and defaults. To restrict to some parameters, close
    ``apply_fn`` over the others (e.g. the first-layer NTK of :func:`stax_net`:
    ``lambda W, x: apply_fn([(W, None), (), (a[:, None], None)], x)``).

    Args:
        apply_fn: ``apply_fn(params, x)``.
        trace_axes: output axes traced over.
        diagonal_axes: output axes of which only the diagonal is kept.
        vmap_axes: batch axes ``apply_fn`` may be vmapped over (``0`` for stax nets).
        implementation: ``"jacobian_contraction"`` or ``"ntk_vector_products"``
            (``AUTO`` is wrong on CPU per its docs; ``STRUCTURED_DERIVATIVES`` raises
            ``AttributeError`` under jax 0.4.38).

    Returns:
        ``ntk_fn(x1, x2, params)``; ``x2 = None`` means ``x2 = x1``.
    """
    check_choice(implementation, "implementation", NTK_IMPLEMENTATIONS)
    nt = _neural_tangents()
    return nt.empirical_ntk_fn(apply_fn, trace_axes=trace_axes, diagonal_axes=diagonal_axes,
                               vmap_axes=vmap_axes,
                               implementation=nt.NtkImplementation[implementation.upper()])


def nt_linearize(apply_fn, params):
    """``neural_tangents.linearize``: ``f_lin(p, x) = f(params, x) + <grad_p f(params, x), p - params>``."""
    return _neural_tangents().linearize(apply_fn, params)


# ------------------------------------------------------------------------------------------
# Empirical (finite-width) NTK of the two-layer model in closed form.

def empirical_ntk(params: TwoLayer, x1, x2=None, *, second_layer: bool = False, diagonal_axes=(),
                  block_size: int = 1024):
    """Empirical NTK of ``f(x; W) = (1/sqrt m) sum_s a_s relu(w_s . x)`` in closed form.

    .. math::
        \\hat\\Theta_W = (X_1 X_2^T) \\odot (A_1 \\,\\mathrm{diag}(a^2)\\, A_2^T) / m,
        \\qquad A[i, s] = 1[w_s \\cdot x_i > 0],

    plus, with ``second_layer``, ``relu(X1 W^T) relu(X2 W^T)^T / m`` (the gradient in ``a``).
    ``a_s^2 = 1`` for the model's signs; the weights make it equal neural-tangents'
    ``empirical_ntk_fn`` for any ``a``. Neurons are processed ``block_size`` rows of ``W`` at
    a time, so memory is ``O(n1 n2 + (n1 + n2) block_size)`` (``n = 4096``, ``m = 16384``:
    well under 1 GB in float64). When that exceeds the memory limit
    (:func:`ntk_attack._memory.memory_limit`), the rows of ``x1`` are processed in blocks that
    fit, with the same entries; only a result that cannot be held itself is refused. Matches ``empirical_ntk_fn`` of :func:`stax_net` with
    ``trace_axes=(-1,)`` (the single logit) and the same ``diagonal_axes``.

    Args:
        params: ``TwoLayer(W: (m, d), a: (m,))``.
        x1: `(n1, d)`.
        x2: `(n2, d)`; ``None`` means ``x1``.
        second_layer: add the second-layer term (both layers trained).
        diagonal_axes: ``()`` for the `(n1, n2)` kernel, ``(0,)`` for its diagonal `(n,)`
            (needs ``n1 == n2``), as in neural-tangents.
        block_size: neurons per block.

    Returns:
        `(n1, n2)`, or `(n,)` with ``diagonal_axes=(0,)``; dtype of the promoted inputs.
    """
    check_params(params)
    _check_pair(x1, x1 if x2 is None else x2, batch=True, arrays=0)  # memory: _row_block
    if np.shape(x1)[-1] != params.d:
        raise ValueError(f"x1 must have shape (n1, d) with d = {params.d}; got shape {np.shape(x1)}.")
    diagonal_axes = (diagonal_axes,) if isinstance(diagonal_axes, int) else tuple(diagonal_axes)
    check_choice(diagonal_axes, "diagonal_axes", ((), (0,)))
    diagonal = diagonal_axes == (0,)
    if diagonal and x2 is not None and np.shape(x1)[0] != np.shape(x2)[0]:
        raise ValueError(f"x2 must have as many rows as x1 with diagonal_axes=(0,); "
                         f"got {np.shape(x2)[0]} and {np.shape(x1)[0]}.")
    block_size = min(check_positive_int(block_size, "block_size"), params.m)
    x1 = jnp.asarray(x1)
    x2 = None if x2 is None else jnp.asarray(x2)
    rows = _row_block(params, x1, x1 if x2 is None else x2, second_layer=bool(second_layer),
                      diagonal=diagonal, block_size=block_size)
    kernel = functools.partial(_empirical_ntk, params, second_layer=bool(second_layer),
                               diagonal=diagonal, block_size=block_size)
    if rows >= x1.shape[0]:
        return kernel(x1, x2)
    x2 = x1 if x2 is None else x2
    parts = [kernel(x1[i:i + rows], x2[i:i + rows] if diagonal else x2)
             for i in range(0, x1.shape[0], rows)]
    return jnp.concatenate(parts)


def _row_block(params, x1, x2, *, second_layer, diagonal, block_size) -> int:
    """Rows of ``x1`` per block of :func:`empirical_ntk` that fit in memory (all of them if the
    whole kernel does); raises if even the `(n1, n2)` result and one row do not fit."""
    (n1, n2), (m, d) = (x1.shape[0], x2.shape[0]), params.W.shape
    size = itemsize(jnp.result_type(x1, x2, params.W))
    out = n1 if diagonal else n1 * n2
    fixed = (2 * out + 2 * m * d + 4 * n2 * block_size) * size  # result, parts, W, x2's blocks
    per_row = ((3 + second_layer) * (1 if diagonal else n2) + 4 * block_size) * size
    check_memory(fixed + per_row, name="n1 * n2", got=f"n1 = {n1}, n2 = {n2}, m = {m}",
                 what="the kernel, the weights and one row block")
    return max(1, int((memory_limit()[0] - fixed) // per_row))


@functools.partial(jax.jit, static_argnames=("second_layer", "diagonal", "block_size"))
def _empirical_ntk(params, x1, x2, *, second_layer, diagonal, block_size):
    m, d = params.W.shape
    same = x2 is None  # x2 = x1: its products with W are reused
    dtype = jnp.result_type(x1, params.W) if same else jnp.result_type(x1, x2, params.W)
    x1 = x1.astype(dtype)
    x2 = x1 if same else x2.astype(dtype)
    pad = (-m) % block_size  # zero rows never fire (1[0 > 0] = 0, relu(0) = 0): exact padding
    W = jnp.pad(params.W.astype(dtype), ((0, pad), (0, 0))).reshape(-1, block_size, d)
    a2 = jnp.pad(params.a.astype(dtype) ** 2, (0, pad)).reshape(-1, block_size)
    pair = (lambda u, v: jnp.sum(u * v, axis=-1)) if diagonal else (lambda u, v: u @ v.T)

    def add_block(acc, block):
        Wb, a2b = block
        z1 = x1 @ Wb.T
        z2 = z1 if same else x2 @ Wb.T
        counts = acc[0] + pair((z1 > 0) * a2b, (z2 > 0).astype(dtype))
        if not second_layer:
            return (counts,), None
        return (counts, acc[1] + pair(jax.nn.relu(z1), jax.nn.relu(z2))), None

    shape = (x1.shape[0],) if diagonal else (x1.shape[0], x2.shape[0])
    init = tuple(jnp.zeros(shape, dtype) for _ in range(1 + second_layer))
    acc, _ = jax.lax.scan(add_block, init, (W, a2))
    kernel = pair(x1, x2) * acc[0] / m
    return kernel + acc[1] / m if second_layer else kernel
