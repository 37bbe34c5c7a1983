"""Claims of the paper checked numerically, the sweep runner and the report.

Importing this package turns on float64 in JAX: every claim's tolerance is stated for it.
"""
import jax

jax.config.update("jax_enable_x64", True)
