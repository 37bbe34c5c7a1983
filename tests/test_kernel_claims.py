"""The kernel claims at tiny sizes: they pass, and a deliberately wrong prediction fails."""
import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from ntk_attack import io, kernels
from verification.claims.kernels import analytic, convergence, empirical
from verification import protocol, registry, report, sweep

LEVEL = 0.99  # one claim alone; the suite's Bonferroni level only widens the CIs


def verdicts(checks):
    return [c.verdict for c in checks]


@pytest.mark.usefixtures("neural_tangents")
def test_analytic_claim_passes_and_a_wrong_kernel_fails():
    x = analytic.analytic_inputs(analytic.AnalyticPoint(source="sphere", n=16, d=5, seed=0))
    assert verdicts(analytic.judge_analytic({"sphere": analytic.analytic_differences(x)})) == ["pass"] * 2
    # Comparing Theta_W with neural-tangents' full ntk (forgetting "- nngp") must fail.
    wrong = analytic.analytic_differences(x, pairs=(("ntk_first_layer", "ntk"),))
    assert verdicts(analytic.judge_analytic({"sphere": wrong})) == ["fail"] * 2


@pytest.mark.usefixtures("neural_tangents")
def test_empirical_claim_passes_and_neural_tangents_own_readout_fails():
    point = empirical.EmpiricalPoint(n=8, d=4, m=32, signs="balanced", seed=0)
    assert verdicts(empirical.judge_empirical({"balanced": empirical.empirical_point(point)})) == ["pass"]
    # neural-tangents' N(0, 1) readout weighs neurons by a_s^2 != 1: the pitfall this check guards against.
    wrong = empirical.empirical_point(empirical.EmpiricalPoint(n=8, d=4, m=32, signs="balanced", seed=0, nt_readout="nt_init"))
    assert verdicts(empirical.judge_empirical({"balanced": wrong})) == ["fail"]


@pytest.fixture(scope="module")
def tiny_convergence(tmp_path_factory):
    # 400 networks x 2 widths: CI half-widths ~0.015 (ratio) and ~0.011 (slope) at level 0.99
    # (per-network sd of the normalised squared error ~0.25), so even the sqrt(2)-inflated CI
    # of a wrong antisymmetric prediction (~0.021) stays under the allowed 0.025 and can fail.
    points = [convergence.ConvergencePoint(m=m, signs=signs, n_networks=400, n_circle=4, n_random=28, d=8,
                                           points_seed=1,
                                  seed=protocol.derive_seed(0, signs, m))
              for signs in convergence.SD_FACTORS for m in (64, 1024)]
    return sweep.SweepRunner(tmp_path_factory.mktemp("cache")), points


def test_convergence_claim_passes(tiny_convergence):
    runner, points = tiny_convergence
    outcome = convergence.run_convergence(runner, points, level=LEVEL, seed=0)
    assert verdicts(outcome.checks) == ["pass"] * 5, [(c.name, c.estimate, c.ci) for c in outcome.checks]
    assert registry.unaccounted(outcome) == []  # every reported number judged or listed
    assert all(c.predicted is not None for c in outcome.checks)  # so the report gives each MDE


@pytest.mark.usefixtures("neural_tangents")
@pytest.mark.parametrize("claim, grid", [
    (analytic.kernel_analytic_matches_neural_tangents, analytic.Grid(sphere_n=16, sphere_d=5, images=())),
    (empirical.empirical_matches_neural_tangents, empirical.Grid(n=8, d=4, m=32)),
], ids=("analytic", "empirical"))
def test_cross_checks_account_for_every_number(claim, grid, tmp_path):
    ctx = registry.Context(profile="quick", seed=0, runner=sweep.SweepRunner(tmp_path, quiet=True),
                           family_size=1)
    outcome = claim(ctx, grid=grid)
    assert verdicts(outcome.checks) == ["pass"] * len(outcome.checks)
    assert registry.unaccounted(outcome) == []


# Check order: per signs (balanced, antisymmetric) the pooled sd ratio and the bias; then the slope.
@pytest.mark.parametrize("wrong, failing", [
    ({"slope": -0.25}, 4),
    ({"sd_factors": {"balanced": 1.0, "antisymmetric": 1.0}}, 2),  # forgets the duplicated rows
], ids=("slope", "antisymmetric-sd"))
def test_convergence_claim_fails_a_wrong_prediction(tiny_convergence, wrong, failing):
    runner, points = tiny_convergence
    checks = convergence.run_convergence(runner, points, level=LEVEL, seed=0, **wrong).checks
    assert verdicts(checks)[failing] == "fail", [(c.name, c.estimate, c.ci) for c in checks]


def test_a_kernel_one_percent_too_large_fails_the_bias(tiny_convergence, tmp_path, monkeypatch):
    """The planted bug of issue 12: Theta_W 1% too large passes the sd ratio (~1.01) but not the
    bias along the kernel (-0.0099 against a band of +-0.005)."""
    _, points = tiny_convergence
    original = convergence.kernels.ntk_first_layer
    monkeypatch.setattr(convergence.kernels, "ntk_first_layer", lambda a, b: 1.01 * original(a, b))
    checks = convergence.run_convergence(sweep.SweepRunner(tmp_path), points, level=LEVEL, seed=0).checks
    bias = [c for c in checks if "bias" in c.name]
    assert [c.verdict for c in bias] == ["fail", "fail"], [(c.name, c.estimate, c.ci) for c in bias]


def test_convergence_figures_draw_from_report_json(tiny_convergence):
    runner, points = tiny_convergence
    data = json.loads(io.dumps(convergence.run_convergence(runner, points, level=LEVEL, seed=0).data))
    drawn = convergence.convergence_figures(data)
    assert set(drawn) == {"kernel_error_vs_width", "kernel_vs_angle"}
    assert all(text and "nan" not in text for _, text in drawn.values())  # captions from the data
    figures = {name: fig for name, (fig, _) in drawn.items()}
    for fig in figures.values():
        ax = fig.axes[0]
        assert isinstance(fig, Figure) and ax.get_xlabel() and ax.get_ylabel()
        assert any(len(line.get_xdata()) > 1 for line in ax.get_lines())  # the predicted line
    assert figures["kernel_error_vs_width"].axes[0].get_xscale() == "log"
    slope = np.polyfit(np.log(data["widths"]), np.log(data["predicted_rms"]["balanced"]), 1)[0]
    assert abs(slope + 0.5) < 1e-12  # the drawn prediction is exactly m^(-1/2)


@pytest.mark.parametrize("claim", [analytic.kernel_analytic_matches_neural_tangents,
                                   empirical.empirical_matches_neural_tangents],
                         ids=("analytic", "empirical"))
def test_cross_checks_are_skipped_with_the_install_command_without_neural_tangents(
        claim, monkeypatch, tmp_path):
    monkeypatch.setattr(kernels, "neural_tangents_available", lambda: False)
    spec = next(s for s in registry.CLAIMS.values() if s.run is claim)
    ctx = registry.Context(profile="quick", seed=0, runner=sweep.SweepRunner(tmp_path, quiet=True),
                           family_size=1)
    entry = report.run_claim(spec, ctx)
    assert (entry["verdict"], entry["reason"], entry["sweep"]["computed"]) == ("skipped", kernels.NT_MISSING, 0)
    assert 'pip install "ntk-attack[nt]"' in entry["reason"]
