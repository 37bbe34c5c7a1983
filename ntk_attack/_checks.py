"""Validation at the public edge: eager checks that raise ``ValueError`` naming the argument.

Inner jitted code trusts its inputs; these helpers skip value checks on tracers so the public
functions stay usable under ``jax.jit``, ``jax.vmap`` and ``jax.grad``.
"""
import jax
import numpy as np


def is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def check_points(x, d: int, name: str = "x"):
    """Check that ``x`` is one point ``(d,)`` or a batch ``(n, d)`` of finite numbers."""
    shape = np.shape(x)
    if len(shape) not in (1, 2) or shape[-1] != d:
        raise ValueError(f"{name} must have shape (d,) or (n, d) with d = {d}. Got shape {shape}.")
    check_finite(x, name)
    return x


def check_finite(x, name: str):
    """Check that ``x`` holds real numbers (bool, integer or float) and no NaN or inf."""
    if is_traced(x):
        return x
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers. Got dtype {array.dtype}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite. Got {array.size - np.isfinite(array).sum()} "
                         "NaN or inf entries.")
    return x


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Got {value!r}.")
    return int(value)


def check_choice(value, name: str, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}. Got {value!r}.")
    return value
