"""Claim discovery: the project's families, the entry-point group, and modules named at run time."""
import importlib.metadata

import pytest

from verification import registry


def test_families_are_found_in_report_order():
    modules = registry.family_modules()
    assert modules[:3] == ["verification.claims.kernels", "verification.claims.gradients",
                           "verification.claims.attacks"]
    assert len(modules) == len(set(modules))


def test_the_project_registers_its_families_as_entry_points():
    entries = {e.name: e.value for e in importlib.metadata.entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert entries.get("kernels") == "verification.claims.kernels", entries
    assert set(entries.values()) <= set(registry.family_modules())


def test_every_project_claim_takes_a_grid_argument():
    specs = [s for s in registry.all_claims().values() if s.run.__module__.startswith("verification.")]
    assert len(specs) >= 16
    for spec in specs:
        code = spec.run.__code__
        assert "grid" in code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]


def test_a_module_that_cannot_be_imported_names_itself():
    with pytest.raises(ValueError, match="cannot import claim module 'no_such_claims'"):
        registry.load_modules(["no_such_claims"])
