"""Adversarial training of the first layer inside a ball around ``W0`` (THEORY.md 4, 7; paper 5.2).

Each epoch draws a fresh permutation of the training set; for each minibatch ``(x_B, y_B)``

.. math::
    \\delta_B = \\mathrm{PGD}_\\epsilon(W; x_B, y_B), \\qquad
    W \\leftarrow \\Pi\\big(W - \\mathrm{lr} \\, \\nabla_W L(W; x_B + \\delta_B, y_B)\\big),

with :func:`ntk_attack.labelled_attacks.pgd`'s iteration (``attack_steps`` steps of ``attack_step_size``
from ``delta = 0``, each projected onto ``||delta||_p <= eps``, the iterate with the smallest
margin kept) and ``Pi`` the row-wise projection :func:`ntk_attack.training.project_rows` onto
``||w_s - w_s,0|| <= r``: ``r = C0 / sqrt(m)`` (``radius="lazy"``, the lazy ball of THEORY.md 1)
or ``r = C0`` (``radius="absolute"``, the paper's width figure). The paper's protocol (THEORY.md
7) is PGD-l2 with 100 steps of ``0.025 eps``, the default ``2.5 eps / attack_steps``
(:func:`ntk_attack.theory.pgd_step_size`).

After every epoch the whole training set is attacked again at the new weights to record the
clean and robust (PGD) training accuracy; training stops early once the robust training
accuracy has not improved for ``patience`` epochs, and the weights with the best robust
training accuracy are returned (the latest on ties: with robust accuracy stuck at 0 these are
the last weights, not ``W0``). With full-batch steps the attack of the
evaluation at ``W_k`` is the attack of step ``k + 1``, so it is computed once.
"""
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import labelled_attacks, theory
from ntk_attack._checks import (check_choice, check_key, check_labels, check_nonnegative,
                                check_positive, check_positive_int, check_samples)
from ntk_attack.models import TwoLayer
from ntk_attack.training import (LOSSES, C0_hat, TrainResult, _network_loss, check_stack,
                                 check_training_memory, project_rows)

NORMS = {"l2": 2, "linf": math.inf}
RADII = ("lazy", "absolute")


class AdversarialHistory(NamedTuple):
    """Per-epoch record; entry ``k`` is measured at the weights after ``k`` epochs (0: init).

    Entries after an early stop repeat the last epoch's values. A leading seeds axis is added
    when training a stack.

    Attributes:
        loss: `(epochs + 1,)` training loss at the PGD points of the whole training set.
        accuracy: `(epochs + 1,)` clean training accuracy, share of ``y f(x) > 0``.
        robust_accuracy: `(epochs + 1,)` share of ``y f(x + delta) > 0`` and ``y f(x) > 0``
            under the PGD attack of training.
        C0_hat: `(epochs + 1,)` ``sqrt(m) * max_s ||w_s - w_s,0||`` (THEORY.md 1); at most
            ``C0`` for ``radius="lazy"``, ``C0 sqrt(m)`` for ``radius="absolute"``.
        epochs_taken: `()` epochs run before the stop.
        best_epoch: `()` the entry whose weights are returned.
    """
    loss: jax.Array
    accuracy: jax.Array
    robust_accuracy: jax.Array
    C0_hat: jax.Array
    epochs_taken: jax.Array
    best_epoch: jax.Array


def adversarial_train(key, params0: TwoLayer, x, y, *, eps: float, C0: float, epochs: int,
                      lr: float, patience: int, norm: str = "l2", attack_steps: int = 100,
                      attack_step_size: float | None = None, batch_size: int | None = None,
                      radius: str = "lazy", loss: str = "logistic") -> TrainResult:
    """Adversarially train the first layer of ``f(x; W) = (1/sqrt m) sum_s a_s relu(w_s . x)``.

    One network, or a stack trained in parallel (``jax.vmap``) on the same data; the whole run
    is one jitted program (``lax.while_loop`` over epochs, ``lax.scan`` over minibatches).

    Args:
        key: ``jax.random`` key of the minibatch permutations (a stack splits it over its
            networks). The attack starts from ``delta = 0`` and draws nothing.
        params0: ``TwoLayer(W: (m, d), a: (m,))``, or a stack ``W: (k, m, d), a: (k, m)``.
        x: `(n, d)` training inputs.
        y: `(n,)` labels in {-1, +1}.
        eps: attack radius ``>= 0`` (``0``: standard training with this loop).
        C0: ball radius ``> 0``: rows satisfy ``||w_s - w_s,0|| <= C0 / sqrt(m)`` (``"lazy"``)
            or ``<= C0`` (``"absolute"``).
        epochs: maximal number of epochs ``>= 1``.
        lr: learning rate ``> 0``.
        patience: stop after this many epochs (``>= 1``) without a higher robust training
            accuracy.
        norm: ``"l2"`` or ``"linf"``, the attack's norm.
        attack_steps: PGD steps ``>= 1``.
        attack_step_size: PGD step ``> 0``; None for ``theory.pgd_step_size(eps, attack_steps)``,
            ``2.5 eps / attack_steps``.
        batch_size: minibatch size in ``[1, n]``; each epoch takes ``n // batch_size`` steps on
            a fresh permutation (the ``n mod batch_size`` left-over points sit out that epoch).
            None: one full-batch step per epoch.
        radius: ``"lazy"`` or ``"absolute"``.
        loss: ``"logistic"`` (the paper's) or ``"squared"``, as in
            :func:`ntk_attack.training.train`.

    Returns:
        ``TrainResult(params, history)``: the weights of the best epoch and an
        :class:`AdversarialHistory`, with a leading seeds axis for a stack.
    """
    check_key(key)
    check_choice(norm, "norm", tuple(NORMS))
    check_choice(radius, "radius", RADII)
    check_choice(loss, "loss", LOSSES)
    W0, a = check_stack(params0, "params0")
    d = np.shape(W0)[-1]
    x, y = check_samples(x, y, d=d, why_d=f" (params0.W has {d} columns)")
    check_labels(y)
    eps = check_nonnegative(eps, "eps")
    C0 = check_positive(C0, "C0")
    lr = check_positive(lr, "lr")
    epochs = check_positive_int(epochs, "epochs")
    patience = check_positive_int(patience, "patience")
    attack_steps = check_positive_int(attack_steps, "attack_steps")
    step_size = (theory.pgd_step_size(eps, attack_steps) if attack_step_size is None
                 else check_positive(attack_step_size, "attack_step_size"))
    n = x.shape[0]
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        if batch_size > n:
            raise ValueError(f"batch_size must lie in [1, n] with n = {n}; got {batch_size}.")
    check_training_memory(W0, x, copies=8)
    m = np.shape(W0)[-2]
    dtype = jnp.result_type(W0, x)
    W0, a, x, y = (jnp.asarray(v, dtype) for v in (W0, a, x, y))
    row_radius = theory.row_radius(C0, m, radius=radius)
    scalars = tuple(jnp.asarray(v, dtype) for v in (eps, step_size, lr, row_radius))
    scalars += (jnp.asarray(patience),)
    run = functools.partial(_adversarial_train, loss=loss, norm=NORMS[norm],
                            attack_steps=attack_steps, epochs=epochs, batch_size=batch_size)
    if W0.ndim == 2:
        return run(key, W0, a, x, y, *scalars)
    keys = jax.random.split(key, W0.shape[0])
    return jax.vmap(run, in_axes=(0, 0, 0) + (None,) * 7)(keys, W0, a, x, y, *scalars)


def _attack(W, a, x, y, eps, step_size, *, norm, steps):
    """PGD perturbations `(n, d)` of :func:`ntk_attack.labelled_attacks.pgd`, ``||delta||_p <= eps``."""
    return labelled_attacks._pgd(TwoLayer(W, a), x, y, eps, step_size, apply_fn=None, norm=norm,
                        steps=steps).delta


@functools.partial(jax.jit,
                   static_argnames=("loss", "norm", "attack_steps", "epochs", "batch_size"))
def _adversarial_train(key, W0, a, x, y, eps, step_size, lr, row_radius, patience, *, loss, norm,
                       attack_steps, epochs, batch_size):
    attack = functools.partial(_attack, eps=eps, step_size=step_size, norm=norm, steps=attack_steps)
    grad_W = jax.grad(lambda W, xb, yb: _network_loss(W, a, xb, yb, loss)[0])

    def evaluate(W):
        """Attack the whole training set at ``W``: the deltas and the epoch's record."""
        delta = attack(W, a, x, y)
        value, f_adv = _network_loss(W, a, x + delta, y, loss)
        correct = y * _network_loss(W, a, x, y, loss)[1] > 0
        robust = correct & (y * f_adv > 0)
        record = (value, jnp.mean(correct, dtype=W.dtype), jnp.mean(robust, dtype=W.dtype),
                  C0_hat(W, W0))
        return delta, record

    def step(W, batch):
        xb, yb, delta = batch
        return project_rows(W - lr * grad_W(W, xb + delta, yb), W0, row_radius), None

    def epoch(W, k, delta):
        if batch_size is None:  # the evaluation's attack at W is this step's attack
            return step(W, (x, y, delta))[0]
        n_batches = x.shape[0] // batch_size
        order = jax.random.permutation(jax.random.fold_in(key, k), x.shape[0])
        index = order[:n_batches * batch_size].reshape(n_batches, batch_size)
        xb, yb = x[index], y[index]
        W, _ = jax.lax.scan(lambda W_, b: step(W_, (b[0], b[1], attack(W_, a, b[0], b[1]))),
                            W, (xb, yb))
        return W

    def body(carry):
        k, W, delta, history, best_W, best, since_best = carry
        W = epoch(W, k, delta)
        delta, record = evaluate(W)
        history = tuple(h.at[k + 1].set(r) for h, r in zip(history, record))
        better, tie = record[2] > best, record[2] == best
        best_W = jnp.where(better | tie, W, best_W)
        return (k + 1, W, delta, history, best_W, jnp.where(better, record[2], best),
                jnp.where(better, 0, since_best + 1))

    delta, record = evaluate(W0)
    history = tuple(jnp.full(epochs + 1, r, dtype=W0.dtype) for r in record)
    carry = (0, W0, delta, history, W0, record[2], 0)
    k, _, _, history, best_W, best, _ = jax.lax.while_loop(
        lambda c: (c[0] < epochs) & (c[6] < patience), body, carry)
    entries = jnp.arange(epochs + 1)
    history = tuple(jnp.where(entries > k, h[k], h) for h in history)  # after the stop: repeat
    best_epoch = jnp.max(jnp.where((entries <= k) & (history[2] == best), entries, 0))
    return TrainResult(TwoLayer(best_W, a), AdversarialHistory(*history, k, best_epoch))
