"""Point functions of the narrow-width claims: networks at init attacked one at a time (a
network and its points are one bootstrap unit), summarised per network; and the limit laws.

Notation (docs/THEORY.md 10): ``z = W x``, ``A`` the active neurons, ``k = |A|``,
``sigma = sign f(x)``, ``A-`` the active neurons with ``a_s = -sigma``, ``T = eta* sqrt(d)``,
``T1 = sqrt(d) |f| / ||grad f||``. ``eta*`` is :func:`ntk_attack.min_flip`; ``A-`` and ``k`` are
read from ``z`` directly, never from the attack.
"""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

import ntk_attack as na
from narrow_width import limit_law

CACHE_VERSION = 1
EXACT_STEP = 1e-9  # relative step either side of the exact eta* at which sign f is evaluated
BISECTION_RTOL = 1e-7  # bisection's bracket: the sign changes within 2 rtol below its eta


@dataclasses.dataclass(frozen=True, kw_only=True)
class Point:
    """``networks`` networks at init (``activation`` ``"relu"``: :func:`ntk_attack.apply`,
    ``"erf"``: :func:`erf_apply`), each attacked at its own ``points`` unit inputs."""
    d: int
    m: int
    networks: int
    points: int = 250
    signs: str = "balanced"
    activation: str = "relu"
    seed: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Law:
    """``samples`` draws of the limit law at width ``m`` (``activation``, ``signs`` as in :class:`Point`)."""
    m: int
    samples: int
    activation: str = "relu"
    signs: str = "balanced"
    seed: int = 0


def erf_apply(params, x):
    """``f(x) = (1/sqrt m) sum_s a_s erf(w_s . x)``: `(n, d) -> (n,)`."""
    return jax.scipy.special.erf(x @ params.W.T) @ params.a / jnp.sqrt(params.W.shape[0])


@functools.partial(jax.jit, static_argnames=("d", "m", "signs", "points"))
def _draw(key, *, d: int, m: int, signs: str, points: int):
    key_w, key_x = jax.random.split(key)
    x = jax.random.normal(key_x, (points, d), jnp.float32).astype(jnp.result_type(float))
    return na.init_two_layer(key_w, d, m, signs=signs), x / jnp.linalg.norm(x, axis=-1, keepdims=True)


@functools.partial(jax.jit, static_argnames=("forward", "before", "after"))
def _beside(forward, params, x, eta, *, before: float, after: float):
    """``sign(f) f(x + t u)`` at ``t = eta (1 - before)`` and ``t = eta (1 + after)``, from the
    forward pass and its autodiff gradient alone: positive, then not positive, at a flip."""
    f, vjp = jax.vjp(lambda y: forward(params, y), x)
    grad = vjp(jnp.ones_like(f))[0]
    u = -jnp.sign(f)[:, None] * grad / jnp.linalg.norm(grad, axis=-1, keepdims=True)
    return [jnp.sign(f) * forward(params, x + (eta * scale)[:, None] * u)
            for scale in (1 - before, 1 + after)]


def _summary(params, x, result, forward, *, before: float, after: float) -> dict:
    """Counts and sums of one network's points (see :func:`attack_point`)."""
    d = x.shape[1]
    status = np.asarray(result.status)
    flipped = status == na.FlipStatus.FLIPPED
    eta = np.where(flipped, np.asarray(result.eta), 0.0)
    below, at = (np.asarray(v) for v in _beside(forward, params, x, eta, before=before, after=after))
    z, a = np.asarray(x @ params.W.T), np.asarray(params.a)
    active = z > 0
    sigma = np.sign(np.sum(a * np.maximum(z, 0), axis=1))[:, None]
    opposed = (active & (a == -sigma)).any(axis=1)
    gradient = active.any(axis=1) if forward is na.apply else np.ones(len(z), bool)
    strict = flipped & (at < 0)
    T, T1 = np.sqrt(d) * eta, np.sqrt(d) * np.asarray(result.first_order)
    use = flipped & (opposed if forward is na.apply else True)
    # The limit law at the same z and signs (common random numbers): the prediction per point.
    law = limit_law.relu_law(z, a) if forward is na.apply else limit_law.erf_law(z, a)
    counts = {"points": len(z), "plus": a > 0, "no_active": ~gradient,
              "zero_gradient_status": status == na.FlipStatus.ZERO_GRADIENT,
              "status_mismatch": ~gradient != (status == na.FlipStatus.ZERO_GRADIENT),
              "gradient": gradient, "opposed_empty": gradient & ~opposed, "flipped": flipped,
              "strict": strict, "reach_zero": flipped & (at == 0),
              "no_flip": status == na.FlipStatus.NO_FLIP,
              "not_a_change": flipped & ((below <= 0) | (at > 0)),
              "opposed_not_strict": opposed & ~strict, "used": use}
    return {**{name: np.sum(v) for name, v in counts.items()},
            "sum_ratio": np.sum(np.where(use, T / np.where(use, T1, 1.0), 0.0)),
            "sum_T": np.sum(np.where(use, T, 0.0)),
            "sum_ratio_law": np.sum(np.where(use, law["T"] / np.where(use, law["T1"], 1.0), 0.0)),
            "sum_T_law": np.sum(np.where(use, law["T"], 0.0))}


def attack_point(point: Point) -> dict:
    """Per network `(networks,)`: ``plus``, its number of ``+1`` signs; point counts (``no_active``: ``k = 0``; ``gradient``: ``k > 0``;
    ``opposed_empty``: ``k > 0`` and ``A-`` empty; ``strict`` / ``reach_zero``: flipped and
    ``sign(f) f`` just past ``eta*`` negative / exactly zero; ``not_a_change``: flipped but the
    sign does not change at ``eta*``; ``used``: flipped points with ``A-`` nonempty (erf: all
    flipped points)); ``sum_ratio``, ``sum_T``: sums of ``T / T1`` and ``T`` over ``used``, and
    ``sum_ratio_law``, ``sum_T_law`` the same sums of the limit law at each point's own ``z``."""
    keys = jax.random.split(jax.random.PRNGKey(point.seed), point.networks)
    rows = []
    for key in keys:
        params, x = _draw(key, d=point.d, m=point.m, signs=point.signs, points=point.points)
        if point.activation == "erf":
            result = na.min_flip(params, x, method="bisection", apply_fn=erf_apply,
                                 rtol=BISECTION_RTOL)
            # bisection returns the flipped end of a bracket of relative width rtol
            rows.append(_summary(params, x, result, erf_apply, before=2 * BISECTION_RTOL, after=0.0))
        else:  # the exact eta* is the zero itself: f is evaluated either side of it
            rows.append(_summary(params, x, na.min_flip(params, x), na.apply,
                                 before=EXACT_STEP, after=EXACT_STEP))
    return {name: np.array([row[name] for row in rows]) for name in rows[0]}


def law_point(law: Law) -> dict:
    """Moments of the limit law at width ``m``, each ``[mean, standard error]``: ``R`` and ``T``
    given ``A-`` nonempty (every draw for erf); ReLU also ``lag_strict`` and ``lag_zero``, the
    means over draws with a gradient of ``1(A- empty) n T / pi`` with ``n`` the inactive neurons of
    sign ``-sigma``, then all inactive neurons: ``/ sqrt(d)``, the first-order fractions of
    ``A-``-empty points where a neuron switching on before ``T`` makes a strict flip, or stops
    ``f`` from reaching 0 (each of ``n`` inactive neurons does so with probability
    ``2 phi(0)^2 T / sqrt(d) = T / (pi sqrt(d))``, docs/THEORY.md 10)."""
    rng = np.random.default_rng(law.seed)
    z, a = limit_law.draw(law.m, law.samples, signs=law.signs, rng=rng)
    if law.activation == "erf":
        sample = limit_law.erf_law(z, a)
        moments = {"R": sample["T"] / sample["T1"], "T": sample["T"]}
    else:
        sample = limit_law.relu_law(z, a)
        use, gradient = sample["opposed"] > 0, sample["k"] > 0
        empty_T = np.where(sample["opposed"] == 0, sample["T"], 0.0)[gradient] / np.pi
        moments = {"R": sample["T"][use] / sample["T1"][use], "T": sample["T"][use],
                   "lag_strict": sample["idle_opposing"][gradient] * empty_T,
                   "lag_zero": (law.m - sample["k"][gradient]) * empty_T}
    return {name: np.array([np.mean(v), np.std(v, ddof=1) / np.sqrt(v.size)]) for name, v in moments.items()}
