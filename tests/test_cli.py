"""The ``ntk-attack`` command line, end to end through the console script.

``verify`` runs the cheap dummy claim of ``dummy_claims.py`` (12 grid points), registered in
the subprocess with ``NTK_ATTACK_EXTRA_CLAIMS``. Interruption uses the deterministic hook
``NTK_ATTACK_ABORT_AFTER`` (SIGKILL after the N-th written grid point), never a timer.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dummy_claims
from verification import cli
from verification import report, sweep

TESTS = Path(__file__).parent
SCRIPT = Path(sys.executable).with_name("ntk-attack")
N_POINTS = 12  # grid points of dummy.active in the quick profile
VOLATILE = ("wall_time_s", "sweep", "figures", "figure_error")


def run_cli(*args, abort_after=None, timeout=300):
    env = {**os.environ, report.EXTRA_CLAIMS_ENV: "dummy_claims",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    env.pop(sweep.ABORT_ENV, None)
    if abort_after is not None:
        env[sweep.ABORT_ENV] = str(abort_after)
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "verification.cli"]
    return subprocess.run(command + [str(a) for a in args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def verify(out, *extra, **kwargs):
    return run_cli("verify", "--profile", "quick", "--only", dummy_claims.ACTIVE, "--out", out,
                   "-q", *extra, **kwargs)


def measurements(out) -> list:
    """The claims of a report without timings, cache counts and figure paths."""
    result = report.load_report(Path(out) / "report.json")
    return [{k: v for k, v in entry.items() if k not in VOLATILE} for entry in result["claims"]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    done = verify(out)
    assert done.returncode == 0, done.stderr
    return out, done


def test_verify_end_to_end(reference):
    out, done = reference
    assert done.stdout.startswith("pass: 1 pass, 0 skipped in ")
    assert "Traceback" not in done.stderr
    result = json.loads((out / "report.json").read_text())  # strict JSON
    assert result["schema"] == report.SCHEMA
    assert set(result["run"]) >= {"command", "profile", "seed", "dtype", "versions",
                                  "total_time_s", "workers"}
    assert result["summary"] == {"verdict": "pass", "exit_code": 0, "strict": False,
                                 "counts": {"fail": 0, "error": 0, "inconclusive": 0, "pass": 1,
                                            "skipped": 0}}
    (entry,) = result["claims"]
    assert entry["id"] == dummy_claims.ACTIVE and entry["verdict"] == "pass"
    assert entry["sweep"]["computed"] == N_POINTS
    for check in entry["checks"]:
        assert set(check["band"]) == {"lo", "hi", "max_half_width", "why"}
        assert len(check["ci"]) == 2 and check["verdict"] == "pass"
    assert (out / "report.md").exists() and (out / entry["figures"][0]).exists()


@pytest.mark.endtoend
def test_killed_run_resumes_with_missing_points_only(reference, tmp_path):
    killed = verify(tmp_path, abort_after=5)
    assert killed.returncode == -9, killed.stderr
    files = sorted((tmp_path / "cache").rglob("*.npz"))
    assert len(files) == 5
    for path in files:  # no cache file is corrupt
        sweep.read_cached(path)
    assert not (tmp_path / "report.json").exists()
    resumed = verify(tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    entry = report.load_report(tmp_path / "report.json")["claims"][0]
    assert entry["sweep"] == {"computed": N_POINTS - 5, "cached": 5, "corrupt_recomputed": []}
    assert measurements(tmp_path) == measurements(reference[0])


@pytest.mark.endtoend
def test_same_seed_gives_identical_measurements(reference, tmp_path):
    again = verify(tmp_path)
    assert again.returncode == 0, again.stderr
    assert measurements(tmp_path) == measurements(reference[0])


@pytest.mark.endtoend
def test_workers_do_not_change_a_bit(reference, tmp_path):
    parallel = verify(tmp_path, "--workers", 2)
    assert parallel.returncode == 0, parallel.stderr
    assert report.load_report(tmp_path / "report.json")["run"]["workers"] == 2
    assert measurements(tmp_path) == measurements(reference[0])  # floats compared exactly


def test_recorded_command_reruns_the_same_numbers(reference, tmp_path, capsys):
    """report.json's ``run.command`` alone reproduces the run."""
    import shlex

    command = report.load_report(reference[0] / "report.json")["run"]["command"]
    words = shlex.split(command)
    assert words[0] == f"{report.EXTRA_CLAIMS_ENV}=dummy_claims" and words[1:3] == ["ntk-attack", "verify"]
    words[words.index("--out") + 1] = str(tmp_path)
    with dummy_claims.registered():  # what the recorded environment variable does in a subprocess
        assert cli.main(words[2:] + ["-q"]) == 0, capsys.readouterr().err
    assert measurements(tmp_path) == measurements(reference[0])


@pytest.mark.endtoend
def test_corrupt_cache_file_is_recomputed(reference, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(reference[0], out)
    victim = sorted((out / "cache").rglob("*.npz"))[3]
    victim.write_bytes(victim.read_bytes()[:100])
    again = verify(out)
    assert again.returncode == 0, again.stderr
    assert "recomputing" in again.stderr and "Traceback" not in again.stderr
    entry = report.load_report(out / "report.json")["claims"][0]
    assert entry["sweep"] == {"computed": 1, "cached": N_POINTS - 1,
                              "corrupt_recomputed": [str(victim)]}
    sweep.read_cached(victim)
    assert measurements(out) == measurements(reference[0])


@pytest.mark.parametrize("strict, code", [(False, 0), (True, 1)], ids=["default", "strict"])
def test_skipped_claims_are_counted_and_fail_only_under_strict(reference, tmp_path, capsys,
                                                               strict, code):
    """``verify`` prints the skipped count; a skip does not fail the run unless ``--strict``."""
    out = tmp_path / "copy"
    shutil.copytree(reference[0], out)  # the active claim's points are cached there
    args = ["verify", "--only", dummy_claims.ACTIVE, dummy_claims.SKIPPED, "--out", str(out), "-q"]
    with dummy_claims.registered():
        assert cli.main(args + (["--strict"] if strict else [])) == code
    line = capsys.readouterr().out.strip()
    result = report.load_report(out / "report.json")
    assert line == f"{report.summary_line(result)}; report: {out / 'report.md'}"
    verdict = "fail" if strict else "pass"
    assert line.startswith(f"{verdict}: 1 pass, 1 skipped in ")
    assert ("(--strict: a skipped claim fails the run)" in line) == strict
    assert result["summary"]["exit_code"] == code and result["run"]["strict"] == strict


def test_strict_is_refused_with_power(capsys):
    assert cli.main(["verify", "--power", "--strict"]) == 2
    assert "--strict applies to a verification run" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["unknown claim", "out is under a file", "missing mnist"])
def test_usage_errors_exit_2_in_one_line(tmp_path, case):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    args = {"unknown claim": ("verify", "--only", "no.such.claim", "--out", tmp_path / "r"),
            "out is under a file": ("verify", "--only", dummy_claims.ACTIVE,
                                    "--out", blocker / "r"),
            "missing mnist": ("verify", "--mnist", tmp_path / "mnist.npz", "--out", tmp_path / "r"),
            }[case]
    done = run_cli(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ntk-attack verify: error: "), done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written


@pytest.mark.parametrize("args", [
    ["verify", "--workers", "0"], ["verify", "--seed", "-1"], ["verify", "--profile", "huge"],
    ["kernel", "--d", "0"], ["attack", "--C0", "-1"], ["attack", "--C0", "nan"],
    ["attack", "--signs", "odd"], ["attack", "--data", "cifar"], ["advtrain", "--eps", "-1"],
    ["advtrain", "--attack-steps", "0"], ["advtrain", "--C0", "0"], ["advtrain", "--radius", "huge"],
    ["advtrain", "--eval-eps", "0"], ["nosuchcommand"], [],
], ids=lambda a: " ".join(a) or "no command")
def test_bad_options_exit_2(capsys, args):
    try:
        code = cli.main(args)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_validation_errors_exit_2(capsys):
    assert cli.main(["attack", "--data", "digits", "--d", "50"]) == 2
    assert "--d must be a square" in capsys.readouterr().err
    assert cli.main(["kernel", "--signs", "balanced", "--m", "5"]) == 2
    assert "m must be even" in capsys.readouterr().err
    assert cli.main(["advtrain", "--data", "digits", "--d", "50"]) == 2
    assert "--d must be a square" in capsys.readouterr().err
    assert cli.main(["advtrain", "--n-train", "20", "--batch-size", "30"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ntk-attack advtrain: error: --batch-size"), err


def test_file_system_errors_exit_2_in_one_line(capsys, monkeypatch):
    def refuse(args):
        raise OSError(28, "No space left on device", "results/report.json")
    monkeypatch.setattr(cli, "cmd_figures", refuse)  # build_parser binds it at call time
    assert cli.main(["figures"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "ntk-attack figures: error: No space left on device: 'results/report.json'"


def test_help_is_light():
    code = (
        "import sys\n"
        "from verification import cli\n"
        "for command in ([], ['verify'], ['kernel'], ['attack'], ['advtrain'], ['figures']):\n"
        "    try:\n"
        "        cli.main(command + ['--help'])\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, command\n"
        "heavy = [m for m in ('neural_tangents', 'tensorflow', 'matplotlib', 'verification.report') if m in sys.modules]\n"
        "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("ntk-attack 0.")


@pytest.mark.parametrize("args", [("kernel", "--d", "50000", "--m", "200000"),
                                  ("attack", "--d", "1000000", "--m", "100000"),
                                  ("advtrain", "--d", "100000000", "--m", "100000000")],
                         ids=lambda a: " ".join(a))
def test_sizes_beyond_memory_are_refused_before_jax_loads(args):
    """Issue 27's commands (an XLA abort, or a hang, before): one line naming d * m, exit 2,
    answered from the arguments before JAX is imported (so fast even on a loaded machine)."""
    code = ("import sys\n"
            "from verification import cli\n"
            f"code = cli.main({list(args)!r})\n"
            "loaded = [m for m in ('jax', 'numpy') if m in sys.modules]\n"
            "assert code == 2 and not loaded, (code, loaded)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ntk-attack {args[0]}: error: d * m must fit in "
                                               "memory"), err
    assert f"got d = {args[2]}, m = {args[4]}." in err[0]


def test_figures_rerenders_from_a_results_folder(reference, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(reference[0], out)
    shutil.rmtree(out / "figures")
    (out / "report.md").unlink()
    with dummy_claims.registered():
        assert cli.main(["figures", "--out", str(out), "-q", "--contact-sheet"]) == 0
    assert (out / "figures" / dummy_claims.ACTIVE / "active_vs_d.png").exists()
    assert (out / "contact_sheet.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "report.md").read_text() == (reference[0] / "report.md").read_text()
    assert cli.main(["figures", "--out", str(tmp_path / "none")]) == 2
    assert "no report.json" in capsys.readouterr().err


def test_kernel_command(tmp_path, capsys):
    target = tmp_path / "kernel.json"
    assert cli.main(["kernel", "--d", "8", "--m", "256", "--n", "3", "--json", str(target)]) == 0
    assert "first-layer NTK" in capsys.readouterr().out
    result = json.loads(target.read_text())
    assert len(result["pairs"]) == 3 and result["m"] == 256
    # Differences are Monte Carlo noise of m = 256 neurons: |z| < 5 for 3 pairs, with margin.
    assert all(abs(p["diff"]) < 5 * p["predicted_sd"] for p in result["pairs"])


@pytest.mark.parametrize("radius", ["lazy", "absolute"])
def test_advtrain_command(tmp_path, capsys, radius):
    target = tmp_path / "advtrain.json"
    args = ["advtrain", "--d", "16", "--m", "64", "--n", "20", "--n-train", "40", "--epochs", "3",
            "--attack-steps", "3", "--eps", "0.2", "--C0", "0.5", "--radius", radius,
            "--batch-size", "20", "--json", str(target)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "adversarial training" in out and "robust pgd eps = 0.2" in out
    result = json.loads(target.read_text())
    limit = 0.5 if radius == "lazy" else 0.5 * 8  # C0, or C0 sqrt(m) for an absolute row radius C0
    assert result["C0_hat_limit"] == pytest.approx(limit)
    for arm in ("standard", "adversarial"):
        values = result["arms"][arm]
        assert values["C0_hat"] <= limit * (1 + 1e-12)  # the projection after every step
        assert len(values["pgd_robust_accuracy"]) == len(result["eval_eps"]) == 3
        # PGD keeps only iterates below the clean margin: never more robust than clean accuracy.
        assert max(values["pgd_robust_accuracy"]) <= values["test_accuracy"]


@pytest.mark.parametrize("C0", ["0", "1"], ids=["init", "lazy"])
def test_attack_command(tmp_path, capsys, C0):
    target = tmp_path / "attack.json"
    args = ["attack", "--d", "16", "--m", "64", "--n", "20", "--n-train", "20", "--steps", "20",
            "--C0", C0, "--json", str(target)]
    assert cli.main(args) == 0
    assert "min flip" in capsys.readouterr().out
    result = json.loads(target.read_text())
    assert result["n"] == 20 and sum(result["status_counts"].values()) == 20
    assert result["median_eta"] > 0
    if C0 == "1":
        assert result["C0_hat"] <= 1 + 1e-9
