"""The paper code's fixed-step line search (THEORY.md section 7): the baseline that
``benchmarks/min_flip.py`` times :func:`ntk_attack.attacks.min_flip` against.

It is not part of the library's public attacks: it overestimates ``eta*`` by up to one step
and costs one forward pass per step. It reuses the attack module's direction and result
helpers, so its ``FlipResult`` means what ``min_flip``'s does.
"""
import functools
from typing import Callable

import jax
import jax.numpy as jnp

from ntk_attack._checks import check_model, check_positive, check_positive_int
from ntk_attack.attacks import (FlipResult, _direction, _result, _status, batched, unbatch,
                                value_and_grad)


@functools.partial(jax.jit, static_argnames=("apply_fn", "max_steps"))
def _line_search(params, x, step, *, apply_fn, max_steps: int):
    f = batched(apply_fn)
    f0, grad = value_and_grad(f, params, x)
    grad_norm = jnp.linalg.norm(grad, axis=-1)
    u = _direction(f0, grad, grad_norm)
    searchable = (f0 != 0) & (grad_norm > 0)

    def cond(state):
        k, eta, done = state
        return (k <= max_steps) & jnp.any(~done)

    def body(state):
        k, eta, done = state
        t = k * step
        hit = ~done & (jnp.sign(f0) * f(params, x + t * u) <= 0)
        return k + 1, jnp.where(hit, t, eta), done | hit

    init = (1, jnp.full_like(f0, jnp.inf), ~searchable)
    _, eta, done = jax.lax.while_loop(cond, body, init)
    status = _status(done & searchable, f0, grad_norm)
    return _result(eta, status, f0, grad_norm, jnp.full_like(f0, max_steps * step))


def line_search_reference(params, x, *, step: float = 0.001, max_steps: int = 5000,
                          apply_fn: Callable | None = None) -> FlipResult:
    """The paper code's fixed-step search (THEORY.md section 7), batched; baseline only.

    Tries ``eta = k * step`` for ``k = 1, ..., max_steps`` along ``u`` and keeps the first with a
    changed sign, so ``eta`` overestimates ``eta*`` by up to ``step`` (coarse next to
    ``1/sqrt(d)``). The batch advances together until every point has flipped: one forward pass
    per step.

    Args:
        params, x, apply_fn: as in :func:`min_flip`.
        step: step length, ``> 0``.
        max_steps: number of steps, ``>= 1``.

    Returns:
        :class:`FlipResult` with ``searched_max = step * max_steps``.
    """
    batch, single = check_model(params, x, apply_fn)
    step = check_positive(step, "step")
    max_steps = check_positive_int(max_steps, "max_steps")
    return unbatch(_line_search(params, batch, step, apply_fn=apply_fn, max_steps=max_steps),
                    single)
