"""The two times a new user waits for: ``ntk-attack verify`` (quick profile, empty cache) and
README's test command (``pytest -n 2 -m "not slow and not extended"``), each timed from a cold start
in a fresh process.

Usage::

    python benchmarks/quick_path.py [--skip-tests] [--workers N]

Prints one line per command with its wall time and exit code, then their ratio to the targets
(120 s for the quick profile, 180 s for the tests, on 2 cores). Machine load changes both, so
run it on an idle machine; the two commands run one after the other, never concurrently.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

TARGETS = {"quick profile": 120.0, "test command": 180.0}


def timed(command: list, cwd: str) -> tuple:
    """``(seconds, exit code)`` of ``command`` run to completion in ``cwd``."""
    start = time.perf_counter()
    code = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    return time.perf_counter() - start, code


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-tests", action="store_true", help="time only the quick profile")
    parser.add_argument("--workers", type=int, default=1, help="ntk-attack verify --workers")
    args = parser.parse_args(argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = {}
    with tempfile.TemporaryDirectory() as out:
        runs["quick profile"] = timed([sys.executable, "-m", "verification.cli", "verify", "--out", out,
                                       "--workers", str(args.workers), "-q"], root)
    if not args.skip_tests:
        runs["test command"] = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                      "-n", "2", "-m", "not slow and not extended"], root)
    for name, (seconds, code) in runs.items():
        print(f"{name:14s} {seconds:7.1f} s  exit {code}  ({seconds / TARGETS[name]:.2f} x the "
              f"{TARGETS[name]:.0f} s target)")
    return max(code for _, code in runs.values())


if __name__ == "__main__":
    sys.exit(main())
