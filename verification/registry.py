"""The claim registry: what a claim is, what it receives and what it returns, and where
claims are found.

A claim is a function ``run(ctx: Context, *, grid=None) -> Outcome`` registered with
:func:`claim`. It measures, compares with an independent prediction through
:mod:`verification.protocol` checks, and returns JSON-able data from which its figures are
drawn (so ``ntk-attack figures`` can re-render from ``report.json`` alone). ``grid`` is the
claim's grid point set; None means the grid of ``ctx.profile``.

Discovery (:func:`all_claims`), in this order, each module imported once:

1. the families of this project, the subpackages of :mod:`verification.claims` (``kernels``,
   ``gradients``, ``attacks`` first, then any other subpackage by name): a new family is one
   new subpackage, found without any registration;
2. every entry point of the group ``ntk_attack.claims`` (``[options.entry_points]`` of a
   package's ``setup.cfg``: ``name = module``), for claims that live in other packages;
3. modules named at run time (``ntk-attack verify --claims MODULE``, :func:`load_modules`).
"""
import dataclasses
import importlib
import importlib.metadata
import pkgutil
from typing import Callable

from verification.protocol import ALPHA

PROFILES = ("quick", "full")
ENTRY_POINT_GROUP = "ntk_attack.claims"
FAMILY_ORDER = ("kernels", "gradients", "attacks")  # report order of the project's families


@dataclasses.dataclass(frozen=True, kw_only=True)
class Context:
    """What every claim receives.

    Attributes:
        profile: ``"quick"`` (small grids, the default run) or ``"full"`` (the paper-scale grids).
        seed: the run's integer seed; derive every stream with ``protocol.derive_seed``.
        runner: a ``verification.sweep.SweepRunner``; grid points go through ``runner.map``.
        family_size: number of registered claims, for the Bonferroni level.
        mnist_path: a local full MNIST file, or None for the bundled subset.
        tag: the run's cache tag (``runner.tag``): empty for a normal run; a run of
            deliberately changed code (a planted bug) sets it so its points cache apart.
    """
    profile: str
    seed: int
    runner: object
    family_size: int
    mnist_path: str | None = None
    tag: str = ""

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
        data: JSON-able measurements (lists, floats, nested dicts) for the figures; an optional
            ``data["captions"]`` ``{figure name: caption}`` moves to the report entry's
            ``captions``, printed under each figure.
        config: JSON-able grid and sizes used.
        notes: anything a reader needs (tolerance reasons, no-flip fractions, ...).
        inputs: keys of ``data`` holding numbers the claim does not measure: grid values,
            sizes, CI levels, seeds and the predictions themselves.
        judged: ``{data key: (check name fragment, ...)}``: the checks whose estimates judge
            the measured numbers under that key (each fragment is part of a check's name).
        unjudged: ``{data key: reason}``: measured numbers reported but not judged, and why
            (THEORY.md 8: every reported number is judged or listed here).

    Every key of ``data`` except ``"captions"`` belongs to exactly one of ``inputs``,
    ``judged`` and ``unjudged`` (:func:`unaccounted` lists those that do not).
    """
    checks: list
    data: dict
    config: dict
    notes: str = ""
    inputs: tuple = ()
    judged: dict = dataclasses.field(default_factory=dict)
    unjudged: dict = dataclasses.field(default_factory=dict)


def unaccounted(outcome: Outcome) -> list:
    """Problems with the bookkeeping of ``outcome``'s reported numbers (empty when sound):
    data keys in none or several of ``inputs``, ``judged`` and ``unjudged``, names there that
    are not data keys, ``judged`` keys without a fragment or with one that matches no check's
    name (a blank fragment matches none), and ``unjudged`` keys without a reason."""
    groups = {"inputs": set(outcome.inputs), "judged": set(outcome.judged),
              "unjudged": set(outcome.unjudged)}
    keys = set(outcome.data) - {"captions"}
    problems = [f"{key!r} is in none of inputs, judged, unjudged" for key in sorted(keys)
                if not any(key in group for group in groups.values())]
    problems += [f"{key!r} is in {' and '.join(g for g in groups if key in groups[g])}"
                 for key in sorted(keys) if sum(key in group for group in groups.values()) > 1]
    problems += [f"{key!r} ({group}) is not a data key" for group, names in groups.items()
                 for key in sorted(names - keys)]
    names = [c.name for c in outcome.checks]
    for key, fragments in outcome.judged.items():
        fragments = (fragments,) if isinstance(fragments, str) else tuple(fragments)
        if not fragments:
            problems.append(f"{key!r} is judged by no check")
        problems += [f"{key!r} is judged by {fragment!r}, which names no check"
                     for fragment in fragments
                     if not str(fragment).strip() or not any(fragment in name for name in names)]
    problems += [f"{key!r} is unjudged without a reason" for key, why in outcome.unjudged.items()
                 if not str(why).strip()]
    return problems


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


def family_modules() -> list:
    """Module names of the claim families: subpackages of :mod:`verification.claims`, then the
    entry points of :data:`ENTRY_POINT_GROUP` (duplicates dropped, order kept)."""
    import verification.claims
    names = sorted((info.name for info in pkgutil.iter_modules(verification.claims.__path__)
                    if info.ispkg),
                   key=lambda name: (FAMILY_ORDER.index(name) if name in FAMILY_ORDER
                                     else len(FAMILY_ORDER), name))
    modules = [f"verification.claims.{name}" for name in names]
    modules += [entry.value for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    return list(dict.fromkeys(modules))


def load_modules(modules) -> None:
    """Import each module of ``modules`` (names), which registers its claims.

    Raises:
        ValueError: a module that cannot be imported, naming it and the reason.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001  (any failure to import is the user's to fix)
            raise ValueError(f"cannot import claim module {module!r} "
                             f"({type(error).__name__}: {error}).") from None


def all_claims(modules=()) -> dict:
    """Import every claim family, then ``modules``, and return ``{claim_id: ClaimSpec}`` in
    registration order."""
    load_modules(family_modules())
    load_modules(modules)
    return CLAIMS
