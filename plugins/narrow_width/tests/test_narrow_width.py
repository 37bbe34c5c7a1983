"""The narrow-width plugin: its limit law against brute force and the closed forms, its claims
on a tiny grid (bookkeeping complete, verdicts computed), and its planted bugs."""
import json
import math

import jax
import numpy as np
import pytest
from scipy import special

from narrow_width import claims, figures, limit_law, measure
from verification import registry
from verification.sweep import SweepRunner

jax.config.update("jax_enable_x64", True)

TINY = claims.Grid(ds=(128, 256), relu={8: 4, 16: 2, 32: 2, 64: 2}, erf={8: 2, 16: 2, 32: 2, 64: 2},
                   extra=((4, "balanced", 2), (4, "random", 2), (8, "random", 2)), p1=((2, 2, 100), (4, 2, 100)),
                   p1_ds=(64,), regimes_m=(2, 8, 512), regimes_networks=2)


def brute_root(h, hi=50.0, steps=200):
    lo = 0.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if h(mid) > 0 else (lo, mid)
    return hi


def test_relu_law_is_the_closed_form_root():
    """THEORY.md 10: T = sqrt(k) tau*, tau* the first root of sum_{A+} (z - tau)_+ - sum_{A-} (z + tau)."""
    z, a = limit_law.draw(8, 200, signs="balanced", rng=np.random.default_rng(1))
    T, T1 = limit_law.law(z, a, "relu")
    for i in range(200):
        active = z[i] > 0
        if not active.any():
            assert T[i] < 1e-15 and np.isnan(T1[i])  # the bracket halved 64 times
            continue
        sigma = np.sign(np.sum(a[i] * np.maximum(z[i], 0)))
        plus, minus = active & (a[i] == sigma), active & (a[i] == -sigma)
        tau = brute_root(lambda t: np.sum(np.maximum(z[i][plus] - t, 0)) - np.sum(z[i][minus] + t) - 1e-14)
        assert T[i] == pytest.approx(math.sqrt(active.sum()) * tau, rel=1e-9, abs=1e-12)
        assert T1[i] == pytest.approx(abs(np.sum(a[i][active] * z[i][active])) / math.sqrt(active.sum()), rel=1e-12)


def test_erf_law_is_the_root_of_its_line_function():
    z, a = limit_law.draw(16, 50, signs="balanced", rng=np.random.default_rng(2))
    T, _ = limit_law.law(z, a, "erf")
    for i in range(50):
        slope = 2 / math.sqrt(math.pi) * np.exp(-z[i] ** 2)
        sign = np.sign(np.sum(a[i] * special.erf(z[i]))) * a[i]
        root = brute_root(lambda t: np.sum(sign * special.erf(z[i] - sign * slope * t / np.linalg.norm(slope))))
        assert T[i] == pytest.approx(root, rel=1e-9)


@pytest.mark.parametrize("signs", ["balanced", "random"])
def test_p0_and_p2_match_the_law(signs):
    """Closed forms of THEORY.md 10 against 400,000 draws (P2: SE ~0.2% relative at m = 8)."""
    m = 8
    z, a = limit_law.draw(m, 400_000, signs=signs, rng=np.random.default_rng(3))
    gradient = (z > 0).any(axis=1)
    empty = ~((z > 0) & limit_law.opposing(z, a)).any(axis=1)
    assert 1 - gradient.mean() == pytest.approx(2.0 ** -m, rel=0.1)  # ~1,560 draws: SE 2.5%
    p2 = 2 * 2 ** (-m / 2) * (1 - 2 ** (-m / 2)) if signs == "balanced" else 2 * (0.75 ** m - 0.5 ** m)
    assert np.mean(empty[gradient]) == pytest.approx(p2 / (1 - 2.0 ** -m), rel=0.02)
    given = limit_law.no_strict_flip(m, np.sum(a > 0, axis=1))  # each draw's own signs
    assert np.mean(given[gradient]) == pytest.approx(p2 / (1 - 2.0 ** -m), rel=0.01)
    assert [round(float(limit_law.no_strict_flip(k, k // 2)), 4) for k in (4, 8, 16)] == [0.4, 0.1176, 0.0078]


@pytest.mark.parametrize("activation, m, R, T", [("relu", 8, 1.0533, 0.655), ("relu", 32, 1.0347, 0.696),
                                                 ("erf", 8, 1.0340, 0.834)])
def test_law_means_match_the_prototype(activation, m, R, T):
    """The issue's independent prototype (limit values to its last digit; 100,000 draws: SE of
    R ~0.0003, of T ~0.002)."""
    got_R, got_T = claims.law_means(activation, m)
    assert got_R == pytest.approx(R, abs=0.0015) and got_T == pytest.approx(T, abs=0.008)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    with SweepRunner(tmp_path_factory.mktemp("cache"), quiet=True) as runner:
        ctx = registry.Context(profile="quick", seed=0, runner=runner, family_size=29)
        return {cid: registry.CLAIMS[cid].run(ctx, grid=TINY) for cid in registry.CLAIMS if cid.startswith("narrow_")}


def test_every_claim_runs_and_accounts_for_its_numbers(outcomes):
    assert len(outcomes) == 5
    for cid, outcome in outcomes.items():
        assert registry.unaccounted(outcome) == [], cid
        assert outcome.checks and all(c.verdict in ("pass", "inconclusive", "fail") for c in outcome.checks)
        assert all(c.predicted is not None for c in outcome.checks if c.level is not None), cid
        json.dumps(outcome.data), json.dumps(outcome.config)
    exact = [c for o in outcomes.values() for c in o.checks if c.level is None]
    assert exact and all(c.verdict == "pass" for c in exact), [c.name for c in exact if c.verdict != "pass"]


def test_regimes_figure_draws(outcomes):
    data = json.loads(json.dumps(outcomes["narrow_attack_size_limit_law"].data))
    assert len(figures.regimes(data)["regimes"].axes) == 2


def test_a_wrong_prediction_fails():
    check = claims.ratio("x", np.full(50, 30.0), np.full(50, 40.0), band=0.1, why="", level=0.999, seed=0)
    assert check.verdict == "fail" and check.estimate == pytest.approx(0.75)


def test_erf_point_flips_every_point():
    result = measure.attack_point(measure.Point(d=128, m=8, networks=2, points=50, activation="erf"))
    assert result["flipped"].sum() == 100 and result["not_a_change"].sum() == 0


def test_sign_change_is_resolved_where_f_is_tiny():
    # Network 59 of this full-profile point has a point with |f| = 1.8e-6 and eta* = 7.2e-8, where
    # f(x + t u) crosses 0 linearly: a step of 1e-9 eta* past it moved f by less than its rounding.
    point = measure.Point(d=1024, m=8, networks=400, signs="random", seed=1651431252)
    row = measure.network(point, jax.random.split(jax.random.PRNGKey(point.seed), point.networks)[59])
    assert row["strict"].sum() + row["reach_zero"].sum() == row["flipped"].sum()  # each flip is one or the other
    assert row["opposed_not_strict"].sum() == 0 and row["not_a_change"].sum() == 0


def test_planted_bugs_are_registered_and_apply():
    from verification.mutants import MUTANTS
    names = [n for n in MUTANTS if n.startswith("narrow_")]
    assert len(names) == 5
    for name in names:
        assert MUTANTS[name].families == ("narrow_width",)
        with MUTANTS[name]():  # an edit that no longer matches the toolkit's code raises here
            pass
