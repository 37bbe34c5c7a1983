"""Shared measurements of the adversarial-training claims (THEORY.md 1, 3, 4, 7; paper 5.2).

A grid point trains a stack of networks on MNIST 0 vs 1 (the bundled subset, or a local full
MNIST) with :func:`ntk_attack.adversarial.adversarial_train` inside a ball around ``W0``, then
attacks each network at the test points: the exact single-step attack ``eta*``
(:func:`ntk_attack.attacks.min_flip`) and PGD-l2 at every evaluation radius.

Pairing: the initial networks are drawn from ``seed`` alone, so standard training (``eps = 0``)
and adversarial training at the same ``seed`` start from the same ``params0``; gains are
differences per network. Networks are the bootstrap units; the points of one network stay
together (they share its weights and offset).
"""
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack import adversarial, attacks, bounds, labelled_attacks, models, theory
from verification import protocol
from verification.claims import per_network

CACHE_VERSION = 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdvPoint:
    """``n_networks`` networks of width ``m`` on ``size x size`` MNIST 0 vs 1 (``d = size^2``),
    trained ``epochs`` epochs (rate ``lr``, minibatches of ``batch_size``, 0: full batch) inside
    the ``radius`` ball of parameter ``C0`` against PGD-l2 of radius ``eps`` (``attack_steps``
    steps; ``eps = 0``: standard training) on the first ``n_train`` training images (0: all);
    then attacked at every test image with PGD (``eval_steps`` steps) at each radius of
    ``eval_eps`` and with the exact single step. ``test_fraction``: the bundled subset's test
    share (a full MNIST keeps its official split)."""
    size: int
    m: int
    C0: float
    radius: str
    eps: float
    n_networks: int
    n_train: int
    epochs: int
    lr: float
    batch_size: int
    attack_steps: int
    eval_eps: tuple
    eval_steps: int
    seed: int
    test_fraction: float = 0.2
    mnist_path: str | None = None

    @property
    def d(self) -> int:
        return self.size ** 2


def init_stack(seed: int, d: int, m: int, n: int) -> models.TwoLayer:
    """``n`` balanced networks `W: (n, m, d), a: (n, m)` drawn from ``seed`` alone (the pairing)."""
    keys = jax.random.split(jax.random.PRNGKey(seed), n)
    return jax.vmap(lambda key: models.init_two_layer(key, d, m))(keys)


def evaluate(net: models.TwoLayer, net0: models.TwoLayer, x, y, eval_eps, *, steps: int) -> dict:
    """One trained network ``net`` (initial weights ``net0``) attacked at `(n, d)` points.

    Returns ``eta``, ``status``, ``f`` (trained), ``init_f``, ``init_grad_norm`` `(n,)`;
    ``line_robust``, ``pgd_robust``, ``pgd_norm_ratio`` (largest ``||delta|| / eps``) `(k,)`.
    """
    flip = attacks.min_flip(net, x)
    correct = y * flip.f0 > 0
    pgd_robust, norm_ratio = [], []
    for eps in eval_eps:  # a sweep over radii; each attack is batched over points
        result = labelled_attacks.pgd(net, x, y, eps=eps, steps=steps,
                                      step_size=theory.pgd_step_size(eps, steps))
        pgd_robust.append(jnp.mean(correct & (result.margin > 0)))
        norm_ratio.append(jnp.max(jnp.linalg.norm(result.delta, axis=-1)) / eps)
    return {"eta": flip.eta, "status": flip.status, "f": flip.f0, "init_f": models.apply(net0, x),
            "init_grad_norm": jnp.linalg.norm(models.input_grad(net0, x), axis=-1),
            "line_robust": labelled_attacks.line_robust_accuracy(flip, y, eval_eps),
            "pgd_robust": jnp.stack(pgd_robust), "pgd_norm_ratio": jnp.stack(norm_ratio)}


def adv_point(point: AdvPoint) -> dict:
    """Train and attack the networks of ``point``.

    Returns per network and epoch `(n_networks, epochs + 1)`: ``C0_hat``, ``train_accuracy``,
    ``train_robust`` (PGD of training); per network and test point `(n_networks, n_test)`: the
    arrays of :func:`evaluate`; per network and radius `(n_networks, k)`: ``line_robust``,
    ``pgd_robust``, ``pgd_norm_ratio``; ``y`` `(n_test,)`.
    """
    ds = per_network.load("mnist", point.d, seed=0, test_fraction=point.test_fraction,
                          path=point.mnist_path)
    n_train = point.n_train or ds.x_train.shape[0]
    x, y = ds.x_train[:n_train], ds.y_train[:n_train]
    params0 = init_stack(point.seed, point.d, point.m, point.n_networks)
    result = adversarial.adversarial_train(
        jax.random.PRNGKey(protocol.derive_seed(point.seed, "minibatches")), params0, x, y,
        eps=point.eps, C0=point.C0, epochs=point.epochs, lr=point.lr, patience=point.epochs,
        attack_steps=point.attack_steps if point.eps > 0 else 1,
        batch_size=point.batch_size or None, radius=point.radius)
    rows = [evaluate(models.TwoLayer(W, a), models.TwoLayer(W0, a), ds.x_test, ds.y_test,
                     point.eval_eps, steps=point.eval_steps)
            for W, W0, a in zip(result.params.W, params0.W, params0.a)]
    out = per_network.stack_rows(rows)
    history = result.history
    return {**out, "C0_hat": np.asarray(history.C0_hat),
            "train_accuracy": np.asarray(history.accuracy),
            "train_robust": np.asarray(history.robust_accuracy), "y": np.asarray(ds.y_test)}


def kappas(ctx, ds, m: int, *, n_networks: int, n_points: int) -> dict:
    """``{d: kappa_d}`` at width ``m``, calibrated on seeds disjoint from every checked network
    (:func:`.per_network.calibrate`)."""
    points = per_network.kappa_points(ds, m, n_networks=n_networks, n_points=n_points,
                                      seed=ctx.seed, role="adversarial-kappa")
    return {d: c["kappa"] for d, c in per_network.calibrate(ctx, points).items()}


def envelope(result: dict, *, d: int, m: int, C0: float, kappa: float):
    """Per network and point `(n_networks, n_test)`: the envelope ``B(x)`` at the nominal ``C0``
    (valid for every network with ``C0_hat <= C0``) and whether the point is inside the
    envelope's conditions (:func:`ntk_attack.bounds.envelope_conditions`)."""
    f0, g0 = np.asarray(result["init_f"]), np.asarray(result["init_grad_norm"])
    B = np.stack([np.asarray(bounds.lazy_envelope(f, g, C0=C0, d=d, m=m, kappa_d=kappa))
                  for f, g in zip(f0, g0)])
    eligible = np.stack([np.asarray(bounds.envelope_conditions(g, C0=C0, d=d, m=m).points)
                         for g in g0])
    return B, eligible


def robust_at_max_bound(result: dict, B, eligible) -> tuple:
    """Single-step robust accuracy over each network's eligible points at ``eps = max B`` over
    them, `(n_networks,)`, and the share of those points correctly classified (a robust accuracy
    of 0 means something only if some are). NaN where a network has no eligible point."""
    eta = np.asarray(result["eta"], dtype=float)
    correct = np.sign(np.asarray(result["f"])) == np.asarray(result["y"])[None, :]
    robust, clean = [], []
    for e, b, ok, c in zip(eta, B, eligible, correct):
        if not ok.any():
            robust.append(np.nan)
            clean.append(np.nan)
            continue
        top = b[ok].max()
        robust.append(np.mean(c[ok] & (e[ok] > top)))
        clean.append(np.mean(c[ok]))
    return np.array(robust), np.array(clean)


def robust_at_max_B_check(name: str, robust, clean) -> protocol.Check:
    """Single-step robust accuracy at ``eps = max B`` is exactly 0 for every network (THEORY.md 4).

    Args:
        robust, clean: `(n_networks,)` robust and clean accuracy over each network's eligible
            points at ``eps = max B`` (NaN: no eligible point; :func:`robust_at_max_bound`).
    """
    predicted = theory.robust_accuracy_beyond_envelope()
    robust, clean = np.asarray(robust, dtype=float), np.asarray(clean, dtype=float)
    band = protocol.Band(predicted, predicted, 0.0, "THEORY.md 4: every eligible point flips at "
                         "eta* <= B(x) <= max B, whatever the training")
    test = f"{name}: max single-step robust accuracy over networks, eps = max B"
    if np.all(np.isnan(robust)) or not np.nansum(clean) > 0:
        return protocol.Check(test, f"= {predicted:g}", math.nan, (-math.inf, math.inf), band, None,
                              "inconclusive", "no eligible correctly classified point")
    return protocol.exact_check(test, prediction=f"= {predicted:g}", value=float(np.nanmax(robust)),
                                band=band, note=f"eligible points correctly classified: "
                                                f"{np.nanmean(clean):.3f} (mean over networks)")


def mean_ci(values, *, level: float, seed: int) -> dict:
    """Per column of `(n_networks, k)` the mean over networks and its bootstrap CI
    (:func:`verification.protocol.bootstrap_columns`): ``{"mean", "lo", "hi"}`` lists of length
    ``k``. A gain of adversarial over standard training is ``mean_ci(adv - standard)``, paired
    over networks with the same ``params0``."""
    columns = protocol.bootstrap_columns(values, level=level, seed=seed)
    return dict(zip(("mean", "lo", "hi"), (c.tolist() for c in columns)))
