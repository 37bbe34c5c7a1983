"""The closed forms of ntk_attack.theory against independent computations."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from conftest import assert_close
from ntk_attack import kernels, models, theory


def test_moments_at_init_match_monte_carlo(key):
    d, m, n = 32, 4096, 512
    key_w, key_x = jax.random.split(key)
    x = jax.random.normal(key_x, (n, d))
    x = x / jnp.linalg.norm(x, axis=-1, keepdims=True)
    params = models.init_two_layer(key_w, d, m)
    f = np.asarray(models.apply(params, x))
    grad_sq = np.sum(np.asarray(models.input_grad(params, x)) ** 2, axis=-1)
    # One network, 512 points: f^2 has relative sd ~ sqrt(2/512) ~ 0.06 plus the network's own
    # fluctuation; 20% is ~3 sd. ||grad f||^2 concentrates (sd ~ sqrt(2/d)/sqrt(n)): 5%.
    assert_close(np.mean(f ** 2), theory.var_f_init(), rtol=0.2, why="Monte Carlo, 512 points")
    assert_close(np.mean(grad_sq), theory.grad_norm_sq_init(d), rtol=0.05,
                 why="Monte Carlo, 512 points, chi-square-like in d")


def test_init_limits_are_folded_normal_means():
    # sqrt(2) E|N(0, s^2)| by numerical integration of the density, independent of the closed form.
    for signs in ("balanced", "random"):
        s = math.sqrt(theory.var_f_init(signs))
        mean_abs = 2 * integrate.quad(lambda t: t * math.exp(-t * t / (2 * s * s)), 0, math.inf)[0] \
            / (s * math.sqrt(2 * math.pi))
        assert_close(theory.init_eta_sqrt_d(signs), math.sqrt(2) * mean_abs, rtol=1e-10,
                     why="quad integrates a Gaussian tail to ~1e-14")
    assert theory.INIT_ETA_SQRT_D["balanced"] == pytest.approx(0.6588, abs=1e-4)
    assert theory.INIT_ETA_SQRT_D["random"] == pytest.approx(0.7979, abs=1e-4)
    assert_close(theory.averaged_random_first_order(), theory.INIT_ETA_SQRT_D["random"], rtol=1e-12,
                 why="64-node Gauss-Hermite quadrature of a smooth integrand")


def test_kappa_factors_match_the_kernels_and_dispatch_on_the_array_type():
    c = np.linspace(-1, 1, 41)
    u = np.stack([np.ones_like(c), np.zeros_like(c)], 1)
    v = np.stack([c, np.sqrt(1 - c ** 2)], 1)
    theta_w = np.asarray(jax.vmap(kernels.ntk_first_layer)(jnp.asarray(u), jnp.asarray(v)))
    assert_close(theta_w, c * theory.kappa0(c), atol=1e-12, why="same formula, float64")
    nngp = np.asarray(jax.vmap(kernels.nngp)(jnp.asarray(u), jnp.asarray(v)))
    assert_close(nngp, theory.kappa1(c), atol=1e-12, why="same formula, float64")
    assert isinstance(theory.kappa0(jnp.asarray(c)), jax.Array)
    assert isinstance(theory.kappa0(c), np.ndarray)


def test_bernoulli_sd_is_the_binomial_sd():
    # Theta_hat / (x . x') is a Binomial(m, p) mean: sd sqrt(p (1 - p) / m).
    c, m = 0.3, 1000
    p = (math.pi - math.acos(c)) / (2 * math.pi)
    assert_close(theory.empirical_ntk_sd(np.array(c), np.array(c), m),
                 c * math.sqrt(p * (1 - p) / m), rtol=1e-14, why="same formula")
    assert theory.ntk_sd_factor("antisymmetric") == math.sqrt(2)


def test_envelope_pieces():
    assert theory.activation_flip_drift(C0=1.0, d=64, m=256) == pytest.approx(
        (2 / math.pi) ** 0.25 * 8 / 4)
    b = theory.lazy_envelope(np.array([0.5]), np.array([1.0]), C0=0.0, d=64, m=256, kappa_d=1.0)
    assert b[0] == pytest.approx(0.5)
    assert np.isinf(theory.lazy_envelope(np.array([0.5]), np.array([1.0]), C0=1.0, d=64, m=256,
                                         kappa_d=1.0)[0])
    assert theory.curvature_excess(64) == pytest.approx(0.25 / 8)


def test_level_predictions_of_the_gradient_and_kernel_claims():
    rng = np.random.default_rng(0)
    W0 = rng.normal(size=(64, 5))
    x = rng.normal(size=(7, 5))
    assert np.all(theory.activation_flip_noise_sq(W0, W0, x) == 0)  # no flip, no noise
    flipped = W0.copy()
    flipped[0] = -flipped[0]  # neuron 0 changes its gate at every x
    np.testing.assert_allclose(theory.activation_flip_noise_sq(W0, flipped, x),
                               np.sum(W0[0] ** 2) / 64, rtol=1e-14)
    # cos(s, s + r) for r orthogonal to s.
    assert math.isclose(theory.noisy_cosine(3.0, 16.0), 3 / 5, rel_tol=1e-15)
    errors_sq = np.array([1.0, 2.0, 3.0, 4.0])
    assert math.isclose(theory.ensemble_error_sq(errors_sq, 2), 3 / 4, rel_tol=1e-15)
    theta = rng.normal(size=(4, 4))
    assert math.isclose(theory.empirical_ntk_bias(theta, theta), 0.0, abs_tol=1e-15)
    # A kernel 1% too large (the measured one is the truth): bias -0.01 / 1.01.
    assert math.isclose(theory.empirical_ntk_bias(theta, 1.01 * theta), -0.01 / 1.01, rel_tol=1e-12)


def test_deep_predictions_agree_with_the_exact_moments():
    from ntk_attack import theory
    for d, widths in ((16, (16,)), (64, (64,) * 8), (64, (128, 128))):
        moments = theory.relu_finite_width_moments(d, widths)
        assert_close(theory.deep_ntk_diag_mean(d, len(widths)), moments["ntk_mean"], rtol=1e-6,
                     why="(L + 1)/d is the exact mean of the recursion (which is off by ~2^-23 "
                         "absolute at d = 16: its binomial sums are not exact to float64)")
    # Equal beta, different depth: the exact relative variances agree to first order in 1/n.
    assert_close(theory.equal_beta_relvar_ratio(64, (64,), (128, 128)), 1.0, rtol=0.03,
                 why="second-order terms in 1/n differ by ~1%")
    assert_close(theory.deep_first_order_attack_mean(), math.sqrt(2 / math.pi), rtol=1e-15,
                 why="E|N(0, 1)|")


def test_the_flat_namespace_exports_every_public_prediction():
    import inspect
    from ntk_attack import theory
    from ntk_attack.theory import adversarial, deep, two_layer
    for module in (two_layer, deep, adversarial):
        public = [name for name, obj in vars(module).items() if not name.startswith("_")
                  and (inspect.isfunction(obj) and obj.__module__ == module.__name__
                       or name.isupper())]
        missing = [name for name in public if getattr(theory, name, None) is not getattr(module, name)]
        assert not missing, f"ntk_attack.theory does not export {missing} from {module.__name__}"


def test_first_order_finite_d_tends_to_the_limit_and_matches_sampling():
    # d -> inf: the d -> inf value sqrt(2) E|f| (the chi-square term concentrates).
    # The correction falls like 1/d (0.568/d at d = 1e4 and 1e6); at d = 1e8 the quadrature of
    # the sharply peaked chi-square law takes ~30 s.
    assert_close(theory.first_order_finite_d(10 ** 6), theory.init_eta_sqrt_d(), rtol=1e-5,
                 why="Jensen correction ~0.57/d = 6e-7")
    # Monte Carlo of sqrt(d)|f| / sqrt(f^2 + Q/2), f ~ N(0, Var f), Q ~ chi2_(d-1): 4e5 draws
    # give a standard error of ~0.0008 on a mean of 0.68 (sd ~0.5); 0.004 is 5 of them.
    rng = np.random.default_rng(0)
    d = 16
    f = rng.normal(0, math.sqrt(theory.VAR_RELU), 400_000)
    q = rng.chisquare(d - 1, 400_000)
    sampled = np.mean(math.sqrt(d) * np.abs(f) / np.sqrt(f ** 2 + q / 2))
    assert abs(theory.first_order_finite_d(d) - sampled) < 0.004
    assert theory.init_eta_sqrt_d_finite(d) == pytest.approx(
        theory.first_order_finite_d(d) * (1 + 0.25 / 4), rel=1e-12)
    assert theory.init_eta_d_slope([16, 64, 256]) == pytest.approx(-0.528, abs=1e-3)


def test_half_normal_pdf_is_a_density():
    t = np.linspace(0, 20, 200_001)
    assert_close(np.trapezoid(theory.half_normal_pdf(t, 1.3), t), 1.0, rtol=1e-6,
                 why="trapezoid rule on a fine grid of a smooth density")
    assert float(theory.half_normal_pdf(-1.0, 1.0)) == 0.0


def test_lazy_conditions():
    assert theory.lazy_conditions(d=64, m=1024, C0=0.0)
    assert not theory.lazy_conditions(d=49, m=4096, C0=0.1)  # d < 64
    assert not theory.lazy_conditions(d=256, m=1024, C0=5.0)  # C0 > sqrt(d)/4
    assert not theory.lazy_conditions(d=1024, m=64, C0=4.0)  # m < 16 C0^2


# --- gaps found by generated mutants (figures/mutation/before/triage.md) -------------------------

def test_ball_radii_are_what_a_projected_network_reaches():
    # Move every row of W0 by exactly the row radius; C0_hat (ntk_attack.training, measured
    # from the weights) must then equal the predicted limit, for both radii.
    from ntk_attack import training
    rng = np.random.default_rng(0)
    m, d, C0 = 64, 9, 1.5
    W0 = rng.normal(size=(m, d))
    step = rng.normal(size=(m, d))
    step /= np.linalg.norm(step, axis=1, keepdims=True)
    for radius in theory.RADII:
        W = W0 + theory.row_radius(C0, m, radius=radius) * step
        assert_close(float(training.C0_hat(jnp.asarray(W), jnp.asarray(W0))),
                     theory.C0_hat_limit(C0, m, radius=radius), rtol=1e-12,
                     why="float64 row norms")
        assert_close(theory.effective_C0_over_sqrt_d(C0, m=m, d=d, radius=radius),
                     theory.C0_hat_limit(C0, m, radius=radius) / 3, rtol=1e-15, why="sqrt(9) = 3")
    assert theory.row_radius(C0, m) == C0 / 8 and theory.C0_hat_limit(C0, m) == C0
    with pytest.raises(ValueError, match="radius must be one of 'lazy', 'absolute'; got 'ball'"):
        theory.row_radius(C0, m, radius="ball")


def test_pgd_step_is_the_papers():
    # The paper's PGD: 100 steps of 0.025 eps, i.e. the steps together cover 2.5 eps.
    assert theory.pgd_step_size(0.4) == pytest.approx(0.025 * 0.4, rel=1e-15)
    for steps in (10, 50, 100, 400):
        assert steps * theory.pgd_step_size(0.4, steps) == pytest.approx(2.5 * 0.4, rel=1e-15)
    assert theory.robust_accuracy_beyond_envelope() == 0.0


def test_first_order_and_typical_gradient():
    f = np.array([0.5, -2.0, 1.0])
    g = np.array([2.0, 4.0, 0.0])
    np.testing.assert_array_equal(theory.first_order(f, g), [0.25, 0.5, np.inf])
    traced = theory.first_order(jnp.asarray(f), jnp.asarray(g))
    assert isinstance(traced, jax.Array), "JAX in, JAX out: jitted callers trace it"
    np.testing.assert_array_equal(np.asarray(traced), [0.25, 0.5, np.inf])
    np.testing.assert_array_equal(np.asarray(jax.jit(theory.first_order)(f, g)), [0.25, 0.5, np.inf])
    for d in (2, 64):
        assert theory.typical_grad_norm(d) ** 2 == pytest.approx(d / 2 - 1 / (2 * math.pi), rel=1e-14)
    assert theory.grad_norm_sq_init(64, signs="random") == 32
    assert theory.var_f_init("random") == 0.5
    with pytest.raises(ValueError, match="signs must be one of 'balanced', 'random'; got 'x'"):
        theory.var_f_init("x")


@pytest.mark.parametrize("c, s", [(0.0, 1.0), (0.7, 0.5), (-1.2, 0.8)])
def test_folded_normal_mean_is_the_integral(c, s):
    def density(t):
        return math.exp(-(t - c) ** 2 / (2 * s * s)) / (s * math.sqrt(2 * math.pi))

    # E|T| split at the kink of |t|.
    expected = (integrate.quad(lambda t: t * density(t), 0, math.inf)[0]
                - integrate.quad(lambda t: t * density(t), -math.inf, 0)[0])
    assert_close(theory.folded_normal_mean(c, s), expected, rtol=1e-10,
                 why="quad integrates a Gaussian to ~1e-14")


def test_conditional_first_order_is_the_mean_given_the_signs():
    # Given sum_a: f ~ N(MU sum_a / sqrt(m), Var relu), ||grad f||^2 = d/2 + ((sum a)^2/m - 1)/(2 pi).
    d, m = 64, 256
    sum_a = np.array([0.0, 16.0, -30.0])
    got = theory.conditional_first_order(sum_a, d, m)
    s = math.sqrt(0.5 - 1 / (2 * math.pi))
    for value, a in zip(got, sum_a):
        c = a / math.sqrt(2 * math.pi * m)
        weight = lambda t: t * math.exp(-(t - c) ** 2 / (2 * s * s)) / (s * math.sqrt(2 * math.pi))  # noqa: E731,B023
        mean_abs = integrate.quad(weight, 0, math.inf)[0] - integrate.quad(weight, -math.inf, 0)[0]
        grad = math.sqrt(d / 2 + (a * a / m - 1) / (2 * math.pi))
        assert_close(value, math.sqrt(d) * mean_abs / grad, rtol=1e-10,
                     why="quad integrates a Gaussian to ~1e-14 (split at the kink of |t|)")


def test_envelope_denominator_and_sqrt_d_envelope():
    drift = (2 / math.pi) ** 0.25 * math.sqrt(0.5 * 64) * 256 ** -0.25
    assert theory.envelope_denominator(5.0, C0=0.5, d=64, m=256) == pytest.approx(
        5.0 - 2.0 * 0.5 - drift, rel=1e-14)
    assert theory.envelope_denominator(5.0, C0=0.5, d=64, m=256, c_sys=1.0, drift_constant=0.0) \
        == pytest.approx(4.5, rel=1e-15)
    b = theory.lazy_envelope(np.array([-0.3, 0.3]), np.array([5.0, 5.0]), C0=0.5, d=64, m=256,
                             kappa_d=2.0)
    np.testing.assert_allclose(b, 2.0 * 0.8 / (5.0 - 1.0 - drift), rtol=1e-14)
    assert theory.sqrt_d_envelope(C0=0.5, d=64, K=2.0) == pytest.approx(2.0 * 1.5 / 8, rel=1e-15)


def test_gradient_of_the_kernel_predictor_is_angle_free_part_plus_angle_term():
    # h(x) = sum_i c_i (x . x_i) kappa0(cos theta_i): its gradient by autodiff (tangential and
    # radial) equals L(x) + the angle term at unit x (THEORY.md 6.2).
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5))
    X = rng.normal(size=(4, 5))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    c = rng.normal(size=4)

    def h(point):
        cos = (X @ point) / jnp.linalg.norm(point)
        return jnp.sum(c * (X @ point) * (jnp.pi - jnp.arccos(cos)) / (2 * jnp.pi))

    autodiff = np.asarray(jax.vmap(jax.grad(h))(jnp.asarray(x)))
    split = np.asarray(theory.angle_free_gradient(jnp.asarray(x), jnp.asarray(X), jnp.asarray(c))) \
        + theory.angle_term(x, X, c)
    assert_close(split, autodiff, atol=1e-12, why="float64, same function differentiated")
    # A test point equal to a training point: the angle term's convention is 0 there (a point
    # whose x . x rounds to exactly 1; one that rounds 1 ulp below gets sin ~ 2e-8 and a term of
    # ~1e-9 instead).
    e1 = np.eye(5)[:1]
    assert np.all(theory.angle_term(e1, e1, c[:1]) == 0)


def test_empirical_ntk_variance_is_binomial():
    dot, cos = 0.6, 0.2
    p = (math.pi - math.acos(cos)) / (2 * math.pi)
    assert theory.empirical_ntk_variance(dot, cos) == pytest.approx(dot * dot * p * (1 - p), rel=1e-14)
    assert float(theory.empirical_ntk_sd(np.array(dot), np.array(cos), 100, signs="antisymmetric")) \
        == pytest.approx(math.sqrt(2) * dot * math.sqrt(p * (1 - p) / 100), rel=1e-14)


def test_kernel_factors_clip_and_the_bias_is_per_kernel():
    # A cosine that rounds past -1 or 1 is clipped (kappa1 has sqrt(1 - c^2)).
    for c in (-1 - 1e-12, 1 + 1e-12):
        assert theory.kappa1(np.array(c)) == theory.kappa1(np.array(round(c)))
        assert theory.kappa0(np.array(c)) == theory.kappa0(np.array(round(c)))
    # (..., n, n) kernels: one bias per kernel.
    theta = np.random.default_rng(2).normal(size=(3, 3))
    stack = np.stack([theta, 1.01 * theta])
    np.testing.assert_allclose(theory.empirical_ntk_bias(stack, theta), [0.0, 0.01], atol=1e-15)


def test_deep_kernel_defaults_to_relu():
    x = jnp.asarray([0.6, 0.8])
    assert theory.deep_kernel(x, x, depth=2) == theory.deep_kernel(x, x, depth=2, activation="relu")
