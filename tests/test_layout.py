"""`ntk_attack.plotting.layout`: each rule catches a figure built to break it (named in the
message), and the same figure drawn by the rules of docs/figures.md passes."""
import numpy as np
import pytest
from matplotlib.ticker import FixedLocator, FuncFormatter

from ntk_attack.plotting import encoding, layout, scaling, style


def _panels(n=2):
    with style.style():
        return style.new_figure(1, n)


def _problems(fig):
    return layout.layout_problems(fig)


def test_a_clean_two_panel_figure_passes():
    fig, axes = _panels()
    with style.style():
        for ax in axes:
            ax.plot([1, 2, 3], [1, 4, 9], "o-", color=style.SERIES[0], label="measured")
            ax.plot([1, 2, 3], [1, 3, 8], "s-", color=style.SERIES[1], label="other")
        style.finish(fig)
    assert _problems(fig) == []
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in axes)


def test_legend_over_the_neighbouring_panel_is_named():
    fig, (left, right) = _panels()
    fig.set_layout_engine("none")  # constrained layout would squeeze the panels instead
    with style.style():
        right.plot([1, 2], [1, 2], "o-", label="a long legend label for the right panel")
        right.legend(loc="center right", bbox_to_anchor=(-0.1, 0.5))
    assert "legend of axes 2 ('') overlaps axes 1 ('')" in _problems(fig)


def test_text_over_another_panel_is_named():
    fig, (left, right) = _panels()
    fig.set_layout_engine("none")
    with style.style():
        left.plot([1, 2], [1, 2])
        right.plot([1, 2], [1, 2])
        left.text(1.3, 0.5, "a note that runs on", transform=left.transAxes)
    assert any(p.startswith("text 'a note that runs on' of axes 1") and "overlaps axes 2" in p
               for p in _problems(fig))


def test_squeezed_plot_area_is_named():
    with style.style():
        fig, ax = style.new_figure()
        for i in range(9):
            ax.plot([1, 2], [i, i + 1], color=style.series_color(i), ls="-:"[i // 7],
                    label=f"series {i}")
        fig.legend(loc="outside lower center")  # the legend's room taken from the axes
    found = _problems(fig)
    assert any("plot area is" in p and f"at least {layout.MIN_AREA_FRACTION:.0%}" in p
               for p in found), found


def test_overlapping_and_ragged_tick_labels_are_named():
    with style.style():
        fig, ax = style.new_figure()
        ax.set_xscale("log")
        ax.plot([1 / 256, 1 / 16], [1, 2], "o-")
        beta = [1 / 256, 1 / 250, 1 / 64, 1 / 16]
        ax.xaxis.set_major_locator(FixedLocator(beta))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.4g}"))
    found = _problems(fig)
    assert any("x tick labels overlap: '0.003906' and '0.004'" in p for p in found), found
    assert any("not round numbers or fractions: '0.003906', '0.01562'" in p for p in found)
    with style.style():  # the fix: fractions, and no tick crowding its neighbour
        style.grid_ticks(ax.xaxis, [1 / 256, 1 / 64, 1 / 16])
    assert [t.get_text() for t in ax.xaxis.get_majorticklabels()] == ["1/256", "1/64", "1/16"]
    assert _problems(fig) == []


def test_rotated_labels_are_judged_by_their_slanted_boxes():
    names = [f"d={d}, {r}" for d in (64, 256) for r in (0, 0.01, 0.03, 0.1)]
    with style.style():
        fig, ax = style.new_figure(width=4.0)
        ax.plot(range(len(names)), range(len(names)), "o")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    assert _problems(fig) == []  # their axis-aligned boxes overlap, the text does not
    long = [f"d = {d},\nC0/sqrt(d) = {r}" for d in (64, 256) for r in (0, 0.01, 0.03, 0.1)]
    ax.set_xticks(range(len(names)), long, rotation=30, ha="right")
    assert any("x tick labels overlap: 'd = 64,\\nC0/sqrt(d) = 0' and 'd = 64,\\nC0/sqrt(d) "
               "= 0.01'" in p for p in _problems(fig))


def test_series_alike_are_named_and_two_channels_tell_them_apart():
    x = np.array([0.5, 1.0, 2.0])
    est = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, 0.1], [0.9, 0.6, 0.2], [0.95, 0.7, 0.3]] * 2)
    labels = [f"C0 = {c}, {arm}" for arm in ("standard", "adversarial") for c in (1, 2, 3, 4)]
    with style.style():
        fig, ax = style.new_figure()
        for i, (e, label) in enumerate(zip(est, labels)):  # a cycle of 7 colours, 8 series
            ax.plot(x, e, "-", color=style.series_color(i), label=label)
    found = _problems(fig)
    assert "axes 1 (''): series 'C0 = 1, standard' and 'C0 = 4, adversarial' share colour, " \
           "line style and marker ('#0072b2', '-', 'None', 'filled')" in found
    fig = scaling.scaling_plot(x, est, est - 0.05, est + 0.05, labels=labels, logx=False,
                               logy=False, xlabel="eps sqrt(d)", ylabel="robust accuracy",
                               encoding=encoding.encode([label.split(",")[0] for label in labels],
                                                        [label.split(", ")[1] for label in labels]))
    assert _problems(fig) == []
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:6] == ["C0 = 1", "C0 = 2", "C0 = 3", "C0 = 4", "standard", "adversarial"]


def test_invisible_series_are_named():
    with style.style():
        fig, ax = style.new_figure()
        ax.set_xscale("log")
        ax.plot([1 / 256], [0.03], "-", color=style.SERIES[0], label="one point, no marker")
        ax.plot([1 / 256, 1 / 16], [0.03, 0.3], "o", color=style.SERIES[1], label="covered")
        ax.plot([1 / 256, 1 / 16], [0.03, 0.3], "o", color=style.SERIES[2], label="on top")
        ax.plot([10.0], [0.1], "o", color=style.SERIES[3], label="out of view")
        ax.plot([], [], "|", color=style.GUIDE, label="a legend key: exempt")
        ax.set_xlim(1 / 300, 1 / 10)
    found = [p.removeprefix("axes 1 (''): ") for p in _problems(fig)]
    assert found == [
        "series 'one point, no marker' draws nothing visible (a line through a single point, "
        "without a marker)",
        "series 'covered' draws nothing visible (every point covered by later artists)",
        "series 'out of view' draws nothing visible (no point in view)"]


def test_coincident_series_pass_once_dodged():
    beta = [np.array([1 / 256]), np.array([1 / 256]), np.array([1 / 64])]
    est = [np.array([0.03]), np.array([0.03]), np.array([0.08])]
    kwargs = dict(labels=["L = 1", "L = 2", "L = 4"], xlabel="beta", ylabel="relvar",
                  prediction=[e * 1.02 for e in est], prediction_label="exact")
    fig = scaling.scaling_plot(beta, est, [0.9 * e for e in est], [1.1 * e for e in est],
                               **kwargs)
    assert _problems(fig) == []
    lines = {ln.get_label(): ln.get_xdata()[0] for ln in fig.axes[0].lines
             if ln.get_label().startswith("L =")}
    assert lines["L = 1"] < 1 / 256 < lines["L = 2"] and lines["L = 4"] == 1 / 64


def test_min_area_fraction_is_checked():
    fig, _ = _panels(1)
    with pytest.raises(ValueError, match=r"min_area_fraction must lie in \[0, 1\]; got 2"):
        layout.layout_problems(fig, min_area_fraction=2)
