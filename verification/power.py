"""Claim power: the quick profile once clean and once under each planted bug, and the kill matrix.

``ntk-attack verify --power [--mutants NAME ...] [--only CLAIM ...]`` calls :func:`run_power`:

1. the clean run, as ``ntk-attack verify`` (``OUT/report.json``, ``OUT/cache``, any workers);
2. per mutant of :data:`verification.mutants.MUTANTS`, the claims it can change, run with the
   mutant entered *in this process* and every grid point evaluated in this process
   (``workers=1``: the patches live in one process, so no point can escape them), under the
   run-level tag ``mutant-<name>``: mutated points are cached apart
   (``OUT/power/<name>/cache/mutant-<name>/``, and the tag is mixed into every cache key),
   never read by a clean run and never reading a clean point;
3. the kill matrix (mutant x claim: ``fail`` / ``inconclusive`` / ``pass`` / ``error`` /
   ``skipped`` / ``not run``) under the key ``power`` of ``OUT/report.json``, as a table in
   ``report.md`` and ``report.html`` and as the figure ``figures/power/kill_matrix.png``.

Which claims run under a mutant: those of its families (``Mutant.families``, the
``verification/claims/<family>`` packages) and any other claim whose code reaches a patched
target by the walk of :mod:`verification.code_identity` (the walk the cache already trusts to
know what a point depends on). A claim outside both cannot change: its code does not reach the
patch, so its clean verdict stands and its cell reads ``not run``. A mutant that names no
targets (a family's context-manager mutant without ``reach``) runs every selected claim.

A mutant is *killed* when at least one claim fails; ``inconclusive`` alone is not a kill. The
exit code is 0 only when the clean run passes and every mutant is killed. An interrupted power
run resumes through the caches: rerun the same command.
"""
import sys
import time
from pathlib import Path

from ntk_attack.io import dumps, write_text_atomically
from verification import report
from verification.code_identity import reached
from verification.mutants import MUTANTS

NOT_RUN = "not run"
FIGURE = "figures/power/kill_matrix.png"


def claim_family(spec) -> str:
    """``verification/claims/<family>`` of a claim; the top-level module for claims outside."""
    parts = spec.run.__module__.split(".")
    return parts[2] if parts[:2] == ["verification", "claims"] and len(parts) > 2 else parts[0]


def target_keys(mutant):
    """``"module.qualname"`` keys of what ``mutant`` patches (a method adds its class), or None."""
    names = mutant.targets()
    if not names:
        return None
    keys = set()
    for name in names:
        module, qualname = name.split(":")
        keys.add(f"{module}.{qualname}")
        if "." in qualname:
            keys.add(f"{module}.{qualname.rsplit('.', 1)[0]}")
    return keys


def plan(mutant, specs) -> tuple:
    """``(claim ids to run, ids reached outside the mutant's families)`` in registration order."""
    keys = target_keys(mutant)
    if keys is None:
        return [s.id for s in specs], []
    family = {s.id for s in specs if claim_family(s) in mutant.families}
    reaching = {s.id for s in specs if keys & reached(s.run)}
    return ([s.id for s in specs if s.id in family | reaching],
            [s.id for s in specs if s.id in reaching - family])


def killed(record: dict) -> bool:
    """A mutant is killed when at least one claim fails (inconclusive alone is not a kill)."""
    return any(v == "fail" for v in record["verdicts"].values())


def run_mutant(mutant, specs, *, out: Path, seed: int, fresh: bool = False, mnist_path=None,
               claim_modules=(), restrict: bool = True) -> dict:
    """The power record of one mutant: its claims run in this process with the mutant active."""
    ids, outside = plan(mutant, specs) if restrict else ([s.id for s in specs], [])
    start = time.perf_counter()
    verdicts, reasons = {s.id: NOT_RUN for s in specs}, {}
    if ids:
        with mutant():
            result = report.run_claims(ids, profile="quick", seed=seed,
                                       out_dir=out / "power" / mutant.name, workers=1,
                                       fresh=fresh, quiet=True, mnist_path=mnist_path,
                                       claim_modules=claim_modules, tag=f"mutant-{mutant.name}")
        for entry in result["claims"]:
            verdicts[entry["id"]] = entry["verdict"]
            if entry["reason"]:
                reasons[entry["id"]] = entry["reason"]
    record = {"name": mutant.name, "description": mutant.description,
              "families": list(mutant.families), "expected_catchers": list(mutant.catchers),
              "claims_run": ids, "reached_outside_families": outside, "verdicts": verdicts,
              "reasons": reasons, "seconds": round(time.perf_counter() - start, 1)}
    record["killed"] = killed(record)
    return record


def summarize(records: list, clean: dict) -> dict:
    """The ``power`` key: records, per-claim kills, survivors, and the overall verdict."""
    claims = [e["id"] for e in clean["claims"]]
    kills = {cid: [r["name"] for r in records if r["verdicts"].get(cid) == "fail"] for cid in claims}
    clean_ok = report.exit_code(clean) == 0
    survivors = [r["name"] for r in records if not r["killed"]]
    return {"mutants": records, "claims": claims, "kills_by_claim": kills,
            "claims_killing_none": [c for c, k in kills.items() if not k],
            "survivors": survivors, "clean_verdict": clean["summary"]["verdict"],
            # every claim run raised: the mutant itself is likely broken, not caught
            "errors_only": [r["name"] for r in records if r["claims_run"] and all(
                r["verdicts"][c] == "error" for c in r["claims_run"])],
            "passed": clean_ok and not survivors, "figure": FIGURE,
            "seconds": round(sum(r["seconds"] for r in records), 1)}


def draw(power: dict, out: Path) -> str | None:
    """Save the kill-matrix figure into ``out``; an error message or None."""
    if not power["mutants"]:
        return None
    from ntk_attack.plotting import common, kill_matrix_plot

    common.use_agg()
    try:
        fig = kill_matrix_plot(
            [r["name"] for r in power["mutants"]], power["claims"],
            [["" if r["verdicts"].get(c, NOT_RUN) == NOT_RUN else r["verdicts"][c]
              for c in power["claims"]] for r in power["mutants"]],
            title="Claim power: verdicts under planted bugs (quick profile)")
        common.save_figure(fig, out / Path(FIGURE).with_suffix(""), formats=("png",))
        common.close(fig)
    except Exception as error:  # noqa: BLE001  (a broken figure must not lose the matrix)
        return f"{type(error).__name__}: {error}"
    return None


def write(result: dict, out: Path):
    """Write ``report.json``, ``report.md`` and ``report.html`` of a power run."""
    write_text_atomically(out / "report.json", dumps(result))
    report.write_documents(result, out)


def run_power(ids=None, *, mutants=None, out_dir="results", seed: int = 0, workers: int = 1,
              executor=None, fresh: bool = False, quiet: bool = False, mnist_path=None,
              claim_modules=(), restrict: bool = True, catalogue=None) -> dict:
    """Run the clean quick profile and every mutant; write the report with its ``power`` key.

    Args:
        ids: claim ids (None: all registered).
        mutants: mutant names (None: the whole catalogue, in registration order).
        out_dir, seed, workers, executor, fresh, mnist_path, claim_modules: as in
            :func:`verification.report.run_claims`; ``workers`` and ``executor`` serve the
            clean run only (mutant runs are in-process).
        quiet: no progress output.
        restrict: run a mutant on the claims it can change only (module docstring); False: all.
        catalogue: ``{name: Mutant}`` (default :data:`verification.mutants.MUTANTS`).

    Returns:
        The clean run's report with the key ``power`` (:func:`summarize`).

    Raises:
        ValueError: unknown claim ids or mutant names, or the options of :func:`run_claims`.
    """
    catalogue = MUTANTS if catalogue is None else catalogue
    names = list(catalogue) if mutants is None else list(dict.fromkeys(mutants))
    unknown = [n for n in names if n not in catalogue]
    if unknown:
        raise ValueError(f"unknown mutant{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}. Known: {', '.join(catalogue)}.")
    specs = report.select_claims(ids, report.load_claims(claim_modules))
    out = Path(out_dir)
    clean = report.run_claims(ids, profile="quick", seed=seed, out_dir=out, workers=workers,
                              executor=executor, fresh=fresh, quiet=quiet, mnist_path=mnist_path,
                              claim_modules=claim_modules)
    if not quiet:
        print(f"clean: {clean['summary']['verdict']} in {clean['run']['total_time_s']:.1f} s",
              file=sys.stderr, flush=True)
    records = []
    for i, name in enumerate(names, 1):
        if not quiet:
            n_run = len(plan(catalogue[name], specs)[0]) if restrict else len(specs)
            print(f"[{i}/{len(names)}] {name}: running {n_run} claims in this process",
                  file=sys.stderr, flush=True)
        record = run_mutant(catalogue[name], specs, out=out, seed=seed, fresh=fresh,
                            mnist_path=mnist_path, claim_modules=claim_modules, restrict=restrict)
        records.append(record)
        if not quiet:
            failing = [c for c, v in record["verdicts"].items() if v == "fail"]
            print(f"[{i}/{len(names)}] {name}: "
                  + (f"killed by {', '.join(failing)}" if failing else "SURVIVES")
                  + f" ({len(record['claims_run'])} claims, {record['seconds']:.1f} s)",
                  file=sys.stderr, flush=True)
    clean["power"] = summarize(records, clean)
    clean["power"]["figure_error"] = draw(clean["power"], out)
    write(clean, out)
    return clean


def exit_code(result: dict) -> int:
    """0 when the clean run passes and every mutant is killed, else 1."""
    return 0 if result["power"]["passed"] else 1


def command(args) -> int:
    """``ntk-attack verify --power``: check the options, run, print one summary line."""
    if not args.power:
        raise ValueError("--mutants and --generated need --power.")
    if args.profile != "quick" or args.tag or args.executor != "local":
        raise ValueError("--power runs the quick profile under its own tags (mutant-NAME) with "
                         "the local executor; drop --profile full, --tag and --executor dask.")
    catalogue, names = MUTANTS, args.mutants
    if args.generated:  # generated mutants beside the catalogue; without --mutants, run them
        from verification.mutants import generated
        drawn = generated.load(args.generated)
        catalogue, names = {**MUTANTS, **drawn}, names or list(drawn)
    if args.list:
        for name, mutant in catalogue.items():
            print(f"{name}\t{','.join(mutant.families)}\t{mutant.description}")
        return 0
    result = run_power(args.only, mutants=names, out_dir=args.out, seed=args.seed,
                       workers=args.workers, fresh=args.fresh, quiet=args.quiet,
                       mnist_path=args.mnist, claim_modules=args.claims, catalogue=catalogue)
    power = result["power"]
    print(f"power: {len(power['mutants']) - len(power['survivors'])}/{len(power['mutants'])} "
          f"mutants killed, clean run {power['clean_verdict']}"
          + (f"; survivors: {', '.join(power['survivors'])}" if power["survivors"] else "")
          + f"; report: {Path(args.out) / 'report.md'}")
    return exit_code(result)
