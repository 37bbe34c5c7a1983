"""Planted bugs of the adversarial-training family (``verification/claims/adversarial``).

Each is the library's own code with one textual mistake (:func:`~patching.edit`), registered
into :data:`~verification.mutants.catalogue.MUTANTS`.
"""
from ntk_attack import adversarial, labelled_attacks
from verification.mutants import probes
from verification.mutants.catalogue import mutant
from verification.mutants.patching import edit

_BALL = ("adversarial_training_stays_in_ball", "adversarial_training_obeys_envelope")


@mutant("adversarial", catchers=_BALL, probe=probes.adversarial_training)
def adversarial_lazy_radius_not_scaled():
    """Adversarial training's lazy row radius C0 instead of C0 / sqrt(m) (the ball sqrt(m) times too large); caught by the in-ball and envelope claims."""
    return [edit(adversarial.adversarial_train, ("row_radius = theory.row_radius(C0, m, radius=radius)",
                                                 "row_radius = C0"))]


@mutant("adversarial", catchers=("adversarial_training_helps_only_outside_lazy_regime",),
        probe=probes.pgd)
def pgd_step_not_projected():
    """PGD iterates never projected back onto ||delta|| <= eps (the attack leaves its budget); caught by the robust-accuracy claim."""
    return [edit(labelled_attacks._pgd, ("delta = _project(delta - step_size * _ascent(grad, norm), eps, norm)",
                              "delta = delta - step_size * _ascent(grad, norm)"))]


@mutant("adversarial", catchers=_BALL, probe=probes.adversarial_training)
def projection_before_step():
    """Rows projected onto the lazy ball before the gradient step instead of after it (the iterate leaves the ball); caught by the in-ball and envelope claims."""
    return [edit(adversarial._adversarial_train,
                 ("return project_rows(W - lr * grad_W(W, xb + delta, yb), W0, row_radius), None",
                  "return project_rows(W, W0, row_radius) - lr * grad_W(W, xb + delta, yb), None"))]
