"""ntk-attack: numerical checks of "Adversarial Robustness is at Odds with Lazy Training".

Importing this package loads neither neural_tangents nor TensorFlow; only
``ntk_attack.kernels`` imports neural_tangents, inside the functions that need it.
Float64: the toolkit's entry points (CLI, ``verification``) turn on ``jax_enable_x64``;
library functions keep the dtype of their inputs.
"""
from ntk_attack import attacks, bounds, data, deep, kernels, models, predictors, theory, training
from ntk_attack.attacks import FlipResult, fgm, min_flip, pgd, robust_accuracy
from ntk_attack.models import (SIGNS, TwoLayer, apply, from_bubeck, init_two_layer, input_grad,
                               to_bubeck)
from ntk_attack.predictors import linearize, ntk_regression
from ntk_attack.training import TrainResult, project_rows, train

__version__ = "0.1.0"

__all__ = ["attacks", "bounds", "data", "deep", "kernels", "models", "predictors", "theory", "training",
           "FlipResult", "fgm", "min_flip", "pgd", "robust_accuracy",
           "SIGNS", "TwoLayer", "apply", "from_bubeck", "init_two_layer", "input_grad", "to_bubeck",
           "linearize", "ntk_regression", "TrainResult", "project_rows", "train"]
