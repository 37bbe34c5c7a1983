"""Lazy training, kernel predictors and their input gradients (THEORY.md 4, 6).

Shared measurements (data, the width sweep, summaries) in :mod:`.measure`; one module per
claim. Importing the family registers its claims.
"""
# Registration order is report order.
from verification.claims.gradients import trained  # noqa: F401
from verification.claims.gradients import linearization  # noqa: F401
from verification.claims.gradients import persistence  # noqa: F401
from verification.claims.gradients import antisymmetric  # noqa: F401
from verification.claims.gradients import ensemble  # noqa: F401
from verification.claims.gradients import drift  # noqa: F401
from verification.claims.gradients import finite_differences  # noqa: F401
