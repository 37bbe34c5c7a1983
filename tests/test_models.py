"""The two-layer model against the exact facts at initialisation (THEORY.md sections 1-2)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_close

from ntk_attack import models

N_NETWORKS = 40_000  # resolves the -1/(2 pi) = -0.159 term: its standard error is ~0.007


def unit(key, shape):
    x = jax.random.normal(key, shape)
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def networks(key, d, m, signs, n=N_NETWORKS):
    return jax.vmap(lambda k: models.init_two_layer(k, d, m, signs=signs))(jax.random.split(key, n))


def mean_within(samples, expected, *, n_sigma=4.0):
    """The sample mean lies within ``n_sigma`` standard errors of ``expected`` (false alarm ~6e-5)."""
    samples = np.asarray(samples)
    standard_error = samples.std(ddof=1) / np.sqrt(samples.size)
    return abs(samples.mean() - expected) <= n_sigma * standard_error, samples.mean(), standard_error


@pytest.mark.parametrize("signs", models.SIGNS)
def test_homogeneity(key, signs):
    params = models.init_two_layer(key, 32, 64, signs=signs)
    x = 3.0 * unit(jax.random.PRNGKey(1), (50, 32))
    lhs = jnp.sum(x * models.input_grad(params, x), axis=1)
    assert_close(lhs, models.apply(params, x), atol=1e-10, why="x . grad f = f exactly; float64 sums of 64 terms")


def test_closed_form_gradient_equals_autodiff(key):
    params = models.init_two_layer(key, 16, 32)
    x = unit(jax.random.PRNGKey(2), (20, 16))
    autodiff = jax.vmap(jax.grad(lambda p: models.apply(params, p)))(x)
    assert_close(models.input_grad(params, x), autodiff, atol=1e-13, why="same sum, float64 rounding")


def test_float32_apply_and_input_grad(key):
    d, m = 64, 1024
    params = models.init_two_layer(key, d, m, dtype=jnp.float32)
    x = unit(jax.random.PRNGKey(9), (50, d)).astype(jnp.float32)
    f, grad = models.apply(params, x), models.input_grad(params, x)
    assert params.W.dtype == f.dtype == grad.dtype == jnp.float32
    params64 = models.TwoLayer(params.W.astype(jnp.float64), params.a.astype(jnp.float64))
    x64 = x.astype(jnp.float64)
    assert_close(f, models.apply(params64, x64), atol=1e-5,
                 why="float32 rounding of d = 64 products and m = 1024 terms; measured <= 4e-7")
    assert_close(jnp.sum(x * grad, axis=1), f, atol=1e-5, why="x . grad f = f, float32 rounding")
    # A gate with |w_s . x| below float32 rounding may differ from float64's and move the
    # gradient by w_s / sqrt(m): compare the points where every |w_s . x| > 1e-4 only.
    clear = np.asarray(jnp.min(jnp.abs(models.preactivations(params64, x64)), axis=1) > 1e-4)
    assert clear.sum() >= 40
    assert_close(grad[clear], models.input_grad(params64, x64)[clear], atol=1e-5,
                 why="same gates; float32 sums of m = 1024 rows; measured <= 2e-6")


def test_single_point_and_batch_agree(key):
    params = models.init_two_layer(key, 8, 16)
    x = unit(jax.random.PRNGKey(3), (5, 8))
    assert models.apply(params, x[0]).shape == ()
    assert models.input_grad(params, x[0]).shape == (8,)
    assert_close(models.apply(params, x)[0], models.apply(params, x[0]), atol=1e-15, why="same arithmetic")


def test_balanced_gradient_norm_at_init(key):
    d, m = 4, 16
    x = unit(jax.random.PRNGKey(4), (d,))
    params = networks(key, d, m, "balanced")
    grad_sq = jnp.sum(jax.vmap(models.input_grad, (0, None))(params, x) ** 2, axis=1)
    ok, mean, se = mean_within(grad_sq, d / 2 - 1 / (2 * np.pi))
    assert ok, f"E ||grad f||^2 = {mean:.4f} +- {se:.4f}, expected d/2 - 1/(2 pi) = {d / 2 - 1 / (2 * np.pi):.4f}"
    resolved, _, _ = mean_within(grad_sq, d / 2)
    assert not resolved, "the sample must resolve the -1/(2 pi) term, or the check above says nothing"


def test_random_signs_gradient_norm_at_init(key):
    d, m = 4, 16
    x = unit(jax.random.PRNGKey(5), (d,))
    params = networks(key, d, m, "random")
    grad_sq = jnp.sum(jax.vmap(models.input_grad, (0, None))(params, x) ** 2, axis=1)
    ok, mean, se = mean_within(grad_sq, d / 2)
    assert ok, f"E ||grad f||^2 = {mean:.4f} +- {se:.4f}, expected d/2 = {d / 2}"


@pytest.mark.parametrize("signs, expected", [("balanced", 0.5 - 1 / (2 * np.pi)), ("random", 0.5)])
def test_output_second_moment_at_init(key, signs, expected):
    x = unit(jax.random.PRNGKey(6), (4,))
    f = jax.vmap(models.apply, (0, None))(networks(key, 4, 16, signs), x)
    assert mean_within(f, 0.0)[0], "E f = 0"
    ok, mean, se = mean_within(f ** 2, expected)
    assert ok, f"E f^2 = {mean:.4f} +- {se:.4f}, expected {expected:.4f}"


def test_antisymmetric_init_is_exactly_zero(key):
    params = models.init_two_layer(key, 10, 64, signs="antisymmetric")
    x = unit(jax.random.PRNGKey(7), (100, 10))
    for fn in (models.apply, jax.jit(models.apply), models.input_grad, jax.jit(models.input_grad)):
        assert np.all(np.asarray(fn(params, x)) == 0.0)


def test_balanced_signs_are_balanced(key):
    assert float(models.init_two_layer(key, 3, 10).a.sum()) == 0.0


def test_same_key_same_bits(key):
    first, second = models.init_two_layer(key, 7, 12), models.init_two_layer(key, 7, 12)
    assert np.array_equal(first.W, second.W) and np.array_equal(first.a, second.a)
    assert not np.array_equal(first.W, models.init_two_layer(jax.random.PRNGKey(1), 7, 12).W)


def test_bubeck_conversion_round_trip(key):
    params = models.init_two_layer(key, 25, 40)
    x = unit(jax.random.PRNGKey(8), (6, 25))
    params_b, x_b = models.to_bubeck(params, x)
    assert_close(jnp.linalg.norm(x_b, axis=1), 5.0, rtol=1e-14, why="||x|| = sqrt(d) = 5")
    assert_close(models.apply(params_b, x_b), models.apply(params, x), atol=1e-13, why="w . x unchanged")
    assert_close(models.input_grad(params_b, x_b), models.input_grad(params, x) / 5.0, atol=1e-13,
                 why="gradients shrink by sqrt(d)")
    params_back, x_back = models.from_bubeck(params_b, x_b)
    assert_close(params_back.W, params.W, atol=1e-14, why="round trip")
    assert_close(x_back, x, atol=1e-15, why="round trip")


@pytest.mark.parametrize("kwargs, message", [
    (dict(d=4, m=7, signs="balanced"), "m must be even"),
    (dict(d=4, m=7, signs="antisymmetric"), "m must be even"),
    (dict(d=0, m=8), "d must be an integer >= 1"),
    (dict(d=4, m=0), "m must be an integer >= 1"),
    (dict(d=4, m=8, signs="gaussian"), "signs must be one of"),
], ids=["odd-m-balanced", "odd-m-antisymmetric", "d-zero", "m-zero", "unknown-signs"])
def test_init_rejects_bad_arguments(key, kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.init_two_layer(key, **kwargs)


def test_odd_width_allowed_with_random_signs(key):
    assert models.init_two_layer(key, 4, 7, signs="random").W.shape == (7, 4)


@pytest.mark.parametrize("x, message", [
    (np.ones(5), "shape"), (np.ones((2, 3, 4)), "shape"),
    (np.array([1.0, np.nan, 0, 0]), "finite"), (np.array([[np.inf, 0, 0, 0]]), "finite"),
], ids=["wrong-dim", "rank-3", "nan", "inf"])
def test_apply_rejects_bad_points(key, x, message):
    params = models.init_two_layer(key, 4, 8)
    for fn in (models.apply, models.input_grad):
        with pytest.raises(ValueError, match=message):
            fn(params, x)
