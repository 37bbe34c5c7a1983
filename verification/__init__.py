"""The application: claims of the paper checked numerically, the sweep runner, the report and
the ``ntk-attack`` command line.

Importing it changes no global setting: the entry points (``ntk-attack`` and
:func:`verification.report.run_claims`) turn on float64, for which every tolerance is stated.
"""
import os


def enable_x64():
    """Turn on float64 in JAX, for this process and the worker processes it spawns."""
    os.environ["JAX_ENABLE_X64"] = "1"  # inherited by spawned workers
    import jax
    jax.config.update("jax_enable_x64", True)
