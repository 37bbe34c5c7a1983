"""The report: entries and verdicts, JSON round trip, markdown, figures, re-rendering."""
import importlib.util
import json
import math
import os
import sys
import types

import pytest

import dummy_claims
from ntk_attack import io
from verification import protocol, registry, report

CHECK_KEYS = {"name", "prediction", "estimate", "ci", "band", "level", "verdict", "note",
              "predicted", "min_detectable_effect"}
ENTRY_KEYS = {"id", "title", "verdict", "reason", "prediction", "checks", "config", "notes", "data",
              "seed", "profile", "wall_time_s", "sweep", "figures", "figure_error"}


@pytest.fixture
def dummies():
    with dummy_claims.registered():
        yield dummy_claims


@pytest.fixture
def active_report(dummies, tmp_path):
    """One quick run of the cheap dummy claim, the skipped one and the broken one."""
    out = tmp_path / "results"
    result = report.run_claims([dummies.ACTIVE, dummies.SKIPPED, dummies.BROKEN], profile="quick",
                               seed=0, out_dir=out, quiet=True)
    return out, result


def test_run_writes_json_md_and_figures(active_report, dummies):
    out, result = active_report
    on_disk = report.load_report(out / "report.json")
    assert on_disk == result
    assert set(result) == {"schema", "run", "summary", "claims"}
    run = result["run"]
    assert run["profile"] == "quick" and run["seed"] == 0 and run["dtype"] == "float64"
    assert {"ntk-attack", "jax", "jaxlib", "neural-tangents", "numpy", "scipy", "python"} <= set(
        run["versions"])
    assert run["command"].endswith(f"--only {dummies.ACTIVE} {dummies.SKIPPED} {dummies.BROKEN}")
    assert run["total_time_s"] > 0
    active, skipped, broken = result["claims"]
    for entry in result["claims"]:
        assert set(entry) >= ENTRY_KEYS
    assert active["verdict"] == "pass" and active["sweep"]["computed"] == 12
    assert all(set(c) == CHECK_KEYS for c in active["checks"])
    share, homogeneity = active["checks"]
    assert share["predicted"] == 0.5 and share["min_detectable_effect"]["relative"] > 0
    assert homogeneity["min_detectable_effect"] is None  # exact: no sampling error
    assert active["inputs"] == ["d"] and active["judged"]["active"] == ["active share"]
    assert list(active["unjudged"]) == ["one_sided"] and active["bookkeeping"] == []
    assert active["prediction"].startswith("``P(w . x > 0) = 1/2``")
    assert active["data"]["one_sided"][0] == -math.inf  # strict JSON ("-inf"), decoded on load
    assert '"-inf"' in (out / "report.json").read_text()
    assert skipped["verdict"] == "skipped" and skipped["reason"] == "needs a file that is absent"
    assert broken["verdict"] == "error" and "RuntimeError: a bug in a claim" in broken["reason"]
    assert "Traceback" in broken["traceback"]
    assert result["summary"]["verdict"] == "fail" and report.exit_code(result) == 1
    assert active["figures"] == ["figures/dummy.active/active_vs_d.png"]
    assert (out / active["figures"][0]).stat().st_size > 1000
    markdown = (out / "report.md").read_text()
    verdict_table = markdown.index("| verdict | claim | checks passed | not judged | time |")
    assert verdict_table < markdown.index("## dummy.active")  # verdicts first
    assert "| pass | `dummy.active` | 2/2 | 1 |" in markdown  # one number reported, not judged
    mde = f"{100 * share['min_detectable_effect']['relative']:.2g}%"
    assert "| band | MDE | verdict |" in markdown and f"| [0.4, 0.6] | {mde} | pass |" in markdown
    assert "![active_vs_d](figures/dummy.active/active_vs_d.png)" in markdown
    caption = active["captions"]["active_vs_d"]  # written by the claim's figure function
    assert caption.startswith("share of active neurons 0.") and caption in markdown
    page = (out / "report.html").read_text()
    assert caption in page and "data:image/png;base64," in page  # self-contained
    assert "<i>Reported, not judged</i> (1)" in page and "JSON round trip" in page
    assert f"<td>{mde}</td>" in page
    assert not list(out.glob(".*.tmp")) and not list(out.rglob("*.tmp"))


def test_rerun_reads_cache_and_gives_same_numbers(active_report, dummies):
    out, first = active_report
    second = report.run_claims([dummies.ACTIVE], out_dir=out, quiet=True)
    assert second["claims"][0]["sweep"] == {"computed": 0, "cached": 12, "corrupt_recomputed": []}
    assert second["claims"][0]["checks"] == first["claims"][0]["checks"]
    assert second["claims"][0]["data"] == first["claims"][0]["data"]


def test_render_redraws_figures_and_markdown(active_report):
    out, result = active_report
    (out / "report.md").unlink()
    figure = out / result["claims"][0]["figures"][0]
    figure.unlink()
    before = (out / "report.json").read_bytes()
    (out / "report.html").unlink()
    report.render(out, pdf=True, formats=("svg",), quiet=True)
    assert figure.exists() and figure.with_suffix(".pdf").exists() and figure.with_suffix(".svg").exists()
    assert (out / "report.md").exists() and (out / "report.html").exists()
    assert (out / "report.json").read_bytes() == before  # same figure list: json untouched


@pytest.mark.parametrize("ids, strict, verdict, code", [
    ([dummy_claims.ACTIVE, dummy_claims.SKIPPED], False, "pass", 0),
    ([dummy_claims.ACTIVE, dummy_claims.SKIPPED], True, "fail", 1),
    ([dummy_claims.SKIPPED], False, "skipped", 0),
    ([dummy_claims.SKIPPED], True, "fail", 1),
    ([dummy_claims.FAILING], False, "fail", 1),
    ([dummy_claims.BROKEN], False, "fail", 1),
], ids=["pass+skip", "pass+skip strict", "skip only", "skip only strict", "fail", "error"])
def test_summary_and_exit_code(dummies, tmp_path, ids, strict, verdict, code):
    """Skipped claims (cannot run here) do not fail a run; under ``strict`` they do."""
    result = report.run_claims(ids, out_dir=tmp_path, quiet=True, strict=strict)
    assert result["summary"]["verdict"] == verdict and report.exit_code(result) == code
    assert result["run"]["strict"] == strict and ("--strict" in result["run"]["command"]) == strict
    assert report.summary_line(result).startswith(f"{verdict}: ")
    headline = (tmp_path / "report.md").read_text().splitlines()[2]
    strict_skip = strict and dummy_claims.SKIPPED in ids
    assert ("under --strict a skip fails the run" in headline) == strict_skip


def test_bookkeeping_gaps_are_recorded_and_shown(tmp_path):
    """A claim whose reported numbers are not all accounted for: the entry lists the gaps
    (``registry.unaccounted``), report.md counts them and report.html lists them."""
    check = protocol.check("ratio", prediction="1", estimate=1.0, ci=(0.98, 1.02),
                           band=protocol.Band(0.95, 1.05, 0.05, "test"), level=0.99, predicted=1.0)
    outcome = registry.Outcome([check], {"ratio": 1.0, "gain": 0.3, "d": [4]}, {}, inputs=("d",),
                               judged={"ratio": "ratio"})
    spec = registry.ClaimSpec("test.gaps", "gaps", lambda ctx: outcome, None)
    context = registry.Context(profile="quick", seed=0, family_size=1,
                               runner=types.SimpleNamespace(computed=0, cached=0, corrupt=[]))
    entry = report.run_claim(spec, context)
    assert entry["verdict"] == "pass" and entry["unjudged"] == {}
    assert entry["bookkeeping"] == ["'gain' is in none of inputs, judged, unjudged"]
    entry.update(figures=[], figure_error=None)
    result = {"schema": report.SCHEMA, "claims": [entry], "summary": report.summarize([entry]),
              "run": {"profile": "quick", "seed": 0, "dtype": "float64", "total_time_s": 1.0,
                      "command": "ntk-attack verify", "versions": {}}}
    report.write_documents(result, tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    assert "*Bookkeeping.* 1 problem with the reported numbers, e.g. 'gain' is in none" in markdown
    assert "<li>&#x27;gain&#x27; is in none of inputs, judged, unjudged</li>" in (
        tmp_path / "report.html").read_text()


def test_usage_errors_before_any_work(dummies, tmp_path):
    with pytest.raises(ValueError, match="unknown claim id 'nope'.*Known: .*dummy.active"):
        report.run_claims(["nope"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="profile must be one of quick, full"):
        report.run_claims([dummies.ACTIVE], profile="huge", out_dir=tmp_path)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        report.run_claims([dummies.ACTIVE], seed=-1, out_dir=tmp_path)
    with pytest.raises(ValueError, match="MNIST file .* does not exist"):
        report.run_claims([dummies.ACTIVE], out_dir=tmp_path, mnist_path=tmp_path / "none.npz")
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(ValueError, match="is not writable"):
        report.run_claims([dummies.ACTIVE], out_dir=blocker / "results")
    assert list(tmp_path.iterdir()) == [blocker]  # nothing written


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root writes into read-only folders")
def test_read_only_out_dir(dummies, tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(ValueError, match="is not writable"):
            report.run_claims([dummies.ACTIVE], out_dir=tmp_path / "results")
    finally:
        tmp_path.chmod(0o755)


def test_render_needs_a_report(tmp_path):
    with pytest.raises(ValueError, match="no report.json"):
        report.render(tmp_path)
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot read report"):
        report.render(tmp_path)


def test_dumps_is_strict_json_and_round_trips():
    import numpy as np

    data = {"a": np.array([1.0, np.inf, -np.inf]), "b": np.float32(0.5), "c": (1, 2), "d": None,
            "e": np.int64(3), "f": np.bool_(True)}
    text = io.dumps(data)
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON {name}"))
    assert io.decode(json.loads(text)) == {"a": [1.0, math.inf, -math.inf], "b": 0.5,
                                                 "c": [1, 2], "d": None, "e": 3, "f": True}
    with pytest.raises(TypeError, match="cannot write object"):
        io.dumps({"x": object()})


def test_versions_do_not_import_neural_tangents():
    already = "neural_tangents" in sys.modules
    versions = report.package_versions()
    installed = importlib.util.find_spec("neural_tangents") is not None  # finds, does not import
    assert (versions["neural-tangents"] is not None) == installed
    assert already or "neural_tangents" not in sys.modules


def test_dummies_do_not_leak_into_the_registry():
    assert not set(dummy_claims.SPECS) & set(registry.CLAIMS)
