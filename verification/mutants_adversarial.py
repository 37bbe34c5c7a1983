"""Planted bugs for the adversarial-training claims: each is the library's own code with one
mistake, entered as a context manager.

A mutant replaces, for the duration of a ``with`` block, a module attribute that the code looks
up at call time (``ntk_attack.adversarial.adversarial_train``, which the claims and the command
line call through the module; ``ntk_attack.labelled_attacks._pgd``, which ``pgd`` and adversarial
training call through the module's globals). The replacement is the function's source with one
textual edit, compiled in the defining module's namespace and re-decorated (``jax.jit`` with its
static arguments kept). ``jax.clear_caches()`` runs on enter and exit, so no code traced before
the patch survives it, and the memoised loaders of the claim family are cleared with it.

:data:`MUTANTS` maps each name to ``(description, claims expected to fail)``; ``python -m
verification.mutants_adversarial`` runs the family's quick profile under each mutant in this
process and prints which claims fail.
"""
import contextlib
import importlib
import inspect
import sys
import textwrap

import jax


def _edited(module_name: str, name: str, old: str, new: str):
    """``module.name`` recompiled from its source with ``old`` replaced by ``new`` (exactly once)."""
    module = importlib.import_module(module_name)
    function = inspect.unwrap(getattr(module, name))
    source = textwrap.dedent(inspect.getsource(function))
    if source.count(old) != 1:
        raise LookupError(f"mutant of {module_name}.{name} expects one occurrence of {old!r}. "
                          f"Got {source.count(old)}: the code changed; update the mutant.")
    namespace = dict(vars(module))
    exec(compile(source.replace(old, new), f"<mutant of {module_name}.{name}>", "exec"), namespace)
    return namespace[name]


def _clear():
    jax.clear_caches()
    from verification.claims.adversarial import measure
    measure.load.cache_clear()


@contextlib.contextmanager
def _patched(module_name: str, name: str, old: str, new: str):
    module = importlib.import_module(module_name)
    original = getattr(module, name)
    replacement = _edited(module_name, name, old, new)
    setattr(module, name, replacement)
    _clear()
    try:
        yield
    finally:
        setattr(module, name, original)
        _clear()


def lazy_radius_not_scaled():
    """The lazy row radius is ``C0`` instead of ``C0 / sqrt(m)``."""
    return _patched("ntk_attack.adversarial", "adversarial_train",
                    "row_radius = C0 / math.sqrt(m) if", "row_radius = C0 if")


def pgd_step_not_projected():
    """PGD iterates are never projected back onto ``||delta|| <= eps``."""
    return _patched("ntk_attack.labelled_attacks", "_pgd",
                    "delta = _project(delta - step_size * _ascent(grad, norm), eps, norm)",
                    "delta = delta - step_size * _ascent(grad, norm)")


def projection_before_step():
    """Rows are projected onto the ball before the gradient step instead of after it."""
    return _patched("ntk_attack.adversarial", "_adversarial_train",
                    "return project_rows(W - lr * grad_W(W, xb + delta, yb), W0, row_radius), None",
                    "return project_rows(W, W0, row_radius) - lr * grad_W(W, xb + delta, yb), None")


MUTANTS = {
    "lazy_radius_not_scaled": (lazy_radius_not_scaled,
                               ("adversarial_training_stays_in_ball",
                                "adversarial_training_obeys_envelope")),
    "pgd_step_not_projected": (pgd_step_not_projected,
                               ("adversarial_training_helps_only_outside_lazy_regime",)),
    "projection_before_step": (projection_before_step,
                               ("adversarial_training_stays_in_ball",
                                "adversarial_training_obeys_envelope")),
}
FAILED_CHECKS: dict = {}
CLAIMS = ("adversarial_training_stays_in_ball", "adversarial_training_obeys_envelope",
          "adversarial_training_helps_only_outside_lazy_regime")


def run(names=tuple(MUTANTS), *, out_dir: str, family_size: int = len(CLAIMS)) -> dict:
    """``{mutant: {claim: verdict}}``: the family's quick profile under each mutant, in process
    (fresh cache under ``out_dir/<mutant>``); the names of the failed checks go to
    :data:`FAILED_CHECKS` ``{(mutant, claim): [names]}``."""
    from verification import protocol, registry, sweep

    specs = registry.all_claims()
    verdicts = {}
    for name in names:
        mutant, _ = MUTANTS[name]
        runner = sweep.SweepRunner(f"{out_dir}/{name}", quiet=True, tag=name)
        ctx = registry.Context(profile="quick", seed=0, runner=runner, family_size=family_size,
                               tag=name)
        verdicts[name] = {}
        with mutant():
            for claim in CLAIMS:
                checks = specs[claim].run(ctx).checks
                verdicts[name][claim] = protocol.overall_verdict(checks)
                FAILED_CHECKS[name, claim] = [c.name for c in checks if c.verdict == "fail"]
    return verdicts


if __name__ == "__main__":
    import tempfile

    from verification import enable_x64

    enable_x64()
    results = run(sys.argv[1:] or tuple(MUTANTS), out_dir=tempfile.mkdtemp())
    for name, verdicts in results.items():
        killed = [claim for claim, verdict in verdicts.items() if verdict == "fail"]
        print(f"{name}: {'killed by ' + ', '.join(killed) if killed else 'SURVIVED'}; {verdicts}")
        for claim in killed:
            print(f"    {claim}: " + "; ".join(FAILED_CHECKS[name, claim]))
