"""benchmarks/seeds.py's summary of verdicts across seeds, on hand-made reports."""
import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "seeds", Path(__file__).parent.parent / "benchmarks" / "seeds.py")
seeds = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(seeds)


def report(verdicts: dict, estimate: float, half: float) -> dict:
    check = {"name": "level", "level": 0.999, "estimate": estimate, "verdict": "pass",
             "ci": [estimate - half, estimate + half],
             "band": {"lo": 0.9, "hi": 1.1, "max_half_width": 0.05}}
    exact = {"name": "exact", "level": None, "estimate": 0.0, "ci": [0, 0], "verdict": "pass",
             "band": {"lo": 0, "hi": 0, "max_half_width": 0}}
    return {"claims": [{"id": claim, "verdict": v, "checks": [check, exact]}
                       for claim, v in verdicts.items()]}


def test_seed_list_reads_ranges_and_lists():
    assert seeds.seed_list("0-3,7") == [0, 1, 2, 3, 7]
    with pytest.raises(ValueError, match="seeds must be"):
        seeds.seed_list("-1")


def test_acceptance_counts_passes_and_repeated_inconclusive_claims():
    reports = {s: report({"a": "pass", "b": "inconclusive" if s < 2 else "pass", "c": "skipped"},
                         1.0, 0.02) for s in range(10)}
    result = seeds.summary(reports)
    assert result["claim_runs"] == 20 and result["pass_share"] == pytest.approx(18 / 20)
    assert result["inconclusive_more_than_once"] == ["b"] and not result["accepted"]
    reports[1] = report({"a": "pass", "b": "pass", "c": "skipped"}, 1.0, 0.02)
    assert seeds.summary(reports)["inconclusive_more_than_once"] == []


def test_sizing_rule_flags_wide_or_near_edge_checks():
    rows = seeds.check_rows({0: report({"a": "pass"}, 1.0, 0.02), 1: report({"a": "pass"}, 1.0, 0.02)})
    assert len(rows) == 1 and rows[0]["sized"]  # 0.02 <= 0.6 * 0.05 and 0.1 / 0.02 = 5 half-widths
    assert rows[0]["edge_in_half_widths"] == pytest.approx(5.0)
    near = seeds.check_rows({0: report({"a": "pass"}, 1.07, 0.02)})
    assert not near[0]["sized"]  # 0.03 from the edge: 1.5 half-widths
    wide = seeds.check_rows({0: report({"a": "pass"}, 1.0, 0.04)})
    assert not wide[0]["sized"]  # 0.04 > 0.6 * 0.05
