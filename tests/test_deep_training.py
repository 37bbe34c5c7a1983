"""Lazy training of every layer: the projection keeps each unit in its ball, the loss falls,
and a stack of networks under vmap equals the networks one by one."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_close
from ntk_attack import deep, deep_training


@pytest.fixture(scope="module")
def task():
    x = jax.random.normal(jax.random.PRNGKey(1), (40, 9))
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    return x, jnp.where(x[:, 0] > 0, 1.0, -1.0)


def test_every_layer_stays_in_its_ball_and_the_loss_falls(task):
    x, y = task
    result = deep_training.train_lazy_deep(jax.random.PRNGKey(0), x, y, widths=(16, 32), C0=0.5,
                                           lr=20.0, steps=30)
    assert result.C0_hat.shape == (3,)
    assert np.all(np.asarray(result.C0_hat) <= 0.5 * (1 + 1e-12))
    # The rate is large enough that every layer reaches its ball: the projection is active.
    assert_close(result.C0_hat, 0.5, rtol=1e-9, why="projection onto the sphere of radius C0")
    assert float(result.loss[-1]) < float(result.loss[0])
    for W, W0 in zip(result.params.weights, result.params0.weights):
        moved = np.linalg.norm(np.asarray(W - W0), axis=0)
        assert np.all(moved <= 0.5 / math.sqrt(W.shape[1]) * (1 + 1e-12))


def test_projection_is_identity_inside_the_ball(key):
    p0 = deep.init_deep(key, 5, (8,))
    near = jax.tree_util.tree_map(lambda a: a + 1e-4, p0)
    same = deep_training.project_deep(near, p0, 1.0)
    for a, b in zip(jax.tree_util.tree_leaves(same), jax.tree_util.tree_leaves(near)):
        assert_close(a, b, rtol=1e-15, why="inside the ball nothing moves")


def test_vmap_over_keys_equals_one_by_one(task):
    x, y = task
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    stacked = jax.vmap(lambda k: deep_training.train_lazy_deep(k, x, y, widths=(8,), C0=1.0,
                                                               lr=5.0, steps=5))(keys)
    for i, k in enumerate(keys):
        one = deep_training.train_lazy_deep(k, x, y, widths=(8,), C0=1.0, lr=5.0, steps=5)
        assert_close(stacked.loss[i], one.loss, rtol=1e-12, why="same computation, batched")
