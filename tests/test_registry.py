"""Claim discovery: the project's families, the entry-point group, and modules named at run time."""
import importlib.metadata

import pytest

from verification import protocol, registry


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


def test_unaccounted_lists_every_data_key_outside_the_three_groups():
    check = protocol.exact_check("max error", prediction="0", value=0.0,
                                 band=protocol.Band(0, 0, 0, "test"))
    sound = registry.Outcome([check], {"d": [1, 2], "error": 0.0, "time": 1.0, "captions": {}}, {},
                             inputs=("d",), judged={"error": ("max error",)},
                             unjudged={"time": "machine-dependent"})
    assert registry.unaccounted(sound) == []
    broken = registry.Outcome([check], {"d": 1, "error": 0.0, "other": 2.0}, {}, inputs=("d", "gone"),
                              judged={"error": "no such check", "d": "max"}, unjudged={"x": " "})
    problems = registry.unaccounted(broken)
    assert any("'other' is in none" in p for p in problems)
    assert any("'d' is in inputs and judged" in p for p in problems)
    assert any("'gone' (inputs) is not a data key" in p for p in problems)
    assert any("'no such check'" in p for p in problems)
    assert any("'x' (unjudged) is not a data key" in p for p in problems)


def test_unaccounted_refuses_a_judgment_without_a_check():
    check = protocol.exact_check("max error", prediction="0", value=0.0,
                                 band=protocol.Band(0, 0, 0, "test"))
    for judged in ({"error": ()}, {"error": ""}, {"error": ("max error", " ")}):
        outcome = registry.Outcome([check], {"error": 0.0}, {}, judged=judged)
        assert registry.unaccounted(outcome), judged  # a blank fragment is in every name
