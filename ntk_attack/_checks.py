"""Validation at the public edge: eager checks that raise ``ValueError`` naming the argument.

Every message has one form, ``"name must be ...; got ..."``. Inner jitted code trusts its
inputs; these helpers skip value checks on tracers so the public functions stay usable under
``jax.jit``, ``jax.vmap`` and ``jax.grad``.

Sizes are checked with :mod:`ntk_attack._memory` (the estimates, free of JAX); the helpers
here add what needs the arrays: :func:`itemsize` and :func:`check_network_memory`.
"""
import math

import jax
import numpy as np

from ntk_attack._memory import check_memory


def is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


# ---------------------------------------------------------------------------- arrays

def check_points(x, d: int, name: str = "x"):
    """Check that ``x`` is one point ``(d,)`` or a batch ``(n, d)`` of finite numbers."""
    shape = np.shape(x)
    if len(shape) not in (1, 2) or shape[-1] != d:
        raise ValueError(f"{name} must have shape (d,) or (n, d) with d = {d}; got shape {shape}.")
    check_finite(x, name)
    return x


def check_finite(x, name: str):
    """Check that ``x`` holds real numbers (bool, integer or float) and no NaN or inf."""
    if is_traced(x):
        return x
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers; got dtype {array.dtype}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite; got {array.size - np.isfinite(array).sum()} "
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
        raise ValueError(f"{x_name} must have shape {want}; got shape {x.shape}.")
    if x.shape[0] == 0:
        raise ValueError(f"{x_name} must hold at least one training point; got shape {x.shape}.")
    if y.shape != (x.shape[0],):
        raise ValueError(f"{y_name} must have shape (n,) with n = {x.shape[0]}, one per row of "
                         f"{x_name}; got shape {y.shape}.")
    check_finite(x, x_name)
    check_finite(y, y_name)
    return x, y


def check_labels(y, name: str = "y", *, why: str = ""):
    """Check that ``y`` holds only the labels -1 and +1 (``why``: when that is required)."""
    if is_traced(y):
        return y
    values = np.asarray(y)
    if values.dtype.kind not in "biuf" or not np.all((values == 1) | (values == -1)):
        found = np.unique(values) if values.dtype.kind in "biuf" else values.dtype
        raise ValueError(f"{name} must hold labels in {{-1, +1}}{why}; got values "
                         f"{found[:5] if isinstance(found, np.ndarray) else found}"
                         f"{' ...' if np.size(found) > 5 else ''}.")
    return y


# ---------------------------------------------------------------------------- numbers

def check_number(value, name: str, *, minimum: float = 0.0, strict: bool = False) -> float:
    """A finite real number ``>= minimum`` (``> minimum`` when ``strict``), as a float."""
    try:
        number = float(value) if not isinstance(value, (bool, str)) and np.ndim(value) == 0 else None
    except (TypeError, ValueError):
        number = None
    if number is None or not math.isfinite(number) or number < minimum \
            or (strict and number == minimum):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {minimum:g}; "
                         f"got {value!r}.")
    return number


def check_nonnegative(value, name: str) -> float:
    return check_number(value, name)


def check_positive(value, name: str) -> float:
    return check_number(value, name, strict=True)


def check_fraction(value, name: str) -> float:
    """A number in the open interval ``(0, 1)``."""
    number = check_number(value, name)
    if not 0 < number < 1:
        raise ValueError(f"{name} must be in (0, 1); got {value!r}.")
    return number


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_choice(value, name: str, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}.")
    return value


def check_key(key, name: str = "key"):
    """A ``jax.random`` key (a typed key or a raw ``uint32`` array of shape ``(2,)``)."""
    if is_traced(key):
        return key
    raw = isinstance(key, (jax.Array, np.ndarray)) and (
        jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
        or (key.dtype == np.uint32 and key.shape[-1:] == (2,)))
    if not raw:
        raise ValueError(f"{name} must be a jax.random key (e.g. jax.random.PRNGKey(0)); got "
                         f"{type(key).__name__}{'' if key is None else f' {np.shape(key)}'}.")
    return key


# ---------------------------------------------------------------------------- the model

def check_model(params, x, apply_fn):
    """Validate ``x`` (and ``params`` for the built-in network); return ``(x (n, d), single)``."""
    from ntk_attack.models import check_params

    if apply_fn is None:
        check_params(params)
        check_points(x, params.d)
    else:
        if not callable(apply_fn):
            raise ValueError(f"apply_fn must be None or a callable apply_fn(params, x); got "
                             f"{apply_fn!r}.")
        if np.ndim(x) not in (1, 2):
            raise ValueError(f"x must have shape (d,) or (n, d); got shape {np.shape(x)}.")
        check_finite(x, "x")
    x = jax.numpy.asarray(x)
    if apply_fn is None:
        check_network_memory(params, x)
    return jax.numpy.atleast_2d(x), x.ndim == 1


# ---------------------------------------------------------------------------- sizes

def itemsize(dtype=None) -> int:
    """Bytes per entry of ``dtype`` (the JAX default float when None)."""
    return np.dtype(dtype or jax.numpy.zeros(()).dtype).itemsize


def check_network_memory(params, x, *, arrays: int = 4) -> None:
    """Refuse a batch whose ``arrays`` `(n, m)` activations of the two-layer network do not fit."""
    n, (m, _) = (x.shape[0] if x.ndim == 2 else 1), params.W.shape
    check_memory(arrays * n * m * itemsize(jax.numpy.result_type(params.W, x)), name="n * m",
                 got=f"n = {n}, m = {m}", what=f"{arrays} (n, m) activation arrays")
