"""Claim ``empirical_matches_neural_tangents``: the closed-form empirical NTK equals
neural-tangents' ``empirical_ntk_fn`` of the stax net with the model's signs (THEORY.md 5)."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import kernels, models
from verification import protocol, registry

CACHE_VERSION = 1
EMPIRICAL_TOL = 1e-13


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """``n`` points in ``R^d``, one network of width ``m`` per sign scheme in ``signs``."""
    n: int
    d: int
    m: int
    signs: tuple = ("balanced", "random")


GRIDS = {"quick": Grid(n=32, d=16, m=512), "full": Grid(n=128, d=196, m=2048)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmpiricalPoint:
    """One network and input set; ``nt_readout="model"`` gives neural-tangents the model's
    signs ``a``, ``"nt_init"`` its own ``N(0, 1)`` draw (the pitfall the check guards against)."""
    n: int
    d: int
    m: int
    signs: str
    seed: int
    nt_readout: str = "model"


def empirical_point(point: EmpiricalPoint) -> dict:
    """Relative max difference ``max |K_closed - K_nt| / max |K_closed|`` for each NT
    implementation, first layer only and both layers: `(2 implementations, 2)`."""
    key_x, key_net, key_nt = jax.random.split(jax.random.PRNGKey(point.seed), 3)
    x = jax.random.normal(key_x, (point.n, point.d))
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    params = models.init_two_layer(key_net, point.d, point.m, signs=point.signs)
    init_fn, apply_fn, _ = kernels.stax_net(point.d, point.m)
    stax_params = kernels.to_stax_params(params)
    if point.nt_readout == "nt_init":
        stax_params[2] = init_fn(key_nt, (-1, point.d))[1][2]

    def first_layer(W, u):
        return apply_fn([W, (), stax_params[2]], u)

    out = []
    for implementation in kernels.NTK_IMPLEMENTATIONS:
        row = []
        for second_layer, fn, p in ((False, first_layer, stax_params[0]), (True, apply_fn, stax_params)):
            ours = np.asarray(kernels.empirical_ntk(params, x, second_layer=second_layer))
            theirs = np.asarray(kernels.empirical_ntk_fn(fn, vmap_axes=0, implementation=implementation)(
                x, None, p))
            row.append(np.max(np.abs(ours - theirs)) / np.max(np.abs(ours)))
        out.append(row)
    return {"rel_diff": np.array(out)}


def judge_empirical(results: dict) -> list:
    band = protocol.Band(0, EMPIRICAL_TOL, 0, "float64 rounding of sums over d inputs and m neurons "
                         "in different orders: ~sqrt(d + m) eps ~ 1e-14; 1e-13 leaves 10x.")
    return [protocol.exact_check(f"{signs} signs: max relative |closed form - empirical_ntk_fn|",
                                 prediction="<= 1e-13", value=np.max(r["rel_diff"]), band=band,
                                 note="max over jacobian_contraction / ntk_vector_products, W only / W and a")
            for signs, r in results.items()]


@registry.claim("empirical_matches_neural_tangents",
                title="Closed-form empirical NTK equals neural-tangents' empirical_ntk_fn")
def empirical_matches_neural_tangents(ctx: registry.Context, *, grid: Grid | None = None
                                      ) -> registry.Outcome:
    """The empirical first-layer NTK ``(X X^T) * (A A^T) / m`` (and with the second-layer term)
    equals neural-tangents' ``empirical_ntk_fn`` of the stax net with the model's signs, to
    1e-13 relative in float64."""
    if not kernels.neural_tangents_available():
        raise registry.Skip(kernels.NT_MISSING)
    grid = grid or GRIDS[ctx.profile]
    points = [EmpiricalPoint(n=grid.n, d=grid.d, m=grid.m, signs=signs,
                             seed=protocol.derive_seed(ctx.seed, "empirical", signs))
              for signs in grid.signs]
    results = dict(zip([p.signs for p in points],
                       ctx.runner.map(empirical_point, points, desc="empirical NTK")))
    return registry.Outcome(judge_empirical(results),
                            {s: {"rel_diff": r["rel_diff"]} for s, r in results.items()},
                            {"points": [dataclasses.asdict(p) for p in points],
                             "rel_diff_axes": [list(kernels.NTK_IMPLEMENTATIONS), ["W", "W and a"]]},
                            notes="neural-tangents draws the readout from N(0, 1); it is set to the "
                                  "model's +-1 signs, otherwise the kernels differ by a_s^2.",
                            judged={s: (f"{s} signs: max relative",) for s in results})
