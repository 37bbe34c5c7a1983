"""Prototype measurement for ``deep_lazy_training_attack``: full-batch GD on every layer of a
deep relu net (MNIST 0 vs 1, 8 x 8, d = 64), the lazy radius per layer and the attack after.

Loss ``(1/(2N)) sum (f - y)^2``, step ``lr = 1 / lambda_max(Theta_hat(X, X) / N)`` at init.
``C0_hat_l = sqrt(n_l) max_s ||W_l[:, s] - W_l0[:, s]||`` in the raw ``N(0, 1)`` units of
neuron ``s``'s incoming weights (the two-layer paper's ``sqrt(m) ||w_s - w_s0||``).

    python benchmarks/deep_lazy_prototype.py [--steps 100 --widths 256,1024 --depth 2]
"""
import argparse
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from ntk_attack import data, deep  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--widths", default="256,1024")
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    ds = data.mnist_subset(8, seed=0)
    x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
    xt, yt = jnp.asarray(ds.x_test[:100]), jnp.asarray(ds.y_test[:100])
    d = x.shape[1]
    print(f"d = {d}, N = {len(y)} train, {len(yt)} attacked test points, L = {args.depth}, {args.steps} GD steps")
    for n in map(int, args.widths.split(",")):
        for seed in range(args.seeds):
            start = time.perf_counter()
            p0 = deep.init_deep(jax.random.PRNGKey(seed), d, (n,) * args.depth)
            lam = float(jnp.linalg.eigvalsh(deep.empirical_ntk_deep(p0, x) / len(y))[-1])
            lr = 1.0 / lam

            def loss(p):
                return 0.5 * jnp.mean((deep.forward(p, x)[1] - y) ** 2)

            @jax.jit
            def step(p, _):
                g = jax.grad(loss)(p)
                return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), None

            p, _ = jax.lax.scan(step, p0, None, length=args.steps)
            c0 = [math.sqrt(W.shape[1]) * float(jnp.max(jnp.linalg.norm(W - W0, axis=0)))
                  for W, W0 in zip(p.weights, p0.weights)]
            c0_out = float(jnp.linalg.norm(p.readout - p0.readout))  # the readout's single "neuron"
            acc = float(jnp.mean(jnp.sign(deep.forward(p, xt)[1]) == yt))
            before = deep.min_flip_deep(p0, xt, method="bisection", max_ratio=20.0, rtol=1e-6)
            after = deep.min_flip_deep(p, xt, method="bisection", max_ratio=20.0, rtol=1e-6)
            med = lambda r: float(np.median(np.where(np.asarray(r.flipped), np.asarray(r.eta), np.inf)) * math.sqrt(d))
            print(f"n = {n:5d} seed {seed}: lr {lr:.3g}, final loss {float(loss(p)):.4f}, test acc {acc:.3f}, "
                  f"C0_hat per layer {[round(c, 2) for c in c0]}, readout ||dw|| {c0_out:.2f}, "
                  f"median eta* sqrt(d) before {med(before):.3f} after {med(after):.3f}, "
                  f"no-flip after {float(jnp.mean(~after.flipped)):.2f}  {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
