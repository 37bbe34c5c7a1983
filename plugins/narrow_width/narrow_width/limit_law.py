"""The fixed-width limit law of the single-step attack (docs/THEORY.md 10), in numpy from
``z = W x`` and the signs ``a`` alone: no network, no input, nothing from ``ntk_attack``.

With ``phi`` the activation, ``sigma = sign sum_s a_s phi(z_s)`` and ``S2 = sum_s phi'(z_s)^2``,
``T`` is the first root of the decreasing
``h(T) = sum_s sigma a_s phi(z_s - sigma a_s phi'(z_s) T / sqrt(S2))`` and
``T1 = |sum_s a_s phi(z_s)| / sqrt(S2)``. For ReLU this is ``T = sqrt(k) tau*``: active
neurons move at ``1 / sqrt(k)``, inactive ones stay off.
"""
import math

import numpy as np
from scipy import special

ACTIVATIONS = {"relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
               "erf": (special.erf, lambda z: 2 / math.sqrt(math.pi) * np.exp(-z * z))}
BISECTIONS = 64  # halvings of the bracket: below float64 resolution


def no_strict_flip(m: int, plus):
    """P2: ``P(A- empty | k > 0)`` for a network with ``plus`` of its ``m`` signs ``+1``."""
    minus = m - np.asarray(plus, float)
    return (2.0 ** -minus * (1 - 2.0 ** -plus) + 2.0 ** -plus * (1 - 2.0 ** -minus)) / (1 - 2.0 ** -m)


def opposing(z, a):
    """`(n, m)`: ``a_s = -sigma`` for the ReLU network, ``sigma = sign sum_s a_s relu(z_s)``
    (``A-`` is the active part)."""
    return a == -np.sign(np.sum(a * np.maximum(z, 0.0), axis=1, keepdims=True))


def draw(m: int, n: int, *, signs: str, rng):
    """``z`` `(n, m)` i.i.d. N(0, 1) and signs `(n, m)`: ``"balanced"`` or i.i.d. ``"random"``."""
    a = np.repeat([1.0, -1.0], m // 2) if signs == "balanced" else rng.choice([1.0, -1.0], (n, m))
    return rng.standard_normal((n, m)), np.broadcast_to(a, (n, m))


def law(z, a, activation: str) -> tuple:
    """``(T, T1)``, each `(n,)`, for ``z`` and ``a`` `(n, m)`; ~0 and ``nan`` where ``S2 = 0``."""
    phi, slope = ACTIVATIONS[activation]
    s2 = np.sum(slope(z) ** 2, axis=1)
    push = np.sign(np.sum(a * phi(z), axis=1))[:, None] * a
    speed = push * slope(z) / np.sqrt(np.where(s2 > 0, s2, 1.0))[:, None]
    h = lambda T: np.sum(push * phi(z - speed * T[:, None]), axis=1)  # noqa: E731
    with np.errstate(invalid="ignore", divide="ignore"):
        T1 = np.abs(np.sum(a * phi(z), axis=1)) / np.sqrt(s2)
    lo, hi = np.zeros(len(z)), np.nan_to_num(T1) + 1.0
    while (short := h(hi) > 0).any():
        hi = np.where(short, 2 * hi, hi)
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        lo, hi = np.where(above := h(mid) > 0, mid, lo), np.where(above, hi, mid)
    return hi, T1
