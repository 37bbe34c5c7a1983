"""Claim ``gradient_closed_forms_match_finite_differences``: every closed-form input gradient
(network, linearisation, kernel predictor, and ``grad h_t = L +`` the angle term of THEORY.md
6.2) equals central finite differences of its value."""
import dataclasses

import jax
import numpy as np

from ntk_attack import kernels, models, predictors, theory, training
from verification import protocol, registry
from verification.claims import per_network
from verification.claims.gradients import measure

CACHE_VERSION = 2
# Central differences: piecewise-linear functions are exact on kink-free segments up to rounding
# eps/h ~ 1e-10; the kernel predictor has truncation h^2 f'''/6 ~ 1e-8 and rounding ~ 1e-12.
FD_STEP_LINEAR, FD_TOL_LINEAR = 1e-6, 1e-7
FD_STEP_SMOOTH, FD_TOL_SMOOTH = 1e-4, 1e-6


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """``points`` digits test points times ``directions`` directions, one network of width ``m``
    trained as in ``sweep``."""
    sweep: measure.Sweep
    m: int
    points: int
    directions: int


GRIDS = {"quick": Grid(sweep=measure.SWEEPS["quick"], m=256, points=6, directions=4),
         "full": Grid(sweep=measure.SWEEPS["full"], m=1024, points=16, directions=8)}


def _directional_fd(fn, x, v, h):
    return (np.asarray(fn(x + h * v)) - np.asarray(fn(x - h * v))) / (2 * h)


def _kink_free(W, x, v, h):
    """`(n, r)`: no ``w_s . z`` changes sign on the segment ``x +- h v``, where central
    differences of a relu network are exact up to rounding."""
    z_plus = np.einsum("md,nrd->nrm", W, x[:, None] + h * v)
    z_minus = np.einsum("md,nrd->nrm", W, x[:, None] - h * v)
    return np.all((z_plus > 0) == (z_minus > 0), axis=-1)


def finite_difference_errors(grid: Grid, seed: int) -> dict:
    """Largest relative error ``|FD_v - grad . v| / |grad|`` of each closed-form gradient, on
    ``fd_points`` test points times ``fd_directions`` random unit directions ``v``."""
    ds = per_network.load("digits", measure.D, seed=measure.DATA_SEED,
                          test_fraction=grid.sweep.test_fraction)
    lr = grid.sweep.lr["digits"]
    key_net, key_v = jax.random.split(jax.random.PRNGKey(protocol.derive_seed(seed, "fd")))
    params0 = models.init_two_layer(key_net, ds.d, grid.m)
    trained = training.train(None, params0, ds.x_train, ds.y_train, loss="squared", lr=lr,
                             steps=grid.sweep.steps).params
    h = predictors.ntk_regression(ds.x_train, ds.y_train - np.asarray(models.apply(params0, ds.x_train)),
                                  kernel=kernels.ntk_first_layer, ridge=0.0, steps=grid.sweep.steps,
                                  lr=lr)
    lin = predictors.linearize(params0)
    x = ds.x_test[:grid.points]
    v = np.array(jax.random.normal(key_v, (len(x), grid.directions, ds.d)))
    v /= np.linalg.norm(v, axis=-1, keepdims=True)

    def errors(value_fn, grad, step, valid):
        fd = np.stack([[_directional_fd(value_fn, x[i], v[i, j], step) for j in range(v.shape[1])]
                       for i in range(len(x))])
        exact = np.einsum("nd,nrd->nr", np.asarray(grad), v)
        err = np.abs(fd - exact) / np.linalg.norm(np.asarray(grad), axis=-1)[:, None]
        return float(np.max(np.where(valid, err, 0))), int(np.sum(~valid))

    network = errors(lambda z: models.apply(trained, z), models.input_grad(trained, x), FD_STEP_LINEAR,
                     _kink_free(np.asarray(trained.W), x, v, FD_STEP_LINEAR))
    linear = errors(lambda z: lin.apply(trained.W, z), lin.input_grad(trained.W, x), FD_STEP_LINEAR,
                    _kink_free(np.asarray(params0.W), x, v, FD_STEP_LINEAR))
    kernel = errors(h.apply, h.input_grad(x), FD_STEP_SMOOTH, np.ones(v.shape[:2], bool))
    # THEORY.md 6.2 in closed form: grad Theta_W(x, x_i) = x_i kappa0 - (x . x_i) grad(theta_i) / (2 pi).
    angle = theory.angle_term(x, h.x_train, h.coef)
    closed = np.asarray(predictors.angle_free_input_grad(h, x)) + angle
    autodiff = np.asarray(h.input_grad(x))
    decomposition = float(np.max(np.linalg.norm(closed - autodiff, axis=-1)
                                 / np.linalg.norm(autodiff, axis=-1)))
    return {"network": network, "linearization": linear, "kernel_predictor": kernel,
            "angle_decomposition": decomposition, "kinks": kink_errors(trained, ds.d)}


def kink_errors(params, d: int, n_kink: int = 8) -> dict:
    """At exact kinks, the closed forms against ``jax`` autodiff of :func:`models.apply`
    (``jax.nn.relu``: ``relu'(0) = 0``, the convention THEORY.md 5 asks to state).

    The first ``n_kink`` neurons get ``w_s[0] = 0`` exactly, so ``w_s . e_0 = 0`` at the basis
    input ``e_0`` (and at ``-e_0``); these are the only inputs where ``relu'(0)`` matters.

    Returns:
        ``{"input_grad": max relative |closed form - jax.grad|, "empirical_ntk": max relative
        |closed form - J J^T| (jacobian in W)}``.
    """
    W = params.W.at[:n_kink, 0].set(0.0)
    kinked = models.TwoLayer(W, params.a)
    x = np.zeros((2, d))
    x[0, 0], x[1, 0] = 1.0, -1.0
    closed = np.asarray(models.input_grad(kinked, x))
    auto = np.asarray(jax.vmap(jax.grad(lambda z: models.apply(kinked, z)))(x))
    jac = np.asarray(jax.jacobian(lambda V: models.apply(models.TwoLayer(V, params.a), x))(W))
    jac = jac.reshape(len(x), -1)
    ntk = np.asarray(kernels.empirical_ntk(kinked, x))
    return {"input_grad": float(np.max(np.abs(closed - auto)) / np.max(np.abs(auto))),
            "empirical_ntk": float(np.max(np.abs(ntk - jac @ jac.T)) / np.max(np.abs(ntk)))}


def judge_finite_differences(errors: dict) -> list:
    (net, net_skip), (lin, lin_skip), (ker, _) = (errors["network"], errors["linearization"],
                                                  errors["kernel_predictor"])
    linear_band = protocol.Band(0, FD_TOL_LINEAR, 0, f"piecewise linear: central differences with h = "
                                f"{FD_STEP_LINEAR:g} are exact on kink-free segments up to rounding eps/h")
    return [
        protocol.exact_check("network input_grad vs central differences", prediction="equal",
                             value=net, band=linear_band,
                             note=f"{net_skip} (point, direction) pairs crossing a kink skipped"),
        protocol.exact_check("linearisation input_grad vs central differences", prediction="equal",
                             value=lin, band=linear_band,
                             note=f"{lin_skip} (point, direction) pairs crossing a gate of W0 skipped"),
        protocol.exact_check("kernel predictor input_grad (jax.grad) vs central differences",
                             prediction="equal", value=ker,
                             band=protocol.Band(0, FD_TOL_SMOOTH, 0, f"h = {FD_STEP_SMOOTH:g}: truncation "
                                                "h^2 f'''/6 and rounding eps/h both far below")),
        *[protocol.exact_check(f"{what} at exact kinks (w_s . x = 0) vs jax autodiff, relu'(0) = 0",
                               prediction="equal", value=errors["kinks"][what],
                               band=protocol.Band(0, 1e-12, 0, "same sums in float64; a different "
                                                  "relu'(0) convention changes them by O(1/m)"))
          for what in ("input_grad", "empirical_ntk")],
        protocol.exact_check("grad h_t = L + angle term (THEORY.md 6.2 closed form) vs jax.grad",
                             prediction="equal", value=errors["angle_decomposition"],
                             band=protocol.Band(0, 1e-10, 0, "same formula, float64; arccos is "
                                                "well conditioned away from training points")),
    ]


@registry.claim("gradient_closed_forms_match_finite_differences",
                title="Closed-form input gradients match central finite differences")
def gradient_closed_forms_match_finite_differences(ctx: registry.Context, *, grid=None) -> registry.Outcome:
    """Every closed-form input gradient (network, linearisation, kernel predictor, and the split
    of ``grad h_t`` into ``L`` plus the angle term) equals central finite differences of its value."""
    grid = grid or GRIDS[ctx.profile]
    errors = finite_difference_errors(grid, ctx.seed)
    return registry.Outcome(judge_finite_differences(errors), {"errors": errors},
                            {"m": grid.m, "points": grid.points, "directions": grid.directions,
                             "steps": grid.sweep.steps, "lr": grid.sweep.lr["digits"]},
                            judged={"errors": ("vs central differences", "at exact kinks",
                                               "grad h_t = L + angle term")})
