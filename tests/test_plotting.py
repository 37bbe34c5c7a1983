"""Every figure kind of ntk_attack.plotting drawn from small synthetic arrays: labelled ticks
on every axis, an error band or bars on every series with a CI, fonts >= 8 pt, the
colour-blind-safe palette only, and png/pdf/svg output."""
import doctest
import io

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_hex
from matplotlib.container import ErrorbarContainer
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from ntk_attack.plotting import (captions, distributions, encoding, images, kernel_angle,
                                 kill_matrix, layout, scaling, style, transition)

RNG = np.random.default_rng(0)
D = np.array([16.0, 64.0, 256.0])
M = np.array([256.0, 1024.0, 4096.0])


def _scaling_narrow():
    """Mean eta* flat in m: a log y axis spanning 0.3% (the NullFormatter case)."""
    est = np.array([[0.0863, 0.0866, 0.0868]])
    return scaling.scaling_plot(M, est, est - 0.001, est + 0.001, labels=["d = 64"],
                                prediction=lambda m: 0.0 * m + 0.659 / 8,
                                prediction_label="0.659 / sqrt(d) (THEORY.md 3)",
                                xlabel="width m", ylabel="mean eta* (input units)",
                                ci_label="99.9% bootstrap CI over networks")


def _scaling_laws():
    est = np.array([0.66, 0.7]) [:, None] / np.sqrt(D)
    mask = np.array([[False, False, True], [False, False, False]])
    return scaling.scaling_plot(D, est, 0.9 * est, 1.1 * est, labels=["init", "trained"],
                                prediction=lambda d: 0.659 / np.sqrt(d),
                                prediction_label="0.659 / sqrt(d)", slope_guide=-0.5,
                                out_of_conditions=mask, xlabel="input dimension d",
                                ylabel="mean eta*", ci_style="band")


def _constant():
    k = np.array([[2.1, 1.7, 1.5], [0.96, 0.81, 0.77]])
    return scaling.constant_plot(D, k, k - 0.05, k + 0.05, fit_range=(16, 64),
                                 K_hat=[1.95, 0.878], K_hat_ci=[(1.76, 2.15), (0.848, 0.911)],
                                 held_out_d=256, threshold=[2.15, 0.911],
                                 threshold_label="upper CI end of K_hat",
                                 labels=["C0 = 0", "C0 = 1"])


def _phase():
    xs = [np.geomspace(0.03, 1.0, 5), np.geomspace(0.05, 1.0, 4), np.geomspace(0.03, 0.14, 3)]
    est = [0.6 + x for x in xs]
    return transition.phase_plot(xs, est, [e - 0.05 for e in est], [e + 0.05 for e in est],
                                 labels=["d = 49", "d = 196", "d = 784"], lazy_boundary=0.25,
                                 prediction=lambda c: 0.0 * c + 0.659,
                                 prediction_label="init value 0.659 (THEORY.md 3)")


def _robust():
    r = np.linspace(0, 2, 5)
    acc = np.array([np.exp(-2 * r), np.exp(-r)])
    return transition.robust_accuracy_plot(r, acc, (acc - 0.05).clip(0), (acc + 0.05).clip(0, 1),
                                           labels=["C0 = 1", "C0 = 8"], clean_accuracy=[1, 1])


def _ratios():
    groups = {f"d={d}, C0/sqrt(d)={c}": RNG.uniform(0.1, 0.9 + c, 300)
              for d in (64, 256) for c in (0.01, 0.1, 0.3)}
    return distributions.ratio_distribution_plot(
        groups, out_of_conditions=["d=64, C0/sqrt(d)=0.3"], threshold_label="eta* = B(x)")


def _histogram():
    return distributions.histogram_with_law(
        np.abs(RNG.normal(size=500)), xlabel="|z|", pdf_label="half-normal",
        pdf=lambda t: 2 * np.exp(-t ** 2 / 2) / np.sqrt(2 * np.pi))


def _kernel():
    th = np.linspace(0, np.pi, 30)
    law = lambda t: np.cos(t) * (np.pi - t) / (2 * np.pi)  # noqa: E731
    return kernel_angle.kernel_vs_angle(
        th, {64: law(th) + 0.05 * RNG.normal(size=30), 1024: law(th) + 0.01 * RNG.normal(size=30)},
        law, predicted_sd=lambda t, m: 0.4 / np.sqrt(m) + 0 * t)


def _kill():
    verdicts = RNG.choice(["fail", "pass", "inconclusive"], size=(20, 25))
    return kill_matrix.kill_matrix_plot([f"mutant_{i:02d}_sign" for i in range(20)],
                                        [f"claim_{j:02d}_holds" for j in range(25)], verdicts)


def _images():
    x = RNG.uniform(size=(8, 8))
    delta = 0.1 * np.sign(x - 0.5)
    return images.image_grid([x, delta, np.clip(x + delta, 0, 1)],
                             ["clean: 1", "perturbation\n||delta|| = 0.8, d = 64",
                              "flipped: 0\neta* = 0.8"])


# (maker, number of series drawn with a CI)
KINDS = {"scaling_narrow": (_scaling_narrow, 1), "scaling_laws": (_scaling_laws, 2),
         "constant": (_constant, 2), "phase": (_phase, 3), "robust_accuracy": (_robust, 2),
         "ratio_distribution": (_ratios, 6), "histogram": (_histogram, 1),
         "kernel_vs_angle": (_kernel, 2), "kill_matrix": (_kill, 0), "image_grid": (_images, 0)}


@pytest.fixture(scope="module", params=list(KINDS), ids=list(KINDS))
def drawn(request):
    maker, n_ci = KINDS[request.param]
    fig = maker()
    fig.canvas.draw()
    return fig, n_ci


def _data_axes(fig):
    return [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>"]


def test_every_axis_has_tick_labels(drawn):
    fig, _ = drawn
    for ax in _data_axes(fig):
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            lo, hi = sorted(axis.get_view_interval())
            shown = [t.get_text() for t, v in zip(axis.get_ticklabels(), axis.get_ticklocs())
                     if t.get_visible() and lo - 1e-9 * abs(lo) <= v <= hi + 1e-9 * abs(hi)]
            assert sum(bool(s.strip()) for s in shown) >= 2, (
                f"{name} axis of {ax.get_title()!r} ({axis.get_scale()}, range {lo:.3g}.."
                f"{hi:.3g}) has labels {shown}")


def test_every_series_with_a_ci_has_bars_or_a_band(drawn):
    fig, n_ci = drawn
    bars = sum(len(c.lines[2]) and len(c.lines[2][0].get_segments()) > 0
               for ax in fig.axes for c in ax.containers if isinstance(c, ErrorbarContainer)
               if c.has_yerr)
    bands = sum(len(c.get_paths()) > 0 and c.get_paths()[0].vertices.size > 0
                for ax in fig.axes for c in ax.collections
                if type(c).__name__ in ("FillBetweenPolyCollection", "PolyCollection"))
    assert bars + bands >= n_ci, f"{bars} error bar sets and {bands} bands for {n_ci} CI series"


def test_fonts_are_at_least_8_points(drawn):
    fig, _ = drawn
    small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.get_fontsize() < style.MIN_FONT_SIZE]
    assert not small


def test_every_kind_can_be_read(drawn):
    fig, _ = drawn
    assert layout.layout_problems(fig) == []


def test_only_palette_colours(drawn):
    fig, _ = drawn
    colours = set()
    for artist in fig.findobj(Line2D):
        if artist.get_visible() and len(artist.get_xdata()):
            colours |= {to_hex(artist.get_color())}
            if artist.get_marker() not in (None, "None", "", " "):
                colours |= {to_hex(artist.get_markeredgecolor())}
    for artist in fig.findobj(PolyCollection) + fig.findobj(LineCollection):
        colours |= {to_hex(c, keep_alpha=False) for c in artist.get_facecolor()}
        colours |= {to_hex(c, keep_alpha=False) for c in artist.get_edgecolor()}
    for ax in fig.axes:
        colours |= {to_hex(p.get_facecolor(), keep_alpha=False) for p in ax.patches
                    if isinstance(p, Rectangle)}
    assert colours <= style.PALETTE, colours - style.PALETTE


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_savefig_formats_give_the_same_bytes_twice(fmt):
    saved = []
    for _ in range(2):
        buffer = io.BytesIO()
        style.savefig(_phase(), buffer, format=fmt)
        saved.append(buffer.getvalue())
    magic = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}[fmt]
    assert saved[0].startswith(magic) and len(saved[0]) > 1000
    assert saved[0] == saved[1]


def test_narrow_log_axis_labels_are_numbers_not_blank():
    fig = _scaling_narrow()
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.yaxis.get_ticklabels() if t.get_text()]
    values = [float(s.replace("−", "-")) for s in labels]
    lo, hi = ax.get_ylim()
    assert any(lo <= v <= hi for v in values), (labels, lo, hi)


def test_bad_inputs_say_expected_and_got():
    with pytest.raises(ValueError, match="CI must contain its estimate"):
        scaling.scaling_plot(D, [1.0, 2.0, 3.0], [0.9, 2.1, 2.9], [1.1, 2.2, 3.1],
                             xlabel="d", ylabel="y")
    with pytest.raises(ValueError, match=r"verdicts must have shape \(1, 2\)"):
        kill_matrix.kill_matrix_plot(["m"], ["a", "b"], [["fail"]])
    with pytest.raises(ValueError, match="out_of_conditions names unknown groups"):
        distributions.ratio_distribution_plot({"a": [0.5]}, out_of_conditions=["b"])


@pytest.mark.parametrize("level, text", [(0.95, "95%"), (0.9999, "99.99%"),
                                         (0.999979, "99.9979%"), (0.99931, "99.93%")])
def test_percent_tells_a_level_from_100(level, text):
    assert captions.percent(level) == text


def test_caption_fills_numbers_from_the_data():
    text = captions.caption("slope {s} (CI {ci}), d in {d:range}, {n:d} networks", s=-0.48264,
                            ci=(-0.5176, -0.4396), d=[16, 64, 256], n=8)
    assert text == "slope -0.483 (CI [-0.518, -0.44]), d in 16..256, 8 networks"
    with pytest.raises(ValueError, match=r"needs values for \['n'\]"):
        captions.caption("{n} networks")


def test_palette_is_okabe_ito():
    assert style.SERIES[:3] == ("#0072B2", "#D55E00", "#009E73")
    assert {c.lower() for c in style.SERIES} <= {c.lower() for c in style.OKABE_ITO.values()}


@pytest.mark.parametrize("module", [style, captions, scaling, transition, distributions,
                                    kernel_angle, kill_matrix, images, encoding, layout],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, raise_on_error=False, verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_unsorted_x_keeps_masks_and_predictions_with_their_points():
    x = np.array([256.0, 16.0, 64.0])
    est = np.array([3.0, 1.0, 2.0])
    fig = scaling.scaling_plot(x, est, est - 0.1, est + 0.1, xlabel="d", ylabel="y",
                               prediction=[est * 1.5], out_of_conditions=[x == 256.0],
                               logy=False)
    ax = fig.axes[0]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert list(dashed[0].get_xdata()) == [16.0, 64.0, 256.0]
    assert list(dashed[0].get_ydata()) == [1.5, 3.0, 4.5]
    hollow = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "white"
              and len(ln.get_xdata())]
    assert [list(ln.get_xdata()) for ln in hollow] == [[256.0]]


def test_encode_puts_one_variable_on_colour_and_one_on_style():
    enc = encoding.encode(["a", "b", "a", "b"], ["x", "x", "y", "y"])
    assert [s.color for s in enc.styles] == [style.SERIES[0], style.SERIES[1]] * 2
    assert [s.marker for s in enc.styles] == ["o", "o", "s", "s"]
    assert [label for label, _ in enc.keys] == ["a", "b", "x", "y"]
    one = encoding.encode(["a", "b", "c"])
    assert one.keys is None and [s.marker for s in one.styles] == ["o", "s", "^"]
    with pytest.raises(ValueError, match="colour_by must take at most 7 distinct values"):
        encoding.encode(range(8))
    with pytest.raises(ValueError, match="style_by must have one value per series"):
        encoding.encode(["a"], ["x", "y"])


def test_dodge_spreads_only_the_points_that_coincide():
    offsets = encoding.dodge([np.array([1.0, 2.0]), np.array([1.0]), np.array([3.0])], log=False)
    assert offsets[0][0] == -offsets[1][0] > 0 or offsets[0][0] == -offsets[1][0] < 0
    assert offsets[0][1] == 0 and offsets[2][0] == 0
    # at most DODGE_GAP of the grid gap for the largest cluster, here 2 series
    assert abs(offsets[0][0] - offsets[1][0]) <= encoding.DODGE_GAP * 1.0
    assert all(np.all(o == 0) for o in encoding.dodge([np.array([1.0]), np.array([2.0])],
                                                        log=True))


@pytest.mark.parametrize("values, labels", [
    ([1 / 256, 1 / 64, 1 / 32, 1 / 16], ["1/256", "1/64", "1/32", "1/16"]),
    ([0.01, 0.1, 1.0], ["0.01", "0.1", "1"]),
    ([256.0, 1024.0, 16384.0], ["256", "1024", "16384"]),
    ([0.125, 0.25, 0.5], ["0.125", "0.25", "0.5"])], ids=["beta", "decades", "widths", "short"])
def test_tick_labels_are_round_numbers_or_fractions(values, labels):
    formatter = style.tick_formatter(values)
    assert [formatter(v) for v in values] == labels


def test_one_legend_below_every_panel_and_the_figure_grows_by_it():
    with style.style():
        fig, axes = style.new_figure(1, 2)
        for i, ax in enumerate(axes):
            ax.plot([1, 2], [1, 2], "o-", color=style.SERIES[0], label="measured")
            ax.plot([1, 2], [1.1, 2.1], "--", color=style.SERIES[i + 1], label="prediction")
            ax.legend()
        height = fig.get_figheight()
        style.finish(fig)
        style.finish(fig)  # again: the legend is replaced, the figure not grown twice
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["measured", "prediction"]
    key = fig.legends[0].legend_handles[1]  # the prediction in two colours: a black key
    assert to_hex(key.get_color()) == style.PREDICTION.lower() and key.get_linestyle() == "--"
    assert fig.get_figheight() == pytest.approx(height + fig.legends[0].added_height)


def test_contact_sheet_labels_every_image_and_keeps_wide_ones_wide():
    sheet = images.contact_sheet({"a / wide": np.ones((10, 40, 3)), "b / square": np.ones((10, 10)),
                                  "c / tall": np.zeros((40, 10, 4))}, width=4.0, row_height=1.0)
    titles = [ax.get_title() for ax in sheet.axes]
    assert titles == ["a / wide", "b / square", "c / tall"]
    widths = [ax.get_position().width * 4.0 for ax in sheet.axes]
    assert widths[0] == pytest.approx(4.0 * widths[1])
    with pytest.raises(ValueError, match="images must be"):
        images.contact_sheet({"flat": np.ones(5)})
