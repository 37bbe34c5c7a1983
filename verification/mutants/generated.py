"""Generated mutants: mutmut's edits of library functions, run by ``verify --power`` as planted bugs.

The catalogue's mutants were written with the claims in view; generated ones were not, so the
share a power run kills measures the claims on bugs nobody chose (issue 23). A generated mutant
is recorded in a JSON file (``benchmarks/mutation.py draw`` writes ``figures/mutation/drawn.json``)
as a list of objects with

- ``name``: mutmut's name, e.g. ``"ntk_attack.bounds.x_K_hat__mutmut_3"``;
- ``target``: ``"module:qualname"`` of the function it changes (``Class.method`` for a method);
- ``diff``: mutmut's unified diff of that function (``mutmut show NAME``);
- optionally ``description``.

:func:`load` turns each record into a :class:`~verification.mutants.catalogue.Mutant` whose patch
is the catalogue's own kind: :func:`~verification.mutants.patching.edit` of the function's real
source, each diff hunk's old lines replaced by its new lines (each must match exactly once,
else ``LookupError`` when the mutant is entered: the code changed since the draw). The mutant
has no families: a power run runs it on the claims whose code reaches its function (the walk of
:mod:`verification.code_identity`), as for any catalogue mutant.
"""
import importlib
import json
import re
from pathlib import Path

from verification.mutants.catalogue import Mutant
from verification.mutants.patching import edit

PREFIX = "generated"  # mutant names of generated mutants start with it


def hunks(diff: str) -> list:
    """``[(old, new), ...]``: per hunk of a unified ``diff``, its text before and after.

    Context lines belong to both sides, so each ``old`` is the hunk's lines as they stand in the
    original function (long enough to match once) and ``new`` the same lines mutated.
    """
    pairs, old, new, inside = [], [], [], False
    for line in diff.splitlines():
        if line.startswith("@@"):
            if inside:
                pairs.append(("\n".join(old), "\n".join(new)))
            old, new, inside = [], [], True
        elif not inside or line.startswith(("---", "+++")):
            continue
        elif line.startswith("-"):
            old.append(line[1:])
        elif line.startswith("+"):
            new.append(line[1:])
        elif line.startswith("\\"):  # "\ No newline at end of file"
            continue
        else:
            old.append(line[1:])
            new.append(line[1:])
    if inside:
        pairs.append(("\n".join(old), "\n".join(new)))
    if not pairs or any(o == n for o, n in pairs):
        raise ValueError(f"diff must hold at least one hunk that changes a line. Got {diff!r}.")
    return pairs


def qualname_of(function: str) -> str:
    """The qualname behind mutmut's mangled function name: ``x_f`` -> ``f``, ``xǁCǁm`` -> ``C.m``."""
    if function.startswith("xǁ"):
        return function.removeprefix("xǁ").replace("ǁ", ".")
    return function.removeprefix("x_")


def mutant_name(name: str) -> str:
    """A mutant name from mutmut's, usable as a run tag (letters, digits, ``-``, ``_``):
    ``ntk_attack.bounds.x_K_hat__mutmut_3`` -> ``generated-bounds-K_hat-3``."""
    match = re.fullmatch(r"(?P<module>[\w.]+)\.(?P<function>[^.]+)__mutmut_(?P<n>\d+)", name)
    if match is None:
        raise ValueError(f"name must be a mutmut mutant name (module.x_function__mutmut_N). "
                         f"Got {name!r}.")
    module = match["module"].removeprefix("ntk_attack.").replace(".", "_")
    function = qualname_of(match["function"]).replace(".", "_")
    return f"{PREFIX}-{module}-{function}-{match['n']}"


def mutant(record: dict) -> Mutant:
    """The :class:`Mutant` of one generated-mutant record (module docstring)."""
    name = mutant_name(record["name"])
    module, sep, qualname = record["target"].partition(":")
    if not (module and sep and qualname):
        raise ValueError(f"target must be 'module:qualname'. Got {record['target']!r}.")
    pairs = hunks(record["diff"])
    changed = [line for line in record["diff"].splitlines()
               if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))]
    description = record.get("description") or (
        f"mutmut {record['name']}: " + " => ".join(line.strip() for line in changed))
    return Mutant(name=name, description=description, families=(),
                  patches=lambda: [edit(target_object(record["target"]), *pairs)])


def target_object(target: str):
    """The function or method ``"module:qualname"`` names, imported now (a patch names its
    target by the object; :func:`~verification.mutants.patching.resolve` checks it still is
    defined there)."""
    module, _, qualname = target.partition(":")
    owner = importlib.import_module(module)
    for part in qualname.split("."):
        owner = getattr(owner, part)
    return owner


def load(path) -> dict:
    """``{name: Mutant}`` of the generated mutants recorded in the JSON file ``path``."""
    records = json.loads(Path(path).read_text())
    if isinstance(records, dict):
        records = records.get("mutants", records)
    if not isinstance(records, list) or not records:
        raise ValueError(f"{path} must hold a non-empty list of generated mutants "
                         "(or {{\"mutants\": [...]}}).")
    mutants = {}
    for record in records:
        m = mutant(record)
        if m.name in mutants:
            raise ValueError(f"generated mutant {m.name!r} appears twice in {path}.")
        mutants[m.name] = m
    return mutants
