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
    return "\n".join(lines).rstrip() + "\n"


def _anchor(claim_id: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", claim_id.lower().replace(" ", "-"))
