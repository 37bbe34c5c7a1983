"""Tests of docs/tutorial.md: its python blocks run in order, in one namespace, without error."""
import re
import subprocess
import sys
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks(text):
    """The ```python blocks of a markdown text, in order."""
    return BLOCK.findall(text)


def test_python_blocks_are_found():
    text = "a\n```python\nx = 1\n```\nb\n```\nnot python\n```\n```python\ny = x\n```\n"
    blocks = python_blocks(text)
    assert blocks == ["x = 1\n", "y = x\n"]


def test_tutorial_runs_top_to_bottom():
    text = TUTORIAL.read_text()
    blocks = python_blocks(text)
    opened = len(re.findall(r"^```python$", text, re.MULTILINE))
    assert blocks and len(blocks) == opened, (f"expected every ```python block of {TUTORIAL.name} "
                                             f"to be extracted ({opened}). Got {len(blocks)}.")
    # A fresh interpreter, as a student's session: the tutorial must turn on x64 itself
    # (conftest.py has already done so in this process).
    # The tutorial takes about 25 s; the timeout only stops a hang.
    script = "\n".join(f"# --- block {i}\n{block}" for i, block in enumerate(blocks))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=TUTORIAL.parent.parent, timeout=120)
    assert run.returncode == 0, f"tutorial failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    assert "float64" in run.stdout.splitlines()[0]
