"""Memory estimates before allocation: sizes a machine cannot hold are refused by name.

An entry point computes the bytes of its largest arrays from the caller's sizes and the dtype,
before anything is allocated, and :func:`check_memory` compares them with :func:`memory_limit`:
the environment variable ``NTK_ATTACK_MAX_MEMORY`` if set (e.g. ``8G``; the command line's
``--max-memory`` sets it), else the available memory of the machine. What does not fit raises
``ValueError`` with the argument, the estimate and the limit, instead of an abort inside XLA.

This module imports neither JAX nor NumPy, so the command line refuses a size before loading
them (:func:`check_weights_memory` is the estimate of :func:`ntk_attack.models.init_two_layer`).
"""
import math
import os

MEMORY_VARIABLE = "NTK_ATTACK_MAX_MEMORY"
_UNITS = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}


def parse_bytes(text) -> int:
    """``"8G"``, ``"512M"``, ``"1.5T"`` or a plain number of bytes, as an integer."""
    raw = str(text).strip().upper().removesuffix("B").removesuffix("I")
    unit = raw[-1:] if raw[-1:] in _UNITS and raw[-1:] else ""
    try:
        value = float(raw[:len(raw) - len(unit)]) * _UNITS[unit]
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{MEMORY_VARIABLE} (or --max-memory) must be a size such as 8G, 512M "
                         f"or a number of bytes; got {text!r}.")
    return int(value)


def memory_limit() -> tuple:
    """``(bytes, source)``: the memory this process may allocate, and where that number comes from."""
    if os.environ.get(MEMORY_VARIABLE):
        return parse_bytes(os.environ[MEMORY_VARIABLE]), MEMORY_VARIABLE
    try:
        with open("/proc/meminfo") as file:
            info = dict(line.split(":", 1) for line in file)
        return int(info["MemAvailable"].split()[0]) * 1024, "available memory"
    except (OSError, KeyError, ValueError):
        pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else 0
        return (pages * os.sysconf("SC_PAGE_SIZE"), "available memory") if pages > 0 \
            else (2 ** 62, "unknown")


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.3g} PB"


def check_memory(nbytes: float, *, name: str, got: str, what: str) -> None:
    """Refuse sizes whose arrays exceed :func:`memory_limit`, before anything is allocated.

    Args:
        nbytes: estimated bytes of the largest arrays alive at once.
        name: the argument(s) that set the size, e.g. ``"d * m"``.
        got: their values, e.g. ``"d = 50000, m = 200000"``.
        what: the arrays, e.g. ``"W (m, d) float64"``.

    Raises:
        ValueError: ``"name must fit in memory ...; got ..."``, with the estimate and the limit.
    """
    limit, source = memory_limit()
    if nbytes > limit:
        where = (f"{MEMORY_VARIABLE}" if source == MEMORY_VARIABLE else
                 f"{source}; {MEMORY_VARIABLE} or --max-memory sets it")
        raise ValueError(f"{name} must fit in memory: {what} need about {format_bytes(nbytes)}, "
                         f"the limit is {format_bytes(limit)} ({where}); got {got}.")


def check_weights_memory(d: int, m: int, *, itemsize: int, dtype: str) -> None:
    """Refuse an ``(m, d)`` weight matrix that does not fit (two copies: the draw and the result).

    Args:
        d, m: input dimension and width.
        itemsize: bytes per entry; ``dtype``: its name, for the message.
    """
    check_memory(2 * m * d * itemsize, name="d * m", got=f"d = {d}, m = {m}",
                 what=f"the weights W ({m}, {d}) {dtype}, twice,")
