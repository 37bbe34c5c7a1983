"""Predictors of THEORY.md section 6: the linearised network, kernel regression, ensembles."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_close

from ntk_attack import kernels, models, predictors, training


def unit(key, shape):
    x = jax.random.normal(key, shape)
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture
def regression():
    """30 training and 10 test points on the sphere in d = 6, a smooth real target."""
    x = unit(jax.random.PRNGKey(1), (40, 6))
    return x[:30], jnp.tanh(3 * x[:30, 0]), x[30:]


def central_difference(fn, x, v, h):
    return (fn(x + h * v) - fn(x - h * v)) / (2 * h)


# --- linearize ---------------------------------------------------------------------------------

def trained_pair(key, d=8, m=64):
    x = unit(jax.random.PRNGKey(3), (20, d))
    params0 = models.init_two_layer(key, d, m)
    trained = training.train(None, params0, x, jnp.tanh(2 * x[:, 0]), loss="squared", lr=1.0, steps=20)
    return params0, trained.params


@pytest.mark.usefixtures("neural_tangents")
def test_linearize_matches_neural_tangents(key):
    params0, trained = trained_pair(key)
    x = unit(jax.random.PRNGKey(4), (15, 8))
    nt_lin = kernels.nt_linearize(models.apply, params0)
    assert_close(predictors.linearize(params0).apply(trained.W, x), nt_lin(trained, x), atol=1e-13,
                 why="the same first-order Taylor model, float64 sums of 64 terms")


def test_linearize_at_W0_is_the_network_and_its_gradient_is_the_pointwise_one(key):
    params0, trained = trained_pair(key)
    lin = predictors.linearize(params0)
    x = unit(jax.random.PRNGKey(4), (15, 8))
    assert_close(lin.apply(params0.W, x), models.apply(params0, x), atol=1e-14, why="relu(z) = 1[z > 0] z")
    autodiff = jax.vmap(jax.grad(lambda z: lin.apply(trained.W, z)))(x)
    assert_close(lin.input_grad(trained.W, x), autodiff, atol=1e-13, why="closed form vs jax.grad, float64")
    gates = (x @ params0.W.T > 0) * params0.a / 8
    assert_close(lin.input_grad(trained.W, x), gates @ trained.W, atol=1e-14, why="THEORY.md 6.2 formula")


def test_linearized_gradient_matches_finite_differences_off_the_gates(key):
    params0, trained = trained_pair(key)
    lin = predictors.linearize(params0)
    x = unit(jax.random.PRNGKey(5), (6, 8))
    v = unit(jax.random.PRNGKey(6), (6, 8))
    h = 1e-6
    # f_lin is linear in x between sign changes of w_s,0 . x: exact there up to eps/h rounding.
    z0 = x @ params0.W.T
    assert bool(jnp.all(jnp.abs(z0) > h * jnp.abs(v @ params0.W.T)))
    fd = jnp.stack([central_difference(lambda z: lin.apply(trained.W, z), x[i], v[i], h) for i in range(6)])
    assert_close(fd, jnp.sum(lin.input_grad(trained.W, x) * v, axis=1), atol=1e-9, why="eps/h = 1e-10 rounding")


def test_linearize_rejects_a_wrong_shape(key):
    params0, _ = trained_pair(key)
    with pytest.raises(ValueError, match="W must have the shape of params0.W"):
        predictors.linearize(params0).apply(params0.W[:-1], jnp.ones(8))


# --- ntk_regression ----------------------------------------------------------------------------

def iterate_gradient_descent(gram, y, steps, lr):
    """``c <- c - (lr/n) (G c - y)``: gradient descent on the linear model, in coefficients."""
    c = jnp.zeros_like(y)
    for _ in range(steps):
        c = c - lr / len(y) * (gram @ c - y)
    return c


@pytest.mark.parametrize("ridge", [0.0, 1e-2], ids=["no-ridge", "ridge"])
def test_gradient_descent_predictor_equals_the_iteration(regression, ridge):
    x, y, xt = regression
    h = predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, ridge=ridge, steps=37, lr=2.0)
    gram = kernels.ntk_first_layer(x, x) + ridge * jnp.eye(len(x))
    c = iterate_gradient_descent(gram, y, 37, 2.0)
    assert_close(h.coef, c, rtol=1e-10, atol=1e-12, why="spectral formula vs 37 float64 iterations")
    assert_close(h.apply(xt), kernels.ntk_first_layer(xt, x) @ c, rtol=1e-10, atol=1e-12, why="same")


def test_gradient_descent_predictor_handles_a_singular_gram(regression):
    x, y, xt = regression
    x = jnp.concatenate([x, x[:3]])  # duplicate points: Theta(X, X) is singular
    y = jnp.concatenate([y, y[:3]])
    h = predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, ridge=0.0, steps=25, lr=1.0)
    c = iterate_gradient_descent(kernels.ntk_first_layer(x, x), y, 25, 1.0)
    assert_close(h.apply(xt), kernels.ntk_first_layer(xt, x) @ c, rtol=1e-9, atol=1e-12,
                 why="zero eigenvalues take the limit t lr / n; float64")


def test_converged_ridge_predictor_solves_the_system_and_is_the_long_time_limit(regression):
    x, y, xt = regression
    ridge = 1e-3
    h = predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, ridge=ridge)
    gram = np.asarray(kernels.ntk_first_layer(x, x)) + ridge * np.eye(len(x))
    assert_close(h.coef, np.linalg.solve(gram, np.asarray(y)), rtol=1e-9,
                 why="Cholesky vs LU; condition number ~1e3")
    long = predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, ridge=ridge, steps=10 ** 7, lr=1.0)
    assert_close(long.apply(xt), h.apply(xt), rtol=1e-8, atol=1e-10,
                 why="(1 - lr lambda_min / n)^t < 1e-100 at t = 1e7; float64")


def test_predictor_input_gradient_matches_finite_differences(regression):
    x, y, xt = regression
    h = predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, ridge=0.0, steps=50, lr=2.0)
    v = unit(jax.random.PRNGKey(7), xt.shape)
    grad = h.input_grad(xt)
    fd = jnp.stack([central_difference(h.apply, xt[i], v[i], 1e-5) for i in range(len(xt))])
    # smooth off the training points: truncation h^2 f'''/6 ~ 1e-10, rounding eps/h ~ 1e-11.
    assert_close(fd, jnp.sum(grad * v, axis=1), atol=1e-7, why="central differences, h = 1e-5")
    assert grad.shape == xt.shape and h.input_grad(xt[0]).shape == (6,)
    assert_close(h.input_grad(xt[0]), grad[0], atol=1e-15, why="one point and a batch, same arithmetic")


def test_predictor_gradient_is_finite_at_training_points(regression):
    x, y, _ = regression
    h = predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, ridge=1e-6)
    assert bool(jnp.all(jnp.isfinite(h.input_grad(x)))), "cone singularity of Theta_W: a convention, never NaN"


def test_gradient_splits_into_angle_free_part_and_angle_term(regression):
    x, y, xt = regression
    h = predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, ridge=0.0, steps=50, lr=2.0)
    cos = xt @ x.T
    sin = jnp.sqrt(1 - cos ** 2)
    grad_theta = -(x[None] - cos[..., None] * xt[:, None]) / sin[..., None]  # unit-norm points
    angle = -jnp.einsum("i,ni,nid->nd", h.coef, cos, grad_theta) / (2 * jnp.pi)
    assert_close(predictors.angle_free_input_grad(h, xt) + angle, h.input_grad(xt), atol=1e-12,
                 why="THEORY.md 6.2 closed form vs jax.grad, float64")
    kappa0 = (jnp.pi - jnp.arccos(cos)) / (2 * jnp.pi)
    assert_close(predictors.angle_free_input_grad(h, xt), (kappa0 * h.coef) @ x, atol=1e-14, why="same formula")


def test_wide_network_moves_like_the_kernel_predictor(key):
    """``f_t - f_0 ~= h_t(.; Y - f_0(X))`` for a wide network (THEORY.md 6); error ~ m^(-1/2)."""
    x = unit(jax.random.PRNGKey(8), (60, 8))
    xt, x = x[:10], x[10:]
    y = jnp.tanh(3 * x[:, 0])
    params0 = models.init_two_layer(key, 8, 16384)
    trained = training.train(None, params0, x, y, loss="squared", lr=2.0, steps=40).params
    h = predictors.ntk_regression(x, y - models.apply(params0, x), kernel=kernels.ntk_first_layer,
                                  ridge=0.0, steps=40, lr=2.0)
    moved = models.apply(trained, xt) - models.apply(params0, xt)
    scale = float(jnp.max(jnp.abs(h.apply(xt))))
    # Monte-Carlo kernel error at m = 16384 is ~1% of the kernel; allow 5% of the largest move.
    assert_close(moved, h.apply(xt), atol=0.05 * scale, why="finite-width kernel, m = 16384")


@pytest.mark.parametrize("kwargs, match", [
    (dict(ridge=-1e-3), "ridge must be a finite number >= 0"),
    (dict(ridge=float("inf")), "ridge must be a finite number >= 0"),
    (dict(ridge=0.0, lr=1.0), "lr must be None when steps is None"),
    (dict(ridge=0.0, steps=10), r"lr \(with steps\) must be a finite number > 0; got None"),
    (dict(ridge=0.0, steps=-1, lr=1.0), "steps must be an integer >= 0"),
    (dict(ridge=0.0, steps=10, lr=1e3), "lr must satisfy lr \\* lambda_max / n < 2"),
], ids=["negative-ridge", "infinite-ridge", "lr-without-steps", "steps-without-lr", "negative-steps",
        "unstable-lr"])
def test_bad_regression_options_raise(regression, kwargs, match):
    x, y, _ = regression
    with pytest.raises(ValueError, match=match):
        predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, **kwargs)


def test_singular_gram_without_ridge_suggests_a_ridge(regression):
    x, y, _ = regression
    x, y = jnp.concatenate([x, x[:1]]), jnp.concatenate([y, y[:1]])
    with pytest.raises(ValueError, match="singular.*Pass ridge > 0"):
        predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, ridge=0.0)
    predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, ridge=1e-6)  # the suggested fix works


def test_mismatched_lengths_and_shapes_raise(regression):
    x, y, _ = regression
    with pytest.raises(ValueError, match="y_train must have shape"):
        predictors.ntk_regression(x, y[:-1], kernel=kernels.ntk_first_layer, ridge=0.0)
    with pytest.raises(ValueError, match="x_train must have shape"):
        predictors.ntk_regression(x[0], y[:1], kernel=kernels.ntk_first_layer, ridge=0.0)
    with pytest.raises(ValueError, match="y_train must be finite"):
        predictors.ntk_regression(x, y.at[0].set(jnp.nan), kernel=kernels.ntk_first_layer, ridge=0.0)


# --- ensembles ---------------------------------------------------------------------------------

def test_ensemble_is_the_mean_over_networks(key):
    stack = jax.vmap(lambda k: models.init_two_layer(k, 6, 32))(jax.random.split(key, 5))
    x = unit(jax.random.PRNGKey(9), (7, 6))
    values = [models.apply(models.TwoLayer(stack.W[j], stack.a[j]), x) for j in range(5)]
    grads = [models.input_grad(models.TwoLayer(stack.W[j], stack.a[j]), x) for j in range(5)]
    assert_close(predictors.ensemble_apply(stack, x), np.mean(values, axis=0), atol=1e-14, why="float64 mean")
    assert_close(predictors.ensemble_input_grad(stack, x), np.mean(grads, axis=0), atol=1e-14, why="float64 mean")
    with pytest.raises(ValueError, match="params must be a stack"):
        predictors.ensemble_apply(models.TwoLayer(stack.W[0], stack.a[0]), x)
