"""Generated mutants (verification/mutants/generated.py): mutmut's diffs as catalogue patches."""
import json
import math

import pytest

from verification import power, protocol, registry
from verification.mutants import generated

# A diff as `mutmut show` prints it (function-level, 3 lines of context).
DIFF = """--- verification/protocol.py
+++ verification/protocol.py
@@ -7,7 +7,7 @@
     a non-finite end (no interval could be computed) is inconclusive.
     \"\"\"
     lo, hi = ci
-    if not (math.isfinite(lo) and math.isfinite(hi)):
+    if not (math.isfinite(lo) or math.isfinite(hi)):
         return "inconclusive"
     if hi < band.lo or lo > band.hi:
         return "fail\""""
RECORD = {"name": "verification.protocol.x_judge__mutmut_4", "target": "verification.protocol:judge",
          "diff": DIFF}
BAND = protocol.Band(0.0, 1.0, 1.0, "test")


def test_hunks_keep_context_on_both_sides():
    (old, new), = generated.hunks(DIFF)
    assert old.splitlines()[2:4] == ["    lo, hi = ci",
                                     "    if not (math.isfinite(lo) and math.isfinite(hi)):"]
    assert new.splitlines()[3] == "    if not (math.isfinite(lo) or math.isfinite(hi)):"
    assert len(old.splitlines()) == len(new.splitlines()) == 7


@pytest.mark.parametrize("name, expected", [
    ("verification.protocol.x_judge__mutmut_4", "generated-verification_protocol-judge-4"),
    ("ntk_attack.predictors.xǁKernelPredictorǁapply__mutmut_12",
     "generated-predictors-KernelPredictor_apply-12"),
], ids=["function", "method"])
def test_names(name, expected):
    assert generated.mutant_name(name) == expected
    assert expected.replace("-", "").replace("_", "").isalnum(), "a power run tags its cache with it"


def test_bad_records_raise():
    with pytest.raises(ValueError, match="mutmut mutant name"):
        generated.mutant_name("judge")
    with pytest.raises(ValueError, match="module:qualname"):
        generated.mutant({**RECORD, "target": "judge"})
    with pytest.raises(ValueError, match="changes a line"):
        generated.hunks("--- a\n+++ a\n@@ -1 +1 @@\n x\n")


def test_mutant_changes_the_function_and_restores_it():
    mutant = generated.mutant(RECORD)
    assert mutant.targets() == ("verification.protocol:judge",)
    half_open = (2.0, math.inf)  # one end finite: the mutant judges it, the original cannot
    assert protocol.judge(half_open, BAND) == "inconclusive"
    with mutant():
        assert protocol.judge(half_open, BAND) == "fail"
    assert protocol.judge(half_open, BAND) == "inconclusive"


def test_stale_diff_raises_lookup_error():
    stale = DIFF.replace("lo, hi = ci", "low, high = ci")
    with pytest.raises(LookupError, match="update the mutant"):
        with generated.mutant({**RECORD, "diff": stale})():
            pass


def test_load_and_plan(tmp_path):
    path = tmp_path / "drawn.json"
    path.write_text(json.dumps({"mutants": [RECORD]}))
    mutants = generated.load(path)
    assert list(mutants) == ["generated-verification_protocol-judge-4"]
    # no families: the power run takes the claims whose code reaches protocol.judge
    specs = list(registry.all_claims([]).values())
    run, outside = power.plan(mutants["generated-verification_protocol-judge-4"], specs)
    assert run == outside and run, "every claim judges through protocol.judge"
