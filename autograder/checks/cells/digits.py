"""The visible tests of 05_digits, one named check per test cell (course content).

Each function is the body of one test cell: the notebook passes in the code the
student wrote and the data the test uses (the digits, the training settings);
``Input``, the nodes, ``mf.forward_pass`` and miniflow's own network are miniflow's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import miniflow as mf
from autograder.checks.core import check_close
from autograder.checks.digits import (
    check_initial_weights,
    check_network_graph,
    check_predict,
    check_training,
)
from autograder.checks.training import check_accuracy
from miniflow import CrossEntropyWithSoftmax, Input, Linear, Sigmoid

__all__ = ["test_build_network", "test_predict", "test_train"]


def test_build_network(build_network: Callable[..., Any], X_train: Any, y_train: Any) -> None:
    """``build_network`` for a small network of other sizes (its graph and gradients)
    and for the digits (its initial weights); then the digits network 64-32-10: the
    shapes of [W1, b1, W2, b2], the shape of the logits of 100 training images, and
    the loss of the fresh network on them, which must be near log(10)."""
    # A small network with other sizes: its graph and gradients; the initial weights.
    check_network_graph(build_network, 6, 5, 3, seed=900)
    check_initial_weights(build_network, 64, 32, 10, seed=901)
    # The digits network: its shapes, and the loss of a fresh network on 100 images.
    network = build_network(64, 32, 10, seed=0)
    shapes = [np.shape(node.value) for node in network.trainables]
    assert shapes == [(64, 32), (32,), (32, 10), (10,)], (
        f"trainables [W1, b1, W2, b2] of build_network(64, 32, 10) should have shapes "
        f"[(64, 32), (32,), (32, 10), (10,)], got {shapes}")
    network.X.value, network.labels.value = X_train[:100], y_train[:100]
    loss = float(mf.forward_pass(network.cost, network.graph))
    logits_value = np.asarray(network.logits.value, dtype=float)
    assert logits_value.shape == (100, 10), (
        "the logits of a batch of 100 images should have shape (100, 10), got "
        f"{logits_value.shape}")
    assert abs(loss - np.log(10)) < 0.3, (
        f"the loss of a fresh network is {loss:.3f}; expected near log(10) = 2.303. Much "
        "higher means the initial weights are too large (section 4)")


def test_predict(predict: Callable[..., Any], Network: type) -> None:
    """``predict`` on random networks of several sizes, a batch of one included; then
    on a tiny hand-set ``Network`` (the notebook's class) whose hidden units measure
    x0 and x1 and whose output votes for class 0 when x0 is the larger: one integer
    label per row, and the right ones. Its labels are never fed."""
    # Random networks of several sizes, a batch of one included.
    check_predict(predict, seed=900)
    # A tiny hand-set network: the hidden units measure x0 and x1, and the output
    # layer votes for class 0 when x0 is the larger one, for class 1 otherwise.
    # tiny_labels is never fed: predicting new images needs no labels.
    tiny_X, tiny_labels = Input("X"), Input("labels")
    tiny_W1, tiny_b1, tiny_W2, tiny_b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
    tiny_W1.value, tiny_b1.value = np.array([[10., 0.], [0., 10.]]), np.zeros(2)
    tiny_W2.value, tiny_b2.value = np.array([[1., -1.], [-1., 1.]]), np.zeros(2)
    tiny_logits = Linear(Sigmoid(Linear(tiny_X, tiny_W1, tiny_b1)), tiny_W2, tiny_b2)
    tiny = Network(tiny_X, tiny_labels, [tiny_W1, tiny_b1, tiny_W2, tiny_b2], tiny_logits,
                   CrossEntropyWithSoftmax(tiny_logits, tiny_labels))
    predicted = np.asarray(predict(tiny, np.array([[1., 0.], [0., 1.], [2., 1.], [-1., 3.]])))
    assert predicted.shape == (4,), (
        f"predict should return one label per row, shape (4,), got shape {predicted.shape}: "
        "take np.argmax of the logits over axis=1")
    assert np.issubdtype(predicted.dtype, np.integer), (
        f"labels are integers, got dtype {predicted.dtype}")
    check_close("the labels the tiny network predicts", predicted, [0, 1, 0, 1])


def test_train(train: Callable[..., Any], X_train: Any, y_train: Any, X_test: Any,
               y_test: Any, epochs: int, batch_size: int, learning_rate: float) -> None:
    """Your ``train``, with your settings, on a 64-64-10 network that miniflow builds
    (not your ``build_network``), read with miniflow's forward pass (not your
    ``predict``): one finite loss per epoch, the last at most half the first, and at
    least 95% accuracy on the test digits; then ``train`` on a small problem whose
    right answer is known exactly."""
    # Imported here, as checks/digits.py does: importing autograder.checks in a kernel
    # loads no more of miniflow than the exercises use (the tamper guard watches it).
    from miniflow.examples import build_two_layer_network

    graded_network = build_two_layer_network(64, 64, 10, seed=0)
    graded_history = train(graded_network, X_train, y_train, epochs, batch_size, learning_rate)
    assert len(graded_history) == epochs, (
        f"train returned {len(graded_history)} losses for {epochs} epochs: one per epoch")
    history_values = np.asarray(graded_history, dtype=float)
    assert np.all(np.isfinite(history_values)), "the loss history contains NaN or inf"
    assert history_values[-1] < 0.5 * history_values[0], (
        f"the loss went from {history_values[0]:.3f} to {history_values[-1]:.3f}: it should at "
        "least halve. Does train call sgd_update after every batch, with the learning_rate it "
        "was given? (Too small a learning rate barely moves the weights; too large makes the "
        "loss jump around or grow.)")
    # Held out: the test digits, which training never saw.
    check_accuracy(graded_network.predict, X_test, y_test, at_least=0.95, data="test digits")
    # train on its own, on a small problem where the right answer is known exactly.
    check_training(train, seed=900)
