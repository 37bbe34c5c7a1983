"""The planted bugs: each one line of real code gone wrong, with the claims meant to catch it.

Every mutant is a function returning its patches (:mod:`verification.mutants.patching`), each
naming its target by the object (``edit(models.readout, ...)``), registered with :func:`mutant`;
its one-line docstring names the mistake and the claims that should catch it. ``families`` are
the claim families whose claims run under the mutant in a power run. Each has a *probe*
(:mod:`verification.mutants.probes`): a sub-second call whose output the mutant changes on a
fixed input, run by the quick tests, so a refactor that moves the code fails fast and names the
mutant to update. Claim ids are written out here (not imported) so the catalogue is data.
"""
import dataclasses
import functools

import jax
import jax.numpy as jnp

from ntk_attack import (attacks, bounds, data, kernels, models, predictors, theory, training)
from verification.mutants import probes
from verification.mutants.patching import edit, name, patched, wrap

FAMILIES = ("kernels", "gradients", "attacks", "deep", "adversarial")  # verification/claims/<family>
MUTANTS: dict = {}


def known_families(mutant_) -> tuple:
    """Families ``mutant_`` may name: the project's :data:`FAMILIES`, and for a mutant defined
    outside the project, the top-level package of its module (the family of that package's
    claims in a power run, :func:`verification.power.claim_family`)."""
    root = (mutant_.patches or mutant_.context).__module__.split(".")[0]
    return FAMILIES if root in ("verification", "ntk_attack", "tests") else (*FAMILIES, root)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Mutant:
    """A planted bug: ``with mutant(): ...`` runs the library with it.

    Attributes:
        name: registry key.
        description: the real mistake it stands for, and the claims meant to catch it.
        families: claim families run under it in a power run.
        catchers: claim ids expected to fail under it.
        patches: zero-argument function returning the :class:`~patching.Patch` list, or None.
        context: zero-argument function returning a context manager that enters the bug (for
            mutants written as context managers, e.g. a family's own module), or None.
            Exactly one of ``patches`` and ``context`` is given.
        reach: ``"module:qualname"`` of what a ``context`` mutant replaces (the power run's
            walk finds the claims it can change from these; empty: every claim may change).
        probe: zero-argument function whose output (a pytree of arrays) the mutant changes,
            sub-second; None for none.
    """
    name: str
    description: str
    families: tuple
    catchers: tuple = ()
    patches: object = None
    context: object = None
    reach: tuple = ()
    probe: object = None

    def __post_init__(self):
        if (self.patches is None) == (self.context is None):
            raise ValueError(f"mutant {self.name!r} needs exactly one of patches and context.")

    def targets(self) -> tuple:
        """``"module:qualname"`` of every object the mutant replaces (``reach`` for a context)."""
        if self.patches is not None:
            return tuple(name(p.target) for p in self.patches())
        return tuple(self.reach)

    def __call__(self, *, eager: bool = False):
        """The context manager entering the bug; ``eager``: the caller runs the library under
        :func:`jax.disable_jit`, so JAX's caches are kept (see :func:`~patching.patched`)."""
        return self.context() if self.context is not None else patched(self.patches(), eager=eager)


def register(mutant_: Mutant) -> Mutant:
    """Add ``mutant_`` to :data:`MUTANTS` (a family module's mutants join the catalogue here)."""
    allowed = known_families(mutant_)
    bad = [f for f in mutant_.families if f not in allowed]
    if not mutant_.families or bad:
        raise ValueError(f"families must be among {allowed}; got {mutant_.families!r}.")
    if mutant_.name in MUTANTS:
        raise ValueError(f"mutant {mutant_.name!r} is registered twice.")
    MUTANTS[mutant_.name] = mutant_
    return mutant_


def mutant(*families, catchers=(), probe=None):
    """Register the decorated patch list as a :class:`Mutant` named after the function."""
    def decorate(function):
        register(Mutant(name=function.__name__, description=function.__doc__.strip(),
                        families=families, catchers=tuple(catchers), patches=function,
                        probe=probe))
        return function
    return decorate


def _analytic(original, *, first_layer_scale=1.0, nngp_scale=1.0, angle=None):
    """A replacement of ``kernels._analytic`` with scaled parts or another angle factor."""
    from ntk_attack import kernels

    @functools.partial(jax.jit, static_argnames=("nngp", "first_layer"))
    def replacement(x1, x2, *, nngp, first_layer):
        out = nngp_scale * original(x1, x2, nngp=True, first_layer=False) if nngp else 0
        if first_layer and angle is None:
            out = out + first_layer_scale * original(x1, x2, nngp=False, first_layer=True)
        elif first_layer:
            dot, _, c = kernels._dot_norms_cos(x1, x2)
            out = out + dot * angle(c)
        return out
    return replacement


def _flip_result(transform):
    """A replacement of ``attacks._min_flip_exact`` post-processing its result."""
    def factory(original):
        @jax.jit
        def replacement(params, x):
            return transform(original(params, x), x)
        return replacement
    return factory


# ------------------------------------------------------------------------------ kernel family

@mutant("kernels", "gradients", catchers=("kernel_analytic_matches_neural_tangents",
                                        "empirical_converges_to_analytic"),
        probe=probes.analytic_kernels)
def kernel_one_percent_large():
    """Theta_W 1% too large (a stray constant in the closed form); caught by the NT cross-check and empirical_converges_to_analytic's level."""
    return [wrap(kernels._analytic, lambda o: _analytic(o, first_layer_scale=1.01))]


@mutant("kernels", "gradients", catchers=("kernel_analytic_matches_neural_tangents",
                                        "empirical_converges_to_analytic"),
        probe=probes.analytic_kernels)
def kernel_wrong_angle():
    """Theta_W with angle factor (1 + cos)/4 instead of (pi - theta)/(2 pi) (same ends, wrong shape); caught by the NT cross-check and the Bernoulli sd."""
    return [wrap(kernels._analytic, lambda o: _analytic(o, angle=lambda c: (1 + c) / 4))]


@mutant("kernels", catchers=("kernel_analytic_matches_neural_tangents",),
        probe=probes.analytic_kernels)
def nngp_arccos_constant():
    """NNGP with Cho-Saul's arc-cosine constant 1/pi instead of 1/(2 pi) (K doubled); caught by the NT cross-check."""
    return [wrap(kernels._analytic, lambda o: _analytic(o, nngp_scale=2.0))]


@mutant("kernels", catchers=("empirical_matches_neural_tangents", "empirical_converges_to_analytic"),
        probe=probes.empirical_ntk)
def empirical_ntk_signed_readout():
    """Empirical NTK weighted by a_s instead of a_s^2 (the readout sign not squared); caught by empirical_matches_neural_tangents and the Bernoulli sd."""
    return [edit(kernels._empirical_ntk, ("jnp.pad(params.a.astype(dtype) ** 2, (0, pad))",
                                        "jnp.pad(params.a.astype(dtype), (0, pad))"))]


@mutant("kernels", "gradients", catchers=("gradient_closed_forms_match_finite_differences",),
        probe=probes.at_kinks)
def relu_prime_zero_is_one():
    """relu'(0) = 1: neurons exactly at their kink count as active (network gradient, empirical NTK, linearisation, attack walk); equivalent on continuous data, visible only at exact kinks (zero padding rows, x = 0)."""
    return [edit(models.input_grad, ("(preactivations(params, x) > 0)", "(preactivations(params, x) >= 0)")),
            edit(kernels._empirical_ntk, ("pair((z1 > 0) * a2b, (z2 > 0).astype(dtype))",
                                        "pair((z1 >= 0) * a2b, (z2 >= 0).astype(dtype))")),
            edit(predictors.linearize, ("@ W0.T > 0)", "@ W0.T >= 0)")),
            edit(attacks._min_flip_exact, ("active = z > 0", "active = z >= 0"))]


@mutant("kernels", "attacks", catchers=("empirical_converges_to_analytic", "init_attack_matches_prediction"),
        probe=probes.init)
def init_bubeck_scale():
    """W0 ~ N(0, I/d) with unit-norm x (Bubeck et al.'s weight scale mixed with our inputs): f and grad f shrink by sqrt(d); caught by the empirical kernel's level and Var f at init."""
    return [edit(models.init_two_layer, ("jax.random.normal(key_w, (m // 2, d), dtype)",
                                    "jax.random.normal(key_w, (m // 2, d), dtype) / jnp.sqrt(d)"),
                 ("jax.random.normal(key_w, (m, d), dtype)",
                  "jax.random.normal(key_w, (m, d), dtype) / jnp.sqrt(d)"))]


# ---------------------------------------------------------------------------- gradient family

@mutant("gradients", catchers=("trained_gradient_converges_to_kernel_gradient",
                              "antisymmetric_init_gradient_converges", "ensemble_gradient_converges",
                              "gradient_closed_forms_match_finite_differences"),
        probe=probes.kernel_gradient)
def kernel_gradient_without_angle_term():
    """grad h_t without its angle term: the kernel's custom_jvp returns 0 for d kappa0/dc everywhere (the singular-point convention applied at every angle); caught by level checks of the gradient claims and finite differences."""
    def factory(original):
        replacement = jax.custom_jvp(lambda c: original(c))

        @replacement.defjvp
        def _jvp(primals, tangents):
            (c,), (dc,) = primals, tangents
            return original(c), jnp.zeros_like(dc)
        return replacement
    return [wrap(kernels._kappa0, factory)]


@mutant("gradients", catchers=("init_gradient_term_persists",
                              "gradient_closed_forms_match_finite_differences"),
        probe=probes.predictor_gradient)
def kernel_gradient_half_angle_free():
    """grad h_t replaced by half its angle-free part sum_i c_i x_i kappa0_i / 2 (norm 2.95 -> 1.12 on digits); caught by init_gradient_term_persists once it involves grad h_t, and finite differences."""
    def factory(original):
        def input_grad(self, x):
            from ntk_attack import predictors
            return 0.5 * predictors.angle_free_input_grad(self, x)
        return input_grad
    return [wrap(predictors.KernelPredictor.input_grad, factory)]


@mutant("gradients", catchers=("trained_gradient_converges_to_kernel_gradient",
                              "antisymmetric_init_gradient_converges"),
        probe=probes.training_loss)
def squared_loss_without_half():
    """Squared loss without the 1/2 (L = mean (f - y)^2): the network trains at twice the kernel predictor's rate; caught by level checks of the kernel-vs-network distance."""
    return [edit(training._network_loss, ("return 0.5 * jnp.mean((f - y) ** 2), f",
                                  "return jnp.mean((f - y) ** 2), f"))]


@mutant("gradients", catchers=("ensemble_gradient_converges",),
        probe=probes.ensemble_gradient)
def ensemble_wrong_axis():
    """Ensemble input gradient averaged over networks and test points (axis=(0, 1); broadcasting hides the shape); caught by ensemble_gradient_converges' level."""
    return [edit(predictors.ensemble_input_grad, ("(params, x), axis=0)", "(params, x), axis=(0, 1))"))]


@mutant("gradients", "attacks", catchers=("lazy_value_drift_bound",),
        probe=probes.C0_hat)
def C0_hat_without_sqrt_m():
    """C0_hat recorded as max_s ||w_s - w_s,0|| without the sqrt(m); caught by lazy_value_drift_bound's violation count."""
    return [edit(training.C0_hat, ("return jnp.sqrt(W.shape[0]) * jnp.max(", "return jnp.max("))]


@mutant("gradients", "attacks", catchers=("lazy_value_drift_bound", "lazy_bound_holds"),
        probe=probes.row_radius)
def lazy_radius_not_scaled():
    """Lazy-ball row radius C0 instead of C0 / sqrt(m) (theory.row_radius, which training, adversarial training and deep training use: the stop rule fires sqrt(m) times too late); caught by lazy_value_drift_bound's C0 rules."""
    return [edit(theory.adversarial.row_radius, ("return C0 / math.sqrt(m) if", "return C0 if"))]


# ------------------------------------------------------------------------------ attack family

@mutant("attacks", "gradients", "kernels", catchers=("init_attack_matches_prediction",),
        probe=probes.network)
def output_scaled_one_over_m():
    """Output scaled by 1/m instead of 1/sqrt(m) (mean-field vs NTK parameterisation) in the network, its gradient, the exact attack, the loss, the linearisation and the empirical NTK; caught by Var f and E||grad f||^2 at init."""
    return [edit(models.readout, ("/ jnp.sqrt(m)", "/ m")),
            edit(models.input_grad, ("/ jnp.sqrt(params.m)", "/ params.m")),
            edit(attacks._min_flip_exact, ("root_m = jnp.sqrt(W.shape[0]).astype(W.dtype)",
                                    "root_m = jnp.asarray(W.shape[0], W.dtype)")),
            edit(predictors.linearize, ("scale = jnp.sqrt(W0.shape[0])", "scale = W0.shape[0]")),
            edit(kernels._empirical_ntk, ("acc[0] / m", "acc[0] / m ** 2"), ("acc[1] / m", "acc[1] / m ** 2"))]


@mutant("attacks", catchers=("attack_scales_as_inverse_sqrt_d", "constant_does_not_grow_with_d"),
        probe=probes.flip)
def constant_grows_with_d():
    """eta* multiplied by (d/16)^0.05 (a constant that grows with d); caught by the d-slope level and the held-out constant."""
    def grow(result, x):
        factor = (x.shape[-1] / 16) ** 0.05
        return result._replace(eta=result.eta * factor)
    return [wrap(attacks._min_flip_exact, _flip_result(grow))]


@mutant("attacks", catchers=("init_attack_matches_prediction", "attack_scales_as_inverse_sqrt_d"),
        probe=probes.flip)
def first_order_reported_as_exact():
    """The first-order size |f| / ||grad f|| reported as eta* (no breakpoint walk); caught by the curvature factor at init."""
    def first_order(result, x):
        return result._replace(eta=jnp.where(result.flipped, result.first_order, jnp.inf))
    return [wrap(attacks._min_flip_exact, _flip_result(first_order))]


@mutant("attacks", catchers=("init_attack_matches_prediction",),
        probe=probes.breakpoint_walk)
def breakpoint_walk_off_by_one():
    """Breakpoint walk off by one: each segment's slope includes the change at its own end breakpoint; caught by the exact-vs-bisection cross-check (the closed-form polish hides it from the statistics)."""
    return [edit(attacks._first_zero_sorted, ("np.cumsum(ds, axis=-1) - ds", "np.cumsum(ds, axis=-1)"))]


@mutant("attacks", catchers=("init_attack_matches_prediction", "attack_scales_as_inverse_sqrt_d"),
        probe=probes.attack_direction)
def attack_gradient_sign():
    """Attack direction +sign(f) grad f (ascent on |f|, the gradient sign wrong); caught by the curvature factor and the no-flip fraction."""
    return [edit(attacks._direction, ("return -jnp.sign(f0)[:, None]", "return jnp.sign(f0)[:, None]"))]


@mutant("attacks", catchers=("attack_scales_as_inverse_sqrt_d", "init_attack_matches_prediction"),
        probe=probes.attack_direction)
def attack_direction_not_normalised():
    """Attack direction -sign(f) grad f not divided by its norm, so the step t is reported as ||delta||; caught by the d-slope (-1 instead of -1/2)."""
    return [edit(attacks._direction, ("* grad / safe[:, None]", "* grad"))]


@mutant("attacks", catchers=("lazy_bound_holds",),
        probe=probes.envelope)
def envelope_slack_doubled():
    """Envelope B(x) twice too large (a loose bound); caught only by tightness: the 99.9% quantile of eta*/B at C0 = 0 must be ~1."""
    return [edit(theory.two_layer.lazy_envelope, ("kappa_d * (xp.abs(f0_init) + C0) / safe",
                                   "2 * kappa_d * (xp.abs(f0_init) + C0) / safe"))]


@mutant("attacks", catchers=("lazy_bound_holds",),
        probe=probes.envelope)
def envelope_bare_first_order():
    """Envelope without its curvature factor and drift terms (kappa_d = 1, c_sys = 0, no activation-flip term); caught by lazy_bound_holds' violation fraction."""
    return [edit(theory.two_layer.lazy_envelope, ("kappa_d * (xp.abs(f0_init) + C0) / safe",
                                   "(xp.abs(f0_init) + C0) / safe"),
                 ("denominator = envelope_denominator(",
                  "denominator = grad0_norm + 0 * envelope_denominator("))]


@mutant("attacks", catchers=("lazy_bound_holds",),
        probe=probes.kappa)
def kappa_from_median():
    """Curvature factor kappa_d calibrated as the median instead of the 99.9% quantile; caught by lazy_bound_holds' violation fraction."""
    return [edit(bounds.calibrate_kappa, ("float(np.quantile(ratios, q))", "float(np.quantile(ratios, 0.5))"))]


@mutant("attacks", catchers=("constant_does_not_grow_with_d",),
        probe=probes.K_hat)
def bootstrap_points_not_networks():
    """K_hat's bootstrap resamples points instead of networks (correlated points counted as independent, CI too narrow); caught by the coverage test, and by constant_does_not_grow_with_d only as a false failure."""
    return [edit(bounds.K_hat, ("    rng = np.random.default_rng(seed)\n",
                           "    rng = np.random.default_rng(seed)\n    ratios = ratios.reshape(-1, 1)\n"))]


@mutant("attacks", "gradients", catchers=("phase_transition_in_C0",),
        probe=probes.split)
def test_labels_flipped():
    """Test labels negated in the train/test split (the sign convention of one split reversed); caught only by a check of trained test accuracy against the kernel predictor's."""
    return [edit(data._split, ("x[test], y[test])", "x[test], -y[test])")),
            edit(data.sphere, ("x[n_train:], y[n_train:])", "x[n_train:], -y[n_train:])"))]
