"""Training helpers: the SGD step, mini-batches and accuracy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from miniflow.graph import forward_and_backward, gradient_of
from miniflow.nodes import Node

__all__ = [
    "sgd_update", "iterate_minibatches", "train_epoch", "accuracy", "predict_classes", "progress",
]


def sgd_update(trainables: Iterable[Node], learning_rate: float = 0.1) -> None:
    """One step of stochastic gradient descent, in place.

    Each trainable moves against its gradient: ``value -= learning_rate *
    gradient``. The arrays are updated in place, so other references to them
    see the new values and no copy is made.
    """
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}.")
    for node in trainables:
        gradient = gradient_of(node)
        if isinstance(node.value, np.ndarray) and np.issubdtype(node.value.dtype, np.floating):
            node.value -= learning_rate * gradient
        else:
            # Python floats and integer arrays cannot be updated in place.
            node.value = node.value - learning_rate * gradient


def iterate_minibatches(
    X: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool = True, seed: int | None = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, y_batch)`` pairs covering the data once (one epoch).

    The last batch may be smaller. With ``shuffle`` the order comes from
    ``np.random.default_rng(seed)``: pass a different seed per epoch for a new
    order each epoch, the same seed to repeat a run exactly.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}: they must match.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    order = np.random.default_rng(seed).permutation(len(X)) if shuffle else np.arange(len(X))
    for start in range(0, len(X), batch_size):
        rows = order[start:start + batch_size]
        yield X[rows], y[rows]


def train_epoch(
    graph: Sequence[Node], cost: Node, X_node: Node, y_node: Node, trainables: Sequence[Node],
    X: np.ndarray, y: np.ndarray, batch_size: int = 32, learning_rate: float = 0.1,
    seed: int | None = 0,
) -> float:
    """One epoch of mini-batch SGD; returns the mean of the batch losses.

    Every row of ``(X, y)`` is used once, in an order shuffled by ``seed``
    (X and y stay together), in batches of ``batch_size`` (the last may be
    smaller). Each batch is fed to ``X_node`` and ``y_node``, ``graph`` (sorted
    once by ``topological_sort``) runs forward and backward from ``cost``, and
    ``sgd_update`` moves the ``trainables``.
    """
    losses = []
    for X_batch, y_batch in iterate_minibatches(X, y, batch_size, seed=seed):
        X_node.value, y_node.value = X_batch, y_batch
        losses.append(forward_and_backward(graph, output=cost, trainables=trainables))
        sgd_update(trainables, learning_rate)
    return float(np.mean(losses))


def predict_classes(scores: Any) -> np.ndarray:
    """The predicted class of each row of ``scores`` (logits or probabilities).

    A single column (or a 1-D array) is read as the probability of class 1.
    """
    scores = np.asarray(scores)
    if scores.ndim == 1 or scores.shape[1] == 1:
        return (scores.reshape(-1) >= 0.5).astype(np.int64)
    return scores.argmax(axis=1)


def accuracy(scores: Any, labels: Any) -> float:
    """The fraction of rows whose predicted class equals the label."""
    predicted = predict_classes(scores)
    labels = np.asarray(labels).reshape(-1)
    if predicted.shape != labels.shape:
        raise ValueError(
            f"{predicted.shape[0]} predictions but {labels.shape[0]} labels: they must match."
        )
    return float(np.mean(predicted == labels))


class progress:  # noqa: N801 (used like a function: ``for epoch in progress(range(30))``)
    """A text progress bar over epochs, with the latest metrics beside it.

        bar = progress(range(epochs), description="epoch")
        for epoch in bar:
            ...
            bar.set(loss=epoch_loss)

    Each step rewrites one line (``\\r``); the end prints the elapsed time.
    It writes to ``sys.stdout`` at the time it runs, so Jupyter shows it in
    the cell's output. Without a screen or notebook it is just text.
    """

    def __init__(self, iterable: Iterable[Any], *, total: int | None = None,
                 description: str = "", width: int = 30, file: Any = None):
        self.iterable = iterable
        self.total = total if total is not None else _length(iterable)
        self.description = description
        self.width = width
        self.file = file
        self.metrics: dict[str, float] = {}
        self.done = 0

    def set(self, **metrics: float) -> None:
        """Show these values (for example ``loss=0.31``) beside the bar from now on."""
        self.metrics.update(metrics)

    def _line(self) -> str:
        if self.total:
            filled = round(self.width * self.done / self.total)
            bar = "#" * filled + "." * (self.width - filled)
            count = f"[{bar}] {self.done}/{self.total}"
        else:
            count = f"{self.done}"
        shown = "  ".join(f"{k} {v:.4g}" for k, v in self.metrics.items())
        return " ".join(part for part in (self.description, count, shown) if part)

    def _draw(self, end: str = "") -> None:
        import sys

        out = self.file if self.file is not None else sys.stdout
        out.write("\r" + self._line() + end)
        out.flush()

    def __iter__(self) -> Iterator[Any]:
        import time

        start = time.perf_counter()
        for item in self.iterable:
            yield item
            self.done += 1
            self._draw()
        self._draw(end=f"  ({time.perf_counter() - start:.1f} s)\n")


def _length(iterable: Iterable[Any]) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None
