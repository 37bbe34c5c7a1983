"""Planted bugs for the deep claim family: each mutant is a context manager that patches one
module attribute of the library at run time (the name the code looks up at call time) and
clears JAX's compilation caches on entry and exit, so jitted functions retrace with the bug and
without it afterwards.

Run a claim under a mutant with a runner of its own (a tag or a fresh cache folder): the sweep
cache keys on source code, which a run-time patch does not change.

    python -m verification.mutants_deep [MUTANT ...]

runs the family's quick profile under each mutant in this process and prints which checks fail.
"""
import contextlib
import math
import sys
import tempfile
import time

import jax
import jax.numpy as jnp

from ntk_attack import attacks, deep, deep_training


@contextlib.contextmanager
def patched(module, name: str, value):
    """``module.name = value`` inside the block (JAX caches cleared on entry and exit)."""
    original = getattr(module, name)
    jax.clear_caches()
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)
        jax.clear_caches()


def _shared_init(init):
    """Hidden layers of equal shape all get the first such layer's weights (a reused key)."""
    def init_deep(key, d, widths, **kwargs):
        params = init(key, d, widths, **kwargs)
        first = {}
        weights = tuple(first.setdefault(W.shape, W) for W in params.weights)
        return params._replace(weights=weights)
    return init_deep


def _sign_readout(init):
    """Readout ``+-1`` (the two-layer model's signs) instead of ``N(0, 1)``."""
    def init_deep(key, d, widths, **kwargs):
        params = init(key, d, widths, **kwargs)
        return params._replace(readout=jnp.sign(params.readout))
    return init_deep


def _unscaled_projection(params, params0, C0):
    """The lazy ball of radius ``C0`` per unit instead of ``C0 / sqrt(n_l)``."""
    weights = tuple(deep_training._project(W, W0, C0) for W, W0 in zip(params.weights, params0.weights))
    readout = deep_training._project(params.readout[:, None], params0.readout[:, None], C0)[:, 0]
    return deep.DeepNet(weights, readout, params.activation)


def _input_direction(f0, grad, grad_norm):
    """Attack along ``-sign(f) x``-like direction: the gradient's radial part only."""
    return -jnp.sign(f0)[:, None] * jnp.ones_like(grad) / math.sqrt(grad.shape[-1])


MUTANTS = {
    "fan-in normalisation by n instead of sqrt n":
        lambda: patched(deep, "layer_scale", lambda W, sigma: sigma / W.shape[0]),
    "normalised by the output width":
        lambda: patched(deep, "layer_scale", lambda W, sigma: sigma / math.sqrt(W.shape[-1])),
    "hidden W_std = 1 instead of sqrt 2": lambda: patched(deep, "W_STD_HIDDEN", 1.0),
    "readout W_std = sqrt 2 instead of 1": lambda: patched(deep, "W_STD_READOUT", math.sqrt(2.0)),
    "all hidden layers share one weight matrix":
        lambda: patched(deep, "init_deep", _shared_init(deep.init_deep)),
    "readout +-1 instead of N(0, 1)":
        lambda: patched(deep, "init_deep", _sign_readout(deep.init_deep)),
    "lazy ball C0 instead of C0 / sqrt(n_l)":
        lambda: patched(deep_training, "project_deep", _unscaled_projection),
    "attack along a fixed direction instead of the gradient":
        lambda: patched(attacks, "_direction", _input_direction),
}
CLAIMS = ("deep_gradient_norm_matches_kernel", "deep_gradient_fluctuations_follow_beta",
          "deep_empirical_ntk_converges", "deep_attack_scales_as_inverse_sqrt_d",
          "deep_lazy_training_attack")


def run(mutant: str, *, profile: str = "quick", seed: int = 0, grids: dict | None = None) -> dict:
    """Every deep claim under ``mutant`` with a fresh cache: ``{claim: [(check, verdict)]}``."""
    from verification import registry, sweep

    claims = registry.all_claims()
    out = {}
    with tempfile.TemporaryDirectory() as cache, MUTANTS[mutant]():
        ctx = registry.Context(profile=profile, seed=seed, family_size=len(claims),
                               runner=sweep.SweepRunner(cache, quiet=True), tag="mutant")
        for claim in CLAIMS:
            outcome = claims[claim].run(ctx, grid=(grids or {}).get(claim))
            out[claim] = [(c.name, c.verdict, c.estimate) for c in outcome.checks]
    return out


def main(names) -> int:
    jax.config.update("jax_enable_x64", True)
    missed = 0
    for name in names or MUTANTS:
        start = time.process_time()
        result = run(name)
        failed = {claim: [n for n, v, _ in checks if v == "fail"] for claim, checks in result.items()}
        killed = any(failed.values())
        missed += not killed
        print(f"{'killed' if killed else 'MISSED'}: {name} ({time.process_time() - start:.0f} s CPU)")
        for claim, checks in result.items():
            for check, verdict, estimate in checks:
                print(f"    {verdict:12s} {claim}: {check} = {estimate:.4g}")
        sys.stdout.flush()
    return missed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
