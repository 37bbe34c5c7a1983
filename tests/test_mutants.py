"""The planted-bug catalogue: every mutant applies to the current code, acts, and undoes itself."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ntk_attack
from ntk_attack import _attack_edge, attacks, models, predictors, theory
from verification.mutants import MUTANTS, known_families, patching


def _bindings():
    """Objects the mutants replace, under several of their names."""
    return (ntk_attack.apply, _attack_edge.apply, predictors.apply, models.apply,
            models.input_grad, attacks._min_flip_exact, predictors.KernelPredictor.input_grad,
            theory.lazy_envelope)


def test_catalogue_is_complete():
    assert len(MUTANTS) >= 18
    for mutant in MUTANTS.values():
        assert mutant.description and "\n" not in mutant.description, mutant.name
        assert set(mutant.families) <= set(known_families(mutant)), mutant.name
        if mutant.patches is not None:
            assert all(p.target in patching.TARGETS for p in mutant.patches()), mutant.name


def _targets(mutant) -> list:
    """The objects a patch-list mutant replaces, as the library's own modules hold them."""
    return [patching.resolve(p.target)[2] for p in mutant.patches()]


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_applies_acts_and_restores(name):
    mutant = MUTANTS[name]
    before = _bindings()
    targets = _targets(mutant) if mutant.patches is not None else []
    with mutant():  # an edit that no longer matches the code raises LookupError here
        # Acts: every target's defining binding now holds another object.
        assert all(new is not old for new, old in zip(_targets(mutant), targets)), name
    assert _bindings() == before
    assert all(new is old for new, old in zip(_targets(mutant) if targets else [], targets)), name


def test_from_imports_and_jitted_callers_see_the_mutant(key):
    params = models.init_two_layer(key, 8, 64)
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 8))
    clean = np.asarray(attacks.min_flip(params, x).f0)
    with MUTANTS["output_scaled_one_over_m"]():
        assert _attack_edge.apply is models.apply is ntk_attack.apply  # every binding patched
        # _min_flip_exact was traced above with the clean code: clear_caches makes it retrace.
        mutated = np.asarray(attacks.min_flip(params, x).f0)
    np.testing.assert_allclose(mutated, clean / jnp.sqrt(64), rtol=1e-12,
                               err_msg="1/m instead of 1/sqrt(m): outputs shrink by sqrt(m) exactly")
    np.testing.assert_array_equal(np.asarray(attacks.min_flip(params, x).f0), clean)


# Runs the attack under each of its planted bugs (CI's extended step, as every planted run).
# relu'(0) = 1 acts only at exact kinks, which random points never hit; the off-by-one walk is
# absorbed by the exact solve on the segment it picks unless it picks another one (below).
@pytest.mark.planted
@pytest.mark.parametrize("name", [n for n, m in MUTANTS.items() if m.patches is not None and any(
    p.target in ("min_flip_exact", "attack_direction", "breakpoint_walk") for p in m.patches())
    and n not in ("relu_prime_zero_is_one", "breakpoint_walk_off_by_one")])
def test_attack_mutants_run_and_change_the_result(name, key):
    # d != 16: the growing constant is 1 at d = 16. m = 512, 200 points: the off-by-one walk
    # changes eta* only where it picks another segment (~1e-4 relative on a few points).
    params = models.init_two_layer(key, 32, 512)
    x = jax.random.normal(jax.random.PRNGKey(2), (200, 32))
    clean = attacks.min_flip(params, x)
    with MUTANTS[name]():  # a replacement that no longer fits the result type raises here
        mutated = attacks.min_flip(params, x)
    # eta* itself is scale-free (1/m vs 1/sqrt(m) keeps it): some field of the result changes.
    assert any(not np.array_equal(a, b) for a, b in zip(mutated, clean)), name


def test_breakpoint_walk_mutant_changes_the_walk():
    h0, s0 = np.array([1.0]), np.array([-0.5])
    t, ds = np.array([[1.0, 3.0]]), np.array([[0.25, 0.0]])
    clean = attacks._first_zero_sorted(h0, s0, t, ds)
    with MUTANTS["breakpoint_walk_off_by_one"]():
        mutated = attacks._first_zero_sorted(h0, s0, t, ds)
    assert clean[0][0] == 3.0 and mutated[0][0] != clean[0][0], (clean, mutated)
