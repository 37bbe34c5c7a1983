"""The fixed-width limit law of the single-step attack (docs/THEORY.md 10), sampled in numpy
from ``z ~ N(0, I_m)`` and the signs alone: no network, no input, nothing from ``ntk_attack``.

ReLU: ``A = {s : z_s > 0}``, ``k = |A|``, ``sigma = sign sum_s a_s relu(z_s)``; ``T = sqrt(k) tau*``
with ``tau*`` the root of ``h(tau) = sum_{A+} (z_s - tau)_+ - sum_{A-} (z_s + tau)`` (``A+-``:
active neurons with ``a_s = +-sigma``), and ``T1 = |sum_A a_s z_s| / sqrt(k)``. erf: ``T`` is the
root of ``sum_s sigma a_s erf(z_s - sigma a_s erf'(z_s) T / sqrt(S2))``, ``S2 = sum_s erf'(z_s)^2``,
and ``T1 = |sum_s a_s erf(z_s)| / sqrt(S2)``.
"""
import math

import numpy as np
from scipy import special

NEWTON_STEPS = 30  # at most: from T1, Newton moves every root by < 1e-9 relative after ~4 steps
NEWTON_RTOL = 1e-9  # the sum in h cancels to ~1e-11 relative: a tighter stop would never fire


def no_gradient(m: int) -> float:
    """P1: ``P(k = 0) = 2^-m``."""
    return 2.0 ** -m


def no_strict_flip(m: int, signs: str = "balanced") -> float:
    """P2: ``P(A- empty | k > 0)``, balanced or i.i.d. random signs (averaged over the signs)."""
    if signs == "balanced":
        return no_strict_flip_given(m, m // 2)
    return 2 * (0.75 ** m - 0.5 ** m) / (1 - 2.0 ** -m)


def no_strict_flip_given(m: int, plus):
    """P2 given a network's signs, ``plus`` of them ``+1``: the active neurons all of one sign."""
    minus = m - np.asarray(plus, float)
    return (2.0 ** -minus * (1 - 2.0 ** -plus) + 2.0 ** -plus * (1 - 2.0 ** -minus)) / (1 - 2.0 ** -m)


def draw(m: int, n: int, *, signs: str, rng):
    """``z`` `(n, m)` and signs `(n, m)`: ``"balanced"`` (``m/2`` of each) or ``"random"``."""
    z = rng.standard_normal((n, m))
    if signs == "balanced":
        return z, np.broadcast_to(np.repeat([1.0, -1.0], m // 2), (n, m))
    return z, rng.choice([1.0, -1.0], size=(n, m))


def relu_law(z, a) -> dict:
    """`(n,)` arrays ``k``, ``opposed`` (``|A-|``), ``idle_opposing`` (inactive neurons with
    ``a_s = -sigma``), ``T`` and ``T1`` (``nan`` where ``k = 0``)."""
    active = z > 0
    sigma = np.sign(np.sum(a * np.maximum(z, 0), axis=1))[:, None]
    pushed, opposed = active & (a == sigma), active & (a == -sigma)
    p, q = pushed.sum(axis=1), opposed.sum(axis=1)
    z_minus = np.sum(np.where(opposed, z, 0.0), axis=1)
    # h decreases, linearly between knots at the A+ values y_1 <= ... <= y_p, where
    # h(y_j) = sum_{i > j} y_i - (p - j + q) y_j - sum_{A-} z. The root lies on the segment
    # ending at the first knot with h <= 0, where the j - 1 smallest A+ neurons are off.
    y = np.sort(np.where(pushed, z, np.inf), axis=1)
    finite = np.isfinite(y)
    y = np.where(finite, y, 0.0)
    above = y.sum(axis=1, keepdims=True) - np.cumsum(y, axis=1)
    j = np.arange(1, z.shape[1] + 1)
    h = above - (p[:, None] - j + q[:, None]) * y - z_minus[:, None]
    first = np.argmax(finite & (h <= 0), axis=1)
    rows = np.arange(len(z))
    k = active.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (above[rows, first] + y[rows, first] - z_minus) / (p - first + q)
        T1 = np.abs(np.sum(np.where(active, a * z, 0.0), axis=1)) / np.sqrt(k)
        return {"k": k, "opposed": q, "idle_opposing": np.sum(~active & (a == -sigma), axis=1),
                "T": np.sqrt(k) * tau, "T1": T1}


def erf_law(z, a) -> dict:
    """`(n,)` arrays ``T`` and ``T1`` of the erf network."""
    slope = 2 / math.sqrt(math.pi) * np.exp(-z * z)
    s2 = np.sum(slope ** 2, axis=1)
    sign = np.sign(np.sum(a * special.erf(z), axis=1))[:, None] * a
    speed = sign * slope / np.sqrt(s2)[:, None]

    def h_and_slope(T):
        shifted = z - speed * T[:, None]
        return (np.sum(sign * special.erf(shifted), axis=1),
                -np.sum(sign * speed * 2 / math.sqrt(math.pi) * np.exp(-shifted ** 2), axis=1))

    T1 = np.abs(np.sum(a * special.erf(z), axis=1)) / np.sqrt(s2)
    # h falls strictly from h(0) > 0 towards -m: Newton from T1, bisecting when it leaves the bracket.
    lo, hi, T = np.zeros(len(z)), np.full(len(z), np.inf), T1
    for _ in range(NEWTON_STEPS):
        h, dh = h_and_slope(T)
        lo, hi = np.where(h > 0, T, lo), np.where(h > 0, hi, T)
        newton = T - h / dh
        previous, T = T, np.where((newton > lo) & (newton < hi), newton,
                                  np.where(np.isfinite(hi), (lo + hi) / 2, 2 * lo + 1))
        if np.all(np.abs(T - previous) <= NEWTON_RTOL * T):
            break
    return {"T": T, "T1": T1}
