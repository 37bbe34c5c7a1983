"""A report that reads in minutes: verdicts, then per claim its prediction, checks (with their
minimum detectable effects), figures, a one-line grid summary and how many reported numbers no
check judges. The full config and data stay in ``report.json``.

The rows are built once (:func:`verdict_rows`, :func:`check_rows`, :func:`grid_summary`) and
rendered here as Markdown (:func:`to_markdown_compact`) and in
:mod:`verification.report_html` as one self-contained HTML file. Input: a report dict as
written to ``report.json`` (schema ``ntk-attack-report/1``, non-finite floats decoded).
"""
import functools
import math
import re
from pathlib import Path
from typing import NamedTuple

from verification import protocol

#: Config keys left out of grid summaries: derived seeds (listed in ``report.json``).
SEED_KEY = re.compile(r"(^|_)seed$")
MAX_LISTED = 4  # distinct strings listed by name; more are counted
CAPTION_LIMIT = 220  # characters of a figure caption in report.md; report.html has them whole
GRID_LIMIT = 200  # characters of the grid line in report.md; report.json has the whole config


def num(value, digits: int = 4) -> str:
    """A number in ``digits`` significant digits; infinities as ``∞``; None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return {math.inf: "∞", -math.inf: "−∞"}.get(value, "nan")
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _values_summary(name: str, values: list) -> str | None:
    """``name lo..hi (k values)`` for numbers, names or a count for strings; None to omit."""
    flat = []
    for v in values:
        flat.extend(v if isinstance(v, list) else [v])
    numbers = [v for v in flat if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numbers and len(numbers) == len(flat):
        distinct = sorted(set(numbers))
        if len(distinct) == 1:
            return f"{name} {num(distinct[0])}"
        return f"{name} {num(distinct[0])}..{num(distinct[-1])} ({len(distinct)} values)"
    scalars = [v for v in flat if isinstance(v, (str, bool)) or v is None]
    if flat and len(scalars) == len(flat):
        distinct = list(dict.fromkeys(map(str, scalars)))
        if len(distinct) <= MAX_LISTED:
            return f"{name} {', '.join(distinct)}"
        return f"{name} {len(distinct)} values"
    return None


def _list_summary(name: str, value: list) -> str:
    if not value:
        return f"{name}: none"
    if all(isinstance(v, dict) for v in value):
        keys = list(dict.fromkeys(k for v in value for k in v))
        fields = [_values_summary(k, [v[k] for v in value if k in v])
                  for k in keys if not SEED_KEY.search(k)]
        inner = "; ".join(f for f in fields if f)
        return f"{name}: {len(value)} grid points" + (f" ({inner})" if inner else "")
    return _values_summary(name, value) or f"{name}: {len(value)} entries"


def grid_summary(config: dict, *, prefix: str = "") -> str:
    """One line: for each config field that is a list, its range and count.

    Lists of numbers (or of lists of numbers) give ``name lo..hi (k values)``; lists of
    grid-point dicts give their count and, per key, the range of that key's values; strings
    are listed (at most :data:`MAX_LISTED`, else counted); seed fields are left out. Dicts
    are searched for lists one level per call, keys joined with dots. Scalars are left out.
    """
    parts = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, list):
            parts.append(_list_summary(name, value))
        elif isinstance(value, dict):
            inner = grid_summary(value, prefix=f"{name}.")
            if inner:
                parts.append(inner)
    return "; ".join(parts)


def not_judged(entry: dict) -> str:
    """The number of the claim's reported quantities that no check judges (``unjudged``), or
    ``""`` for an entry without that bookkeeping (a skipped or broken claim, an older report)."""
    return str(len(entry["unjudged"])) if "unjudged" in entry else ""


def verdict_rows(report: dict) -> list:
    """Per claim, worst verdict first:
    ``(verdict, id, title, "passed/checks", seconds, not judged)``."""
    entries = sorted(report["claims"], key=lambda e: protocol.VERDICTS.index(e["verdict"]))
    return [(e["verdict"], e["id"], e.get("title", ""),
             f"{sum(c['verdict'] == 'pass' for c in e.get('checks', []))}/"
             f"{len(e.get('checks', []))}", e.get("wall_time_s", 0.0), not_judged(e))
            for e in entries]


class CheckRow(NamedTuple):
    """One check as table cells (strings)."""
    name: str
    prediction: str
    estimate: str  # "value [lo, hi]" for a sampled check, the value alone for an exact one
    level: str  # "99.8%", or "exact"
    band: str  # "[lo, hi]"
    verdict: str
    mde: str  # minimum detectable effect: "3.1%" of the prediction, or "0.012 abs."
    note: str  # what the check measured besides
    why: str  # where the band comes from


def mde_text(check: dict, *, digits: int = 2) -> str:
    """A check's minimum detectable effect (THEORY.md 8) as a cell: relative to the prediction
    (``"3.1%"``) when the check has one, else absolute in the estimate's units (``"0.012
    abs."``); ``""`` for an exact check or a record without it (an older report)."""
    mde = check.get("min_detectable_effect")
    if not mde:
        return ""
    if mde["relative"] is not None:
        return f"{num(100 * mde['relative'], digits)}%"
    return f"{num(mde['absolute'], digits)} abs."


def check_rows(entry: dict, *, digits: int = 4) -> list:
    """Per check, a :class:`CheckRow` with numbers in ``digits`` significant digits (an exact
    check's CI is its value, so it shows the value alone and the level ``"exact"``)."""
    rows = []
    for c in entry.get("checks", []):
        band, (lo, hi) = c["band"], c["ci"]
        exact = c["level"] is None
        n = functools.partial(num, digits=digits)
        estimate = n(c["estimate"]) if exact else f"{n(c['estimate'])} [{n(lo)}, {n(hi)}]"
        rows.append(CheckRow(c["name"], c["prediction"], estimate,
                             "exact" if exact else f"{100 * c['level']:.5g}%",
                             f"[{n(band['lo'])}, {n(band['hi'])}]", c["verdict"], mde_text(c),
                             c.get("note", ""), band.get("why", "")))
    return rows


def headline(report: dict) -> str:
    """The run in one sentence: verdict, counts, profile, seed, dtype, time."""
    run, summary = report["run"], report["summary"]
    counts = ", ".join(f"{n} {v}" for v, n in summary["counts"].items() if n)
    if summary.get("strict") and summary["counts"]["skipped"]:
        counts += "; under --strict a skip fails the run"
    return (f"Verdict: {summary['verdict']} ({counts or 'no claims'}); profile {run['profile']}, "
            f"seed {run['seed']}, {run['dtype']}, {run['total_time_s']:.1f} s")


VERDICT_LEGEND = ("Verdicts (THEORY.md section 8): pass: the CI lies inside the band; fail: "
                  "entirely outside; inconclusive: wider than allowed or straddling an edge "
                  "(never a pass). CIs are bootstrap CIs over networks at the Bonferroni level "
                  "shown. MDE: the smallest shift of the prediction that the check would turn "
                  "into a fail, in % of the prediction (abs.: in the estimate's units). Not "
                  "judged: reported numbers that no check judges (each with its reason in "
                  "report.html).")


def figure_caption(entry: dict, path: str) -> str:
    """The caption of figure ``path`` from ``entry["captions"]`` (keyed by the figure's file
    stem, written from the data by the claim), or ``""``."""
    return (entry.get("captions") or {}).get(Path(path).stem, "")


def _verdict(verdict: str) -> str:
    """A verdict for a table: bold unless it is a pass, so failures stand out."""
    return verdict if verdict == "pass" else f"**{verdict}**"


def _cell(text) -> str:
    """``text`` for one Markdown line or table cell; docstrings' double backticks become single."""
    return str(text).replace("``", "`").replace("|", "\\|").replace("\n", " ")


def _estimate_header(rows) -> str:
    """The estimate column's header, with the CI level(s) of the claim's sampled checks."""
    levels = list(dict.fromkeys(r.level for r in rows if r.level != "exact"))
    return f"estimate [{' / '.join(levels)} CI]" if levels else "value (exact)"


def _short(text: str, limit: int = CAPTION_LIMIT) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, marked when cut."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def to_markdown_compact(report: dict) -> str:
    """``report.md``: verdict table (with each claim's count of numbers reported but not
    judged), then per claim prediction, the count of bookkeeping problems if any, checks
    (numbers in 3 significant digits; each statistical check with its minimum detectable
    effect, a column left out when the claim has none), grid line (cut at :data:`GRID_LIMIT`
    characters), figures (each with its caption, when the entry has ``captions``, cut at
    :data:`CAPTION_LIMIT`). The claims' notes, the checks' notes, where each band comes from,
    whole captions and the unjudged numbers with their reasons stay in ``report.json`` and
    ``report.html``, to keep this page short."""
    run = report["run"]
    lines = ["# ntk-attack verification report", "", f"**{headline(report)}.**", "",
             "| verdict | claim | checks passed | not judged | time |",
             "| --- | --- | --- | --- | --- |"]
    for verdict, claim_id, _, passed, seconds, unjudged in verdict_rows(report):
        lines.append(f"| {_verdict(verdict)} | `{claim_id}` | {passed} | {unjudged} | "
                     f"{seconds:.1f} s |")
    versions = ", ".join(f"{k} {v}" for k, v in run["versions"].items())
    lines += ["", f"Rerun: `{run['command']}`. Versions: {versions}. Full configs, data and "
              "seeds: `report.json`; the same report with every claim's and check's notes, "
              "where each band comes from and whole captions: `report.html`.", "", VERDICT_LEGEND, ""]
    for e in report["claims"]:
        lines += [f"## {e['id']}", "", f"**{e['verdict']}**: {_cell(e.get('title', ''))} "
                  f"({e.get('wall_time_s', 0.0):.1f} s)", ""]
        if e.get("prediction"):
            lines += [f"*Prediction.* {_cell(e['prediction'])}", ""]
        if e.get("reason"):
            lines += [f"*Reason.* {_cell(e['reason'])}", ""]
        if e.get("bookkeeping"):
            n = len(e["bookkeeping"])
            lines += [f"*Bookkeeping.* {n} problem{'s' if n > 1 else ''} with the reported "
                      f"numbers, e.g. {_cell(e['bookkeeping'][0])} (all in report.html).", ""]
        rows = check_rows(e, digits=3)
        if rows:
            mde = any(r.mde for r in rows)  # no column for exact checks alone
            lines += [f"| check | prediction | {_estimate_header(rows)} | band |"
                      + (" MDE |" if mde else "") + " verdict |",
                      "| --- " * (6 if mde else 5) + "|"]
            lines += [f"| {_cell(r.name)} | {_cell(r.prediction)} | {r.estimate} | {r.band} |"
                      + (f" {r.mde} |" if mde else "") + f" {_verdict(r.verdict)} |" for r in rows]
            lines.append("")
        grid = grid_summary(e.get("config") or {})
        if grid:
            lines += [f"*Grid.* {_cell(_short(grid, GRID_LIMIT))}", ""]
        for path in e.get("figures") or []:
            lines += [f"![{Path(path).stem}]({path})", ""]
            text = figure_caption(e, path)
            lines += [f"*{_cell(_short(text))}*", ""] if text else []
        if e.get("figure_error"):
            lines.append(f"Figures could not be drawn: {_cell(e['figure_error'])}")
        lines.append("")
    if "power" in report:
        lines += power_lines(report["power"])
    return "\n".join(lines).rstrip() + "\n"


SHORT = {"fail": "F", "inconclusive": "I", "pass": "P", "error": "E", "skipped": "S", "not run": ""}


def power_lines(power: dict) -> list:
    """``report.md``'s claim-power section: the kill matrix and the mutants each claim kills."""
    records, claims = power["mutants"], power["claims"]
    lines = ["## Claim power (kill matrix)", "",
             f"**{'Every mutant killed' if not power['survivors'] else 'Survivors: ' + ', '.join(power['survivors'])}**"
             f" ({len(records)} mutants, clean run {power['clean_verdict']}, {power['seconds']:.0f} s "
             "of mutant runs). F fail (the bug is caught), I inconclusive, P pass, E error, "
             "S skipped, blank not run (the claim's code does not reach the patch).", "",
             "| mutant | killed | time | " + " | ".join(f"`{c}`" for c in claims) + " |",
             "| --- | --- | --- | " + "--- | " * len(claims)]
    for r in records:
        cells = [SHORT.get(r["verdicts"].get(c, "not run"), "?") for c in claims]
        lines.append(f"| `{r['name']}` | {'yes' if r['killed'] else '**no**'} | "
                     f"{r['seconds']:.0f} s | " + " | ".join(cells) + " |")
    if power.get("errors_only"):
        lines += ["", "Every claim raised under " + ", ".join(f"`{n}`" for n in power["errors_only"])
                  + ": the mutant is likely broken (see `power/NAME/report.json`)."]
    lines += ["", "| claim | kills |", "| --- | --- |"]
    for c in claims:
        kills = ", ".join(f"`{k}`" for k in power["kills_by_claim"][c])
        lines.append(f"| `{c}` | {kills or '**none**'} |")
    lines += [""] + [f"- `{r['name']}`: {_cell(r['description'])}" for r in records]
    if records and not power.get("figure_error"):
        lines += ["", f"![kill matrix]({power['figure']})"]
    return lines + [""]


def anchor(claim_id: str) -> str:
    """The HTML id of a claim's section."""
    return re.sub(r"[^a-z0-9_-]", "", claim_id.lower().replace(" ", "-"))
