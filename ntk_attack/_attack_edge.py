"""The public edge of the attacks: input validation and batching shared by
:mod:`ntk_attack.attacks` and :mod:`ntk_attack.labelled_attacks`."""
import math

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack._checks import check_finite, check_points
from ntk_attack.models import apply, check_params


def check_model(params, x, apply_fn):
    """Validate ``x`` (and ``params`` for the built-in network); return ``(x (n, d), single)``."""
    if apply_fn is None:
        check_params(params)
        check_points(x, params.d)
    else:
        if not callable(apply_fn):
            raise ValueError(f"apply_fn must be None or a callable apply_fn(params, x). Got {apply_fn!r}.")
        if np.ndim(x) not in (1, 2):
            raise ValueError(f"x must have shape (d,) or (n, d). Got shape {np.shape(x)}.")
        check_finite(x, "x")
    x = jnp.asarray(x)
    return jnp.atleast_2d(x), x.ndim == 1


def check_nonnegative(value, name: str) -> float:
    try:
        number = float(value) if not isinstance(value, (bool, str)) and np.ndim(value) == 0 else None
    except (TypeError, ValueError):
        number = None
    if number is None or not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0. Got {value!r}.")
    return number


def check_positive(value, name: str) -> float:
    if check_nonnegative(value, name) == 0:
        raise ValueError(f"{name} must be a finite number > 0. Got {value!r}.")
    return float(value)


def unbatch(result, single: bool):
    return jax.tree_util.tree_map(lambda leaf: leaf[0], result) if single else result


def batched(apply_fn):
    """``apply_fn`` as `(n, d) -> (n,)` (a stax net returns `(n, 1)`); rows act independently."""
    if apply_fn is None:
        return apply
    return lambda params, x: apply_fn(params, x).reshape(x.shape[0])


def value_and_grad(f, params, x):
    """``f(params, x)`` `(n,)` and its input gradient `(n, d)`, assuming rows are independent."""
    value, vjp = jax.vjp(lambda x: f(params, x), x)
    return value, vjp(jnp.ones_like(value))[0]
