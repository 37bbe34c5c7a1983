"""Closed-form predictions of THEORY.md: one named function per formula.

Every prediction a check, a figure, the command line or the tutorial compares a measurement
with comes from here, so a reader finds the formula behind any number in one hop and a
prediction is never a literal in a label. Functions are pure; array functions accept numpy
arrays (computed by numpy) or JAX arrays (computed by ``jax.numpy``, traceable), so host code
and jitted code evaluate the same expression.

Notation: ``g ~ N(0, 1)``, ``theta`` the angle between ``x`` and ``x'``, ``c = cos(theta)``.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate, special, stats

MU = 1 / math.sqrt(2 * math.pi)  # E relu(g) (THEORY.md 2)
VAR_RELU = 0.5 - 1 / (2 * math.pi)  # Var relu(g): Var f at init given the signs' offset (THEORY.md 2)
DRIFT_CONSTANT = (2 / math.pi) ** 0.25  # activation-flip drift prefactor (THEORY.md 4)
# eta* / (|f| / ||grad f||) - 1 at init is about CURVATURE_COEFFICIENT / sqrt(d): a measured
# description (THEORY.md 3, m = 4096, d = 16..4096), not a derived constant.
CURVATURE_COEFFICIENT = 0.25
SIGNS_WITH_LIMITS = ("balanced", "random")


def _xp(x):
    return jnp if isinstance(x, jax.Array) else np


def _check_signs(signs: str, allowed=SIGNS_WITH_LIMITS) -> str:
    if signs not in allowed:
        raise ValueError(f"signs must be one of {', '.join(map(repr, allowed))}; got {signs!r}.")
    return signs


# --- section 2: the network at initialisation -------------------------------------------------

def var_f_init(signs: str = "balanced") -> float:
    """``Var f(x; W0)`` at a unit ``x`` (THEORY.md 2).

    Balanced signs: ``1/2 - 1/(2 pi) ~= 0.3408``; random signs averaged over the signs:
    ``E f^2 = 1/2``.
    """
    return VAR_RELU if _check_signs(signs) == "balanced" else 0.5


def grad_norm_sq_init(d, *, signs: str = "balanced"):
    """``E ||grad_x f(x; W0)||^2`` at a unit ``x`` (THEORY.md 2): ``d/2 - 1/(2 pi)`` (balanced),
    ``d/2`` (random signs averaged over the signs)."""
    return d / 2 - 1 / (2 * math.pi) if _check_signs(signs) == "balanced" else d / 2


def typical_grad_norm(d) -> float:
    """``sqrt(d/2 - 1/(2 pi))``: the typical ``||grad f(x; W0)||``, balanced signs (THEORY.md 2)."""
    return math.sqrt(grad_norm_sq_init(d))


# --- section 3: the single-step attack ---------------------------------------------------------

def first_order(f, grad_norm):
    """First-order attack size ``|f| / ||grad f||``, ``inf`` where ``grad f = 0`` (THEORY.md 3)."""
    xp = _xp(grad_norm)
    safe = xp.where(grad_norm > 0, grad_norm, 1.0)
    return xp.where(grad_norm > 0, xp.abs(f) / safe, xp.inf)


def init_eta_sqrt_d(signs: str = "balanced") -> float:
    """``E[eta* sqrt(d)]`` at init as ``d, m -> inf``: ``sqrt(2) E|f| = sqrt(2) sd(f) sqrt(2/pi)``
    (THEORY.md 3): ``~= 0.659`` (balanced), ``~= 0.798`` (random signs, averaged over them)."""
    return math.sqrt(2) * math.sqrt(var_f_init(signs)) * math.sqrt(2 / math.pi)


INIT_ETA_SQRT_D = {signs: init_eta_sqrt_d(signs) for signs in SIGNS_WITH_LIMITS}


def curvature_excess(d):
    """``eta* / (|f| / ||grad f||) - 1`` at init, ``~= 0.25 / sqrt(d)`` (THEORY.md 3, measured law)."""
    return CURVATURE_COEFFICIENT / np.sqrt(d)


def first_order_finite_d(d, *, n_nodes: int = 64) -> float:
    """``E[sqrt(d) |f| / ||grad f||]`` at init at finite ``d`` (``m -> inf``, balanced signs).

    By homogeneity (THEORY.md 2) the radial part of ``grad_x f`` is ``f`` itself; the tangential
    part ``(1/sqrt m) sum_s a_s 1[z_s > 0] P w_s`` (``P`` the projection off ``x``) is, given
    the pre-activations ``z``, Gaussian with covariance ``(active share) P``, ``P w_s`` being
    independent of ``z_s = w_s . x``. With half the neurons active,
    ``||grad f||^2 = f^2 + Q / 2``, ``Q ~ chi^2_(d-1)`` independent of ``f ~ N(0, 1/2 - 1/(2 pi))``,
    so the mean is ``E[sqrt(d) |f| / sqrt(f^2 + Q/2)]``: ``init_eta_sqrt_d()`` as ``d -> inf``,
    ``+4.1%`` at ``d = 16``, ``+1.4%`` at ``d = 64`` (Jensen on ``1/||grad f||``).
    With ``f = sd(f) r`` and ``u = r^2 / 2``, ``E[|f| h(f^2)] = sd(f) sqrt(2/pi) E_u[h(2 Var f u)]``,
    ``u ~ Exp(1)``: Gauss-Laguerre nodes in ``u``, adaptive quadrature
    (``scipy.integrate.quad_vec``) over the law of ``Q / (d - 1)``.
    """
    u, weights = special.roots_laguerre(n_nodes)
    f_sq = 2 * VAR_RELU * u
    law = stats.gamma(a=(d - 1) / 2, scale=2 / (d - 1))  # Q / (d - 1)

    def integrand(s):
        return law.pdf(s) / np.sqrt(f_sq + (d - 1) * s / 2)

    value, _ = integrate.quad_vec(integrand, law.ppf(1e-13), law.ppf(1 - 1e-13), epsabs=1e-13)
    return float(math.sqrt(d) * math.sqrt(VAR_RELU) * math.sqrt(2 / math.pi) * (weights @ value))


def init_eta_sqrt_d_finite(d) -> float:
    """``E[eta* sqrt(d)]`` at init at finite ``d`` (balanced signs, large ``m``):
    :func:`first_order_finite_d` times the curvature factor ``1 + curvature_excess(d)``
    (THEORY.md 3). The product neglects the positive correlation of the curvature factor with
    ``|f|`` (a fraction of the excess itself, about 1% at ``d = 16``)."""
    return first_order_finite_d(d) * (1 + float(curvature_excess(d)))


def init_eta_d_slope(ds) -> float:
    """Least-squares log-log slope of ``init_eta_sqrt_d_finite(d) / sqrt(d)`` over ``ds``: the
    finite-``d`` slope of ``eta*`` at init (``-1/2`` plus the decay of the finite-``d`` terms,
    THEORY.md 3); ``-0.528`` over ``d = 16, 64, 256``."""
    log_d = np.log(np.asarray(ds, dtype=float))
    log_eta = np.log([init_eta_sqrt_d_finite(int(d)) for d in ds]) - log_d / 2
    return float(stats.linregress(log_d, log_eta).slope)


def half_normal_pdf(t, scale):
    """Density of ``scale |N(0, 1)|`` at ``t >= 0``: ``2 / (scale sqrt(2 pi)) exp(-t^2 / 2 scale^2)``
    (the law of ``eta* sqrt(d) = sqrt(2) |f|`` at init, THEORY.md 3, with ``scale = sqrt(2) sd(f)``)."""
    t = np.asarray(t, dtype=float)
    return np.where(t >= 0, 2 / (scale * math.sqrt(2 * math.pi)) * np.exp(-t ** 2 / (2 * scale ** 2)), 0.0)


def folded_normal_mean(c, s):
    """``E|N(c, s^2)| = s sqrt(2/pi) exp(-c^2 / 2 s^2) + c (1 - 2 Phi(-c/s))``."""
    return s * math.sqrt(2 / math.pi) * np.exp(-c ** 2 / (2 * s ** 2)) + c * (1 - 2 * stats.norm.cdf(-c / s))


def conditional_first_order(sum_a, d: int, m: int):
    """Mean of ``sqrt(d) |f| / ||grad f||`` at init given a network's signs (THEORY.md 1-3).

    Given ``a``, ``f(x) ~ N(c, 1/2 - 1/(2 pi))`` with offset ``c = mu sum_s a_s / sqrt(m)`` and
    ``||grad f||^2 ~ d/2 + ((sum a)^2 / m - 1) / (2 pi)``, so the mean is
    ``sqrt(d) E|N(c, sigma^2)| / sqrt(d/2 + ((sum a)^2/m - 1)/(2 pi))``.

    Args:
        sum_a: `(n,)` ``sum_s a_s`` per network.
    """
    sum_a = np.asarray(sum_a, dtype=float)
    folded = folded_normal_mean(MU * sum_a / math.sqrt(m), math.sqrt(VAR_RELU))
    return math.sqrt(d) * folded / np.sqrt(d / 2 + (sum_a ** 2 / m - 1) / (2 * math.pi))


def averaged_random_first_order(n_nodes: int = 64) -> float:
    """``E_c sqrt(2) E|N(c, sigma^2)|`` over the random-signs offset ``c ~ N(0, 1/(2 pi))`` by
    Gauss-Hermite quadrature: equals ``init_eta_sqrt_d("random")`` (THEORY.md 3)."""
    nodes, weights = special.roots_hermitenorm(n_nodes)
    folded = folded_normal_mean(MU * nodes, math.sqrt(VAR_RELU))
    return float(math.sqrt(2) * np.sum(weights * folded) / np.sum(weights))


# --- section 4: the lazy regime ------------------------------------------------------------------

def activation_flip_drift(*, C0: float, d: int, m: int, constant: float = DRIFT_CONSTANT) -> float:
    """Typical norm of the activation-flip part of the gradient drift (THEORY.md 4):
    ``constant sqrt(C0 d) m^(-1/4)``, ``constant = (2/pi)^(1/4)``."""
    return constant * math.sqrt(C0 * d) * m ** -0.25


def envelope_denominator(grad0_norm, *, C0: float, d: int, m: int, c_sys: float = 2.0,
                         drift_constant: float = DRIFT_CONSTANT):
    """``||grad f(x; W0)|| - c_sys C0 - (2/pi)^(1/4) sqrt(C0 d) m^(-1/4)``: a lower bound on the
    trained gradient norm (THEORY.md 4)."""
    return grad0_norm - c_sys * C0 - activation_flip_drift(C0=C0, d=d, m=m, constant=drift_constant)


def lazy_envelope(f0_init, grad0_norm, *, C0: float, d: int, m: int, kappa_d: float,
                  c_sys: float = 2.0, drift_constant: float = DRIFT_CONSTANT):
    """``B(x) = kappa_d (|f(x; W0)| + C0) / envelope_denominator``, ``inf`` where the denominator
    is ``<= 0`` (THEORY.md 4). ``grad0_norm`` as a JAX array gives a JAX result."""
    xp = _xp(grad0_norm)
    denominator = envelope_denominator(grad0_norm, C0=C0, d=d, m=m, c_sys=c_sys,
                                       drift_constant=drift_constant)
    safe = xp.where(denominator > 0, denominator, 1.0)
    return xp.where(denominator > 0, kappa_d * (xp.abs(f0_init) + C0) / safe, xp.inf)


LAZY_MIN_D = 64  # the envelope's conditions (THEORY.md 4): d >= 64,
LAZY_MAX_C0_RATIO = 0.25  # C0 <= sqrt(d) / 4,
LAZY_WIDTH_FACTOR = 16.0  # m >= 16 C0^2


def lazy_grid(*, d: int, m: int, C0: float, min_d: int = LAZY_MIN_D,
              max_C0_ratio: float = LAZY_MAX_C0_RATIO, width_factor: float = LAZY_WIDTH_FACTOR) -> bool:
    """The envelope's conditions on the grid point (THEORY.md 4): ``d >= 64``,
    ``C0 <= sqrt(d)/4`` and ``m >= 16 C0^2`` (the constants are the keyword arguments)."""
    return bool(d >= min_d and C0 <= max_C0_ratio * math.sqrt(d) and m >= width_factor * C0 ** 2)


def denominator_condition(grad0_norm, *, C0: float, d: int, m: int, c_sys: float = 2.0,
                          drift_constant: float = DRIFT_CONSTANT):
    """The envelope's condition on a point (THEORY.md 4): its denominator
    (:func:`envelope_denominator`) is at least half the gradient norm, ``>= ||grad f(x; W0)|| / 2``."""
    return envelope_denominator(grad0_norm, C0=C0, d=d, m=m, c_sys=c_sys,
                                drift_constant=drift_constant) >= grad0_norm / 2


def lazy_conditions(*, d: int, m: int, C0: float, c_sys: float = 2.0) -> bool:
    """Whether ``(d, m, C0)`` satisfies the envelope's conditions (THEORY.md 4): :func:`lazy_grid`
    and :func:`denominator_condition` at the typical gradient norm ``sqrt(d/2 - 1/(2 pi))``. In
    ``C0 / sqrt(d)`` the boundary is ``LAZY_MAX_C0_RATIO`` at most; the width and denominator
    conditions cut it lower. The one statement of the lazy conditions: the per-point screen
    (:func:`ntk_attack.bounds.envelope_conditions`) and every claim use these functions."""
    g = typical_grad_norm(d)
    return bool(lazy_grid(d=d, m=m, C0=C0)
                and denominator_condition(g, C0=C0, d=d, m=m, c_sys=c_sys))


def sqrt_d_envelope(*, C0: float, d: int, K: float) -> float:
    """The ``O(1/sqrt(d))`` envelope of the lazy regime, ``K (1 + C0) / sqrt(d)`` (THEORY.md 4)."""
    return K * (1 + C0) / math.sqrt(d)


# --- section 5: kernels ------------------------------------------------------------------------

def kappa0(c):
    """Arc-cosine factor ``(pi - arccos c) / (2 pi)`` (``c`` clipped to ``[-1, 1]``): the
    probability that a neuron is active at both inputs (THEORY.md 5)."""
    xp = _xp(c)
    return (xp.pi - xp.arccos(xp.clip(c, -1, 1))) / (2 * xp.pi)


def kappa1(c):
    """``(sqrt(1 - c^2) + c (pi - arccos c)) / (2 pi)`` (``c`` clipped): the NNGP factor (THEORY.md 5)."""
    xp = _xp(c)
    c = xp.clip(c, -1, 1)
    return (xp.sqrt(1 - c * c) + c * (xp.pi - xp.arccos(c))) / (2 * xp.pi)


def empirical_ntk_variance(dot, cos):
    """``m Var(Theta_hat - Theta_W) = (x . x')^2 p (1 - p)``, ``p = kappa0(cos)``: the entry of the
    width-``m`` first-layer NTK is ``(x . x') / m`` times a Binomial(m, p) count (THEORY.md 5)."""
    p = kappa0(cos)
    return dot ** 2 * p * (1 - p)


def ntk_sd_factor(signs: str) -> float:
    """Ratio of the entrywise standard deviation to the independent-row value (THEORY.md 5):
    1 for balanced or random signs, ``sqrt(2)`` for antisymmetric init (duplicated rows)."""
    _check_signs(signs, ("balanced", "random", "antisymmetric"))
    return math.sqrt(2) if signs == "antisymmetric" else 1.0


def empirical_ntk_sd(dot, cos, m: int, *, signs: str = "balanced"):
    """Standard deviation of ``Theta_hat - Theta_W`` per entry:
    ``ntk_sd_factor(signs) |x . x'| sqrt(p (1 - p) / m)`` (THEORY.md 5)."""
    return ntk_sd_factor(signs) * np.sqrt(empirical_ntk_variance(dot, cos) / m)


# --- section 6: kernel predictors ---------------------------------------------------------------

def angle_term(x, x_train, coef):
    """``-sum_i c_i (x . x_i) grad_x(theta_i) / (2 pi)``: the part of ``grad h(x)`` for
    ``h = Theta_W(., X) c`` that the linearisation's pointwise gradient misses (THEORY.md 6.2).

    For unit ``x`` `(n, d)` and unit ``x_train`` `(N, d)`; a test point equal to a training
    point contributes 0 (the kernels' convention at ``theta = 0``). Returns `(n, d)`.
    """
    x, X, c = np.asarray(x), np.asarray(x_train), np.asarray(coef)
    cos = np.clip(x @ X.T, -1, 1)
    sin = np.sqrt(1 - cos ** 2)
    inside = sin > 0
    grad_theta = np.where(inside[..., None], -(X[None] - cos[..., None] * x[:, None])
                          / np.where(inside, sin, 1)[..., None], 0)
    return -np.einsum("ni,ni,nid->nd", c * np.ones_like(cos), cos, grad_theta) / (2 * np.pi)


def angle_free_gradient(x, x_train, coef):
    """``L(x) = sum_i c_i x_i kappa0(cos theta_i)``: ``grad h`` without :func:`angle_term`, the
    limit of the linearised network's pointwise gradient (THEORY.md 6.2). Shaped like ``x``;
    computed by ``jax.numpy``."""
    cos = (x @ x_train.T) / (jnp.linalg.norm(x, axis=-1, keepdims=True)
                             * jnp.linalg.norm(x_train, axis=-1))
    return (kappa0(jnp.asarray(cos)) * coef) @ x_train


def activation_flip_noise_sq(W0, W, x):
    """``(1/m) sum_{s in F(x)} ||w_s,0||^2``: the squared norm of the random part of the
    activation-flip term of ``grad f_t - grad f_0`` (THEORY.md 6.1).

    The flip term is ``(1/sqrt m) sum_{s in F} +-a_s w_s,0`` over the neurons ``F(x)`` whose gate
    at ``x`` changed between ``W0`` and ``W``; its mean over the flips is the systematic part
    (the angle term of ``grad h_t``), and its fluctuation, a sum of ``|F|`` nearly independent
    terms, has squared norm ``sum_{s in F} ||w_s,0||^2 / m`` to leading order (the squared mean
    of each term is ``O(1/m)``, ``d`` times smaller). So
    ``||grad f_t - grad f_0 - grad h_t||^2 ~= activation_flip_noise_sq`` once the learned
    directions have converged (their error is ``O(m^(-1/2))``, the flips' ``O(m^(-1/4))``).

    Args:
        W0, W: `(m, d)` first layers at init and after training.
        x: `(n, d)` inputs.

    Returns:
        `(n,)`.
    """
    W0, W, x = np.asarray(W0), np.asarray(W), np.asarray(x)
    flipped = (x @ W0.T > 0) != (x @ W.T > 0)
    return flipped @ np.sum(W0 ** 2, axis=1) / W0.shape[0]


def noisy_cosine(signal_norm, noise_sq):
    """``|s| / sqrt(|s|^2 + noise_sq)``: the cosine between a vector ``s`` and ``s + r`` for a
    random ``r`` orthogonal to ``s`` on average with ``E||r||^2 = noise_sq`` (THEORY.md 6.1, 6.5:
    ``cos(grad f_t - grad f_0, grad h_t)`` with the activation-flip noise)."""
    return signal_norm / np.sqrt(signal_norm ** 2 + noise_sq)


def ensemble_error_sq(errors_sq, k: int):
    """``||(1/k) sum_i e_i||^2`` predicted for independent mean-zero errors ``e_i``:
    ``(1/k^2) sum_i ||e_i||^2`` (THEORY.md 6.4: with balanced signs ``E grad f_0 = 0`` and
    ``E grad f_t = grad h_t(.; Y)``, so the errors ``grad f_t,i - grad h_t(.; Y)`` of independent
    inits average out).

    Args:
        errors_sq: `(k, ...)` ``||e_i||^2`` per network.
    """
    errors_sq = np.asarray(errors_sq)
    return np.sum(errors_sq[:k], axis=0) / k ** 2


def empirical_ntk_bias(theta_hat, theta):
    """``<Theta_hat - Theta_W, Theta_W> / <Theta_W, Theta_W>``: the relative error of the
    empirical kernel along the analytic one. ``E Theta_hat = Theta_W`` entrywise (THEORY.md 5),
    so its expectation is 0; a kernel off by a factor ``1 + e`` gives ``-e / (1 + e)``.

    Args:
        theta_hat: `(..., n, n)` empirical kernels; ``theta``: `(n, n)` analytic kernel.
    """
    theta = np.asarray(theta)
    return np.sum((np.asarray(theta_hat) - theta) * theta, axis=(-2, -1)) / np.sum(theta * theta)
