"""The checks written for "Handwritten digits": each passes on a right answer and
fails, with a message that names the mistake, on a wrong one."""

from __future__ import annotations

import numpy as np
import pytest
from failing import fails as _fails

import miniflow as mf
from autograder import checks
from miniflow import CrossEntropyWithSoftmax, Input, Linear, Sigmoid, topological_sort
from miniflow.training import iterate_minibatches, sgd_update

SIZES = (20, 80, 3)




# -- the notebook's given Network, and build_network with its mistakes as options ------


class Network:
    def __init__(self, X, labels, trainables, logits, cost):
        self.X, self.labels = X, labels
        self.trainables = list(trainables)
        self.logits, self.cost = logits, cost
        feed = {node: node.value for node in self.trainables}
        feed[X] = np.zeros((0, 0)) if X.value is None else X.value
        feed[labels] = np.zeros(0, dtype=int) if labels.value is None else labels.value
        self.graph = topological_sort(feed)


def make_build(*, graph: str = "right", init: str = "right", trainables: str = "all"):
    def build_network(n_inputs, n_hidden, n_classes, seed=0):
        X, labels = Input("X"), Input("labels")
        W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
        if graph == "no sigmoid":
            logits = Linear(Linear(X, W1, b1), W2, b2)
        elif graph == "sigmoid on logits":
            logits = Sigmoid(Linear(Sigmoid(Linear(X, W1, b1)), W2, b2))
        elif graph == "fresh b2":
            zero = Input("zero")
            zero.value = np.zeros(n_classes)
            logits = Linear(Sigmoid(Linear(X, W1, b1)), W2, zero)
        else:
            logits = Linear(Sigmoid(Linear(X, W1, b1)), W2, b2)
        cost = (mf.MSE(labels, logits) if graph == "mse"
                else CrossEntropyWithSoftmax(logits, labels))
        rng = np.random.default_rng(None if init == "unseeded" else
                                    0 if init == "fixed seed" else seed)
        shapes = [(n_inputs, n_hidden), (n_hidden, n_classes)]
        scales = [1 / np.sqrt(n_inputs), 1 / np.sqrt(n_hidden)]
        if init == "transposed":
            shapes[0] = (n_hidden, n_inputs)
        weights = []
        for shape, scale in zip(shapes, scales):
            if init == "zeros":
                weights.append(np.zeros(shape))
            elif init == "constant":
                weights.append(np.full(shape, 0.01))
            elif init == "unscaled":
                weights.append(rng.normal(size=shape))
            elif init == "divide by n":
                weights.append(rng.normal(size=shape) * scale ** 2)
            elif init == "uniform":
                weights.append(rng.random(size=shape) * scale)
            else:
                weights.append(rng.normal(size=shape) * scale)
        W1.value, W2.value = weights
        b1.value, b2.value = np.zeros(n_hidden), np.zeros(n_classes)
        if init == "random biases":
            b1.value, b2.value = rng.normal(size=n_hidden), rng.normal(size=n_classes)
        listed = [W1, W2] if trainables == "weights only" else [W1, b1, W2, b2]
        return Network(X, labels, listed, logits, cost)

    return build_network


def test_a_right_network_passes_both_checks():
    for seed, sizes in enumerate([(64, 32, 10), (5, 4, 3), SIZES]):
        checks.check_network_graph(make_build(), *sizes, seed=seed)
        checks.check_initial_weights(make_build(), *sizes, seed=seed)


@pytest.mark.parametrize("sizes, seed", [(SIZES, 1), ((64, 32, 10), 901)],
                         ids=["small", "the digits' sizes"])
def test_glorot_and_he_initialisations_pass(sizes, seed):
    def build(scale_of):
        def build_network(n_inputs, n_hidden, n_classes, seed=0):
            network = make_build()(n_inputs, n_hidden, n_classes, seed)
            rng = np.random.default_rng(seed)
            for node, (n_in, n_out) in zip(network.trainables[::2],
                                           [(n_inputs, n_hidden), (n_hidden, n_classes)]):
                node.value = rng.normal(size=(n_in, n_out)) * scale_of(n_in, n_out)
            return network
        return build_network

    for scale_of in (lambda n_in, n_out: np.sqrt(2 / (n_in + n_out)),
                     lambda n_in, n_out: np.sqrt(2 / n_in)):
        checks.check_initial_weights(build(scale_of), *sizes, seed=seed)


@pytest.mark.parametrize("options, message", [
    ({"graph": "no sigmoid"}, "no Sigmoid"),
    ({"graph": "sigmoid on logits"}, "logits went through a Sigmoid"),
    ({"graph": "fresh b2"}, "does not use b2"),
    ({"graph": "mse"}, "CrossEntropyWithSoftmax"),
    ({"trainables": "weights only"}, "biases are missing"),
    ({"init": "transposed"}, "transposed"),
])
def test_a_wrong_graph_is_named(options, message):
    with _fails(message):
        checks.check_network_graph(make_build(**options), 5, 4, 3, seed=0)


@pytest.mark.parametrize("init, message", [
    ("zeros", "all zeros.*symmetry"),
    ("constant", "every column of W1 is the same"),
    ("unscaled", "sigmoids saturate"),
    ("divide by n", "so small"),
    ("uniform", "centred on zero"),
    ("random biases", "b1 should start at zero"),
    ("unseeded", "different weights on two calls"),
    ("fixed seed", "gave the same W1"),
])
def test_a_wrong_initialisation_is_named(init, message):
    with _fails(message):
        checks.check_initial_weights(make_build(init=init), *SIZES, seed=0)


def test_a_build_network_without_the_network_attributes_fails():
    with _fails("has no .X"):
        checks.check_network_graph(lambda *args, seed=0: {"cost": None}, 5, 4, 3)


def test_a_trainable_without_a_value_fails():
    def build_network(n_inputs, n_hidden, n_classes, seed=0):
        network = make_build()(n_inputs, n_hidden, n_classes, seed)
        network.trainables[1].value = None
        return network

    with _fails(r"b1.value is None"):
        checks.check_initial_weights(build_network, 5, 4, 3)


def test_a_wrong_gradient_fails_the_gradient_check():
    class HalfGradientSigmoid(Sigmoid):
        def backward(self):
            super().backward()
            self.gradients = {node: 0.5 * g for node, g in self.gradients.items()}

    def build_network(n_inputs, n_hidden, n_classes, seed=0):
        rng = np.random.default_rng(seed)
        X, labels = Input("X"), Input("labels")
        W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
        logits = Linear(HalfGradientSigmoid(Linear(X, W1, b1)), W2, b2)
        W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)
        W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)
        b1.value, b2.value = np.zeros(n_hidden), np.zeros(n_classes)
        return Network(X, labels, [W1, b1, W2, b2], logits,
                       CrossEntropyWithSoftmax(logits, labels))

    with _fails("gradients of the loss disagree"):
        checks.check_network_graph(build_network, 5, 4, 3)


# -- predict ----------------------------------------------------------------------------


def _logits(network, X):
    network.X.value = X
    return mf.forward_pass(network.logits, network.graph[:network.graph.index(network.logits) + 1])


def right_predict(network, X):
    return np.argmax(_logits(network, X), axis=1)


def test_a_right_predict_passes():
    checks.check_predict(right_predict, seed=0)


def _run_whole_graph(network, X):
    network.X.value = X
    mf.forward_pass(network.cost, network.graph)
    return np.argmax(network.logits.value, axis=1)


def _without_feeding_X(network, X):
    logits = mf.forward_pass(network.logits,
                             network.graph[:network.graph.index(network.logits) + 1])
    return np.argmax(logits, axis=1)


def _training_step(network, X):
    network.labels.value = np.zeros(len(X), dtype=int)
    network.X.value = X
    mf.forward_and_backward(network.graph, output=network.cost, trainables=network.trainables)
    sgd_update(network.trainables, 0.01)
    return np.argmax(network.logits.value, axis=1)


@pytest.mark.parametrize("predict, message", [
    (_logits, "the logits"),
    (lambda network, X: np.argmax(_logits(network, X), axis=0), "over axis 0"),
    (_run_whole_graph, "ran the loss node"),
    (_without_feeding_X, "set network.X.value = X"),
    (lambda network, X: right_predict(network, X).astype(float), "dtype float64"),
    (lambda network, X: np.argmin(_logits(network, X), axis=1), "differ from the argmax"),
    (_training_step, "changed W1"),
    (lambda network, X: None, "returned None"),
])
def test_a_wrong_predict_is_named(predict, message):
    with _fails(message):
        checks.check_predict(predict, seed=0)


# -- train ------------------------------------------------------------------------------


def make_train(*, step: str = "right", data: str = "arguments", history: str = "mean"):
    global_X = np.random.default_rng(5).random(size=(30, 64))
    global_y = np.random.default_rng(6).integers(0, 10, size=30)

    def train(network, X_train, y_train, epochs, batch_size, learning_rate, seed=0):
        if data == "globals":
            X_train, y_train = global_X, global_y
        recorded = []
        for epoch in mf.progress(range(epochs), description="epoch"):
            losses = []
            for X_batch, y_batch in iterate_minibatches(X_train, y_train, batch_size,
                                                        seed=seed + epoch):
                network.X.value, network.labels.value = X_batch, y_batch
                losses.append(mf.forward_and_backward(network.graph, output=network.cost,
                                                      trainables=network.trainables))
                if step == "right":
                    sgd_update(network.trainables, learning_rate)
                elif step == "uphill":
                    for node in network.trainables:
                        node.value = node.value + learning_rate * mf.gradient_of(node)
                elif step == "default rate":
                    sgd_update(network.trainables)
                if history == "per batch":
                    recorded.append(losses[-1])
            if step == "once per epoch":
                sgd_update(network.trainables, learning_rate)
            if history == "mean":
                recorded.append(float(np.mean(losses)))
            elif history == "sum":
                recorded.append(float(np.sum(losses)))
            elif history == "whole set after the epoch":
                network.X.value, network.labels.value = X_train, y_train
                recorded.append(float(mf.forward_pass(network.cost, network.graph)))
        return None if history == "none" else recorded

    return train


def test_a_right_train_passes_silently(capsys):
    checks.check_training(make_train(), seed=0)
    assert capsys.readouterr().out == "", "the progress bar should not reach the test's output"


def test_a_history_of_whole_set_losses_also_passes():
    checks.check_training(make_train(history="whole set after the epoch"), seed=0)


@pytest.mark.parametrize("options, message", [
    ({"step": "none"}, "did not change W1"),
    ({"step": "uphill"}, "uphill"),
    ({"step": "default rate"}, "plain gradient descent"),
    ({"step": "once per epoch"}, "steps, expected 4"),
    ({"data": "globals"}, "use its arguments X_train, y_train"),
    ({"history": "sum"}, "sum of the 4 batch losses"),
    ({"history": "per batch"}, "history of 4 losses, expected 1"),
    ({"history": "none"}, "returned None"),
])
def test_a_wrong_train_is_named(options, message):
    with _fails(message):
        checks.check_training(make_train(**options), seed=0)


def test_a_weight_scaled_by_another_layer_s_size_is_named():
    def build_network(n_inputs, n_hidden, n_classes, seed=0):
        network = make_build()(n_inputs, n_hidden, n_classes, seed)
        W2 = network.trainables[2]
        W2.value = np.random.default_rng(seed).normal(size=W2.value.shape) / np.sqrt(n_inputs)
        return network

    with _fails("W2 is scaled by the wrong layer's size"):
        checks.check_initial_weights(build_network, 64, 32, 10, seed=901)


def _feeds_labels(network, X):
    network.X.value = X
    network.labels.value = np.zeros(len(X), dtype=int)
    mf.forward_pass(network.cost, network.graph)
    return np.argmax(network.logits.value, axis=1)


def test_a_predict_that_feeds_labels_and_runs_the_loss_is_named():
    with _fails("predict set network.labels"):
        checks.check_predict(_feeds_labels, seed=900)
