"""Tests of ntk_attack.plotting.teaching: the tutorial's figures from arrays."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from ntk_attack.plotting import teaching


def test_measured_vs_predicted_draws_prediction_at_its_level():
    x = np.array([16.0, 64.0, 256.0])
    predicted = np.sqrt(x / 2)
    fig = teaching.measured_vs_predicted(
        x, {"grad": predicted * 1.01, "f": np.full(3, 0.58)},
        predicted={"grad": (predicted, "sqrt(d/2)")},
        ci={"grad": np.stack([predicted * 0.99, predicted * 1.03])},
        xlabel="d", ylabel="RMS")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1  # only "grad" has a prediction
    np.testing.assert_array_equal(dashed[0].get_ydata(), predicted)  # absolute level, not refitted
    assert ax.get_xscale() == ax.get_yscale() == "log"


@pytest.mark.parametrize("bad, match", [
    ({"ci": {"grad": np.zeros((2, 2))}}, r"ci\['grad'\] must have shape \(2, 3\)"),
    ({"predicted": {"other": (np.ones(3), "x")}}, "keyed like measured"),
], ids=["ci-shape", "unknown-key"])
def test_measured_vs_predicted_rejects_bad_inputs(bad, match):
    with pytest.raises(ValueError, match=match):
        teaching.measured_vs_predicted([1, 2, 3], {"grad": np.ones(3)}, xlabel="d", ylabel="y", **bad)


def test_attack_images_has_three_panels_per_row():
    rows = [np.random.default_rng(side).normal(size=(side, side)) for side in (7, 14)]
    fig = teaching.attack_images(rows, [0.01 * r for r in rows], [1.01 * r for r in rows],
                                 captions=[("x", "delta", "x + delta")] * 2)
    images = [ax for ax in fig.axes if ax.get_images()]
    assert len(images) == 6
    with pytest.raises(ValueError, match="one length"):
        teaching.attack_images(rows, rows[:1], rows, captions=[("a", "b", "c")] * 2)
    with pytest.raises(ValueError, match=r"row 0: images must be \(side, side\)"):
        teaching.attack_images([rows[0].ravel()], [rows[0].ravel()], [rows[0].ravel()],
                               captions=[("a", "b", "c")])


def test_kernel_vs_angle_one_panel_per_width():
    cos = np.linspace(-1, 1, 20)
    fig = teaching.kernel_vs_angle(cos, {16: cos, 256: cos}, curve_cos=cos, curve=cos,
                                   ylabel="Theta")
    assert [ax.get_title() for ax in fig.axes] == ["width m = 16", "width m = 256"]
    with pytest.raises(ValueError, match=r"empirical\[16\] must have shape \(20,\)"):
        teaching.kernel_vs_angle(cos, {16: cos[:5]}, curve_cos=cos, curve=cos, ylabel="Theta")


def test_phase_transition_two_panels():
    x = np.array([0.14, 0.29, 0.57])
    fig = teaching.phase_transition(x, [0.4, 0.7, 1.9], [0.06, 0.3, 0.9],
                                    robust_ci=np.array([[0.0, 0.2, 0.85], [0.1, 0.4, 0.95]]),
                                    eps_label="eps = 1/sqrt(d)")
    assert len(fig.axes) == 2
    assert fig.axes[1].get_ylim() == (-0.02, 1.02)
