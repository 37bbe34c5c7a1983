"""Closed-form predictions of THEORY.md: one named function per formula.

Every prediction a check, a figure, the command line or the tutorial compares a measurement
with comes from here, so a reader finds the formula behind any number in one hop:
:mod:`~ntk_attack.theory.two_layer` for the paper's two-layer network (THEORY.md 2-6),
:mod:`~ntk_attack.theory.deep` for deep bias-free networks (THEORY.md 9) and
:mod:`~ntk_attack.theory.adversarial` for adversarial training inside a ball (THEORY.md 1, 4, 7).
"""
# The flat namespace: every public prediction.
from ntk_attack.theory.two_layer import (
    MU,
    VAR_RELU,
    DRIFT_CONSTANT,
    CURVATURE_COEFFICIENT,
    SIGNS_WITH_LIMITS,
    var_f_init,
    grad_norm_sq_init,
    typical_grad_norm,
    first_order,
    init_eta_sqrt_d,
    INIT_ETA_SQRT_D,
    curvature_excess,
    first_order_finite_d,
    init_eta_sqrt_d_finite,
    init_eta_d_slope,
    half_normal_pdf,
    folded_normal_mean,
    conditional_first_order,
    averaged_random_first_order,
    activation_flip_drift,
    envelope_denominator,
    lazy_envelope,
    LAZY_MIN_D,
    LAZY_MAX_C0_RATIO,
    LAZY_WIDTH_FACTOR,
    denominator_condition,
    lazy_conditions,
    lazy_grid,
    sqrt_d_envelope,
    kappa0,
    kappa1,
    empirical_ntk_variance,
    ntk_sd_factor,
    empirical_ntk_sd,
    angle_term,
    angle_free_gradient,
    activation_flip_noise_sq,
    noisy_cosine,
    ensemble_error_sq,
    empirical_ntk_bias)
from ntk_attack.theory.deep import (
    DEEP_ACTIVATIONS,
    FIRST_ORDER_ATTACK_MEAN,
    HANIN_NICA_CONSTANT,
    deep_kernel,
    expected_grad_norm_sq,
    relu_finite_width_moments,
    beta,
    grad_relvar_beta_law,
    ntk_relvar_first_order,
    ntk_relative_error,
    first_order_attack_quantile,
    deep_ntk_diag_mean,
    deep_first_order_attack_mean,
    equal_beta_relvar_ratio)
from ntk_attack.theory.adversarial import (
    PGD_STEP_FRACTION,
    PGD_STEPS,
    RADII,
    row_radius,
    C0_hat_limit,
    effective_C0_over_sqrt_d,
    pgd_step_size,
    robust_accuracy_beyond_envelope)
