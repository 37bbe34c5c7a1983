"""Claim ``antisymmetric_init_gradient_converges``: with ``f_0 == 0``, ``grad f_t -> grad h_t``
like ``m^(-1/4)`` (THEORY.md 6.5; notation in :mod:`.measure`)."""
import numpy as np

from ntk_attack import plotting
from verification import protocol, registry
from verification.claims.gradients import measure

CACHE_VERSION = 1
GRIDS = dict(measure.SWEEPS)


def judge_antisymmetric(widths, summaries, *, level, seed) -> list:
    """Slope of ``|grad f_t - grad h_t| / |grad h_t|`` in ``m`` (``f_0 == 0``, ``h_t`` fit to
    ``Y``) and its level at the largest width (:func:`measure.level_checks`)."""
    checks, slope = [], measure.SLOPES["antisymmetric"]
    for name, s in summaries.items():
        checks.append(protocol.slope_check(
            f"{name}: log-log slope of |grad f_t - grad h_t| / |grad h_t| against m (antisymmetric "
            "init)", widths, s["trained"], predicted=slope[0], band=slope[1], level=level,
            seed=protocol.derive_seed(seed, "antisymmetric", name),
            ci_share=measure.SLOPE_CI_SHARE, why=measure.SLOPE_WHY.format(slope[0])))
        checks += measure.level_checks(name, widths, s, level=level,
                                       seed=protocol.derive_seed(seed, "antisymmetric"),
                                       what="grad f_t - grad h_t")
    return checks


def cosine_vs_width(data: dict):
    """Cosine between network and kernel-predictor input gradients against width ``m``, one
    panel per data set, with bootstrap CIs over networks at the checks' level.

    Series: ``cos(grad f_t, grad h_t)`` with antisymmetric init (``f_0 == 0``) and, with
    balanced init, ``cos(grad f_t, grad h_t)`` (small: the init's ``sqrt(d)`` gradient) and
    ``cos(grad f_t - grad f_0, grad h_t)``. Dashed: the predicted cosine at each width,
    :func:`ntk_attack.theory.noisy_cosine` of ``|grad h_t|`` and the activation-flip noise (1 as
    ``m -> inf``); the balanced ``cos(grad f_t, grad h_t)`` has no drawn prediction.

    Args:
        data: ``{"widths": (k,), "series": {dataset: {"cos_full", "cos_pred": (n, k)}},
            "balanced": {dataset: {"cos_full", "cos_delta", "cos_pred": (n', k)}}, "level",
            "seed"}``.

    Returns:
        ``(Figure, caption)``.
    """
    widths = np.asarray(data["widths"], dtype=float)
    level = f"{100 * data['level']:.2f}"
    with plotting.style.style():
        fig, axes = plotting.style.new_figure(1, len(data["series"]))
    axes = np.atleast_1d(axes)
    texts = []
    for ax, name in zip(axes, data["series"]):
        anti = measure.figure_series({**data["series"][name], "level": data["level"],
                                      "seed": data["seed"]}, ("cos_full", "cos_pred"),
                                     seed_label=f"anti {name}")
        bal = measure.figure_series({**data["balanced"][name], "level": data["level"],
                                     "seed": data["seed"]}, ("cos_full", "cos_delta", "cos_pred"),
                                    seed_label=f"bal {name}")
        lines = [anti["cos_full"], bal["cos_full"], bal["cos_delta"]]
        plotting.scaling_plot(
            widths, np.stack([c[0] for c in lines]), np.stack([c[1] for c in lines]),
            np.stack([c[2] for c in lines]),
            labels=["antisymmetric init: cos(grad f_t, grad h_t)",
                    "balanced init: cos(grad f_t, grad h_t)",
                    "balanced init: cos(grad f_t - grad f_0, grad h_t)"],
            prediction=[anti["cos_pred"][0], None, bal["cos_pred"][0]],
            prediction_label="predicted: theory.noisy_cosine(|grad h_t|, flip noise)",
            logy=False, ci_label=f"{level}% bootstrap CI over networks", xlabel="width m",
            ylabel="cosine similarity (mean over test points)", title=name, ax=ax)
        texts.append(plotting.caption(
            "{name}, m = {m:d}: antisymmetric {a} (predicted {pa}), balanced full {b}, "
            "balanced change {c} (predicted {pc})", name=name, m=int(widths[-1]),
            a=anti["cos_full"][0][-1], pa=anti["cos_pred"][0][-1], b=bal["cos_full"][0][-1],
            c=bal["cos_delta"][0][-1], pc=bal["cos_pred"][0][-1]))
    n_anti = np.asarray(next(iter(data["series"].values()))["cos_full"]).shape[0]
    n_bal = np.asarray(next(iter(data["balanced"].values()))["cos_full"]).shape[0]
    text = plotting.caption("Cosines between network and kernel-predictor input gradients, "
                            "m = {m}; {na:d} antisymmetric and {nb:d} balanced networks per "
                            "width; error bars: {level}% bootstrap CIs over networks; dashed: "
                            "predicted cosine at each width (limit 1). ", m=f"{int(widths[0])}..{int(widths[-1])}", na=n_anti,
                            nb=n_bal, level=level) + "; ".join(texts) + "."
    with plotting.style.style():
        return plotting.style.finish(fig), text


def cosine_figures(data: dict) -> dict:
    return {"gradient_cosine_vs_width": cosine_vs_width(data)}


@registry.claim("antisymmetric_init_gradient_converges",
                title="With antisymmetric init, grad f_t converges to grad h_t like m^(-1/4)",
                figures=cosine_figures)
def antisymmetric_init_gradient_converges(ctx: registry.Context, *, grid=None) -> registry.Outcome:
    """With antisymmetric init ``f_0 == 0``, so ``grad f_t -> grad h_t(.; Y)`` as ``m`` grows,
    like ``m^(-1/4)`` as for the balanced network's gradient change (THEORY.md 6.5)."""
    grid = grid or GRIDS[ctx.profile]
    points, _, summaries = measure.sweep(ctx, grid, "antisymmetric")
    _, _, balanced = measure.sweep(ctx, grid, "balanced")
    checks = judge_antisymmetric(grid.widths, summaries, level=ctx.level(3 * len(summaries)),
                                 seed=ctx.seed)
    data = {"widths": grid.widths, "slopes": {"antisymmetric": measure.SLOPES["antisymmetric"][0]},
            "series": measure.series(summaries, ("trained", "cos_full", "cos_pred", "trained_sq",
                                                 "noise_sq")),
            "balanced": measure.series(balanced, ("cos_full", "cos_delta", "cos_pred")),
            "level": ctx.level(3 * len(summaries)), "seed": ctx.seed}
    notes = "Mean cos(grad f_t, grad h_t) per width, antisymmetric vs balanced: " + "; ".join(
        f"{name} " + ", ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(s["cos_full"].mean(axis=0),
                                                                balanced[name]["cos_full"].mean(axis=0)))
        for name, s in summaries.items())
    return registry.Outcome(
        checks, data, measure.config(grid, points), notes, inputs=("widths", "slopes", "level", "seed"),
        judged={"series": ("log-log slope of |grad f_t - grad h_t| / |grad h_t| against m "
                           "(antisymmetric", "RMS |grad f_t - grad h_t| / RMS flip noise",
                           "mean cos(grad f_t - grad f_0, grad h_t)")},
        unjudged={"balanced": "drawn for contrast: the balanced networks' cos(grad f_t - grad f_0, "
                              "grad h_t) is judged by trained_gradient_converges_to_kernel_gradient on "
                              "the same networks; their cos(grad f_t, grad h_t) has no prediction "
                              "(the init's gradient term, judged by init_gradient_term_persists)"})
