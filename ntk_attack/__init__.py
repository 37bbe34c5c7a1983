"""ntk-attack: numerical checks of "Adversarial Robustness is at Odds with Lazy Training".

The flat namespace holds the central concepts:

- the model: :class:`TwoLayer`, :func:`init_two_layer`, :func:`apply`, :func:`input_grad`;
- kernels: :func:`nngp`, :func:`ntk_first_layer`, :func:`ntk_both_layers`,
  :func:`empirical_ntk`;
- training and predictors: :func:`train`, :func:`adversarial_train`, :func:`ntk_regression`,
  :func:`linearize`;
- attacks: :func:`min_flip` (the exact single-step attack), :func:`fgm`, :func:`pgd`,
  :func:`robust_accuracy`;
- result types: :class:`FlipResult`, :class:`FlipStatus`, :class:`AttackResult`,
  :class:`TrainResult`, :class:`KernelPredictor`;
- :mod:`ntk_attack.deep`, deep bias-free networks (model, kernels, flips);
- :mod:`ntk_attack.theory`, every closed-form prediction.

Helpers stay in their modules (``training.project_rows``, ``models.to_bubeck``, ``bounds``,
``data``, ``plotting``, ``io``). Importing this package loads nothing heavy: a submodule, and
JAX with it, is imported when a name is first used (``ntk_attack.apply``, ``from ntk_attack
import min_flip`` or ``import ntk_attack.models``), so the command line answers usage and size
errors before loading JAX. A flat name is looked up in its module on every access, so
``ntk_attack.apply is ntk_attack.models.apply`` always. No import loads neural_tangents or
TensorFlow (only ``ntk_attack.kernels`` functions import neural_tangents, when called) or
changes a JAX setting: turn on ``jax_enable_x64`` yourself for float64 (the ``ntk-attack``
command does).
"""
import importlib
import pkgutil

__version__ = "0.1.0"

# Each flat name and the module that defines it.
_HOMES = {
    "TwoLayer": "models", "init_two_layer": "models", "apply": "models", "input_grad": "models",
    "nngp": "kernels", "ntk_first_layer": "kernels", "ntk_both_layers": "kernels",
    "empirical_ntk": "kernels",
    "train": "training", "TrainResult": "training", "adversarial_train": "adversarial",
    "ntk_regression": "predictors", "linearize": "predictors", "KernelPredictor": "predictors",
    "min_flip": "attacks", "FlipResult": "attacks", "FlipStatus": "attacks",
    "fgm": "labelled_attacks", "pgd": "labelled_attacks", "robust_accuracy": "labelled_attacks",
    "AttackResult": "labelled_attacks",
}
_SUBMODULES = frozenset(module.name for module in pkgutil.iter_modules(__path__))

__all__ = ["TwoLayer", "init_two_layer", "apply", "input_grad",
           "nngp", "ntk_first_layer", "ntk_both_layers", "empirical_ntk",
           "train", "adversarial_train", "ntk_regression", "linearize",
           "min_flip", "fgm", "pgd", "robust_accuracy",
           "FlipResult", "FlipStatus", "AttackResult", "TrainResult", "KernelPredictor",
           "deep", "theory"]


def __getattr__(name: str):
    """A flat name from its module, or a submodule, imported on first use."""
    if name in _HOMES:
        return getattr(importlib.import_module(f"ntk_attack.{_HOMES[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"ntk_attack.{name}")
    raise AttributeError(f"module 'ntk_attack' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOMES) | _SUBMODULES)
