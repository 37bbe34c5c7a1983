"""Invariants as hypothesis properties, bounded to a few seconds in all.

Already covered elsewhere, not repeated here:

* analytic kernels, symmetric, PSD, positively homogeneous in each argument, finite input
  gradients at coincident, antipodal and zero points: ``tests/test_kernels.py``
  (``test_symmetric``, ``test_positive_semidefinite``,
  ``test_positively_homogeneous_in_each_argument``,
  ``test_input_gradients_finite_at_coincident_antipodal_and_zero_points``);
* ``min_flip`` flips and is minimal: ``tests/test_attacks.py::test_property_flips_and_is_minimal``
  (and ``test_property_scale_invariance``);
* projection onto the lazy ball is idempotent and never increases the distance:
  ``tests/test_training.py::test_project_rows_is_idempotent_and_never_increases_distance``.

Shapes are drawn from short lists: each new shape costs a compilation.
"""
import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

from ntk_attack import kernels, models

# d = 1 makes every pair of points coincident or antipodal; m = 1 and 2 are the smallest widths.
DIMS, WIDTHS = (1, 3, 16), (1, 2, 64)
seeds = st.integers(0, 2 ** 31 - 1)
scales = st.floats(1e-3, 1e3)  # inputs of any norm: the model is positively homogeneous


def network(seed, d, m, signs):
    signs = "random" if m % 2 else signs  # balanced and antisymmetric need an even width
    key_net, key_x = jax.random.split(jax.random.PRNGKey(seed))
    return models.init_two_layer(key_net, d, m, signs=signs), jax.random.normal(key_x, (8, d))


def term_scale(params, x):
    """``||x|| sum_s ||w_s|| / sqrt(m)``, per point: a bound on the sum of |terms| of ``f(x)``."""
    return np.linalg.norm(x, axis=-1) * float(jnp.sum(jnp.linalg.norm(params.W, axis=1))) / np.sqrt(params.m)


@given(seeds, st.sampled_from(DIMS), st.sampled_from(WIDTHS), st.sampled_from(models.SIGNS), scales)
def test_euler_identity_and_homogeneity(seed, d, m, signs, c):
    """``x . grad f(x) = f(x)`` and ``f(c x) = c f(x)``, ``grad f(c x) = grad f(x)`` for ``c > 0``."""
    params, x = network(seed, d, m, signs)
    x = c * x
    f, grad = models.apply(params, x), models.input_grad(params, x)
    atol = 1e-12 * float(np.max(term_scale(params, x)))
    assert_close(jnp.sum(x * grad, axis=1), f, atol=atol,
                 why="both sides are sums of m terms of size <= ||w_s|| ||x||; float64 rounding")
    assert_close(models.apply(params, 2.5 * x), 2.5 * f, atol=2.5 * atol,
                 why="the gates of 2.5 x are those of x; float64 rounding of the same sums")
    assert_close(models.input_grad(params, 2.5 * x), grad, atol=0,
                 why="the gates of 2.5 x are those of x, and the gradient depends on x only through them")


@given(seeds, st.sampled_from(DIMS), st.sampled_from(WIDTHS), st.floats(0.0, 10.0), scales,
       st.booleans())
def test_lazy_value_drift_lemma(seed, d, m, C0, c, aligned):
    """``|f(x; W) - f(x; W0)| <= C0 ||x||`` whenever ``max_s ||w_s - w_s,0|| <= C0 / sqrt(m)``.

    THEORY.md section 4: relu is 1-Lipschitz, so each of the m terms moves by at most
    ``||w_s - w_s,0|| ||x|| / sqrt(m)``. ``aligned`` makes the bound attained at the first
    point ``x0``: every neuron active there with margin, every row moved to its boundary in the
    direction ``a_s x0 / ||x0||``, so each term grows by exactly ``C0 ||x0|| / sqrt(m)``.
    """
    params0, x = network(seed, d, m, "balanced")
    x = c * x
    radius = C0 / np.sqrt(m)
    key = jax.random.PRNGKey(seed ^ 0x5EED)
    if aligned:
        unit = x[0] / jnp.linalg.norm(x[0])
        flip = jnp.where(params0.W @ unit >= 0, 1.0, -1.0)[:, None]
        params0 = models.TwoLayer(params0.W * flip + radius * unit, params0.a)  # w_s . x0 >= radius ||x0||
        delta = params0.a[:, None] * unit * radius
    else:  # random directions, radii uniform in [0, radius], one row exactly on the boundary
        k1, k2 = jax.random.split(key)
        direction = jax.random.normal(k1, (m, d))
        direction = direction / jnp.linalg.norm(direction, axis=1, keepdims=True)
        length = radius * jax.random.uniform(k2, (m, 1)).at[0].set(1.0)
        delta = direction * length
    params = models.TwoLayer(params0.W + delta, params0.a)
    drift = jnp.abs(models.apply(params, x) - models.apply(params0, x))
    bound = C0 * jnp.linalg.norm(x, axis=1)
    slack = 1e-12 * (term_scale(params, x) + term_scale(params0, x)) + 1e-12 * bound
    excess = np.asarray(drift - bound - slack)
    assert np.all(excess <= 0), f"drift exceeds C0 ||x|| by {excess.max():.3e} (float64 slack included)"
    if aligned:  # the bound is sharp: the check above has no room to hide an error
        assert_close(drift[0], bound[0], atol=float(slack[0]), why="attained exactly; float64 rounding")


# ---------------------------------------------------------------------------- empirical NTK
# The analytic kernels' properties live in tests/test_kernels.py; these are the finite-width
# kernel's: Theta_hat = (X1 X2^T) * (A1 A2^T) / m is a Schur product of two PSD matrices.

@settings(max_examples=15)
@given(seeds, st.sampled_from(DIMS), st.sampled_from(WIDTHS), st.floats(0.1, 10.0), st.floats(0.1, 10.0))
def test_empirical_ntk_symmetric_psd_and_homogeneous(seed, d, m, s, t):
    params, x = network(seed, d, m, "random")
    x = jnp.concatenate([x, x[:1], -x[:1], 0 * x[:1]])  # a duplicate, an antipode, a zero row
    gram = np.asarray(kernels.empirical_ntk(params, x))
    scale = max(float(np.max(np.abs(gram))), 1e-300)
    assert_close(gram, gram.T, atol=1e-14 * scale, why="x.x' and the gate counts commute; rounding of the dot")
    eig = np.linalg.eigvalsh(gram)
    assert eig[0] >= -1e-12 * scale * len(gram), f"smallest eigenvalue {eig[0]:.3e} of {eig[-1]:.3e}"
    y = jax.random.normal(jax.random.PRNGKey(seed + 1), (5, d))
    assert_close(kernels.empirical_ntk(params, s * x, t * y), s * t * kernels.empirical_ntk(params, x, y),
                 atol=1e-13 * s * t * float(jnp.max(jnp.abs(x))) * float(jnp.max(jnp.abs(y))) * d,
                 why="positive rescaling keeps every gate; float64 rounding of d-term dot products")
    diagonal = kernels.empirical_ntk(params, x, diagonal_axes=(0,))
    active = np.asarray(jnp.sum(models.preactivations(params, x) > 0, axis=1))
    assert_close(diagonal, np.sum(np.asarray(x) ** 2, axis=1) * active / m, rtol=1e-13,
                 why="Theta_hat(x, x) = ||x||^2 (active neurons) / m; float64 dot products")
