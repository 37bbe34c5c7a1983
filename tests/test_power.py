"""The claim-power run on the dummy claim: kill matrix, ``killed`` flags, exit code, cache tags."""
import contextlib
import json

import pytest

import dummy_claims
from ntk_attack import models
from verification import cli, power
from verification.mutants import MUTANTS, Mutant
from verification.sweep import point_key

N_POINTS = 12  # grid points of dummy.active in the quick profile


def _preactivations(transform):
    """A context mutant replacing ``models.preactivations`` by ``transform(original(...))``."""
    @contextlib.contextmanager
    def context():
        original = models.preactivations
        models.preactivations = lambda params, x: transform(original(params, x))
        try:
            yield
        finally:
            models.preactivations = original
    return context


# Every preactivation made positive: the share of active neurons is 1, not 1/2. The families
# name another family on purpose: the walk must still find that the dummy claim reaches it.
KILLER = Mutant(name="dummy_all_active", description="every neuron active", families=("kernels",),
                context=_preactivations(abs), reach=("ntk_attack.models:preactivations",))
# An equivalent mutant (preactivations plus 0): nothing can catch it; the claim passes.
SURVIVOR = Mutant(name="dummy_plus_zero", description="preactivations plus 0", families=("kernels",),
                  context=_preactivations(lambda z: z + 0.0), reach=("ntk_attack.models:preactivations",))
# A target the dummy claim never reaches: not run, hence not killed.
ELSEWHERE = Mutant(name="dummy_elsewhere", description="attack walk", families=("attacks",),
                   context=contextlib.nullcontext, reach=("ntk_attack.attacks:_first_zero_sorted",))
CATALOGUE = {m.name: m for m in (KILLER, SURVIVOR, ELSEWHERE)}


@pytest.fixture
def dummy():
    with dummy_claims.registered():
        yield


def _power(out, names):
    return power.run_power([dummy_claims.ACTIVE], mutants=names, out_dir=out, quiet=True,
                           catalogue=CATALOGUE)


def test_kill_matrix_flags_and_exit_code(dummy, tmp_path):
    result = _power(tmp_path, list(CATALOGUE))
    records = {r["name"]: r for r in result["power"]["mutants"]}
    assert result["summary"]["verdict"] == "pass"
    assert records["dummy_all_active"]["verdicts"] == {dummy_claims.ACTIVE: "fail"}
    assert records["dummy_all_active"]["killed"]
    assert records["dummy_all_active"]["reached_outside_families"] == [dummy_claims.ACTIVE]
    assert records["dummy_plus_zero"]["verdicts"] == {dummy_claims.ACTIVE: "pass"}
    assert not records["dummy_plus_zero"]["killed"]
    assert records["dummy_elsewhere"]["verdicts"] == {dummy_claims.ACTIVE: power.NOT_RUN}
    assert records["dummy_elsewhere"]["claims_run"] == [] and not records["dummy_elsewhere"]["killed"]
    assert result["power"]["kills_by_claim"] == {dummy_claims.ACTIVE: ["dummy_all_active"]}
    assert result["power"]["survivors"] == ["dummy_plus_zero", "dummy_elsewhere"]
    assert power.exit_code(result) == 1
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["power"]["survivors"] == result["power"]["survivors"]
    markdown = (tmp_path / "report.md").read_text()
    assert "## Claim power (kill matrix)" in markdown and "| `dummy_all_active` | yes |" in markdown
    assert (tmp_path / power.FIGURE).exists()
    assert "Claim power (kill matrix)" in (tmp_path / "report.html").read_text()
    assert power.exit_code(_power(tmp_path, ["dummy_all_active"])) == 0


def test_mutated_points_never_meet_clean_ones(dummy, tmp_path):
    first = _power(tmp_path, ["dummy_all_active"])
    clean_sweep = first["claims"][0]["sweep"]
    mutant_report = json.loads((tmp_path / "power" / "dummy_all_active" / "report.json").read_text())
    assert clean_sweep["computed"] == N_POINTS
    # The mutant run follows a clean run of the same points: it reads none of them.
    assert mutant_report["claims"][0]["sweep"] == {"computed": N_POINTS, "cached": 0,
                                                  "corrupt_recomputed": []}
    assert mutant_report["run"]["tag"] == "mutant-dummy_all_active"
    assert not (tmp_path / "cache" / "mutant-dummy_all_active").exists()
    assert (tmp_path / "power" / "dummy_all_active" / "cache" / "mutant-dummy_all_active").is_dir()
    # Resumed: both runs read their own points only; a mutated point read by the clean run
    # would make it fail (share 1), a clean point read by the mutant run would let it survive.
    second = _power(tmp_path, ["dummy_all_active"])
    assert second["claims"][0]["sweep"]["cached"] == N_POINTS
    assert second["summary"]["verdict"] == "pass" and power.exit_code(second) == 0
    again = json.loads((tmp_path / "power" / "dummy_all_active" / "report.json").read_text())
    assert again["claims"][0]["sweep"]["cached"] == N_POINTS
    point = dummy_claims.grid("quick", 0)[0]
    assert point_key(dummy_claims.network_stats, point) != point_key(
        dummy_claims.network_stats, point, "mutant-dummy_all_active")


def test_cli_power_one_claim_one_mutant(dummy, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(MUTANTS, KILLER.name, KILLER)
    code = cli.main(["verify", "--power", "--only", dummy_claims.ACTIVE, "--mutants", KILLER.name,
                     "--out", str(tmp_path), "-q"])
    assert code == 0, capsys.readouterr()
    assert "power: 1/1 mutants killed, clean run pass" in capsys.readouterr().out
    assert cli.main(["verify", "--power", "--mutants", "no_such_mutant", "--out",
                     str(tmp_path)]) == cli.EXIT_USAGE
    assert cli.main(["verify", "--mutants", KILLER.name, "--out", str(tmp_path)]) == cli.EXIT_USAGE


def test_plan_uses_families_and_the_walk():
    from verification import report
    from verification.code_identity import reached

    claims = report.load_claims()
    specs = list(claims.values())
    walk = MUTANTS["breakpoint_walk_off_by_one"]
    ids, outside = power.plan(walk, specs)
    family = [s.id for s in specs if power.claim_family(s) == "attacks"]
    assert set(family) <= set(ids)
    # Claims outside the family run only when the walk finds the patched walk in their code.
    assert set(ids) - set(family) == set(outside)
    assert all("ntk_attack.attacks._first_zero_sorted" in reached(claims[i].run) for i in outside)
    ids, _ = power.plan(MUTANTS["kernel_one_percent_large"], specs)
    assert "empirical_converges_to_analytic" in ids and "lazy_bound_holds" not in ids
