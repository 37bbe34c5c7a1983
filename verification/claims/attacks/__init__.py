"""The single-step attack against dimension, width and lazy radius (THEORY.md 3-4).

Shared measurements and sweeps in :mod:`.measure`; one module per claim. Importing the family
registers its claims.
"""
# Registration order is report order.
from verification.claims.attacks import init  # noqa: F401
from verification.claims.attacks import d_scaling  # noqa: F401
from verification.claims.attacks import width  # noqa: F401
from verification.claims.attacks import bound  # noqa: F401
from verification.claims.attacks import constant  # noqa: F401
from verification.claims.attacks import transition  # noqa: F401
