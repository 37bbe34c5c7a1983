"""Figures: functions from arrays (a user's own measurements) to matplotlib ``Figure``s
(STYLE.md rule 10).

The figure kinds, each in the project's paper style (:mod:`ntk_attack.plotting.style`):
:func:`scaling_plot`, :func:`constant_plot` (:mod:`~ntk_attack.plotting.scaling`),
:func:`phase_plot`, :func:`robust_accuracy_plot` (:mod:`~ntk_attack.plotting.transition`),
:func:`ratio_distribution_plot`, :func:`histogram_with_law`
(:mod:`~ntk_attack.plotting.distributions`), :func:`kernel_vs_angle`,
:func:`kill_matrix_plot`, :func:`image_grid`, :func:`contact_sheet`; :func:`caption` writes
captions from numbers. :func:`encode` tells series apart by one or two variables
(:mod:`~ntk_attack.plotting.encoding`); :func:`layout_problems` says what keeps a figure from
being read (:mod:`~ntk_attack.plotting.layout`; the rules: ``docs/figures.md``).
:mod:`ntk_attack.plotting.common` holds the saving helpers. Nothing here selects a GUI
backend or writes files unless asked to. :mod:`ntk_attack.plotting.teaching` draws the
tutorial notebook's figures.
"""
from ntk_attack.plotting.captions import caption, percent
from ntk_attack.plotting.distributions import histogram_with_law, ratio_distribution_plot
from ntk_attack.plotting.encoding import encode
from ntk_attack.plotting.images import contact_sheet, image_grid
from ntk_attack.plotting.kernel_angle import kernel_vs_angle
from ntk_attack.plotting.kill_matrix import kill_matrix_plot
from ntk_attack.plotting.layout import layout_problems
from ntk_attack.plotting.scaling import constant_plot, scaling_plot
from ntk_attack.plotting.transition import phase_plot, robust_accuracy_plot

__all__ = ["caption", "constant_plot", "contact_sheet", "encode", "histogram_with_law",
           "image_grid", "kernel_vs_angle", "kill_matrix_plot", "layout_problems", "phase_plot",
           "percent", "ratio_distribution_plot", "robust_accuracy_plot", "scaling_plot"]
