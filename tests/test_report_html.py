"""The compact Markdown report and the self-contained HTML report (verification.report_compact,
verification.report_html): grid summaries from the config, size, and every embedded figure
loading (in headless Chromium when installed, always decoded with PIL)."""
import base64
import io
import json
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ntk_attack.plotting import scaling
from verification import protocol, report, report_compact, report_html

FIGURES = Path(__file__).resolve().parents[1] / "figures"
COMMITTED = FIGURES / "report.json"
# The committed quick and full reports; they may predate the minimum detectable effects and the
# reported-number bookkeeping, and must still render.
COMMITTED_FULL = FIGURES / "full" / "report.json"  # written before the MDE and bookkeeping
MD_BYTES_PER_CLAIM = 2_500
GRID = [(d, c) for d in (16, 64, 256) for c in (0.0, 1.0)]
POINTS = [{"d": d, "m": 1024, "C0": c, "signs": "balanced", "seed": 1000 + i,
           "eps_grid": [0.1, 0.3]} for i, (d, c) in enumerate(GRID)]


def _check(name, verdict="pass", mde=None):
    return {"name": name, "prediction": "slope -0.5", "estimate": -0.48, "ci": [-0.52, -0.44],
            "band": {"lo": -0.6, "hi": -0.4, "max_half_width": 0.05, "why": "band around -0.5"},
            "level": 0.999, "verdict": verdict, "note": "8 networks", "min_detectable_effect": mde}


@pytest.fixture
def saved(tmp_path):
    """A two-claim report with two figures drawn by ntk_attack.plotting into tmp_path."""
    paths = []
    for name in ("eta_vs_d", "eta_vs_m"):
        x = np.array([16.0, 64.0, 256.0])
        fig = scaling.scaling_plot(x, 1 / np.sqrt(x), 0.9 / np.sqrt(x), 1.1 / np.sqrt(x),
                                   xlabel="d", ylabel="eta*", prediction=lambda t: 1 / np.sqrt(t))
        rel = f"figures/claim_a/{name}.png"
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(tmp_path / rel, dpi=60)
        paths.append(rel)
    entry = {"id": "claim_a", "title": "eta* ~ d^(-1/2)", "verdict": "pass", "reason": "",
             "prediction": "``eta* sqrt(d)`` is flat",
             "checks": [_check("slope", mde={"absolute": 0.16, "relative": None}),
                        _check("level", mde={"absolute": 0.16, "relative": 0.3125})],
             "inputs": ["d"], "judged": {"eta": ["slope", "level"]},
             "unjudged": {"time": "machine-dependent", "gain": "no prediction"}, "bookkeeping": [],
             "config": {"points": POINTS, "held_out_d": 256, "grid": {"widths": [256, 1024, 4096]}},
             "notes": "a note", "data": {}, "seed": 0, "profile": "quick", "wall_time_s": 1.5,
             "sweep": {}, "figures": paths, "figure_error": None,
             "captions": {"eta_vs_d": "slope -0.483 over d in 16..256"}}
    skipped = {k: v for k, v in entry.items()
               if k not in ("inputs", "judged", "unjudged", "bookkeeping")}
    skipped.update(id="claim_b", verdict="skipped", reason="needs MNIST", checks=[], config={},
                   figures=[], notes="")
    rep = {"schema": report.SCHEMA, "summary": {"verdict": "pass", "exit_code": 0,
                                                 "counts": {"pass": 1, "skipped": 1}},
           "run": {"profile": "quick", "seed": 0, "dtype": "float64", "total_time_s": 2.0,
                   "command": "ntk-attack verify --profile quick", "versions": {"jax": "0.4.38"}},
           "claims": [skipped, entry]}
    return rep, tmp_path


def test_grid_summary_gives_ranges_and_counts_not_the_config():
    line = report_compact.grid_summary({"points": POINTS, "held_out_d": 256,
                                        "grid": {"widths": [256, 1024, 4096], "n": 3}})
    assert line == ("points: 6 grid points (d 16..256 (3 values); m 1024; C0 0..1 (2 values); "
                    "signs balanced; eps_grid 0.1..0.3 (2 values)); "
                    "grid.widths 256..4096 (3 values)")


def test_compact_markdown_has_verdicts_first_and_no_full_config(saved):
    rep, _ = saved
    text = report_compact.to_markdown_compact(rep)
    assert text.index("| verdict | claim |") < text.index("## claim_a")
    assert text.index("| pass | `claim_a`") < text.index("| **skipped** | `claim_b`")
    assert "![eta_vs_d](figures/claim_a/eta_vs_d.png)" in text
    assert "*Grid.* points: 6 grid points" in text and "*Reason.* needs MNIST" in text
    assert "*slope -0.483 over d in 16..256" in text
    assert "1000" not in text  # seeds stay in report.json
    assert "| check | prediction | estimate [99.9% CI] | band | MDE | verdict |" in text
    # MDE relative to the prediction where the check has one, else absolute and marked so
    assert "| slope | slope -0.5 | -0.48 [-0.52, -0.44] | [-0.6, -0.4] | 0.16 abs. | pass |" in text
    assert "| level | slope -0.5 | -0.48 [-0.52, -0.44] | [-0.6, -0.4] | 31% | pass |" in text
    assert "| pass | `claim_a` | 2/2 | 2 | 1.5 s |" in text  # two numbers reported, not judged
    assert "| **skipped** | `claim_b` | 0/0 |  | 1.5 s |" in text  # a skipped claim reports none


def test_compact_markdown_cuts_long_captions_and_grid_lines_at_a_word():
    assert report_compact._short("a " * 200, 11) == "a a a a a …"
    assert report_compact._short("short", 11) == "short"


def _with_current_fields(rep: dict) -> dict:
    """``rep`` with what the current code records beside each check and claim: the minimum
    detectable effect (relative, as for a check with a prediction, and absolute: the longer
    cell) and a reported-number bookkeeping with two unjudged numbers and one gap."""
    for entry in rep["claims"]:
        for i, c in enumerate(entry.get("checks", [])):
            band = protocol.Band(**c["band"])
            check = protocol.Check(c["name"], c["prediction"], c["estimate"], tuple(c["ci"]), band,
                                   c["level"], c["verdict"], predicted=1.0 if i % 2 else None)
            mde = protocol.min_detectable_effect(check)
            c["min_detectable_effect"] = mde and {"absolute": mde[0], "relative": mde[1]}
        if entry["verdict"] not in ("skipped", "error"):
            entry.update(inputs=["d"], judged={}, unjudged={"a": "why", "b": "why"},
                         bookkeeping=["'gain' is in none of inputs, judged, unjudged"])
    return rep


@pytest.mark.skipif(not COMMITTED.is_file(), reason="no committed figures/report.json")
def test_compact_markdown_of_the_committed_quick_report_reads_in_minutes():
    """Under 2,500 bytes per claim with every current field: notes, band reasons, whole captions
    and the unjudged numbers' reasons stay in report.json and report.html."""
    committed = _with_current_fields(report.load_report(COMMITTED))
    text = report_compact.to_markdown_compact(committed)
    assert " abs. |" in text and "*Bookkeeping.*" in text
    size = len(text.encode())
    assert size < MD_BYTES_PER_CLAIM * len(committed["claims"]), size


def test_a_report_older_than_the_newer_fields_still_renders(tmp_path):
    """``ntk-attack figures`` on a report written before checks carried their MDE and claims
    their bookkeeping (the committed full report): report.md and report.html still render,
    with those cells empty."""
    if not COMMITTED_FULL.is_file():
        pytest.skip(f"no committed {COMMITTED_FULL}")
    rep = report.load_report(COMMITTED_FULL)
    assert not any("min_detectable_effect" in c for e in rep["claims"] for c in e["checks"])
    text = report_compact.to_markdown_compact(rep)
    assert "| band | verdict |" in text and " MDE " not in text  # no MDE recorded: no column
    assert "*Bookkeeping.*" not in text
    page = report_html.to_html(rep, root=tmp_path)  # figures absent here: named, not embedded
    assert "<th>MDE</th>" in page and "Reported, not judged" not in page


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.external = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.srcs.append(attrs.get("src", ""))
        for key in ("src", "href"):
            if attrs.get(key) and not attrs[key].startswith(("#", "data:")):
                self.external.append(attrs[key])


def _chromium_widths(html_text: str, browser: str) -> list:
    """``naturalWidth`` of each <img> after load in headless Chromium (0 if it failed)."""
    probe = ('<script>window.addEventListener("load", function () {var w = [];'
             'document.querySelectorAll("img").forEach(function (i) {'
             'w.push(i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0);});'
             'var p = document.createElement("pre"); p.id = "img-check";'
             'p.textContent = JSON.stringify(w); document.body.appendChild(p);});</script>')
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html_text.replace("</body>", probe + "</body>"), encoding="utf-8")
        dom = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--no-first-run", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={Path(tmp) / 'profile'}",
             "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=True).stdout
    start = dom.index('<pre id="img-check">') + len('<pre id="img-check">')
    return json.loads(dom[start:dom.index("</pre>", start)])


def test_html_is_self_contained_and_every_figure_loads(saved):
    rep, root = saved
    text = report_html.to_html(rep, root=root)
    parser = _Images()
    parser.feed(text)
    assert len(parser.srcs) == 2 and not parser.external
    widths = []
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
        image.load()  # decodes every pixel
        assert image.width > 0 and image.height > 0
        widths.append(image.width)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser:  # CI without Chromium relies on the PIL decoding above
        assert _chromium_widths(text, browser) == widths
    assert "needs MNIST" in text and "<code>eta* sqrt(d)</code>" in text
    assert "<figcaption><b>eta_vs_d.</b> slope -0.483 over d in 16..256</figcaption>" in text
    assert "<td>0.16 abs.</td>" in text and "<td>31%</td>" in text
    assert "<li><code>time</code>: machine-dependent</li>" in text
    assert "<code>eta</code> by “slope”, “level”" in text


def test_html_names_a_missing_figure(saved):
    rep, root = saved
    (root / rep["claims"][1]["figures"][0]).unlink()
    text = report_html.to_html(rep, root=root)
    assert "figures/claim_a/eta_vs_d.png is missing" in text and text.count("<img ") == 1
