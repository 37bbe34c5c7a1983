"""Kernels against neural-tangents, their own properties and THEORY.md section 5."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_close
from hypothesis import given
from hypothesis import strategies as st

from ntk_attack import kernels, models

ANALYTIC = (kernels.nngp, kernels.ntk_first_layer, kernels.ntk_both_layers)
IDS = ("nngp", "ntk_first_layer", "ntk_both_layers")
NEAR_DIAGONAL = 1 - 1e-6  # |cos(theta)| above this: arccos is only sqrt(eps)-conditioned


def unit(key, shape):
    x = jax.random.normal(key, shape)
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def with_special_rows(x):
    """``x`` plus a duplicate, an antipode, a rescaled copy (2.5x) and a zero row of ``x[0]``."""
    return jnp.concatenate([x, x[:1], -x[:1], 2.5 * x[:1], jnp.zeros_like(x[:1])])


def cosines(x1, x2):
    norms = np.outer(np.linalg.norm(x1, axis=1), np.linalg.norm(x2, axis=1))
    return np.divide(np.asarray(x1 @ x2.T), norms, out=np.zeros_like(norms), where=norms > 0)


def kernel_atol(x1, x2):
    """Per-entry tolerance chosen by cos(theta), not by index (THEORY.md section 5).

    Away from the diagonal both sides are float64-exact formulas (1e-12 of ``||x|| ||x'||``);
    within 1e-6 of |cos| = 1, arccos turns the cosine's rounding (~1e-16) into ~1e-8 of angle,
    so 1e-7 (neural-tangents' ntk is up to 1.2e-8 off on the diagonal, measured on MNIST).
    """
    scale = np.outer(np.linalg.norm(x1, axis=1), np.linalg.norm(x2, axis=1))
    return np.where(np.abs(cosines(x1, x2)) < NEAR_DIAGONAL, 1e-12, 1e-7) * np.maximum(scale, 1)


def kappas(c):
    """Arc-cosine factors in numpy, independent of the library: ``kappa0``, ``kappa1``."""
    c = np.clip(c, -1, 1)
    theta = np.arccos(c)
    return (np.pi - theta) / (2 * np.pi), (np.sin(theta) + (np.pi - theta) * c) / (2 * np.pi)


# ---------------------------------------------------------------------------- packaging

def test_neural_tangents_kernel_fn_evaluates(neural_tangents):
    stax = neural_tangents.stax  # a broken pin set must fail here, loudly
    kernel_fn = stax.serial(stax.Dense(8), stax.Relu(), stax.Dense(1))[2]
    x = jnp.eye(2)
    nngp = kernel_fn(x, x, "nngp")
    # x.x'/d = 0 off the diagonal: relu of independent N(0, 1/2) gives 1/(2 pi) * (1/2).
    assert_close(nngp, [[0.25, 0.25 / np.pi], [0.25 / np.pi, 0.25]], atol=1e-12, why="closed form, float64")


# ---------------------------------------------------------------------------- analytic vs stax

@pytest.mark.usefixtures("neural_tangents")
def test_analytic_matches_stax_kernel_fn(key):
    x = with_special_rows(unit(key, (12, 7)))
    stax = kernels.stax_kernels(x, x)
    atol = kernel_atol(x, x)
    for ours, theirs in ((kernels.nngp, stax.nngp), (kernels.ntk_first_layer, stax.ntk_hidden),
                         (kernels.ntk_both_layers, stax.ntk)):
        diff = np.abs(ours(x, x) - theirs)
        assert np.all(diff <= atol), f"{ours.__name__}: max excess {np.max(diff - atol):.2e}"


@pytest.mark.usefixtures("neural_tangents")
def test_deep_stax_kernels_follow_arc_cosine_recursion(key):
    # depth 2, unit inputs, He middle layer: Sigma2 = 2 K, Theta2 = 2 K + 2 Theta_W,
    # readout: nngp = kappa1(Sigma2), ntk = nngp + Theta2 kappa0(Sigma2) (diagonals stay 1).
    x = unit(key, (6, 5))
    sigma2 = 2 * np.asarray(kernels.nngp(x, x))
    theta2 = sigma2 + 2 * np.asarray(kernels.ntk_first_layer(x, x))
    k0, k1 = kappas(sigma2)
    stax = kernels.stax_kernels(x, x, depth=2)
    assert_close(stax.nngp, k1, atol=1e-7, why="the diagonal goes through arccos(1): sqrt(eps) conditioning")
    assert_close(stax.ntk, k1 + theta2 * k0, atol=1e-7, why="as above")
    assert_close(stax.ntk_hidden, theta2 * k0, atol=1e-7, why="as above")


@pytest.mark.usefixtures("neural_tangents")
@pytest.mark.parametrize("signs", models.SIGNS)
def test_stax_apply_equals_model_apply(key, signs):
    params = models.init_two_layer(key, 9, 32, signs=signs)
    x = unit(jax.random.PRNGKey(1), (11, 9))
    apply_fn = kernels.stax_net(9, 32)[1]
    assert_close(apply_fn(kernels.to_stax_params(params), x)[:, 0], models.apply(params, x), atol=1e-14,
                 why="same sums of 32 terms, float64 rounding")


@pytest.mark.usefixtures("neural_tangents")
def test_stax_init_has_the_model_distribution():
    init_fn = kernels.stax_net(4, 8)[0]
    _, stax_params = init_fn(jax.random.PRNGKey(0), (-1, 4))
    assert [jax.tree_util.tree_map(jnp.shape, layer) for layer in stax_params] == [((4, 8), None), (),
                                                                                   ((8, 1), None)]


# ---------------------------------------------------------------------------- properties

# Few shapes (d = 1 makes every pair coincident or antipodal): each new shape costs a compilation.
points = st.tuples(st.sampled_from((1, 3, 8)), st.sampled_from((1, 5)), st.integers(0, 2**31 - 1))
JACOBIANS = {(kernel, argnum): jax.jit(jax.jacrev(kernel, argnums=argnum)) for kernel in ANALYTIC
             for argnum in (0, 1)}


def draw(d, n, seed, *, special=True):
    x = np.random.default_rng(seed).normal(size=(n, d)) * np.random.default_rng(seed + 1).uniform(0.2, 3, (n, 1))
    return np.asarray(with_special_rows(jnp.asarray(x))) if special else x


@pytest.mark.parametrize("kernel", ANALYTIC, ids=IDS)
@given(points)
def test_symmetric(kernel, dns):
    x = draw(*dns)
    assert_close(kernel(x, x), kernel(x, x).T, atol=0, why="x.x' and the norms commute exactly")


@pytest.mark.parametrize("kernel", ANALYTIC, ids=IDS)
@given(points)
def test_positive_semidefinite(kernel, dns):
    x = draw(*dns)
    eig = np.linalg.eigvalsh(np.asarray(kernel(x, x)))
    assert eig[0] >= -1e-10 * max(eig[-1], 1.0), f"smallest eigenvalue {eig[0]:.3e} of {eig[-1]:.3e}"


@pytest.mark.parametrize("kernel", ANALYTIC, ids=IDS)
@given(points, st.floats(0.1, 10.0), st.floats(0.1, 10.0))
def test_positively_homogeneous_in_each_argument(kernel, dns, s, t):
    x = draw(*dns)
    y = draw(dns[0], dns[1], dns[2] + 7)
    diff = np.abs(kernel(s * x, t * y) - s * t * kernel(x, y))
    assert np.all(diff <= s * t * kernel_atol(x, y)), "rescaling moves the cosine by rounding: kernel_atol"


@given(points, st.floats(0.1, 10.0))
def test_coincident_directions(dns, s):
    x = draw(*dns, special=False)
    sq = np.sum(x * x, axis=1)
    x2 = s * x
    # theta = 0: clipping makes arccos exact, so only the dot product's rounding remains.
    assert_close(np.diag(kernels.ntk_first_layer(x, x2)), s * sq / 2, rtol=1e-13, why="float64 dot products")
    assert_close(np.diag(kernels.nngp(x, x2)), s * sq / 2, rtol=1e-13, why="float64 dot products")
    assert_close(np.diag(kernels.ntk_both_layers(x, x2)), s * sq, rtol=1e-13, why="float64 dot products")
    assert_close(np.diag(kernels.ntk_first_layer(x, -x2)), 0 * sq, atol=1e-13 * s * sq.max(),
                 why="theta = pi: (pi - theta) = 0 exactly after clipping; dot rounding only")


@pytest.mark.parametrize("kernel", ANALYTIC, ids=IDS)
@given(points)
def test_input_gradients_finite_at_coincident_antipodal_and_zero_points(kernel, dns):
    x = draw(*dns)  # holds a duplicate, an antipode, a rescaled copy and a zero row
    for argnum in (0, 1):
        jac = JACOBIANS[kernel, argnum](x, x)
        assert np.all(np.isfinite(jac)), f"non-finite gradient w.r.t. x{argnum + 1}"


# ---------------------------------------------------------------------------- gradients

def test_first_layer_gradient_matches_theory_formula(key):
    # THEORY.md 6: grad_x Theta = x_i (pi - theta)/(2 pi) - (x . x_i) grad_x(theta) / (2 pi),
    # grad_x(theta) = -(x_i/(|x||x_i|) - cos(theta) x/|x|^2) / sin(theta); generic points only.
    x = 1.7 * unit(key, (6,))
    xs = 0.8 * unit(jax.random.PRNGKey(5), (9, 6))
    auto = jax.jacrev(kernels.ntk_first_layer)(x, xs)
    c = np.asarray(xs @ x) / (np.linalg.norm(x) * np.linalg.norm(xs, axis=1))
    theta = np.arccos(c)
    dcos = xs / (np.linalg.norm(x) * np.linalg.norm(xs, axis=1))[:, None] - np.outer(c, x) / np.sum(x * x)
    formula = (xs * ((np.pi - theta) / (2 * np.pi))[:, None]
               + (np.asarray(xs @ x) / (2 * np.pi * np.sin(theta)))[:, None] * dcos)
    assert_close(auto, formula, atol=1e-13, why="two float64 evaluations of one formula, |cos| < 0.99")


def test_gradient_convention_at_coincident_and_antipodal_points(key):
    x = 1.3 * unit(key, (5,))
    grad = jax.grad(kernels.ntk_first_layer)
    # The one-sided gradients differ by the angle term; the convention drops it (module docstring).
    assert_close(grad(x, x), x / 2, atol=1e-7, why="cos may round to 1 - eps: angle term ~ sqrt(eps)")
    assert_close(grad(x, -x), 0 * x, atol=1e-7, why="as above, at cos = -1 + eps")
    assert_close(grad(jnp.zeros(5), x), x / 4, atol=1e-15, why="zero input: cos taken as 0, exact")
    # K is differentiable at theta = 0: its gradient there is x'/2 from both sides.
    assert_close(jax.grad(kernels.nngp)(x, x), x / 2, atol=1e-7, why="as above")


def test_single_points_and_batches_agree(key):
    x = unit(key, (4, 3))
    for kernel in ANALYTIC:
        full = kernel(x, x)
        assert kernel(x[0], x[1]).shape == ()
        assert_close(kernel(x[0], x), full[0], atol=1e-15, why="same arithmetic")
        assert_close(kernel(x, x[1]), full[:, 1], atol=1e-15, why="same arithmetic")


# ---------------------------------------------------------------------------- empirical NTK

@pytest.mark.usefixtures("neural_tangents")
@pytest.mark.parametrize("implementation", kernels.NTK_IMPLEMENTATIONS)
@pytest.mark.parametrize("second_layer", (False, True), ids=("W", "W_and_a"))
def test_empirical_matches_neural_tangents(key, implementation, second_layer):
    d, m = 6, 64
    params = models.init_two_layer(key, d, m)
    x1 = with_special_rows(unit(jax.random.PRNGKey(1), (7, d)))
    x2 = unit(jax.random.PRNGKey(2), (5, d))
    apply_fn = kernels.stax_net(d, m)[1]
    stax_params = kernels.to_stax_params(params)
    if second_layer:
        ntk_fn = kernels.empirical_ntk_fn(apply_fn, vmap_axes=0, implementation=implementation)
        theirs = ntk_fn(x1, x2, stax_params)
    else:
        a_col = stax_params[2]
        ntk_fn = kernels.empirical_ntk_fn(lambda W, x: apply_fn([W, (), a_col], x), vmap_axes=0,
                                          implementation=implementation)
        theirs = ntk_fn(x1, x2, stax_params[0])
    ours = kernels.empirical_ntk(params, x1, x2, second_layer=second_layer, block_size=10)
    assert_close(ours, theirs, atol=1e-14, why="same float64 sums over d = 6 and m = 64 in another order")


@pytest.mark.usefixtures("neural_tangents")
def test_empirical_diagonal_axes_like_neural_tangents(key):
    params = models.init_two_layer(key, 5, 16, signs="random")
    x = unit(jax.random.PRNGKey(1), (6, 5))
    apply_fn = kernels.stax_net(5, 16)[1]
    ntk_fn = kernels.empirical_ntk_fn(apply_fn, diagonal_axes=(0,))
    diagonal = kernels.empirical_ntk(params, x, second_layer=True, diagonal_axes=(0,))
    assert diagonal.shape == (6,)
    assert_close(diagonal, ntk_fn(x, None, kernels.to_stax_params(params)), atol=1e-14, why="float64 rounding")
    assert_close(diagonal, np.diag(kernels.empirical_ntk(params, x, second_layer=True)), atol=1e-14,
                 why="float64 rounding")


@pytest.mark.usefixtures("neural_tangents")
def test_empirical_uses_second_layer_squares(key):
    # NT draws a ~ N(0, 1); the closed form weights neurons by a_s^2, so it agrees for any a.
    params = models.init_two_layer(key, 4, 16)
    params = models.TwoLayer(params.W, jax.random.normal(jax.random.PRNGKey(3), (16,)))
    x = unit(jax.random.PRNGKey(1), (5, 4))
    apply_fn = kernels.stax_net(4, 16)[1]
    a_col = (params.a[:, None], None)
    theirs = kernels.empirical_ntk_fn(lambda W, u: apply_fn([W, (), a_col], u))(x, None, (params.W.T, None))
    assert_close(kernels.empirical_ntk(params, x), theirs, atol=1e-14, why="float64 rounding")


@pytest.mark.parametrize("block_size", (1, 7, 48, 1000))
def test_empirical_block_size_is_exact(key, block_size):
    params = models.init_two_layer(key, 5, 48)
    x = unit(jax.random.PRNGKey(1), (6, 5))
    reference = kernels.empirical_ntk(params, x, second_layer=True, block_size=48)
    assert_close(kernels.empirical_ntk(params, x, second_layer=True, block_size=block_size), reference,
                 atol=1e-14, why="zero padding rows are exact; only the summation order changes")


def test_empirical_keeps_float32(key):
    params = models.init_two_layer(key, 5, 32, dtype=jnp.float32)
    x = unit(jax.random.PRNGKey(1), (6, 5)).astype(jnp.float32)
    ours = kernels.empirical_ntk(params, x)
    assert ours.dtype == jnp.float32
    assert kernels.ntk_first_layer(x, x).dtype == jnp.float32
    reference = kernels.empirical_ntk(jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params),
                                      x.astype(jnp.float64))
    assert_close(ours, reference, atol=1e-6, why="float32 rounding of sums over d = 5 and m = 32")


@pytest.mark.parametrize("kernel", ANALYTIC, ids=IDS)
def test_analytic_kernels_in_float32(key, kernel):
    x = with_special_rows(unit(key, (12, 16)))  # a duplicate, an antipode, a rescaled copy, a zero row
    x32 = x.astype(jnp.float32)
    ours = kernel(x32, x32)
    assert ours.dtype == jnp.float32
    # Generic pairs: float32 rounding of d = 16 products (measured <= 4e-6 at unit norm). Within
    # 1e-3 of |cos| = 1, arccos is sqrt(eps)-conditioned: Theta_W may be off by up to
    # sqrt(32 eps32) / (2 pi) = 3.1e-4 of ||x|| ||x'|| (module docstring); duplicates, antipodes
    # and rescaled copies are snapped to |cos| = 1 and are as exact as generic pairs.
    scale = np.maximum(np.outer(np.linalg.norm(x, axis=1), np.linalg.norm(x, axis=1)), 1)
    atol = np.where(np.abs(cosines(x, x)) < 1 - 1e-3, 1e-5, 4e-4) * scale
    diff = np.abs(np.asarray(ours, np.float64) - np.asarray(kernel(x, x)))
    assert np.all(diff <= atol), f"max excess {np.max(diff - atol):.2e}"
    special = slice(len(x) - 4, None)
    assert np.all(diff[special] <= 1e-5 * scale[special]), "snapped special rows are exact to rounding"
    for argnum in (0, 1):
        jac = JACOBIANS[kernel, argnum](x32, x32)
        assert jac.dtype == jnp.float32 and np.all(np.isfinite(jac)), f"gradient w.r.t. x{argnum + 1}"


def test_empirical_converges_to_analytic(key):
    # Entries of Theta_hat - Theta_W have sd |x.x'| sqrt(p(1-p)/m) <= 0.5 / sqrt(m) = 0.0039 at
    # m = 16384; 8 sd covers the max over 36 entries (false alarm < 1e-12).
    x = unit(jax.random.PRNGKey(1), (6, 4))
    params = models.init_two_layer(key, 4, 16384)
    assert_close(kernels.empirical_ntk(params, x), kernels.ntk_first_layer(x, x), atol=8 * 0.5 / 128,
                 why="Monte Carlo over m = 16384 neurons, 8 standard deviations")


@pytest.mark.usefixtures("neural_tangents")
def test_nt_linearize_is_exact_at_the_base_point_and_linear(key):
    params = models.init_two_layer(key, 4, 8)
    x = unit(jax.random.PRNGKey(1), (3, 4))
    f_lin = kernels.nt_linearize(models.apply, params)
    step = models.TwoLayer(jax.random.normal(jax.random.PRNGKey(2), (8, 4)), jnp.zeros(8))
    moved = jax.tree_util.tree_map(lambda p, s: p + 1e-1 * s, params, step)
    further = jax.tree_util.tree_map(lambda p, s: p + 2e-1 * s, params, step)
    assert_close(f_lin(params, x), models.apply(params, x), atol=0, why="zero displacement")
    assert_close(f_lin(further, x) - f_lin(params, x), 2 * (f_lin(moved, x) - f_lin(params, x)), atol=1e-14,
                 why="linear in the displacement, float64 rounding")


# ---------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, match", [
    (lambda: kernels.ntk_first_layer(jnp.ones((3, 4)), jnp.ones((2, 5))),
     r"x1 and x2 must have the same number of columns d; got shapes \(3, 4\) and \(2, 5\)"),
    (lambda: kernels.nngp(jnp.ones((3, 4)).at[0, 0].set(jnp.nan), jnp.ones((2, 4))), "x1 must be finite"),
    (lambda: kernels.ntk_both_layers(jnp.ones((2, 3, 4)), jnp.ones((2, 4))), r"x1 must have shape"),
    (lambda: kernels.stax_kernels(jnp.ones(4), jnp.ones((2, 4))), r"x1 must have shape \(n1, d\)"),
    (lambda: kernels.stax_kernels(jnp.ones((1, 4)), jnp.ones((2, 4)), depth=0), "depth must be"),
    (lambda: kernels.stax_net(4, 0), "m must be"),
    (lambda: kernels.empirical_ntk(models.init_two_layer(jax.random.PRNGKey(0), 4, 8), jnp.ones((2, 5))),
     r"x1 must have shape \(n1, d\) with d = 4"),
    (lambda: kernels.empirical_ntk(models.init_two_layer(jax.random.PRNGKey(0), 4, 8), jnp.ones((2, 4)),
                                   jnp.full((3, 4), jnp.inf)), "x2 must be finite"),
    (lambda: kernels.empirical_ntk(models.init_two_layer(jax.random.PRNGKey(0), 4, 8), jnp.ones((2, 4)),
                                   diagonal_axes=(1,)), "diagonal_axes must be one of"),
    (lambda: kernels.empirical_ntk(models.init_two_layer(jax.random.PRNGKey(0), 4, 8), jnp.ones((2, 4)),
                                   jnp.ones((3, 4)), diagonal_axes=(0,)), "as many rows as x1"),
    (lambda: kernels.empirical_ntk(models.init_two_layer(jax.random.PRNGKey(0), 4, 8), jnp.ones((2, 4)),
                                   block_size=0), "block_size must be"),
    (lambda: kernels.empirical_ntk_fn(models.apply, implementation="auto"), "implementation must be one of"),
], ids=("wrong-last-dim", "nan", "3-d", "stax-point", "depth-0", "width-0", "empirical-d", "inf",
        "diagonal-axes", "diagonal-rows", "block-size", "implementation"))
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
