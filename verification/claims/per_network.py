"""Pieces shared by the attack point functions, which attack one network at a time (a network
and its points are one bootstrap unit): test points on the sphere, the per-network rows stacked
into arrays, and the ray evaluated directly at ``eta*`` for the exact sign-change check
(:func:`verification.protocol.sign_change_check`).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

SIGN_CHANGE_STEP = 1e-9  # relative step either side of eta* at which the sign is evaluated


def unit_points(key, n: int, d: int):
    """`(n, d)` points drawn uniformly on the unit sphere."""
    x = jax.random.normal(key, (n, d))
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def stack_rows(rows: list) -> dict:
    """One dict of numpy arrays with a leading networks axis, from one dict of arrays per
    network (all with the same names and shapes)."""
    return {name: np.stack([np.asarray(row[name]) for row in rows]) for name in rows[0]}


@functools.partial(jax.jit, static_argnames="forward")
def values_beside(forward, params, x, eta):
    """``sign(f(x)) f(x + t u)`` at ``t = eta (1 -+ SIGN_CHANGE_STEP)`` along
    ``u = -sign(f) grad f / ||grad f||``, from the forward pass and its autodiff gradient alone
    (no breakpoint or piece walk).

    Args:
        forward: ``forward(params, x) -> (n,)`` outputs at `(n, d)` points (a module-level
            function: it is a static argument).
        params: the network's parameters, as ``forward`` takes them.
        x: `(n, d)` points.
        eta: `(n,)` finite steps (put 0 where there is no ``eta*``).

    Returns:
        ``[below, above]``, two `(n,)` arrays: positive, then non-positive, where ``eta*`` is
        the first sign change.
    """
    f, vjp = jax.vjp(lambda z: forward(params, z), x)
    grad = vjp(jnp.ones_like(f))[0]
    u = -jnp.sign(f)[:, None] * grad / jnp.linalg.norm(grad, axis=-1, keepdims=True)
    return [jnp.sign(f) * forward(params, x + (eta * (1 + step))[:, None] * u)
            for step in (-SIGN_CHANGE_STEP, SIGN_CHANGE_STEP)]
