"""Checks for "Training" (04_training): ``sgd_update``, ``train_epoch`` (the
batches it fed are recorded and replayed) and accuracy on unseen data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import miniflow
from autograder.checks.core import (
    allclose as _allclose,
    array_equal as _array_equal,
    as_float_array as _as_float_array,
    assert_close,
    fail as _fail,
    isclose as _isclose,
    run_check as _run,
)
from miniflow.graph import forward_and_backward, topological_sort
from miniflow.nodes import Input, Node

__all__ = [
    "check_sgd_update",
    "check_accuracy",
    "check_train_epoch",
]


def check_sgd_update(student_update: Callable[..., Any], *, seed: int = 0) -> None:
    """One step on random values: every trainable moves by -learning_rate * gradient."""
    rng = np.random.default_rng(seed)
    for learning_rate in (0.1, 0.01):
        trainables = [Input(f"t{i}") for i in range(3)]
        starts, grads = [], []
        for t, shape in zip(trainables, [(3, 2), (2,), (4,)]):
            t.value = rng.normal(size=shape)
            t.gradients = {t: rng.normal(size=shape)}
            starts.append(t.value.copy())
            grads.append(t.gradients[t].copy())
        _run("sgd_update(trainables, learning_rate)",
             lambda lr=learning_rate: student_update(trainables, lr))
        for t, start, grad in zip(trainables, starts, grads):
            # Compare the step taken, so a wrong sign or a missing learning
            # rate shows up as such in the message.
            value = _as_float_array(t.value, f"{t.name}.value")
            if value.shape == start.shape and _allclose(value - start, -grad):
                _fail(f"sgd_update moved {t.name} by the whole gradient: multiply the "
                      f"gradient by learning_rate ({learning_rate}) before subtracting it.")
            assert_close(value, start - learning_rate * grad, before=start,
                         what=(f"{t.name}.value after sgd_update(learning_rate="
                               f"{learning_rate}) (it was {_short(start)})"))


def _short(value: np.ndarray) -> str:
    return np.array2string(value.reshape(-1)[:3], precision=3) + (
        "..." if value.size > 3 else "")


def check_accuracy(predict: Callable[[np.ndarray], Any], X: np.ndarray, y: np.ndarray, *,
                   at_least: float, data: str = "held-out points") -> None:
    """The accuracy of ``predict`` on held-out data (rows training never saw), at least
    ``at_least``.

    ``predict(X)`` may return one label per row or one row of class scores per
    row (the largest score is the predicted class). ``data`` names the rows in
    the message ("held-out points", "test digits"). Returns nothing: a test
    cell ending in a number would be read by nbgrader as partial credit.
    """
    rows = len(y)
    scores = _run(f"predict on {rows} {data}", lambda: predict(np.array(X)))
    scores = _as_float_array(scores, f"predict on {rows} {data}")
    if scores.ndim == 2 and scores.shape[0] == rows:
        predicted = scores.argmax(axis=1)
    elif scores.shape == (rows,):
        predicted = scores.astype(np.int64)
    else:
        _fail(f"predict on {rows} {data} should return one label per row (shape ({rows},)) "
              f"or one row of class scores per row (shape ({rows}, classes)), got shape "
              f"{scores.shape}.")
    accuracy = float(np.mean(predicted == np.asarray(y)))
    if accuracy < at_least:
        _fail(f"accuracy {accuracy:.1%} on {rows} {data} never used in training is below the "
              f"{at_least:.0%} target: train longer, adjust the learning rate or the hidden "
              "size.")


# -- training (04_training) ---------------------------------------------------


class _RecordingMSE(miniflow.MSE):
    """miniflow's MSE that remembers every batch its backward pass saw."""

    def __init__(self, y: Node, a: Node, X: Node) -> None:
        super().__init__(y, a, name="cost")
        self.watched_X, self.watched_y = X, y
        self.batches: list[tuple[np.ndarray, np.ndarray, float]] = []

    def backward(self) -> None:
        super().backward()
        batch = (np.array(self.watched_X.value, dtype=float),
                 np.array(self.watched_y.value, dtype=float), float(self.value))
        previous = self.batches[-1] if self.batches else None
        # Two backward passes on the same batch in a row count as one step.
        if previous is None or not (previous[0].shape == batch[0].shape
                                    and _array_equal(previous[0], batch[0])):
            self.batches.append(batch)


def _linear_regression(X: np.ndarray, y: np.ndarray, start: list[np.ndarray],
                       cost_cls: Callable[..., Node] | None = None
                       ) -> tuple[list[Node], Node, Input, Input, list[Input]]:
    X_node, y_node, W, b = Input("X"), Input("y"), Input("W"), Input("b")
    prediction = miniflow.Linear(X_node, W, b, name="prediction")
    cost = (cost_cls(y_node, prediction, X_node) if cost_cls
            else miniflow.MSE(y_node, prediction, name="cost"))
    graph = topological_sort({X_node: X, y_node: y, W: start[0].copy(), b: start[1].copy()})
    return graph, cost, X_node, y_node, [W, b]


def _row_indices(X: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Which rows of ``X`` a batch holds (-1 for a row that is not in X)."""
    if batch.ndim != 2 or batch.shape[1] != X.shape[1]:
        _fail(f"the graph was fed X of shape {batch.shape}: each batch should be whole rows "
              f"of X, shape (batch_size, {X.shape[1]}).")
    distance = np.abs(batch[:, None, :] - X[None, :, :]).max(axis=2)
    indices = distance.argmin(axis=1)
    indices[distance[np.arange(len(batch)), indices] > 1e-12] = -1
    return indices


def _epoch_run(train_epoch: Callable[..., Any], X: np.ndarray, y: np.ndarray,
               start: list[np.ndarray], *, batch_size: int, learning_rate: float, seed: int
               ) -> tuple[Any, _RecordingMSE, list[Input]]:
    graph, cost, X_node, y_node, trainables = _linear_regression(X, y, start, _RecordingMSE)
    call = (f"train_epoch(graph, cost, X_node, y_node, trainables, X, y, "
            f"batch_size={batch_size}, learning_rate={learning_rate}, seed={seed})")
    result = _run(call, lambda: train_epoch(graph, cost, X_node, y_node, trainables, X.copy(),
                                            y.copy(), batch_size=batch_size,
                                            learning_rate=learning_rate, seed=seed))
    if not cost.batches:
        _fail(f"{call} never ran a backward pass: for each mini-batch, set X_node.value and "
              "y_node.value, then call forward_and_backward(graph, output=cost, "
              "trainables=trainables).")
    return result, cost, trainables


def _check_batches(cost: _RecordingMSE, X: np.ndarray, y: np.ndarray, batch_size: int) -> list[
        np.ndarray]:
    n = len(X)
    batches = []
    for X_batch, y_batch, _ in cost.batches:
        rows = _row_indices(X, X_batch)
        if np.any(rows < 0):
            _fail("the graph was fed X rows that are not rows of the X passed in: feed "
                  "X[rows] for a set of row numbers.")
        if y_batch.reshape(-1).shape != rows.shape or not _allclose(y_batch.reshape(-1),
                                                                      y[rows]):
            _fail("the targets fed with a batch are not the targets of its rows: X and y were "
                  "shuffled differently. Draw one permutation and index both with it.")
        batches.append(rows)
    sizes = [len(rows) for rows in batches]
    seen = np.concatenate(batches)
    missing = sorted(set(range(n)) - set(seen.tolist()))
    if missing:
        _fail(f"one epoch with batch_size={batch_size} on {n} rows never used rows {missing}: "
              f"every row must be used once. Batch sizes were {sizes}; keep the last, smaller "
              f"batch (range(0, {n}, {batch_size})).")
    if len(seen) != n:
        _fail(f"one epoch used {len(seen)} rows for {n} rows of data (batch sizes {sizes}): "
              "each row must appear in exactly one batch: each batch is the next "
              "batch_size rows of the shuffled order.")
    expected = -(-n // batch_size)
    if len(batches) != expected or max(sizes) > batch_size:
        _fail(f"one epoch with batch_size={batch_size} on {n} rows should take {expected} "
              f"steps of at most {batch_size} rows; got batch sizes {sizes}.")
    return batches


def check_train_epoch(train_epoch: Callable[..., Any], *, seed: int = 0) -> None:
    """One epoch of mini-batch SGD on a linear regression the check builds.

    ``train_epoch(graph, cost, X_node, y_node, trainables, X, y, batch_size=,
    learning_rate=, seed=)`` must feed every row once, in batches of
    ``batch_size`` (the last may be smaller), in an order shuffled by
    ``seed`` with X and y kept together, take one SGD step after each batch,
    and return the mean batch loss.
    """
    rng = np.random.default_rng(seed)
    n, d = 23, 3
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    start = [rng.normal(size=(d, 1)), rng.normal(size=1)]
    learning_rate = 0.05
    for batch_size in (5, 8, n):
        result, cost, trainables = _epoch_run(train_epoch, X, y, start, batch_size=batch_size,
                                              learning_rate=learning_rate, seed=seed + 1)
        batches = _check_batches(cost, X, y, batch_size)
        if batch_size < n and _array_equal(np.concatenate(batches), np.arange(n)):
            _fail("the rows came in their original order: shuffle them each epoch, with a "
                  "generator made from the seed it is given.")
        # Replay the same batches with miniflow's SGD: the weights must agree.
        graph, ref_cost, X_node, y_node, expected = _linear_regression(X, y, start)
        for rows in batches:
            X_node.value, y_node.value = X[rows], y[rows]
            forward_and_backward(graph, output=ref_cost, trainables=expected)
            miniflow.sgd_update(expected, learning_rate)
        for got, want, begin in zip(trainables, expected, start):
            got_value = _as_float_array(got.value, f"{got.name}.value after the epoch")
            if got_value.shape == begin.shape and _array_equal(got_value, begin):
                _fail(f"{got.name} did not change during the epoch: call "
                      "sgd_update(trainables, learning_rate) after each batch's backward pass.")
            assert_close(got_value, want.value,
                         what=(f"{got.name} after one epoch (batch_size={batch_size}, "
                               f"learning_rate={learning_rate}); expected one SGD step after "
                               "each batch's forward_and_backward"))
        losses = np.array([loss for _, _, loss in cost.batches])
        sizes = np.array([len(rows) for rows in batches], dtype=float)
        got_loss = _as_float_array(result, "the value train_epoch returned")
        if got_loss.size != 1:
            _fail(f"train_epoch should return one number, the mean batch loss; got shape "
                  f"{got_loss.shape}.")
        if not any(_isclose(got_loss.item(), target, rtol=1e-6)
                   for target in (losses.mean(), np.average(losses, weights=sizes))):
            _fail(f"train_epoch returned {got_loss.item():.6g}; the mean of the batch losses "
                  f"is {losses.mean():.6g} (the last batch's loss is {losses[-1]:.6g}). "
                  "Collect each batch's loss and return their mean.")
    orders = []
    for run_seed in (seed + 1, seed + 1, seed + 2):
        _, cost, _ = _epoch_run(train_epoch, X, y, start, batch_size=5,
                                learning_rate=learning_rate, seed=run_seed)
        orders.append(np.concatenate(_check_batches(cost, X, y, 5)))
    if not _array_equal(orders[0], orders[1]):
        _fail("two epochs with the same seed visited the rows in different orders: draw the "
              "permutation from np.random.default_rng(seed), not the global np.random.")
    if _array_equal(orders[0], orders[2]):
        _fail("seed=1 and seed=2 gave the same order of rows: use the seed argument, "
              "np.random.default_rng(seed), so each epoch can have its own order.")
