"""Predictors the trained network is compared with (THEORY.md section 6).

- :func:`linearize`: the first-order Taylor model of the network in ``W`` around ``W0``;
- :func:`ntk_regression`: the analytic-kernel predictor after ``steps`` of gradient descent on
  the squared loss, or the converged ridge predictor, with its input gradient;
- :func:`ensemble_apply`, :func:`ensemble_input_grad`: means over independent inits.
"""
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from ntk_attack import theory
from ntk_attack._checks import (check_nonnegative, check_points, check_positive, check_positive_int,
                                check_samples)
from ntk_attack._memory import check_memory
from ntk_attack.models import TwoLayer, apply, check_params, input_grad


class Linearized(NamedTuple):
    """The network linearised in ``W`` around ``W0`` (from :func:`linearize`).

    Attributes:
        apply: ``apply(W, x)``: ``W: (m, d)``, ``x: (d,)`` or `(n, d)` -> `()` or `(n,)`.
        input_grad: ``input_grad(W, x)``: the pointwise input gradient, shaped like ``x``.
    """
    apply: Callable
    input_grad: Callable


def linearize(params0: TwoLayer) -> Linearized:
    """First-order Taylor model of ``f(x; W)`` in ``W`` around ``W0`` (the second layer is fixed).

    .. math::
        f_\\mathrm{lin}(x; W) = f(x; W_0) + \\langle \\nabla_W f(x; W_0), W - W_0 \\rangle
        = \\frac{1}{\\sqrt m} \\sum_s a_s \\, 1[w_{s,0} \\cdot x > 0] \\, (w_s \\cdot x),

    since ``relu(z) = 1[z > 0] z``. Its pointwise input gradient,
    ``(1/sqrt m) sum_s a_s 1[w_s,0 . x > 0] w_s``, ignores the jumps of ``f_lin`` where a
    ``w_s,0 . x`` changes sign (THEORY.md 6.2). Equals neural-tangents' ``linearize`` of
    :func:`ntk_attack.models.apply` at ``TwoLayer(W, a)``.

    Args:
        params0: ``TwoLayer(W0: (m, d), a: (m,))``, the expansion point.

    Returns:
        :class:`Linearized` ``(apply, input_grad)``, both taking ``(W: (m, d), x)``.
    """
    W0, a = check_params(params0)
    scale = jnp.sqrt(W0.shape[0])

    def gates(x):
        return (check_points(x, W0.shape[1]) @ W0.T > 0) * a / scale

    def check_W(W):
        if jnp.shape(W) != W0.shape:
            raise ValueError(f"W must have the shape of params0.W, {W0.shape}; got {jnp.shape(W)}.")
        return W

    def lin_apply(W, x):
        return jnp.sum(gates(x) * (x @ check_W(W).T), axis=-1)

    def lin_input_grad(W, x):
        return gates(x) @ check_W(W)

    return Linearized(lin_apply, lin_input_grad)


class KernelPredictor(NamedTuple):
    """``h(x) = Theta(x, X) c``: a kernel predictor with coefficients ``c`` (from :func:`ntk_regression`).

    Attributes:
        x_train: `(n, d)` training inputs ``X``.
        coef: `(n,)` coefficients ``c``.
        kernel: ``kernel(x1, x2)``, e.g. :func:`ntk_attack.kernels.ntk_first_layer`.
    """
    x_train: jax.Array
    coef: jax.Array
    kernel: Callable

    def apply(self, x):
        """``h(x)``: `(d,) -> ()`, `(n, d) -> (n,)`."""
        check_points(x, self.x_train.shape[1])
        return self.kernel(x, self.x_train) @ self.coef

    def input_grad(self, x):
        """``grad_x h(x) = sum_i c_i grad_x Theta(x, x_i)`` by ``jax.grad`` of the closed-form kernel.

        Shaped like ``x`` (`(d,)` or `(n, d)`).
        """
        check_points(x, self.x_train.shape[1])
        grad = jax.grad(lambda z: self.kernel(z, self.x_train) @ self.coef)
        return grad(x) if jnp.ndim(x) == 1 else jax.vmap(grad)(x)


def ntk_regression(x_train, y_train, *, kernel: Callable, ridge: float, steps: int | None = None,
                   lr: float | None = None) -> KernelPredictor:
    """Kernel regression with ``kernel`` as gradient descent on the squared loss would fit it.

    With ``G = Theta(X, X) + ridge I`` (float64) and ``n`` training points:

    .. math::
        c = G^{-1} \\left(I - (I - \\tfrac{lr}{n} G)^{steps}\\right) Y
        \\quad\\text{or, with steps = None,}\\quad c = G^{-1} Y,

    and ``h(x) = Theta(x, X) c`` (THEORY.md section 6). With ``ridge = 0`` the first is the
    linear model after ``steps`` of gradient descent from zero on ``(1/2n) sum_i (h(x_i) - y_i)^2``
    at rate ``lr`` (eigendecomposition of ``G``; exact also for a singular ``G``); ``ridge > 0``
    adds a private feature ``sqrt(ridge) e_i`` to each training point. The converged ridge
    predictor uses a Cholesky factorisation. To fit a network's residual, pass
    ``y_train = Y - f(X; W0)``.

    Args:
        x_train: `(n, d)` training inputs.
        y_train: `(n,)` targets.
        kernel: ``kernel(x1, x2)`` mapping `(n1, d), (n2, d) -> (n1, n2)` and `(d,), (n2, d) -> (n2,)`,
            differentiable in ``x1`` (e.g. :func:`ntk_attack.kernels.ntk_first_layer`).
        ridge: ``>= 0``, added to the diagonal of the Gram matrix.
        steps: number of gradient-descent steps ``>= 0``; None for the converged predictor.
        lr: learning rate ``> 0`` of the gradient descent; only with ``steps``.

    Returns:
        :class:`KernelPredictor`. Kernel values are computed in the inputs' dtype: turn on
        ``jax_enable_x64`` (the verification does) for float64 predictions.

    Raises:
        ValueError: bad shapes or values, mismatched lengths, a rate at which gradient descent
            diverges (``lr lambda_max / n >= 2``), or a singular Gram matrix with ``ridge = 0``
            and ``steps = None`` (the message suggests a ridge).
    """
    x_train, y_train = check_samples(x_train, y_train, x_name="x_train", y_name="y_train")
    n = x_train.shape[0]
    check_memory(6 * n * n * 8, name="n", got=f"n = {n} training points",
                 what="the (n, n) Gram matrix, its eigenvectors and factors")
    ridge = check_nonnegative(ridge, "ridge")
    n = x_train.shape[0]
    x_jax = jnp.asarray(x_train)
    gram = np.asarray(kernel(x_jax, x_jax), dtype=np.float64)
    gram = (gram + gram.T) / 2 + ridge * np.eye(n)
    y64 = y_train.astype(np.float64)
    if steps is None and lr is not None:
        raise ValueError(f"lr must be None when steps is None (the converged predictor does not "
                         f"depend on it); got lr = {lr!r}.")
    if steps is not None:
        steps = check_positive_int(steps, "steps", minimum=0)
        lr = check_positive(lr, "lr (with steps)")
    # One BLAS thread: next to XLA's busy thread pool, multithreaded LAPACK on a Gram matrix of a
    # few hundred points spins (measured 0.25 s instead of 1 ms for n = 108 on 2 cores).
    with threadpool_limits(limits=1, user_api="blas"):
        coef = (_solve_converged(gram, y64, ridge) if steps is None
                else _solve_gradient_descent(gram, y64, steps, float(lr)))
    return KernelPredictor(x_jax, jnp.asarray(coef), kernel)


def _solve_converged(gram, y, ridge):
    eigenvalues = scipy.linalg.eigvalsh(gram)
    n = len(y)
    if eigenvalues[0] <= n * np.finfo(np.float64).eps * max(eigenvalues[-1], 0):
        suggestion = 1e-8 * max(np.trace(gram) / n, np.finfo(np.float64).tiny)
        raise ValueError(f"the Gram matrix Theta(X, X) + ridge I is singular to float64 precision "
                         f"(eigenvalues {eigenvalues[0]:.3g} .. {eigenvalues[-1]:.3g}, ridge = {ridge}); "
                         f"duplicate or collinear inputs? Pass ridge > 0, e.g. ridge={suggestion:.1g}, "
                         "or use steps= for the gradient-descent predictor.")
    return scipy.linalg.cho_solve(scipy.linalg.cho_factor(gram, lower=True), y)


def _solve_gradient_descent(gram, y, steps, lr):
    """``G^-1 (I - (I - q G)^t) y`` with ``q = lr / n``, spectrally with
    ``phi(lam) = (1 - (1 - q lam)^t) / lam`` (``t q`` at ``lam = 0``)."""
    n = len(y)
    lam, vectors = scipy.linalg.eigh(gram)
    lam = np.maximum(lam, 0)  # rounding can leave tiny negative eigenvalues of a PSD matrix
    q = lr / n
    if q * lam[-1] >= 2:
        raise ValueError(f"lr must satisfy lr * lambda_max / n < 2 for gradient descent to converge "
                         f"(lambda_max = {lam[-1]:.4g}, n = {n}, so lr < {2 * n / lam[-1]:.4g}); "
                         f"got lr = {lr}.")
    ql = q * lam
    small = ql < 0.5  # 1 - (1 - ql)^t by expm1/log1p there (no cancellation); the power is exact past it
    filtered = np.where(small, -np.expm1(steps * np.log1p(-np.where(small, ql, 0))),
                        1 - (1 - ql) ** steps)
    positive = lam > 0
    phi = np.where(positive, filtered / np.where(positive, lam, 1), steps * q)
    return vectors @ (phi * (vectors.T @ y))


def angle_free_input_grad(predictor: KernelPredictor, x):
    """``sum_i c_i x_i (pi - theta_i) / (2 pi)``: the limit of the linearised network's pointwise gradient.

    For a predictor of the first-layer NTK ``Theta_W`` (:func:`ntk_attack.kernels.ntk_first_layer`),
    ``grad_x Theta_W(x, x_i) = x_i (pi - theta_i)/(2 pi) - (x . x_i) grad_x(theta_i)/(2 pi)``;
    this is the sum without the angle term, which is what the pointwise gradient of
    :func:`linearize` converges to as ``m`` grows (like ``m^(-1/2)``, THEORY.md 6.2). The
    angle term is ``predictor.input_grad(x) - angle_free_input_grad(predictor, x)``.

    Args:
        predictor: a :class:`KernelPredictor` of ``Theta_W``.
        x: `(d,)` or `(n, d)`, nonzero.

    Returns:
        Shaped like ``x``.
    """
    check_points(x, predictor.x_train.shape[1])
    return theory.angle_free_gradient(x, predictor.x_train, predictor.coef)


def ensemble_apply(params: TwoLayer, x):
    """Mean output over a stack of networks, ``(1/k) sum_j f(x; W_j)``.

    Args:
        params: a stack ``TwoLayer(W: (k, m, d), a: (k, m))`` (e.g. ``k`` trained inits).
        x: `(d,)` or `(n, d)`.

    Returns:
        `()` or `(n,)`.
    """
    _check_stack(params)
    return jnp.mean(jax.vmap(apply, (0, None))(params, x), axis=0)


def ensemble_input_grad(params: TwoLayer, x):
    """Mean input gradient over a stack of networks, ``(1/k) sum_j grad_x f(x; W_j)``; shaped like ``x``."""
    _check_stack(params)
    return jnp.mean(jax.vmap(input_grad, (0, None))(params, x), axis=0)


def _check_stack(params):
    W, a = params
    if jnp.ndim(W) != 3 or jnp.shape(a) != jnp.shape(W)[:2]:
        raise ValueError(f"params must be a stack TwoLayer(W: (k, m, d), a: (k, m)); got W "
                         f"{jnp.shape(W)}, a {jnp.shape(a)}.")
