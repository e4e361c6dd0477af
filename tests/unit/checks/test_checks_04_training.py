"""The checks written for "Training": each diagnostic, triggered by a wrong implementation."""

from __future__ import annotations

import numpy as np
import pytest
from failing import fails as _fails

import miniflow as mf
from autograder import checks
from miniflow.graph import forward_and_backward

# -- sgd_update ---------------------------------------------------------------------------


def test_check_sgd_update_accepts_miniflow():
    checks.check_sgd_update(mf.sgd_update, seed=3)


@pytest.mark.parametrize(("update", "message"), [
    (lambda ts, lr: [setattr(t, "value", t.value + lr * t.gradients[t]) for t in ts],
     "is wrong at element .* Likely mistake: it moved by the right amount in the opposite"),
    (lambda ts, lr: [setattr(t, "value", t.value - t.gradients[t]) for t in ts],
     "by the whole gradient: multiply the gradient by learning_rate"),
    (lambda ts, lr: None, "^Unchanged: still the value from before the step"),
    (lambda ts, lr: 1 / 0, r"raised ZeroDivisionError"),
])
def test_check_sgd_update_names_the_mistake(update, message):
    with _fails(message):
        checks.check_sgd_update(update)


# -- train_epoch --------------------------------------------------------------------------


def _epoch(*, order="seeded", keep_last=True, step_each_batch=True, same_order_for_y=True,
           result="mean", feed_y=True):
    """train_epoch with one mistake switched on."""
    def train_epoch(graph, cost, X_node, y_node, trainables, X, y, batch_size=32,
                    learning_rate=0.1, seed=0):
        n = len(X)
        if order == "seeded":
            rows_order = np.random.default_rng(seed).permutation(n)
        elif order == "unshuffled":
            rows_order = np.arange(n)
        else:  # one fixed order whatever the seed
            rows_order = np.random.default_rng(12345).permutation(n)
        y_order = rows_order if same_order_for_y else rows_order[::-1]
        stop = n if keep_last else n - batch_size + 1
        losses = []
        for start in range(0, stop, batch_size):
            X_node.value = X[rows_order[start:start + batch_size]]
            if feed_y:
                y_node.value = y[y_order[start:start + batch_size]]
            losses.append(forward_and_backward(graph, output=cost, trainables=trainables))
            if step_each_batch:
                mf.sgd_update(trainables, learning_rate)
        if not step_each_batch:
            mf.sgd_update(trainables, learning_rate)
        return {"mean": float(np.mean(losses)), "last": losses[-1],
                "list": losses}[result]
    return train_epoch


def test_check_train_epoch_accepts_miniflow_and_a_size_weighted_mean():
    checks.check_train_epoch(mf.train_epoch)
    checks.check_train_epoch(mf.train_epoch, seed=7)

    def weighted(graph, cost, X_node, y_node, trainables, X, y, batch_size=32,
                 learning_rate=0.1, seed=0):
        total = 0.0
        for X_batch, y_batch in mf.iterate_minibatches(X, y, batch_size, seed=seed):
            X_node.value, y_node.value = X_batch, y_batch
            total += len(X_batch) * forward_and_backward(graph, output=cost,
                                                         trainables=trainables)
            mf.sgd_update(trainables, learning_rate)
        return total / len(X)

    checks.check_train_epoch(weighted)


@pytest.mark.parametrize(("mistake", "message"), [
    ({"order": "unshuffled"}, "original order: shuffle"),
    ({"order": "fixed"}, "seed=1 and seed=2 gave the same order"),
    ({"keep_last": False}, r"never used rows \[.*keep the last, smaller batch"),
    ({"step_each_batch": False}, "expected one SGD step after each batch"),
    ({"same_order_for_y": False}, "X and y were shuffled differently"),
    ({"result": "last"}, "the mean of the batch losses is"),
    ({"result": "list"}, "should return one number"),
    ({"feed_y": False}, "MSE needs as many predictions as targets"),
])
def test_check_train_epoch_names_the_mistake(mistake, message):
    with _fails(message):
        checks.check_train_epoch(_epoch(**mistake))


def test_check_train_epoch_says_when_nothing_was_trained():
    with _fails("never ran a backward pass"):
        checks.check_train_epoch(lambda *args, **kwargs: 0.0)

    def no_step(graph, cost, X_node, y_node, trainables, X, y, batch_size=32,
                learning_rate=0.1, seed=0):
        losses = []
        for X_batch, y_batch in mf.iterate_minibatches(X, y, batch_size, seed=seed):
            X_node.value, y_node.value = X_batch, y_batch
            losses.append(forward_and_backward(graph, output=cost, trainables=trainables))
        return float(np.mean(losses))

    with _fails("did not change during the epoch: call sgd_update"):
        checks.check_train_epoch(no_step)


def test_check_train_epoch_rejects_global_random_shuffling():
    def global_rng(graph, cost, X_node, y_node, trainables, X, y, batch_size=32,
                   learning_rate=0.1, seed=0):
        return mf.train_epoch(graph, cost, X_node, y_node, trainables, X, y, batch_size,
                              learning_rate, seed=int(np.random.default_rng().integers(1 << 30)))

    with _fails("same seed visited the rows in different orders"):
        checks.check_train_epoch(global_rng)


def test_check_train_epoch_rejects_rows_that_are_not_data():
    def noisy(graph, cost, X_node, y_node, trainables, X, y, batch_size=32,
              learning_rate=0.1, seed=0):
        return mf.train_epoch(graph, cost, X_node, y_node, trainables, X + 1.0, y, batch_size,
                              learning_rate, seed)

    with _fails("not rows of the X passed in"):
        checks.check_train_epoch(noisy)


# -- accuracy -----------------------------------------------------------------------------


def test_check_accuracy_reads_scores_or_labels_and_enforces_the_target():
    X = np.arange(8, dtype=float).reshape(4, 2)
    y = np.array([0, 1, 1, 0])
    checks.check_accuracy(lambda points: y.copy(), X, y, at_least=1.0)
    checks.check_accuracy(lambda points: np.eye(2)[y], X, y, at_least=1.0)
    with _fails("accuracy 75.0% on 4 held-out points never used in training is below the "
                "95% target"):
        checks.check_accuracy(lambda points: np.array([0, 1, 1, 1]), X, y, at_least=0.95)
    with _fails(r"one label per row \(shape \(4,\)\) or one row of class scores per row "
                r"\(shape \(4, classes\)\), got shape \(2,\)"):
        checks.check_accuracy(lambda points: np.array([0, 1]), X, y, at_least=0.95)
