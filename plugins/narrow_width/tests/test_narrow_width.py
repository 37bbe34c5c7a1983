"""The narrow-width plugin: its limit law against brute force and the closed forms, its claims
on a tiny grid (bookkeeping complete, verdicts computed), and its planted bugs."""
import math

import jax
import numpy as np
import pytest

from narrow_width import claims, figures, limit_law, measure
from verification import registry
from verification.sweep import SweepRunner

jax.config.update("jax_enable_x64", True)

TINY = claims.Grid(ds=(128, 256), main={8: 4, 16: 2, 32: 2, 64: 2}, extra={(4, "balanced"): 2, (4, "random"): 2,
                                                                      (8, "random"): 2},
                   erf={8: 2, 16: 2, 32: 2, 64: 2}, p1={2: (2, 100), 4: (2, 100)}, p1_ds=(64,),
                   law={**{("relu", "balanced", m): 2000 for m in (4, 8, 16, 32, 64)}, **{("relu", "random", m): 2000 for m in (4, 8)}, **{("erf", "balanced", m): 2000 for m in (8, 16, 32, 64)}},
                   regimes_m=(2, 8, 512), regimes_networks=2)


def brute_root(h, hi=50.0, steps=200):
    lo = 0.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if h(mid) > 0 else (lo, mid)
    return hi


def test_relu_law_matches_a_brute_force_root():
    rng = np.random.default_rng(1)
    z, a = limit_law.draw(8, 200, signs="balanced", rng=rng)
    law = limit_law.relu_law(z, a)
    for i in range(200):
        active = z[i] > 0
        if not active.any():
            assert np.isnan(law["T1"][i])
            continue
        sigma = np.sign(np.sum(a[i] * np.maximum(z[i], 0)))
        plus, minus = active & (a[i] == sigma), active & (a[i] == -sigma)
        tau = brute_root(lambda t: np.sum(np.maximum(z[i][plus] - t, 0)) - np.sum(z[i][minus] + t) - 1e-14)
        assert law["T"][i] == pytest.approx(math.sqrt(active.sum()) * tau, rel=1e-9, abs=1e-12)


def test_erf_law_matches_a_brute_force_root():
    rng = np.random.default_rng(2)
    z, a = limit_law.draw(16, 50, signs="balanced", rng=rng)
    law = limit_law.erf_law(z, a)
    from scipy import special
    for i in range(50):
        slope = 2 / math.sqrt(math.pi) * np.exp(-z[i] ** 2)
        sign = np.sign(np.sum(a[i] * special.erf(z[i]))) * a[i]
        root = brute_root(lambda T: np.sum(sign * special.erf(z[i] - sign * slope * T / np.linalg.norm(slope))))
        assert law["T"][i] == pytest.approx(root, rel=1e-7)


@pytest.mark.parametrize("signs", ["balanced", "random"])
def test_closed_forms_match_the_law(signs):
    z, a = limit_law.draw(8, 400_000, signs=signs, rng=np.random.default_rng(3))
    law = limit_law.relu_law(z, a)
    gradient = law["k"] > 0
    p0, p2 = 1 - gradient.mean(), np.mean(law["opposed"][gradient] == 0)
    assert p0 == pytest.approx(limit_law.no_gradient(8), rel=0.1)
    assert p2 == pytest.approx(limit_law.no_strict_flip(8, signs), rel=0.02)
    assert limit_law.no_strict_flip(4) == pytest.approx(0.4, abs=1e-3)
    assert limit_law.no_strict_flip(16) == pytest.approx(0.0078, abs=1e-4)


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
    exact = [c for o in outcomes.values() for c in o.checks if c.level is None]
    assert exact and all(c.verdict == "pass" for c in exact), [c.name for c in exact if c.verdict != "pass"]


def test_regimes_figure_draws(outcomes):
    import json
    data = json.loads(json.dumps(outcomes["narrow_attack_size_limit_law"].data))
    fig = figures.regimes(data)["regimes"]
    assert len(fig.axes) == 2


def test_a_wrong_prediction_fails(outcomes):
    units = np.stack([np.full(50, 30.0), np.full(50, 100.0)], 1)  # a fraction 0.3 on 50 networks
    check = claims.versus("x", (units, lambda u: u[:, 0].sum() / u[:, 1].sum()), 0.4, band=0.1, why="",
                          level=0.999, seed=0)
    assert check.verdict == "fail"


def test_erf_point_flips_every_point():
    result = measure.attack_point(measure.Point(d=128, m=8, networks=2, points=50, activation="erf"))
    assert result["flipped"].sum() == 100 and result["not_a_change"].sum() == 0


def test_planted_bugs_are_registered_and_apply():
    from verification.mutants import MUTANTS
    names = [n for n in MUTANTS if n.startswith("narrow_")]
    assert len(names) == 5
    for name in names:
        assert MUTANTS[name].families == ("narrow_width",)
        with MUTANTS[name]():  # an edit that no longer matches the toolkit's code raises here
            pass
