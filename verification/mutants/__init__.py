"""Planted bugs that the verification must catch (claim power).

``MUTANTS`` maps a name to a :class:`Mutant`; ``with MUTANTS[name](): ...`` runs the library
with the bug in this process (see :mod:`verification.mutants.patching` for how), and
``MUTANTS[name].probe()`` is a fixed call whose output the bug changes
(:mod:`verification.mutants.probes`).
The two-layer catalogue is :mod:`~verification.mutants.catalogue`; a family's own mutants live
in a module of this package that registers them with :func:`register` and is imported below
(one line per family module).

Mutants of claims outside the project: a package declares a module under the entry-point group
:data:`ENTRY_POINT_GROUP` (``ntk_attack.mutants``, beside its ``ntk_attack.claims`` entry);
importing this package imports that module, which registers its mutants with :func:`mutant`
or :func:`register`, naming its own top-level package as their family
(:func:`~verification.mutants.catalogue.known_families`). ``ntk-attack verify --power`` then
runs them like the project's own.
"""
import importlib
import importlib.metadata

from verification.mutants.catalogue import FAMILIES, MUTANTS, Mutant, known_families, mutant, register
from verification.mutants.patching import Attribute, edit, holding, wrap

# Family modules register on import, one line each.
from verification.mutants import adversarial, deep  # noqa: E402,F401

ENTRY_POINT_GROUP = "ntk_attack.mutants"


def load_entry_points() -> None:
    """Import every module of the group :data:`ENTRY_POINT_GROUP` (each registers its mutants).

    Raises:
        ValueError: a module that cannot be imported, naming it and the reason.
    """
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            importlib.import_module(entry.value)
        except Exception as error:  # noqa: BLE001  (any failure to import is the package's to fix)
            raise ValueError(f"cannot import mutant module {entry.value!r} of entry point "
                             f"{entry.name!r} ({type(error).__name__}: {error}).") from None


load_entry_points()

__all__ = ["Attribute", "ENTRY_POINT_GROUP", "FAMILIES", "MUTANTS", "Mutant", "edit", "holding", "known_families",
           "load_entry_points", "mutant", "register", "wrap"]
