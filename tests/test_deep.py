"""Deep networks (ntk_attack.deep, the deep part of ntk_attack.theory) against neural-tangents,
an independent bisection, Monte Carlo over networks and their own invariants."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_close
from hypothesis import given
from hypothesis import strategies as st

from ntk_attack import attacks, deep, kernels, theory

ACTIVATIONS = ("relu", "erf", "gelu")


def unit(key, shape):
    x = jax.random.normal(key, shape)
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def pair_kernels(x, depth, activation):
    """``theory.deep_kernel`` on every pair: `(n, n)` NNGP and NTK."""
    f = jax.vmap(jax.vmap(lambda a, b: jnp.stack(theory.deep_kernel(a, b, depth=depth, activation=activation)),
                          (None, 0)), (0, None))
    k = f(x, x)
    return k[..., 0], k[..., 1]


def near_diagonal(x):
    c = np.asarray(x @ x.T) / np.outer(np.linalg.norm(x, axis=1), np.linalg.norm(x, axis=1))
    return np.abs(c) > 1 - 1e-6


# ---------------------------------------------------------------------------- neural-tangents

@pytest.mark.usefixtures("neural_tangents")
@pytest.mark.parametrize("depth, activation", [(1, "relu"), (3, "relu"), (2, "erf")],
                         ids=["relu-L1", "relu-L3", "erf-L2"])
def test_dual_recursion_matches_neural_tangents(key, depth, activation):
    x = unit(key, (6, 5)) * jnp.linspace(0.5, 2.0, 6)[:, None]
    x = jnp.concatenate([x, x[:1], -x[:1]])
    ours_k, ours_t = pair_kernels(x, depth, activation)
    nt = kernels.deep_kernels(x, x, depth=depth, activation=activation)
    # Off the diagonal both are float64 closed forms (1e-12); within 1e-6 of |cos| = 1 arccos
    # turns the cosine's rounding into ~1e-8 of angle (THEORY.md 5), so 1e-7 there.
    atol = np.where(near_diagonal(x), 1e-7, 1e-12)
    assert np.all(np.abs(ours_k - nt.nngp) <= atol)
    assert np.all(np.abs(ours_t - nt.ntk) <= atol)


@pytest.mark.usefixtures("neural_tangents")
def test_deep_stax_is_stax_net_rescaled_for_relu(key):
    x = unit(key, (5, 7))
    deep_k = kernels.deep_kernels(x, x, depth=3)
    two = kernels.stax_kernels(x, x, depth=3)
    # Homogeneity: first-layer W_std sqrt(d) instead of sqrt(2) scales f by sqrt(d/2).
    assert_close(two.nngp * 2 / 7, deep_k.nngp, rtol=1e-12, why="exact rescaling, float64")
    assert_close(two.ntk * 2 / 7, deep_k.ntk, rtol=1e-12, why="exact rescaling, float64")


@pytest.mark.usefixtures("neural_tangents")
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_apply_and_empirical_ntk_match_neural_tangents(key, activation):
    d, widths = 6, (9, 7, 5)
    params = deep.init_deep(key, d, widths, activation=activation)
    x = jax.random.normal(jax.random.fold_in(key, 1), (4, d))
    _, apply_fn, _ = kernels.deep_stax(d, widths, activation=activation)
    stax_params = deep.to_stax_params(params)
    assert_close(deep.apply_deep(params, x), apply_fn(stax_params, x)[:, 0], rtol=1e-13, atol=1e-14,
                 why="same weights, same formula, float64 summation order")
    nt = kernels.empirical_ntk_fn(apply_fn, vmap_axes=0)(x, None, stax_params)
    assert_close(deep.empirical_ntk_deep(params, x), nt, rtol=1e-12, atol=1e-14,
                 why="per-layer Gram products vs Jacobian contraction, float64")


def test_input_grad_is_jax_grad_of_apply(key):
    params = deep.init_deep(key, 5, (8, 8))
    x = jax.random.normal(jax.random.fold_in(key, 2), (3, 5))
    by_row = jnp.stack([jax.grad(lambda u: deep.apply_deep(params, u))(r) for r in x])
    assert_close(deep.input_grad_deep(params, x), by_row, rtol=1e-13, why="same autodiff, batched vs row")


def test_stack_of_networks_vmaps(key):
    keys = jax.random.split(key, 3)
    stack = jax.vmap(lambda k: deep.init_deep(k, 4, (6, 5)))(keys)
    x = jnp.ones((2, 4))
    out = jax.vmap(deep.apply_deep, (0, None))(stack, x)
    assert out.shape == (3, 2)
    assert_close(out[1], deep.apply_deep(deep.init_deep(keys[1], 4, (6, 5)), x), rtol=1e-14,
                 why="vmap over networks = one network")


# ---------------------------------------------------------------------------- min_flip

def test_exact_walk_agrees_with_independent_bisection(key):
    d, widths = 64, (64, 64)
    params = deep.init_deep(key, d, widths)
    x = unit(jax.random.fold_in(key, 3), (100, d))
    exact = deep.min_flip_deep(params, x, max_ratio=8.0)
    bisection = deep.min_flip_deep(params, x, method="bisection", max_ratio=8.0)
    same = np.asarray(exact.flipped == bisection.flipped)
    # The bisection can miss a dip below zero between two of its grid points (attacks.min_flip):
    # then it flips later or not at all, never earlier than the exact first zero.
    assert same.mean() > 0.95 and np.asarray(exact.flipped).mean() > 0.5
    both = np.asarray(exact.flipped & bisection.flipped)
    agree = np.abs(np.asarray(bisection.eta / exact.eta)[both] - 1) < 1e-8
    assert agree.mean() > 0.95
    assert np.all(np.asarray(bisection.eta)[both] >= np.asarray(exact.eta)[both] * (1 - 1e-8))
    # At eta the sign has changed (to rounding), and on a fine grid below eta it has not.
    u = -jnp.sign(exact.f0)[:, None] * deep.input_grad_deep(params, x) / exact.grad_norm[:, None]
    ok = np.asarray(exact.flipped)  # eta* is inf where no flip was found: those points are left out
    at = np.asarray(jnp.sign(exact.f0[ok]) * deep.apply_deep(params, x[ok] + exact.eta[ok, None] * u[ok]))
    assert np.all(at <= 1e-12)
    grid = np.linspace(0.0, 1.0, 400, endpoint=False)[1:]
    inside = jax.vmap(lambda s: jnp.sign(exact.f0) * deep.apply_deep(
        params, x + (s * jnp.where(exact.flipped, exact.eta, 0.0))[:, None] * u))(grid)
    assert np.all(np.asarray(inside)[:, ok] > 0)


def test_exact_walk_point_and_no_flip_range(key):
    params = deep.init_deep(key, 8, (16, 16))
    x = unit(jax.random.fold_in(key, 4), (20, 8))
    batch = deep.min_flip_deep(params, x)
    single = deep.min_flip_deep(params, x[3])
    assert_close(single.eta, batch.eta[3], rtol=1e-13, why="same walk, one point vs batch")
    short = deep.min_flip_deep(params, x, eta_max=1e-6)
    assert not bool(jnp.any(short.flipped)) and bool(jnp.all(short.searched_max == 1e-6))
    assert bool(jnp.all(short.status == attacks.FlipStatus.NO_FLIP))


# ---------------------------------------------------------------------------- theory vs Monte Carlo

def grad_norms(key, x, widths, n_nets, activation="relu"):
    """``||grad_x f(x)||^2`` over ``n_nets`` independent networks, `(n_nets,)`."""
    d = x.shape[0]

    def one(k):
        p = deep.init_deep(k, d, widths, activation=activation)
        g = jax.grad(lambda u: deep.forward(p, u[None])[1][0])(x)
        return g @ g
    return np.asarray(jax.jit(jax.vmap(one))(jax.random.split(key, n_nets)))


@pytest.mark.parametrize("widths", [(32,), (32, 32, 32)], ids=["L1", "L3"])
def test_gradient_identity_within_ci(key, widths):
    n_nets, d = 1000, 16
    x = unit(jax.random.PRNGKey(99), (d,))
    g2 = grad_norms(key, x, widths, n_nets)
    predicted = float(theory.expected_grad_norm_sq(x, depth=len(widths)))
    assert_close(predicted, 1.0, rtol=1e-12, why="He-ReLU: d K(x, x) = ||x||^2 = 1, closed form")
    exact = theory.relu_finite_width_moments(d, widths)
    se = math.sqrt(exact["grad_relvar"] / n_nets)  # standard error of the mean ratio, exact
    assert abs(g2.mean() / predicted - 1) < 4 * se, (g2.mean(), se)  # 4 se: false alarm 6e-5
    # Relative variance vs the exact finite-width value: its sampling sd is about
    # relvar * sqrt((kurtosis - 1) / n); 5 such sd (kurtosis < 6 here) bounds a false alarm.
    rv = g2.var(ddof=1) / g2.mean() ** 2
    assert abs(rv - exact["grad_relvar"]) < 5 * exact["grad_relvar"] * math.sqrt(5 / n_nets)


def test_exact_moments_limits():
    m = theory.relu_finite_width_moments(64, (10 ** 6,) * 3)
    assert_close(m["grad_mean"], 1.0, rtol=1e-12, why="exact mean identity, every width")
    assert_close(m["ntk_mean"], 4 / 64, rtol=1e-12, why="Theta(x, x) = (L + 1) / d, every width")
    assert_close(m["grad_relvar"], 2 / 64, atol=2e-5,
                 why="n -> inf: ||grad f||^2 = chi2_d / d (f^2 the radial coordinate), plus 5 beta = 1.5e-5")
    assert_close(m["grad_relvar"], theory.grad_relvar_beta_law(64, (10 ** 6,) * 3), rtol=1e-4,
                 why="first order in 1/n: (1 + 2/d) exp(5 beta) - 1, next order ~ beta^2")
    small = theory.relu_finite_width_moments(64, (4096,) * 4)
    assert_close(small["ntk_relvar"], theory.ntk_relvar_first_order((4096,) * 4), rtol=5e-3,
                 why="first order in 1/n, next order beta^2 ~ 1e-6 against 2e-3")


def test_erf_gradient_prediction_by_autodiff(key):
    x = unit(key, (16,)) * 1.7
    pred = float(theory.expected_grad_norm_sq(x, depth=2, activation="erf"))
    k = float(theory.deep_kernel(x, x, depth=2, activation="erf")[0])
    assert abs(pred - 16 * k) > 0.05 * pred  # erf is not homogeneous: not d K(x, x)
    g2 = grad_norms(jax.random.fold_in(key, 1), x, (128, 128), 1000, "erf")
    se = g2.std() / math.sqrt(len(g2))
    # 4 standard errors plus the O(1/n) finite-width bias of an infinite-width kernel (2/128).
    assert abs(g2.mean() / pred - 1) < 4 * se / pred + 2 / 128


# ---------------------------------------------------------------------------- invariants

@given(seed=st.integers(0, 2 ** 16), depth=st.integers(1, 4), activation=st.sampled_from(["relu", "erf"]))
def test_property_kernels_symmetric_psd(seed, depth, activation):
    x = jax.random.normal(jax.random.PRNGKey(seed), (7, 3))
    k, t = pair_kernels(x, depth, activation)
    for gram in (np.asarray(k), np.asarray(t)):
        assert_close(gram, gram.T, rtol=1e-12, atol=1e-14, why="symmetric formula, float64")
        assert np.linalg.eigvalsh(gram).min() >= -1e-10 * np.abs(gram).max()


@pytest.mark.parametrize("call, match", [
    (lambda: deep.init_deep(jax.random.PRNGKey(0), 4, ()), "widths must be a non-empty"),
    (lambda: deep.init_deep(jax.random.PRNGKey(0), 4, (3, 0)), "every width must be an integer >= 1"),
    (lambda: deep.init_deep(jax.random.PRNGKey(0), 4, (3,), activation="tanh"), "activation must be one of"),
    (lambda: deep.apply_deep(deep.init_deep(jax.random.PRNGKey(0), 4, (3,)), jnp.ones(5)),
     r"x must have shape \(d,\) or \(n, d\) with d = 4; got shape \(5,\)"),
    (lambda: deep.apply_deep((jnp.ones((4, 3)),), jnp.ones(4)), "params must be a DeepNet"),
    (lambda: deep.min_flip_deep(deep.init_deep(jax.random.PRNGKey(0), 4, (3,), activation="erf"), jnp.ones(4)),
     r"params.activation must be 'relu' for method='exact' \(a piecewise-linear network"),
    (lambda: deep.min_flip_deep(deep.init_deep(jax.random.PRNGKey(0), 4, (3,)), jnp.ones(4), max_ratio=-1.0),
     "max_ratio must be a finite number"),
    (lambda: deep.empirical_ntk_deep(deep.init_deep(jax.random.PRNGKey(0), 4, (3,)), jnp.ones(4)),
     r"x1 must have shape \(n, d\) with d = 4"),
    (lambda: kernels.deep_stax(4, (3,), activation="tanh"), "activation must be one of"),
    (lambda: kernels.deep_kernels(jnp.ones((2, 3)), jnp.ones((2, 3)), depth=0), "depth must be an integer >= 1"),
], ids=["widths-empty", "width-zero", "activation", "x-shape", "params-type", "exact-erf", "max_ratio",
        "ntk-x1", "stax-activation", "depth"])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
