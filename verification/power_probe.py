"""Run claims under each planted bug, in this process, and record what they let through.

``python -m verification.power_probe --out power.json [--mutants a b] [--skip claim ...]``
runs, for each mutant, the quick profile of the claims of its families (``Mutant.families``)
with the mutant active, in-process (``workers=1``, so the patches act on every grid point),
each mutant in its own fresh results folder (mutated points never meet a clean cache). The
clean run is the mutant ``clean``. Records are appended to ``--out`` as each mutant finishes,
so an interrupted probe resumes where it stopped. ``--markdown`` prints the kill matrix.
"""
import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

from verification import report
from verification.mutants import MUTANTS

CLEAN = "clean"


def family_of(spec) -> str:
    """The family of a claim from its module (``kernel_claims`` or ``claims.kernel....``)."""
    module = spec.run.__module__
    for family in ("kernel", "gradient", "attack"):
        if f"{family}_claims" in module or f"claims.{family}" in module:
            return family
    raise ValueError(f"claim {spec.id} is in no known family (module {module}).")


def claims_of(families, skip=()) -> list:
    claims = report.load_claims()
    return [cid for cid, spec in claims.items() if family_of(spec) in families and cid not in skip]


def probe(name: str, ids, *, seed: int = 0) -> dict:
    """Verdicts of claims ``ids`` (quick profile) with mutant ``name`` active (``clean``: none)."""
    context = contextlib.nullcontext() if name == CLEAN else MUTANTS[name]()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"power-{name}-") as out, context:
        result = report.run_claims(ids, profile="quick", seed=seed, out_dir=out, workers=1,
                                   quiet=True, fresh=True)
    claims = {}
    for entry in result["claims"]:
        claims[entry["id"]] = {
            "verdict": entry["verdict"], "reason": entry.get("reason", ""),
            "checks": [{"name": c["name"], "verdict": c["verdict"], "estimate": c["estimate"],
                        "ci": c["ci"]} for c in entry["checks"]]}
    return {"mutant": name, "seconds": round(time.perf_counter() - start, 1), "claims": claims}


def killed(record: dict) -> bool:
    """A mutant is killed when at least one claim fails (inconclusive alone is not a kill)."""
    return any(c["verdict"] == "fail" for c in record["claims"].values())


def markdown(records: list) -> str:
    """The kill matrix: one row per mutant, F / E / I / P per claim run, blank when not run."""
    ids = list(dict.fromkeys(cid for r in records for cid in r["claims"]))
    short = {"fail": "F", "error": "E", "inconclusive": "I", "pass": "P", "skipped": "S"}
    lines = ["| mutant | killed | " + " | ".join(f"`{i}`" for i in ids) + " |",
             "|---|---|" + "---|" * len(ids)]
    for r in records:
        cells = [short[r["claims"][i]["verdict"]] if i in r["claims"] else "" for i in ids]
        lines.append(f"| {r['mutant']} | {'yes' if killed(r) else '**no**'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--mutants", nargs="*", default=None, help="names (default: all, clean first)")
    parser.add_argument("--families", nargs="*", default=None, help="override Mutant.families")
    parser.add_argument("--skip", nargs="*", default=(), help="claim ids not to run")
    parser.add_argument("--markdown", action="store_true", help="print the kill matrix and exit")
    args = parser.parse_args(argv)
    records = json.loads(args.out.read_text()) if args.out.exists() else []
    if args.markdown:
        print(markdown(records))
        return 0
    done = {r["mutant"] for r in records}
    for name in args.mutants or [CLEAN, *MUTANTS]:
        if name in done:
            continue
        families = args.families or (MUTANTS[name].families if name != CLEAN else
                                      ("kernel", "gradient", "attack"))
        record = probe(name, claims_of(families, args.skip))
        records.append(record)
        args.out.write_text(json.dumps(records, indent=1, default=float))
        print(f"{name}: {'killed' if killed(record) else 'SURVIVES'} in {record['seconds']} s: "
              + ", ".join(f"{k}={v['verdict']}" for k, v in record["claims"].items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
