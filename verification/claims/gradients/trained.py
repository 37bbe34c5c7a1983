"""Claim ``trained_gradient_converges_to_kernel_gradient``: ``|grad f_t - grad f_0 - grad h_t| /
|grad h_t|`` falls like ``m^(-1/4)`` (THEORY.md 6.1; notation in :mod:`.measure`)."""
import math

import numpy as np

from ntk_attack import plotting
from verification import protocol, registry
from verification.claims.gradients import measure

CACHE_VERSION = 1
GRIDS = dict(measure.SWEEPS)
# (data key, legend label, predicted-slope key or a fixed slope)
DISTANCES = (
    ("trained", "|grad f_t - grad f_0 - grad h_t| / |grad h_t|", "trained"),
    ("lin_to_limit", "|g_lin - L| / |L| (linearisation to its limit)", "linearization"),
    ("lin_to_kernel", "|g_lin - grad h_t| / |grad h_t| (misses the angle term)", 0.0),
    ("persist_paired", "|grad f_t - grad h_t| / |grad f_0|", 0.0),
)


def judge_trained(widths, summaries, *, level, seed, slope=measure.SLOPES["trained"]) -> list:
    """Slope of the mean relative distance ``|grad f_t - grad f_0 - grad h_t| / |grad h_t|`` in
    ``m``, and its level at the largest width (:func:`measure.level_checks`)."""
    checks = []
    for name, s in summaries.items():
        checks.append(protocol.slope_check(
            f"{name}: log-log slope of |grad f_t - grad f_0 - grad h_t| / |grad h_t| against m",
            widths, s["trained"], predicted=slope[0], band=slope[1], level=level,
            seed=protocol.derive_seed(seed, "trained", name), ci_share=measure.SLOPE_CI_SHARE,
            why=measure.SLOPE_WHY.format(slope[0])))
        checks += measure.level_checks(name, widths, s, level=level, seed=seed)
    return checks


def distance_vs_width(data: dict):
    """Relative gradient distances against width ``m`` (log-log), one panel per data set, with
    bootstrap CIs over networks at the checks' level (:data:`DISTANCES`).

    Predictions at their absolute level: the activation-flip noise for the trained network's
    residual (mean of ``sqrt(theory.activation_flip_noise_sq) / |grad h_t|``), the angle term
    for the linearisation's gap to ``grad h_t``, 1 for ``|grad f_t - grad h_t| / |grad f_0|``;
    the linearisation's convergence to ``L`` has a slope-only guide (``-1/2``).

    Args:
        data: ``{"widths": (k,), "series": {dataset: {key: (n, k)}}, "context": {dataset: {key:
            (n, k)}}, "level": float, "seed": int}``: the keys of :data:`DISTANCES`, ``"angle"``
            and ``"noise_rel"`` between the two (a report without ``"context"`` carries them
            all in ``"series"``).

    Returns:
        ``(Figure, caption)``.
    """
    widths = np.asarray(data["widths"], dtype=float)
    level = f"{100 * data['level']:.2f}"
    keys = [key for key, _, _ in DISTANCES]
    with plotting.style.style():
        fig, axes = plotting.style.new_figure(1, len(data["series"]))
    axes = np.atleast_1d(axes)
    texts = []
    for ax, name in zip(axes, data["series"]):
        s = {**data["series"][name], **data.get("context", {}).get(name, {})}
        cis = measure.figure_series({**s, "level": data["level"], "seed": data["seed"]},
                                    keys + ["angle", "noise_rel"], seed_label=name)
        predicted = [cis["noise_rel"][0], None, cis["angle"][0], np.ones_like(widths)]
        plotting.scaling_plot(
            widths, np.stack([cis[k][0] for k in keys]), np.stack([cis[k][1] for k in keys]),
            np.stack([cis[k][2] for k in keys]), labels=[label for _, label, _ in DISTANCES],
            prediction=predicted, prediction_label="predicted level (flip noise, angle term, 1)",
            slope_guide=[None, -0.5, None, None], ci_label=f"{level}% bootstrap CI over networks",
            xlabel="width m", ylabel="relative distance of input gradients", title=name, ax=ax)
        texts.append(plotting.caption(
            "{name}: |grad f_t - grad f_0 - grad h_t| / |grad h_t| falls from {a} to {b} "
            "(predicted flip noise {pa} to {pb}); the linearisation's gap to grad h_t is {g} "
            "at m = {m:d} against the angle term {t}", name=name, a=cis["trained"][0][0],
            b=cis["trained"][0][-1], pa=cis["noise_rel"][0][0], pb=cis["noise_rel"][0][-1],
            g=cis["lin_to_kernel"][0][-1], m=int(widths[-1]), t=cis["angle"][0][-1]))
    n = np.asarray(next(iter(data["series"].values()))["trained"]).shape[0]
    text = plotting.caption("Input-gradient distances against width m = {m}, {n:d} "
                            "networks per width; error bars: {level}% bootstrap CIs over "
                            "networks; dashed: predictions at their absolute level; dotted: "
                            "slope-only guide. ", m=f"{int(widths[0])}..{int(widths[-1])}", n=n, level=level) + "; ".join(texts) + "."
    with plotting.style.style():
        return plotting.style.finish(fig), text


def gradient_distance_figures(data: dict) -> dict:
    return {"gradient_distance_vs_width": distance_vs_width(data)}


@registry.claim("trained_gradient_converges_to_kernel_gradient",
                title="The trained network's gradient change converges to the kernel "
                      "predictor's gradient like m^(-1/4)",
                figures=gradient_distance_figures)
def trained_gradient_converges_to_kernel_gradient(ctx: registry.Context, *, grid=None) -> registry.Outcome:
    """``|grad f_t - grad f_0 - grad h_t| / |grad h_t|`` falls like ``m^(-1/4)``: the activation
    flips leave a random term of norm ``~ sqrt(C0 d) m^(-1/4)`` (THEORY.md 6.1)."""
    grid = grid or GRIDS[ctx.profile]
    points, _, summaries = measure.sweep(ctx, grid, "balanced")
    checks = judge_trained(grid.widths, summaries, level=ctx.level(3 * len(summaries)), seed=ctx.seed)
    checks.append(measure.loss_check(summaries))
    data = {"widths": grid.widths, "slopes": {k: v[0] for k, v in measure.SLOPES.items()},
            "series": measure.series(summaries, ("trained", "cos_delta", "noise_rel", "trained_sq",
                                                 "noise_sq")),
            "context": measure.series(summaries, ("lin_to_limit", "lin_to_kernel", "angle",
                                                  "persist_paired")),
            "C0_hat": measure.series(summaries, ("C0_hat",)),
            "loss_ratio": measure.series(summaries, ("loss_ratio",)),
            "level": ctx.level(3 * len(summaries)), "seed": ctx.seed}
    notes = "C0_hat after training per width (mean over networks), and C0_hat / sqrt(d): " + "; ".join(
        f"{name} " + ", ".join(f"{v:.2f} ({v / math.sqrt(measure.D):.2f})"
                               for v in s["C0_hat"].mean(axis=0))
        for name, s in summaries.items()) + ". Squared loss, full-batch gradient descent."
    return registry.Outcome(
        checks, data, measure.config(grid, points), notes, inputs=("widths", "slopes", "level", "seed"),
        judged={"series": ("log-log slope of |grad f_t - grad f_0 - grad h_t|", "RMS flip noise",
                           "mean cos(grad f_t - grad f_0, grad h_t)"),
                "loss_ratio": ("training lowers the training loss",)},
        unjudged={"context": "drawn for comparison; judged on these same networks (one sweep "
                             "cache) by linearization_gradient_misses_activation_flips (lin_to_limit, "
                             "lin_to_kernel, angle) and init_gradient_term_persists (persist_paired)",
                  "C0_hat": "the radius reached by unconstrained training has no prediction; "
                            "lazy_value_drift_bound judges the lemma |f_t - f_0| <= C0_hat ||x|| on "
                            "these same networks"})
