"""The claim registry: what a claim is, what it receives and what it returns.

A claim is a function ``run(ctx: Context) -> Outcome`` registered with :func:`claim`. It
measures, compares with an independent prediction through :mod:`verification.protocol`
checks, and returns JSON-able data from which its figures are drawn (so ``ntk-attack
figures`` can re-render from ``report.json`` alone).
"""
import dataclasses
import importlib
from typing import Callable

from verification.protocol import ALPHA

PROFILES = ("quick", "full")
FAMILY_MODULES = ("verification.kernel_claims", "verification.gradient_claims",
                  "verification.attack_claims")


@dataclasses.dataclass(frozen=True)
class Context:
    """What every claim receives.

    Attributes:
        profile: ``"quick"`` (small grids, the default run) or ``"full"`` (the issues' grids).
        seed: the run's integer seed; derive every stream with ``protocol.derive_seed``.
        runner: a ``verification.sweep.SweepRunner``; grid points go through ``runner.map``.
        family_size: number of registered claims, for the Bonferroni level.
        mnist_path: a local full MNIST file, or None for the bundled subset.
    """
    profile: str
    seed: int
    runner: object
    family_size: int
    mnist_path: str | None = None

    @property
    def quick(self) -> bool:
        return self.profile == "quick"

    def level(self, n_checks: int = 1) -> float:
        """CI level of each of a claim's ``n_checks`` statistical checks (Bonferroni).

        The run's family-wise error ``ALPHA`` is split evenly over the registered claims and
        then over the claim's own checks. It does not depend on ``--only``, so a claim gives
        the same numbers alone and in the full suite.
        """
        return 1 - ALPHA / (self.family_size * n_checks)


@dataclasses.dataclass
class Outcome:
    """What a claim function returns.

    Attributes:
        checks: the ``protocol.Check``s; the claim's verdict is the worst of them.
        data: JSON-able measurements (lists, floats, nested dicts) for the figures.
        config: JSON-able grid and sizes used.
        notes: anything a reader needs (tolerance reasons, no-flip fractions, ...).
    """
    checks: list
    data: dict
    config: dict
    notes: str = ""


class Skip(Exception):
    """Raised by a claim that cannot run here (e.g. an optional file is absent); the reason is reported."""


@dataclasses.dataclass(frozen=True)
class ClaimSpec:
    id: str
    title: str
    run: Callable
    figures: Callable | None  # data -> {name: matplotlib Figure}


CLAIMS: dict = {}


def claim(claim_id: str, *, title: str, figures: Callable | None = None):
    """Register ``run(ctx) -> Outcome`` as claim ``claim_id``; ``figures(data)`` draws its figures."""
    def register(run):
        if claim_id in CLAIMS:
            raise ValueError(f"claim id {claim_id!r} is registered twice.")
        CLAIMS[claim_id] = ClaimSpec(claim_id, title, run, figures)
        return run
    return register


def all_claims() -> dict:
    """Import every claim family and return ``{claim_id: ClaimSpec}`` in registration order."""
    for module in FAMILY_MODULES:
        importlib.import_module(module)
    return CLAIMS
