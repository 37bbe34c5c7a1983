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


def check_samples(x, y, *, x_name: str = "x", y_name: str = "y", d: int | None = None,
                  why_d: str = ""):
    """Check a training set: ``x`` `(n, d)` with ``n >= 1``, ``y`` `(n,)`, both finite.

    Args:
        d: the required number of columns, or None for any; ``why_d`` explains it.

    Returns:
        ``(x, y)`` as numpy arrays.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or (d is not None and x.shape[1] != d):
        want = "(n, d)" if d is None else f"(n, d) with d = {d}{why_d}"
        raise ValueError(f"{x_name} must have shape {want}. Got shape {x.shape}.")
    if x.shape[0] == 0:
        raise ValueError(f"{x_name} must hold at least one training point. Got shape {x.shape}.")
    if y.shape != (x.shape[0],):
        raise ValueError(f"{y_name} must have shape (n,) with n = {x.shape[0]}, one per row of "
                         f"{x_name}. Got shape {y.shape}.")
    check_finite(x, x_name)
    check_finite(y, y_name)
    return x, y


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Got {value!r}.")
    return int(value)


def check_choice(value, name: str, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}. Got {value!r}.")
    return value
