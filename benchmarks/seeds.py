"""Verdicts across seeds: the quick profile at several seeds, a claim x seed verdict table, and
per check the spread of its estimate against its band (THEORY.md 8: a verdict must not depend
on the seed).

Usage::

    python benchmarks/seeds.py --out DIR [--seeds 0-9] [--profile quick] [--only CLAIM ...]
                               [--claims MODULE ...] [--table FOLDER]

Each seed runs ``ntk-attack verify --seed S --out DIR/seed-S`` in a fresh process, one after the
other (both cores go to each run). A seed whose ``report.json`` exists is not rerun, and a killed
run resumes from its grid-point cache, so the script can be stopped and started again at will;
run it in the background (``nohup nice -n 10 python benchmarks/seeds.py ... &``).

The table goes to ``--table`` (default ``DIR``): ``seeds.json`` and ``seeds.md`` with

- the claim x seed verdicts, the share of claim-runs that pass and the claims inconclusive at
  more than one seed (the acceptance of THEORY.md 8: >= 98% pass, none inconclusive twice);
- per statistical check over the seeds: the mean estimate, its standard deviation, the mean CI
  half-width against the allowed one, and the mean estimate's distance to the nearest finite band
  edge in half-widths (an edge that every CI is clipped to, like a fraction's 0, does not
  count), flagged where the sizing rule of THEORY.md 8 (half-width <= 60% of the
  allowed one, distance >= 2 half-widths) does not hold.

Exit 0 when the acceptance holds, 1 otherwise.
"""
import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

PASS_SHARE = 0.98  # THEORY.md 8: a correct implementation fails ~1% of runs by design
MAX_INCONCLUSIVE = 1  # seeds at which one claim may be inconclusive
HALF_WIDTH_SHARE = 0.6  # sizing rule: expected half-width at most 60% of the allowed one
EDGE_HALF_WIDTHS = 2.0  # sizing rule: estimate at least 2 half-widths from the nearest band edge
MARK = {"pass": ".", "fail": "F", "inconclusive": "I", "error": "E", "skipped": "s"}


def seed_list(text: str) -> list:
    """``"0-9"`` or ``"0,3,5"`` (or a mix) as a sorted list of distinct seeds."""
    seeds = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            seeds.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        seeds = set()
    if not seeds:
        raise ValueError(f"seeds must be non-negative integers like 0-9 or 0,3,5; got {text!r}.")
    return sorted(seeds)


def run_seed(seed: int, out: Path, extra: list) -> float:
    """Run the profile at ``seed`` into ``out/seed-S`` unless its report exists; seconds taken."""
    folder = out / f"seed-{seed}"
    if (folder / "report.json").exists():
        return 0.0
    start = time.perf_counter()
    with open(out / f"seed-{seed}.log", "a") as log:
        subprocess.run([sys.executable, "-m", "verification.cli", "verify", "--seed", str(seed),
                        "--out", str(folder), "-q", *extra], stdout=log, stderr=log)
    return time.perf_counter() - start


def _number(value) -> float:
    """A JSON number of report.json (infinities are stored as strings)."""
    return float(value.replace("Infinity", "inf")) if isinstance(value, str) else float(value)


def check_rows(reports: dict) -> list:
    """Per statistical check, its spread over the seeds of ``reports`` ``{seed: report}``."""
    by_check = {}
    for seed, report in sorted(reports.items()):
        for entry in report["claims"]:
            for c in entry.get("checks", []):
                if c["level"] is not None:
                    by_check.setdefault((entry["id"], c["name"]), []).append(c)
    rows = []
    for (claim, name), checks in by_check.items():
        estimates = [_number(c["estimate"]) for c in checks]
        halves = [(_number(c["ci"][1]) - _number(c["ci"][0])) / 2 for c in checks]
        band = checks[0]["band"]
        lo, hi, allowed = _number(band["lo"]), _number(band["hi"]), _number(band["max_half_width"])
        mean = sum(estimates) / len(estimates)
        spread = math.sqrt(sum((e - mean) ** 2 for e in estimates) / max(len(estimates) - 1, 1))
        half = sum(halves) / len(halves)
        # An edge every CI is clipped to (a fraction's lower bound 0) cannot be crossed.
        clipped = {lo: all(_number(c["ci"][0]) == lo for c in checks),
                   hi: all(_number(c["ci"][1]) == hi for c in checks)}
        edges = [abs(mean - edge) for edge in (lo, hi) if math.isfinite(edge) and not clipped[edge]]
        distance = min(edges) / half if edges and half > 0 else math.inf
        rows.append({"claim": claim, "check": name, "seeds": len(checks),
                     "verdicts": "".join(MARK[c["verdict"]] for c in checks),
                     "mean": mean, "sd": spread, "half_width": half, "allowed": allowed,
                     "band": [lo, hi], "edge_in_half_widths": distance,
                     "sized": half <= HALF_WIDTH_SHARE * allowed and distance >= EDGE_HALF_WIDTHS})
    return rows


def summary(reports: dict) -> dict:
    """The claim x seed verdicts and the acceptance of THEORY.md 8."""
    verdicts = {}
    for seed, report in sorted(reports.items()):
        for entry in report["claims"]:
            verdicts.setdefault(entry["id"], {})[seed] = entry["verdict"]
    ran = [v for per_seed in verdicts.values() for v in per_seed.values() if v != "skipped"]
    passed = sum(v == "pass" for v in ran) / max(len(ran), 1)
    twice = sorted(claim for claim, per_seed in verdicts.items()
                   if sum(v == "inconclusive" for v in per_seed.values()) > MAX_INCONCLUSIVE)
    return {"seeds": sorted(reports), "verdicts": verdicts, "claim_runs": len(ran),
            "pass_share": passed, "inconclusive_more_than_once": twice,
            "accepted": passed >= PASS_SHARE and not twice}


def markdown(result: dict) -> str:
    """``seeds.md``: the verdict table, the acceptance line and the sizing table."""
    seeds = result["seeds"]
    lines = ["# Verdicts across seeds", "",
             f"{result['claim_runs']} claim-runs at seeds {seeds[0]}-{seeds[-1]}: "
             f"**{result['pass_share']:.1%} pass** (at least {PASS_SHARE:.0%} wanted); inconclusive "
             f"at more than one seed: {', '.join(result['inconclusive_more_than_once']) or 'none'}. "
             f"Accepted: {'yes' if result['accepted'] else 'no'}.", "",
             "| claim | " + " | ".join(str(s) for s in seeds) + " |",
             "| --- | " + " | ".join("---" for _ in seeds) + " |"]
    for claim, per_seed in result["verdicts"].items():
        lines.append(f"| `{claim}` | " + " | ".join(per_seed.get(s, "") for s in seeds) + " |")
    lines += ["", "## Statistical checks over the seeds", "",
              f"Half-width: the mean CI half-width, against the allowed one; edge: the mean "
              f"estimate's distance to the nearest band edge in half-widths. Sized (THEORY.md 8): "
              f"half-width <= {HALF_WIDTH_SHARE:.0%} of the allowed one and edge >= "
              f"{EDGE_HALF_WIDTHS:g}.", "",
              "| claim | check | verdicts | mean | sd | half-width / allowed | edge | sized |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["checks"]:
        name = r["check"].replace("|", "\\|")
        lines.append(f"| `{r['claim']}` | {name} | `{r['verdicts']}` | "
                     f"{r['mean']:.4g} | {r['sd']:.2g} | {r['half_width']:.3g} / {r['allowed']:.3g} | "
                     f"{r['edge_in_half_widths']:.1f} | {'yes' if r['sized'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder of the per-seed runs")
    parser.add_argument("--seeds", default="0-9", type=seed_list, help="e.g. 0-9 or 0,3,5")
    parser.add_argument("--profile", default="quick", choices=("quick", "full"))
    parser.add_argument("--only", nargs="+", metavar="CLAIM", help="only these claims")
    parser.add_argument("--claims", nargs="+", metavar="MODULE", help="also these claim modules")
    parser.add_argument("--table", type=Path, help="where seeds.json and seeds.md go (default --out)")
    args = parser.parse_args(argv)
    extra = ["--profile", args.profile]
    extra += ["--only", *args.only] if args.only else []
    extra += ["--claims", *args.claims] if args.claims else []
    args.out.mkdir(parents=True, exist_ok=True)
    reports = {}
    for seed in args.seeds:
        seconds = run_seed(seed, args.out, extra)
        path = args.out / f"seed-{seed}" / "report.json"
        if not path.exists():
            print(f"seed {seed}: no report (see {args.out / f'seed-{seed}.log'})", file=sys.stderr)
            continue
        reports[seed] = json.loads(path.read_text())
        print(f"seed {seed}: {reports[seed]['summary']['verdict']}"
              + (f" in {seconds:.0f} s" if seconds else " (already run)"), flush=True)
    if not reports:
        return 1
    result = summary(reports)
    result["checks"] = check_rows(reports)
    table = args.table or args.out
    table.mkdir(parents=True, exist_ok=True)
    (table / "seeds.json").write_text(json.dumps(result, indent=1))
    (table / "seeds.md").write_text(markdown(result))
    print(f"{result['pass_share']:.1%} of {result['claim_runs']} claim-runs pass; inconclusive at "
          f"more than one seed: {', '.join(result['inconclusive_more_than_once']) or 'none'}")
    return 0 if result["accepted"] else 1


if __name__ == "__main__":
    sys.exit(main())
