"""Every claim's figures redrawn from both committed reports (`figures/report.json`, quick
profile, and `figures/full/report.json`, full profile): each can be read
(`ntk_attack.plotting.layout_problems`: no legend or text over another panel, no squeezed plot
area, no overlapping or ragged tick labels, no two series alike, no series in the legend that
draws nothing), each data axis has tick labels, and each figure that plots an estimate
carries its uncertainty (error bars or a band)."""
from pathlib import Path

import pytest
from matplotlib.container import ErrorbarContainer

from ntk_attack.plotting import common, layout_problems
from verification import registry
from verification.report import load_report

FIGURES = Path(__file__).resolve().parents[1] / "figures"
REPORTS = {"quick": FIGURES / "report.json", "full": FIGURES / "full" / "report.json"}
# Figures whose series are exact (deterministic) quantities, so they have no CI to draw.
EXACT = {"adversarial_training_stays_in_ball/C0_hat_by_epoch"}


def _entries(report):
    claims = registry.all_claims()
    return [(entry, claims[entry["id"]]) for entry in load_report(report)["claims"]
            if entry["id"] in claims and claims[entry["id"]].figures is not None
            and entry["verdict"] not in ("skipped", "error")]


@pytest.fixture(scope="module", params=list(REPORTS))
def drawn(request):
    """``{claim/figure: (Figure, layout problems)}`` of one report; the layout check draws
    each figure once (Agg), which the other tests read."""
    common.use_agg()
    figures = {}
    for entry, spec in _entries(REPORTS[request.param]):
        for name, fig in spec.figures(entry["data"]).items():
            fig = fig[0] if isinstance(fig, tuple) else fig
            figures[f"{entry['id']}/{name}"] = fig, layout_problems(fig)
    assert figures, f"the committed {request.param} report draws no figure"
    return figures


def test_every_figure_can_be_read(drawn):
    problems = [f"{name}: {p}" for name, (_, found) in drawn.items() for p in found]
    assert not problems, "\n".join(problems)


def _data_axes(fig):
    return [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>"
            and (ax.lines or ax.collections or ax.containers or ax.patches)]


def test_every_axis_has_tick_labels(drawn):
    missing = []
    for name, (fig, _) in drawn.items():
        for ax in _data_axes(fig):
            for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
                lo, hi = sorted(axis.get_view_interval())
                shown = [t.get_text() for t, v in zip(axis.get_ticklabels(), axis.get_ticklocs())
                         if t.get_visible() and lo - 1e-9 * abs(lo) <= v <= hi + 1e-9 * abs(hi)]
                if sum(bool(s.strip()) for s in shown) < 2:
                    missing.append(f"{name}: {which} axis of {ax.get_title()!r} shows {shown}")
    assert not missing, "\n".join(missing)


def test_every_estimate_figure_shows_its_uncertainty(drawn):
    bare = []
    for name, (fig, _) in drawn.items():
        if name in EXACT:
            continue
        bars = sum(c.has_yerr or c.has_xerr for ax in fig.axes for c in ax.containers
                   if isinstance(c, ErrorbarContainer))
        bands = sum(type(c).__name__ in ("FillBetweenPolyCollection", "PolyCollection")
                    for ax in fig.axes for c in ax.collections)
        vlines = sum(type(c).__name__ == "LineCollection" for ax in fig.axes for c in ax.collections)
        if bars + bands + vlines == 0:
            bare.append(name)
    assert not bare, f"figures without error bars or bands: {bare}"


def test_committed_quick_report_judges_or_lists_every_number():
    """THEORY.md 8 on the committed quick report: every reported number of every claim that ran
    is an input, judged by a named check or listed as unjudged with a reason (the entry's
    ``bookkeeping``, :func:`registry.unaccounted`, is empty). The full report is older than
    this bookkeeping and is not checked."""
    entries = [e for e in load_report(REPORTS["quick"])["claims"]
               if e["verdict"] not in ("skipped", "error")]
    gaps = {e["id"]: e.get("bookkeeping", ["no bookkeeping recorded"]) for e in entries}
    assert entries and {claim: g for claim, g in gaps.items() if g} == {}
