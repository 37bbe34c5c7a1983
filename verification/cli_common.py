"""What the ``ntk-attack`` subcommands share: exit codes, the usage error, the data of the
``kernel``, ``attack`` and ``advtrain`` subcommands and their ``--json`` output."""
import math
import os

EXIT_OK, EXIT_USAGE = 0, 2  # verify's exit 1 (a claim did not pass) is report.summarize's


class UsageError(ValueError):
    """A bad command line: reported in one line, exit code 2."""


def points(args, key, n: int, *, n_train: int = 0):
    """``(x_train, y_train, x_test, y_test)`` of the chosen data, ``d = args.d``."""
    from ntk_attack import data

    if args.mnist is not None and args.data != "mnist":
        raise UsageError(f"--mnist needs --data mnist; got --data {args.data}.")
    if args.data == "sphere":  # labels sign(x_1), THEORY.md / ntk_attack.data.sphere
        total = (n_train or n) + n
        ds = data.sphere(key, total, args.d, test_fraction=n / total)
        return ds.x_train, ds.y_train, ds.x_test, ds.y_test
    size = math.isqrt(args.d)
    if size * size != args.d:
        raise UsageError(f"--d must be a square size^2 for --data {args.data} (images are "
                         f"resized to size x size); got {args.d}.")
    if args.data == "digits":
        ds = data.digits(size, seed=args.seed)
    elif args.mnist is not None:
        ds = data.mnist(args.mnist, size)
    else:
        ds = data.mnist_subset(size, seed=args.seed)
    return ds.x_train, ds.y_train, ds.x_test[:n], ds.y_test[:n]


def check_json_target(path):
    """Fail before any work if ``--json`` cannot be a file (a folder, or no parent folder)."""
    if path is None:
        return
    if os.path.isdir(path):
        raise UsageError(f"--json {path!r}: is a folder; give a file name.")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"--json {path!r}: the folder {parent!r} does not exist.")


def write_json(path, result: dict):
    if path is None:
        return
    from ntk_attack.io import dumps, write_text_atomically

    try:
        write_text_atomically(path, dumps(result))
    except OSError as error:
        raise UsageError(f"--json {path!r}: cannot write ({error.strerror or error}).") from None
