"""Sweeps over grid points, each cached on disk by a hash of its full configuration.

A grid point is a frozen dataclass; a point function is a module-level function
``fn(point) -> dict[str, array-like]`` (module-level so it pickles into worker processes).
Each result is written atomically (temporary file, then ``os.replace``) the moment it is
computed, so an interrupted sweep resumes with the points it already has.
"""
import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

import ntk_attack


def point_key(fn, point) -> str:
    """Content hash of the function's qualified name, the point's fields and the toolkit version."""
    text = json.dumps({"fn": f"{fn.__module__}.{fn.__qualname__}",
                       "point": dataclasses.asdict(point), "version": ntk_attack.__version__},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class SweepRunner:
    """Evaluates point functions over grids, with an optional on-disk cache.

    Args:
        cache_dir: folder of cached results, or None for no cache.
    """

    def __init__(self, cache_dir=None):
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.computed = 0  # points computed (not read from the cache) by this runner

    def map(self, fn, points, *, desc: str = "") -> list:
        """``[fn(p) for p in points]`` as dicts of numpy arrays, reading and filling the cache."""
        return [self._one(fn, point) for point in points]

    def _one(self, fn, point) -> dict:
        path = self._path(fn, point)
        if path is not None and path.exists():
            with np.load(path) as cached:
                return dict(cached)
        result = {name: np.asarray(value) for name, value in fn(point).items()}
        self.computed += 1
        if path is not None:
            _write_atomically(path, result)
        return result

    def _path(self, fn, point):
        if self.cache_dir is None:
            return None
        return self.cache_dir / fn.__name__ / f"{point_key(fn, point)}.npz"


def _write_atomically(path: Path, arrays: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
