"""Planted bugs for the narrow-width claims (``ntk-attack verify --power``), found through the
entry point ``ntk_attack.mutants``; each names its target by the line it edits
(:func:`verification.mutants.holding`) or by a public function."""
import jax
import jax.numpy as jnp

from ntk_attack import attacks, models
from verification.mutants import edit, holding, mutant, probes, wrap

CLAIMS = ("narrow_no_gradient_fraction", "narrow_no_strict_flip_fraction", "narrow_curvature_is_width_limited",
          "narrow_attack_size_limit_law", "narrow_smooth_activation_flips")


def line(old, new):
    """The function of :mod:`ntk_attack.attacks` holding ``old``, with ``old`` replaced by ``new``."""
    return [edit(holding(attacks, old), (old, new))]


def signs_probe():
    return models.init_two_layer(jax.random.PRNGKey(0), 4, 8).a


def status_probe():
    """Every neuron off at ``x`` (``W x < 0``): the status is ``ZERO_GRADIENT``."""
    return attacks.min_flip(models.TwoLayer(W=jnp.ones((8, 4)), a=jnp.ones(8)), -jnp.full((1, 4), 0.5)).status


@mutant("narrow_width", catchers=CLAIMS[3:4], probe=probes.flip)  # R - 1 moves ~6%: inside P3's band
def narrow_breakpoint_slope_sign():
    """Exact walk: the slope change at each breakpoint with the wrong sign (-sign(f) a_s |v_s|)."""
    return line("ds = jnp.where(switches, sign * a", "ds = jnp.where(switches, -sign * a")


@mutant("narrow_width", catchers=CLAIMS[1:2], probe=probes.breakpoint_walk)
def narrow_zero_is_not_a_flip():
    """Exact walk: reaching f = 0 is not a flip, only a strict sign change is (value < -slack)."""
    return line("crossed = finite & (value <= slack)", "crossed = finite & (value < -slack)")


@mutant("narrow_width", catchers=CLAIMS[1:4], probe=signs_probe)
def narrow_random_for_balanced():
    """init_two_layer draws i.i.d. random signs when balanced signs are asked for."""
    return [wrap(models.init_two_layer, lambda original: lambda key, d, m, *, signs="balanced", dtype=None: original(
        key, d, m, signs="random" if signs == "balanced" else signs, dtype=dtype))]


@mutant("narrow_width", catchers=CLAIMS[:1], probe=status_probe)
def narrow_zero_gradient_dropped():
    """Attack status: ZERO_GRADIENT never reported (such points fall back to ZERO_OUTPUT)."""
    return line("return jnp.where(grad_norm == 0,", "return jnp.where(grad_norm < 0,")


@mutant("narrow_width", probe=probes.flip)
def narrow_switch_on_ignored():
    """Exact walk ignores inactive neurons that switch on along the ray (not designed for: catchers unknown)."""
    return line("switches = (active & (v < 0)) | (~active & (v > 0))", "switches = active & (v < 0)")
