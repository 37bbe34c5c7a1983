"""``report.html``: the compact report as one self-contained file to mail to a co-author.

Same content and order as :func:`verification.report_compact.to_markdown_compact`
(verdicts, then per claim prediction, checks with their minimum detectable effects, the
claim's reported numbers, grid line, notes and figures), with what ``report.md`` leaves out:
where each band comes from, each check's note, the numbers no check judges with the reason,
and any gaps in that bookkeeping. Every figure is embedded as a base64 PNG data URI, so the
file needs nothing beside it. No scripts, no external resources.
"""
import base64
import html
import re
from pathlib import Path

from verification import report_compact as rc

#: verdict -> background colour (Okabe-Ito, light) of its cell; the word is always written.
VERDICT_COLOURS = {"pass": "#cce8f6", "fail": "#f5c6a5", "inconclusive": "#faf3b0",
                   "error": "#f0d0e2", "skipped": "#ffffff"}

CSS = """
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #111; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.2rem 0.45rem; vertical-align: top; text-align: left; }
th { background: #eee; }
td.verdict { font-weight: bold; }
figure { margin: 0.8rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption, .grid, .why { font-size: 0.85rem; color: #333; }
code { font-size: 0.9em; background: #f4f4f4; padding: 0 0.15rem; }
"""


def _text(value) -> str:
    """Escape ``value`` and turn ````x```` spans into ``<code>``."""
    return re.sub(r"``(.+?)``", r"<code>\1</code>", html.escape(str(value)))


def _verdict_cell(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#ffffff")
    return f'<td class="verdict" style="background:{colour}">{html.escape(verdict)}</td>'


def data_uri(path) -> str:
    """``data:image/png;base64,...`` of the PNG file at ``path``."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _figure(root: Path, rel: str, caption: str) -> str:
    path = root / rel
    name = html.escape(Path(rel).stem)
    if path.suffix.lower() != ".png" or not path.is_file():
        return (f'<p class="why">Figure {html.escape(rel)} is missing from '
                f"{html.escape(str(root))}.</p>")
    text = f"<b>{name}.</b> {_text(caption)}" if caption else name
    return (f'<figure><img src="{data_uri(path)}" alt="{name}">'
            f"<figcaption>{text}</figcaption></figure>")


def _claim(entry: dict, root: Path) -> list:
    out = [f'<section id="{rc.anchor(entry["id"])}">', f"<h2>{html.escape(entry['id'])}</h2>",
           f"<p><b>{html.escape(entry['verdict'])}</b>: {_text(entry.get('title', ''))} "
           f"({entry.get('wall_time_s', 0.0):.1f} s)</p>"]
    if entry.get("prediction"):
        out.append(f"<p><i>Prediction.</i> {_text(entry['prediction'])}</p>")
    if entry.get("reason"):
        out.append(f"<p><i>Reason.</i> {_text(entry['reason'])}</p>")
    rows = rc.check_rows(entry)
    if rows:
        out.append("<table><tr><th>check</th><th>prediction</th><th>estimate [CI]</th>"
                   "<th>level</th><th>band</th><th>MDE</th><th>verdict</th><th>note</th></tr>")
        for r in rows:
            out.append(f"<tr><td>{_text(r.name)}</td><td>{_text(r.prediction)}</td>"
                       f"<td>{_text(r.estimate)}</td><td>{_text(r.level)}</td>"
                       f"<td>{_text(r.band)}</td><td>{_text(r.mde)}</td>"
                       f"{_verdict_cell(r.verdict)}<td>{_text(r.note)}</td></tr>")
        out.append("</table>")
        whys = list(dict.fromkeys(r.why for r in rows if r.why))
        out += ['<ul class="why">'] + [f"<li>Band: {_text(w)}</li>" for w in whys] + ["</ul>"]
    out += _numbers(entry)
    grid = rc.grid_summary(entry.get("config") or {})
    if grid:
        out.append(f'<p class="grid"><i>Grid.</i> {_text(grid)}</p>')
    if entry.get("notes"):
        out.append(f"<p><i>Notes.</i> {_text(entry['notes'])}</p>")
    out += [_figure(root, rel, rc.figure_caption(entry, rel)) for rel in entry.get("figures") or []]
    if entry.get("figure_error"):
        out.append(f"<p>Figures could not be drawn: {_text(entry['figure_error'])}</p>")
    out.append("</section>")
    return out


def _numbers(entry: dict) -> list:
    """The claim's reported numbers: inputs, judged (by which checks), reported but not judged
    (with the reason), and the gaps ``registry.unaccounted`` found; nothing for an entry
    without this bookkeeping (a skipped or broken claim, an older report)."""
    if "unjudged" not in entry:
        return []
    keys = ", ".join(f"<code>{html.escape(k)}</code>" for k in entry.get("inputs", [])) or "none"
    judged = "; ".join(f"<code>{html.escape(k)}</code> by " + ", ".join(
        f"“{_text(f)}”" for f in fragments) for k, fragments in entry.get("judged", {}).items())
    out = [f'<p class="grid"><i>Inputs.</i> {keys}. <i>Judged.</i> {judged or "none"}.</p>',
           f"<p><i>Reported, not judged</i> ({len(entry['unjudged'])}):</p>"]
    if entry["unjudged"]:
        out += ["<ul>"] + [f"<li><code>{html.escape(k)}</code>: {_text(why)}</li>"
                           for k, why in entry["unjudged"].items()] + ["</ul>"]
    if entry.get("bookkeeping"):
        out += [f"<p><i>Bookkeeping problems</i> ({len(entry['bookkeeping'])}):</p>", "<ul>"]
        out += [f"<li>{_text(p)}</li>" for p in entry["bookkeeping"]] + ["</ul>"]
    return out


def to_html(report: dict, *, root) -> str:
    """The whole report as one HTML document with its figures embedded.

    Args:
        report: a report dict as in ``report.json``.
        root: the results folder the entries' figure paths are relative to.

    Returns:
        The HTML text (UTF-8). A figure file that is missing is named in the text instead.
    """
    root = Path(root)
    run = report["run"]
    versions = ", ".join(f"{k} {v}" for k, v in run["versions"].items())
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>ntk-attack verification report</title>", f"<style>{CSS}</style></head><body>",
           "<h1>ntk-attack verification report</h1>",
           f"<p><b>{_text(rc.headline(report))}.</b></p>",
           "<table><tr><th>verdict</th><th>claim</th><th>title</th><th>checks passed</th>"
           "<th>not judged</th><th>time</th></tr>"]
    for verdict, claim_id, title, passed, seconds, unjudged in rc.verdict_rows(report):
        out.append(f"<tr>{_verdict_cell(verdict)}<td><a href=\"#{rc.anchor(claim_id)}\">"
                   f"<code>{html.escape(claim_id)}</code></a></td><td>{_text(title)}</td>"
                   f"<td>{passed}</td><td>{unjudged}</td><td>{seconds:.1f} s</td></tr>")
    out += ["</table>",
            f"<p>Rerun: <code>{html.escape(run['command'])}</code>. Versions: "
            f"{html.escape(versions)}. Full configs, data and seeds: <code>report.json</code>.</p>",
            f"<p>{_text(rc.VERDICT_LEGEND)}</p>"]
    for entry in report["claims"]:
        out += _claim(entry, root)
    if "power" in report:
        out += _power(report["power"], root)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _power(power: dict, root: Path) -> list:
    """The claim-power section: the kill matrix (verdict per mutant and claim) and its figure."""
    claims = power["claims"]
    out = ['<section id="power"><h2>Claim power (kill matrix)</h2>',
           f"<p>Survivors: {html.escape(', '.join(power['survivors']) or 'none')}; clean run "
           f"{html.escape(power['clean_verdict'])}. A mutant is killed when a claim fails.</p>",
           "<table><tr><th>mutant</th><th>killed</th>"
           + "".join(f"<th><code>{html.escape(c)}</code></th>" for c in claims) + "</tr>"]
    for r in power["mutants"]:
        cells = "".join(_verdict_cell(r["verdicts"].get(c, "not run")) for c in claims)
        out.append(f"<tr><td><code>{html.escape(r['name'])}</code></td>"
                   f"<td>{'yes' if r['killed'] else '<b>no</b>'}</td>{cells}</tr>")
    out.append("</table>")
    if power["mutants"] and not power.get("figure_error"):
        out.append(_figure(root, power["figure"], "kill matrix"))
    return out + ["</section>"]
