"""docs/extending.md's example, run exactly as written: it passes, a wrong prediction fails."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).parents[1] / "docs" / "extending.md"
SCRIPT = Path(sys.executable).with_name("ntk-attack")
CORRECT = 'math.sqrt(theory.var_f_init("balanced"))'
WRONG = "math.sqrt(0.5)"  # random signs' E f^2: forgets that balanced signs remove the offset


def first_python_block() -> str:
    return re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)


def verify(folder: Path, *args):
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "verification.cli"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if "PYTHONPATH" in os.environ:  # a worktree's code, not the installed copy
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(command + ["verify", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.endtoend
def test_example_passes_as_written_and_fails_a_wrong_prediction(tmp_path):
    block = first_python_block()
    assert CORRECT in block
    (tmp_path / "my_bound.py").write_text(block)
    done = verify(tmp_path, "--claims", "my_bound", "--only", "my_mean_abs_f", "--out", "out", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "out" / "figures" / "my_mean_abs_f" / "mean_abs_f.png").exists()

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "my_bound.py").write_text(block.replace(CORRECT, WRONG))
    done = verify(wrong, "--claims", "my_bound", "--only", "my_mean_abs_f", "--out", "out", "-q")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("fail"), done.stdout


def test_a_module_that_cannot_be_imported_is_exit_2(tmp_path):
    done = verify(tmp_path, "--claims", "no_such_module", "--list")
    assert done.returncode == 2
    assert "cannot import claim module 'no_such_module'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
