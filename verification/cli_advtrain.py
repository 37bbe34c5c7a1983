"""``ntk-attack advtrain``: one network trained adversarially inside a ball around ``W0``, beside
the same network trained with ``eps = 0`` (THEORY.md 1, 4, 7; :mod:`ntk_attack.adversarial`).

Its options and errors follow ``ntk-attack attack`` (:mod:`verification.cli`): bad inputs exit 2
with one line. Heavy modules are imported inside :func:`run`.
"""


def add_parser(sub, model_options, *, positive, nonnegative, int_at_least):
    """Add the ``advtrain`` subcommand to ``sub`` with the shared ``model_options`` and the
    command line's argument types."""
    advtrain = sub.add_parser(
        "advtrain", allow_abbrev=False, help="adversarial training inside the lazy ball",
        description="Train one network adversarially (PGD-l2 at radius --eps, THEORY.md 7) "
                    "inside the ball ||w_s - w_s,0|| <= C0/sqrt(m) (--radius lazy) or <= C0 "
                    "(--radius absolute), and beside it the same network trained with eps = 0; "
                    "print C0_hat, clean and robust accuracy (PGD and the exact single step) "
                    "on n test points at each radius of --eval-eps.")
    model_options(advtrain, d=49, m=256)
    advtrain.add_argument("--C0", type=positive, default=1.0,
                          help="ball radius: C0/sqrt(m) per row (lazy) or C0 (absolute) (default 1)")
    advtrain.add_argument("--radius", choices=("lazy", "absolute"), default="lazy",
                          help="lazy: rows within C0/sqrt(m) (default); absolute: within C0")
    advtrain.add_argument("--eps", type=nonnegative, default=0.1,
                          help="PGD-l2 radius of training (default 0.1; 0 is standard training)")
    advtrain.add_argument("--eval-eps", type=positive, nargs="+", metavar="EPS",
                          help="radii of the robust accuracies (default: 0.5, 1, 2 times --eps, "
                               "or 0.05 0.1 0.2 for --eps 0)")
    advtrain.add_argument("--attack-steps", type=int_at_least(1), default=10,
                          help="PGD steps of training and evaluation, step 2.5 eps / steps (default 10)")
    advtrain.add_argument("--epochs", type=int_at_least(1), default=10, help="epochs (default 10)")
    advtrain.add_argument("--batch-size", type=int_at_least(1), default=None,
                          help="minibatch size (default: full batch)")
    advtrain.add_argument("--lr", type=positive, default=4.0, help="learning rate (default 4)")
    advtrain.add_argument("--n", type=int_at_least(1), default=200,
                          help="number of test points attacked (default 200)")
    advtrain.add_argument("--n-train", type=int_at_least(2), default=200,
                          help="training points for --data sphere (default 200)")
    advtrain.set_defaults(func=run)


def run(args) -> int:
    """``ntk-attack advtrain``: print the table, write ``--json``; returns the exit code."""
    import jax
    import numpy as np

    from ntk_attack import adversarial, attacks, labelled_attacks, models, theory
    from verification import cli_common

    cli_common.check_json_target(args.json)
    eval_eps = args.eval_eps or ([f * args.eps for f in (0.5, 1.0, 2.0)] if args.eps > 0
                                 else [0.05, 0.1, 0.2])
    key_data, key_net, key_batches = jax.random.split(jax.random.PRNGKey(args.seed), 3)
    x_train, y_train, x, y = cli_common.points(args, key_data, args.n, n_train=args.n_train)
    if args.batch_size is not None and args.batch_size > len(x_train):
        raise cli_common.UsageError(f"--batch-size must be at most the {len(x_train)} training "
                                    f"points; got {args.batch_size}.")
    params0 = models.init_two_layer(key_net, args.d, args.m, signs=args.signs)
    result = {"d": args.d, "m": args.m, "C0": args.C0, "radius": args.radius, "eps": args.eps,
              "signs": args.signs, "data": args.data, "seed": args.seed, "n": int(len(x)),
              "epochs": args.epochs, "lr": args.lr, "attack_steps": args.attack_steps,
              "batch_size": args.batch_size, "eval_eps": eval_eps,
              "C0_hat_limit": theory.C0_hat_limit(args.C0, args.m, radius=args.radius),
              "C0_over_sqrt_d": theory.effective_C0_over_sqrt_d(args.C0, m=args.m, d=args.d,
                                                                 radius=args.radius), "arms": {}}
    for arm, eps in (("standard", 0.0), ("adversarial", args.eps)):
        run = adversarial.adversarial_train(
            key_batches, params0, x_train, y_train, eps=eps, C0=args.C0, epochs=args.epochs,
            lr=args.lr, patience=args.epochs, attack_steps=args.attack_steps,
            batch_size=args.batch_size, radius=args.radius)
        net = run.params
        flip = attacks.min_flip(net, x)
        pgd = [labelled_attacks.pgd(net, x, y, eps=e, steps=args.attack_steps,
                                    step_size=theory.pgd_step_size(e, args.attack_steps))
               for e in eval_eps]
        correct = np.asarray(y * flip.f0 > 0)
        result["arms"][arm] = {
            "C0_hat": float(np.max(run.history.C0_hat)),
            "epochs_taken": int(run.history.epochs_taken),
            "train_accuracy": float(run.history.accuracy[-1]),
            "train_robust_accuracy": float(run.history.robust_accuracy[-1]),
            "test_accuracy": float(np.mean(correct)),
            "pgd_robust_accuracy": [float(np.mean(correct & np.asarray(p.margin > 0))) for p in pgd],
            "line_robust_accuracy": np.asarray(
                labelled_attacks.line_robust_accuracy(flip, y, eval_eps)).tolist(),
            "median_eta": float(np.median(np.asarray(flip.eta)))}
    print(f"adversarial training: d = {args.d}, m = {args.m}, {args.radius} C0 = {args.C0:g} "
          f"(C0_hat <= {result['C0_hat_limit']:.4g}, C0/sqrt(d) = {result['C0_over_sqrt_d']:.3g}), "
          f"PGD-l2 eps = {args.eps:g} ({args.attack_steps} steps), {args.epochs} epochs, "
          f"{result['n']} {args.data} test points, seed {args.seed}")
    header = f"{'':>26}" + "".join(f"{arm:>13}" for arm in result["arms"])
    print(header)
    rows = [("max C0_hat over epochs", "C0_hat"), ("train accuracy", "train_accuracy"),
            ("train robust (PGD)", "train_robust_accuracy"), ("test accuracy", "test_accuracy"),
            ("median eta*", "median_eta")]
    for label, key in rows:
        print(f"{label:>26}" + "".join(f"{a[key]:>13.4g}" for a in result["arms"].values()))
    for j, eps in enumerate(eval_eps):
        for attack in ("pgd", "line"):
            print(f"{f'robust {attack} eps = {eps:.3g}':>26}" + "".join(
                f"{a[f'{attack}_robust_accuracy'][j]:>13.4g}" for a in result["arms"].values()))
    cli_common.write_json(args.json, result)
    return cli_common.EXIT_OK
