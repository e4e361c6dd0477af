"""How much does the graph cost? One training epoch, miniflow vs hand-written numpy.

Both sides do the same math (Linear -> Sigmoid -> Linear -> softmax
cross-entropy, plain SGD) on the same data with the same initial weights; the
hand-written side has no graph at all. Runs alternate and the median of each
is compared, so machine noise affects both sides alike. Usage:

    python benchmarks/bench_training.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from miniflow.datasets import load_digits
from miniflow.examples import build_two_layer_network
from miniflow.graph import forward_and_backward
from miniflow.training import sgd_update

LEARNING_RATE = 0.1


def epoch_miniflow(net, X, y, batch_size):
    for start in range(0, len(X), batch_size):
        net.X.value = X[start:start + batch_size]
        net.labels.value = y[start:start + batch_size]
        forward_and_backward(net.graph, output=net.cost, trainables=net.trainables)
        sgd_update(net.trainables, LEARNING_RATE)


def epoch_by_hand(params, X, y, batch_size):
    W1, b1, W2, b2 = params
    for start in range(0, len(X), batch_size):
        xb, yb = X[start:start + batch_size], y[start:start + batch_size]
        with np.errstate(over="ignore"):
            h = 1.0 / (1.0 + np.exp(-(xb @ W1 + b1)))
        logits = h @ W2 + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        exps = np.exp(shifted)
        sums = exps.sum(axis=1, keepdims=True)
        rows = np.arange(len(xb))
        _loss = np.mean(np.log(sums[:, 0]) - shifted[rows, yb])
        g = exps / sums
        g[rows, yb] -= 1.0
        g /= len(xb)
        dW2, db2 = h.T @ g, g.sum(axis=0)
        dh = (g @ W2.T) * h * (1.0 - h)
        dW1, db1 = xb.T @ dh, dh.sum(axis=0)
        W1 -= LEARNING_RATE * dW1
        b1 -= LEARNING_RATE * db1
        W2 -= LEARNING_RATE * dW2
        b2 -= LEARNING_RATE * db2


def compare(name, X, y, n_hidden, batch_size, repeats):
    n_classes = int(y.max()) + 1
    times = {"miniflow": [], "by hand": []}
    for _ in range(repeats):
        net = build_two_layer_network(X.shape[1], n_hidden, n_classes, seed=0, dtype=X.dtype)
        params = [t.value.copy() for t in net.trainables]
        start = time.perf_counter()
        epoch_miniflow(net, X, y, batch_size)
        times["miniflow"].append(time.perf_counter() - start)
        start = time.perf_counter()
        epoch_by_hand(params, X, y, batch_size)
        times["by hand"].append(time.perf_counter() - start)
        # Same math, same start: both must end at the same weights.
        for node, hand in zip(net.trainables, params):
            np.testing.assert_allclose(node.value, hand, rtol=1e-5, atol=1e-6)
    mf, hand = np.median(times["miniflow"]), np.median(times["by hand"])
    print(f"{name:<34} miniflow {mf * 1e3:8.1f} ms   by hand {hand * 1e3:8.1f} ms   "
          f"ratio {mf / hand:5.2f}")
    return mf / hand


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=60000,
                        help="rows of MNIST-shaped synthetic data (default: MNIST's 60000)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.random((args.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=args.samples)
    print(f"one epoch, batch 128, median of {args.repeats} alternating runs")
    compare("MNIST-shaped 784-128-10 (float32)", X, y, 128, 128, args.repeats)
    Xd, yd = load_digits()
    compare("bundled digits 64-64-10 (float64)", Xd, yd, 64, 128, args.repeats)


if __name__ == "__main__":
    main()
