"""Adversarial training inside a ball around ``W0`` (THEORY.md 1, 4, 7; the paper's section 5.2).

Shared measurements in :mod:`.measure`; one module per claim. Importing the family registers
its claims.
"""
# Registration order is report order.
from verification.claims.adversarial import ball  # noqa: F401
from verification.claims.adversarial import envelope  # noqa: F401
from verification.claims.adversarial import helps  # noqa: F401
