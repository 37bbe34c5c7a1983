"""``report.md``: the verdict table first, then one section per claim with its checks and figures."""
import json
import math
import re
from pathlib import Path

from ntk_attack.io import encode as _encode
from verification import protocol


# --- markdown --------------------------------------------------------------------------------

def _num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return {math.inf: "∞", -math.inf: "−∞"}.get(value, "nan")
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict) -> str:
    """``report.md``: the verdict table first, then one section per claim with its figures."""
    run, summary = report["run"], report["summary"]
    counts = ", ".join(f"{n} {v}" for v, n in summary["counts"].items() if n)
    versions = ", ".join(f"{k} {v}" for k, v in run["versions"].items())
    lines = [
        "# ntk-attack verification report", "",
        f"**Verdict: {summary['verdict']}** ({counts or 'no claims'}); profile `{run['profile']}`, "
        f"seed {run['seed']}, {run['dtype']}, {run['total_time_s']:.1f} s.", "",
        "| verdict | claim | title | checks passed | time |", "| --- | --- | --- | --- | --- |",
    ]
    entries = sorted(report["claims"], key=lambda e: protocol.VERDICTS.index(e["verdict"]))
    for e in entries:
        passed = f"{sum(c['verdict'] == 'pass' for c in e['checks'])}/{len(e['checks'])}"
        lines.append(f"| **{e['verdict']}** | [`{e['id']}`](#{_anchor(e['id'])}) | "
                     f"{_cell(e['title'])} | {passed} | {e['wall_time_s']:.1f} s |")
    lines += ["", f"Rerun: `{run['command']}`", "", f"Versions: {versions}; workers "
              f"{run['workers']}; started {run['started_utc']}.", "",
              "Verdicts (THEORY.md section 8): *pass*, the CI lies inside the band; *fail*, "
              "entirely outside; *inconclusive*, wider than allowed or straddling an edge "
              "(never a pass). Each CI is at the Bonferroni level shown.", ""]
    for e in report["claims"]:
        lines += [f"## {e['id']}", "", f"**{e['verdict']}**: {_cell(e['title'])} "
                  f"({e['wall_time_s']:.1f} s, seed {e['seed']}, {e['sweep']['computed']} grid "
                  f"points computed, {e['sweep']['cached']} cached).", ""]
        if e["prediction"]:
            lines += [f"Prediction: {e['prediction']}", ""]
        if e["reason"]:
            lines += [f"Reason: {_cell(e['reason'])}", ""]
        if e["checks"]:
            lines += ["| check | prediction | estimate | CI | level | band | max half-width "
                      "| verdict |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
            for c in e["checks"]:
                band = c["band"]
                lines.append(
                    f"| {_cell(c['name'])} | {_cell(c['prediction'])} | {_num(c['estimate'])} | "
                    f"[{_num(c['ci'][0])}, {_num(c['ci'][1])}] | "
                    f"{'exact' if c['level'] is None else _num(c['level'])} | "
                    f"[{_num(band['lo'])}, {_num(band['hi'])}] | {_num(band['max_half_width'])} | "
                    f"**{c['verdict']}** |")
            lines += [""] + [f"- *{_cell(c['name'])}*: {_cell(c['band']['why'])}"
                             + (f" {_cell(c['note'])}" if c["note"] else "") for c in e["checks"]]
            lines.append("")
        if e["config"]:
            lines += [f"Config: `{json.dumps(_encode(e['config']), sort_keys=True)}`", ""]
        if e["notes"]:
            lines += [f"Notes: {e['notes']}", ""]
        if e["sweep"]["corrupt_recomputed"]:
            lines += ["Corrupt cache files recomputed: "
                      f"{len(e['sweep']['corrupt_recomputed'])}.", ""]
        lines += [f"![{Path(p).stem}]({p})" for p in e.get("figures", [])]
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
        lines.append(f"| `{c}` | {kills or ('sanity check' if c in power['sanity_checks'] else '**none**')} |")
    lines += [""] + [f"- `{r['name']}`: {_cell(r['description'])}" for r in records]
    if records and not power.get("figure_error"):
        lines += ["", f"![kill matrix]({power['figure']})"]
    return lines + [""]


def _anchor(claim_id: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", claim_id.lower().replace(" ", "-"))
