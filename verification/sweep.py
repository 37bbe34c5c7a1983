"""Sweeps over grid points, each cached on disk by a hash of its full configuration.

A grid point is a frozen dataclass (a dict or NamedTuple also works); a point function is a
module-level function ``fn(point) -> dict[str, array-like]`` (module-level so it pickles into
worker processes). :meth:`SweepRunner.map` runs the points that are not cached through a
``concurrent.futures.Executor``: in-process by default, ``workers`` spawned processes
otherwise, or any executor passed in. Each result is written atomically (temporary file,
``fsync``, ``os.replace``) the moment it arrives, so an interrupted sweep resumes with the
points it already has. A cache file that cannot be read or whose digest does not match its
arrays is reported on stderr, listed in ``runner.corrupt`` and recomputed; it is never trusted.

The cache key covers the function's qualified name, the point's fields, the run's ``tag`` (when
not empty) and :func:`verification.code_identity.code_identity` of the function: its own source,
the source of every project function it reaches (a transitive walk of the module-level names it
references) and its module's ``CACHE_VERSION``. Changing a figure, a label, a judge or a
docstring reuses every cached point; changing a measured function recomputes exactly the points
whose functions reach it. A non-empty ``tag`` (e.g. a planted-bug run) keeps its points apart,
in ``cache_dir/tag/``.

Environment:
    ``NTK_ATTACK_ABORT_AFTER=N``: a testing hook. The process kills itself with ``SIGKILL``
    right after the ``N``-th newly computed point of the process is written to the cache, so
    tests interrupt a sweep at a deterministic point, not with a timer.
"""
import concurrent.futures
import dataclasses
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path

import jax
import numpy as np
from tqdm.auto import tqdm

from ntk_attack.io import atomic_write
from verification.code_identity import code_identity

ABORT_ENV = "NTK_ATTACK_ABORT_AFTER"
# JAX settings copied from the parent into every worker, so a point gives the same bits in
# any process. XLA_FLAGS (which holds XLA's CPU thread settings) is copied too; it is read
# when a process first computes, and the worker initializer runs before that.
_JAX_OPTIONS = ("jax_enable_x64", "jax_default_matmul_precision", "jax_numpy_dtype_promotion",
                "jax_threefry_partitionable", "jax_default_prng_impl")
_RESERVED = ("__point__", "__digest__")
_written = 0  # points newly written to a cache by this process (for the abort hook)


def point_fields(point) -> dict:
    """The fields of a grid point as a dict: a dataclass, a NamedTuple or a dict."""
    if dataclasses.is_dataclass(point) and not isinstance(point, type):
        return dataclasses.asdict(point)
    if hasattr(point, "_asdict"):
        return dict(point._asdict())
    if isinstance(point, dict):
        return dict(point)
    raise TypeError(f"a grid point must be a dataclass, a NamedTuple or a dict. Got {type(point)}.")


def point_key(fn, point, tag: str = "") -> str:
    """Content hash of the function's qualified name, the point's fields, the code the function
    runs and the run's ``tag``."""
    return hashlib.sha256(_identity(fn, point, tag).encode()).hexdigest()[:20]


def _identity(fn, point, tag: str = "") -> str:
    identity = {"fn": f"{fn.__module__}.{fn.__qualname__}", "point": point_fields(point),
                "code": code_identity(fn)}
    if tag:
        identity["tag"] = tag
    return json.dumps(identity, sort_keys=True, default=str)


def jax_settings() -> dict:
    """This process's ``XLA_FLAGS`` and numerics-relevant JAX options, for the workers."""
    options = {name: getattr(jax.config, name) for name in _JAX_OPTIONS
               if hasattr(jax.config, name)}
    return {"XLA_FLAGS": os.environ.get("XLA_FLAGS"), "options": options, "parent": os.getpid()}


def apply_jax_settings(settings: dict):
    """Take over :func:`jax_settings` of another process: its XLA flags and JAX options.

    Call it before the process first computes (XLA reads its flags once, at that moment).
    """
    if settings["XLA_FLAGS"] is None:
        os.environ.pop("XLA_FLAGS", None)
    else:
        os.environ["XLA_FLAGS"] = settings["XLA_FLAGS"]
    for name, value in settings["options"].items():
        jax.config.update(name, value)


def _init_worker(settings: dict):
    """Initializer of a spawned worker: the parent's XLA flags and JAX options, before any work."""
    apply_jax_settings(settings)
    threading.Thread(target=_exit_with_parent, args=(settings["parent"],), daemon=True).start()


def _exit_with_parent(parent: int):
    """A worker's watchdog: exit once the parent is gone (e.g. killed), never outlive it."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _evaluate(fn, point) -> dict:
    """``fn(point)`` as a dict of numpy arrays (runs in the worker)."""
    result = fn(point)
    if not isinstance(result, dict):
        raise TypeError(f"point function {fn.__qualname__} must return a dict of arrays. "
                        f"Got {type(result)}.")
    arrays = {}
    for name, value in result.items():
        if name in _RESERVED:
            raise ValueError(f"result name {name!r} is reserved by the sweep cache.")
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"result {name!r} of {fn.__qualname__} is not a numeric or string "
                            "array (object dtype cannot be cached without pickle).")
        arrays[name] = array
    return arrays


def _digest(arrays: dict) -> str:
    sha = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        sha.update(json.dumps([name, array.dtype.str, array.shape]).encode())
        sha.update(array.tobytes())
    return sha.hexdigest()


class InlineExecutor(concurrent.futures.Executor):
    """Runs each submitted call at once in the calling process (the default executor)."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # noqa: BLE001  (re-raised by future.result())
            future.set_exception(error)
        return future


class SweepRunner:
    """Evaluates point functions over grids, with an optional on-disk cache.

    Args:
        cache_dir: folder of cached results, or None for no cache.
        workers: 1 runs points in this process; ``> 1`` runs them in that many processes,
            started with ``spawn`` and given this process's XLA flags and JAX options, so
            results are bitwise the same for every worker count.
        executor: any ``concurrent.futures.Executor`` to use instead (overrides ``workers``;
            point functions and points must pickle if it crosses processes).
        fresh: ignore results cached before this runner (recompute and overwrite them); a
            point that several claims share is still computed once per runner.
        quiet: no progress bars.
        tag: a label mixed into every cache key and folder (``cache_dir/tag/``) when not empty,
            so runs of deliberately changed code (planted bugs) cache their points apart.

    Attributes:
        computed: points computed (not read from the cache) by this runner.
        cached: points read from the cache.
        corrupt: paths of cache files found corrupt and recomputed.
    """

    def __init__(self, cache_dir=None, *, workers: int = 1, executor=None, fresh: bool = False,
                 quiet: bool = False, tag: str = ""):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1. Got {workers!r}.")
        _abort_after()  # validate the hook's value before any work
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.workers = workers
        self.fresh = fresh
        self.quiet = quiet
        if not isinstance(tag, str) or (tag and not tag.replace("-", "").replace("_", "").isalnum()):
            raise ValueError(f"tag must be a string of letters, digits, '-' and '_'. Got {tag!r}.")
        self.tag = tag
        self.computed = 0
        self.cached = 0
        self.corrupt: list = []
        self._executor = executor
        self._owns_executor = False
        self._stored: set = set()  # cache files this runner wrote (trusted even when fresh)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Shut down the worker processes this runner started (if any)."""
        if self._owns_executor and self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            self._owns_executor = False

    def map(self, fn, points, *, desc: str = "") -> list:
        """``[fn(p) for p in points]`` as dicts of numpy arrays, reading and filling the cache.

        Results come back in the order of ``points`` whatever order the workers finish in.
        """
        points = list(points)
        results = [None] * len(points)
        todo = []
        with tqdm(total=len(points), desc=desc or fn.__name__, unit="pt", leave=False,
                  disable=self.quiet, file=sys.stderr, dynamic_ncols=True) as bar:
            for i, point in enumerate(points):
                cached = self._load(fn, point)
                if cached is None:
                    todo.append(i)
                else:
                    results[i] = cached
                    self.cached += 1
                    bar.update()
            if todo:
                executor = self._get_executor()
                in_flight = 1 if isinstance(executor, InlineExecutor) else 2 * self.workers
                pending = {}
                for i in todo:
                    pending[executor.submit(_evaluate, fn, points[i])] = i
                    while len(pending) >= in_flight:
                        self._collect(fn, points, results, pending, bar)
                while pending:
                    self._collect(fn, points, results, pending, bar)
        return results

    def _collect(self, fn, points, results, pending, bar):
        done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            i = pending.pop(future)
            results[i] = future.result()
            self.computed += 1
            self._store(fn, points[i], results[i])
            bar.update()

    def _get_executor(self):
        if self._executor is None:
            if self.workers == 1:
                self._executor = InlineExecutor()
            else:
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker, initargs=(jax_settings(),))
            self._owns_executor = True
        return self._executor

    def _path(self, fn, point):
        if self.cache_dir is None:
            return None
        folder = self.cache_dir / self.tag if self.tag else self.cache_dir
        return folder / fn.__name__ / f"{point_key(fn, point, self.tag)}.npz"

    def _load(self, fn, point):
        path = self._path(fn, point)
        if path is None or (self.fresh and path not in self._stored) or not path.exists():
            return None
        try:
            return read_cached(path, _identity(fn, point, self.tag))
        except CorruptCacheError as error:
            self.corrupt.append(str(path))
            tqdm.write(f"ntk-attack: {error}; recomputing it.", file=sys.stderr)
            return None

    def _store(self, fn, point, arrays: dict):
        path = self._path(fn, point)
        if path is None:
            return
        identity = _identity(fn, point, self.tag)
        _write_atomically(path, {**arrays, "__point__": np.array(identity),
                                 "__digest__": np.array(_digest(arrays))})
        self._stored.add(path)
        global _written
        _written += 1
        if _written == _abort_after():
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


class CorruptCacheError(Exception):
    """A cache file that cannot be read, or whose contents do not match its digest or key."""


def read_cached(path, identity: str | None = None) -> dict:
    """Read and verify one cache file; raise :class:`CorruptCacheError` if it is not intact.

    Args:
        path: a ``.npz`` file written by :class:`SweepRunner`.
        identity: the expected point identity (function, point, code digest); not checked if None.

    Returns:
        The result arrays, without the reserved entries.
    """
    try:
        with np.load(path, allow_pickle=False) as file:
            arrays = {name: file[name] for name in file.files}
    except Exception as error:  # noqa: BLE001  (any unreadable file is corrupt)
        raise CorruptCacheError(f"cache file {path} is unreadable ({type(error).__name__}: "
                                f"{error})") from error
    missing = [name for name in _RESERVED if name not in arrays]
    if missing:
        raise CorruptCacheError(f"cache file {path} lacks {', '.join(missing)}")
    stored_identity, stored_digest = str(arrays.pop("__point__")), str(arrays.pop("__digest__"))
    if identity is not None and stored_identity != identity:
        raise CorruptCacheError(f"cache file {path} holds another point ({stored_identity})")
    if _digest(arrays) != stored_digest:
        raise CorruptCacheError(f"cache file {path} does not match its digest")
    return arrays


def _abort_after():
    value = os.environ.get(ABORT_ENV, "")
    if not value:
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{ABORT_ENV} must be an integer >= 1. Got {value!r}.")
    return count


def _write_atomically(path: Path, arrays: dict):
    with atomic_write(path) as file:
        np.savez(file, **arrays)
