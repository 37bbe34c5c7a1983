"""Bad inputs, one test per row of ``docs/bad_inputs.md`` that no other test already covers.

Library functions raise ``ValueError`` naming the argument and what arrived; the CLI prints one
line ``ntk-attack COMMAND: error: ...`` and exits 2, without a traceback, and leaves files
already written untouched. Accepted inputs (zero-norm and unnormalised points, empty batches,
``m = 1``, ``d = 1``) are checked for the value they get.
"""
import gzip
import json
import os
import shutil
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ntk_attack import io
from conftest import assert_close

import dummy_claims
from ntk_attack import attacks, bounds, data, kernels, labelled_attacks, models, predictors, training
from verification import cli
from verification import report

KEY = jax.random.PRNGKey(0)
PARAMS = models.init_two_layer(KEY, 4, 8)


def usage_error(capsys, argv, match):
    """``cli.main(argv)`` exits 2 with one line naming the problem and no traceback."""
    assert cli.main([str(a) for a in argv]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ntk-attack {argv[0]}: error: "), err
    assert match in lines[0], lines[0]
    assert "Traceback" not in err
    return lines[0]


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------- models

PARAMS_USERS = (lambda p: models.apply(p, jnp.ones(4)), lambda p: models.input_grad(p, jnp.ones(4)),
                lambda p: models.to_bubeck(p, jnp.ones(4)), kernels.to_stax_params,
                lambda p: kernels.empirical_ntk(p, jnp.ones((2, 4))))


@pytest.mark.parametrize("params, match", [
    (models.TwoLayer(PARAMS.W.at[0, 0].set(jnp.nan), PARAMS.a), "params.W must be finite"),
    (models.TwoLayer(PARAMS.W.at[1, 2].set(jnp.inf), PARAMS.a), "params.W must be finite"),
    (models.TwoLayer(PARAMS.W, PARAMS.a.at[0].set(jnp.nan)), "params.a must be finite"),
    (models.TwoLayer(PARAMS.W, PARAMS.a[:3]), r"TwoLayer\(W: \(m, d\), a: \(m,\)\).*got W \(8, 4\), a \(3,\)"),
    (models.TwoLayer(PARAMS.W[0], PARAMS.a), r"got W \(4,\), a \(8,\)"),
    ((PARAMS.W, PARAMS.a, PARAMS.a), "params must be TwoLayer.*got tuple"),
], ids=["W-nan", "W-inf", "a-nan", "a-length", "W-1d", "not-a-pair"])
def test_model_rejects_bad_params(params, match):
    for use in PARAMS_USERS:
        with pytest.raises(ValueError, match=match):
            use(params)


@pytest.mark.parametrize("x, match", [
    (jnp.float64(1.0), r"x must have shape \(d,\) or \(n, d\) with d = 4; got shape \(\)"),
    (np.array(["a", "b", "c", "d"]), "x must be an array of real numbers; got dtype <U1"),
    (np.ones(4) * 1j, "x must be an array of real numbers; got dtype complex128"),
], ids=["scalar", "strings", "complex"])
def test_model_rejects_bad_points(x, match):
    # Wrong d, rank 3, NaN and inf: tests/test_models.py::test_apply_rejects_bad_points.
    for fn in (models.apply, models.input_grad):
        with pytest.raises(ValueError, match=match):
            fn(PARAMS, x)


def test_init_rejects_a_non_floating_dtype():
    with pytest.raises(ValueError, match="dtype must be a floating dtype .*; got .*int32"):
        models.init_two_layer(KEY, 4, 8, dtype=jnp.int32)


def test_zero_norm_input_is_accepted():
    """``f(0) = 0`` with a zero gradient: every neuron sits at its kink and counts as inactive."""
    zero = jnp.zeros(4)
    assert float(models.apply(PARAMS, zero)) == 0.0
    np.testing.assert_array_equal(models.input_grad(PARAMS, zero), 0.0)
    np.testing.assert_array_equal(jax.grad(models.apply, argnums=1)(PARAMS, zero), 0.0)


def test_width_one_and_dimension_one():
    with pytest.raises(ValueError, match="m must be even for signs='balanced'; got m = 1"):
        models.init_two_layer(KEY, 4, 1)
    one = models.init_two_layer(KEY, 3, 1, signs="random")  # m = 1: f = a relu(w . x)
    x = jnp.array([[0.6, 0.0, 0.8], [-0.6, 0.0, -0.8]])
    assert_close(models.apply(one, x), one.a[0] * jax.nn.relu(x @ one.W[0]), atol=1e-15,
                 why="a single term, float64")
    line = models.init_two_layer(KEY, 1, 6)  # d = 1: x = +-1, f(x) = x f(1) for x > 0
    x = jnp.array([[1.0], [-1.0], [2.0]])
    f = models.apply(line, x)
    assert_close(f[2], 2 * f[0], atol=1e-15, why="homogeneity, one coordinate")
    assert_close(models.input_grad(line, x)[:, 0] * x[:, 0], f, atol=1e-15, why="x . grad f = f")
    for kernel in (kernels.nngp, kernels.ntk_first_layer):  # every pair coincident or antipodal
        assert np.all(np.isfinite(jax.jacrev(kernel)(x, x)))
    assert_close(kernels.ntk_first_layer(x, x), [[0.5, 0, 1], [0, 0.5, 0], [1, 0, 2]], atol=1e-15,
                 why="Theta_W = x x' / 2 at theta = 0 and 0 at theta = pi, exactly (snapped cosines)")


def test_empty_batch_gives_an_empty_result():
    empty = jnp.ones((0, 4))
    assert models.apply(PARAMS, empty).shape == (0,)
    assert models.input_grad(PARAMS, empty).shape == (0, 4)
    assert kernels.ntk_first_layer(empty, jnp.ones((2, 4))).shape == (0, 2)
    assert kernels.empirical_ntk(PARAMS, empty).shape == (0, 0)


def test_kernels_reject_points_without_coordinates():
    with pytest.raises(ValueError, match=r"x1 must have d >= 1 columns; got shape \(3, 0\)"):
        kernels.ntk_first_layer(jnp.ones((3, 0)), jnp.ones((2, 0)))


# ---------------------------------------------------------------------------- attacks, training, predictors

def test_min_flip_at_width_one_and_dimension_one():
    """``m = 1``: ``f`` falls linearly to 0 at ``t = w . x / ||w||`` and stays 0 (a changed sign);
    inactive points have no gradient. ``d = 1``: ``f(x) = x f(1)`` on each half line, so ``eta* = |x|``."""
    one = models.init_two_layer(KEY, 3, 1, signs="random")
    x = jax.random.normal(jax.random.PRNGKey(1), (12, 3))
    result = attacks.min_flip(one, x)
    z = np.asarray(x @ one.W[0])
    np.testing.assert_array_equal(result.status, np.where(z > 0, attacks.FlipStatus.FLIPPED, attacks.FlipStatus.ZERO_GRADIENT))
    assert_close(result.eta[z > 0], z[z > 0] / float(jnp.linalg.norm(one.W[0])), rtol=1e-14,
                 why="one linear piece; float64 rounding of w . x / ||w||")
    assert np.all(np.isinf(np.asarray(result.eta)[z <= 0]))
    line = models.init_two_layer(KEY, 1, 6)
    x = jnp.array([[1.0], [-2.0], [0.5]])
    assert_close(attacks.min_flip(line, x).eta, [1.0, 2.0, 0.5], rtol=1e-14,
                 why="f is linear on each half line and vanishes at 0; float64 rounding")


@pytest.mark.parametrize("call, match", [
    (lambda p, x, y: training.train(None, p, x[:0], y[:0], loss="logistic", lr=0.5, steps=1),
     r"x must hold at least one training point; got shape \(0, 4\)"),
    (lambda p, x, y: predictors.ntk_regression(x[:0], y[:0], kernel=kernels.ntk_first_layer, ridge=0.1),
     r"x_train must hold at least one training point; got shape \(0, 4\)"),
    (lambda p, x, y: labelled_attacks.robust_accuracy(p, x[:0], y[:0], eps_grid=[0.1]),
     r"x must have shape \(n, d\) with n >= 1"),
    (lambda p, x, y: training.train(None, p, x, y, loss="logistic", lr=0.5, steps=1, C0=0.0),
     "C0 must be a finite number > 0; got 0.0"),
    (lambda p, x, y: training.project_rows(p.W, p.W + 1, -0.5), "radius must be a finite number >= 0; got -0.5"),
    (lambda p, x, y: training.project_rows(p.W, p.W + 1, float("nan")), "radius must be a finite number >= 0"),
    (lambda p, x, y: training.project_rows(p.W, p.W[:3], 1.0), r"W and W0 must have the same shape"),
], ids=["train-empty", "regression-empty", "robust-accuracy-empty", "train-C0-zero",
        "project-negative-radius", "project-nan-radius", "project-shapes"])
def test_training_and_attacks_reject_bad_input(call, match):
    # Negative eps, labels outside {-1, +1}, negative ridge, C0 < 0 and more: the bad-input tests
    # of tests/test_attacks.py, test_training.py, test_predictors.py and test_bounds.py.
    x = jnp.eye(4)
    with pytest.raises(ValueError, match=match):
        call(PARAMS, x, jnp.ones(4))


def test_single_class_labels_and_C0_zero_bounds_are_accepted():
    x, y = jnp.eye(4), jnp.ones(4)  # every label +1
    history = training.train(None, PARAMS, x, y, loss="logistic", lr=0.5, steps=5).history
    assert np.all(np.isfinite(history.loss)) and history.loss[-1] < history.loss[0]
    predictor = predictors.ntk_regression(x, y, kernel=kernels.ntk_first_layer, ridge=0.0)
    assert_close(predictor.apply(x), y, atol=1e-12, why="interpolates: Theta_W(X, X) = I / 2, float64")
    envelope = bounds.lazy_envelope(jnp.ones(2), 4 * jnp.ones(2), C0=0.0, d=64, m=64, kappa_d=1.0)
    assert np.all(np.isfinite(envelope)), "C0 = 0 is the envelope at init"


# ---------------------------------------------------------------------------- data

@pytest.mark.parametrize("call, match", [
    (lambda: data.sphere(KEY, 1, 3), "n must be an integer >= 2; got 1"),
    (lambda: data.sphere(KEY, 10, 0), "d must be an integer >= 1; got 0"),
    (lambda: data.sphere(KEY, 10, 3, target="step"), "target must be 'sign' or 'tanh'"),
    (lambda: data.sphere(KEY, 10, 3, test_fraction=float("nan")), "test_fraction must be a finite number"),
    (lambda: data.sphere(KEY, 3, 3, test_fraction=0.1), "test_fraction must leave both splits non-empty; got 0.1 of 3 points"),
    (lambda: data.digits(8, classes=5, seed=0), "classes must be two distinct labels; got 5"),
    (lambda: data.digits(8, seed=-1), "seed must be an integer >= 0; got -1"),
    (lambda: data.digits(8, seed=1.5), "seed must be an integer >= 0; got 1.5"),
], ids=["sphere-n-1", "sphere-d-0", "sphere-target", "fraction-nan", "empty-split", "classes-int",
        "seed-negative", "seed-float"])
def test_loaders_reject_bad_arguments(call, match):
    # size 0, classes (0, 0) and absent classes: tests/test_data.py::test_digits_rejects_bad_arguments.
    with pytest.raises(ValueError, match=match):
        call()


def _idx(array, header=None):
    header = header or bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + np.asarray(array, np.uint8).tobytes())


IMAGES = np.random.default_rng(0).integers(1, 255, (20, 28, 28))
LABELS = np.arange(20) % 2
IDX_DAMAGE = {  # file of the four to replace, and its new bytes
    "not-gzip": ("train-images-idx3-ubyte", b"garbage"),
    "truncated-gzip": ("train-images-idx3-ubyte", _idx(IMAGES)[:50]),
    "bad-magic": ("train-images-idx3-ubyte", _idx(IMAGES, header=b"\1\2\3\4")),
    "truncated-idx": ("train-images-idx3-ubyte",  # the header of 20 images, the bytes of 5
                      _idx(IMAGES[:5], header=bytes([0, 0, 8, 3, 0, 0, 0, 20, 0, 0, 0, 28, 0, 0, 0, 28]))),
    "label-count": ("train-labels-idx1-ubyte", _idx(LABELS[:10])),
    "flat-images": ("t10k-images-idx3-ubyte", _idx(IMAGES.reshape(20, -1))),
}
NPZ_DAMAGE = {
    "npz-nan": dict(x_train=np.full((4, 28, 28), np.nan)),
    "npz-strings": dict(x_train=np.full((4, 28, 28), "a")),
    "npz-missing-array": dict(x_test=None),
    "npz-2d-images": dict(x_test=np.ones((4, 784))),
    "npz-single-class": dict(y_train=np.zeros(4, int)),
    "npz-zero-image": dict(x_train=np.concatenate([np.zeros((2, 28, 28)), np.ones((2, 28, 28))])),
}
MESSAGES = {
    "not-gzip": "cannot be read (BadGzipFile", "truncated-gzip": "cannot be read (EOFError",
    "bad-magic": "is not an IDX file", "truncated-idx": "is truncated",
    "label-count": "train split: images must be (n, height, width) with one label each",
    "flat-images": "test split: images must be (n, height, width)",
    "npz-nan": "train split: images must hold finite real numbers",
    "npz-strings": "train split: images must hold finite real numbers; got dtype <U1",
    "npz-missing-array": "lacks arrays ['x_test']", "npz-2d-images": "x_test must be (n, 28, 28)",
    "npz-single-class": "train split: classes must occur in the labels; got 1",
    "npz-zero-image": "train split: images must be nonzero to be scaled to unit norm; got 2 all-zero images",
}
STRUCTURAL = set(IDX_DAMAGE) | {"npz-nan", "npz-strings", "npz-missing-array", "npz-2d-images"}


def damaged_mnist(tmp_path, case):
    """A full-MNIST folder (IDX) or ``mnist.npz`` with one defect."""
    if case in IDX_DAMAGE:
        folder = tmp_path / "mnist"
        folder.mkdir()
        for name, array in zip(data.MNIST_IDX_FILES, (IMAGES, LABELS, IMAGES, LABELS)):
            (folder / f"{name}.gz").write_bytes(_idx(array))
        name, raw = IDX_DAMAGE[case]
        (folder / f"{name}.gz").write_bytes(raw)
        return folder
    arrays = dict(x_train=np.ones((4, 28, 28)), y_train=np.arange(4) % 2, x_test=np.ones((4, 28, 28)),
                  y_test=np.arange(4) % 2) | NPZ_DAMAGE[case]
    path = tmp_path / "mnist.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize("case", list(MESSAGES))
def test_malformed_mnist_names_the_file(tmp_path, case):
    # Missing file, folder without IDX files, not a zip: tests/test_data.py::test_full_mnist_errors_name_the_file.
    path = damaged_mnist(tmp_path, case)
    with pytest.raises(ValueError, match=str(tmp_path)) as raised:
        data.mnist(path, 14)
    assert MESSAGES[case] in str(raised.value)
    if case in STRUCTURAL:  # the cheap up-front check (no resizing) catches the same defects
        with pytest.raises(ValueError, match=str(tmp_path)) as raised:
            data.check_mnist(path)
        assert MESSAGES[case] in str(raised.value)


@pytest.mark.parametrize("case", ["not-gzip", "npz-nan", "npz-single-class"])
def test_cli_malformed_mnist_exits_2(tmp_path, capsys, case):
    path = damaged_mnist(tmp_path, case)
    usage_error(capsys, ["attack", "--data", "mnist", "--mnist", path, "--d", 4, "--n", 2],
                MESSAGES[case])
    if case in STRUCTURAL:  # verify checks the file before any claim runs
        out = tmp_path / "results"
        usage_error(capsys, ["verify", "--mnist", path, "--out", out, "-q"], MESSAGES[case])
        assert not out.exists()


# ---------------------------------------------------------------------------- CLI and results

def test_cli_kernel_at_d_1(tmp_path, capsys):
    """Every pair is coincident or antipodal; antipodal pairs have sd 0 and an exact 0 difference."""
    target = tmp_path / "kernel.json"
    assert cli.main(["kernel", "--d", "1", "--m", "64", "--n", "6", "--json", str(target)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    result = json.loads(target.read_text())
    antipodal = [pair for pair in result["pairs"] if pair["cos_theta"] == -1]
    assert antipodal and all(abs(pair["cos_theta"]) == 1 for pair in result["pairs"])
    assert all(pair["predicted_sd"] == 0 and pair["diff"] == 0 for pair in antipodal)
    assert np.isfinite(result["rms_z"])  # over the coincident pairs only


@pytest.mark.parametrize("where, match", [("folder", "is a folder"), ("no-parent", "does not exist")])
def test_cli_json_target_checked_before_any_work(tmp_path, capsys, where, match):
    target = tmp_path if where == "folder" else tmp_path / "absent" / "out.json"
    usage_error(capsys, ["kernel", "--d", 4, "--m", 8, "--json", target], match)
    assert capsys.readouterr().out == ""  # nothing computed or printed


@pytest.fixture
def results(tmp_path):
    """A results folder holding a (minimal, valid) report and a cache file."""
    out = tmp_path / "results"
    (out / "cache").mkdir(parents=True)
    minimal = {"schema": report.SCHEMA, "run": {}, "summary": {}, "claims": []}
    (out / "report.json").write_text(io.dumps(minimal))
    (out / "report.md").write_text("# an earlier report\n")
    (out / "cache" / "point.npz").write_bytes(b"an earlier grid point")
    return out


def make_read_only(folder):
    """Make ``folder`` unwritable; returns an undo function. Root ignores modes: use chattr +i."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)],
                                                        capture_output=True).returncode:
        pytest.skip("running as root without chattr +i: no way to make a folder read-only")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize("command", ["verify", "figures", "kernel-json"])
def test_read_only_results_folder(results, capsys, command):
    # The library-level check: tests/test_report.py::test_read_only_out_dir (skipped as root).
    before = snapshot(results)
    undo = make_read_only(results)
    try:
        with dummy_claims.registered():
            if command == "kernel-json":  # written at the end, after the table is printed
                usage_error(capsys, ["kernel", "--d", 4, "--m", 8, "--n", 2, "--json",
                                     results / "kernel.json"], "cannot write")
            else:
                argv = ["verify", "--only", dummy_claims.ACTIVE] if command == "verify" else ["figures"]
                usage_error(capsys, argv + ["--out", results, "-q"], "is not writable")
    finally:
        undo()
    assert snapshot(results) == before


@pytest.mark.parametrize("argv, match", [
    (["verify", "--only", "no.such.claim"], "unknown claim id 'no.such.claim'"),
    (["verify", "--mnist", "absent.npz"], "no such file or folder"),
    (["attack", "--data", "digits", "--d", "50"], "--d must be a square"),
    (["kernel", "--mnist", "absent.npz", "--d", "4"], "--mnist needs --data mnist; got --data sphere"),
], ids=["unknown-claim", "missing-mnist", "bad-d", "mnist-without-data"])
def test_usage_errors_leave_existing_results_untouched(results, capsys, argv, match):
    # Fresh folders: tests/test_cli.py::test_usage_errors_exit_2_in_one_line.
    before = snapshot(results)
    usage_error(capsys, argv + (["--out", results, "-q"] if argv[0] == "verify" else
                                ["--json", results / "report.json"]), match)
    assert snapshot(results) == before


@pytest.mark.parametrize("text", [
    '{"schema": "ntk-attack-report/1", "claims": "none"}',
    '{"schema": "ntk-attack-report/1", "run": {}, "summary": {}, "claims": [{"title": "x"}]}',
    '{"schema": "another/1"}',
], ids=["claims-not-a-list", "entry-without-id", "other-schema"])
def test_figures_rejects_a_damaged_report(tmp_path, capsys, text):
    # Truncated (invalid) JSON: tests/test_report.py::test_render_needs_a_report.
    (tmp_path / "report.json").write_text(text)
    usage_error(capsys, ["figures", "--out", tmp_path, "-q"], "report.json")
    assert (tmp_path / "report.json").read_text() == text and not (tmp_path / "report.md").exists()
