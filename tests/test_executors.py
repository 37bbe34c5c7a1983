"""Dask executors: the same bits as the local executor, crashes survived, a silent scheduler named."""
import dataclasses
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

pytest.importorskip("distributed")

import dummy_claims  # noqa: E402
from verification import sweep  # noqa: E402
from verification.executors import dask_executor  # noqa: E402
from verification.sweep import SweepRunner  # noqa: E402

POINTS = dummy_claims.grid("quick", 0)  # 12 small float64 networks


@dataclasses.dataclass(frozen=True)
class FragilePoint:
    """A dummy network point whose first evaluation kills its worker process (once, by marker)."""
    d: int
    m: int
    seed: int
    marker: str


def fragile_stats(point: FragilePoint) -> dict:
    marker = Path(point.marker)
    if not marker.exists():
        marker.touch()
        os._exit(1)  # the worker dies mid-sweep, as on an out-of-memory kill
    return dummy_claims.network_stats(dummy_claims.Point(point.d, point.m, point.seed))


@pytest.fixture(scope="module", autouse=True)
def partitionable():
    """A JAX option set in this process only that changes every random draw: the workers give
    the same bits only if they take over this process's settings (the worker plugin)."""
    before = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", not before)
    yield not before
    jax.config.update("jax_threefry_partitionable", before)


@pytest.fixture(scope="module")
def cluster():
    with dask_executor(scheduler=None, workers=2, timeout=60) as dx:
        yield dx


@pytest.fixture(scope="module")
def reference():
    return SweepRunner(None, quiet=True).map(dummy_claims.network_stats, POINTS)


def assert_bitwise(results, expected):
    assert len(results) == len(expected)
    for got, want in zip(results, expected):
        assert got.keys() == want.keys()
        for name in want:
            assert got[name].dtype == want[name].dtype, name
            assert np.array_equal(got[name], want[name]), name  # bitwise for floats without NaN


@pytest.mark.cluster
def test_same_bits_as_local_and_streamed_into_the_cache(cluster, reference, tmp_path):
    runner = SweepRunner(tmp_path, executor=cluster.executor, workers=cluster.workers, quiet=True)
    assert_bitwise(runner.map(dummy_claims.network_stats, POINTS), reference)
    assert runner.computed == len(POINTS)
    assert len(list((tmp_path / "network_stats").glob("*.npz"))) == len(POINTS)
    local = SweepRunner(tmp_path, quiet=True)  # a local run reads what the cluster wrote
    assert_bitwise(local.map(dummy_claims.network_stats, POINTS), reference)
    assert (local.computed, local.cached) == (0, len(POINTS))


@pytest.mark.cluster
def test_a_worker_killed_mid_sweep_changes_nothing(cluster, reference, tmp_path):
    marker = tmp_path / "killed-once"
    points = [FragilePoint(p.d, p.m, p.seed, str(marker)) for p in POINTS]
    runner = SweepRunner(tmp_path / "cache", executor=cluster.executor, workers=cluster.workers,
                         quiet=True)
    results = runner.map(fragile_stats, points)
    assert marker.exists()  # a worker did die
    assert_bitwise(results, reference)
    assert runner.computed == len(POINTS)


@pytest.mark.slow  # its own cluster in a subprocess: 65-125 s on 2 loaded cores
def test_a_killed_run_resumes_from_the_points_it_streamed(reference, partitionable, tmp_path):
    """The client process is SIGKILLed after its 4th stored point; a local rerun does the rest."""
    code = ("import sys; sys.path[:0] = sys.argv[1:3]; import jax; "
            "jax.config.update('jax_enable_x64', True); "
            f"jax.config.update('jax_threefry_partitionable', {partitionable}); "
            "import dummy_claims as dc; "
            "from verification.executors import dask_executor; "
            "from verification.sweep import SweepRunner\n"
            "if __name__ == '__main__':\n"
            "    with dask_executor(scheduler=None, workers=2, timeout=60) as dx:\n"
            "        SweepRunner(sys.argv[3], executor=dx.executor, workers=dx.workers,\n"
            "                    quiet=True).map(dc.network_stats, dc.grid('quick', 0))\n")
    root = Path(__file__).parent
    env = {**os.environ, sweep.ABORT_ENV: "4"}
    killed = subprocess.run([sys.executable, "-c", code, str(root), str(root.parent),
                             str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    written = len(list((tmp_path / "network_stats").glob("*.npz")))
    assert 4 <= written < len(POINTS)
    resumed = SweepRunner(tmp_path, quiet=True)
    assert_bitwise(resumed.map(dummy_claims.network_stats, POINTS), reference)
    assert (resumed.cached, resumed.computed) == (written, len(POINTS) - written)


@pytest.mark.cluster
def test_a_running_scheduler_by_address(cluster, reference):
    with dask_executor(scheduler=cluster.client.scheduler.address, workers=1, timeout=30) as dx:
        assert dx.cluster is None and 1 <= dx.workers <= 2  # a killed worker may be rejoining
        results = SweepRunner(None, executor=dx.executor, workers=dx.workers,
                              quiet=True).map(dummy_claims.network_stats, POINTS[:3])
    assert_bitwise(results, reference[:3])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["refused", "silent"], ids=str)
def test_a_scheduler_that_does_not_answer_is_named_within_the_timeout(kind):
    with socket.socket() as listener:
        if kind == "silent":  # accepts TCP connections but never speaks dask's protocol
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
        else:
            port = _free_port()
        address = f"tcp://127.0.0.1:{port}"
        start = time.perf_counter()
        with pytest.raises(ValueError, match=f"no dask scheduler answered at '{address}' within 2 s"):
            dask_executor(scheduler=address, workers=1, timeout=2)
        assert time.perf_counter() - start < 15  # the timeout plus dask's retry granularity


@pytest.mark.parametrize("kwargs, name", [
    (dict(scheduler=None, workers=0, timeout=1), "workers"),
    (dict(scheduler=None, workers=True, timeout=1), "workers"),
    (dict(scheduler="", workers=1, timeout=1), "scheduler"),
    (dict(scheduler=None, workers=1, timeout=0), "timeout"),
    (dict(scheduler=None, workers=1, timeout=float("nan")), "timeout"),
], ids=["workers-0", "workers-bool", "scheduler-empty", "timeout-0", "timeout-nan"])
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        dask_executor(**kwargs)



def test_the_command_line_names_a_silent_scheduler_and_exits_2(tmp_path, capsys):
    """`ntk-attack verify --executor dask --scheduler ADDRESS`: one line, exit 2, no traceback."""
    from verification import cli
    address = f"tcp://127.0.0.1:{_free_port()}"
    code = cli.main(["verify", "--executor", "dask", "--scheduler", address, "--scheduler-timeout",
                     "2", "--only", "kernel_analytic_matches_neural_tangents", "--out",
                     str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert address in err and "Traceback" not in err


def test_scheduler_without_dask_executor_is_a_usage_error(tmp_path, capsys):
    from verification import cli
    code = cli.main(["verify", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path)])
    assert code == 2
    assert "--scheduler needs --executor dask" in capsys.readouterr().err
