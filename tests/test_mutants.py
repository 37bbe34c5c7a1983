"""The planted-bug catalogue: every mutant applies to the current code, acts, undoes itself, and
changes its probe's output on a fixed input (so a refactor that moves the code names the mutant)."""
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ntk_attack
from ntk_attack import attacks, models, predictors, theory
from verification.mutants import FAMILIES, MUTANTS, known_families, patching


def _bindings():
    """Objects the mutants replace, under several of their names."""
    return (ntk_attack.apply, attacks.apply, predictors.apply, models.apply,
            models.input_grad, attacks._min_flip_exact, predictors.KernelPredictor.input_grad,
            theory.lazy_envelope)


def test_catalogue_is_complete():
    assert len(MUTANTS) >= 18
    for mutant in MUTANTS.values():
        assert mutant.description and "\n" not in mutant.description, mutant.name
        assert set(mutant.families) <= set(known_families(mutant)), mutant.name
        if mutant.patches is not None:  # each target is still defined where it says
            assert all(patching.resolve(p.target) for p in mutant.patches()), mutant.name
        assert callable(mutant.probe), f"{mutant.name} has no probe"


def _located(mutant) -> list:
    """``(owner, attribute, original)`` of every object a patch-list mutant replaces."""
    return [patching.resolve(p.target) for p in mutant.patches()] if mutant.patches else []


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_applies_acts_and_restores(name):
    mutant = MUTANTS[name]
    before = _bindings()
    located = _located(mutant)
    with mutant():  # an edit that no longer matches the code raises LookupError here
        # Acts: every target's defining binding now holds another object.
        assert all(vars(owner)[attribute] is not original
                   for owner, attribute, original in located), name
    assert _bindings() == before
    assert all(vars(owner)[attribute] is original for owner, attribute, original in located), name


def test_from_imports_and_jitted_callers_see_the_mutant(key):
    params = models.init_two_layer(key, 8, 64)
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 8))
    clean = np.asarray(attacks.min_flip(params, x).f0)
    with MUTANTS["output_scaled_one_over_m"]():
        assert attacks.apply is models.apply is ntk_attack.apply  # every binding patched
        # _min_flip_exact was traced above with the clean code: clear_caches makes it retrace.
        mutated = np.asarray(attacks.min_flip(params, x).f0)
    np.testing.assert_allclose(mutated, clean / jnp.sqrt(64), rtol=1e-12,
                               err_msg="1/m instead of 1/sqrt(m): outputs shrink by sqrt(m) exactly")
    np.testing.assert_array_equal(np.asarray(attacks.min_flip(params, x).f0), clean)


# The mutants of the exact attack's code. relu'(0) = 1 acts only at exact kinks, which random
# points never hit; the off-by-one walk is absorbed by the exact solve on the segment it picks
# unless it picks another one (test_breakpoint_walk_mutant_changes_the_walk).
ATTACK_MUTANTS = [n for n, m in MUTANTS.items()  # the project's own (a plugin's may target other cases)
                  if m.patches is not None and set(m.families) <= set(FAMILIES) and any(
    p.target in (attacks._min_flip_exact, attacks._direction, attacks._first_zero_sorted)
    for p in m.patches()) and n not in ("relu_prime_zero_is_one", "breakpoint_walk_off_by_one")]


def test_the_attack_mutants_are_found():
    """The planted run below is not empty (a filter on stale target names once made it so)."""
    assert set(ATTACK_MUTANTS) >= {"output_scaled_one_over_m", "constant_grows_with_d",
                                   "first_order_reported_as_exact", "attack_gradient_sign",
                                   "attack_direction_not_normalised"}, ATTACK_MUTANTS


# Runs the attack under each of its planted bugs (CI's extended step, as every planted run).
@pytest.mark.planted
@pytest.mark.parametrize("name", ATTACK_MUTANTS)
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


def _leaves(tree):
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_changes_its_probe(name):
    """The mutated code's output changes on the probe's fixed input. Run eagerly: entering the
    mutant keeps JAX's compiled primitives, so the mutated call and the exit take well under a
    second (CPU time: under load the wall clock measures the neighbours)."""
    mutant = MUTANTS[name]
    with jax.disable_jit():
        clean = _leaves(mutant.probe())
        start = time.process_time()
        with mutant(eager=True):
            mutated = _leaves(mutant.probe())
        seconds = time.process_time() - start
        restored = _leaves(mutant.probe())
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(restored, clean)), \
        f"{name}: the probe differs after the mutant is undone"
    changed = len(mutated) != len(clean) or any(
        a.shape != b.shape or not np.array_equal(a, b, equal_nan=True) for a, b in zip(mutated, clean))
    assert changed, (f"mutant {name!r} no longer changes its probe {mutant.probe.__name__}: the "
                     "code it targets moved or changed; update the mutant")
    assert seconds < 1.0, f"{name}: entering, probing and leaving took {seconds:.2f} s CPU"


def test_holding_names_the_one_function_with_a_line():
    assert patching.holding(attacks, "crossed = finite & (value <= slack)") is attacks._first_zero_sorted
    for text in ("no such line in the module", "jnp.where("):  # in none, in several
        with pytest.raises(LookupError, match="exactly one function holding"):
            patching.holding(attacks, text)
