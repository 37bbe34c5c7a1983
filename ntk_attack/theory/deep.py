"""Closed-form predictions for deep bias-free networks (THEORY.md 9).

The network of :mod:`ntk_attack.deep`: bias-free, hidden ``Dense(n_l, W_std=sqrt 2)`` + ``phi``,
readout ``Dense(1, W_std=1)``, NTK parameterisation. Pure functions of the architecture and the
inputs; nothing here is fitted to measurements. Derivations and references: THEORY.md 9.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

# ==========================================================================================
# Deep networks (THEORY.md 9)
#
# Network of ntk_attack.deep: bias-free, hidden Dense(n_l, W_std=sqrt 2) + phi, readout
# Dense(1, W_std=1), NTK parameterisation. Derivations and references: THEORY.md 9.
# ==========================================================================================

DEEP_ACTIVATIONS = ("relu", "erf")  # closed-form dual activations implemented here
FIRST_ORDER_ATTACK_MEAN = math.sqrt(2 / math.pi)  # E|N(0, 1)| (THEORY.md 2, 9)
HANIN_NICA_CONSTANT = 5.0  # E[Theta^2] / E[Theta]^2 ~ exp(5 beta) (Hanin & Nica 2020, Thm 1)


@jax.custom_jvp
def _relu_dual(c):
    """He-ReLU dual map ``kappa(rho) = (sin theta + (pi - theta) rho) / pi`` (``kappa(1) = 1``)."""
    c = jnp.clip(c, -1, 1)
    return (jnp.sqrt(1 - c * c) + c * (jnp.pi - jnp.arccos(c))) / jnp.pi


@_relu_dual.defjvp
def _relu_dual_jvp(primals, tangents):
    (c,), (dc,) = primals, tangents
    return _relu_dual(c), _relu_dual_prime(c) * dc  # kappa' = (pi - theta)/pi, no cancellation


@jax.custom_jvp
def _relu_dual_prime(c):
    """``kappa'(rho) = (pi - theta) / pi`` = ``2 E relu'(u) relu'(v)``."""
    return (jnp.pi - jnp.arccos(jnp.clip(c, -1, 1))) / jnp.pi


@_relu_dual_prime.defjvp
def _relu_dual_prime_jvp(primals, tangents):
    # kappa'' = 1 / (pi sqrt(1 - c^2)) inside; at |c| = 1 it multiplies a tangent that vanishes
    # there (d rho = 0 at x' = x), so it is taken as 0 instead of inf (no 0 * inf = NaN).
    (c,), (dc,) = primals, tangents
    inside = jnp.abs(c) < 1
    slope = jnp.where(inside, 1 / (jnp.pi * jnp.sqrt(jnp.where(inside, 1 - c * c, 1))), 0)
    return _relu_dual_prime(c), slope * dc


def _layer(q1, q2, k, activation):
    """One hidden layer ``Dense(W_std=sqrt 2) -> phi`` on pre-activation covariances.

    Args:
        q1, q2, k: ``E h(x)^2``, ``E h(x')^2``, ``E h(x) h(x')`` of the Gaussian pre-activations.

    Returns:
        ``(E phi(h)^2, E phi(h')^2, E phi(h) phi(h'), E phi'(h) phi'(h'))``.
    """
    if activation == "relu":
        s = jnp.sqrt(q1 * q2)
        c = k / jnp.where(s > 0, s, 1.0)
        return q1 / 2, q2 / 2, s * _relu_dual(c) / 2, _relu_dual_prime(c) / 2
    # erf: E erf(u) erf(v) = (2/pi) arcsin(2k / sqrt((1 + 2 q1)(1 + 2 q2))) (Williams 1997),
    # E erf'(u) erf'(v) = (4/pi) / sqrt((1 + 2 q1)(1 + 2 q2) - 4 k^2).
    def both(a, b, c):
        return 2 / jnp.pi * jnp.arcsin(2 * c / jnp.sqrt((1 + 2 * a) * (1 + 2 * b)))
    det = (1 + 2 * q1) * (1 + 2 * q2) - 4 * k * k
    return both(q1, q1, q1), both(q2, q2, q2), both(q1, q2, k), 4 / jnp.pi / jnp.sqrt(det)


def deep_kernel(x1, x2, *, depth: int, activation: str = "relu"):
    """Infinite-width NNGP ``K(x, x')`` and NTK ``Theta(x, x')`` of one pair, by the dual recursion.

    With ``q_1 = 2 x.x' / d`` and, per hidden layer, ``K_{l+1} = 2 E phi(h) phi(h')``,
    ``Theta_{l+1} = K_{l+1} + 2 Theta_l E phi'(h) phi'(h')``; the readout (``W_std = 1``)
    gives ``K = E phi(h_L) phi(h'_L)`` and ``Theta = K + Theta_L E phi'phi'``. For relu each
    layer maps the correlation by ``kappa(rho) = (sin theta + (pi - theta) rho) / pi`` and
    ``K(x, x') = ||x|| ||x'|| kappa^{(L)}(rho) / d`` (Cho & Saul 2009; Jacot et al. 2018;
    Arora et al. 2019). Differentiable in both points (``jax.grad``), also at ``x' = x``.

    Args:
        x1, x2: `(d,)` each.
        depth: number of hidden layers ``L >= 1``.
        activation: ``"relu"`` or ``"erf"``.

    Returns:
        ``(K, Theta)``, scalars.
    """
    d = x1.shape[-1]
    q1, q2, k = 2 * x1 @ x1 / d, 2 * x2 @ x2 / d, 2 * x1 @ x2 / d
    theta = k
    for l in range(depth):
        e1, e2, e12, edot = _layer(q1, q2, k, activation)
        w2 = 1.0 if l == depth - 1 else 2.0  # the next Dense: hidden sqrt(2)^2, readout 1
        q1, q2, k, theta = w2 * e1, w2 * e2, w2 * e12, w2 * (e12 + theta * edot)
    return k, theta


def expected_grad_norm_sq(x, *, depth: int, activation: str = "relu"):
    """``E ||grad_x f(x)||^2 = sum_i d^2 K / dx_i dx'_i`` at ``x' = x`` (THEORY.md 9), by autodiff.

    Exact at every width for relu, where it equals ``d K(x/||x||, x/||x||) = 1`` for every
    ``x != 0`` (``grad f`` is scale-invariant; ``kappa(1) = kappa'(1) = 1``: radial part
    ``K`` plus ``d - 1`` tangential directions of ``K kappa'(1)`` each); for erf the infinite-width kernel gives the ``n -> inf``
    limit (finite-width covariances differ from it by ``O(1/n)``) and it differs from ``d K``.

    Args:
        x: `(d,)`.

    Returns:
        scalar.
    """
    def k(a, b):
        return deep_kernel(a, b, depth=depth, activation=activation)[0]
    mixed = jax.jacfwd(jax.grad(k, argnums=0), argnums=1)(x, x)
    return jnp.trace(mixed)


# ---------------------------------------------------------------- finite width, relu only

def _chi2_moments(n: int, *, minus_one: bool):
    """``E`` over ``s ~ Bin(n, 1/2)`` of ``Y ~ chi2_s`` and ``X ~ chi2_{max(s-1, 0)}`` moments.

    Returns:
        dict of ``E X, E Y, E X^2, E Y^2, E X Y`` (``X`` and ``Y`` independent given ``s``).
    """
    s = np.arange(n + 1, dtype=float)
    p = stats.binom.pmf(s, n, 0.5)
    m = np.maximum(s - 1, 0) if minus_one else s
    return {"X": p @ m, "Y": p @ s, "XX": p @ (m * m + 2 * m), "YY": p @ (s * s + 2 * s),
            "XY": p @ (m * s)}


def relu_finite_width_moments(d: int, widths):
    """Exact means and relative variances of ``||grad_x f||^2`` and ``Theta_hat(x, x)``, unit ``x``.

    Bias-free He-ReLU net at finite widths (THEORY.md 9.4). Splitting
    each ``W_l`` along ``z_{l-1}`` and its complement gives, exactly,
    ``b_{l-1} = F_{l-1} + (2 / n_{l-1}) b_l X_{l-1}`` with ``b_l = ||delta_l||^2``,
    ``F_l = f^2 / ||z_l||^2 = F_{l+1} (2/n_l) Y_{l+1}``, ``X_l ~ chi2_{s_l - 1}``,
    ``Y_l ~ chi2_{s_l}`` independent given the number ``s_l ~ Bin(n_l, 1/2)`` of active units,
    and ``||grad_x f||^2 = f^2 + (2/d) b_1 chi2_{d-1}``, ``Theta = sum_l (sigma_l^2 / n_{l-1})
    ||z_{l-1}||^2 b_l``. The second moments follow a linear recursion over layers.

    Args:
        d: input dimension.
        widths: hidden widths ``(n_1, ..., n_L)``.

    Returns:
        dict: ``grad_mean`` (= 1), ``grad_relvar``, ``ntk_mean`` (= ``(L + 1) / d``),
        ``ntk_relvar``, ``nngp`` (= ``E f^2 = 1 / d``).
    """
    widths = [int(n) for n in widths]
    L = len(widths)
    fan_in = [d] + widths
    c = [2.0 / fan_in[k] for k in range(L)] + [1.0 / widths[-1]]  # c_k = sigma^2 / n_k
    # State v = (F_k, b_{k+1}, S_k) with S_k = sum_{l > k} T_l / ||z_k||^2; start at k = L.
    cL = c[L]
    mean = np.array([cL, 1.0, cL])
    second = np.array([[3 * cL * cL, cL, cL * cL], [cL, 1.0, cL], [cL * cL, cL, cL * cL]])
    for k in range(L, 0, -1):  # produce (F_{k-1}, b_k, S_{k-1}) from layer k's s_k ~ Bin(n_k, 1/2)
        e = _chi2_moments(widths[k - 1], minus_one=True)
        cp, ck = c[k - 1], c[k]
        M0 = np.array([[0, 0, 0], [1, 0, 0], [cp, 0, 0]], float)
        Mx = np.array([[0, 0, 0], [0, ck, 0], [0, cp * ck, 0]], float)
        My = np.array([[cp, 0, 0], [0, 0, 0], [0, 0, cp]], float)
        mean = (M0 + e["X"] * Mx + e["Y"] * My) @ mean
        second = (M0 @ second @ M0.T + e["XX"] * Mx @ second @ Mx.T + e["YY"] * My @ second @ My.T
                  + e["X"] * (Mx @ second @ M0.T + M0 @ second @ Mx.T)
                  + e["Y"] * (My @ second @ M0.T + M0 @ second @ My.T)
                  + e["XY"] * (Mx @ second @ My.T + My @ second @ Mx.T))
    # ||grad||^2 = F_0 + c_0 b_1 X_0 with X_0 ~ chi2_{d-1}; Theta = S_0.
    x1, x2 = d - 1.0, (d - 1.0) ** 2 + 2 * (d - 1.0)
    grad_mean = mean[0] + c[0] * x1 * mean[1]
    grad_second = second[0, 0] + 2 * c[0] * x1 * second[0, 1] + c[0] ** 2 * x2 * second[1, 1]
    return {"grad_mean": grad_mean, "grad_relvar": grad_second / grad_mean ** 2 - 1,
            "ntk_mean": mean[2], "ntk_relvar": second[2, 2] / mean[2] ** 2 - 1, "nngp": mean[0]}


def beta(widths) -> float:
    """``beta = sum_l 1 / n_l`` over hidden widths (Hanin 2018)."""
    return float(sum(1.0 / n for n in widths))


def grad_relvar_beta_law(d: int, widths) -> float:
    """``Var ||grad f||^2 / E^2 ~= (1 + 2/d) exp(5 beta) - 1`` (Hanin 2018; first order in 1/n).

    ``5 = E[(2 relu'(g) g'^2)^2] - 1`` per layer (each layer multiplies ``||delta||^2`` by a
    mean-one factor of variance ``5 / n_l``), ``2/d`` from the ``chi2_d / d`` of the input layer.
    """
    return (1 + 2 / d) * math.exp(5 * beta(widths)) - 1


def ntk_relvar_first_order(widths) -> float:
    """First order in ``1/n`` of ``Var Theta_hat(x, x) / Theta(x, x)^2`` for the He-ReLU net.

    ``Theta_hat = sum_{l=1}^{L+1} T_l`` with ``L + 1`` equal means; layer ``k`` enters ``T_l`` by
    its forward factor (``l > k``, ``L + 1 - k`` terms) or its backward factor (``l <= k``,
    ``k`` terms), each of variance ``5 / n_k``, covariance ``1 / n_k`` (they share the number
    of active units):
    ``sum_k [5 ((L + 1 - k)^2 + k^2) + 2 k (L + 1 - k)] / (n_k (L + 1)^2)``; for equal widths
    ``beta (11 L + 7) / (3 (L + 1))``: ``3 beta`` at ``L = 1``, ``-> 11 beta / 3`` deep, below
    Hanin & Nica's ``exp(5 beta) - 1``, which is its leading order only for ``L >> 1`` with
    the ``1/n`` terms dropped (THEORY.md 9.5).
    """
    L = len(widths)
    return float(sum((5 * ((L + 1 - k) ** 2 + k ** 2) + 2 * k * (L + 1 - k)) / n
                     for k, n in enumerate(widths, 1)) / (L + 1) ** 2)


def ntk_relative_error(widths) -> float:
    """Predicted ``sd(Theta_hat(x, x)) / Theta(x, x)`` (exact, He-ReLU): ``~ sqrt(beta)``.

    Slope ``-1/2`` against width at fixed depth; ``~ sqrt(L)`` against depth at fixed width.
    """
    # The relative variance of Theta_hat(x, x) does not depend on d (every term carries 2/d).
    return float(math.sqrt(relu_finite_width_moments(2, widths)["ntk_relvar"]))


def first_order_attack_quantile(p):
    """Quantile of ``sqrt(d) |f| / ||grad f||`` at infinite width: ``|N(0, 1)|`` (THEORY.md 9)."""
    return stats.halfnorm.ppf(p)


def deep_ntk_diag_mean(d: int, depth: int) -> float:
    """``E Theta_hat(x, x) = (L + 1) / d`` for unit ``x``, exact at every width (He-ReLU):
    each of the ``L + 1`` layers contributes ``K(x, x) = 1 / d`` (THEORY.md 9)."""
    return (depth + 1) / d


def deep_first_order_attack_mean() -> float:
    """``E sqrt(d) |f| / ||grad_x f|| -> sqrt(2/pi)`` at infinite width, at every depth: ``f``
    is ``N(0, K(x, x))`` and ``||grad_x f||^2 -> d K(x, x)`` (THEORY.md 9)."""
    return FIRST_ORDER_ATTACK_MEAN


def equal_beta_relvar_ratio(d: int, widths_a, widths_b) -> float:
    """Ratio of the exact relative variances of ``||grad_x f||^2`` of two architectures
    (:func:`relu_finite_width_moments`); ``~ 1`` when ``beta`` is equal (THEORY.md 9)."""
    return float(relu_finite_width_moments(d, widths_a)["grad_relvar"]
                 / relu_finite_width_moments(d, widths_b)["grad_relvar"])
