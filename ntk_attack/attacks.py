"""The single-step gradient attack and its labelled-data relatives (THEORY.md section 3).

Along the unit direction ``u = -sign(f(x)) grad_x f(x) / ||grad_x f(x)||`` the attack size is

.. math::
    \\eta^*(x) = \\min\\{\\eta > 0 : \\mathrm{sign} f(x + \\eta u) \\ne \\mathrm{sign} f(x)\\}.

For the two-layer network the line function ``t -> f(x + t u)`` is piecewise linear with
breakpoints ``t_s = -(w_s . x) / (w_s . u)``, so :func:`min_flip` finds ``eta*`` exactly from the
sorted breakpoints; bisection on any ``apply_fn(params, x)`` is the generic fallback (the paper
code's fixed-step search, a benchmark baseline, is ``benchmarks/line_search.py``). Attacks on labelled data (``fgm``, ``pgd``, ``robust_accuracy``) are in
:mod:`ntk_attack.labelled_attacks`.

Every function takes one point `(d,)` or a batch `(n, d)`; batches are processed with matmuls
and ``jax.vmap``, never a Python loop over points or neurons.

References: Wang, Ullah, Mianjy, Arora, "Adversarial Robustness is at Odds with Lazy Training"
(NeurIPS 2022, arXiv 2207.00411); Bubeck, Cherapanamjeri, Gidel, Tachet des Combes, "A single
gradient step finds adversarial examples on random two-layers neural networks" (NeurIPS 2021).
"""
import enum
import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import theory
from ntk_attack._checks import check_choice, check_fraction, check_model, check_positive, itemsize
from ntk_attack._memory import check_memory, memory_limit
from ntk_attack.models import TwoLayer, apply, readout

METHODS = ("exact", "bisection")
# The exact method first walks breakpoints up to CUTOFF * |f| / ||grad f||; at init eta* exceeds
# twice the first-order value for well under 1% of points (THEORY.md section 3), which then
# walk every breakpoint.
CUTOFF = 2.0


class FlipStatus(enum.IntEnum):
    """What :func:`min_flip` found at a point; ``FlipResult.status`` holds these integer values.

    ``FLIPPED``: the sign changes at ``eta*``. ``NO_FLIP``: no sign change on
    ``(0, searched_max]``. ``ZERO_GRADIENT``: ``grad f(x) = 0`` (e.g. every neuron inactive),
    no direction. ``ZERO_OUTPUT``: ``f(x) = 0``, no sign to flip.
    """
    FLIPPED = 0
    NO_FLIP = 1
    ZERO_GRADIENT = 2
    ZERO_OUTPUT = 3


_FLIPPED, _NO_FLIP, _ZERO_GRADIENT, _ZERO_OUTPUT = (int(s) for s in FlipStatus)  # for jnp code


class FlipResult(NamedTuple):
    """Smallest sign-flipping step along the normalised gradient, per point.

    Attributes (each `(n,)` for a batch, `()` for one point):
        eta: ``eta*``, also ``||delta|| = ||eta u||`` (``u`` has unit norm); ``inf`` unless
            ``status == FlipStatus.FLIPPED`` (never a stand-in value).
        flipped: ``status == FlipStatus.FLIPPED``.
        status: a :class:`FlipStatus` value (integer array).
        f0: ``f(x)``.
        grad_norm: ``||grad_x f(x)||``.
        first_order: ``|f(x)| / ||grad_x f(x)||``; ``inf`` where the gradient is zero.
        searched_max: the search covered ``(0, searched_max]``; ``inf`` for ``"exact"`` (every
            breakpoint of the whole ray is walked), ``0`` where nothing was searched.
    """
    eta: jax.Array
    flipped: jax.Array
    status: jax.Array
    f0: jax.Array
    grad_norm: jax.Array
    first_order: jax.Array
    searched_max: jax.Array


# --------------------------------------------------------------------------- shared pieces


def unbatch(result, single: bool):
    return jax.tree_util.tree_map(lambda leaf: leaf[0], result) if single else result


def batched(apply_fn):
    """``apply_fn`` as `(n, d) -> (n,)` (a stax net returns `(n, 1)`); rows act independently."""
    if apply_fn is None:
        return apply
    return lambda params, x: apply_fn(params, x).reshape(x.shape[0])


def value_and_grad(f, params, x):
    """``f(params, x)`` `(n,)` and its input gradient `(n, d)`, assuming rows are independent."""
    value, vjp = jax.vjp(lambda x: f(params, x), x)
    return value, vjp(jnp.ones_like(value))[0]


def _direction(f0, grad, grad_norm):
    """``u = -sign(f) grad / ||grad||`` `(n, d)`; zero where the gradient is zero."""
    safe = jnp.where(grad_norm > 0, grad_norm, 1.0)
    return -jnp.sign(f0)[:, None] * grad / safe[:, None]


def _status(flipped, f0, grad_norm):
    status = jnp.where(flipped, _FLIPPED, _NO_FLIP)
    status = jnp.where(f0 == 0, _ZERO_OUTPUT, status)
    return jnp.where(grad_norm == 0, _ZERO_GRADIENT, status)


def _result(eta, status, f0, grad_norm, searched_max):
    flipped = status == _FLIPPED
    eta = jnp.where(flipped, eta, jnp.inf)
    searched = jnp.where((status == _FLIPPED) | (status == _NO_FLIP), searched_max, 0.0)
    return FlipResult(eta, flipped, status, f0, grad_norm, theory.first_order(f0, grad_norm),
                      searched)


# --------------------------------------------------------------------------- exact


def _first_zero_sorted(h0, s0, t, ds):
    """First zero on ``t > 0`` of piecewise-linear functions with sorted breakpoints (numpy).

    Args:
        h0: `(n,)` values at ``t = 0`` (``> 0``).
        s0: `(n,)` slopes just after ``t = 0``.
        t: `(n, k)` breakpoints sorted ascending, ``inf`` for unused slots.
        ds: `(n, k)` slope change at each breakpoint (``0`` for unused slots).

    Returns:
        ``(eta, start, found)`` `(n,)`: the first zero, the breakpoint (or 0) that starts its
        linear segment, and whether a zero exists (``eta`` is meaningless where not).
    """
    finite = np.isfinite(t)
    t = np.where(finite, t, 0.0)
    previous = np.pad(t[:, :-1], ((0, 0), (1, 0)))
    width = np.where(finite, t - previous, 0.0)  # segment ending at breakpoint j
    slope_in = s0[:, None] + np.cumsum(ds, axis=-1) - ds  # slope on that segment
    step = slope_in * width
    value = h0[:, None] + np.cumsum(step, axis=-1)  # h(t_j)
    # A value within rounding of 0 is a zero: where a lone neuron switches off, h reaches 0
    # exactly at its breakpoint and may stay 0 (small m); the sum rounds that 0 to +-1e-17.
    slack = 8 * np.finfo(value.dtype).eps * (h0[:, None] + np.cumsum(np.abs(step), axis=-1))
    crossed = finite & (value <= slack)
    any_crossed = crossed.any(axis=-1)
    rows = np.arange(len(h0))
    j = crossed.argmax(axis=-1)
    # The zero lies in the segment ending at the first breakpoint with h <= 0 ...
    start_in, slope_j = previous[rows, j], slope_in[rows, j]
    value_in = value[rows, j] - slope_j * width[rows, j]
    # ... else on the unbounded last segment, if h decreases there.
    n_finite = finite.sum(axis=-1)
    last = np.maximum(n_finite - 1, 0)
    start_out = np.where(n_finite > 0, t[rows, last], 0.0)
    value_out = np.where(n_finite > 0, value[rows, last], h0)
    slope_out = s0 + ds.sum(axis=-1)
    start = np.where(any_crossed, start_in, start_out)
    value_start = np.where(any_crossed, value_in, value_out)
    slope = np.where(any_crossed, slope_j, slope_out)
    found = any_crossed | (slope_out < 0)
    return start + value_start / -np.where(slope < 0, slope, -1.0), start, found


def _first_zero_below(h0, s0, t, ds, cutoff):
    """:func:`_first_zero_sorted` walking only the breakpoints ``t <= cutoff`` of each row.

    Args:
        t: `(n, m)` unsorted breakpoints, ``inf`` for unused slots; ``h0, s0, ds`` as above.
        cutoff: `(n,)`.

    Returns:
        ``(eta, start, found, decided)``: ``decided`` where the zero lies in ``(0, cutoff]``;
        elsewhere the walk is incomplete (breakpoints above the cutoff were skipped).
    """
    keep = t <= cutoff[:, None]
    rows, cols = np.nonzero(keep)  # row-major: grouped by row
    counts = keep.sum(axis=-1)
    slot = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    width = max(int(counts.max(initial=0)), 1)
    packed_t = np.full((len(h0), width), np.inf)
    packed_ds = np.zeros((len(h0), width))
    packed_t[rows, slot], packed_ds[rows, slot] = t[rows, cols], ds[rows, cols]
    order = np.argsort(packed_t, axis=-1)
    packed_t = np.take_along_axis(packed_t, order, -1)
    packed_ds = np.take_along_axis(packed_ds, order, -1)
    eta, start, found = _first_zero_sorted(h0, s0, packed_t, packed_ds)
    return eta, start, found, found & (eta <= cutoff)


def _first_zero_host(h0, s0, t, ds, cutoff):
    """First zero of each row's line function, on the host (numpy).

    Walks the breakpoints below ``cutoff`` (a small multiple of the first-order prediction:
    usually a few percent of the ``m``), then every breakpoint for the rows whose zero lies
    beyond it. numpy's vectorised sort and gather run several times faster than XLA's on CPU,
    and the sort is the only super-linear step of the exact method.
    """
    def walk(h0, s0, t, ds, cutoff):
        batch_shape, m = np.shape(t)[:-1], np.shape(t)[-1]
        h0, s0, cutoff = (np.asarray(a).reshape(-1) for a in (h0, s0, cutoff))
        t, ds = np.asarray(t).reshape(-1, m), np.asarray(ds).reshape(-1, m)
        eta, start, found, decided = _first_zero_below(h0, s0, t, ds, cutoff)
        rest = np.flatnonzero(~decided)
        if rest.size:
            eta[rest], start[rest], found[rest], _ = _first_zero_below(
                h0[rest], s0[rest], t[rest], ds[rest], np.full(rest.size, np.inf))
        return (eta.astype(h0.dtype).reshape(batch_shape), start.astype(h0.dtype).reshape(batch_shape),
                found.reshape(batch_shape))

    shape = jax.ShapeDtypeStruct(h0.shape, h0.dtype)
    return jax.pure_callback(walk, (shape, shape, jax.ShapeDtypeStruct(h0.shape, bool)),
                             h0, s0, t, ds, cutoff, vmap_method="expand_dims")


@jax.jit
def _min_flip_exact(params: TwoLayer, x):
    """Exact ``eta*`` for a batch `(n, d)` (THEORY.md section 3), no validation."""
    W, a = params
    root_m = jnp.sqrt(W.shape[0]).astype(W.dtype)
    z = x @ W.T  # (n, m): product 1, W x
    active = z > 0
    f0 = readout(z, a)
    grad = (active * a) @ W / root_m  # (n, d): product 2, W^T (a * mask)
    grad_norm = jnp.linalg.norm(grad, axis=-1)
    v = _direction(f0, grad, grad_norm) @ W.T  # (n, m): product 3, W u
    # In h(t) = sign(f0) f(x + t u) every breakpoint raises the slope by sign(f0) a_s |v_s| / sqrt m:
    # an active neuron with v_s < 0 switches off, an inactive one with v_s > 0 switches on.
    sign = jnp.sign(f0)[:, None]
    switches = (active & (v < 0)) | (~active & (v > 0))
    t = jnp.where(switches, -z / jnp.where(switches, v, 1.0), jnp.inf)
    ds = jnp.where(switches, sign * a * jnp.abs(v) / root_m, 0.0)
    s0 = jnp.sum(sign * active * a * v, axis=-1) / root_m  # = -||grad f|| up to rounding
    cutoff = CUTOFF * theory.first_order(f0, grad_norm)
    eta, start, found = _first_zero_host(jnp.abs(f0), s0, t, ds, cutoff)
    # Polish: on the zero's segment f is linear, f(x + t u) = sum_s a_s (z_s + t v_s) 1_s / sqrt m
    # over the neurons active there, so eta = -sum a z 1 / sum a v 1 without accumulated rounding.
    on = z + ((start + eta) / 2)[:, None] * v > 0
    slope = jnp.sum(on * a * v, axis=-1)
    eta = jnp.where(slope != 0, -jnp.sum(on * a * z, axis=-1) / jnp.where(slope != 0, slope, 1.0), eta)
    status = _status(found, f0, grad_norm)
    return _result(eta, status, f0, grad_norm, jnp.full_like(eta, jnp.inf))


# --------------------------------------------------------------------------- bisection


EXACT_ARRAYS = 10  # (n, m) arrays of the exact method alive at once: z, v, t, ds, masks, host copies


def _exact_in_blocks(params, x):
    """:func:`_min_flip_exact` on row blocks of ``x`` small enough for memory (rows are
    independent); one block, the whole batch, whenever it fits."""
    n, (m, d) = x.shape[0], params.W.shape
    per_row = EXACT_ARRAYS * m * itemsize(jnp.result_type(params.W, x))
    check_memory(2 * m * d * itemsize(params.W.dtype) + per_row, name="m, d",
                 got=f"m = {m}, d = {d}", what="the weights and one point's (m,) arrays")
    limit = memory_limit()[0] - 2 * m * d * itemsize(params.W.dtype)
    rows = max(1, min(n, int(limit // per_row)))
    if rows >= n:
        return _min_flip_exact(params, x)
    parts = [_min_flip_exact(params, x[i:i + rows]) for i in range(0, n, rows)]
    return jax.tree_util.tree_map(lambda *leaves: jnp.concatenate(leaves), *parts)


@functools.partial(jax.jit, static_argnames=("apply_fn", "relative"))
def _min_flip_bisection(params, x, eta_max, rtol, *, apply_fn, relative: bool):
    """Bracket on a geometric grid, then bisect to ``rtol``; no validation.

    The range is ``(0, eta_max]``, or ``(0, eta_max * |f| / ||grad f||]`` when ``relative``.
    """
    f = batched(apply_fn)
    f0, grad = value_and_grad(f, params, x)
    grad_norm = jnp.linalg.norm(grad, axis=-1)
    first_order = theory.first_order(f0, grad_norm)
    u = _direction(f0, grad, grad_norm)
    sign = jnp.sign(f0)
    searchable = (f0 != 0) & (grad_norm > 0)
    eta_max = jnp.where(searchable, eta_max * first_order if relative else eta_max, 0.0)

    def changed(t):
        return sign * f(params, x + t[:, None] * u) <= 0

    # Geometric grid t_j = first_order / 4 * sqrt(2)^j, capped at eta_max.
    start = jnp.minimum(first_order / 4, eta_max)

    def bracket_cond(state):
        lo, hi, done = state
        return jnp.any(~done & (lo < eta_max))

    def bracket_body(state):
        lo, hi, done = state
        trial = jnp.where(lo == 0, start, jnp.minimum(lo * math.sqrt(2), eta_max))
        hit = ~done & changed(trial)
        return jnp.where(hit | done, lo, trial), jnp.where(hit, trial, hi), done | hit

    zero = jnp.zeros_like(f0)
    lo, hi, found = jax.lax.while_loop(bracket_cond, bracket_body, (zero, zero, ~searchable))
    found = found & searchable

    def open_brackets(lo, hi):
        mid = (lo + hi) / 2
        return found & (hi - lo > rtol * hi) & (lo < mid) & (mid < hi)  # stop at dtype resolution

    def bisect_body(state):
        lo, hi = state
        mid = (lo + hi) / 2
        hit = changed(mid)
        move = open_brackets(lo, hi)
        return jnp.where(move & ~hit, mid, lo), jnp.where(move & hit, mid, hi)

    lo, hi = jax.lax.while_loop(lambda state: jnp.any(open_brackets(*state)), bisect_body, (lo, hi))
    return _result(hi, _status(found, f0, grad_norm), f0, grad_norm, eta_max)


# --------------------------------------------------------------------------- public


def min_flip(params, x, *, method: str = "exact", apply_fn: Callable | None = None,
             rtol: float = 1e-12, eta_max: float | None = None) -> FlipResult:
    """Smallest step ``eta*`` along ``u = -sign(f) grad f / ||grad f||`` that flips ``sign f``.

    ``"exact"`` (two-layer network only) walks the sorted breakpoints
    ``t_s = -(w_s . x) / (w_s . u)`` of the piecewise-linear line function

    .. math::
        h(t) = \\mathrm{sign}(f(x)) f(x + t u)
             = \\frac{\\mathrm{sign} f(x)}{\\sqrt{m}} \\sum_s a_s \\mathrm{relu}(z_s + t v_s),
        \\quad z = W x, \\; v = W u,

    whose slope changes by ``sign(f) a_s |v_s| / sqrt(m)`` at ``t_s`` (THEORY.md section 3).
    Its cost is the three products ``W x``, ``W^T (a * mask)``, ``W u`` plus a sort of at most
    ``m`` numbers per point (first only the breakpoints below ``2 |f| / ||grad f||``, then all
    of them for the rare points whose zero lies beyond); the zero is then recomputed in closed
    form on its linear segment. It finds the first zero on the whole ray, so ``FlipStatus.NO_FLIP`` there
    means the sign never changes along ``u``.
    Its memory is about ten `(n, m)` arrays; a batch larger than the memory limit
    (:func:`ntk_attack._memory.memory_limit`) is attacked in row blocks that fit, with the same
    results (rows are independent), and a width whose one row does not fit is refused.

    ``"bisection"`` works for any ``apply_fn(params, x)`` (e.g. a stax network): it evaluates
    the sign on the grid ``t_j = (|f| / ||grad f||) / 4 * sqrt(2)^j`` up to ``eta_max``, then
    bisects the first bracket. Tolerance: the returned ``eta`` is the flipped end of a bracket
    ``[lo, eta]`` with ``eta - lo <= rtol * eta`` (or adjacent floating-point numbers), so the
    sign has changed at ``eta`` and a zero lies within ``rtol * eta`` below it. It is the first
    sign change only to the grid's resolution: a dip below zero that starts and ends between
    two grid points is missed.

    Args:
        params: ``TwoLayer(W: (m, d), a: (m,))``, or anything ``apply_fn`` accepts.
        x: one point `(d,)` or a batch `(n, d)`.
        method: ``"exact"`` or ``"bisection"``.
        apply_fn: ``apply_fn(params, x: (n, d)) -> (n,) or (n, 1)``, each row independent of
            the others; None for :func:`ntk_attack.models.apply`. Only with ``"bisection"``.
        rtol: bisection's relative tolerance, in ``(0, 1)``.
        eta_max: bisection's search range ``(0, eta_max]``; None for ``64 |f| / ||grad f||``
            per point.

    Returns:
        :class:`FlipResult`, fields `(n,)` for a batch, `()` for one point.

    Example:
        >>> params = init_two_layer(jax.random.PRNGKey(0), 64, 1024)
        >>> x = jax.random.normal(jax.random.PRNGKey(1), (100, 64))
        >>> result = min_flip(params, x / jnp.linalg.norm(x, axis=-1, keepdims=True))
        >>> bool(result.flipped.all()), float(jnp.mean(result.eta * 8)) > 0.5  # eta* sqrt(d)
        (True, True)
    """
    check_choice(method, "method", METHODS)
    if method == "exact" and apply_fn is not None:
        raise ValueError("apply_fn must be None for method='exact' (it needs the two-layer "
                         f"network's breakpoints; use method='bisection'); got {apply_fn!r}.")
    batch, single = check_model(params, x, apply_fn)
    if method == "exact":
        return unbatch(_exact_in_blocks(params, batch), single)
    rtol = check_fraction(rtol, "rtol")
    relative = eta_max is None
    eta_max = 64.0 if relative else check_positive(eta_max, "eta_max")
    result = _min_flip_bisection(params, batch, eta_max, rtol, apply_fn=apply_fn, relative=relative)
    return unbatch(result, single)

