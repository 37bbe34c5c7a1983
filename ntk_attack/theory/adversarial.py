"""Closed forms of adversarial training inside a ball around ``W0`` (THEORY.md 1, 4, 7).

The radii of the ball, the paper's PGD step, and what the lazy envelope of THEORY.md 4 says
about any network in the lazy ball, however it was trained.
"""
import math

RADII = ("lazy", "absolute")
PGD_STEP_FRACTION = 0.025  # the paper's PGD step, 0.025 eps at 100 steps (THEORY.md 7)
PGD_STEPS = 100


def _check_radius(radius: str) -> str:
    if radius not in RADII:
        raise ValueError(f"radius must be one of {', '.join(map(repr, RADII))}; got {radius!r}.")
    return radius


def row_radius(C0: float, m: int, *, radius: str = "lazy") -> float:
    """Radius of each row's ball ``||w_s - w_s,0|| <= r``: ``C0 / sqrt(m)`` for the lazy ball
    (THEORY.md 1), ``C0`` itself for the absolute radius of the paper's width figure (THEORY.md 7)."""
    return C0 / math.sqrt(m) if _check_radius(radius) == "lazy" else float(C0)


def C0_hat_limit(C0: float, m: int, *, radius: str = "lazy") -> float:
    """Largest ``C0_hat = sqrt(m) max_s ||w_s - w_s,0||`` (THEORY.md 1) a row-projected network
    can reach: ``C0`` for the lazy ball, ``C0 sqrt(m)`` for an absolute row radius ``C0``."""
    return float(C0) if _check_radius(radius) == "lazy" else C0 * math.sqrt(m)


def effective_C0_over_sqrt_d(C0: float, *, m: int, d: int, radius: str = "lazy") -> float:
    """``C0_hat_limit / sqrt(d)``: where a ball sits on THEORY.md 4's scale (lazy for
    ``<= 1/4``, vacuous once of order 1). An absolute radius ``r`` is ``r sqrt(m / d)``: it leaves
    the lazy regime as the width grows."""
    return C0_hat_limit(C0, m, radius=radius) / math.sqrt(d)


def pgd_step_size(eps: float, steps: int = PGD_STEPS) -> float:
    """The paper's PGD step ``0.025 eps`` at 100 steps, i.e. ``2.5 eps / steps`` (THEORY.md 7)."""
    return PGD_STEP_FRACTION * PGD_STEPS * eps / steps


def robust_accuracy_beyond_envelope() -> float:
    """Single-step robust accuracy at ``eps >= max_x B(x)`` over points inside the envelope's
    conditions, for any network in the lazy ball (THEORY.md 4): 0.

    The envelope holds for every ``W`` with ``||W - W0||_{2,inf} <= C0 / sqrt(m)`` whatever the
    training (adversarial included), so each such point flips at ``eta* <= B(x) <= max B``.
    """
    return 0.0
