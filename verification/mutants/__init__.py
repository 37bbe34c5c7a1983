"""Planted bugs that the verification must catch (claim power).

``MUTANTS`` maps a name to a :class:`Mutant`; ``with MUTANTS[name](): ...`` runs the library
with the bug in this process (see :mod:`verification.mutants.patching` for how), and
``MUTANTS[name].probe()`` is a fixed call whose output the bug changes
(:mod:`verification.mutants.probes`).
The two-layer catalogue is :mod:`~verification.mutants.catalogue`; a family's own mutants live
in a module of this package that registers them with :func:`register` and is imported below
(one line per family module).
"""
from verification.mutants.catalogue import FAMILIES, MUTANTS, Mutant, register

# Family modules register on import, one line each.
from verification.mutants import adversarial, deep  # noqa: E402,F401

__all__ = ["FAMILIES", "MUTANTS", "Mutant", "register"]
