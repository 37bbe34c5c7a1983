"""Where a profile's time goes: per claim and per grid point, compile vs run time.

Runs claims in this process (inline executor, empty cache in a temporary folder) with
``jax_log_compiles`` on, and attributes to each claim and each newly computed grid point:

- wall time;
- tracing, lowering and XLA compile time (from JAX's compile log lines) and the number of
  compilations, per jitted function (an eager ``jnp`` op outside ``jit`` shows up under its
  primitive's name, compiled once per shape);
- host round trips: conversions of a device array to host (``np.asarray``, ``float``,
  ``int``, ``bool``, ``.item()``, ``.tolist()``), each a synchronisation point;
- run time = wall - compile time.

Usage::

    PYTHONPATH=$PWD python benchmarks/profile_claims.py [--only CLAIM ...] [--json PATH]

The neural-tangents/TensorFlow import time is measured in a fresh subprocess.
"""
import argparse
import collections
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ["JAX_ENABLE_X64"] = "1"
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

_PATTERNS = {
    "trace": re.compile(r"Finished tracing \+ transforming (\S+) for pjit in ([\d.e+-]+) sec"),
    "lower": re.compile(r"Finished jaxpr to MLIR module conversion (\S+) in ([\d.e+-]+) sec"),
    "compile": re.compile(r"Finished XLA compilation of (\S+) in ([\d.e+-]+) sec"),
}


class Ledger:
    """Stack of open scopes (run, claim, point); every event is added to all open scopes."""

    def __init__(self):
        self.stack = []

    @contextlib.contextmanager
    def scope(self, record: dict):
        record.update(trace_s=0.0, lower_s=0.0, compile_s=0.0, compiles=0, host_syncs=0,
                      by_fn=collections.Counter(), by_fn_s=collections.Counter())
        self.stack.append(record)
        start = time.perf_counter()
        try:
            yield record
        finally:
            record["wall_s"] = time.perf_counter() - start
            self.stack.remove(record)

    def add(self, kind: str, name: str = "", seconds: float = 0.0):
        for record in self.stack:
            if kind == "sync":
                record["host_syncs"] += 1
                continue
            record[f"{kind}_s"] += seconds
            record["by_fn_s"][name] += seconds
            if kind == "compile":
                record["compiles"] += 1
                record["by_fn"][name] += 1


LEDGER = Ledger()


class _CompileLog(logging.Handler):
    def emit(self, log_record):
        message = log_record.getMessage()
        for kind, pattern in _PATTERNS.items():
            match = pattern.search(message)
            if match:
                LEDGER.add(kind, match.group(1), float(match.group(2)))


def _count_host_syncs():
    from jax._src import array

    cls = array.ArrayImpl
    for name in ("__array__", "__float__", "__int__", "__bool__", "__index__", "item", "tolist"):
        original = getattr(cls, name)

        def wrapped(self, *args, _original=original, **kwargs):
            LEDGER.add("sync")
            return _original(self, *args, **kwargs)

        setattr(cls, name, wrapped)


def _import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.strip().splitlines()[-1])


def _short(point) -> str:
    from verification import sweep

    fields = sweep.point_fields(point)
    keep = ("dataset", "d", "m", "C0", "n_networks", "n_points", "signs", "steps", "k", "n")
    return ", ".join(f"{k}={fields[k]}" for k in keep if k in fields)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--only", nargs="+")
    parser.add_argument("--json", help="write the records as JSON")
    parser.add_argument("--top", type=int, default=6, help="functions listed per claim")
    args = parser.parse_args(argv)

    handler = _CompileLog()
    for name in ("jax._src.dispatch", "jax._src.interpreters.pxla", "jax._src.pjit",
                 "jax._src.compiler"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate = False
    jax.config.update("jax_log_compiles", True)
    _count_host_syncs()

    from verification import report, sweep

    points = []
    evaluate = sweep._evaluate

    def timed_evaluate(fn, point):
        record = {"fn": fn.__name__, "point": _short(point)}
        with LEDGER.scope(record):
            out = evaluate(fn, point)
        points.append(record)
        return out

    sweep._evaluate = timed_evaluate
    claims = []
    run_claim = report.run_claim

    def timed_run_claim(spec, context):
        record = {"claim": spec.id}
        first = len(points)
        with LEDGER.scope(record):
            entry = run_claim(spec, context)
        record.update(verdict=entry["verdict"], points=points[first:])
        claims.append(record)
        return entry

    report.run_claim = timed_run_claim
    total = {"claim": "TOTAL"}
    with tempfile.TemporaryDirectory() as out, LEDGER.scope(total):
        report.run_claims(args.only, profile=args.profile, seed=0, out_dir=out, quiet=True)

    print(f"{'claim':48} {'pts':>4} {'wall':>7} {'trace':>6} {'lower':>6} {'compile':>7} "
          f"{'#comp':>5} {'run':>7} {'syncs':>6}")
    for record in claims + [total]:
        compile_total = record["trace_s"] + record["lower_s"] + record["compile_s"]
        n_points = len(record.get("points", [])) if record is not total else len(points)
        print(f"{record['claim']:48} {n_points:>4} {record['wall_s']:7.2f} {record['trace_s']:6.2f} "
              f"{record['lower_s']:6.2f} {record['compile_s']:7.2f} {record['compiles']:>5} "
              f"{record['wall_s'] - compile_total:7.2f} {record['host_syncs']:>6}")
    print("\nTop compile costs per claim (function: compilations, trace+lower+compile s):")
    for record in claims:
        top = record["by_fn_s"].most_common(args.top)
        print(f"  {record['claim']}: " + "; ".join(
            f"{name} x{record['by_fn'][name]} {seconds:.2f}s" for name, seconds in top))
    print("\nGrid points (newly computed):")
    for record in claims:
        for p in record["points"]:
            compile_total = p["trace_s"] + p["lower_s"] + p["compile_s"]
            print(f"  {record['claim'][:28]:28} {p['fn']:18} {p['point'][:60]:60} "
                  f"wall {p['wall_s']:6.2f} comp {compile_total:5.2f} (x{p['compiles']}) "
                  f"run {p['wall_s'] - compile_total:6.2f} syncs {p['host_syncs']}")
    nt = _import_time("neural_tangents")
    base = _import_time("jax.numpy")
    print(f"\nimport neural_tangents (fresh process): {nt:.2f} s; import jax.numpy: {base:.2f} s")
    if args.json:
        def plain(record):
            return {k: (dict(v) if isinstance(v, collections.Counter) else
                        [plain(p) for p in v] if k == "points" else v) for k, v in record.items()}
        with open(args.json, "w") as file:
            json.dump({"claims": [plain(r) for r in claims], "total": plain(total),
                       "import_neural_tangents_s": nt, "import_jax_s": base}, file, indent=1)


if __name__ == "__main__":
    main()
