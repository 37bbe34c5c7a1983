"""Figures: functions from result records to matplotlib ``Figure``s (STYLE.md rule 10).

:mod:`ntk_attack.plotting.common` holds the shared style and saving helpers; the figure
modules (``kernel_figures``, ``gradient_figures``, ``attack_figures``) draw one family of
claims each. Nothing here selects a GUI backend or writes files unless asked to.
"""
