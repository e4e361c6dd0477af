"""The visible tests of 04_training, one named check per test cell (course content).

Each function is the body of one test cell. The notebook passes in the code the
student wrote; ``Input``, ``Linear``, ``mf.MSE`` and the data helpers are
miniflow's. A test that grades one exercise alone takes the notebook's namespace
(``globals()``): inside its ``with`` block the exercises it builds on are
miniflow's, and the student's function under test is read from the namespace
there, so that it calls miniflow's versions too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import miniflow as mf
from autograder.checks.cells.notebook import from_notebook
from autograder.checks.core import check_close, miniflow_in_place_of
from autograder.checks.training import check_accuracy, check_sgd_update, check_train_epoch
from miniflow import Input, Linear, topological_sort
from miniflow.datasets import make_xor

__all__ = ["test_sgd_update", "test_train_epoch", "test_xor"]



def test_sgd_update(sgd_update: Callable[..., Any]) -> None:
    """``sgd_update`` on random values: three nodes, two learning rates (a failure names
    the likely mistake); then the lab's worked example: w = [1, 2] with gradient
    [0.5, -1] and learning rate 0.1, one step."""
    # Random values, three nodes, two learning rates.
    check_sgd_update(sgd_update, seed=900)
    # The worked example: w = [1, 2] with gradient [0.5, -1] and learning rate 0.1.
    w = Input("w")
    w.value = np.array([1.0, 2.0])
    w.gradients = {w: np.array([0.5, -1.0])}
    sgd_update([w], learning_rate=0.1)
    check_close("w.value after one step", w.value, [0.95, 2.1], before=[1.0, 2.0])


def test_train_epoch(namespace: dict) -> None:
    """Your ``train_epoch``, with miniflow's ``sgd_update`` in place of yours (pass
    ``globals()``): random data in batches of 4, the last one shorter (every row once,
    shuffled by the seed, one step per batch, the mean loss); one batch of all 6 rows of
    a small linear model, which must be exactly one gradient step; then 20 epochs in
    batches of 4, over which the loss must go down."""
    with miniflow_in_place_of(namespace, "sgd_update"):
        train_epoch = from_notebook(namespace, "train_epoch")
        # Random data in batches of 4, the last one shorter: every row once per
        # epoch, shuffled by the seed, one step per batch, the mean of the losses.
        check_train_epoch(train_epoch, seed=900)
        # With one batch holding every row, an epoch is exactly one gradient step.
        rng = np.random.default_rng(1)
        X_small, y_small = rng.normal(size=(6, 2)), rng.normal(size=6)
        W_start = rng.normal(size=(2, 1))
        X_in, y_in, W_in, b_in = Input("X"), Input("y"), Input("W"), Input("b")
        small_cost = mf.MSE(y_in, Linear(X_in, W_in, b_in))
        small_graph = topological_sort({X_in: X_small, y_in: y_small, W_in: W_start.copy(),
                                        b_in: np.zeros(1)})
        residual = X_small @ W_start - y_small.reshape(-1, 1)     # prediction - target, (6, 1)
        loss = train_epoch(small_graph, small_cost, X_in, y_in, [W_in, b_in], X_small, y_small,
                           batch_size=6, learning_rate=0.1, seed=0)
        check_close("the loss train_epoch returned for one batch of 6 rows", loss,
                    np.mean(residual ** 2), batch_size=6)
        check_close("W after one full-batch epoch (one SGD step)", W_in.value,
                    W_start - 0.1 * 2 / 6 * X_small.T @ residual, before=W_start)
        # With batches of 4 rows (one of 4, one of 2) the loss falls epoch after epoch.
        losses = [train_epoch(small_graph, small_cost, X_in, y_in, [W_in, b_in], X_small,
                              y_small, batch_size=4, learning_rate=0.1, seed=epoch)
                  for epoch in range(20)]
        assert float(losses[-1]) < float(losses[0]), (
            f"the loss did not go down over 20 epochs: {float(losses[0]):.4f} -> "
            f"{float(losses[-1]):.4f}")


def test_xor(namespace: dict, X_xor: Any, y_xor: Any) -> None:
    """Your ``train_xor`` on the sample ``(X_xor, y_xor)``, with miniflow's ``sgd_update``
    and ``train_epoch`` in place of yours (pass ``globals()``): ``predict`` gives one
    label per row, the training accuracy is at least 95%, the loss goes down, and on 400
    fresh XOR points that training never saw the accuracy is at least 95% too."""
    with miniflow_in_place_of(namespace, "sgd_update", "train_epoch"):
        train_xor = from_notebook(namespace, "train_xor")
        predict_xor, history_xor = train_xor(X_xor, y_xor)
        predicted = np.asarray(predict_xor(X_xor))
        assert predicted.shape == (len(X_xor),), (
            f"predict(points) should return one label per row, shape ({len(X_xor)},); got "
            f"{predicted.shape}. Take argmax(axis=1) of the logits.")
        training_accuracy = float(np.mean(predicted.astype(float) == y_xor))
        assert training_accuracy >= 0.95, (
            f"training accuracy {training_accuracy:.0%}: a two-layer network should reach at "
            "least 95% on XOR. Check the sigmoid between the layers, random (not zero) initial "
            "weights, and train longer or with a larger learning rate.")
        assert float(history_xor[-1]) < float(history_xor[0]), "the loss did not go down"
        # Held out: 400 fresh XOR points that training never saw.
        X_fresh, y_fresh = make_xor(400, noise=0.2, seed=1)
        check_accuracy(predict_xor, X_fresh, y_fresh, at_least=0.95)
