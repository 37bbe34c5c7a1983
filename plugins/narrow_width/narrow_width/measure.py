"""Networks at init attacked by :func:`ntk_attack.min_flip`, one at a time, and summarised per
network (the bootstrap unit) beside the limit law at each point's own ``z = W x``.

Notation (docs/THEORY.md 10): ``A`` the active neurons, ``k = |A|``, ``sigma = sign f(x)``,
``A-`` the active neurons with ``a_s = -sigma``, ``T = eta* sqrt(d)``,
``T1 = sqrt(d) |f| / ||grad f||``; ``k`` and ``A-`` are read from ``z``, never from the attack.
"""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

import ntk_attack as na
from narrow_width import limit_law

STEP = 1e-9  # exact eta*: sign f is read at eta* -+ STEP max(eta*, 1 / sqrt(d))
# The floor 1 / sqrt(d), the scale of eta* at ||x|| = 1, keeps the step resolvable where |f| is
# tiny: at |f| = 1.8e-6 (d = 1024, m = 8), eta* = 7.2e-8, and a step of 1e-9 eta* moved f by less
# than its float64 rounding (one point in the full profile read as no sign change).
RTOL = 1e-7  # bisection (erf): the sign changes within 2 RTOL eta below the returned eta


@dataclasses.dataclass(frozen=True, kw_only=True)
class Point:
    """``networks`` networks at init, each attacked at its own ``points`` unit inputs;
    ``activation`` ``"relu"`` (the exact attack) or ``"erf"`` (bisection on :func:`erf_apply`)."""
    d: int
    m: int
    networks: int
    points: int = 250
    signs: str = "balanced"
    activation: str = "relu"
    seed: int = 0


def erf_apply(params, x):
    """``f(x) = (1/sqrt m) sum_s a_s erf(w_s . x)``: `(n, d) -> (n,)`."""
    return jax.scipy.special.erf(x @ params.W.T) @ params.a / jnp.sqrt(params.W.shape[0])


@functools.partial(jax.jit, static_argnames="forward")
def beside(forward, params, x, t_below, t_past):
    """``sign(f) f(x + t u)`` `(n,)` at ``t_below`` and ``t_past``, from the forward pass and its
    autodiff gradient alone: positive, then not positive, across a sign change."""
    f, vjp = jax.vjp(lambda y: forward(params, y), x)
    grad = vjp(jnp.ones_like(f))[0]
    u = -jnp.sign(f)[:, None] * grad / jnp.linalg.norm(grad, axis=1, keepdims=True)
    return [jnp.sign(f) * forward(params, x + t[:, None] * u) for t in (t_below, t_past)]


def network(point: Point, key) -> dict:
    """One network's counts and sums (see :func:`attack_point`)."""
    key_w, key_x = jax.random.split(key)
    params = na.init_two_layer(key_w, point.d, point.m, signs=point.signs)
    x = jax.random.normal(key_x, (point.points, point.d), jnp.float32).astype(params.W.dtype)
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    relu = point.activation == "relu"
    forward = na.apply if relu else erf_apply
    result = (na.min_flip(params, x) if relu else
              na.min_flip(params, x, method="bisection", apply_fn=erf_apply, rtol=RTOL))
    status, eta = np.asarray(result.status), np.asarray(result.eta)
    flipped = status == na.FlipStatus.FLIPPED
    eta = np.where(flipped, eta, 0.0)
    step = STEP * np.maximum(eta, 1 / np.sqrt(point.d))
    t_below, t_past = (eta - step, eta + step) if relu else (eta * (1 - 2 * RTOL), eta)
    below, past = (np.asarray(v) for v in beside(forward, params, x, t_below, t_past))
    z, a = np.asarray(x @ params.W.T), np.broadcast_to(np.asarray(params.a), (point.points, point.m))
    T, T1 = (np.sqrt(point.d) * v for v in (eta, np.asarray(result.first_order)))
    law_T, law_T1 = limit_law.law(z, a, point.activation)
    active = (z > 0) | (not relu)
    opposing = limit_law.opposing(z, a)
    gradient, opposed = active.any(axis=1), (active & opposing).any(axis=1) | (not relu)
    strict, used = flipped & (past < 0), flipped & opposed
    lag = np.where(gradient & ~opposed, law_T / (np.pi * np.sqrt(point.d)), 0.0)
    zero_gradient = status == na.FlipStatus.ZERO_GRADIENT
    return {"points": point.points, "plus": np.sum(params.a > 0), "gradient": gradient,
            "zero_gradient": zero_gradient, "status_mismatch": zero_gradient != ~gradient,
            "flipped": flipped, "strict": strict, "reach_zero": flipped & (past == 0),
            "opposed_not_strict": opposed & ~strict, "used": used,
            "not_a_change": flipped & ((below <= 0) | (past > 0)),
            "lag_strict": lag * np.sum(~active & opposing, axis=1), "lag_zero": lag * np.sum(~active, axis=1),
            "ratio": np.where(used, T / np.where(used, T1, 1.0), 0.0), "T": np.where(used, T, 0.0),
            "ratio_law": np.where(used, law_T / np.where(used, law_T1, 1.0), 0.0),
            "T_law": np.where(used, law_T, 0.0)}


def attack_point(point: Point) -> dict:
    """Sums over each network's points, `(networks,)`: counts ``gradient`` (``k > 0``), ``zero_gradient``
    (status ``ZERO_GRADIENT``), ``status_mismatch`` (that status iff ``k = 0``, violated), ``strict`` /
    ``reach_zero`` (flipped, ``sign(f) f`` just past ``eta*`` < 0 / = 0), ``opposed_not_strict`` (``A-``
    nonempty, no strict flip), ``not_a_change`` (flipped, no sign change at ``eta*``), ``used`` (flipped,
    ``A-`` nonempty; erf: flipped); over ``used``, ``ratio`` (``T / T1``), ``T`` and the law's ``ratio_law``,
    ``T_law`` at the same ``z``; over ``A-``-empty points with ``k > 0``, ``T_law / (pi sqrt(d))`` times the
    inactive neurons of sign ``-sigma`` (``lag_strict``), then all inactive ones (``lag_zero``): P2's
    first-order finite-d terms (docs/THEORY.md 10); ``plus``, the network's ``+1`` signs; ``points``."""
    rows = [network(point, key) for key in jax.random.split(jax.random.PRNGKey(point.seed), point.networks)]
    return {name: np.array([np.sum(row[name]) for row in rows]) for name in rows[0]}
