"""The quick profile on two Python stacks (venvs), compared as distributions over seeds.

    python benchmarks/stacks.py --stack pin=/path/venv-pin/bin/python \\
        --stack new=/path/venv-new/bin/python --seeds 0 1 2 3 4 --out runs/stacks

For each stack and seed it runs ``python -m verification.cli verify --profile quick --seed S
--out OUT/STACK/seed-S -q`` (``--only CLAIM ...`` passed on) with ``PYTHONPATH`` set to this
checkout, so both stacks run the same code whether or not ntk-attack is installed in them; runs
go one after the other (the machine's cores are the workers), each logged to ``verify.log`` in
its folder. Every grid point is cached in its ``--out`` folder, so an interrupted comparison
resumes where it stopped and a rerun only re-renders; ``--reuse`` skips runs that already have a
``report.json``. Start it with ``nohup nice -n 10 ... &`` and poll ``OUT/progress.log``.

Two stacks do not draw the same numbers for the same key (jax >= 0.5 changed the default PRNG
implementation), so they are compared as distributions (``OUT/comparison.md`` and ``.json``):

- per claim, the verdict counts over seeds on each stack;
- per statistical check (one with a confidence level), each stack's mean estimate over seeds
  with a Student-t CI, and Welch's CI of the difference of the means: the stacks agree when it
  contains 0. Every CI is at level ``1 - alpha / k`` for the ``k`` checks compared (Bonferroni,
  1% family-wise by default), the seeds being the independent replicates;
- per exact check (no confidence level: closed forms against autodiff, finite differences or a
  second implementation, counts that must be 0), which is deterministic given its inputs: the
  stacks agree when every seed gives the same verdict on both, i.e. the two sides of the check
  agree to the rounding its band allows on each stack. Each stack's largest value is shown.

Checks are matched by claim, position and name with digits masked (a name may count points).
Exit 0 when no compared check differs (with one seed they are undecided), 1 when one differs, 2
when a run left no report.
"""
import argparse
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import stats

from ntk_attack.io import dumps
from verification.report import load_report

ROOT = Path(__file__).resolve().parent.parent


def run_folder(out: Path, stack: str, seed: int) -> Path:
    return out / stack / f"seed-{seed}"


def run_stack(python: str, folder: Path, *, seed: int, only=None, log=print) -> float:
    """One ``verify --profile quick`` run of this checkout under ``python``; its wall time."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "verification.cli", "verify", "--profile", "quick", "--seed",
               str(seed), "--out", str(folder), "-q"] + (["--only", *only] if only else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    with open(folder / "verify.log", "w") as logfile:
        code = subprocess.run(command, cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT).returncode
    elapsed = time.perf_counter() - start
    log(f"{folder}: exit {code} in {elapsed:.1f} s")
    return elapsed


def load(folder: Path) -> dict | None:
    """The run's report (infinite band edges as floats), or None when it left none."""
    path = folder / "report.json"
    return load_report(path) if path.exists() else None


def _key(claim_id: str, position: int, name: str) -> tuple:
    return claim_id, position, re.sub(r"\d+(\.\d+)?", "#", name)


def collect(reports) -> tuple[dict, dict]:
    """Verdict counts per claim and, per check key, the list of (estimate, verdict, level, name)."""
    verdicts, checks = {}, {}
    for report in reports:
        for claim in report["claims"]:
            verdicts.setdefault(claim["id"], Counter())[claim["verdict"]] += 1
            for i, check in enumerate(claim["checks"]):
                checks.setdefault(_key(claim["id"], i, check["name"]), []).append(check)
    return verdicts, checks


def mean_ci(values, level: float) -> tuple[float, float, float]:
    """Mean over seeds and its Student-t CI (NaN bounds for fewer than two seeds)."""
    x = np.asarray(values, float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return mean, mean - half, mean + half


def welch_ci(a, b, level: float) -> tuple[float, float]:
    """Welch's CI of ``mean(a) - mean(b)``; a point when both samples are constant, NaN when a
    side has fewer than two seeds (no spread to compare with)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if min(len(a), len(b)) < 2:
        return math.nan, math.nan
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + level / 2, df) * math.sqrt(va + vb)
    return diff - half, diff + half


def compare(reports_a, reports_b, *, alpha: float = 0.01) -> dict:
    """The comparison of two lists of report.json dicts (one per seed): see the module docstring."""
    verdicts_a, checks_a = collect(reports_a)
    verdicts_b, checks_b = collect(reports_b)
    shared = [k for k in checks_a if k in checks_b]
    statistical = [k for k in shared if checks_a[k][0]["level"] is not None]
    level = 1 - alpha / max(1, len(statistical))
    rows = []
    for key in shared:
        a, b = checks_a[key], checks_b[key]
        ea, eb = [c["estimate"] for c in a], [c["estimate"] for c in b]
        row = {"claim": key[0], "check": a[0]["name"], "n": [len(a), len(b)]}
        if key in statistical:
            lo, hi = welch_ci(ea, eb, level)
            row.update(kind="statistical", a=mean_ci(ea, level), b=mean_ci(eb, level),
                       difference_ci=[lo, hi], agree=None if math.isnan(lo) else bool(lo <= 0 <= hi))
        else:
            va, vb = Counter(c["verdict"] for c in a), Counter(c["verdict"] for c in b)
            row.update(kind="exact", a_max=max(ea, key=abs), b_max=max(eb, key=abs), band=a[0]["band"],
                       verdicts=[dict(va), dict(vb)], agree=len(va) == len(vb) == 1 and va.keys() == vb.keys())
        rows.append(row)
    return {"level": level, "alpha": alpha,
            "verdicts": {c: [dict(verdicts_a.get(c, {})), dict(verdicts_b.get(c, {}))]
                         for c in dict.fromkeys([*verdicts_a, *verdicts_b])},
            "checks": rows,
            "only_a": [list(k) for k in checks_a if k not in checks_b],
            "only_b": [list(k) for k in checks_b if k not in checks_a]}


def _runs_summary(reports) -> str:
    times = [r["run"]["total_time_s"] for r in reports]
    versions = reports[0]["run"]["versions"]
    return (f"jax {versions.get('jax')}, neural-tangents {versions.get('neural-tangents') or 'absent'}; "
            f"{len(reports)} seeds, {np.mean(times):.0f} s of claims per run "
            f"({min(times):.0f}-{max(times):.0f} s)")


def to_markdown(result: dict, names, reports_a, reports_b) -> str:
    a, b = names
    g = lambda v: f"{v:.4g}"  # noqa: E731
    lines = [f"# Quick profile on two stacks: `{a}` and `{b}`", "",
             f"- `{a}`: {_runs_summary(reports_a)}", f"- `{b}`: {_runs_summary(reports_b)}",
             f"- CIs at level {result['level']:.6g} (Bonferroni over the statistical checks, "
             f"{result['alpha']:g} family-wise)", "",
             "## Verdicts per claim", "", f"| claim | {a} | {b} |", "| --- | --- | --- |"]
    fmt = lambda counts: ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "not run"  # noqa: E731
    lines += [f"| {c} | {fmt(va)} | {fmt(vb)} |" for c, (va, vb) in result["verdicts"].items()]
    rows = result["checks"]
    lines += ["", "## Checks", "",
              f"{sum(r['agree'] is True for r in rows)} of {len(rows)} checks agree, "
              f"{sum(r['agree'] is False for r in rows)} differ, "
              f"{sum(r['agree'] is None for r in rows)} undecided (one seed); "
              f"{len(result['only_a'])} only on `{a}`, {len(result['only_b'])} only on `{b}`.", "",
              f"| claim | check | {a} | {b} | difference / verdicts | agree |",
              "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r["kind"] == "statistical":
            sa, sb = (f"{g(m)} [{g(lo)}, {g(hi)}]" for m, lo, hi in (r["a"], r["b"]))
            diff = f"[{g(r['difference_ci'][0])}, {g(r['difference_ci'][1])}]"
        else:
            sa, sb = g(r["a_max"]), g(r["b_max"])
            diff = f"{fmt(r['verdicts'][0])} / {fmt(r['verdicts'][1])} (band {g(r['band']['lo'])}..{g(r['band']['hi'])})"
        name = r["check"].replace("|", "\\|")
        lines.append(f"| {r['claim']} | {name} | {sa} | {sb} | {diff} | "
                     f"{ {True: 'yes', False: '**no**', None: 'undecided'}[r['agree']]} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", action="append", required=True, metavar="NAME=PYTHON",
                        help="a stack's name and interpreter; give exactly two")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--only", nargs="+", metavar="CLAIM", help="only these claim ids")
    parser.add_argument("--alpha", type=float, default=0.01, help="family-wise error rate (default 0.01)")
    parser.add_argument("--reuse", action="store_true", help="skip runs that already have a report.json")
    parser.add_argument("--compare-only", action="store_true", help="run nothing; compare the reports in --out")
    args = parser.parse_args(argv)
    stacks = dict(s.split("=", 1) for s in args.stack if "=" in s)
    if len(args.stack) != 2 or len(stacks) != 2 or not all(stacks) or not all(stacks.values()):
        parser.error(f"--stack must be given twice as NAME=PYTHON with different names; got {args.stack}")
    args.out.mkdir(parents=True, exist_ok=True)

    def log(message):
        print(message, flush=True)
        with open(args.out / "progress.log", "a") as file:
            file.write(f"{time.strftime('%H:%M:%S')} {message}\n")

    if not args.compare_only:
        for seed in args.seeds:
            for name, python in stacks.items():
                folder = run_folder(args.out, name, seed)
                if args.reuse and load(folder) is not None:
                    log(f"{folder}: reused")
                    continue
                run_stack(python, folder, seed=seed, only=args.only, log=log)
    reports = {name: [load(run_folder(args.out, name, s)) for s in args.seeds] for name in stacks}
    missing = [f"{n}/seed-{s}" for n, rs in reports.items() for s, r in zip(args.seeds, rs) if r is None]
    if missing:
        print(f"no report.json for {', '.join(missing)} (see verify.log in each folder)", file=sys.stderr)
        return 2
    (ra, rb), names = reports.values(), tuple(stacks)
    result = compare(ra, rb, alpha=args.alpha)
    (args.out / "comparison.json").write_text(dumps(result))
    markdown = to_markdown(result, names, ra, rb)
    (args.out / "comparison.md").write_text(markdown)
    print(markdown)
    return 1 if any(r["agree"] is False for r in result["checks"]) else 0


if __name__ == "__main__":
    sys.exit(main())
