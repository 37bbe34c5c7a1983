"""The deep claims at tiny sizes: they run end to end, wrong predictions fail, planted bugs fail."""
import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from ntk_attack import io, theory
from verification import protocol, registry, sweep
from verification.mutants import MUTANTS
from verification.claims.deep import attack, fluctuations, gradient, lazy, measure, ntk

LEVEL = 0.99  # one claim alone; the suite's Bonferroni level only widens the CIs
# d = 16 with a width != d, a depth 8 and an equal-beta pair (1 x 16, 2 x 32).
INIT = measure.InitSweep(d=16, widths=((16,), (32, 32), (16,) * 8), n_networks=400, n_points=2)
TINY = {
    "deep_gradient_norm_matches_kernel": gradient.Grid(init=INIT),
    "deep_gradient_fluctuations_follow_beta": fluctuations.Grid(init=INIT),
    "deep_empirical_ntk_converges": ntk.Grid(init=INIT),
    "deep_attack_scales_as_inverse_sqrt_d": attack.Grid(
        init=INIT, flips=attack.FlipSweep(ds=(16, 256), depths=(1,), n=32, n_networks=60)),
    "deep_lazy_training_attack": lazy.Grid(side=4, n_train=100, widths=(32, 32), C0s=(1.0,),
                                           lr=20.0, steps=10, n_networks=6, n_test=10),
}


def describe(checks):
    return [(c.name, round(c.estimate, 4), c.ci, c.verdict) for c in checks]


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    return sweep.SweepRunner(tmp_path_factory.mktemp("cache"), quiet=True)


@pytest.fixture(scope="module")
def outcomes(runner):
    claims = registry.all_claims()
    ctx = registry.Context(profile="quick", seed=0, runner=runner, family_size=5)
    return {claim: claims[claim].run(ctx, grid=grid) for claim, grid in TINY.items()}


@pytest.fixture(scope="module")
def init_results(runner, outcomes):
    return measure.run_init(runner, INIT, 0)  # cached by the claims


def test_claims_run_and_draw(outcomes):
    claims = registry.all_claims()
    for claim, outcome in outcomes.items():
        assert outcome.checks, claim
        assert {c.verdict for c in outcome.checks} <= {"pass", "fail", "inconclusive"}
        data = io.decode(json.loads(io.dumps(outcome.data)))  # JSON-able, as report.json
        figures = claims[claim].figures(data)
        assert set(data["captions"]) == set(figures), claim
        for name, fig in figures.items():
            assert isinstance(fig, Figure), name
            assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes if ax.has_data())


def test_every_reported_number_is_judged_or_listed(outcomes):
    for claim, outcome in outcomes.items():
        assert registry.unaccounted(outcome) == [], claim


def test_exact_identities_hold_on_the_tiny_grid(outcomes):
    # 400 networks suffice for the first-moment identities (exact at every width).
    for claim in ("deep_gradient_norm_matches_kernel", "deep_empirical_ntk_converges"):
        checks = outcomes[claim].checks
        assert all(c.verdict != "fail" for c in checks), describe(checks)
    radius, reach, loss = outcomes["deep_lazy_training_attack"].checks[:3]
    assert radius.verdict == "pass" and radius.level is None  # deterministic: projection
    assert reach.verdict == "pass" and loss.verdict == "pass"  # every layer reaches C0; loss falls


def test_gradient_judge_fails_a_wrong_scale(init_results):
    right = {measure.label(p): gradient.predicted_grad_norm_sq(p.d, p.depth) for p, _ in init_results}
    assert {c.verdict for c in gradient.judge_gradient(init_results, predicted=right, level=LEVEL, seed=0)} != {"fail"}
    # The two-layer model's d/2 (THEORY.md 2) in the deep net's units: half the kernel's value.
    half = {k: v / 2 for k, v in right.items()}
    checks = gradient.judge_gradient(init_results, predicted=half, level=LEVEL, seed=0)
    assert [c.verdict for c in checks] == ["fail"] * 3, describe(checks)


def test_fluctuation_judge_fails_the_input_layer_alone(init_results):
    # Width fluctuations forgotten: only the input layer's chi-square, relvar 2/d.
    wrong = {measure.label(p): 2 / p.d for p, _ in init_results}
    checks = fluctuations.judge_fluctuations(init_results, predicted=wrong, level=LEVEL, seed=0)
    assert [c.verdict for c in checks][:3] == ["fail"] * 3, describe(checks)


def test_ntk_judge_fails_nngp_mean_and_hanin_nica_variance(init_results):
    exact = {measure.label(p): float(theory.relu_finite_width_moments(p.d, p.widths)["ntk_relvar"])
             for p, _ in init_results}
    nngp = {measure.label(p): 1 / p.d for p, _ in init_results}  # Theta confused with K
    checks = ntk.judge_ntk(init_results, mean=nngp, relvar=exact, level=LEVEL, seed=0)
    assert [c.verdict for c in checks[::2]] == ["fail"] * 3, describe(checks)
    # exp(5 beta) - 1 at L = 1: the deep-and-wide leading order, 1.7x the exact value here.
    hanin = {measure.label(p): np.exp(5 * theory.beta(p.widths)) - 1 for p, _ in init_results}
    checks = ntk.judge_ntk(init_results[:1], mean=nngp, relvar=hanin, level=LEVEL, seed=0)
    assert checks[1].verdict == "fail", describe(checks)


def test_attack_judge_fails_two_layer_constant_and_kernel_slope(outcomes, runner, init_results):
    grid = TINY["deep_attack_scales_as_inverse_sqrt_d"]
    points = attack.flip_points(grid.flips, 0)
    flips = {1: {p.d: r for p, r in zip(points, runner.map(measure.flip_point, points))}}
    # The two-layer balanced-signs mean 0.659 (THEORY.md 3) instead of sqrt(2/pi).
    wrong = attack.judge_attack(init_results, flips, level=LEVEL, seed=0,
                                predicted=theory.INIT_ETA_SQRT_D["balanced"])
    assert [c.verdict for c in wrong[:3]] == ["fail"] * 3, describe(wrong)
    # eta* ~ 1/d, the kernel predictor's scale.
    wrong = attack.judge_attack(init_results, flips, level=LEVEL, seed=0, d_slope=(-1.0, (-1.1, -0.9)))
    assert wrong[-1].verdict == "fail", describe(wrong)


def test_exact_deep_eta_is_a_sign_change(outcomes):
    """The evaluation check of the deep walk's eta* holds on clean code (exact count 0)."""
    check = outcomes["deep_attack_scales_as_inverse_sqrt_d"].checks[-1]
    assert check.name.startswith("exact eta*") and check.estimate == 0 and check.verdict == "pass"


def test_lazy_judge_fails_a_wrong_radius_and_a_wrong_size():
    eta = 1 + 0.02 * np.sin(np.arange(16.0)).reshape(8, 2)  # medians within 2% of first order
    good = {"C0_hat": np.array([[1.0, 0.995, 1.0], [1.0, 1.0, 0.999]]),
            "loss": np.array([[0.7, 0.6, 0.5], [0.69, 0.6, 0.55]]),
            "eta": eta, "first_order": np.ones_like(eta)}

    def verdicts(result):
        return [c.verdict for c in lazy.judge_lazy({1.0: result}, level=LEVEL, seed=0)]
    assert verdicts(good) == ["pass"] * 4
    outside = dict(good, C0_hat=np.array([[1.0, 1.0 + 1e-6, 0.9]]))
    assert verdicts(outside)[0] == "fail"
    # One layer of one network left inside its ball (0.9 C0): the radius is not reached.
    assert verdicts(outside)[1] == "fail"
    # One network whose training loss does not move.
    still = dict(good, loss=np.array([[0.7, 0.6, 0.5], [0.69, 0.69, 0.69]]))
    assert verdicts(still)[2] == "fail"
    # A flip at twice the first-order size is not the first-order law.
    assert verdicts(dict(good, eta=2 * eta))[3] == "fail"


CHEAP_MUTANTS = {  # mutant: the claim that must fail on the tiny grid
    "deep_hidden_std_one": "deep_gradient_norm_matches_kernel",
    "deep_lazy_radius_not_scaled": "deep_lazy_training_attack",
    "deep_walk_reports_piece_start": "deep_attack_scales_as_inverse_sqrt_d",
}
ALL_MUTANTS = {
    "deep_fan_in_by_n": "deep_gradient_norm_matches_kernel",
    "deep_scaled_by_output_width": "deep_gradient_norm_matches_kernel",
    "deep_readout_std_sqrt2": "deep_gradient_norm_matches_kernel",
    "deep_layers_share_weights": "deep_empirical_ntk_converges",
    "deep_readout_signs": "deep_empirical_ntk_converges",
    "attack_fixed_direction": "deep_lazy_training_attack",
}


SMALL = {  # one architecture (two for the pair-free claims at depth) per mutant run
    "deep_gradient_norm_matches_kernel": gradient.Grid(init=measure.InitSweep(
        d=16, widths=((16,), (32, 32)), n_networks=200, n_points=2)),
    "deep_empirical_ntk_converges": ntk.Grid(init=measure.InitSweep(
        d=16, widths=((16,), (16,) * 8), n_networks=300, n_points=2)),
}


def _killed(mutant, claim):
    grids = {claim: SMALL.get(claim, TINY[claim])}
    claims = registry.all_claims()
    import tempfile
    with tempfile.TemporaryDirectory() as cache, MUTANTS[mutant]():
        ctx = registry.Context(profile="quick", seed=0, family_size=5,
                               runner=sweep.SweepRunner(cache, quiet=True), tag="mutant")
        checks = claims[claim].run(ctx, grid=grids[claim]).checks
    return [c.verdict for c in checks], describe(checks)


@pytest.mark.planted
@pytest.mark.parametrize("mutant", CHEAP_MUTANTS)
def test_cheap_mutants_are_killed(mutant):
    verdicts, described = _killed(mutant, CHEAP_MUTANTS[mutant])
    assert "fail" in verdicts, described


@pytest.mark.slow
@pytest.mark.parametrize("mutant", ALL_MUTANTS)
def test_every_mutant_is_killed(mutant):
    verdicts, described = _killed(mutant, ALL_MUTANTS[mutant])
    assert "fail" in verdicts, described


@pytest.mark.profile
def test_quick_profile_passes(tmp_path):
    claims = registry.all_claims()
    ctx = registry.Context(profile="quick", seed=0, family_size=len(claims),
                           runner=sweep.SweepRunner(tmp_path, quiet=True))
    for claim in TINY:
        outcome = claims[claim].run(ctx)
        assert protocol.overall_verdict(outcome.checks) == "pass", describe(outcome.checks)


def test_init_sweep_counts_per_architecture():
    assert INIT.counts() == (400, 400, 400)
    sweep = measure.InitSweep(d=16, widths=((16,), (32, 32)), n_networks=(10, 20), n_points=2)
    assert [p.n_networks for p in measure.init_points(sweep, 0)] == [10, 20]
    with pytest.raises(ValueError, match="n_networks must have one count per architecture"):
        measure.InitSweep(d=16, widths=((16,),), n_networks=(10, 20), n_points=2).counts()
