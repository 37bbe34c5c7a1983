"""The sweep runner: order, cache hits, fresh runs, corrupt files, executors, the abort hook,
and cache keys that follow the code each point function runs."""
import concurrent.futures
import dataclasses
import importlib
import os
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from verification import sweep
from verification.sweep import SweepRunner

CALLS = []


@dataclasses.dataclass(frozen=True)
class Point:
    i: int
    scale: float = 1.0


def square(point: Point) -> dict:
    CALLS.append(point.i)
    return {"value": point.i ** 2 * point.scale, "vector": np.arange(3.0) * point.i, "name": "sq"}


POINTS = [Point(i) for i in range(5)]


@pytest.fixture(autouse=True)
def clear_calls():
    CALLS.clear()


def expected(point):
    return point.i ** 2 * point.scale


def cache_files(cache):
    return sorted((cache / "square").glob("*.npz"))


def test_results_in_order_then_all_from_cache(tmp_path):
    first = SweepRunner(tmp_path, quiet=True)
    results = first.map(square, POINTS, desc="squares")
    assert [float(r["value"]) for r in results] == [expected(p) for p in POINTS]
    assert (first.computed, first.cached) == (5, 0)
    assert len(cache_files(tmp_path)) == 5
    second = SweepRunner(tmp_path, quiet=True)
    again = second.map(square, POINTS[::-1])
    assert (second.computed, second.cached) == (0, 5)
    assert CALLS == [0, 1, 2, 3, 4]
    for a, b in zip(results[::-1], again):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert str(again[0]["name"]) == "sq"


def test_key_depends_on_every_field():
    assert sweep.point_key(square, Point(1)) == sweep.point_key(square, Point(1))
    assert sweep.point_key(square, Point(1)) != sweep.point_key(square, Point(1, scale=2.0))
    assert sweep.point_key(square, Point(1)) != sweep.point_key(expected, Point(1))


def test_fresh_recomputes_and_no_cache_dir(tmp_path):
    SweepRunner(tmp_path, quiet=True).map(square, POINTS)
    fresh = SweepRunner(tmp_path, fresh=True, quiet=True)
    fresh.map(square, POINTS)
    assert (fresh.computed, fresh.cached) == (5, 0)
    fresh.map(square, POINTS[:3])  # a point that several claims share: computed once per run
    assert (fresh.computed, fresh.cached) == (5, 3)
    uncached = SweepRunner(None, quiet=True)
    uncached.map(square, POINTS[:2])
    uncached.map(square, POINTS[:2])
    assert uncached.computed == 4


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip_byte", "empty", "other_point"],
                         ids=str)
def test_corrupt_cache_file_is_reported_and_recomputed(tmp_path, capsys, damage):
    SweepRunner(tmp_path, quiet=True).map(square, POINTS)
    target = cache_files(tmp_path)[2]
    raw = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        target.write_bytes(b"not a zip file at all")
    elif damage == "empty":
        target.write_bytes(b"")
    elif damage == "flip_byte":  # a valid zip whose array bytes changed: only the digest sees it
        with zipfile.ZipFile(target) as z:
            arrays = {name: z.read(name) for name in z.namelist()}
        data = bytearray(arrays["vector.npy"])
        data[-1] ^= 0xFF
        arrays["vector.npy"] = bytes(data)
        with zipfile.ZipFile(target, "w") as z:
            for name, blob in arrays.items():
                z.writestr(name, blob)
    else:  # a well-formed file of another point copied over this one
        target.write_bytes(next(p for p in cache_files(tmp_path) if p != target).read_bytes())
    runner = SweepRunner(tmp_path, quiet=True)
    results = runner.map(square, POINTS)
    assert [float(r["value"]) for r in results] == [expected(p) for p in POINTS]
    assert (runner.computed, runner.cached) == (1, 4)
    assert runner.corrupt == [str(target)]
    assert "recomputing" in capsys.readouterr().err
    for path in cache_files(tmp_path):  # repaired: every file verifies again
        sweep.read_cached(path)


def test_any_executor_plugs_in(tmp_path):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runner = SweepRunner(tmp_path, executor=pool, quiet=True)
        results = runner.map(square, POINTS)
    assert [float(r["value"]) for r in results] == [expected(p) for p in POINTS]
    assert runner.computed == 5 and len(cache_files(tmp_path)) == 5


def bad_object(point):
    return {"x": np.array([object()])}


def bad_reserved(point):
    return {"__digest__": 1.0}


def fails(point):
    raise ArithmeticError("point function failed")


@pytest.mark.parametrize("fn, error", [(bad_object, TypeError), (bad_reserved, ValueError),
                                       (fails, ArithmeticError)],
                         ids=["object", "reserved", "raises"])
def test_bad_point_functions_raise_and_write_nothing(tmp_path, fn, error):
    with pytest.raises(error):
        SweepRunner(tmp_path, quiet=True).map(fn, POINTS[:1])
    assert not list(tmp_path.rglob("*.npz")) and not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_abort_hook_value_is_validated(monkeypatch, value):
    monkeypatch.setenv(sweep.ABORT_ENV, value)
    with pytest.raises(ValueError, match=sweep.ABORT_ENV):
        SweepRunner(None)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_workers_are_validated(workers):
    with pytest.raises(ValueError, match="workers"):
        SweepRunner(None, workers=workers)


def test_abort_hook_kills_after_nth_written_point(tmp_path):
    """SIGKILL right after the 3rd point is written; a rerun computes only the other 2."""
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, sys.argv[1]); import test_sweep as t; "
            "from verification.sweep import SweepRunner; "
            "r = SweepRunner(sys.argv[2], quiet=True); r.map(t.square, t.POINTS); "
            "print(r.computed)")
    env = {**os.environ, sweep.ABORT_ENV: "3"}
    args = [sys.executable, "-c", code, os.path.dirname(__file__), str(tmp_path)]
    killed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert len(cache_files(tmp_path)) == 3
    for path in cache_files(tmp_path):
        sweep.read_cached(path)
    env.pop(sweep.ABORT_ENV)
    resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == "2"


LIB = """
    \"\"\"A measured library function.\"\"\"
    SHIFT = 1.0


    def helper(x):
        \"\"\"Docstring 1.\"\"\"
        return x + SHIFT


    def other(x):
        return 2 * x
"""
CLAIM = """
    import dataclasses

    from userpkg import lib

    CACHE_VERSION = 1
    LABEL = "label 1"


    @dataclasses.dataclass(frozen=True, kw_only=True)
    class P:
        i: int


    def uses_helper(p: P) -> dict:
        \"\"\"Docstring A.\"\"\"
        return {"v": lib.helper(p.i)}


    def uses_other(p: P) -> dict:
        return {"v": lib.other(p.i)}


    def figure(data):
        return LABEL  # a figure: no point function reaches it
"""


def load_userpkg(root, lib=LIB, claim=CLAIM):
    package = root / "userpkg"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "lib.py").write_text(textwrap.dedent(lib))
    (package / "claim.py").write_text(textwrap.dedent(claim))
    for name in ("userpkg.claim", "userpkg.lib", "userpkg"):
        sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module("userpkg.claim")


def run_userpkg(cache, module):
    runner = SweepRunner(cache, quiet=True)
    helped = runner.map(module.uses_helper, [module.P(i=1), module.P(i=2)])
    runner.map(module.uses_other, [module.P(i=3)])
    return runner, [float(r["v"]) for r in helped]


def test_cache_key_follows_the_code_each_point_function_runs(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    cache = tmp_path / "cache"
    runner, values = run_userpkg(cache, load_userpkg(tmp_path))
    assert (runner.computed, values) == (3, [2.0, 3.0])
    # Docstrings, comments, a figure and its label change: every point is reused.
    cosmetic = load_userpkg(tmp_path, LIB.replace("Docstring 1.", "Other words.").replace(
        "return 2 * x", "return 2 * x  # a comment"), CLAIM.replace("Docstring A.", "Changed.")
        .replace("label 1", "label 2").replace("return LABEL", "return LABEL.upper()"))
    runner, values = run_userpkg(cache, cosmetic)
    assert (runner.computed, runner.cached, values) == (0, 3, [2.0, 3.0])
    # The measured helper changes: exactly the two points whose function reaches it rerun.
    changed = load_userpkg(tmp_path, LIB.replace("return x + SHIFT", "return x + 2 * SHIFT"))
    runner, values = run_userpkg(cache, changed)
    assert (runner.computed, runner.cached, values) == (2, 1, [3.0, 4.0])
    # So does a constant it reads, and the claim's CACHE_VERSION reruns all of its points.
    runner, _ = run_userpkg(cache, load_userpkg(tmp_path, LIB.replace("SHIFT = 1.0", "SHIFT = 3.0")))
    assert (runner.computed, runner.cached) == (2, 1)
    runner, _ = run_userpkg(cache, load_userpkg(tmp_path, claim=CLAIM.replace(
        "CACHE_VERSION = 1", "CACHE_VERSION = 2")))
    assert (runner.computed, runner.cached) == (3, 0)


def test_a_tag_caches_points_apart(tmp_path):
    plain = SweepRunner(tmp_path, quiet=True)
    plain.map(square, POINTS[:2])
    tagged = SweepRunner(tmp_path, quiet=True, tag="mutant-1")
    tagged.map(square, POINTS[:2])
    assert (tagged.computed, tagged.cached) == (2, 0)
    assert len(list((tmp_path / "mutant-1" / "square").glob("*.npz"))) == 2
    assert sweep.point_key(square, POINTS[0], "mutant-1") != sweep.point_key(square, POINTS[0])
    again = SweepRunner(tmp_path, quiet=True, tag="mutant-1")
    again.map(square, POINTS[:2])
    assert (again.computed, again.cached) == (0, 2)
    with pytest.raises(ValueError, match="tag must be"):
        SweepRunner(tmp_path, tag="../escape")
