"""Every claim's figures redrawn from the committed quick-profile report (`figures/report.json`):
each data axis has readable tick labels, and each figure that plots an estimate carries its
uncertainty (error bars or a band)."""
from pathlib import Path

import pytest
from matplotlib.container import ErrorbarContainer

from ntk_attack.plotting import common
from verification import registry
from verification.report import load_report

REPORT = Path(__file__).resolve().parents[1] / "figures" / "report.json"
# Figures whose series are exact (deterministic) quantities, so they have no CI to draw.
EXACT = {"adversarial_training_stays_in_ball/C0_hat_by_epoch"}


def _entries():
    claims = registry.all_claims()
    return [(entry, claims[entry["id"]]) for entry in load_report(REPORT)["claims"]
            if entry["id"] in claims and claims[entry["id"]].figures is not None
            and entry["verdict"] not in ("skipped", "error")]


@pytest.fixture(scope="module")
def drawn():
    common.use_agg()
    figures = {}
    for entry, spec in _entries():
        for name, fig in spec.figures(entry["data"]).items():
            fig = fig[0] if isinstance(fig, tuple) else fig
            fig.canvas.draw()
            figures[f"{entry['id']}/{name}"] = fig
    assert figures, "the committed report draws no figure"
    return figures


def _data_axes(fig):
    return [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>"
            and (ax.lines or ax.collections or ax.containers or ax.patches)]


def test_every_axis_has_tick_labels(drawn):
    missing = []
    for name, fig in drawn.items():
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
    for name, fig in drawn.items():
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
