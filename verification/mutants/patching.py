"""How a planted bug is put into the library at run time, and taken out again.

A patch names its *target* by the object itself (``edit(models.readout, (old, new))``), or for a
module-level constant by its module and name (``Attribute(deep, "W_STD_HIDDEN")``), or, for a
package outside the project that should not name private functions, by a line of its source
(``holding(attacks, "crossed = finite & (value <= slack)")``), and gives a factory
``original -> replacement``. Entering a mutant

1. locates the target where it is defined (the object's ``__module__`` and ``__qualname__``)
   and checks that the definition there is still that object: code that moved or was renamed
   fails at once with ``LookupError`` naming the mutant's target, never a silent no-op;
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

Exit restores every binding and clears the caches again. A caller that runs the library under
:func:`jax.disable_jit` (the probes) reuses no traced code, so ``eager=True`` keeps JAX's caches
(its compiled primitives) and clears only the memo caches: entering is then free of
recompilation. An :func:`edit` whose text is not
found exactly ``count`` times raises ``LookupError`` at enter, naming the target.

Processes: patches live in one process; run mutated claims with the in-process executor
(``workers=1``).
"""
import contextlib
import dataclasses
import inspect
import sys
import textwrap
from typing import Callable

import jax

# Packages whose modules may hold a binding of a target.
SCANNED = ("ntk_attack", "verification", "tests", "conftest")


@dataclasses.dataclass(frozen=True)
class Attribute:
    """A module-level value that is not a function (a constant), named by its module object."""
    module: object
    name: str


@dataclasses.dataclass(frozen=True)
class Patch:
    """Replace ``target`` (a function, method or :class:`Attribute`) by ``factory(original)``
    while a mutant is active."""
    target: object
    factory: Callable


def holding(module, text: str):
    """The one function or class defined in ``module`` whose own source contains ``text``
    (typically the line a mutant edits), so a mutant outside the project names its target
    without naming a private function.

    Raises:
        LookupError: ``text`` is in no function of ``module``, or in several.
    """
    found = [value for value in vars(module).values()
             if (inspect.isfunction(inspect.unwrap(value)) or inspect.isclass(value))
             and getattr(value, "__module__", None) == module.__name__
             and text in inspect.getsource(inspect.unwrap(value))]
    if len(found) != 1:
        raise LookupError(f"mutant target: {module.__name__} must define exactly one function holding "
                          f"{text!r}; got {len(found)}: the code changed, update the mutant.")
    return found[0]


def name(target) -> str:
    """``"module:qualname"`` of a target."""
    if isinstance(target, Attribute):
        return f"{target.module.__name__}:{target.name}"
    return f"{target.__module__}:{target.__qualname__}"


def resolve(target):
    """``(owner, attribute, original)`` of a target (owner: module or class).

    Raises:
        LookupError: the target is no longer defined where it says (the code moved).
    """
    if isinstance(target, Attribute):
        if target.name not in vars(target.module):
            raise LookupError(f"mutant target {name(target)} no longer exists: the code changed; "
                              "update the mutant.")
        return target.module, target.name, vars(target.module)[target.name]
    owner = sys.modules.get(target.__module__)
    *path, attribute = target.__qualname__.split(".")
    for part in path:
        owner = getattr(owner, part, None)
    found = vars(owner).get(attribute) if owner is not None else None
    if found is not target:
        raise LookupError(f"mutant target {name(target)} is not defined there any more (moved, "
                          "renamed or already patched): update the mutant.")
    return owner, attribute, found


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


def edit(target, *replacements) -> Patch:
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
                raise LookupError(f"mutant edit of {name(target)} expects {count} occurrence(s) "
                                  f"of {old!r}; got {found}: the code changed, update the mutant.")
            source = source.replace(old, new)
        namespace = dict(vars(sys.modules[function.__module__]))
        exec(compile(source, f"<mutant of {name(target)}>", "exec"), namespace)
        return namespace[function.__name__]
    return Patch(target, factory)


def wrap(target, factory: Callable) -> Patch:
    """A patch whose replacement ``factory(original)`` is written by hand (e.g. a wrapper)."""
    return Patch(target, factory)


def clear_caches(*, eager: bool = False):
    """Drop the memo caches of the scanned modules and, unless ``eager``, JAX's traced code."""
    if not eager:
        jax.clear_caches()
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(SCANNED):
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and hasattr(value, "__wrapped__"):
                value.cache_clear()


@contextlib.contextmanager
def patched(patches, *, eager: bool = False):
    """Context manager applying ``patches`` (see the module docstring) and undoing them.

    Args:
        patches: :class:`Patch` list.
        eager: the caller runs the library under :func:`jax.disable_jit`: keep JAX's caches.
    """
    applied = []
    try:
        for patch in patches:
            owner, attribute, original = resolve(patch.target)
            replacement = patch.factory(original)
            for namespace, name in bindings(owner, attribute, original):
                applied.append((namespace, name, vars(namespace)[name]))
                setattr(namespace, name, replacement)
        clear_caches(eager=eager)
        yield
    finally:
        for namespace, name, value in reversed(applied):
            setattr(namespace, name, value)
        clear_caches(eager=eager)
