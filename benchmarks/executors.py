"""Time one small real sweep inline, on a local dask cluster of 1 worker and of 2 workers.

The sweep: ``n`` networks of the gradient claims (``network_gradients``, digits, width
``m``), no cache. Printed per executor: cluster start-up, a cold pass (each worker compiles)
and a warm pass (other seeds, the same shapes), and whether the results equal the inline
ones bit for bit.

Usage::

    PYTHONPATH=$PWD python benchmarks/executors.py [--n 12] [--m 1024]
"""
import argparse
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)


def _points(n: int, m: int, offset: int):
    from verification.claims.gradients import measure

    sweep = measure.SWEEPS["quick"]
    return [measure.NetworkPoint(dataset="digits", data_seed=measure.DATA_SEED,
                                 test_fraction=sweep.test_fraction, m=m, signs="balanced",
                                 seed=1000 + offset + i, lr=sweep.lr["digits"], steps=sweep.steps)
            for i in range(n)]


def _same(a, b) -> bool:
    return all(x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
               for x, y in zip(a, b))


def main(argv=None):
    from verification.claims.gradients import measure
    from verification.executors import dask_executor
    from verification.sweep import SweepRunner

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--m", type=int, default=1024)
    args = parser.parse_args(argv)
    cold, warm = _points(args.n, args.m, 0), _points(args.n, args.m, args.n)
    rows, reference = [], None
    for workers in (None, 1, 2):
        start = time.perf_counter()
        dx = None if workers is None else dask_executor(scheduler=None, workers=workers, timeout=60)
        startup = time.perf_counter() - start
        kwargs = {} if dx is None else {"executor": dx.executor, "workers": dx.workers}
        runner = SweepRunner(None, quiet=True, **kwargs)
        times, results = [], []
        for points in (cold, warm):
            start = time.perf_counter()
            results.append(runner.map(measure.network_gradients, points))
            times.append(time.perf_counter() - start)
        if dx is not None:
            dx.close()
        reference = reference or results
        rows.append(("inline" if workers is None else f"dask, {workers} worker(s)", startup,
                     *times, _same(results[0], reference[0]) and _same(results[1], reference[1])))
    print(f"{args.n} network_gradients points (digits, m = {args.m}) per pass")
    print(f"{'executor':22} {'start-up s':>10} {'cold s':>8} {'warm s':>8}  bitwise = inline")
    for name, startup, cold_s, warm_s, same in rows:
        print(f"{name:22} {startup:10.1f} {cold_s:8.1f} {warm_s:8.1f}  {same}")


if __name__ == "__main__":
    main()
