"""Generated mutants, out of sample (issue 23 item 8): mutmut 3 against the quick tests.

Which mutants:

- every mutant of ``verification/protocol.py``, ``verification/report*.py`` and
  ``ntk_attack/theory/`` (the *full* scope);
- a uniform random sample of the rest of ``ntk_attack/``, stratified by module: each module
  gets ``ceil(--rate * its mutants)`` mutants (at least ``--min-per-module``), drawn with
  ``--seed``: 203 of the 7,308 (2.5%, at least 4 per module), sized from the time per mutant
  to finish overnight. Measured per mutant (CPU of its forked test process): 0.7 s for the
  protocol, 3.8 s for the theory (test_theory.py's Monte Carlo test dominates); on 2 cores
  shared with 6-8 other sessions that was 6 s and 50 s of wall time with 2 workers.

How: mutmut generates the mutants (``setup.cfg``'s ``[mutmut]`` says what it copies into
``mutants/`` and mutates; every function there becomes a trampoline that runs the mutant named
by ``MUTANT_UNDER_TEST``) and its stats pass records which of the selected tests call each
function. Each mutant then runs, in a ``pytest -x`` process forked from a server that imported
the third-party packages and computed nothing (no XLA thread exists at the fork), the quick tests
(``-m "not slow and not extended"``) of its module's unit-test files (:func:`relevant_files`)
that call its function. Not mutmut's own runner: it forks workers (JAX's thread pools do not
survive a fork; its fork server avoids that) but, per mutant, runs every selected test that
reaches the function, which for the protocol is nearly the whole suite, claims included
(minutes per mutant on 2 shared cores), and it reruns its stats and clean tests on every
invocation. The claim-level tests are the claim machinery, measured apart by ``verify --power
--generated``. A decorated function (``jax.jit``, ``functools.cache``) is not mutated by mutmut.

Steps (each resumable; the state is mutmut's ``mutants/`` folder and ``OUT/plan.json``)::

    nice -n 10 python benchmarks/mutation.py run --out figures/mutation/before
    python benchmarks/mutation.py summary --out figures/mutation/before
    python benchmarks/mutation.py draw --out figures/mutation/before --n 20
    ntk-attack verify --power --generated figures/mutation/drawn.json --out results/generated

(``run --limit 0`` only generates the mutants and fixes the plan, enough for ``draw``.)

``run`` generates the mutants and collects mutmut's stats (once), fixes the plan (``plan.json``: the names, group by group
in the order protocol, theory, library sample, report, shuffled within a group so that an
interrupted run leaves a uniform subsample of the group it stopped in), then runs the pending
ones (``OUT/results.jsonl`` gets a line per mutant) and writes the summary. Rerun the same command to resume. For the
"after" scores of changed code, delete ``mutants/`` and run with another ``--out``: mutmut
regenerates every mutant and the plan is drawn anew with the same seed.

Before the first mutant of a module, its unit-test files run once with no mutant active; a test
that fails there (one that inspects a module's functions, which the mutated copy multiplies)
cannot tell a mutant and is deselected for that module (``OUT/baseline.json``).

``summary`` writes ``OUT/mutants.jsonl`` (per mutant: module, function, name, diff, outcome,
seconds) and ``OUT/summary.json`` / ``OUT/summary.md``: per module the mutation score
``killed / (killed + survived)`` with its Clopper-Pearson CI
(``scipy.stats.binomtest(...).proportion_ci``). A mutant that no quick test calls (``no
tests``) counts as survived; a timeout counts as killed (the mutant hangs a test).

``draw`` picks ``--n`` mutants at random (``--seed``) among all generated ones whose function
some claim's code reaches (the walk of :mod:`verification.code_identity`) and writes them in the
format of :mod:`verification.mutants.generated` for ``verify --power --generated FILE``. It
imports the claims: run it with the library importable (e.g. the pinned venv's python).
"""
import argparse
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
GENERATED = MUTANTS / "generated.txt"  # written once every mutant is generated
FULL = ("verification.protocol", "verification.report", "verification.report_compact",
        "verification.report_html", "ntk_attack.theory.")
MUTMUT = "3.8.1"  # internal functions used by generate() are those of this version
KILLED = ("killed", "timeout")
# One BLAS thread per worker: the workers fork from a server that has imported numpy, and the
# machine's cores are shared.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
SURVIVED = ("survived", "no tests")


# Run order, group by group (shuffled within): an interrupted run leaves whole groups scored
# and a uniform subsample of the group it stopped in.
ORDER = ("protocol", "theory", "library sample", "report")


def group_of(module: str) -> str:
    if module == "verification.protocol":
        return "protocol"
    if module.startswith("ntk_attack.theory."):
        return "theory"
    return "report" if module.startswith("verification.report") else "library sample"


def is_full(module: str) -> bool:
    return any(module == f or (f.endswith(".") and module.startswith(f)) for f in FULL)


def split_name(name: str) -> tuple:
    """``(module, function)`` of a mutmut name ``module.x_function__mutmut_N``."""
    module, _, rest = name.partition("__mutmut_")[0].rpartition(".")
    return module, rest


def metas() -> dict:
    """``{meta path: its JSON}`` of mutmut's per-file records."""
    return {p: json.loads(p.read_text()) for p in sorted(MUTANTS.rglob("*.py.meta"))}


def names() -> list:
    """Every generated mutant's name (mutmut's per-file records)."""
    return sorted(name for meta in metas().values() for name in meta["exit_code_by_key"])


def generate():
    """Copy the sources into ``mutants/`` and write every mutant (mutmut's first step)."""
    import mutmut
    from mutmut import __main__ as mm

    if mutmut.__version__ != MUTMUT:
        sys.exit(f"mutmut must be {MUTMUT} (generate() calls its internals). Got {mutmut.__version__}.")
    mm.set_mutant_under_test("mutant_generation")
    MUTANTS.mkdir(exist_ok=True)
    mm.copy_src_dir()
    mm.copy_also_copy_files()
    mm.setup_source_paths()
    mm.store_lines_covered_by_tests()
    print(mm.create_mutants(2), flush=True)
    GENERATED.write_text(time.strftime("%F %T\n"))


def make_plan(out: Path, *, seed: int, rate: float, min_per_module: int) -> dict:
    """The mutants to run (all of the full scope, a stratified sample of the rest), shuffled."""
    path = out / "plan.json"
    if path.exists():
        return json.loads(path.read_text())
    by_module = defaultdict(list)
    for name in names():
        by_module[split_name(name)[0]].append(name)
    rng = random.Random(seed)
    groups, sizes = defaultdict(list), {}
    for module, members in sorted(by_module.items()):
        if is_full(module):
            chosen = members
        else:
            chosen = rng.sample(members, min(len(members), max(min_per_module,
                                                               math.ceil(rate * len(members)))))
        sizes[module] = {"mutants": len(members), "planned": len(chosen), "full": is_full(module)}
        groups[group_of(module)] += chosen
    names = []
    for group in ORDER:
        rng.shuffle(groups[group])
        names += groups[group]
    plan = {"seed": seed, "rate": rate, "min_per_module": min_per_module, "modules": sizes,
            "names": names}
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, indent=1) + "\n")
    return plan


def stats() -> dict:
    """mutmut's map ``{mangled function name: [test node ids that call it]}``, collected once.

    ``mutmut run NAME`` on one planned mutant runs mutmut's stats pass over the selected tests
    (``setup.cfg``'s ``pytest_add_cli_args_test_selection``), then that mutant; the map is kept
    in ``mutants/mutmut-stats.json``.
    """
    path = MUTANTS / "mutmut-stats.json"
    if not path.exists():
        first = json.loads(next(MUTANTS.rglob("protocol.py.meta")).read_text())["exit_code_by_key"]
        with open(MUTANTS / "run.log", "a") as log:
            subprocess.call([str(Path(sys.executable).with_name("mutmut")), "run",
                             "--max-children", "1", next(iter(first))], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, env=ENV)
    return json.loads(path.read_text())["tests_by_mangled_function_name"]


def relevant_files(module: str) -> list:
    """The unit-test files of ``module``: its own ``tests/test_<name>.py`` (and the gap tests of
    the protocol and the report; test_deep.py also tests the deep theory), plus, for the
    library, the bad-input and property tests."""
    name = module.rsplit(".", 1)[-1]
    if module == "verification.protocol":
        files = ["test_protocol.py", "test_mutation_gaps.py"]
    elif module.startswith("verification.report"):
        files = ["test_report.py", "test_report_html.py", "test_mutation_gaps.py"]
    elif module.startswith("ntk_attack.theory."):
        files = ["test_theory.py"] + (["test_deep.py"] if name == "deep" else [])
    else:
        own = {"_checks": ("bad_inputs", "api_walk"), "_memory": ("api_walk", "cli"),
               "labelled_attacks": ("adversarial", "attacks"), "io": ("report",)}.get(name, (name,))
        files = [f"test_{o}.py" for o in own] + ["test_bad_inputs.py", "test_properties.py"]
        if module.startswith("ntk_attack.plotting."):
            files += ["test_plotting.py"]
    return [f"tests/{f}" for f in dict.fromkeys(files) if (ROOT / "tests" / f).exists()]


def tests_for(name: str, by_function: dict) -> list:
    """Test node ids to run against mutant ``name``: those of its module's unit-test files that
    call its function (the whole files when mutmut's stats are not used)."""
    module, _ = split_name(name)
    files = relevant_files(module)
    if not by_function:
        return files
    called = by_function.get(name.partition("__mutmut_")[0], [])
    return sorted(t for t in called if t.split("::")[0] in files)


PYTEST_ARGS = ("-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-o", "addopts=",
               "-m", "not slow and not extended")


def baseline(files: list, out: Path) -> list:
    """Node ids of ``files``' quick tests that fail on the mutated copy with no mutant active
    (e.g. a test that inspects a module's functions, which mutmut's copy multiplies): they
    cannot tell a mutant, so every mutant runs without them. Cached in ``OUT/baseline.json``."""
    path = out / "baseline.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    key = " ".join(files)
    if key not in known:
        result = subprocess.run([sys.executable, "-m", "pytest", *PYTEST_ARGS[1:], "-rf", *files],
                                cwd=MUTANTS, env={**ENV, "MUTANT_UNDER_TEST": "",
                                                  "PY_IGNORE_IMPORTMISMATCH": "1"},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        known[key] = sorted({line.split()[1] for line in result.stdout.splitlines()
                             if line.startswith("FAILED ")})
        if result.returncode not in (0, 1):
            sys.exit(f"the clean run of {key} exited {result.returncode}:\n{result.stdout[-2000:]}")
        path.write_text(json.dumps(known, indent=1) + "\n")
    return known[key]


def _test_mutant(name: str, tests: list, cpu_limit: int, log: str):
    """In a process forked from the server: run ``tests`` with mutant ``name`` active."""
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_limit + 5))
    os.environ.update(ENV, MUTANT_UNDER_TEST=name, PY_IGNORE_IMPORTMISMATCH="1")
    os.chdir(MUTANTS)
    sys.path.insert(0, str(MUTANTS))  # the mutated copy of the packages, not the sources
    with open(log, "w") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        import pytest
        code = int(pytest.main([*PYTEST_ARGS, *tests]))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(f"\nCPU {usage.ru_utime + usage.ru_stime:.2f}", flush=True)
    os._exit(code)


def tests_deselected(args: list) -> set:
    return {args[i + 1] for i, a in enumerate(args[:-1]) if a == "--deselect"}


def run_one(name: str, tests: list, *, cpu_limit: int, context) -> dict:
    """Run ``tests`` against mutant ``name`` (mutmut's trampolines pick the mutant from
    ``MUTANT_UNDER_TEST``) in a process forked from a server that imported the third-party
    packages but computed nothing; kill it after ``cpu_limit`` CPU seconds."""
    if not [t for t in tests if not t.startswith("--") and t not in tests_deselected(tests)]:
        return {"outcome": "no tests", "exit_code": 33, "seconds": 0.0, "cpu_seconds": 0.0}
    log = MUTANTS / "logs" / f"{name}.log"
    log.parent.mkdir(exist_ok=True)
    began = time.perf_counter()
    process = context.Process(target=_test_mutant, args=(name, tests, cpu_limit, str(log)))
    process.start()
    process.join()
    seconds = time.perf_counter() - began
    code = process.exitcode
    outcome = {0: "survived", 5: "no tests"}.get(code, "killed")
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        outcome = "timeout"
    lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    cpu = float(lines[-1].split()[1]) if lines and lines[-1].startswith("CPU ") else None
    failed = [line for line in lines if line.startswith("FAILED ")]  # the test that killed it
    last = failed or [line for line in lines if line.strip() and not line.startswith("CPU ")][-1:]
    log.unlink(missing_ok=True)
    return {"outcome": outcome, "exit_code": code, "seconds": round(seconds, 2),
            "cpu_seconds": cpu, "pytest": (last or [""])[0][:200]}


def fork_server():
    """A multiprocessing context whose children fork from a server that has imported the
    modules of ``benchmarks/mutation_preload.txt`` (no JAX computation: no XLA thread exists)."""
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    preload = (ROOT / "benchmarks" / "mutation_preload.txt").read_text().splitlines()
    context.set_forkserver_preload([m for m in preload if m and not m.startswith("#")])
    return context


def run(out: Path, *, seed: int, rate: float, min_per_module: int, workers: int,
        limit: int | None, cpu_limit: int, use_stats: bool):
    if not GENERATED.exists():
        generate()
    plan = make_plan(out, seed=seed, rate=rate, min_per_module=min_per_module)
    by_function = stats() if use_stats else {}
    done_path = out / "results.jsonl"
    done = {r["name"] for r in map(json.loads, done_path.read_text().splitlines())} \
        if done_path.exists() else set()
    pending = [n for n in plan["names"] if n not in done]
    if limit is not None:
        pending = pending[:limit]
    print(f"{len(plan['names'])} planned, {len(done)} done, {len(pending)} to run", flush=True)
    lock, deselect = threading.Lock(), {}

    def job(name):  # a module's clean run happens before its first mutant, once
        module = split_name(name)[0]
        with lock:
            if module not in deselect:
                broken = baseline(relevant_files(module), out)
                deselect[module] = [arg for node in broken for arg in ("--deselect", node)]
                if broken:
                    print(f"{module}: clean run fails {', '.join(broken)}: deselected", flush=True)
        return run_one(name, deselect[module] + tests_for(name, by_function), cpu_limit=cpu_limit,
                       context=context)

    os.environ.update(ENV)  # the fork server starts with one BLAS thread
    context = fork_server()
    with ThreadPoolExecutor(workers) as pool, open(done_path, "a") as sink:
        jobs = {pool.submit(job, n): n for n in pending}
        for i, job in enumerate(as_completed(jobs), 1):
            record = {"name": jobs[job], **job.result()}
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            print(f"[{i}/{len(pending)}] {record['name']}: {record['outcome']} "
                  f"({record['seconds']} s, {record['cpu_seconds']} s CPU)", flush=True)
    summary(out)


def diff_of(name: str) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    module = split_name(name)[0]
    path = Path(*module.split(".")).with_suffix(".py")
    if not (ROOT / path).exists():
        path = Path(*module.split("."), "__init__.py")
    return get_diff_for_mutant(name, path=path)


def score(killed: int, n: int) -> dict:
    from scipy import stats

    if n == 0:
        return {"killed": 0, "n": 0, "score": None, "ci": None}
    ci = stats.binomtest(killed, n).proportion_ci(confidence_level=0.95, method="exact")
    return {"killed": killed, "n": n, "score": round(killed / n, 4),
            "ci": [round(ci.low, 4), round(ci.high, 4)]}


def summary(out: Path) -> dict:
    plan = json.loads((out / "plan.json").read_text())
    path = out / "results.jsonl"
    done = {r["name"]: r for r in map(json.loads, path.read_text().splitlines())} \
        if path.exists() else {}
    records, counts = [], defaultdict(Counter)
    jsonl = out / "mutants.jsonl"
    cached = {r["name"]: r for r in map(json.loads, jsonl.read_text().splitlines())} \
        if jsonl.exists() else {}
    for name in plan["names"]:
        if name not in done:
            continue
        module, function = split_name(name)
        diff = cached[name]["diff"] if name in cached else diff_of(name)
        records.append({"name": name, "module": module, "function": function, **done[name],
                        "diff": diff})
        counts[module][done[name]["outcome"]] += 1
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records))
    modules = {}
    for module, c in sorted(counts.items()):
        killed, survived = sum(c[o] for o in KILLED), sum(c[o] for o in SURVIVED)
        modules[module] = {**score(killed, killed + survived), "outcomes": dict(c),
                           **plan["modules"][module]}
    groups = {"full scope (protocol, report*, theory)": [m for m in modules if is_full(m)],
              "library sample (rest of ntk_attack)": [m for m in modules if not is_full(m)]}
    pooled = {}
    for group, members in groups.items():
        killed = sum(modules[m]["killed"] for m in members)
        pooled[group] = score(killed, sum(modules[m]["n"] for m in members))
    seconds = [r["seconds"] for r in records if r["seconds"] is not None]
    result = {"planned": len(plan["names"]), "run": len(records), "modules": modules,
              "groups": pooled, "seconds_per_mutant": {
                  "mean": round(sum(seconds) / len(seconds), 2) if seconds else None,
                  "median": sorted(seconds)[len(seconds) // 2] if seconds else None},
              "score_rule": "killed / (killed + survived); timeout counts as killed, 'no tests' "
                            "(no quick test calls the function) as survived; 95% Clopper-Pearson CI"}
    if (out / "baseline.json").exists():
        result["deselected"] = json.loads((out / "baseline.json").read_text())
    (out / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "summary.md").write_text(markdown(result))
    return result


def markdown(result: dict) -> str:
    def row(name, s, extra=""):
        ci = "" if s["ci"] is None else f"[{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]"
        value = "" if s["score"] is None else f"{s['score']:.2f}"
        return f"| {name} | {s['killed']} | {s['n']} | {value} | {ci} | {extra} |"

    lines = [f"# Mutation scores ({result['run']} of {result['planned']} planned mutants run)", "",
             result["score_rule"] + ".", "",
             f"Time per mutant: mean {result['seconds_per_mutant']['mean']} s, median "
             f"{result['seconds_per_mutant']['median']} s.", "",
             "| scope | killed | killed + survived | score | 95% CI | |", "|---|---|---|---|---|---|"]
    lines += [row(g, s) for g, s in result["groups"].items()]
    lines += ["", "| module | killed | killed + survived | score | 95% CI | outcomes (planned / all) |",
              "|---|---|---|---|---|---|"]
    for module, s in result["modules"].items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(s["outcomes"].items()))
        lines.append(row(module, s, f"{outcomes} ({s['planned']} / {s['mutants']})"))
    return "\n".join(lines) + "\n"


def target_of(name: str) -> str:
    """``"module:qualname"`` of the function a mutmut mutant changes."""
    sys.path.insert(0, str(ROOT))
    from verification.mutants.generated import qualname_of

    module, function = split_name(name)
    return f"{module}:{qualname_of(function)}"


def draw(out: Path, *, n: int, seed: int, path: Path):
    """Write ``n`` generated mutants whose function a claim reaches, drawn at random."""
    sys.path.insert(0, str(ROOT))
    from verification import report
    from verification.code_identity import reached

    reach = set().union(*(reached(spec.run) for spec in report.load_claims().values()))
    jsonl = out / "mutants.jsonl"
    jsonl = {r["name"]: r for r in map(json.loads, jsonl.read_text().splitlines())} \
        if jsonl.exists() else {}
    eligible = [name for name in names() if target_of(name).replace(":", ".") in reach]
    chosen = random.Random(seed).sample(eligible, n)
    records = [{"name": name, "target": target_of(name),
                "diff": jsonl[name]["diff"] if name in jsonl else diff_of(name),
                "quick_tests": jsonl[name]["outcome"] if name in jsonl else "not run"}
               for name in chosen]
    path.write_text(json.dumps({"seed": seed, "eligible": len(eligible), "mutants": records},
                               indent=1) + "\n")
    print(f"{n} of {len(eligible)} claim-reached mutants -> {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=("run", "summary", "draw"))
    parser.add_argument("--out", type=Path, default=ROOT / "figures" / "mutation" / "after")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.025,
                        help="share of each library module's mutants to sample (default 0.025)")
    parser.add_argument("--min-per-module", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="mutants run at once")
    parser.add_argument("--no-stats", dest="use_stats", action="store_false",
                        help="skip mutmut's stats pass: run each mutant against all the quick "
                             "tests of its module's unit-test files (same outcomes, more time)")
    parser.add_argument("--cpu-limit", type=int, default=600,
                        help="CPU seconds after which a mutant's test process is killed (timeout)")
    parser.add_argument("--limit", type=int, help="run at most this many pending mutants")
    parser.add_argument("--n", type=int, default=20, help="draw: how many")
    parser.add_argument("--drawn", type=Path, default=ROOT / "figures" / "mutation" / "drawn.json")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # mutmut reads setup.cfg and mutants/ from the working directory
    if args.step == "run":
        run(args.out, seed=args.seed, rate=args.rate, min_per_module=args.min_per_module,
            workers=args.workers, limit=args.limit, cpu_limit=args.cpu_limit,
            use_stats=args.use_stats)
    elif args.step == "summary":
        print(markdown(summary(args.out)))
    else:
        draw(args.out, n=args.n, seed=args.seed, path=args.drawn)


if __name__ == "__main__":
    main()
