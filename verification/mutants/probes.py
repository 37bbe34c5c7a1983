"""Behavioural probes of the planted bugs: one small, fixed call per mutated function.

Each probe returns a pytree of arrays computed by the library on a fixed input; a mutant's
probe must return something else while the mutant is active (``tests/test_mutants.py``), in
well under a second. A probe that stops changing means the mutant no longer reaches the code
it was written for. Sizes are tiny (``d = 4``, ``m = 8``): a probe tests reach, not statistics.
The test runs probes under :func:`jax.disable_jit` with ``mutant(eager=True)``: nothing traced
is reused, so entering a mutant recompiles nothing.
"""
import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import (adversarial, attacks, bounds, data, deep, deep_training, kernels,
                        labelled_attacks, models, predictors, theory, training)

D, M = 4, 8


def _key(i: int = 0):
    return jax.random.PRNGKey(i)


def _points(n: int = 5, d: int = D):
    x = jax.random.normal(_key(1), (n, d))
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def _params():
    return models.init_two_layer(_key(0), D, M)


def _labels(n: int = 5):
    return jnp.where(jnp.arange(n) % 2 == 0, 1.0, -1.0)


def analytic_kernels():
    x = _points()
    return kernels.nngp(x, x), kernels.ntk_first_layer(x, x)


def empirical_ntk():
    return kernels.empirical_ntk(_params(), _points())


def at_kinks():
    """Every neuron at its kink (``x = 0``)."""
    params, zero = _params(), jnp.zeros((2, D))
    return models.input_grad(params, zero), predictors.linearize(params).input_grad(params.W, zero)


def init():
    return models.init_two_layer(_key(0), D, M).W


def network():
    return models.apply(_params(), _points())


def kernel_gradient():
    x = _points()
    return jax.grad(lambda z: kernels.ntk_first_layer(z, x[1]))(x[0])


def predictor_gradient():
    x = _points()
    return predictors.ntk_regression(x, _labels(), kernel=kernels.ntk_first_layer,
                                     ridge=0.1).input_grad(x[0])


def training_loss():
    params = _params()
    return training._network_loss(params.W, params.a, _points(), _labels(), "squared")[0]


def ensemble_gradient():
    stack = jax.vmap(lambda k: models.init_two_layer(k, D, M))(jax.random.split(_key(2), 3))
    return predictors.ensemble_input_grad(stack, _points())


def C0_hat():
    W0 = _params().W
    return training.C0_hat(W0 + 0.1, W0)


def row_radius():
    return jnp.asarray(theory.row_radius(1.0, 16))


def flip():
    return attacks.min_flip(_params(), _points()).eta


def breakpoint_walk():
    h0, s0 = np.array([1.0]), np.array([-0.5])
    t, ds = np.array([[1.0, 3.0]]), np.array([[0.25, 0.0]])
    return attacks._first_zero_sorted(h0, s0, t, ds)


def attack_direction():
    f0, grad = jnp.array([0.5, -0.3]), jnp.array([[3.0, 4.0], [1.0, 0.0]])
    return attacks._direction(f0, grad, jnp.linalg.norm(grad, axis=-1))


def envelope():
    f0, g = np.array([0.1, -0.4]), np.array([5.0, 6.0])
    return theory.lazy_envelope(f0, g, C0=0.1, d=64, m=1024, kappa_d=1.2)


def kappa():
    return jnp.asarray(bounds.calibrate_kappa(_key(3), D, M, n_networks=2, n_points=64).kappa)


def K_hat():
    ratios = np.random.default_rng(0).exponential(size=(6, 20))
    return np.asarray(bounds.K_hat(ratios, seed=0, n_resamples=50))


def split():
    return data.sphere(_key(4), 10, 3).y_test


def pgd():
    return labelled_attacks.pgd(_params(), _points(), _labels(), eps=0.01, steps=5,
                                step_size=0.01).delta


def adversarial_training():
    x, y = _points(6), _labels(6)
    return adversarial.adversarial_train(_key(5), _params(), x, y, eps=0.1, C0=0.5, epochs=2,
                                         lr=5.0, patience=2, attack_steps=2).params.W


def _deep_params():
    return deep.init_deep(_key(6), D, (5, 5, 5))  # two hidden-to-hidden layers of one shape


def deep_output():
    return deep.apply_deep(_deep_params(), _points())


def deep_init():
    params = _deep_params()
    return params.weights, params.readout


def deep_projection():
    params0 = _deep_params()
    moved = jax.tree_util.tree_map(lambda p: p + 1.0, params0)
    return deep_training.project_deep(moved, params0, 0.5)


def deep_flip():
    return deep.min_flip_deep(_deep_params(), _points()).eta
