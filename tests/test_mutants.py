"""The planted-bug catalogue: every mutant applies to the current code, acts, and undoes itself."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ntk_attack
from ntk_attack import attacks, bounds, models, predictors
from verification.mutants import FAMILIES, MUTANTS, patching


def _bindings():
    """Objects the mutants replace, under several of their names."""
    return (ntk_attack.apply, attacks.apply, bounds.apply, predictors.apply, models.apply,
            models.input_grad, attacks._min_flip_exact, predictors.KernelPredictor.input_grad)


def test_catalogue_is_complete():
    assert len(MUTANTS) >= 18
    for mutant in MUTANTS.values():
        assert mutant.description and "\n" not in mutant.description, mutant.name
        assert set(mutant.families) <= set(FAMILIES), mutant.name
        assert all(p.target in patching.TARGETS for p in mutant.patches()), mutant.name


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_applies_and_restores(name):
    before = _bindings()
    with MUTANTS[name]():  # an edit that no longer matches the code raises LookupError here
        pass
    assert _bindings() == before


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
