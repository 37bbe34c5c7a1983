"""Lazy training of every layer of a deep network: projected full-batch gradient descent
(THEORY.md 4, 9).

The lazy ball of the two-layer model (``||w_s - w_s,0|| <= C0 / sqrt(m)`` per neuron) is kept
layer by layer: the incoming weights of every unit of layer ``l`` (a column of ``W_l``
`(n_{l-1}, n_l)`, in the raw ``N(0, 1)`` units of :class:`ntk_attack.deep.DeepNet`) stay
within ``C0 / sqrt(n_l)`` of their initial value, and the readout (one unit, ``n_{L+1} = 1``)
within ``C0``:

.. math::
    \\hat C_{0,l} = \\sqrt{n_l} \\max_s \\|W_l[:, s] - W_{l,0}[:, s]\\| \\le C_0 .

Loss: logistic, ``(1/N) sum_i log(1 + exp(-y_i f(x_i)))`` with labels ``y = +-1`` (THEORY.md 7).
After each gradient step every unit is projected back onto its ball. One network per call;
stack networks with ``jax.vmap`` over keys.
"""
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ntk_attack import deep, theory


class LazyDeepResult(NamedTuple):
    """Result of :func:`train_lazy_deep`.

    Attributes:
        params0: the initial :class:`~ntk_attack.deep.DeepNet`.
        params: the trained one.
        C0_hat: `(L + 1,)` ``sqrt(n_l) max_s ||W_l[:, s] - W_{l,0}[:, s]||`` per layer, readout last.
        loss: `(steps + 1,)` training loss before every step and after the last.
    """
    params0: deep.DeepNet
    params: deep.DeepNet
    C0_hat: jax.Array
    loss: jax.Array


def _project(W, W0, radius):
    """Each column of ``W - W0`` (a unit's incoming weights) clipped to norm ``radius``."""
    diff = W - W0
    norm = jnp.linalg.norm(diff, axis=0)
    return W0 + diff * jnp.minimum(1.0, radius / jnp.maximum(norm, 1e-300))


def project_deep(params: deep.DeepNet, params0: deep.DeepNet, C0: float) -> deep.DeepNet:
    """``params`` with every unit's incoming weights projected onto its lazy ball (module docstring)."""
    weights = tuple(_project(W, W0, theory.row_radius(C0, W.shape[1]))
                    for W, W0 in zip(params.weights, params0.weights))
    readout = _project(params.readout[:, None], params0.readout[:, None], C0)[:, 0]
    return deep.DeepNet(weights, readout, params.activation)


def lazy_radius(params: deep.DeepNet, params0: deep.DeepNet) -> jax.Array:
    """`(L + 1,)` ``C0_hat`` per layer (module docstring), readout last."""
    hidden = [math.sqrt(W.shape[1]) * jnp.max(jnp.linalg.norm(W - W0, axis=0))
              for W, W0 in zip(params.weights, params0.weights)]
    return jnp.stack(hidden + [jnp.linalg.norm(params.readout - params0.readout)])


def _loss(params, x, y):
    return jnp.mean(jax.nn.softplus(-y * deep.forward(params, x)[1]))


@functools.partial(jax.jit, static_argnames=("widths", "steps", "activation"))
def train_lazy_deep(key, x, y, *, widths: tuple, C0: float, lr: float, steps: int,
                    activation: str = "relu") -> LazyDeepResult:
    """Draw a network with ``key`` and train every layer by projected gradient descent.

    Jitted; no validation (inputs are trusted). For a stack of networks,
    ``jax.vmap(lambda k: train_lazy_deep(k, x, y, ...))(keys)``.

    Args:
        key: ``jax.random`` key of the initial weights (:func:`ntk_attack.deep.init_deep`).
        x: `(N, d)` training inputs (unit rows).
        y: `(N,)` labels ``+-1``.
        widths: hidden widths ``(n_1, ..., n_L)``.
        C0: lazy radius (module docstring).
        lr: gradient-descent step.
        steps: number of steps.
        activation: as in :func:`ntk_attack.deep.init_deep`.

    Returns:
        :class:`LazyDeepResult`.
    """
    params0 = deep.init_deep(key, x.shape[1], widths, activation=activation, dtype=x.dtype)

    def step(params, _):
        loss, grad = jax.value_and_grad(_loss)(params, x, y)
        moved = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grad)
        return project_deep(moved, params0, C0), loss

    params, losses = jax.lax.scan(step, params0, None, length=steps)
    losses = jnp.append(losses, _loss(params, x, y))
    return LazyDeepResult(params0, params, lazy_radius(params, params0), losses)
