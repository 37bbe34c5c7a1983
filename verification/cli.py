"""The ``ntk-attack`` command line: ``verify``, ``kernel``, ``attack``, ``advtrain`` and ``figures``.

Exit codes: 0 success (``verify``: every claim that ran passed; a skipped claim, one that cannot
run here, does not count unless ``--strict``), 1 a claim failed, was inconclusive or errored (or,
with ``--strict``, was skipped), 2 a usage error (bad option, unknown claim id, unwritable
results folder, missing file), reported in one line without a traceback.

Start-up stays light: JAX, matplotlib and neural-tangents are imported inside the subcommands,
never at import time, so usage errors and sizes beyond memory (``d * m`` of ``kernel``,
``attack`` and ``advtrain``, checked first) are answered before JAX loads. Float64
(``jax_enable_x64``) is turned on before any subcommand runs; every tolerance of the toolkit is
stated for it.
"""
import argparse
import math
import os
import sys

import ntk_attack
from ntk_attack import _memory
from verification import cli_advtrain, enable_x64
from verification.cli_common import (EXIT_OK, EXIT_USAGE, UsageError, check_json_target, points,
                                     write_json)

DATA = ("sphere", "digits", "mnist")
SIGNS = ("balanced", "random", "antisymmetric")  # ntk_attack.models.SIGNS


# --- argument types ---------------------------------------------------------------------------

def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value
    parse.__name__ = f"integer >= {minimum}"
    return parse


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _nonnegative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


# --- parser -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ntk-attack", allow_abbrev=False,
        description="Numerical checks of 'Adversarial Robustness is at Odds with Lazy Training' "
                    "(Wang et al., NeurIPS 2022). Start with `ntk-attack verify`.")
    parser.add_argument("--version", action="version",
                        version=f"ntk-attack {ntk_attack.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    seed_help = "integer seed of every random draw (recorded; same seed, same bits)"

    verify = sub.add_parser(
        "verify", allow_abbrev=False, help="run the paper's claims and write the report",
        description="Run every claim of verification/ (or those given with --only), judge each "
                    "against its prediction (THEORY.md section 8) and write report.json, "
                    "report.md and the figures into --out. Grid points are cached in OUT/cache, "
                    "so an interrupted run resumes. Exit 0 if every claim that ran passed "
                    "(skipped claims, which cannot run here, do not count unless --strict), 1 if "
                    "any failed, was inconclusive or raised, 2 on usage errors.")
    verify.add_argument("--profile", choices=("quick", "full"), default="quick",
                        help="quick: small grids, a few minutes (default); full: the paper-scale grids (hours)")
    verify.add_argument("--out", default="results", metavar="DIR", help="results folder (default: results)")
    verify.add_argument("--seed", type=_int_at_least(0), default=0, help=seed_help + " (default 0)")
    verify.add_argument("--only", nargs="+", metavar="CLAIM", help="run only these claim ids")
    verify.add_argument("--claims", nargs="+", default=[], metavar="MODULE",
                        help="also import these modules (from the current folder or sys.path), "
                             "each registering claims (docs/extending.md)")
    verify.add_argument("--tag", default="", metavar="TAG",
                        help="cache grid points apart under this label (letters, digits, - and _), "
                             "e.g. for runs of deliberately changed code")
    verify.add_argument("--workers", type=_int_at_least(1), default=1, metavar="N",
                        help="processes for grid points (default 1: in this process); results "
                             "are bitwise the same for every N")
    verify.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="where grid points run: local (this process or --workers "
                             "processes) or dask (a dask.distributed cluster: pip install -e "
                             "\".[dask]\"); results are bitwise the same")
    verify.add_argument("--scheduler", metavar="ADDRESS",
                        help="with --executor dask: a running scheduler (e.g. tcp://host:8786); "
                             "default: a LocalCluster of --workers processes")
    verify.add_argument("--scheduler-timeout", type=_positive_float, default=30.0, metavar="S",
                        help="seconds to wait for --scheduler to answer (default 30)")
    verify.add_argument("--fresh", action="store_true", help="ignore cached grid points")
    verify.add_argument("--strict", action="store_true",
                        help="a skipped claim (e.g. an optional dependency absent) fails the run")
    verify.add_argument("--pdf", action="store_true", help="also write figures as PDF")
    verify.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    verify.add_argument("--mnist", metavar="PATH",
                        help="full MNIST (mnist.npz or a folder of IDX files) for claims that "
                             "use it; default: the bundled 5,000-image subset")
    verify.add_argument("--list", action="store_true", help="list claim ids (--power: mutants)")
    verify.add_argument("--power", action="store_true", help="quick profile clean, then under each "
                        "planted bug (in-process): kill matrix; exit 0 iff clean passes, all caught")
    verify.add_argument("--mutants", nargs="+", metavar="NAME", help="with --power: only these")
    verify.add_argument("--generated", metavar="JSON",
                        help="with --power: also accept the generated mutants recorded in JSON "
                             "(verification/mutants/generated.py); without --mutants, run those")
    verify.set_defaults(func=cmd_verify)

    def model_options(p, *, d, m):
        p.add_argument("--d", type=_int_at_least(1), default=d,
                       help=f"input dimension (default {d}); a square size^2 for image data")
        p.add_argument("--m", type=_int_at_least(1), default=m, help=f"width (default {m})")
        p.add_argument("--signs", choices=SIGNS, default="balanced",
                       help="second-layer signs (default balanced)")
        p.add_argument("--data", choices=DATA, default="sphere",
                       help="sphere: uniform on the unit sphere (default); digits: scikit-learn "
                            "8x8 digits 0 vs 1; mnist: MNIST 0 vs 1 (bundled subset, or --mnist)")
        p.add_argument("--mnist", metavar="PATH", help="full MNIST file or folder for --data mnist")
        p.add_argument("--seed", type=_int_at_least(0), default=0, help=seed_help + " (default 0)")
        p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
        p.add_argument("--max-memory", metavar="SIZE",
                       help="memory the arrays may take, e.g. 8G or 512M (default: the "
                            "available memory, or $NTK_ATTACK_MAX_MEMORY); larger sizes are "
                            "refused before any work, exit 2")

    kernel = sub.add_parser(
        "kernel", allow_abbrev=False, help="analytic vs empirical first-layer NTK",
        description="Compare the analytic first-layer NTK Theta_W (THEORY.md section 5) with the "
                    "empirical NTK of one random width-m network on n points: each entry, its "
                    "difference and the exact standard deviation |x.x'| sqrt(p(1-p)/m) of the "
                    "difference.")
    model_options(kernel, d=16, m=1024)
    kernel.add_argument("--n", type=_int_at_least(2), default=4,
                        help="number of points (default 4)")
    kernel.set_defaults(func=cmd_kernel)

    attack = sub.add_parser(
        "attack", allow_abbrev=False, help="single-step attack sizes eta* (min flip)",
        description="Smallest step eta* along the normalised gradient that flips the sign "
                    "(THEORY.md section 3), on n test points of one network: at init for "
                    "--C0 0, else after lazy training (logistic loss, full-batch GD, stopped "
                    "at ||W - W0||_{2,inf} = C0/sqrt(m)).")
    model_options(attack, d=64, m=1024)
    attack.add_argument("--C0", type=_nonnegative_float, default=0.0,
                        help="lazy radius times sqrt(m); 0 attacks the network at init (default)")
    attack.add_argument("--n", type=_int_at_least(1), default=200,
                        help="number of test points attacked (default 200)")
    attack.add_argument("--n-train", type=_int_at_least(2), default=200,
                        help="training points for --data sphere (default 200)")
    attack.add_argument("--steps", type=_int_at_least(0), default=300,
                        help="maximal training steps when --C0 > 0 (default 300)")
    attack.add_argument("--lr", type=_positive_float, default=4.0,
                        help="learning rate when --C0 > 0 (default 4)")
    attack.set_defaults(func=cmd_attack)

    cli_advtrain.add_parser(sub, model_options, positive=_positive_float,
                            nonnegative=_nonnegative_float, int_at_least=_int_at_least)

    figures = sub.add_parser(
        "figures", allow_abbrev=False, help="re-render figures and the reports from a results folder",
        description="Redraw every figure, report.md and report.html from OUT/report.json (no claim is rerun).")
    figures.add_argument("--out", default="results", metavar="DIR",
                         help="results folder holding report.json (default: results)")
    figures.add_argument("--pdf", action="store_true", help="also write figures as PDF")
    figures.add_argument("--format", nargs="+", choices=("png", "pdf", "svg"), default=["png"],
                         dest="formats", metavar="FORMAT",
                         help="figure formats among png, pdf, svg (vector output for papers); "
                              "PNG is always written, the reports link it (default: png)")
    figures.add_argument("--contact-sheet", action="store_true",
                         help="also write OUT/contact_sheet.png: every figure as a thumbnail "
                              "under its claim id, to look at them all at once")
    figures.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    figures.set_defaults(func=cmd_figures)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``ntk-attack`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if getattr(args, "max_memory", None) is not None:
            _memory.parse_bytes(args.max_memory)  # a bad size is a usage error
            os.environ[_memory.MEMORY_VARIABLE] = args.max_memory
        if getattr(args, "m", None) is not None:  # kernel, attack, advtrain: W (m, d) in float64
            _memory.check_weights_memory(args.d, args.m, itemsize=8, dtype="float64")
        enable_x64()
        return args.func(args)
    except ValueError as error:  # validation at the edge: one line, no traceback
        print(f"ntk-attack {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # the file system refused (disk full, permissions): one line too
        print(f"ntk-attack {args.command}: error: {error.strerror or error}"
              f"{f': {error.filename!r}' if error.filename else ''}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ntk-attack: interrupted (cached grid points are kept).", file=sys.stderr)
        return 130


# --- verify / figures -------------------------------------------------------------------------

def cmd_verify(args) -> int:
    from verification import report

    if args.claims and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: the user's module sits here

    if args.strict and (args.power or args.mutants or args.generated):
        raise UsageError("--strict applies to a verification run, not to --power.")
    if args.power or args.mutants or args.generated:
        from verification import power
        return power.command(args)
    if args.list:
        for claim_id, spec in report.load_claims(args.claims).items():
            print(f"{claim_id}\t{spec.title}")
        return EXIT_OK
    if args.mnist is not None and not os.path.exists(args.mnist):
        raise UsageError(f"--mnist {args.mnist!r}: no such file or folder.")
    if args.scheduler is not None and args.executor != "dask":
        raise UsageError("--scheduler needs --executor dask.")
    options = dict(profile=args.profile, seed=args.seed, out_dir=args.out, fresh=args.fresh,
                   quiet=args.quiet, pdf=args.pdf, mnist_path=args.mnist,
                   claim_modules=args.claims, tag=args.tag, strict=args.strict)
    if args.executor == "dask":
        try:
            from verification.executors import dask_executor
        except ImportError as error:
            raise UsageError(f"--executor dask needs dask.distributed ({error}); install it with "
                             "pip install -e \".[dask]\".") from None
        with dask_executor(scheduler=args.scheduler, workers=args.workers,
                           timeout=args.scheduler_timeout) as cluster:
            result = report.run_claims(args.only, executor=cluster.executor,
                                       workers=cluster.workers, **options)
    else:
        result = report.run_claims(args.only, workers=args.workers, **options)
    print(f"{report.summary_line(result)}; report: {os.path.join(args.out, 'report.md')}")
    return report.exit_code(result)


def cmd_figures(args) -> int:
    from verification import report

    result = report.render(args.out, pdf=args.pdf, formats=tuple(args.formats), quiet=args.quiet)
    paths = [path for e in result["claims"] for path in e.get("figures", [])]
    print(f"{len(paths)} figures, report.md and report.html written to {args.out}")
    if args.contact_sheet and paths:
        print(f"contact sheet: {write_contact_sheet(args.out, paths)}")
    return EXIT_OK


def write_contact_sheet(out: str, paths: list) -> str:
    """``OUT/contact_sheet.png``: the figures at ``paths`` (PNG, relative to ``out``, in report
    order) as thumbnails labelled ``claim id / figure``."""
    from matplotlib.image import imread

    from ntk_attack import plotting
    from ntk_attack.plotting import common

    images = {"{} / {}".format(*path.split("/")[-2:]).removesuffix(".png"):
              imread(os.path.join(out, path)) for path in paths}
    target = os.path.join(out, "contact_sheet.png")
    common.save_figure(plotting.contact_sheet(images), target, dpi=100)
    return target


# --- kernel / attack --------------------------------------------------------------------------

def cmd_kernel(args) -> int:
    import jax
    import numpy as np

    from ntk_attack import kernels, models, theory

    check_json_target(args.json)
    key_data, key_net = jax.random.split(jax.random.PRNGKey(args.seed))
    _, _, x, _ = points(args, key_data, args.n)
    params = models.init_two_layer(key_net, args.d, args.m, signs=args.signs)
    analytic = np.asarray(kernels.ntk_first_layer(x, x))
    empirical = np.asarray(kernels.empirical_ntk(params, x))
    dot = x @ x.T
    norms = np.linalg.norm(x, axis=1)
    # Exact for independent rows; antisymmetric init duplicates rows: sqrt(2) larger (THEORY 5).
    sd = theory.empirical_ntk_sd(dot, dot / np.outer(norms, norms), args.m, signs=args.signs)
    diff = empirical - analytic
    pairs = [{"i": int(i), "j": int(j), "cos_theta": float(dot[i, j] / (norms[i] * norms[j])),
              "analytic": float(analytic[i, j]), "empirical": float(empirical[i, j]),
              "diff": float(diff[i, j]), "predicted_sd": float(sd[i, j])}
             for i, j in zip(*np.triu_indices(len(x), k=1))]
    # sd = 0 (antipodal or orthogonal pairs, e.g. every pair at d = 1) means an exact 0 difference:
    # such pairs carry no Monte Carlo noise and are left out of the rms of diff / sd.
    z = np.array([pair["diff"] / pair["predicted_sd"] for pair in pairs if pair["predicted_sd"] > 0])
    result = {"d": args.d, "m": args.m, "n": len(x), "signs": args.signs, "data": args.data,
              "seed": args.seed, "pairs": pairs,
              "max_abs_diff": max(abs(pair["diff"]) for pair in pairs),
              "rms_z": float(np.sqrt(np.mean(z ** 2))) if z.size else None,
              "diagonal_max_abs_diff": float(np.max(np.abs(np.diag(diff))))}
    print(f"first-layer NTK, d = {args.d}, m = {args.m}, {len(x)} {args.data} points, "
          f"{args.signs} signs, seed {args.seed}")
    print(f"{'i':>3} {'j':>3} {'cos':>8} {'analytic':>11} {'empirical':>11} {'diff':>11} "
          f"{'sd (pred)':>10}")
    for r in pairs[:15]:
        print(f"{r['i']:>3} {r['j']:>3} {r['cos_theta']:>8.4f} {r['analytic']:>11.6f} "
              f"{r['empirical']:>11.6f} {r['diff']:>11.2e} {r['predicted_sd']:>10.2e}")
    if len(pairs) > 15:
        print(f"... {len(pairs) - 15} more pairs (all in --json)")
    rms = "n/a (every pair has sd 0)" if z.size == 0 else f"{result['rms_z']:.3f}"
    print(f"max |diff| off the diagonal {result['max_abs_diff']:.3e}; rms of diff / sd "
          f"{rms} (about 1 expected); max |diff| on the diagonal "
          f"{result['diagonal_max_abs_diff']:.3e}")
    write_json(args.json, result)
    return EXIT_OK


def cmd_attack(args) -> int:
    import jax
    import numpy as np

    from ntk_attack import attacks, models, theory, training

    check_json_target(args.json)
    key_data, key_net = jax.random.split(jax.random.PRNGKey(args.seed))
    trained = args.C0 > 0
    x_train, y_train, x, y = points(args, key_data, args.n,
                                     n_train=args.n_train if trained else 0)
    params = models.init_two_layer(key_net, args.d, args.m, signs=args.signs)
    result = {"d": args.d, "m": args.m, "C0": args.C0, "signs": args.signs, "data": args.data,
              "seed": args.seed, "n": int(len(x))}
    if trained:
        run = training.train(None, params, x_train, y_train, loss="logistic", lr=args.lr,
                             steps=args.steps, C0=args.C0, rule="stop")
        params = run.params
        result.update(steps=args.steps, lr=args.lr, steps_taken=int(run.history.steps_taken),
                      C0_hat=float(run.history.C0_hat[-1]),
                      train_accuracy=float(run.history.accuracy[-1]))
    flip = attacks.min_flip(params, x)
    eta, first = np.asarray(flip.eta), np.asarray(flip.first_order)
    status = np.asarray(flip.status)
    flipped = status == attacks.FlipStatus.FLIPPED
    finite = np.isfinite(first)
    sqrt_d = math.sqrt(args.d)

    def mean_or_none(values):
        return float(np.mean(values)) if values.size else None

    result.update({
        "status_counts": {s.name.lower(): int(np.sum(status == s)) for s in attacks.FlipStatus},
        "median_eta": float(np.median(eta)),  # no-flip points count as inf: a median, not a mean
        "median_eta_sqrt_d": float(np.median(eta) * sqrt_d),
        "mean_eta_flipped": mean_or_none(eta[flipped]),
        "mean_first_order_sqrt_d": mean_or_none(first[finite] * sqrt_d),
        "mean_ratio_eta_first_order": mean_or_none(eta[flipped] / first[flipped]),
        "test_accuracy": float(np.mean(y * np.asarray(models.apply(params, x)) > 0)),
    })
    if not trained and args.signs in theory.INIT_ETA_SQRT_D:
        result["init_prediction_eta_sqrt_d"] = theory.INIT_ETA_SQRT_D[args.signs]
    print(f"min flip along the normalised gradient: d = {args.d}, m = {args.m}, C0 = {args.C0:g}, "
          f"{args.signs} signs, {result['n']} {args.data} points, seed {args.seed}")
    if trained:
        print(f"trained {result['steps_taken']} of {args.steps} steps (lr {args.lr:g}): "
              f"C0_hat {result['C0_hat']:.3g}, train accuracy {result['train_accuracy']:.3f}")
    counts = ", ".join(f"{k} {v}" for k, v in result["status_counts"].items() if v)
    table = [("points", counts), ("median eta*", result["median_eta"]),
             ("mean eta* (flipped)", result["mean_eta_flipped"]),
             ("median eta* sqrt(d)", result["median_eta_sqrt_d"]),
             ("mean |f| / ||grad f|| sqrt(d)", result["mean_first_order_sqrt_d"]),
             ("mean eta* / first-order (flipped)", result["mean_ratio_eta_first_order"]),
             ("test accuracy", result["test_accuracy"]),
             ("predicted E[eta* sqrt(d)], init", result.get("init_prediction_eta_sqrt_d"))]
    for label, value in table:
        if value is not None:
            print(f"{label:>36}: {value:.4g}" if isinstance(value, float) else
                  f"{label:>36}: {value}")
    write_json(args.json, result)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
