"""Grid points on a ``dask.distributed`` cluster, behind the executor seam of :class:`SweepRunner`.

Needs the optional extra ``dask`` (``pip install -e ".[dask]"``). :func:`dask_executor` starts
a local cluster of worker processes or connects to a running scheduler and returns a
:class:`DaskExecutor`; its ``executor`` is a ``concurrent.futures.Executor`` to pass as
``SweepRunner(executor=..., workers=...)``:

- **Same bits.** Every worker takes over this process's XLA flags and JAX options
  (:func:`verification.sweep.jax_settings`) through a worker plugin before it computes,
  including workers that join or restart later; a local cluster's workers also keep this
  process's BLAS thread settings (dask would set them to 1). Point functions are pickled by
  reference, so remote workers need the same ``ntk-attack``, JAX and neural-tangents versions.
- **Streaming, resumable.** ``SweepRunner`` writes each result to its cache the moment its
  future completes, so a run killed at any moment resumes from the points already written,
  and a cache filled on a cluster is read by a local run (and vice versa).
- **Crashes.** A worker that dies mid-point is restarted by its nanny and the scheduler reruns
  the point elsewhere (up to ``distributed.scheduler.allowed-failures`` deaths per point, 3 by
  default, after which the sweep raises ``distributed.KilledWorker``).
"""
import asyncio
import concurrent.futures
import logging
import math
from typing import NamedTuple

try:
    import dask
    import distributed
except ImportError as error:  # the optional extra is not installed
    raise ImportError("verification.executors needs dask.distributed; install the extra with "
                      "pip install -e \".[dask]\"") from error

from verification.sweep import apply_jax_settings, jax_settings

# A dask nanny sets these to 1 in its workers and in its own process by default. None removes
# them, so a local cluster's workers run numpy and scipy with this process's thread settings.
_BLAS_THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


async def _identity(address: str, timeout: float) -> dict:
    """The scheduler's reply to ``identity``. ``distributed.Client`` alone waits forever for a
    peer that accepts the connection but never answers, whatever its ``timeout``."""
    comm = await distributed.comm.connect(address, timeout=timeout)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


class JaxSettingsPlugin(distributed.WorkerPlugin):
    """Applies one process's :func:`~verification.sweep.jax_settings` on every worker.

    Args:
        settings: the dict returned by :func:`~verification.sweep.jax_settings`.
    """
    name = "ntk-attack-jax-settings"

    def __init__(self, settings: dict):
        self.settings = settings

    def setup(self, worker):
        apply_jax_settings(self.settings)


class DaskExecutor(NamedTuple):
    """A running dask client (and local cluster) and the executor to give a ``SweepRunner``.

    Attributes:
        executor: ``concurrent.futures.Executor`` (``client.get_executor()``).
        client: the ``distributed.Client``.
        cluster: the ``distributed.LocalCluster`` started for it, or None for a scheduler address.
        workers: worker threads when it connected: pass it as ``SweepRunner(workers=...)``,
            which keeps ``2 * workers`` points in flight.
    """
    executor: concurrent.futures.Executor
    client: object
    cluster: object
    workers: int

    def close(self):
        """Close the client, and the local cluster if one was started (idempotent)."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def dask_executor(*, scheduler: str | None, workers: int, timeout: float) -> DaskExecutor:
    """Start a local dask cluster, or connect to the scheduler at ``scheduler``.

    Args:
        scheduler: a scheduler address such as ``"tcp://10.0.0.5:8786"``; None starts a
            ``distributed.LocalCluster`` of ``workers`` worker processes with one thread each.
        workers: number of local worker processes (``>= 1``); unused with ``scheduler``.
        timeout: seconds to wait for the scheduler to answer (``> 0``).

    Returns:
        :class:`DaskExecutor`; close it (or use it as a context manager) when the sweep is done.

    Raises:
        ValueError: bad arguments, or no scheduler answered at ``scheduler`` within ``timeout``.
    """
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ValueError(f"scheduler must be None or an address such as 'tcp://host:8786'. "
                         f"Got {scheduler!r}.")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1. Got {workers!r}.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a finite number of seconds > 0. Got {timeout!r}.")
    cluster = None
    if scheduler is None:
        with dask.config.set({f"distributed.nanny.pre-spawn-environ.{name}": None
                              for name in _BLAS_THREADS}):
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                               processes=True, dashboard_address=":0",
                                               silence_logs=logging.ERROR)
        client = distributed.Client(cluster, timeout=timeout, set_as_default=False)
    else:
        try:
            asyncio.run(asyncio.wait_for(_identity(scheduler, timeout), timeout))
            client = distributed.Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise ValueError(f"no dask scheduler answered at {scheduler!r} within {timeout:g} s "
                             f"({type(error).__name__}: {str(error) or 'no reply'}).") from error
    try:
        client.register_plugin(JaxSettingsPlugin(jax_settings()))
        threads = sum(client.nthreads().values())
    except BaseException:
        client.close()
        if cluster is not None:
            cluster.close()
        raise
    return DaskExecutor(client.get_executor(), client, cluster, max(threads, 1))
