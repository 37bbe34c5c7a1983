"""Planted bugs for the adversarial-training checks: each mutant edits one line of a copy of the
library and runs the test that exists to catch it; every mutant must make that test fail.

Usage: ``python benchmarks/adversarial_mutants.py`` from the repository root (a few minutes).
"""
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
MUTANTS = {  # name: (file, original line fragment, mutated fragment, test selector)
    "lazy radius not scaled by 1/sqrt(m)": (
        "ntk_attack/adversarial.py", "row_radius = C0 / math.sqrt(m) if", "row_radius = C0 if",
        "test_projection_keeps_C0_hat_inside_the_ball_after_every_epoch"),
    "projection before the gradient step": (
        "ntk_attack/adversarial.py", "return project_rows(W - lr * grad_W(W, xb + delta, yb), W0, row_radius), None",
        "return project_rows(W, W0, row_radius) - lr * grad_W(W, xb + delta, yb), None",
        "test_projection_keeps_C0_hat_inside_the_ball_after_every_epoch"),
    "PGD step not projected": (
        "ntk_attack/labelled_attacks.py", "delta = _project(delta - step_size * _ascent(grad, norm), eps, norm)",
        "delta = delta - step_size * _ascent(grad, norm)", "test_pgd_of_training_never_leaves_the_eps_ball"),
    "gradient step on the clean points": (
        "ntk_attack/adversarial.py", "grad_W(W, xb + delta, yb)", "grad_W(W, xb, yb)",
        "test_adversarial_training_raises_robust_accuracy"),
    "PGD raises the margin (sign flipped)": (
        "ntk_attack/adversarial.py", "return labelled_attacks._pgd(TwoLayer(W, a), x, y,",
        "return labelled_attacks._pgd(TwoLayer(W, a), x, -y,",
        "test_adversarial_training_raises_robust_accuracy"),
}


def run(name, file, old, new, test):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for part in ("ntk_attack", "tests"):
            shutil.copytree(ROOT / part, tmp / part)
        path = tmp / file
        text = path.read_text()
        assert text.count(old) == 1, (name, old)
        path.write_text(text.replace(old, new))
        result = subprocess.run([sys.executable, "-m", "pytest", "tests/test_adversarial.py", "-q", "-x",
                                 "-p", "no:cacheprovider", "-k", test], cwd=tmp, capture_output=True,
                                text=True, env={"PYTHONPATH": str(tmp), "PATH": "/usr/bin:/bin"}, timeout=900)
        return result.returncode, result.stdout.strip().splitlines()[-1]


if __name__ == "__main__":
    failures = 0
    for name, spec in MUTANTS.items():
        code, last = run(name, *spec)
        caught = code == 1
        failures += not caught
        print(f"{'caught' if caught else 'MISSED'}: {name} ({spec[3]}): {last}", flush=True)
    sys.exit(failures)
