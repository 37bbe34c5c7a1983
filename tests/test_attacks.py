"""Tests of ntk_attack.attacks: exact vs bisection, minimality, edge cases, labelled attacks."""
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import assert_close
from ntk_attack.attacks import FlipStatus, min_flip
from ntk_attack.labelled_attacks import fgm, pgd, robust_accuracy
from ntk_attack.models import TwoLayer, apply, init_two_layer, input_grad

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from line_search import line_search_reference  # noqa: E402 (the benchmark baseline)


def sphere(key, n, d):
    x = jax.random.normal(key, (n, d))
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def direction(params, x, f0):
    grad = input_grad(params, x)
    return -jnp.sign(f0)[:, None] * grad / jnp.linalg.norm(grad, axis=-1, keepdims=True)


def setup(key, d, m, n, signs="balanced"):
    key_w, key_x = jax.random.split(key)
    return init_two_layer(key_w, d, m, signs=signs), sphere(key_x, n, d)


CONFIGS = [(16, 256, "balanced"), (64, 512, "random"), (256, 1024, "balanced")]
CONFIG_IDS = [f"d{d}-m{m}-{signs}" for d, m, signs in CONFIGS]


@pytest.mark.parametrize("d, m, signs", CONFIGS, ids=CONFIG_IDS)
def test_exact_agrees_with_bisection(key, d, m, signs):
    params, x = setup(key, d, m, 1000, signs)
    exact = min_flip(params, x)
    bisection = min_flip(params, x, method="bisection")
    np.testing.assert_array_equal(exact.flipped, bisection.flipped)
    both = np.asarray(exact.flipped)
    assert both.mean() > 0.99
    # 1e-8: bisection stops at rtol = 1e-12; float64 rounding of the forward pass
    # near the zero moves it by ~1e-16 / |f(x)| relative, ~1e-11 for the smallest |f| here.
    assert_close(bisection.eta[both], exact.eta[both], rtol=1e-8,
                 why="bisection (rtol 1e-12) vs exact breakpoint walk, float64")
    # f is a cancelling sum of m terms of size ~1: absolute rounding ~1e-16 sqrt(m), divided
    # by ||grad f|| ~ sqrt(d/2); relative to a tiny |f| that can exceed 1e-12.
    assert_close(exact.first_order, bisection.first_order, rtol=1e-12, atol=1e-15,
                 why="same |f| / ||grad f||, two gradient routes (closed form vs autodiff)")


@pytest.mark.parametrize("d, m, signs", CONFIGS, ids=CONFIG_IDS)
def test_sign_changes_exactly_at_eta(key, d, m, signs):
    params, x = setup(jax.random.fold_in(key, 1), d, m, 1000, signs)
    result = min_flip(params, x)
    ok = np.asarray(result.flipped)
    assert ok.mean() > 0.99
    x, eta, f0 = x[ok], result.eta[ok], result.f0[ok]
    u = direction(params, x, f0)
    # At eta itself f is ~1e-15 and may sit on either side; 1e-9 relative moves f by
    # ~1e-9 |f(x)|, far above float64 rounding of the forward pass (~1e-14 here).
    after = jnp.sign(apply(params, x + (eta * (1 + 1e-9))[:, None] * u)) != jnp.sign(f0)
    before = jnp.sign(apply(params, x + (eta * (1 - 1e-9))[:, None] * u)) != jnp.sign(f0)
    assert bool(jnp.all(after))
    assert not bool(jnp.any(before))


def assert_minimal(params, x, result):
    """h(t) = sign(f) f(x + t u) is piecewise linear: its minimum on [0, eta) is attained at a
    breakpoint or an end, so checking every breakpoint below eta proves minimality. Tiny
    widths reach h = 0 exactly where a lone neuron switches off: 0 counts as a changed sign."""
    u = direction(params, x[None], result.f0[None])[0]
    z, v = params.W @ x, params.W @ u
    t = -z / v
    below = (t > 0) & (t < result.eta * (1 - 1e-9))  # others replaced by t = 0 (fixed shape)
    trial = jnp.append(jnp.where(below, t, 0.0), result.eta * (1 - 1e-9))
    values = jnp.sign(result.f0) * apply(params, x[None] + trial[:, None] * u[None])
    assert bool(jnp.all(values > 0)), "sign changed before eta"
    after = jnp.sign(result.f0) * apply(params, x + result.eta * (1 + 1e-9) * u)
    assert float(after) <= 0, "sign did not change after eta"  # f = 0 is a changed sign


@given(seed=st.integers(0, 2 ** 31 - 1), d=st.sampled_from([2, 8, 32]),
       m=st.sampled_from([2, 6, 256]), signs=st.sampled_from(["balanced", "random"]))
def test_property_flips_and_is_minimal(seed, d, m, signs):
    params, x = setup(jax.random.PRNGKey(seed), d, m, 1, signs)
    result = min_flip(params, x[0])
    if result.status == FlipStatus.FLIPPED:
        assert_minimal(params, x[0], result)
    elif result.status == FlipStatus.NO_FLIP:
        # No zero on the whole ray: h keeps its sign at every breakpoint and far beyond.
        u = direction(params, x, result.f0[None])[0]
        t = -(params.W @ x[0]) / (params.W @ u)
        trial = jnp.append(jnp.where(t > 0, t, 0.0), jnp.array([1e3, 1e6]))
        values = jnp.sign(result.f0) * apply(params, x + trial[:, None] * u[None])
        assert bool(jnp.all(values > 0))
        assert result.eta == jnp.inf and result.searched_max == jnp.inf
    else:  # tiny networks can have every neuron inactive at x
        assert result.status == FlipStatus.ZERO_GRADIENT and result.eta == jnp.inf


@given(seed=st.integers(0, 2 ** 31 - 1), scale=st.floats(0.1, 10.0))
def test_property_scale_invariance(seed, scale):
    """Homogeneity: f(c x) = c f(x), so eta*(c x) = c eta*(x) for c > 0."""
    params, x = setup(jax.random.PRNGKey(seed), 16, 128, 8)
    base, scaled = min_flip(params, x), min_flip(params, scale * x)
    np.testing.assert_array_equal(base.flipped, scaled.flipped)
    ok = np.asarray(base.flipped)
    assert_close(scaled.eta[ok], scale * base.eta[ok], rtol=1e-10,
                 why="float64 rounding of scaled breakpoints, relative ~1e-15 per operation")


def test_single_point_matches_batch(key):
    params, x = setup(key, 16, 64, 5)
    batch = min_flip(params, x)
    for i in range(2):
        one = min_flip(params, x[i])
        assert one.eta.shape == ()
        assert_close(one.eta, batch.eta[i], rtol=1e-14, why="same computation, batch of one")


def test_line_search_reference_brackets_exact(key):
    params, x = setup(key, 16, 256, 200)
    exact = min_flip(params, x)
    reference = line_search_reference(params, x, step=0.001, max_steps=2000)
    np.testing.assert_array_equal(exact.flipped, reference.flipped)
    ok = np.asarray(exact.flipped)
    # The reference keeps the first step k * 0.001 with a changed sign: never before eta*, and
    # at most one step after unless f dips below zero and back within one step.
    assert bool(jnp.all(reference.eta[ok] >= exact.eta[ok]))
    assert float(jnp.mean(reference.eta[ok] - exact.eta[ok] <= 0.001 + 1e-12)) > 0.99
    assert float(reference.searched_max[0]) == pytest.approx(2.0)


@pytest.mark.usefixtures("neural_tangents")
def test_stax_network_through_bisection(key):
    """The generic fallback on a neural-tangents stax net with the same weights."""
    from ntk_attack.kernels import stax_net, to_stax_params
    params, x = setup(key, 16, 128, 100)
    apply_fn = stax_net(16, 128)[1]
    stax = min_flip(to_stax_params(params), x, method="bisection", apply_fn=apply_fn)
    exact = min_flip(params, x)
    np.testing.assert_array_equal(stax.flipped, exact.flipped)
    ok = np.asarray(exact.flipped)
    assert_close(stax.eta[ok], exact.eta[ok], rtol=1e-8,
                 why="bisection rtol 1e-12 on the same function computed by stax, float64")


# --------------------------------------------------------------------------- edge cases

def test_no_flip_reported_with_range():
    """f = |x1| + |x2| (scaled): positive off the origin, and u misses the origin."""
    W = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    params = TwoLayer(W, jnp.ones(4))
    x = jnp.array([[0.6, 0.8]])
    for method in ("exact", "bisection"):
        result = min_flip(params, x, method=method)
        assert result.status[0] == FlipStatus.NO_FLIP and not result.flipped[0]
        assert result.eta[0] == jnp.inf
    assert min_flip(params, x).searched_max[0] == jnp.inf
    bisection = min_flip(params, x, method="bisection")
    assert_close(bisection.searched_max, 64 * bisection.first_order, rtol=1e-15,
                 why="default range is 64 first-order steps")
    reference = line_search_reference(params, x, max_steps=100)
    assert reference.status[0] == FlipStatus.NO_FLIP and reference.eta[0] == jnp.inf


@pytest.mark.parametrize("method", ["exact", "bisection", "reference"])
def test_zero_gradient_and_zero_output_reported(method):
    # Row 0: every neuron inactive (grad = 0, f = 0). Row 1: f = 0 with grad != 0.
    W = jnp.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    params = TwoLayer(W, jnp.array([1.0, -1.0, 1.0]))
    x = jnp.array([[0.0, -1.0], [1 / math.sqrt(2), 1 / math.sqrt(2)]])
    assert float(apply(params, x)[1]) == 0.0 and float(jnp.linalg.norm(input_grad(params, x)[1])) > 0
    if method == "reference":
        result = line_search_reference(params, x, max_steps=10)
    else:
        result = min_flip(params, x, method=method)
    np.testing.assert_array_equal(result.status, [FlipStatus.ZERO_GRADIENT, FlipStatus.ZERO_OUTPUT])
    assert not bool(jnp.any(result.flipped))
    for field in result:
        assert not bool(jnp.any(jnp.isnan(field))), "NaN in FlipResult"
    np.testing.assert_array_equal(result.eta, [jnp.inf, jnp.inf])
    np.testing.assert_array_equal(result.first_order, [jnp.inf, 0.0])
    np.testing.assert_array_equal(result.searched_max, [0.0, 0.0])


def test_float32_runs(key):
    params, x = setup(key, 32, 128, 50)
    params32 = TwoLayer(params.W.astype(jnp.float32), params.a.astype(jnp.float32))
    result = min_flip(params32, x.astype(jnp.float32))
    assert result.eta.dtype == jnp.float32
    ok = np.asarray(result.flipped)
    assert_close(result.eta[ok], min_flip(params, x).eta[ok], rtol=1e-4, atol=1e-6,
                 why="float32 products of length d = 32 and m = 128, condition ~1e2; near the "
                     "boundary eta* ~ |f| / ||grad f|| inherits f's absolute float32 error, "
                     "<= eps32 sum_s |a_s relu(w_s . x)| / sqrt(m) / ||grad f|| ~ 1.3e-7")


# --------------------------------------------------------------------------- labelled attacks

def labelled(key, d=32, m=256, n=200):
    params, x = setup(key, d, m, n)
    return params, x, jnp.sign(apply(params, x))  # labels = the network's own predictions


def test_fgm_step_and_margin(key):
    params, x, y = labelled(key)
    l2 = fgm(params, x, y, eps=0.05)
    assert_close(jnp.linalg.norm(l2.delta, axis=-1), 0.05, rtol=1e-12, why="unit direction")
    assert bool(jnp.all(l2.margin < l2.margin0))
    linf = fgm(params, x, y, eps=0.01, norm=math.inf)
    assert_close(jnp.max(jnp.abs(linf.delta), axis=-1), 0.01, rtol=1e-12, why="sign step")


def test_pgd_stays_in_ball_and_beats_fgm(key):
    params, x, y = labelled(key)
    for norm, size in ((2, lambda dl: jnp.linalg.norm(dl, axis=-1)),
                       (math.inf, lambda dl: jnp.max(jnp.abs(dl), axis=-1))):
        result = pgd(params, x, y, eps=0.05, steps=20, step_size=0.01, norm=norm)
        assert bool(jnp.all(size(result.delta) <= 0.05 * (1 + 1e-12)))
        single = fgm(params, x, y, eps=0.05, norm=norm)
        # PGD keeps its best iterate; 20 steps of 0.01 reach the boundary; allow a small
        # fraction where the first-order step is better than the iterated one.
        assert float(jnp.mean(result.margin <= single.margin + 1e-12)) > 0.9


def test_robust_accuracy(key):
    params, x, y = labelled(key)
    eps_grid = [0.0, 0.01, 0.03, 0.1, 0.3]
    line = robust_accuracy(params, x, y, eps_grid=eps_grid)
    assert float(line[0]) == 1.0  # labels are the network's predictions
    assert bool(jnp.all(jnp.diff(line) <= 0))
    eta = min_flip(params, x).eta
    assert_close(line, [float(jnp.mean(eta > e)) for e in eps_grid], atol=0,
                 why="definition: robust iff eta* > eps")
    # The line attack succeeds whenever FGM does (same direction, any step up to eps).
    single = robust_accuracy(params, x, y, eps_grid=eps_grid, attack="fgm")
    assert bool(jnp.all(line <= single))
    flipped_y = -y
    assert float(robust_accuracy(params, x, flipped_y, eps_grid=[0.0])[0]) == 0.0
    wrapped = robust_accuracy(params, x, y, eps_grid=eps_grid, apply_fn=apply)
    assert_close(wrapped, line, atol=1.0 / len(y),
                 why="bisection vs exact may differ for a point with eta* within rtol of an eps")


def test_zero_gradient_fgm_no_nan():
    params = TwoLayer(jnp.array([[-1.0, 0.0], [-1.0, -0.5]]), jnp.array([1.0, -1.0]))
    result = fgm(params, jnp.array([[1.0, 0.0]]), jnp.array([1.0]), eps=0.1)
    assert not bool(jnp.any(jnp.isnan(result.delta)))
    np.testing.assert_array_equal(result.delta, 0.0)


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("call, match", [
    (lambda p, x, y: min_flip(p, x[:, :3]), "x must have shape"),
    (lambda p, x, y: min_flip(p, x[None]), "x must have shape"),
    (lambda p, x, y: min_flip(p, x.at[0, 0].set(jnp.nan)), "x must be finite"),
    (lambda p, x, y: min_flip(TwoLayer(p.W, p.a[:3]), x), "params must be"),
    (lambda p, x, y: min_flip(p, x, method="newton"), "method must be one of"),
    (lambda p, x, y: min_flip(p, x, apply_fn=apply), "apply_fn must be None"),
    (lambda p, x, y: min_flip(p, x, method="bisection", rtol=2.0), "rtol must be in"),
    (lambda p, x, y: min_flip(p, x, method="bisection", eta_max=-1.0), "eta_max must be"),
    (lambda p, x, y: fgm(p, x, y, eps=-0.1), "eps must be"),
    (lambda p, x, y: fgm(p, x, y, eps=float("nan")), "eps must be"),
    (lambda p, x, y: fgm(p, x, y, eps=0.1, norm=1), "norm must be"),
    (lambda p, x, y: fgm(p, x, 0 * y, eps=0.1), "y must hold labels in"),
    (lambda p, x, y: fgm(p, x, y[:3], eps=0.1), "y must have shape"),
    (lambda p, x, y: pgd(p, x, y, eps=0.1, steps=0, step_size=0.01), "steps must be"),
    (lambda p, x, y: pgd(p, x, y, eps=0.1, steps=3, step_size=0.0), "step_size must be"),
    (lambda p, x, y: robust_accuracy(p, x, y, eps_grid=[-0.1]), "eps_grid must be"),
    (lambda p, x, y: robust_accuracy(p, x, y, eps_grid=[0.1], attack="cw"), "attack must be one of"),
    (lambda p, x, y: robust_accuracy(p, x, y, eps_grid=[0.1], norm=math.inf), "norm must be 2"),
    (lambda p, x, y: line_search_reference(p, x, step=0.0), "step must be"),
    (lambda p, x, y: line_search_reference(p, x, max_steps=0), "max_steps must be"),
], ids=["x-width", "x-ndim", "x-nan", "params", "method", "exact-apply_fn", "rtol", "eta_max",
        "eps-negative", "eps-nan", "norm", "labels", "labels-shape", "steps", "step_size",
        "eps_grid", "attack", "line-norm", "step", "max_steps"])
def test_bad_input_raises(key, call, match):
    params, x, y = labelled(key, d=8, m=16, n=10)
    with pytest.raises(ValueError, match=match):
        call(params, x, y)
