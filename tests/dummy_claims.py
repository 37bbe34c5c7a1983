"""Cheap claims for the tests of the sweep runner, the report and the CLI (not paper claims).

They register on import: in a ``ntk-attack`` subprocess through
``NTK_ATTACK_EXTRA_CLAIMS=dummy_claims`` with ``tests/`` on ``PYTHONPATH``; in the test
process through :func:`registered`, which removes them again so that other tests see only
the real claims (the Bonferroni family size counts every registered claim).
"""
import contextlib
import dataclasses
import math
import os

import jax
import numpy as np

from ntk_attack import models
from ntk_attack.plotting import common
from verification import protocol, registry

ACTIVE, SKIPPED, FAILING, BROKEN = "dummy.active", "dummy.skipped", "dummy.failing", "dummy.broken"
N_POINTS = 64  # sphere points per network
M = 256  # width


@dataclasses.dataclass(frozen=True)
class Point:
    d: int
    m: int
    seed: int


def grid(profile: str, seed: int) -> list:
    """Grid points of :func:`active`: two dimensions times 6 (quick) or 12 network seeds."""
    n_seeds = 6 if profile == "quick" else 12
    return [Point(d, M, protocol.derive_seed(seed, "dummy", d, s)) for d in (4, 8)
            for s in range(n_seeds)]


def network_stats(point: Point) -> dict:
    """Share of active neurons, ``f`` and ``x . grad f - f`` of one network on sphere points."""
    key_net, key_x = jax.random.split(jax.random.PRNGKey(point.seed))
    params = models.init_two_layer(key_net, point.d, point.m)
    x = jax.random.normal(key_x, (N_POINTS, point.d))
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    f = models.apply(params, x)
    grad = models.input_grad(params, x)
    return {"active": np.mean(np.asarray(models.preactivations(params, x)) > 0),
            "f": np.asarray(f), "euler": np.asarray(np.sum(x * grad, axis=1) - f)}


def active_figures(data: dict) -> dict:
    fig, ax = common.new_figure()
    common.loglog_with_slope(ax, data["d"], data["active"], 0.0, label="share of active neurons",
                             slope_label="prediction 1/2 (slope 0)", anchor="first")
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("share of active neurons")
    return {"active_vs_d": (fig, f"share of active neurons {np.mean(data['active']):.3f} (prediction 1/2)")}


@registry.claim(ACTIVE, title="Dummy: half the neurons are active at init",
                figures=active_figures)
def active(ctx: registry.Context) -> registry.Outcome:
    """``P(w . x > 0) = 1/2`` for ``w ~ N(0, I_d)``, and ``x . grad f(x) = f(x)`` (THEORY.md 2)."""
    points = grid(ctx.profile, ctx.seed)
    results = ctx.runner.map(network_stats, points, desc="dummy networks")
    dims = sorted({p.d for p in points})
    per_seed = np.array([[float(r["active"]) for p, r in zip(points, results) if p.d == d]
                         for d in dims]).T  # (networks, dims): networks are the units
    band = protocol.Band(0.4, 0.6, 0.1, "test claim: sd ~ 1/sqrt(4 m) = 0.03 per network, "
                         "6 networks")
    estimate, ci = protocol.bootstrap(per_seed, lambda rows: float(np.mean(rows)),
                                      level=ctx.level(),
                                      seed=protocol.derive_seed(ctx.seed, "boot"))
    euler = max(float(np.max(np.abs(r["euler"]))) for r in results)
    checks = [protocol.check("active share", prediction="1/2", estimate=estimate, ci=ci, band=band,
                             level=ctx.level(), predicted=0.5),
              protocol.exact_check("homogeneity", prediction="x . grad f = f", value=euler,
                                   band=protocol.Band(0, 1e-12, 0,
                                                      "float64 rounding of d + m terms"))]
    return registry.Outcome(checks, {"d": dims, "active": per_seed.mean(axis=0),
                                     "per_seed": per_seed, "one_sided": [-math.inf, 1.0]},
                            {"d": dims, "m": M, "n_networks": len(points) // len(dims),
                             "n_points": N_POINTS},
                            inputs=("d",), judged={"active": "active share", "per_seed": "active share"},
                            unjudged={"one_sided": "a fixed pair of numbers for the JSON round trip "
                                                   "of infinities, not a measurement"})


@registry.claim(SKIPPED, title="Dummy: always skipped")
def skipped(ctx):
    raise registry.Skip("needs a file that is absent")


@registry.claim(FAILING, title="Dummy: always fails")
def failing(ctx):
    band = protocol.Band(0, 1, 0, "the value 2 lies outside [0, 1]")
    check = protocol.exact_check("two", prediction="in [0, 1]", value=2, band=band)
    return registry.Outcome([check], {}, {})


@registry.claim(BROKEN, title="Dummy: raises")
def broken(ctx):
    raise RuntimeError("a bug in a claim")


SPECS = {i: registry.CLAIMS[i] for i in (ACTIVE, SKIPPED, FAILING, BROKEN)}


@contextlib.contextmanager
def registered():
    """Register the dummy claims for the duration of a ``with`` block."""
    registry.CLAIMS.update(SPECS)
    try:
        yield
    finally:
        for claim_id in SPECS:
            registry.CLAIMS.pop(claim_id, None)


# Keep the claims registered only where NTK_ATTACK_EXTRA_CLAIMS asked for this module (a
# `ntk-attack` subprocess); the test process opts in with `registered()`.
if __name__ not in os.environ.get("NTK_ATTACK_EXTRA_CLAIMS", "").split(","):
    for _claim_id in SPECS:
        registry.CLAIMS.pop(_claim_id)
