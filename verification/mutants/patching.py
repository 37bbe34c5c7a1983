"""How a planted bug is put into the library at run time, and taken out again.

A patch names a *target* from :data:`TARGETS` (one table: porting to a renamed function is a
one-line change there) and a factory ``original -> replacement``. Entering a mutant

1. resolves each target to the object the library defines (``module:qualname``);
2. builds the replacement from it, either by a textual edit of the function's own source
   (:func:`edit`: the replacement is the real code with one mistake, compiled against the
   module's globals and re-decorated, so ``jax.jit`` with its static arguments is kept) or by a
   wrapper (:func:`wrap`);
3. sets the replacement on *every* loaded module of ``ntk_attack`` / ``verification`` / tests
   that bound the original object (``from ntk_attack.models import apply`` makes a second
   binding in the importing module; callers look the name up there at call or trace time),
   or on the class for a method;
4. calls :func:`jax.clear_caches` (a function jitted before the patch keeps its traced code)
   and clears the ``functools`` memo caches of those modules (memoised data loaders).

Exit restores every binding and clears the caches again. An :func:`edit` whose text is not
found exactly ``count`` times raises ``LookupError`` at enter: a mutant never silently becomes
a no-op after the code it mutates changes.

Processes: patches live in one process. Run mutated claims with the in-process executor
(``workers=1``), or enter the mutant in every spawned worker with :func:`enter_for_process`
as (part of) the worker initializer, after the claim modules are imported there.
"""
import contextlib
import dataclasses
import importlib
import inspect
import sys
import textwrap
from typing import Callable

import jax

# Logical target -> "module:qualname" of the definition the mutants change.
TARGETS = {
    "apply": "ntk_attack.models:apply",
    "input_grad": "ntk_attack.models:input_grad",
    "init_two_layer": "ntk_attack.models:init_two_layer",
    "analytic_kernels": "ntk_attack.kernels:_analytic",
    "kappa0": "ntk_attack.kernels:_kappa0",
    "empirical_ntk_core": "ntk_attack.kernels:_empirical_ntk",
    "kernel_predictor_grad": "ntk_attack.predictors:KernelPredictor.input_grad",
    "linearize": "ntk_attack.predictors:linearize",
    "ensemble_input_grad": "ntk_attack.predictors:ensemble_input_grad",
    "network_loss": "ntk_attack.training:_network_loss",
    "row_radius": "ntk_attack.training:_row_radius",
    "C0_hat": "ntk_attack.training:C0_hat",
    "min_flip_exact": "ntk_attack.attacks:_min_flip_exact",
    "attack_direction": "ntk_attack.attacks:_direction",
    "breakpoint_walk": "ntk_attack.attacks:_first_zero_sorted",
    "flip_status": "ntk_attack.attacks:_status",
    "lazy_envelope": "ntk_attack.theory.two_layer:lazy_envelope",
    "calibrate_kappa": "ntk_attack.bounds:calibrate_kappa",
    "K_hat": "ntk_attack.bounds:K_hat",
    "train_test_split": "ntk_attack.data:_split",
    "sphere_data": "ntk_attack.data:sphere",
    # adversarial family
    "adversarial_train": "ntk_attack.adversarial:adversarial_train",
    "adversarial_train_core": "ntk_attack.adversarial:_adversarial_train",
    "pgd_core": "ntk_attack.labelled_attacks:_pgd",
    # deep family (ntk_attack.deep_training arrives with the deep branch)
    "deep_layer_scale": "ntk_attack.deep:layer_scale",
    "deep_W_std_hidden": "ntk_attack.deep:W_STD_HIDDEN",
    "deep_W_std_readout": "ntk_attack.deep:W_STD_READOUT",
    "deep_init": "ntk_attack.deep:init_deep",
    "deep_walk": "ntk_attack.deep:_walk",
    "deep_project": "ntk_attack.deep_training:project_deep",
}
# Packages whose modules may hold a binding of a target.
SCANNED = ("ntk_attack", "verification", "tests", "conftest")


@dataclasses.dataclass(frozen=True)
class Patch:
    """Replace ``TARGETS[target]`` by ``factory(original)`` while a mutant is active."""
    target: str
    factory: Callable


def resolve(target: str):
    """``(owner, attribute, original)`` of a :data:`TARGETS` entry (owner: module or class)."""
    try:
        module_name, qualname = TARGETS[target].split(":")
    except KeyError:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}. Got {target!r}.") from None
    owner = importlib.import_module(module_name)
    *path, attribute = qualname.split(".")
    for name in path:
        owner = getattr(owner, name)
    return owner, attribute, owner.__dict__[attribute] if isinstance(owner, type) \
        else getattr(owner, attribute)


def bindings(owner, attribute: str, original) -> list:
    """Every ``(namespace, name)`` holding ``original``: the owner, and for a module-level
    object each scanned module that imported it under any name."""
    found = [(owner, attribute)]
    if isinstance(owner, type):
        return found
    for module_name, module in list(sys.modules.items()):
        if module is owner or module is None or not module_name.startswith(SCANNED):
            continue
        for name, value in list(vars(module).items()):
            if value is original:
                found.append((module, name))
    return found


def edit(target: str, *replacements) -> Patch:
    """A patch replacing text in the target's source: each ``(old, new)`` pair (or
    ``(old, new, count)``) must match exactly once (``count`` times).

    The edited source, decorators included, is executed in a copy of the defining module's
    namespace, so the mutant is the library's own code with one mistake.
    """
    def factory(original):
        function = inspect.unwrap(original)
        source = textwrap.dedent(inspect.getsource(function))
        for old, new, *count in replacements:
            count = count[0] if count else 1
            found = source.count(old)
            if found != count:
                raise LookupError(f"mutant edit of {TARGETS[target]} expects {count} occurrence(s) "
                                  f"of {old!r}. Got {found}: the code changed; update the mutant.")
            source = source.replace(old, new)
        namespace = dict(vars(sys.modules[function.__module__]))
        exec(compile(source, f"<mutant of {TARGETS[target]}>", "exec"), namespace)
        return namespace[function.__name__]
    return Patch(target, factory)


def wrap(target: str, factory: Callable) -> Patch:
    """A patch whose replacement ``factory(original)`` is written by hand (e.g. a wrapper)."""
    return Patch(target, factory)


def clear_caches():
    """Drop traced jit code and the memo caches of the scanned modules."""
    jax.clear_caches()
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(SCANNED):
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and hasattr(value, "__wrapped__"):
                value.cache_clear()


@contextlib.contextmanager
def patched(patches):
    """Context manager applying ``patches`` (see the module docstring) and undoing them."""
    applied = []
    try:
        for patch in patches:
            owner, attribute, original = resolve(patch.target)
            replacement = patch.factory(original)
            for namespace, name in bindings(owner, attribute, original):
                applied.append((namespace, name, vars(namespace)[name]))
                setattr(namespace, name, replacement)
        clear_caches()
        yield
    finally:
        for namespace, name, value in reversed(applied):
            setattr(namespace, name, value)
        clear_caches()


_PROCESS_STACK = contextlib.ExitStack()


def enter_for_process(mutant) -> None:
    """Enter ``mutant`` for the rest of this process (a spawned sweep worker's initializer).

    Import the claim modules before calling it, so that their bindings are patched too.
    """
    _PROCESS_STACK.enter_context(mutant())
