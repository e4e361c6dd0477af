"""Training helpers: the SGD step, mini-batches and accuracy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from miniflow.graph import gradient_of
from miniflow.nodes import Node

__all__ = ["sgd_update", "iterate_minibatches", "accuracy", "predict_classes"]


def sgd_update(trainables: Iterable[Node], learning_rate: float = 1e-2) -> None:
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
