"""Deep bias-free ReLU networks (THEORY.md 9): input gradients, their finite-width
fluctuations, the empirical NTK, the single-step attack at init and after lazy training.

One module per claim: :mod:`.gradient`, :mod:`.fluctuations`, :mod:`.ntk`, :mod:`.attack`,
:mod:`.lazy`; shared measurements in :mod:`.measure`. Importing the family registers its claims.
"""
# Registration order is report order.
from verification.claims.deep import gradient  # noqa: F401
from verification.claims.deep import fluctuations  # noqa: F401
from verification.claims.deep import ntk  # noqa: F401
from verification.claims.deep import attack  # noqa: F401
from verification.claims.deep import lazy  # noqa: F401
