"""The adversarial-training claims at tiny sizes: they run end to end, the judges fail wrong
numbers, and the family's planted bugs are caught."""
import dataclasses
import json
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from ntk_attack import io, theory
from verification import protocol, registry, sweep
from verification.mutants import MUTANTS
from verification.claims.adversarial import ball, envelope, helps

LEVEL = 0.99  # one claim alone; the suite's Bonferroni level only widens the CIs

TINY = {  # one tiny grid per claim, passed as an argument
    "adversarial_training_stays_in_ball": ball.Grid(
        size=4, balls=(ball.Ball(m=64, radius="lazy", C0=0.5), ball.Ball(m=64, radius="absolute", C0=0.05)),
        networks=2, n_train=50, epochs=2, batch_size=25, attack_steps=3, eps_sqrt_d=0.7, lr=8.0),
    "adversarial_training_obeys_envelope": envelope.Grid(
        sizes=(8,), ratios=(0.03,), m=256, networks=2, n_train=50, epochs=2, lr=10.0,
        attack_steps=3, eps_sqrt_d=1.0, kappa_networks=2, kappa_points=100),
    "adversarial_training_helps_only_outside_lazy_regime": helps.Grid(
        size=8, m=256, ratios=(0.03, 3.0), absolute=0.1, widths=(64, 256), networks=2, n_train=50,
        epochs=2, lr=10.0, batch_size=0, attack_steps=3, train_eps_sqrt_d=1.0,
        eval_eps_sqrt_d=(0.5, 1.0), eval_steps=3, kappa_networks=2, kappa_points=100),
}


def verdicts(checks):
    return [c.verdict for c in checks]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    runner = sweep.SweepRunner(tmp_path_factory.mktemp("cache"), quiet=True)
    ctx = registry.Context(profile="quick", seed=0, runner=runner, family_size=3)
    claims = registry.all_claims()
    return {claim: claims[claim].run(ctx, grid=grid) for claim, grid in TINY.items()}


def test_claims_run_and_report(outcomes):
    for claim, outcome in outcomes.items():
        assert outcome.checks, claim
        assert set(verdicts(outcome.checks)) <= {"pass", "fail", "inconclusive"}, claim
        data = io.decode(json.loads(io.dumps(outcome.data)))  # as report.json stores it
        captions = data.pop("captions")
        figures = registry.all_claims()[claim].figures(data)
        assert figures and set(captions) == set(figures), claim
        for name, fig in figures.items():
            fig = fig[0] if isinstance(fig, tuple) else fig  # (Figure, caption) or Figure
            assert isinstance(fig, Figure), name
            assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes if ax.has_data())
    # The lemma is deterministic: it passes at any size once the ball binds.
    assert verdicts(outcomes["adversarial_training_stays_in_ball"].checks) == ["pass", "pass"]
    # Single-step robust accuracy at max B is 0 for both arms at the lazy ball.
    assert verdicts(outcomes["adversarial_training_helps_only_outside_lazy_regime"].checks) == \
        ["pass"] * 3


def test_helps_pairs_the_arms_and_reports_gains(outcomes):
    data = outcomes["adversarial_training_helps_only_outside_lazy_regime"].data
    assert [b["radius"] for b in data["balls"]] == ["lazy", "lazy", "absolute", "absolute"]
    for b in data["balls"]:
        for attack in ("pgd", "line"):
            gain = b["gain"][attack]
            assert len(gain["mean"]) == 2 and all(lo <= g <= hi for g, lo, hi in
                                                 zip(gain["mean"], gain["lo"], gain["hi"]))
    # Absolute row radius 0.1 at width m is C0/sqrt(d) = 0.1 sqrt(m / d).
    assert data["balls"][3]["C0_over_sqrt_d"] == pytest.approx(0.1 * math.sqrt(256 / 64))
    pts = helps.points(TINY["adversarial_training_helps_only_outside_lazy_regime"], 0)
    for (b, arm), point in pts.items():
        assert point.seed == pts[b, "standard"].seed  # same params0 in both arms


# --------------------------------------------------------------------------- wrong numbers

def test_ball_judge_fails_an_escape_and_flags_a_ball_that_never_binds():
    inside = np.array([[0.0, 0.7, 1.0], [0.0, 0.9, 1.0 - 1e-14]])
    assert verdicts(ball.judge({"ok": inside})) == ["pass"]
    assert verdicts(ball.judge({"out": inside * 1.01})) == ["fail"]  # 1% past the boundary
    # The projection's rounding scale passes, ten times the tolerance does not.
    assert verdicts(ball.judge({"edge": inside + 1e-11})) == ["fail"]
    assert verdicts(ball.judge({"loose": inside * 0.5})) == ["inconclusive"]


def _row(counts, robust, clean=(0.8, 0.8), inside=True, excess=0.0):
    return {"label": "g", "inside": inside, "C0_hat_excess": excess, "counts": counts,
            "robust_at_max_B": list(robust), "clean_at_max_B": list(clean)}


def test_envelope_judge_fails_violations_and_nonzero_robust_accuracy():
    good = _row([[0, 1000], [0, 1000]], [0.0, 0.0])
    assert verdicts(envelope.judge([good], level=LEVEL, seed=0)) == ["pass"] * 3
    # 5% of the points above B(x): the CI over 4 networks lies above 1%.
    bad = _row([[50, 1000], [52, 1000], [48, 1000], [51, 1000]], [0.0] * 4, clean=[0.8] * 4)
    assert verdicts(envelope.judge([bad], level=LEVEL, seed=0))[1] == "fail"
    assert verdicts(envelope.judge([_row([[0, 1000]] * 2, [0.0, 0.01])], level=LEVEL, seed=0))[2] == "fail"
    assert verdicts(envelope.judge([_row([[0, 1000]] * 2, [0.0, 0.0], excess=1e-3)],
                                   level=LEVEL, seed=0))[0] == "fail"
    # No eligible point, or no correctly classified one: inconclusive, never a pass.
    empty = _row([[0, 0], [0, 0]], [math.nan, math.nan], clean=(math.nan, math.nan))
    assert verdicts(envelope.judge([empty], level=LEVEL, seed=0))[1:] == ["inconclusive"] * 2
    assert verdicts(envelope.judge([_row([[0, 1000]] * 2, [0.0, 0.0], clean=(0.0, 0.0))],
                                   level=LEVEL, seed=0))[2] == "inconclusive"
    # Few points: 0 violations among 100 cannot show a fraction below 1% (exact binomial CI).
    assert verdicts(envelope.judge([_row([[0, 50], [0, 50]], [0.0, 0.0])], level=LEVEL, seed=0))[1] \
        == "inconclusive"
    assert envelope.judge([_row([[9, 10]] * 2, [1.0, 1.0], inside=False)], level=LEVEL, seed=0) == []


def test_helps_judge_fails_an_escaped_pgd_and_a_robust_lazy_network():
    ok = {"lazy": (np.zeros(2), np.full(2, 0.8))}
    assert verdicts(helps.judge([1.0, 1.0 - 1e-16], ok)) == ["pass", "pass"]
    assert verdicts(helps.judge([1.5], ok))[0] == "fail"
    assert verdicts(helps.judge([1.0], {"lazy": (np.array([0.0, 0.2]), np.full(2, 0.8))}))[1] == "fail"
    none = {"lazy": (np.full(2, np.nan), np.full(2, np.nan))}
    assert verdicts(helps.judge([1.0], none))[1] == "inconclusive"


def test_theory_closed_forms():
    assert theory.row_radius(2.0, 16) == 0.5 and theory.row_radius(2.0, 16, radius="absolute") == 2.0
    assert theory.C0_hat_limit(0.1, 100, radius="absolute") == pytest.approx(1.0)
    assert theory.pgd_step_size(1.0) == pytest.approx(0.025)  # the paper's step at 100 steps
    with pytest.raises(ValueError, match="radius must be one of"):
        theory.row_radius(1.0, 4, radius="huge")


# --------------------------------------------------------------------------- planted bugs

ADVERSARIAL_MUTANTS = [name for name, m in MUTANTS.items() if m.families == ("adversarial",)]


# The first expected catcher of each mutant, on a grid smaller still (one ball, both arms).
CATCHER_GRIDS = {**TINY, "adversarial_training_helps_only_outside_lazy_regime": dataclasses.replace(
    TINY["adversarial_training_helps_only_outside_lazy_regime"], ratios=(0.03,), widths=())}


def _verdicts(ctx, name: str, grids: dict) -> dict:
    """``{claim: verdict}`` under mutant ``name``, each claim on its grid (None: the profile's)."""
    specs = registry.all_claims()
    with MUTANTS[name]():
        return {claim: protocol.overall_verdict(specs[claim].run(ctx, grid=grid).checks)
                for claim, grid in grids.items()}


@pytest.mark.planted
@pytest.mark.parametrize("name", ADVERSARIAL_MUTANTS)
def test_each_mutant_is_caught_on_a_tiny_grid(tmp_path, name):
    claim = MUTANTS[name].catchers[0]
    runner = sweep.SweepRunner(tmp_path, quiet=True, tag=name)
    ctx = registry.Context(profile="quick", seed=0, runner=runner, family_size=3, tag=name)
    assert _verdicts(ctx, name, {claim: CATCHER_GRIDS[claim]}) == {claim: "fail"}


@pytest.mark.profile
def test_quick_profile_passes_and_mutants_are_killed(tmp_path):
    claims = registry.all_claims()
    ctx = registry.Context(profile="quick", seed=0, runner=sweep.SweepRunner(tmp_path, quiet=True),
                           family_size=20)
    for claim in TINY:
        assert protocol.overall_verdict(claims[claim].run(ctx).checks) == "pass", claim
    for name in ADVERSARIAL_MUTANTS:
        ctx = registry.Context(profile="quick", seed=0, family_size=20, tag=name,
                               runner=sweep.SweepRunner(tmp_path / name, quiet=True, tag=name))
        found = _verdicts(ctx, name, dict.fromkeys(TINY))
        assert "fail" in found.values(), (name, found)
