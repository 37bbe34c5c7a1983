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
``data``, ``plotting``, ``io``). Importing this package loads neither neural_tangents nor
TensorFlow (only ``ntk_attack.kernels`` functions import neural_tangents, when called) and
changes no JAX setting: turn on ``jax_enable_x64`` yourself for float64 (the ``ntk-attack``
command does).
"""
from ntk_attack import (adversarial, attacks, bounds, data, deep, io, kernels, models, predictors,
                        theory, training)
from ntk_attack.adversarial import adversarial_train
from ntk_attack.attacks import FlipResult, FlipStatus, min_flip
from ntk_attack.kernels import empirical_ntk, nngp, ntk_both_layers, ntk_first_layer
from ntk_attack.labelled_attacks import AttackResult, fgm, pgd, robust_accuracy
from ntk_attack.models import TwoLayer, apply, init_two_layer, input_grad
from ntk_attack.predictors import KernelPredictor, linearize, ntk_regression
from ntk_attack.training import TrainResult, train

__version__ = "0.1.0"

__all__ = ["TwoLayer", "init_two_layer", "apply", "input_grad",
           "nngp", "ntk_first_layer", "ntk_both_layers", "empirical_ntk",
           "train", "adversarial_train", "ntk_regression", "linearize",
           "min_flip", "fgm", "pgd", "robust_accuracy",
           "FlipResult", "FlipStatus", "AttackResult", "TrainResult", "KernelPredictor",
           "deep", "theory"]
