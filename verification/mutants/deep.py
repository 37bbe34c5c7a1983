"""Planted bugs of the deep family (``verification/claims/deep``), registered into
:data:`~verification.mutants.catalogue.MUTANTS`.

Each replaces one definition of :mod:`ntk_attack.deep` or ``ntk_attack.deep_training``: a
hand-written replacement (:func:`~patching.wrap`) or a one-line edit of its source
(:func:`~patching.edit`).
"""
import math

import jax.numpy as jnp

from ntk_attack import attacks, deep, deep_training
from verification.mutants import probes
from verification.mutants.catalogue import mutant
from verification.mutants.patching import Attribute, edit, wrap

_CLAIMS = ("deep_gradient_norm_matches_kernel", "deep_gradient_fluctuations_follow_beta",
           "deep_empirical_ntk_converges", "deep_attack_scales_as_inverse_sqrt_d",
           "deep_lazy_training_attack")


def _constant(value):
    return lambda original: value


@mutant("deep", catchers=_CLAIMS,
        probe=probes.deep_output)
def deep_fan_in_by_n():
    """Deep layers normalised by the fan-in n instead of sqrt(n) (mean-field vs NTK scaling)."""
    return [wrap(deep.layer_scale, _constant(lambda W, sigma: sigma / W.shape[0]))]


@mutant("deep", catchers=_CLAIMS,
        probe=probes.deep_output)
def deep_scaled_by_output_width():
    """Deep layers normalised by the output width instead of the input width (a transposed shape)."""
    return [wrap(deep.layer_scale, _constant(lambda W, sigma: sigma / math.sqrt(W.shape[-1])))]


@mutant("deep", catchers=_CLAIMS,
        probe=probes.deep_output)
def deep_hidden_std_one():
    """Hidden weight std 1 instead of sqrt(2) (He scaling forgotten: the signal halves per layer)."""
    return [wrap(Attribute(deep, "W_STD_HIDDEN"), _constant(1.0))]


@mutant("deep", catchers=_CLAIMS,
        probe=probes.deep_output)
def deep_readout_std_sqrt2():
    """Readout weight std sqrt(2) instead of 1 (the hidden layers' constant applied to the readout)."""
    return [wrap(Attribute(deep, "W_STD_READOUT"), _constant(math.sqrt(2.0)))]


@mutant("deep", catchers=_CLAIMS,
        probe=probes.deep_init)
def deep_layers_share_weights():
    """Hidden layers of equal shape all get the first such layer's weights (a reused key)."""
    def factory(init):
        def init_deep(key, d, widths, **kwargs):
            params = init(key, d, widths, **kwargs)
            first = {}
            return params._replace(weights=tuple(first.setdefault(W.shape, W) for W in params.weights))
        return init_deep
    return [wrap(deep.init_deep, factory)]


@mutant("deep", catchers=_CLAIMS,
        probe=probes.deep_init)
def deep_readout_signs():
    """Readout +-1 (the two-layer model's signs) instead of N(0, 1)."""
    def factory(init):
        def init_deep(key, d, widths, **kwargs):
            params = init(key, d, widths, **kwargs)
            return params._replace(readout=jnp.sign(params.readout))
        return init_deep
    return [wrap(deep.init_deep, factory)]


@mutant("deep", catchers=("deep_lazy_training_attack",),
        probe=probes.deep_projection)
def deep_lazy_radius_not_scaled():
    """Deep lazy ball of radius C0 per unit instead of C0 / sqrt(n_l)."""
    def factory(original):
        from ntk_attack import deep, deep_training

        def project_deep(params, params0, C0):
            weights = tuple(deep_training._project(W, W0, C0)
                            for W, W0 in zip(params.weights, params0.weights))
            readout = deep_training._project(params.readout[:, None], params0.readout[:, None], C0)[:, 0]
            return deep.DeepNet(weights, readout, params.activation)
        return project_deep
    return [wrap(deep_training.project_deep, factory)]


@mutant("deep", catchers=("deep_attack_scales_as_inverse_sqrt_d",),
        probe=probes.deep_flip)
def deep_walk_reports_piece_start():
    """Deep piece walk reports the start of the piece holding the output's zero, not the zero (eta* too small); caught by evaluating f either side of eta*."""
    return [edit(deep._walk, ("jnp.where(hit, zero, eta)", "jnp.where(hit, t, eta)"))]


@mutant("deep", "attacks", catchers=("deep_attack_scales_as_inverse_sqrt_d",),
        probe=probes.attack_direction)
def attack_fixed_direction():
    """Attack along a fixed direction (ones / sqrt(d)) instead of the gradient."""
    def factory(original):
        def _direction(f0, grad, grad_norm):
            return -jnp.sign(f0)[:, None] * jnp.ones_like(grad) / math.sqrt(grad.shape[-1])
        return _direction
    return [wrap(attacks._direction, factory)]
