"""Training the first layer ``W`` of the two-layer network, the second layer fixed (THEORY.md 1, 6, 7).

Losses are means over the batch (THEORY.md section 6 convention):

.. math::
    L_\\mathrm{logistic} = \\frac1n \\sum_i \\log(1 + e^{-y_i f(x_i)}), \\qquad
    L_\\mathrm{squared} = \\frac1{2n} \\sum_i (f(x_i) - y_i)^2,

and one step is ``W <- W - lr * grad_W L`` on the whole set (gradient descent) or on a
minibatch drawn without replacement (SGD). The lazy regime is measured by

.. math::
    \\hat C_0 = \\sqrt{m} \\max_s \\|w_s - w_{s,0}\\|

(THEORY.md section 1). Given ``C0``, the rule ``"stop"`` ends training when a step would take
``C0_hat`` past ``C0``; that last step is shortened to land exactly on the boundary (the
paper's rule, and small ``C0`` stays reachable). The rule ``"project"`` pulls each row back
onto its ball ``||w_s - w_s,0|| <= C0 / sqrt(m)`` after every step.
"""
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import theory
from ntk_attack._checks import (check_choice, check_finite, check_key, check_labels,
                                check_nonnegative, check_positive, check_positive_int,
                                check_samples, is_traced, itemsize)
from ntk_attack._memory import check_memory
from ntk_attack.models import TwoLayer, forward

LOSSES = ("logistic", "squared")
RULES = ("stop", "project")


class TrainHistory(NamedTuple):
    """Per-step record; entry ``k`` is measured at ``W_k``, after ``k`` steps (entry 0: init).

    With the rule ``"stop"`` the weights freeze once the boundary is reached; the entries after
    that repeat the final values. A leading seeds axis is added when training a stack.

    Attributes:
        loss: `(steps + 1,)` training loss on the whole training set.
        accuracy: `(steps + 1,)` share of training points with ``y f(x) > 0`` (ties count as errors).
        C0_hat: `(steps + 1,)` ``sqrt(m) * max_s ||w_s - w_s,0||``.
        step_fraction: `(steps,)` share of ``lr`` taken by step ``k``: 1 for a full step, in
            ``[0, 1)`` for the step shortened onto the boundary, 0 after stopping.
    """
    loss: jax.Array
    accuracy: jax.Array
    C0_hat: jax.Array
    step_fraction: jax.Array

    @property
    def steps_taken(self):
        """Number of steps that moved the weights: `()`, or `(k,)` for a stack."""
        return jnp.sum(self.step_fraction > 0, axis=-1)


class TrainResult(NamedTuple):
    """Trained weights (same layout as ``params0``) and the :class:`TrainHistory`."""
    params: TwoLayer
    history: TrainHistory


def append_bias(x):
    """Inputs with the constant bias coordinate: `(n, d) -> (n, d + 1)`, ``[x, 1]`` (THEORY.md 7).

    A network trained with ``bias=True`` is ``apply(params, append_bias(x))``; its last weight
    column is the first-layer bias. An attack perturbs only the first ``d`` coordinates.
    """
    x = jnp.asarray(x)
    return jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,), x.dtype)], axis=-1)


def C0_hat(W, W0):
    """The lazy radius actually used, ``sqrt(m) * max_s ||w_s - w_s,0||`` (THEORY.md 1).

    Args:
        W: `(m, d)` weights.
        W0: `(m, d)` initial weights.

    Returns:
        `()`.
    """
    return jnp.sqrt(W.shape[0]) * jnp.max(jnp.linalg.norm(W - W0, axis=-1))


def project_rows(W, W0, radius):
    """Project each row of ``W`` onto its ball around ``W0``: ``||w_s - w_s,0|| <= radius``.

    .. math::
        w_s \\leftarrow w_{s,0} + (w_s - w_{s,0}) \\min(1, r / \\|w_s - w_{s,0}\\|).

    Idempotent, and never moves a row away from its centre. Note ``radius = C0 / sqrt(m)``.

    Args:
        W: `(m, d)` weights.
        W0: `(m, d)` centres (the initial weights).
        radius: `()` the row radius, ``>= 0``.

    Returns:
        `(m, d)` projected weights.
    """
    if jnp.shape(W) != jnp.shape(W0):
        raise ValueError(f"W and W0 must have the same shape; got {jnp.shape(W)} and {jnp.shape(W0)}.")
    if not is_traced(radius):
        check_nonnegative(radius, "radius")
    delta = W - W0
    norm = jnp.linalg.norm(delta, axis=-1, keepdims=True)
    scale = jnp.where(norm > radius, radius / jnp.where(norm > 0, norm, 1), 1)
    return W0 + delta * scale


def train(key, params0: TwoLayer, x, y, *, loss: str, lr: float, steps: int,
          C0: float | None = None, rule: str = "stop", batch_size: int | None = None,
          bias: bool = False) -> TrainResult:
    """Train the first layer of ``f(x; W) = (1/sqrt m) sum_s a_s relu(w_s . x)`` from ``params0``.

    One network, or a stack of networks trained in parallel (``jax.vmap``) on the same data.

    Memory: the `(n, m)` activations of the training set, forward and backward, for every
    network of a stack, are checked against the memory limit before anything runs.

    Args:
        key: ``jax.random`` key of the minibatch draws with ``batch_size`` (a stack splits it
            over its networks); ``None`` for full-batch gradient descent, which draws nothing
            (required all the same, so a call says whether it is random).
        params0: ``TwoLayer(W: (m, d'), a: (m,))``, or a stack ``W: (k, m, d'), a: (k, m)``;
            ``d' = d`` without bias and ``d + 1`` with it (last column: the bias).
        x: `(n, d)` training inputs.
        y: `(n,)` targets; labels in {-1, +1} for ``loss="logistic"``.
        loss: ``"logistic"`` or ``"squared"`` (means over the batch, see the module docstring).
        lr: learning rate ``> 0``.
        steps: maximal number of steps ``>= 0``.
        C0: lazy radius times ``sqrt(m)``; None trains without constraint.
        rule: ``"stop"`` (shorten the step that would cross ``C0``, then stop) or ``"project"``
            (project every row back onto its ball after each step). Used only with ``C0``.
        batch_size: minibatch size for SGD, ``1 <= batch_size <= n``; None for full-batch GD.
        bias: train a first-layer bias, the constant input coordinate of :func:`append_bias`
            (never attacked); the lazy ball is measured on the rows ``[w_s - w_s,0 | b_s - b_s,0]``.

    Returns:
        :class:`TrainResult` ``(params, history)``; ``history`` has per-step arrays
        (:class:`TrainHistory`), with a leading seeds axis for a stack.
    """
    if batch_size is not None or key is not None:
        check_key(key, "key" if key is not None else
                  "key (SGD draws minibatches when batch_size is given)")
    check_choice(rule, "rule", RULES)
    W0, a, x, y, lr, steps = _check_training(params0, x, y, loss=loss, lr=lr, steps=steps,
                                             bias=bias)
    C0 = None if C0 is None else check_positive(C0, "C0")
    n = x.shape[0]
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        if batch_size > n:
            raise ValueError(f"batch_size must lie in [1, n] with n = {n}; got {batch_size}.")
    if bias:
        x = append_bias(x)
    dtype = jnp.result_type(W0, x)
    x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
    run = functools.partial(_train, loss=loss, steps=steps, rule=rule if C0 is not None else None,
                            batch_size=batch_size)
    radius = jnp.asarray(np.inf if C0 is None else theory.row_radius(C0, W0.shape[-2]), dtype)
    lr = jnp.asarray(lr, dtype)
    if W0.ndim == 2:
        return run(W0, a, x, y, lr, radius, key if batch_size else None)
    if batch_size is None:  # full-batch GD draws nothing: no key enters the program
        return jax.vmap(run, in_axes=(0, 0, None, None, None, None, None))(W0, a, x, y, lr, radius,
                                                                           None)
    keys = jax.random.split(key, W0.shape[0])
    return jax.vmap(run, in_axes=(0, 0, None, None, None, None, 0))(W0, a, x, y, lr, radius, keys)


def _check_training(params0, x, y, *, loss, lr, steps, bias):
    """Validate what every training run needs; return ``(W0, a, x, y, lr, steps)`` (numpy data)."""
    check_choice(loss, "loss", LOSSES)
    W0, a = check_stack(params0, "params0")
    x, y = check_samples(x, y, d=W0.shape[-1] - bool(bias),
                         why_d=f" (params0.W has {W0.shape[-1]} columns, bias={bool(bias)})")
    if loss == "logistic":
        check_labels(y, why=" for loss='logistic'")
    lr = check_positive(lr, "lr")
    steps = check_positive_int(steps, "steps", minimum=0)
    check_training_memory(W0, x)
    return W0, a, x, y, lr, steps


def check_stack(params0, name: str):
    """``(W0, a)`` of one network ``W: (m, d), a: (m,)`` or a stack ``W: (k, m, d), a: (k, m)``."""
    try:
        W0, a = params0
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be TwoLayer(W, a); got {type(params0).__name__}.") from None
    if np.ndim(W0) not in (2, 3) or np.shape(a) != np.shape(W0)[:-1]:
        raise ValueError(f"{name} must be TwoLayer(W: (m, d), a: (m,)) or a stack W: (k, m, d), "
                         f"a: (k, m); got W {np.shape(W0)}, a {np.shape(a)}.")
    check_finite(W0, f"{name}.W")
    check_finite(a, f"{name}.a")
    return W0, a


def check_training_memory(W0, x, *, copies: int = 6) -> None:
    """Refuse a training run whose weights (``copies`` of ``W``: iterate, start, gradient, ...)
    and `(n, m)` activations, forward and backward, do not fit in memory."""
    k = int(np.prod(np.shape(W0)[:-2], dtype=np.int64)) if np.ndim(W0) == 3 else 1
    m, d = np.shape(W0)[-2:]
    n = np.shape(x)[0]
    size = itemsize(jnp.result_type(W0, x))
    check_memory(k * (copies * m * d + 4 * n * m + 2 * n * d) * size, name="n, m, d",
                 got=f"n = {n}, m = {m}, d = {d}{f', {k} networks' if k > 1 else ''}",
                 what=f"the weights ({copies} x (m, d)) and activations (4 x (n, m)) of training")


def _network_loss(W, a, x, y, loss):
    """``(L(W), f(x; W))`` for a batch: `(n, d) -> ((), (n,))`."""
    f = forward(W, a, x)
    if loss == "logistic":
        return jnp.mean(jax.nn.softplus(-y * f)), f
    return 0.5 * jnp.mean((f - y) ** 2), f


def _boundary_fraction(delta, step, radius):
    """Largest ``alpha`` in ``[0, 1]`` with ``max_s ||delta_s - alpha step_s|| <= radius``.

    Row ``s`` solves ``|g|^2 alpha^2 - 2 (D . g) alpha + |D|^2 - r^2 = 0`` for its positive root
    (``D = delta_s``, ``g = step_s``, ``|D| <= r``), in the cancellation-free form for ``D . g < 0``.
    """
    gg = jnp.sum(step * step, axis=-1)
    dg = jnp.sum(delta * step, axis=-1)
    c = jnp.sum(delta * delta, axis=-1) - radius ** 2
    q = jnp.sqrt(jnp.maximum(dg * dg - gg * c, 0))
    moving = gg > 0
    safe_gg = jnp.where(moving, gg, 1)
    denominator = jnp.where(q - dg > 0, q - dg, 1)
    root = jnp.where(dg >= 0, (dg + q) / safe_gg, -c / denominator)
    root = jnp.where(moving, root, jnp.inf)
    return jnp.clip(jnp.min(root), 0, 1)


@functools.partial(jax.jit, static_argnames=("loss", "steps", "rule", "batch_size"))
def _train(W0, a, x, y, lr, radius, key, *, loss, steps, rule, batch_size):
    value_and_grad = jax.value_and_grad(_network_loss, has_aux=True)

    def metrics(W):
        value, f = _network_loss(W, a, x, y, loss)
        return value, jnp.mean(y * f > 0)

    def record(history, k, W, value, accuracy):
        return history._replace(loss=history.loss.at[k].set(value),
                                accuracy=history.accuracy.at[k].set(accuracy),
                                C0_hat=history.C0_hat.at[k].set(C0_hat(W, W0)))

    def body(carry):
        k, W, stopped, history = carry
        if batch_size is None:
            (value, f), grad = value_and_grad(W, a, x, y, loss)
            accuracy = jnp.mean(y * f > 0)
        else:
            batch = jax.random.permutation(jax.random.fold_in(key, k), x.shape[0])[:batch_size]
            grad = jax.grad(lambda W_: _network_loss(W_, a, x[batch], y[batch], loss)[0])(W)
            value, accuracy = metrics(W)
        history = record(history, k, W, value, accuracy)
        step = lr * grad
        if rule == "stop":
            fraction = _boundary_fraction(W - W0, step, radius)
            W = W - fraction * step
            stopped = fraction < 1
        else:
            fraction = jnp.ones((), W.dtype)
            W = W - step
            if rule == "project":
                W = project_rows(W, W0, radius)
        history = history._replace(step_fraction=history.step_fraction.at[k].set(fraction))
        return k + 1, W, stopped, history

    nan = jnp.full(steps + 1, jnp.nan, W0.dtype)
    history = TrainHistory(nan, nan, nan, jnp.zeros(steps, W0.dtype))
    k, W, _, history = jax.lax.while_loop(lambda c: (c[0] < steps) & ~c[2], body,
                                          (0, W0, jnp.array(False), history))
    value, accuracy = metrics(W)
    after = jnp.arange(steps + 1) >= k  # final entry, and the frozen entries after a stop
    history = history._replace(loss=jnp.where(after, value, history.loss),
                               accuracy=jnp.where(after, accuracy, history.accuracy),
                               C0_hat=jnp.where(after, C0_hat(W, W0), history.C0_hat))
    return TrainResult(TwoLayer(W, a), history)


def train_radii(params0: TwoLayer, x, y, *, loss: str, lr: float, steps: int, C0s) -> list:
    """:func:`train` with the rule ``"stop"`` at several radii, along one shared trajectory.

    Full-batch gradient descent from the same ``W0`` follows the same iterates ``W_k`` whatever
    the radius, until the step that would cross ``C0`` (shortened onto the boundary, then
    stop). So one run to the largest radius gives every smaller radius too: each takes the
    shortened step from ``W_k`` where its own boundary is crossed. Entry ``i`` of the result
    equals ``train(key, params0, x, y, loss=loss, lr=lr, steps=steps, C0=C0s[i], rule="stop")``
    bit for bit (the same operations on the same shapes), at the cost of the largest radius.

    Args:
        params0, x, y, loss, lr, steps: as in :func:`train` (no bias, full batch).
        C0s: sequence of lazy radii times ``sqrt(m)``, each ``> 0``.

    Returns:
        ``[TrainResult]``, one per radius, in the order of ``C0s``.
    """
    W0, a, x, y, lr, steps = _check_training(params0, x, y, loss=loss, lr=lr, steps=steps,
                                             bias=False)
    if np.ndim(C0s) != 1 or len(C0s) == 0:
        raise ValueError(f"C0s must be a non-empty sequence of radii; got {C0s!r}.")
    C0s = [check_positive(C0, f"C0s[{i}]") for i, C0 in enumerate(C0s)]
    dtype = jnp.result_type(W0, x)
    x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
    order = np.argsort(C0s, kind="stable")  # the largest radius last: its iterates are shared
    radii = tuple(jnp.asarray(theory.row_radius(C0s[i], W0.shape[-2]), dtype) for i in order)
    run = functools.partial(_train_radii, loss=loss, steps=steps)
    lr = jnp.asarray(lr, dtype)
    if W0.ndim == 2:
        results = run(W0, a, x, y, lr, radii)
    else:
        results = jax.vmap(run, in_axes=(0, 0, None, None, None, None))(W0, a, x, y, lr, radii)
    return [results[int(np.flatnonzero(order == i)[0])] for i in range(len(C0s))]


@functools.partial(jax.jit, static_argnames=("loss", "steps"))
def _train_radii(W0, a, x, y, lr, radii, *, loss, steps):
    """:func:`_train` (rule ``"stop"``, full batch) for every radius (ascending), sharing the
    iterates of the largest.

    Per radius it carries what ``_train`` carries (weights, step count, stop flag, history) and
    applies the same operations; the radii are a Python loop (never ``vmap``), so every
    reduction has the shape it has in ``_train``.
    """
    value_and_grad = jax.value_and_grad(_network_loss, has_aux=True)

    def metrics(W):
        value, f = _network_loss(W, a, x, y, loss)
        return value, jnp.mean(y * f > 0)

    nan = jnp.full(steps + 1, jnp.nan, W0.dtype)
    empty = TrainHistory(nan, nan, nan, jnp.zeros(steps, W0.dtype))

    def body(carry):
        W, runs = carry
        (value, f), grad = value_and_grad(W, a, x, y, loss)
        accuracy, c0 = jnp.mean(y * f > 0), C0_hat(W, W0)
        step = lr * grad
        updated = []
        for radius, (k, W_r, stopped, history) in zip(radii, runs):
            fraction = _boundary_fraction(W - W0, step, radius)
            moving = (k < steps) & ~stopped  # this radius's own loop would run this step
            history = TrainHistory(
                jnp.where(moving, history.loss.at[k].set(value), history.loss),
                jnp.where(moving, history.accuracy.at[k].set(accuracy), history.accuracy),
                jnp.where(moving, history.C0_hat.at[k].set(c0), history.C0_hat),
                jnp.where(moving, history.step_fraction.at[k].set(fraction), history.step_fraction))
            updated.append((jnp.where(moving, k + 1, k),
                            jnp.where(moving, W - fraction * step, W_r),
                            jnp.where(moving, fraction < 1, stopped), history))
        return updated[-1][1], updated

    runs = [(0, W0, jnp.array(False), empty) for _ in radii]
    _, runs = jax.lax.while_loop(
        lambda c: jnp.any(jnp.stack([(k < steps) & ~s for k, _, s, _ in c[1]])), body, (W0, runs))
    results = []
    for k, W, _, history in runs:
        value, accuracy = metrics(W)
        after = jnp.arange(steps + 1) >= k
        history = history._replace(loss=jnp.where(after, value, history.loss),
                                   accuracy=jnp.where(after, accuracy, history.accuracy),
                                   C0_hat=jnp.where(after, C0_hat(W, W0), history.C0_hat))
        results.append(TrainResult(TwoLayer(W, a), history))
    return results


def __getattr__(name):
    """``adversarial_train`` lives in :mod:`ntk_attack.adversarial`, which builds on this module; it is
    re-exported here on first access, so loading this module never loads that one (no cycle)."""
    if name == "adversarial_train":
        from ntk_attack.adversarial import adversarial_train
        return adversarial_train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
