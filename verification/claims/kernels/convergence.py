"""Claim ``empirical_converges_to_analytic``: ``Theta_hat - Theta_W`` has the exact Bernoulli
standard deviation ``|x.x'| sqrt(p (1 - p) / m)`` (:func:`ntk_attack.theory.empirical_ntk_sd`)
and shrinks like ``m^(-1/2)`` (THEORY.md 5)."""
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import kernels, models, plotting, theory
from verification import protocol, registry
from verification.claims import stats

CACHE_VERSION = 2
SD_FACTORS = {signs: theory.ntk_sd_factor(signs) for signs in ("balanced", "antisymmetric")}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """``n_networks`` networks per width and sign scheme on ``n_circle`` great-circle points and
    ``n_random`` sphere points in ``R^d``."""
    widths: tuple
    n_networks: int
    n_circle: int = 8
    n_random: int = 56
    d: int = 16


# Random sphere points decorrelate the entries (per-network sd of the normalised squared
# error ~0.2, against ~0.55 for circle points alone); the circle covers every angle. 200
# networks gave CI half-widths of 77-86% of the allowed ones (seeds 0-4: sd ratios 0.019-0.020
# of 0.025, antisymmetric bias 0.0022 of 0.0025); 420 bring them to ~60%.
GRIDS = {"quick": Grid(widths=(64, 256, 1024), n_networks=420),
         "full": Grid(widths=tuple(2 ** k for k in range(6, 15)), n_networks=400)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConvergencePoint:
    """``n_networks`` networks of width ``m`` on fixed inputs: ``n_circle`` points evenly on a
    random great circle (every angle from 0 to pi) and ``n_random`` uniform sphere points."""
    m: int
    signs: str
    n_networks: int
    n_circle: int
    n_random: int
    d: int
    points_seed: int
    seed: int


def convergence_inputs(point: ConvergencePoint) -> np.ndarray:
    rng = np.random.default_rng(point.points_seed)
    basis = np.linalg.qr(rng.normal(size=(point.d, 2)))[0].T
    phi = 2 * np.pi * np.arange(point.n_circle) / point.n_circle
    x = rng.normal(size=(point.n_random, point.d))
    return np.concatenate([np.stack([np.cos(phi), np.sin(phi)], 1) @ basis,
                           x / np.linalg.norm(x, axis=1, keepdims=True)])


def convergence_point(point: ConvergencePoint) -> dict:
    """Per network, the mean over entries of ``(Theta_hat - Theta_W)^2`` and the relative bias
    along the kernel (:func:`ntk_attack.theory.empirical_ntk_bias`); the exact independent-row
    prediction ``mean (x.x')^2 p (1 - p) / m``; one network's ``Theta_hat``."""
    x = jnp.asarray(convergence_inputs(point))
    theta = kernels.ntk_first_layer(x, x)
    cos = np.clip(np.asarray(x @ x.T), -1, 1)
    predicted = np.mean(theory.empirical_ntk_variance(np.asarray(x @ x.T), cos)) / point.m

    def one(key):
        params = models.init_two_layer(key, point.d, point.m, signs=point.signs)
        theta_hat = kernels.empirical_ntk(params, x)
        bias = jnp.sum((theta_hat - theta) * theta) / jnp.sum(theta * theta)
        return jnp.mean((theta_hat - theta) ** 2), bias, theta_hat

    keys = jax.random.split(jax.random.PRNGKey(point.seed), point.n_networks)
    mse, bias, theta_hat = jax.lax.map(one, keys, batch_size=8)
    return {"mse": mse, "bias": bias, "predicted_mse": predicted, "theta_hat": theta_hat[0], "cos": cos}


def judge_convergence(widths, mse: dict, predicted: dict, bias: dict, *, level: float, seed: int,
                      slope: float = -0.5, sd_factors=SD_FACTORS) -> list:
    """Checks of the entrywise standard deviation (its level, pooled over widths), of the bias
    along the kernel at the largest width, and of the log-log slope.

    Args:
        widths: `(k,)` widths.
        mse: ``{signs: (n_networks, k)}`` per-network mean squared entry error (networks are
            the independent units of the bootstrap).
        predicted: ``{signs: (k,)}`` exact independent-row mean variance.
        bias: ``{signs: (n_networks,)}`` per-network :func:`theory.empirical_ntk_bias` at the
            largest width.
        level: CI level of each check.
        seed: bootstrap seed.
        slope: predicted slope of the RMS error against ``m``.
        sd_factors: predicted ratio of the measured to the independent-row standard deviation.
    """
    ratio_band = protocol.Band(0.95, 1.05, 0.025, "exact prediction; equivalence margin 5% of the "
                               "standard deviation, CI must resolve it to 2.5%.")
    bias_band = protocol.Band(-0.005, 0.005, 0.0025, "half of a 1% normalisation error. Its "
                              "per-network sd is at most RMS Bernoulli sd / RMS Theta_W (Cauchy-"
                              "Schwarz; 0.043 balanced, 0.061 antisymmetric at m = 1024 on the quick "
                              "inputs), measured 0.0046 / 0.0066: SE ~0.0004 over 200 networks.")
    slope_band = protocol.Band(slope - 0.05, slope + 0.05, 0.025,
                               "exact prediction; equivalence margin 0.05 (THEORY.md 8).")
    checks = []
    for signs, per_network in mse.items():
        per_network = np.asarray(per_network) / np.asarray(predicted[signs])
        checks.append(stats.bootstrap_check(
            f"{signs}: entrywise sd / ({sd_factors[signs]:.4g} |x.x'| sqrt(p(1-p)/m))", per_network,
            statistic=lambda rows: math.sqrt(np.mean(rows)) / sd_factors[signs], prediction="1",
            band=ratio_band, level=level, seed=protocol.derive_seed(seed, "ratio", signs), predicted=1.0,
            note="pooled over widths: sqrt(sum of squared errors / sum of predicted variances); "
                 "the +-5% band leaves a minimum detectable effect of ~7%; 3% needs a +-2% band "
                 "with a CI of +-1%: ~800 networks per width on the quick grid (the full grid's "
                 "400 networks at 9 widths: about +-0.8%, expected)"))
        checks.append(stats.bootstrap_check(
            f"{signs}: bias <Theta_hat - Theta_W, Theta_W> / <Theta_W, Theta_W> at m = {widths[-1]}",
            np.asarray(bias[signs]), prediction="0 (E Theta_hat = Theta_W)", band=bias_band,
            level=level, seed=protocol.derive_seed(seed, "bias", signs), predicted=0.0,
            note="mean over networks of theory.empirical_ntk_bias"))
    first = next(iter(mse))
    estimate, ci = protocol.slope_over_units(
        widths, np.asarray(mse[first]), level=level, seed=protocol.derive_seed(seed, "slope"),
        reduce=lambda rows, axis: np.sqrt(np.mean(rows, axis=axis)))
    checks.append(protocol.check(f"{first}: log-log slope of the RMS entry error against m",
                                 prediction=f"{slope:g}", estimate=estimate, ci=ci, band=slope_band,
                                 level=level, predicted=slope))
    return checks


def convergence_points(grid: Grid, seed: int) -> list:
    points_seed = protocol.derive_seed(seed, "convergence", "points")
    return [ConvergencePoint(m=m, signs=signs, n_networks=grid.n_networks, n_circle=grid.n_circle,
                             n_random=grid.n_random, d=grid.d, points_seed=points_seed,
                             seed=protocol.derive_seed(seed, "convergence", signs, m))
            for signs in SD_FACTORS for m in grid.widths]


def error_vs_width(data: dict):
    """RMS entry error of ``Theta_hat - Theta_W`` against width ``m`` (log-log) per sign scheme,
    with bootstrap CIs over networks at the checks' level and the exact Bernoulli prediction
    (:func:`ntk_attack.theory.empirical_ntk_sd`, RMS over the entries) at its absolute level.

    Args:
        data: ``{"widths": (k,), "mse": {signs: (n_networks, k)}, "predicted_rms": {signs:
            (k,)}, "level": float, "seed": int}``.

    Returns:
        ``(Figure, caption)``.
    """
    widths = np.asarray(data["widths"], dtype=float)
    names = list(data["mse"])
    cis = [protocol.bootstrap_columns(np.asarray(data["mse"][s]), level=data["level"],
                                      seed=protocol.derive_seed(data["seed"], "figure", s),
                                      statistic=lambda col: math.sqrt(np.mean(col)))
           for s in names]
    level = f"{100 * data['level']:.2f}"
    fig = plotting.scaling_plot(
        widths, np.stack([c[0] for c in cis]), np.stack([c[1] for c in cis]),
        np.stack([c[2] for c in cis]), labels=[f"measured, {s} signs" for s in names],
        prediction=[np.asarray(data["predicted_rms"][s]) for s in names],
        prediction_label="exact Bernoulli sd, RMS over entries (theory.empirical_ntk_sd)",
        ci_label=f"{level}% bootstrap CI over networks", xlabel="width m",
        ylabel="RMS entry error of Theta_hat - Theta_W")
    ratios = {s: np.asarray(cis[i][0]) / np.asarray(data["predicted_rms"][s]) for i, s in enumerate(names)}
    text = plotting.caption(
        "RMS entry error of the empirical first-layer NTK against the analytic Theta_W, "
        "{n:d} networks per width and sign scheme, m = {m}; error bars: {level}% "
        "bootstrap CIs over networks; dashed: the exact Bernoulli prediction at its level. "
        "Measured / predicted per width: ", n=np.asarray(data["mse"][names[0]]).shape[0],
        m=f"{int(widths[0])}..{int(widths[-1])}", level=level) + "; ".join(
        plotting.caption("{s} {r}", s=s, r=ratios[s]) for s in names) + "."
    return fig, text


def kernel_vs_angle(data: dict):
    """Empirical first-layer NTK entries of one network at the smallest, middle and largest
    width against the angle ``theta``, on the analytic ``Theta_W = cos(theta) kappa0(cos
    theta)`` (unit inputs) with the band ``+- 2`` predicted sd
    (:func:`ntk_attack.theory.empirical_ntk_sd`).

    Args:
        data: ``{"angle": (k,), "theta_hat": {str(m): (k,)}, "theta_hat_signs": str}``, the
            ``k`` upper-triangle entries of the kernel matrix.

    Returns:
        ``(Figure, caption)``.
    """
    signs = data["theta_hat_signs"]
    angle = np.asarray(data["angle"], dtype=float)
    entries = {int(m): np.asarray(v) for m, v in data["theta_hat"].items()}
    widths = sorted(entries)
    shown = sorted({widths[round(i)] for i in np.linspace(0, len(widths) - 1, min(3, len(widths)))})
    fig = plotting.kernel_vs_angle(
        angle, {m: entries[m] for m in shown}, lambda t: np.cos(t) * theory.kappa0(np.cos(t)),
        analytic_label="analytic Theta_W = cos(theta) kappa0(cos theta)",
        predicted_sd=lambda t, m: theory.empirical_ntk_sd(np.cos(t), np.cos(t), m, signs=signs),
        ylabel="first-layer NTK entry (dimensionless)")
    inside = {m: np.mean(np.abs(v - np.cos(angle) * theory.kappa0(np.cos(angle)))
                         <= 2 * theory.empirical_ntk_sd(np.cos(angle), np.cos(angle), m, signs=signs))
              for m, v in entries.items()}
    text = plotting.caption("Entries of one network's empirical NTK per width ({signs} signs, "
                            "m = {shown} shown of {m}; one network per width, so no CI) against "
                            "the angle between inputs; shaded: analytic +- 2 predicted sd. Share "
                            "of entries inside the band per width (all widths): {share}.",
                            signs=signs, shown=", ".join(map(str, shown)),
                            m=f"{min(entries)}..{max(entries)}", share=list(inside.values()))
    return fig, text


def convergence_figures(data: dict) -> dict:
    return {"kernel_error_vs_width": error_vs_width(data), "kernel_vs_angle": kernel_vs_angle(data)}


@registry.claim("empirical_converges_to_analytic", title="Empirical NTK converges to Theta_W like m^(-1/2)",
                figures=convergence_figures)
def empirical_converges_to_analytic(ctx: registry.Context, *, grid: Grid | None = None
                                    ) -> registry.Outcome:
    """Each entry of ``Theta_hat - Theta_W`` has standard deviation exactly
    ``|x.x'| sqrt(p (1 - p) / m)``, ``p = (pi - theta) / (2 pi)`` (``sqrt 2`` larger with
    antisymmetric init), so the error's log-log slope against the width ``m`` is ``-1/2``."""
    return run_convergence(ctx.runner, convergence_points(grid or GRIDS[ctx.profile], ctx.seed),
                           level=ctx.level(5), seed=ctx.seed)


def run_convergence(runner, points, *, level: float, seed: int, slope: float = -0.5,
                    sd_factors=SD_FACTORS) -> registry.Outcome:
    """Measure ``points`` (one per ``(signs, m)``) and judge them against the predicted
    ``slope`` and ``sd_factors`` (see :func:`judge_convergence`); the claim at any grid."""
    results = runner.map(convergence_point, points, desc="empirical NTK widths")
    widths = sorted({p.m for p in points})
    by = {(p.signs, p.m): r for p, r in zip(points, results)}
    signs_list = list(dict.fromkeys(p.signs for p in points))
    mse = {s: np.stack([by[s, m]["mse"] for m in widths], axis=1) for s in signs_list}
    predicted = {s: np.array([float(by[s, m]["predicted_mse"]) for m in widths]) for s in signs_list}
    bias = {s: np.asarray(by[s, widths[-1]]["bias"]) for s in signs_list}
    checks = judge_convergence(widths, mse, predicted, bias, level=level, seed=seed, slope=slope,
                               sd_factors=sd_factors)
    first = signs_list[0]
    upper = np.triu_indices(len(by[first, widths[0]]["cos"]))  # entries of a symmetric kernel
    data = {"widths": widths,
            "rms_error": {s: np.sqrt(mse[s].mean(axis=0)) for s in signs_list},
            "predicted_rms": {s: np.sqrt(predicted[s]) * SD_FACTORS[s] for s in signs_list},
            "sd_ratio_per_width": {s: np.sqrt(mse[s].mean(axis=0) / predicted[s]) for s in signs_list},
            "angle": np.arccos(by[first, widths[0]]["cos"][upper]),
            "theta_hat": {str(m): by[first, m]["theta_hat"][upper] for m in widths},
            "theta_hat_signs": first, "mse": mse, "bias": bias, "level": level, "seed": seed}
    config = {"points": [dataclasses.asdict(p) for p in points], "level": level}
    return registry.Outcome(checks, data, config,
                            notes="Networks are the bootstrap units; inputs are fixed (the "
                                  "prediction is conditional on them).",
                            inputs=("widths", "predicted_rms", "angle", "theta_hat_signs", "level", "seed"),
                            judged={"rms_error": ("entrywise sd", "slope of the RMS entry error"),
                                    "sd_ratio_per_width": ("entrywise sd",),
                                    "mse": ("entrywise sd", "slope of the RMS entry error"),
                                    "bias": ("bias <Theta_hat - Theta_W, Theta_W>",),
                                    "theta_hat": ("entrywise sd",)})
