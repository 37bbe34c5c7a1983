"""Run claims and write the report: ``report.json``, ``report.md`` and the figures.

:func:`run_claims` runs the selected claims of :mod:`verification.registry` in registration
order, each with a :class:`~verification.registry.Context` sharing one
:class:`~verification.sweep.SweepRunner` (claims that share a sweep share its cached points),
and records per claim its checks (each with its minimum detectable effect), verdict
(THEORY.md section 8; ``skipped`` with the reason when a claim raises
:class:`~verification.registry.Skip`, ``error`` with the traceback when it raises anything
else), config, seed and wall time, the bookkeeping of its reported numbers (``inputs``,
``judged``, ``unjudged`` and ``bookkeeping``, the gaps :func:`registry.unaccounted` finds), plus
the run's versions, dtype and the command that reruns it. :func:`render` redraws the figures
and ``report.md`` from an existing ``report.json``, so figures are always drawn from the JSON
data alone.

``report.json`` is strict JSON: non-finite floats (one-sided bands) are written as the
strings ``"inf"``, ``"-inf"``, ``"nan"`` and read back as floats by :func:`load_report`.
Every file is written atomically (temporary file, then ``os.replace``): an interrupted run
leaves the previous report intact.

Environment:
    ``NTK_ATTACK_EXTRA_CLAIMS``: comma-separated module names imported after the claim
    families, registering extra claims (tests use it to give a ``ntk-attack`` subprocess a
    cheap dummy claim). Extra claims join the Bonferroni family.
"""
import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path

import jax
from tqdm.auto import tqdm

from ntk_attack.io import decode as _decode
from ntk_attack.io import dumps, write_text_atomically
from verification import enable_x64, protocol, registry
from verification.report_compact import to_markdown_compact
from verification.report_html import to_html
from verification.sweep import SweepRunner

EXTRA_CLAIMS_ENV = "NTK_ATTACK_EXTRA_CLAIMS"
SCHEMA = "ntk-attack-report/1"
PACKAGES = ("ntk-attack", "jax", "jaxlib", "neural-tangents", "numpy", "scipy", "matplotlib")


# --- claims ----------------------------------------------------------------------------------

def load_claims(modules=()) -> dict:
    """``{claim_id: ClaimSpec}``: the claim families, ``modules`` (``--claims``), then
    ``NTK_ATTACK_EXTRA_CLAIMS``'s modules."""
    extra = [m.strip() for m in os.environ.get(EXTRA_CLAIMS_ENV, "").split(",") if m.strip()]
    return registry.all_claims([*modules, *extra])


def select_claims(ids, claims: dict) -> list:
    """The specs of ``ids`` (all when None) in registration order; ``ValueError`` on unknown ids."""
    if ids is None:
        return list(claims.values())
    unknown = [i for i in ids if i not in claims]
    if unknown:
        known = ", ".join(claims) or "none registered"
        raise ValueError(f"unknown claim id{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}. Known: {known}.")
    return [spec for claim_id, spec in claims.items() if claim_id in set(ids)]


def check_out_dir(out_dir) -> Path:
    """Create ``out_dir`` if needed and prove it writable; ``ValueError`` naming it otherwise."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=out, prefix=".write-probe.")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise ValueError(f"results folder {str(out)!r} is not writable "
                         f"({error.strerror or error}).") from None
    return out


# --- running ---------------------------------------------------------------------------------

def run_claims(ids=None, *, profile: str = "quick", seed: int = 0, out_dir="results",
               workers: int = 1, fresh: bool = False, quiet: bool = False, pdf: bool = False,
               mnist_path=None, executor=None, claim_modules=(), tag: str = "",
               strict: bool = False) -> dict:
    """Run claims, write ``report.json``, ``report.md`` and figures into ``out_dir``.

    Args:
        ids: claim ids to run (registration order is kept), or None for all.
        profile: one of ``registry.PROFILES``.
        seed: the run's integer seed (>= 0), passed to every claim.
        out_dir: results folder; sweep points are cached in ``out_dir/cache``.
        workers: processes for grid points (1: in this process).
        fresh: ignore cached sweep points.
        quiet: no progress bars or per-claim lines.
        pdf: also write each figure as PDF.
        mnist_path: a local full MNIST file for claims that use it, or None.
        executor: a ``concurrent.futures.Executor`` for grid points (overrides ``workers``).
        claim_modules: names of modules to import first, each registering claims (``--claims``).
        tag: cache tag mixed into every point's key (``SweepRunner(tag=...)``); empty by default.
        strict: a skipped claim fails the run (:func:`summarize`).

    Returns:
        The report (as written to ``report.json``, non-finite floats decoded).

    Raises:
        ValueError: unknown claim ids, bad options, an unwritable ``out_dir`` or a missing or
            malformed ``mnist_path``, before any claim runs.
    """
    start = time.perf_counter()
    enable_x64()
    if profile not in registry.PROFILES:
        raise ValueError(f"profile must be one of {', '.join(registry.PROFILES)}. Got {profile!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0. Got {seed!r}.")
    if mnist_path is not None:
        if not Path(mnist_path).exists():
            raise ValueError(f"MNIST file {str(mnist_path)!r} does not exist.")
        from ntk_attack import data
        data.check_mnist(mnist_path)  # a malformed file fails now, not inside a claim
    claims = load_claims(claim_modules)
    specs = select_claims(ids, claims)
    out = check_out_dir(out_dir)
    run = {
        "command": rerun_command(ids, profile=profile, seed=seed, out_dir=out_dir,
                                 mnist_path=mnist_path, claim_modules=claim_modules, tag=tag,
                                 strict=strict),
        "claim_modules": list(claim_modules), "tag": tag, "strict": strict,
        "profile": profile, "seed": seed, "only": None if ids is None else list(ids),
        "workers": workers, "fresh": fresh,
        "mnist_path": None if mnist_path is None else str(mnist_path),
        "dtype": "float64" if jax.config.jax_enable_x64 else "float32",
        "versions": package_versions(), "platform": platform.platform(),
        "xla_flags": os.environ.get("XLA_FLAGS"), "family_size": len(claims),
        "started_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    entries = []
    formats = ("png", "pdf") if pdf else ("png",)
    with SweepRunner(out / "cache", workers=workers, executor=executor, fresh=fresh,
                     quiet=quiet, tag=tag) as runner:
        context = registry.Context(profile=profile, seed=seed, runner=runner,
                                   family_size=len(claims),
                                   mnist_path=None if mnist_path is None else str(mnist_path),
                                   tag=tag)
        bar = tqdm(specs, desc="claims", unit="claim", disable=quiet, file=sys.stderr,
                   dynamic_ncols=True)
        for spec in bar:
            bar.set_description(spec.id)
            entry = run_claim(spec, context)
            entry["figures"], entry["figure_error"] = draw_figures(spec, entry, out,
                                                                   formats=formats)
            entries.append(entry)
            if not quiet:
                tqdm.write(f"{entry['verdict']:>12}  {spec.id}  ({entry['wall_time_s']:.1f} s)"
                           + (f": {entry['reason']}" if entry["reason"] else ""), file=sys.stderr)
        bar.close()
    run["total_time_s"] = round(time.perf_counter() - start, 3)
    report = {"schema": SCHEMA, "run": run, "summary": summarize(entries, strict=strict),
              "claims": entries}
    write_text_atomically(out / "report.json", dumps(report))
    write_documents(report, out)
    return report


def write_documents(report: dict, out: Path):
    """``report.md`` (compact: verdicts, checks, figures with captions; configs stay in
    ``report.json``) and a self-contained ``report.html`` (figures embedded) into ``out``."""
    write_text_atomically(out / "report.md", to_markdown_compact(report))
    write_text_atomically(out / "report.html", to_html(report, root=out))


def run_claim(spec, context) -> dict:
    """Run one claim and return its report entry (never raises for a failing claim)."""
    runner = context.runner
    before = (runner.computed, runner.cached, len(runner.corrupt))
    entry = {"id": spec.id, "title": spec.title, "verdict": "error", "reason": "",
             "prediction": _prediction(spec), "checks": [], "config": {}, "notes": "",
             "data": {}, "seed": context.seed, "profile": context.profile}
    start = time.perf_counter()
    try:
        outcome = spec.run(context)
        if not isinstance(outcome, registry.Outcome):
            raise TypeError(f"claim {spec.id} must return a registry.Outcome. Got {type(outcome)}.")
        # Through JSON and back, so the figures drawn now equal those `render` redraws.
        entry.update(checks=_decode(json.loads(dumps([_check_record(c) for c in outcome.checks]))),
                     config=_decode(json.loads(dumps(outcome.config))),
                     data=_decode(json.loads(dumps(outcome.data))), notes=outcome.notes,
                     verdict=protocol.overall_verdict(outcome.checks),
                     inputs=list(outcome.inputs),
                     judged={k: [v] if isinstance(v, str) else list(v)
                             for k, v in outcome.judged.items()},
                     unjudged=dict(outcome.unjudged), bookkeeping=registry.unaccounted(outcome))
        if not entry["prediction"]:
            entry["prediction"] = "; ".join(dict.fromkeys(c.prediction for c in outcome.checks))
    except registry.Skip as skip:
        entry.update(verdict="skipped", reason=str(skip) or "skipped")
    except Exception as error:  # noqa: BLE001  (a broken claim is reported, the run goes on)
        entry.update(verdict="error", reason=f"{type(error).__name__}: {error}",
                     traceback=traceback.format_exc())
    entry["wall_time_s"] = round(time.perf_counter() - start, 3)
    entry["sweep"] = {"computed": runner.computed - before[0], "cached": runner.cached - before[1],
                      "corrupt_recomputed": list(runner.corrupt[before[2]:])}
    return entry


def _prediction(spec) -> str:
    """First paragraph of the claim function's docstring (its THEORY.md prediction)."""
    doc = (spec.run.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) if doc else ""


def _check_record(check) -> dict:
    record = dataclasses.asdict(check)
    record["ci"] = list(record["ci"])
    mde = protocol.min_detectable_effect(check)
    record["min_detectable_effect"] = None if mde is None else {"absolute": mde[0],
                                                                 "relative": mde[1]}
    return record


def summarize(entries, *, strict: bool = False) -> dict:
    """Counts per verdict, the run's verdict and its exit code.

    The run's verdict is the worst of its claims' (``fail`` and ``error`` give ``fail``, then
    ``inconclusive``, then ``pass``); a run where every claim was skipped is ``skipped``. The
    exit code is 0 when every claim that ran passed: a skipped claim (an optional dependency or
    file absent here) does not count against the run, because it verified nothing either way
    and its reason is reported. With ``strict`` a skip fails the run (verdict ``fail``, exit 1).
    """
    counts = {v: sum(e["verdict"] == v for e in entries) for v in protocol.VERDICTS}
    if counts["fail"] or counts["error"] or (strict and counts["skipped"]):
        verdict = "fail"
    elif counts["inconclusive"]:
        verdict = "inconclusive"
    elif counts["pass"]:
        verdict = "pass"
    else:
        verdict = "skipped"
    return {"verdict": verdict, "counts": counts, "strict": strict,
            "exit_code": 0 if verdict in ("pass", "skipped") else 1}


def exit_code(report: dict) -> int:
    """0 when every claim that ran passed (and, under ``strict``, none was skipped), else 1."""
    return report["summary"]["exit_code"]


def summary_line(report: dict) -> str:
    """What ``ntk-attack verify`` prints last: ``VERDICT: COUNTS in T s``.

    ``COUNTS`` gives each nonzero count, worst verdict first, and the skipped count always
    (``pass: 22 pass, 2 skipped in 245.3 s``); when claims were skipped, a note says whether
    skips fail the run (``--strict``) or not.
    """
    summary = report["summary"]
    counts = ", ".join(f"{n} {v}" for v, n in summary["counts"].items() if n or v == "skipped")
    line = f"{summary['verdict']}: {counts} in {report['run']['total_time_s']:.1f} s"
    if summary["counts"]["skipped"]:
        line += (" (--strict: a skipped claim fails the run)" if summary.get("strict")
                 else " (skipped claims do not fail the run; --strict makes them)")
    return line


def rerun_command(ids, *, profile, seed, out_dir, mnist_path=None, claim_modules=(),
                  tag: str = "", strict: bool = False) -> str:
    """The shell command that reruns this selection with the same numbers."""
    words = ["ntk-attack", "verify", "--profile", profile, "--seed", str(seed),
             "--out", str(out_dir)]
    if claim_modules:
        words += ["--claims", *claim_modules]
    if tag:
        words += ["--tag", tag]
    if strict:
        words.append("--strict")
    if ids is not None:
        words += ["--only", *ids]
    if mnist_path is not None:
        words += ["--mnist", str(mnist_path)]
    extra = os.environ.get(EXTRA_CLAIMS_ENV)
    prefix = f"{EXTRA_CLAIMS_ENV}={shlex.quote(extra)} " if extra else ""
    return prefix + shlex.join(words)


def package_versions() -> dict:
    """Installed versions (``importlib.metadata``; nothing is imported) and Python's."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions


# --- figures ---------------------------------------------------------------------------------

def draw_figures(spec, entry: dict, out: Path, *, formats=("png",)):
    """Draw and save a claim's figures from its entry's data.

    A claim's figure function returns ``{name: Figure}`` or ``{name: (Figure, caption)}``; those
    captions and the claim's ``data["captions"]`` (``{figure name: caption}``), both written from
    the data by the claim, go to ``entry["captions"]`` keyed by file stem.

    Returns:
        ``(paths, error)``: PNG paths relative to ``out`` and an error message or None.
    """
    if spec is None or spec.figures is None or entry["verdict"] in ("skipped", "error"):
        return [], None
    from ntk_attack.plotting import common

    common.use_agg()
    paths = []
    captions = {_safe(name): text for name, text in entry["data"].get("captions", {}).items()}
    try:
        figures = spec.figures(entry["data"])
        for name, fig in figures.items():
            fig, text = fig if isinstance(fig, tuple) else (fig, "")
            target = out / "figures" / _safe(spec.id) / _safe(name)
            common.save_figure(fig, target, formats=formats)
            common.close(fig)
            paths.append(target.with_suffix(".png").relative_to(out).as_posix())
            if text:
                captions[target.stem] = text
    except Exception as error:  # noqa: BLE001  (a broken figure must not lose the report)
        return paths, f"{type(error).__name__}: {error}"
    finally:
        entry["captions"] = captions
    return paths, None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name))


def render(out_dir="results", *, pdf: bool = False, formats=("png",), quiet: bool = False) -> dict:
    """Redraw every figure, ``report.md`` and ``report.html`` from ``out_dir/report.json``.

    Figures are written as PNG (the reports link them) plus every other format in ``formats``
    (``pdf``, ``svg``; ``pdf=True`` adds ``pdf``).

    Claims are looked up in the registry by id; a claim no longer registered keeps its
    table rows but gets no figures. ``report.json`` is rewritten only if the list of figure
    files changed.

    Raises:
        ValueError: no readable ``report.json`` in ``out_dir`` or ``out_dir`` not writable.
    """
    out = Path(out_dir)
    path = out / "report.json"
    if not path.is_file():
        raise ValueError(f"no report.json in {str(out)!r}; run `ntk-attack verify --out {out}` "
                         "first.")
    report = load_report(path)
    check_out_dir(out)
    claims = load_claims()
    formats = tuple(dict.fromkeys(("png", *formats, *(("pdf",) if pdf else ()))))
    changed = False
    for entry in tqdm(report["claims"], desc="figures", disable=quiet, file=sys.stderr):
        captions = entry.get("captions")
        figures, error = draw_figures(claims.get(entry["id"]), entry, out, formats=formats)
        if (figures != entry.get("figures") or error != entry.get("figure_error")
                or captions != entry.get("captions")):
            entry["figures"], entry["figure_error"] = figures, error
            changed = True
    if changed:
        write_text_atomically(path, dumps(report))
    write_documents(report, out)
    return report


# --- files -----------------------------------------------------------------------------------

def load_report(path) -> dict:
    """Read a ``report.json``, turning ``"inf"``, ``"-inf"``, ``"nan"`` back into floats."""
    try:
        report = _decode(json.loads(Path(path).read_text()))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read report {str(path)!r}: {error}") from None
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise ValueError(f"{str(path)!r} is not an ntk-attack report (schema {SCHEMA!r}).")
    claims = report.get("claims")
    if not (isinstance(report.get("run"), dict) and isinstance(report.get("summary"), dict)
            and isinstance(claims, list)
            and all(isinstance(e, dict) and {"id", "verdict"} <= set(e) for e in claims)):
        raise ValueError(f"{str(path)!r} is damaged: it needs 'run' and 'summary' objects and a "
                         "'claims' list of entries with an 'id' and a 'verdict'.")
    return report
