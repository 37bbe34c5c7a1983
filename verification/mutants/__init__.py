"""Planted bugs that the verification must catch (claim power).

``MUTANTS`` maps a name to a :class:`Mutant`; ``with MUTANTS[name](): ...`` runs the library
with the bug (see :mod:`verification.mutants.patching` for how, and for worker processes).
The two-layer catalogue is :mod:`~verification.mutants.catalogue`; a family's own mutants live
in a module of this package that registers them with :func:`register` and is imported below
(one line per family module).
"""
from verification.mutants.catalogue import FAMILIES, MUTANTS, Mutant, register
from verification.mutants.patching import TARGETS, enter_for_process

# Family modules register on import, one line each.
from verification.mutants import adversarial, deep  # noqa: E402,F401

__all__ = ["FAMILIES", "MUTANTS", "Mutant", "TARGETS", "enter_for_process", "register"]
