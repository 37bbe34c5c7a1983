"""Planted bugs for the narrow-width claims (``ntk-attack verify --power``), found through the
entry point ``ntk_attack.mutants``. Each is one line of the toolkit's own code gone wrong."""
from verification.mutants import edit, mutant, wrap

CLAIMS = ("narrow_no_gradient_fraction", "narrow_no_strict_flip_fraction", "narrow_curvature_is_width_limited",
          "narrow_attack_size_limit_law", "narrow_smooth_activation_flips")


@mutant("narrow_width", catchers=CLAIMS[2:4])
def narrow_breakpoint_slope_sign():
    """Exact walk: the slope change at each breakpoint with the wrong sign (-sign(f) a_s |v_s|)."""
    return [edit("min_flip_exact", ("ds = jnp.where(switches, sign * a", "ds = jnp.where(switches, -sign * a"))]


@mutant("narrow_width", catchers=CLAIMS[1:2])
def narrow_zero_is_not_a_flip():
    """Exact walk: reaching f = 0 is not a flip, only a strict sign change is (value < -slack)."""
    return [edit("breakpoint_walk", ("crossed = finite & (value <= slack)", "crossed = finite & (value < -slack)"))]


@mutant("narrow_width", catchers=CLAIMS[1:4])
def narrow_random_for_balanced():
    """init_two_layer draws i.i.d. random signs when balanced signs are asked for."""
    def factory(original):
        def init_two_layer(key, d, m, *, signs="balanced", dtype=None):
            return original(key, d, m, signs="random" if signs == "balanced" else signs, dtype=dtype)
        return init_two_layer
    return [wrap("init_two_layer", factory)]


@mutant("narrow_width", catchers=CLAIMS[:1])
def narrow_zero_gradient_dropped():
    """Attack status: ZERO_GRADIENT never reported (such points fall back to ZERO_OUTPUT)."""
    return [edit("flip_status", ("return jnp.where(grad_norm == 0, _ZERO_GRADIENT, status)", "return status"))]


@mutant("narrow_width")
def narrow_switch_on_ignored():
    """Exact walk ignores inactive neurons that switch on along the ray (not designed for: catchers unknown)."""
    return [edit("min_flip_exact", ("switches = (active & (v < 0)) | (~active & (v > 0))",
                                    "switches = active & (v < 0)"))]
