"""The kernels of THEORY.md section 5: closed forms against neural-tangents and in width.

One module per claim: :mod:`.analytic`, :mod:`.empirical`, :mod:`.convergence`. Importing the
family registers its claims.
"""
# Registration order is report order.
from verification.claims.kernels import analytic  # noqa: F401
from verification.claims.kernels import empirical  # noqa: F401
from verification.claims.kernels import convergence  # noqa: F401
