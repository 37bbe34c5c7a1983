"""The claims, one module per claim, grouped in families (subpackages).

A family is a package whose import registers its claims with
:func:`verification.registry.claim`; shared measurements of a family live in one module of it
(e.g. ``attacks/measure.py``), what families share in :mod:`.per_network` (measurement
pieces) and :mod:`.stats` (the estimators, THEORY.md 8). A claim imports other claim code only
through these or its family's measure module. :func:`verification.registry.all_claims`
imports every subpackage of this package and every module of the entry-point group
``ntk_attack.claims``.
"""
