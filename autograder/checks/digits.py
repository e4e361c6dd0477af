"""Checks for "Digits" (05_digits): ``build_network`` (graph, gradients, initial
weights), ``predict`` and ``train``.
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
from miniflow.nodes import Input, Node, _sigmoid  # noqa: PLC2701

__all__ = [
    "check_network_graph",
    "check_initial_weights",
    "check_predict",
    "check_training",
]


# -- digits (05_digits) ---------------------------------------------------------
#
# The digits notebook assembles miniflow's reference nodes into a two-layer
# classifier and trains it. The checks below build what they compare with
# from miniflow (``miniflow.examples.build_two_layer_network`` has the same
# attributes as the notebook's ``Network``), so that a mistake in one exercise
# does not make the check of another fail.

_NETWORK_ATTRIBUTES = ("X", "labels", "trainables", "logits", "cost", "graph")
_TRAINABLE_NAMES = ("W1", "b1", "W2", "b2")
#: A weight's standard deviation passes within this factor of 1/sqrt(n_in):
#: generous, so He, Glorot or uniform initialisations pass too.
_INIT_FACTOR = 2.0


def _two_layer_logits(X: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray,
                      b2: np.ndarray) -> np.ndarray:
    return _sigmoid(X @ W1 + b1) @ W2 + b2


def _mean_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_sum_exp - shifted[np.arange(len(labels)), labels]))


def _built_network(build_network: Callable[..., Any], n_inputs: int, n_hidden: int,
                   n_classes: int, seed: int) -> tuple[Any, str, list[Node], list[np.ndarray]]:
    """Call the student's build_network; check what it returned, before any value."""
    call = f"build_network({n_inputs}, {n_hidden}, {n_classes}, seed={seed})"
    network = _run(call, lambda: build_network(n_inputs, n_hidden, n_classes, seed=seed))
    missing = [name for name in _NETWORK_ATTRIBUTES if not hasattr(network, name)]
    if missing:
        _fail(f"{call} returned {type(network).__name__}, which has no "
              f"{', '.join('.' + name for name in missing)}: end build_network with "
              "`return Network(X, labels, [W1, b1, W2, b2], logits, cost)`.")
    try:
        trainables = list(network.trainables)
    except TypeError:
        _fail(f"{call}: .trainables should be the list [W1, b1, W2, b2], got "
              f"{network.trainables!r:.200}.")
    names = [getattr(node, "name", repr(node)) for node in trainables]
    if len(trainables) != 4:
        hint = (" The biases are missing: they learn too, so list them with the weights."
                if len(trainables) == 2 else "")
        _fail(f"{call}: .trainables should be the four Inputs [W1, b1, W2, b2], got "
              f"{len(trainables)}: {names}.{hint}")
    expected = [(n_inputs, n_hidden), (n_hidden,), (n_hidden, n_classes), (n_classes,)]
    arrays = []
    for position, (node, shape, name) in enumerate(zip(trainables, expected,
                                                       _TRAINABLE_NAMES)):
        if not isinstance(node, Input):
            _fail(f"{call}: trainables[{position}] ({name}) should be an Input holding "
                  f"its initial value, got {type(node).__name__} {node!r:.100}.")
        if node.value is None:
            _fail(f"{call}: {name}.value is None. Give every weight and bias its initial "
                  f"value in build_network ({name}.value = ...).")
        value = _as_float_array(node.value, f"{call}: {name}.value")
        if value.shape != shape:
            if len(shape) == 2 and value.shape == shape[::-1]:
                hint = (" It is transposed: Linear computes X @ W, so W has one row per "
                        "input and one column per output, (n_in, n_out).")
            elif len(shape) == 1 and value.size == shape[0]:
                hint = f" A bias is a vector with one entry per output: shape {shape}."
            else:
                hint = ""
            _fail(f"{call}: trainables[{position}] ({name}) has shape {value.shape}, "
                  f"expected {shape}.{hint}")
        arrays.append(value)
    return network, call, trainables, arrays


def check_network_graph(build_network: Callable[..., Any], n_inputs: int, n_hidden: int,
                        n_classes: int, *, seed: int = 0, batch_size: int = 6,
                        gradient_check: bool = True) -> None:
    """The built graph computes ``sigmoid(X @ W1 + b1) @ W2 + b2`` and softmax
    cross-entropy, with the trainables it lists, and its gradients are right."""
    network, call, trainables, _ = _built_network(build_network, n_inputs, n_hidden,
                                                  n_classes, seed)
    cost, logits = network.cost, network.logits
    if not (isinstance(cost, miniflow.CrossEntropyWithSoftmax)
            or type(cost).__name__ == "CrossEntropyWithSoftmax"):
        _fail(f"{call}: .cost is {type(cost).__name__}; a classifier is trained with "
              "CrossEntropyWithSoftmax(logits, labels) (softmax and cross-entropy in one "
              "node).")
    inbound = list(cost.inbound_nodes)
    if len(inbound) != 2 or inbound[0] is not logits:
        feeding = inbound[0] if inbound else None
        hint = ""
        if feeding is not None and logits in getattr(feeding, "inbound_nodes", []):
            hint = (f" It is fed {type(feeding).__name__}(logits): the loss applies softmax "
                    "itself, so give it the last Linear's output directly.")
        _fail(f"{call}: the loss should be fed the logits (.logits, the output of the "
              f"last Linear), but its first input is {feeding!r}.{hint}")
    if inbound[1] is not network.labels:
        _fail(f"{call}: the loss's second input should be the labels Input (.labels), got "
              f"{inbound[1]!r}.")
    graph = list(network.graph)
    absent = [repr(node) for node in [network.X, network.labels, *trainables, logits, cost]
              if node not in graph]
    if absent:
        _fail(f"{call}: .graph does not contain {', '.join(absent)}: the graph should be "
              "every node, sorted by topological_sort (Network does this for you).")

    # Random weights and non-zero biases, so that every parameter shows up in the logits.
    rng = np.random.default_rng(1000 + seed)
    W1 = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)
    b1 = rng.normal(size=n_hidden)
    W2 = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)
    b2 = rng.normal(size=n_classes)
    X = rng.normal(size=(batch_size, n_inputs))
    labels = rng.integers(0, n_classes, size=batch_size)
    for node, value in zip(trainables, (W1, b1, W2, b2)):
        node.value = value.copy()
    network.X.value, network.labels.value = X.copy(), labels.copy()
    _run(f"the forward pass of the graph {call} built",
         lambda: [node.forward() for node in graph])
    expected = _two_layer_logits(X, W1, b1, W2, b2)
    got = _as_float_array(logits.value, f"{call}: .logits.value")
    if got.shape == expected.shape and not _allclose(got, expected):
        candidates = {
            "the hidden layer has no Sigmoid: without it, two Linear layers are one linear "
            "map. Use Sigmoid(Linear(X, W1, b1)).": (X @ W1 + b1) @ W2 + b2,
            "the logits went through a Sigmoid: the last Linear's output is the logits, and "
            "the loss applies softmax itself.": _sigmoid(expected),
            "the graph does not use b1 (the hidden Linear's bias): pass the b1 from "
            ".trainables to Linear.": _two_layer_logits(X, W1, 0 * b1, W2, b2),
            "the graph does not use b2 (the last Linear's bias): pass the b2 from "
            ".trainables to Linear.": _two_layer_logits(X, W1, b1, W2, 0 * b2),
        }
        for mistake, value in candidates.items():
            if value.shape == got.shape and _allclose(got, value):
                _fail(f"{call}: the logits are wrong: {mistake}")
    assert_close(got, expected, what=(
        f"{call}: .logits.value for a batch of {batch_size} with the weights set to random "
        "values (it should be sigmoid(X @ W1 + b1) @ W2 + b2, with the Inputs listed in "
        ".trainables)"))
    assert_close(cost.value, _mean_cross_entropy(expected, labels),
                 what=f"{call}: .cost.value, the mean softmax cross-entropy")
    if gradient_check:
        feed = dict(zip(trainables, (W1, b1, W2, b2)))
        feed[network.X], feed[network.labels] = X, labels
        report = _run(f"check_gradients on the graph {call} built",
                      lambda: miniflow.check_gradients(cost, feed, trainables))
        if not report.passed:
            _fail(f"{call}: backpropagated and numerical gradients of the loss disagree:\n"
                  f"{report}")


def check_initial_weights(build_network: Callable[..., Any], n_inputs: int, n_hidden: int,
                          n_classes: int, *, seed: int = 0) -> None:
    """Biases start at zero; weights are random (no symmetry), scaled by about
    1/sqrt(n_in), and repeatable from ``seed``."""
    _, call, _, arrays = _built_network(build_network, n_inputs, n_hidden, n_classes, seed)
    weights = {"W1": (arrays[0], n_inputs), "W2": (arrays[2], n_hidden)}
    for name, bias in (("b1", arrays[1]), ("b2", arrays[3])):
        if np.any(bias != 0):
            _fail(f"{call}: {name} should start at zero (the random weights already make "
                  f"the units differ), got values up to {np.max(np.abs(bias)):.3g}.")
    for name, (weight, n_in) in weights.items():
        if np.all(weight == 0):
            _fail(f"{call}: {name} is all zeros. Then every hidden unit computes the same "
                  "number and receives the same gradient, so the units stay identical "
                  "forever (symmetry). Draw random weights (section 4).")
        if weight.shape[1] > 1 and _allclose(weight, weight[:, :1]):
            _fail(f"{call}: every column of {name} is the same, so every unit it feeds "
                  "computes the same number and gets the same gradient (symmetry). Draw "
                  "each weight at random (section 4).")
        if weight.size < 100:
            continue  # too few numbers to judge their spread
        target = 1.0 / np.sqrt(n_in)
        if abs(float(np.mean(weight))) > 0.3 * target:
            _fail(f"{call}: the entries of {name} have mean {np.mean(weight):.3g}, far from "
                  "0: draw weights centred on zero (rng.normal, not rng.random).")
        spread = float(np.std(weight))
        _check_scaled_by_its_own_layer(call, name, spread, n_in,
                                       {"n_inputs": n_inputs, "n_hidden": n_hidden,
                                        "n_classes": n_classes}, weight.size)
        if not target / _INIT_FACTOR <= spread <= target * _INIT_FACTOR:
            effect = ("so large that the sigmoids saturate (outputs stuck near 0 or 1, "
                      "gradients near 0)" if spread > target else
                      "so small that the signal and its gradient shrink layer by layer")
            _fail(f"{call}: the entries of {name} ({n_in} inputs per unit) have standard "
                  f"deviation {spread:.3g}, {effect}. Draw them with standard deviation "
                  f"about 1/sqrt(n_in) = {target:.3g} (section 4).")
    _, _, _, again = _built_network(build_network, n_inputs, n_hidden, n_classes, seed)
    if not all(_array_equal(a, b) for a, b in zip(arrays, again)):
        _fail(f"{call} gave different weights on two calls: draw them from "
              "np.random.default_rng(seed), so that a run can be repeated exactly.")
    _, other, _, different = _built_network(build_network, n_inputs, n_hidden, n_classes,
                                            seed + 1)
    if _array_equal(arrays[0], different[0]):
        _fail(f"{call} and {other} gave the same W1: use the seed argument "
              "(np.random.default_rng(seed)).")


def _check_scaled_by_its_own_layer(call: str, name: str, spread: float, n_in: int,
                                   sizes: dict[str, int], count: int) -> None:
    """A weight scaled by 1/sqrt of another layer's size (W2 by the inputs' size, say).

    With a few hundred entries the spread is known within a few per cent, so
    a spread that matches another size's 1/sqrt(n) far better than its own
    (or He's or Glorot's scale) is that mistake (only when the sizes are far
    enough apart to tell).
    """
    if count < 300:
        return
    own = 1.0 / np.sqrt(n_in)
    n_out = count // n_in
    accepted = (own, own * np.sqrt(2.0), np.sqrt(2.0 / (n_in + n_out)))  # He, Glorot too
    if min(abs(np.log(spread / scale)) for scale in accepted) < 0.1:
        return
    for other, size in sizes.items():
        wrong = 1.0 / np.sqrt(size)
        if size == n_in or abs(np.log(wrong / own)) < 0.25:
            continue
        if abs(np.log(spread / wrong)) < 0.1 and abs(np.log(spread / own)) > 0.2:
            _fail(f"{name} is scaled by the wrong layer's size\n"
                  f"  {call}: the entries of {name} have standard deviation {spread:.3g}, "
                  f"about 1/sqrt({other} = {size}) = {wrong:.3g}; {name} has {n_in} inputs per "
                  f"unit, which gives about {own:.3g}.\n"
                  f"  Likely mistake: {name} was scaled by the size of another layer: each "
                  "weight matrix is scaled by the number of inputs of its own layer.")


def _reference_network(n_inputs: int, n_hidden: int, n_classes: int,
                       rng: np.random.Generator) -> tuple[Any, list[np.ndarray]]:
    from miniflow.examples import build_two_layer_network

    network = build_two_layer_network(n_inputs, n_hidden, n_classes, seed=0)
    values = [rng.normal(size=(n_inputs, n_hidden)), rng.normal(size=n_hidden),
              rng.normal(size=(n_hidden, n_classes)), rng.normal(size=n_classes)]
    for node, value in zip(network.trainables, values):
        node.value = value.copy()
    return network, values


def check_predict(predict: Callable[[Any, np.ndarray], Any], *, seed: int = 0) -> None:
    """``predict(network, X)``: one integer label per row, the argmax of the logits,
    from a forward pass that needs no labels and changes no weight."""
    rng = np.random.default_rng(seed)
    for n_inputs, n_hidden, n_classes, n in [(4, 5, 3, 7), (64, 16, 10, 40), (3, 2, 2, 1),
                                             (10, 8, 5, 12)]:
        network, values = _reference_network(n_inputs, n_hidden, n_classes, rng)
        X = rng.normal(size=(n, n_inputs)) * 2
        expected = _two_layer_logits(X, *values).argmax(axis=1)
        # What a training run leaves behind: a last batch of another size, and labels
        # that predict must not need (a prediction has no labels).
        stale = rng.normal(size=(n + 3, n_inputs))
        network.X.value, network.labels.value = stale.copy(), None
        call = (f"predict(network, X) for X of shape {X.shape} and a network "
                f"{n_inputs}-{n_hidden}-{n_classes}")
        try:
            result = predict(network, X.copy())
        except AssertionError:
            raise
        except Exception as error:
            network.X.value = stale.copy()
            network.labels.value = np.zeros(n, dtype=np.int64)
            try:
                predict(network, X.copy())
            except Exception:
                _fail(f"{call} raised {type(error).__name__}: {error}")
            _fail(f"{call} raised {type(error).__name__} when network.labels had no value "
                  "(as when predicting new images).\n  Likely mistake: it ran the loss node, "
                  "which needs labels. Run the graph only up to network.logits.")
        if result is None:
            _fail(f"{call} returned None: return the predicted labels.")
        got = np.asarray(result)
        if got.ndim == 2 and got.shape == (n, n_classes):
            _fail(f"{call} returned shape {got.shape}: one score per class (the logits). "
                  "Return, for each row, the class with the largest score.")
        if got.shape == (n_classes,) and n != n_classes:
            _fail(f"{call} returned shape {got.shape}, one number per class: the argmax ran "
                  "over axis 0 (over the images). Take it over each row, axis=1.")
        if got.shape == (n + 3,):
            _fail(f"{call} returned {n + 3} labels, the size of the previous batch: set "
                  "network.X.value = X before running the graph.")
        if got.shape != (n,):
            _fail(f"{call} returned shape {got.shape}, expected ({n},): one label per row "
                  "of X.")
        if not np.issubdtype(got.dtype, np.integer):
            _fail(f"{call} returned dtype {got.dtype}: labels are integers (np.argmax "
                  "returns integers; keep them).")
        wrong = np.flatnonzero(got.astype(np.int64) != expected)
        if wrong.size:
            row = int(wrong[0])
            _fail(f"{call}: {wrong.size} of {n} labels differ from the argmax of "
                  f"sigmoid(X @ W1 + b1) @ W2 + b2; the first is row {row}: expected "
                  f"{expected[row]}, got {got[row]}.")
        for node, value, name in zip(network.trainables, values, _TRAINABLE_NAMES):
            if not _array_equal(_as_float_array(node.value, name), value):
                _fail(f"{call} changed {name}: predicting runs the graph forward only, and "
                      "never changes the weights.")
        if network.labels.value is not None:
            _fail(f"predict set network.labels\n"
                  f"  {call} gave network.labels a value: predicting new images has no "
                  "labels, and a later cell that reads them finds the wrong ones.\n"
                  "  Likely mistake: it ran the whole graph, loss included. Run the graph "
                  "only up to network.logits, and feed nothing but X.")


def _quietly(what: str, function: Callable[[], Any]) -> Any:
    """Run student code with its prints (a progress bar) kept out of the test's output."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return _run(what, function)


def _history_array(history: Any, call: str, epochs: int) -> np.ndarray:
    if history is None:
        _fail(f"{call} returned None: return the list of losses, one per epoch.")
    losses = _as_float_array(history, f"the history {call} returned").reshape(-1)
    if losses.shape != (epochs,):
        _fail(f"{call} returned a history of {losses.size} losses, expected {epochs}: one "
              "per epoch, the mean loss of that epoch's mini-batches.")
    if not np.all(np.isfinite(losses)):
        _fail(f"{call} returned a history with NaN or inf: {losses}.")
    return losses


def check_training(train: Callable[..., Any], *, seed: int = 0) -> None:
    """``train(network, X_train, y_train, epochs, batch_size, learning_rate)``: plain
    mini-batch SGD on the data it is given, returning the mean loss of each epoch.

    With one batch per epoch the order of the rows does not matter, so the result
    must equal full-batch gradient descent exactly; with several batches and a tiny
    learning rate, the weights must move by about one step per batch.
    """
    from miniflow.examples import build_two_layer_network

    rng = np.random.default_rng(seed)
    # Digit-sized rows and ten classes, so that a train() that reads the notebook's
    # global data instead of its arguments runs, and is caught by its result.
    n, d, h, c = 40, 64, 5, 10
    X = rng.random(size=(n, d))
    y = rng.integers(0, c, size=n)

    # 1. One batch per epoch: exactly gradient descent.
    epochs, learning_rate = 3, 0.5
    network = build_two_layer_network(d, h, c, seed=seed)
    reference = build_two_layer_network(d, h, c, seed=seed)
    start = [np.array(node.value, dtype=float) for node in reference.trainables]
    call = (f"train(network, X_train, y_train, epochs={epochs}, batch_size={n}, "
            f"learning_rate={learning_rate}) on {n} rows")
    history = _quietly(call, lambda: train(network, X.copy(), y.copy(), epochs, n,
                                           learning_rate))
    losses = _history_array(history, call, epochs)
    reference.X.value, reference.labels.value = X, y
    expected_losses = []
    for _ in range(epochs):
        expected_losses.append(float(miniflow.forward_and_backward(
            reference.graph, output=reference.cost, trainables=reference.trainables)))
        miniflow.sgd_update(reference.trainables, learning_rate)
    expected_losses.append(float(miniflow.forward_pass(reference.cost, reference.graph)))
    for node, ref, before, name in zip(network.trainables, reference.trainables, start,
                                       _TRAINABLE_NAMES):
        got = _as_float_array(node.value, f"{name}.value after {call}")
        want = np.asarray(ref.value, dtype=float)
        if _array_equal(got, before):
            _fail(f"{call} did not change {name}: after each forward_and_backward, call "
                  "sgd_update(network.trainables, learning_rate).")
        if float(np.sum((got - before) * (want - before))) < 0:
            _fail(f"{call} moved {name} uphill: step against the gradient "
                  "(sgd_update does it for you).")
        assert_close(got, want, rtol=1e-6, atol=1e-10, what=(
            f"{name} after {call} (one batch per epoch, so it should equal plain gradient "
            "descent on X_train, y_train: did train use its arguments X_train, y_train and "
            "learning_rate, and call sgd_update once per batch?)"))
    if not (_allclose(losses, expected_losses[:-1], rtol=1e-6)
            or _allclose(losses, expected_losses[1:], rtol=1e-6)):
        _fail(f"{call} returned the history {np.round(losses, 6).tolist()}, but the losses of "
              f"the {epochs} steps were {np.round(expected_losses[:-1], 6).tolist()}: record "
              "each epoch's mean mini-batch loss (what forward_and_backward returns).")

    # 2. Several batches per epoch: one step per batch, and the epoch's mean loss.
    batch_size, learning_rate = 10, 1e-5
    network = build_two_layer_network(d, h, c, seed=seed + 1)
    start = [np.array(node.value, dtype=float) for node in network.trainables]
    feed = dict(zip(network.trainables, start))
    feed[network.X], feed[network.labels] = X, y
    full_loss, gradients = miniflow.value_and_grad(network.cost, feed, network.trainables)
    for node, value in zip(network.trainables, start):
        node.value = value.copy()
    call = (f"train(network, X_train, y_train, epochs=1, batch_size={batch_size}, "
            f"learning_rate={learning_rate}) on {n} rows")
    history = _quietly(call, lambda: train(network, X.copy(), y.copy(), 1, batch_size,
                                           learning_rate))
    losses = _history_array(history, call, 1)
    steps = n // batch_size
    # Each batch's gradient is a mean over its rows; the batch gradients add up to
    # `steps` times the gradient of the mean loss over all rows.
    moved = np.concatenate([(_as_float_array(node.value, name) - before).reshape(-1)
                            for node, before, name in zip(network.trainables, start,
                                                          _TRAINABLE_NAMES)])
    one_step = np.concatenate([-learning_rate * np.asarray(g, dtype=float).reshape(-1)
                               for g in gradients])
    updates = float(moved @ one_step / (one_step @ one_step))
    if np.linalg.norm(moved - steps * one_step) > 1e-2 * np.linalg.norm(steps * one_step):
        if abs(updates - steps) > 0.5 and updates > 0:
            _fail(f"{call}: the weights moved as if by about {updates:.1f} steps, expected "
                  f"{steps} ({n} rows in batches of {batch_size}): update the weights "
                  "after every mini-batch, inside the loop over batches.")
        _fail(f"{call}: the weights did not move like {steps} steps of gradient descent, one "
              f"per mini-batch of {batch_size} rows of X_train.")
    if _isclose(losses[0], steps * full_loss, rtol=1e-3):
        _fail(f"{call}: the epoch's loss {losses[0]:.6g} is the sum of the {steps} batch "
              f"losses; record their mean ({full_loss:.6g}).")
    if not _isclose(losses[0], full_loss, rtol=1e-3):
        _fail(f"{call}: the epoch's loss is {losses[0]:.6g}, expected the mean of the batch "
              f"losses, {full_loss:.6g} (here about the loss of the whole training set).")
