"""Files: atomic writes (a reader sees the old file or the new one, never a torn one) and
strict JSON of measurement records (numpy and JAX arrays as lists, non-finite floats as the
strings ``"inf"``, ``"-inf"``, ``"nan"``)."""
import contextlib
import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path

import jax
import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()  # what open() would give a new file; mkstemp alone gives 0600


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Yield a temporary file beside ``path``; on success fsync it and ``os.replace`` it onto ``path``.

    On any exception (interruption included) the temporary file is removed and ``path`` is
    left as it was. Parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomically(path, text: str):
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    with atomic_write(path, "w") as file:
        file.write(text)


def dumps(obj) -> str:
    """Strict JSON of ``obj`` (numpy and JAX arrays become lists, non-finite floats strings)."""
    return json.dumps(encode(obj), indent=1, allow_nan=False) + "\n"


def loads(text: str):
    """Inverse of :func:`dumps`: ``"inf"``, ``"-inf"``, ``"nan"`` become floats again."""
    return decode(json.loads(text))


def encode(obj):
    """``obj`` as JSON-able lists, dicts, numbers and strings (see :func:`dumps`)."""
    if isinstance(obj, dict):
        return {str(k): encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return encode(dataclasses.asdict(obj))
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else str(value)  # "inf", "-inf", "nan"
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (np.ndarray, jax.Array)):
        return encode(np.asarray(obj).tolist())
    raise TypeError(f"cannot write {type(obj).__name__} as JSON; use lists, numbers, "
                    "strings and dicts.")


def decode(obj):
    """Inverse of :func:`encode` on parsed JSON: the strings of non-finite floats become floats."""
    if isinstance(obj, dict):
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if obj in ("inf", "-inf", "nan"):
        return float(obj)
    return obj
