"""Planted bugs that the verification must catch (claim power).

``MUTANTS`` maps a name to a :class:`Mutant`; ``with MUTANTS[name](): ...`` runs the library
with the bug (see :mod:`verification.mutants.patching` for how, and for worker processes).
"""
from verification.mutants.catalogue import FAMILIES, MUTANTS, Mutant
from verification.mutants.patching import TARGETS, enter_for_process

__all__ = ["FAMILIES", "MUTANTS", "Mutant", "TARGETS", "enter_for_process"]
