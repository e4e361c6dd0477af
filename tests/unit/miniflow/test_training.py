"""Training: the SGD step, mini-batches, accuracy, the progress bar, and the
promise that a two-layer miniflow network reads the bundled digits."""

from __future__ import annotations

import io

import numpy as np
import pytest

import miniflow as mf
from miniflow import MSE, Input, Linear, forward_and_backward, topological_sort
from miniflow.examples import train_digits
from miniflow.training import accuracy, iterate_minibatches, predict_classes, progress, sgd_update


def test_two_layer_network_reads_the_bundled_digits():
    # Seeded: the same accuracy every run; takes a few seconds.
    _, history, test_accuracy = train_digits(epochs=30, seed=0)
    assert test_accuracy >= 0.95
    assert history[-1] < history[0] / 4, "the loss should fall steadily"


def test_training_is_deterministic_for_a_seed():
    _, first, acc_first = train_digits(epochs=2, seed=3)
    _, second, acc_second = train_digits(epochs=2, seed=3)
    assert first == second and acc_first == acc_second


def test_sgd_update_moves_against_the_gradient_in_place():
    w = Input("w")
    w.value = np.array([1.0, -2.0])
    original = w.value
    w.gradients = {w: np.array([0.5, -1.0])}
    sgd_update([w], learning_rate=0.1)
    np.testing.assert_allclose(w.value, [0.95, -1.9])
    assert w.value is original, "float arrays are updated in place"


def test_sgd_update_rejects_a_non_positive_learning_rate():
    w = Input("w")
    w.value, w.gradients = np.ones(2), {w: np.ones(2)}
    with pytest.raises(ValueError, match="learning_rate"):
        sgd_update([w], learning_rate=0)


def test_linear_regression_by_sgd_finds_the_weights():
    rng = np.random.default_rng(0)
    X_data = rng.normal(size=(200, 3))
    true_w = np.array([[1.5], [-2.0], [0.5]])
    y_data = (X_data @ true_w).ravel() + 0.3
    X, y, W, b = Input("X"), Input("y"), Input("W"), Input("b")
    cost = MSE(y, Linear(X, W, b))
    graph = topological_sort({X: X_data, y: y_data, W: np.zeros((3, 1)), b: np.zeros(1)})
    for _ in range(300):
        forward_and_backward(graph, output=cost, trainables=[W, b])
        sgd_update([W, b], learning_rate=0.1)
    np.testing.assert_allclose(W.value, true_w, atol=1e-3)
    np.testing.assert_allclose(b.value, [0.3], atol=1e-3)


def test_minibatches_cover_every_row_once_per_epoch():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    batches = list(iterate_minibatches(X, y, 4, seed=1))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))
    for X_batch, y_batch in batches:
        np.testing.assert_array_equal(X_batch[:, 0] // 2, y_batch)
    assert [list(b[1]) for b in iterate_minibatches(X, y, 4, shuffle=False)][0] == [0, 1, 2, 3]


def test_minibatches_reject_mismatched_data():
    with pytest.raises(ValueError, match="must match"):
        list(iterate_minibatches(np.zeros((3, 2)), np.zeros(4), 2))
    with pytest.raises(ValueError, match="batch_size"):
        list(iterate_minibatches(np.zeros((3, 2)), np.zeros(3), 0))


def test_accuracy_and_predicted_classes():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(scores, [1, 0, 0]) == pytest.approx(2 / 3)
    np.testing.assert_array_equal(predict_classes(np.array([0.2, 0.7])), [0, 1])
    with pytest.raises(ValueError, match="must match"):
        accuracy(scores, [1, 0])


def test_progress_bar_counts_steps_and_shows_metrics():
    out = io.StringIO()
    bar = progress(range(4), description="epoch", width=8, file=out)
    for step in bar:
        bar.set(loss=1.0 / (step + 1))
    lines = out.getvalue().split("\r")
    assert "epoch [##......] 1/4 loss 1" in lines[1]
    assert lines[-1].startswith("epoch [########] 4/4 loss 0.25")
    assert lines[-1].rstrip().endswith(" s)")


def test_train_epoch_takes_one_sgd_step_per_minibatch_and_returns_the_mean_loss():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=10)
    X_node, y_node, W, b = Input("X"), Input("y"), Input("W"), Input("b")
    cost = MSE(y_node, Linear(X_node, W, b))
    graph = topological_sort({X_node: X, y_node: y, W: np.zeros((3, 1)), b: np.zeros(1)})
    steps = []
    original = mf.training.sgd_update

    def counting_update(trainables, learning_rate):
        steps.append(learning_rate)
        original(trainables, learning_rate)

    mf.training.sgd_update = counting_update
    try:
        loss = mf.train_epoch(graph, cost, X_node, y_node, [W, b], X, y, 4, 0.05, seed=2)
    finally:
        mf.training.sgd_update = original
    assert steps == [0.05, 0.05, 0.05]  # batches of 4, 4 and 2
    assert isinstance(loss, float)
    # Replaying the same batches by hand gives the same weights and the mean of their losses.
    trained = W.value.copy()
    batch_losses = []
    W.value, b.value = np.zeros((3, 1)), np.zeros(1)
    for X_batch, y_batch in iterate_minibatches(X, y, 4, seed=2):
        X_node.value, y_node.value = X_batch, y_batch
        batch_losses.append(forward_and_backward(graph, output=cost, trainables=[W, b]))
        sgd_update([W, b], learning_rate=0.05)
    assert loss == pytest.approx(np.mean(batch_losses))
    np.testing.assert_allclose(W.value, trained)
