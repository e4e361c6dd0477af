"""Judging: the student's answer, as plain data, against the grader's own.

``compare`` says what is wrong with one answer to one question (a ``Probe``)
or None when it is right: a ``Problem``, the grader's words and a
``Mistake`` code (``autograder.core.mistakes``; a wrong array is diagnosed
there, the code travels to the grade and the report); ``check_outcomes`` says
the same of each check the probe names (``Probe.checks``). Answers arrive as
JSON text and are read strictly (``plain_value``, ``json_constant``):
numbers, strings, lists and string-keyed dicts, never a pickle.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from autograder.core.mistakes import Mistake, explain, worst_element
from autograder.judge.plans import Probe

__all__ = ["Problem", "check_outcomes", "compare", "json_constant", "plain_value"]

RTOL, ATOL = 1e-6, 1e-8


class Problem(NamedTuple):
    """What is wrong with an answer: ``words`` for the student, ``mistake`` for the record."""

    words: str
    mistake: Mistake = Mistake.WRONG_VALUE


def _wrong(words: str, mistake: Mistake = Mistake.WRONG_VALUE) -> Problem:
    return Problem(words, mistake)


def json_constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def plain_value(value: Any, depth: int = 0) -> Any:
    """Numbers, strings, lists and string-keyed dicts only; anything else is refused."""
    if depth > 12:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [plain_value(v, depth + 1) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: plain_value(v, depth + 1) for k, v in value.items()}
    raise ValueError(f"not a plain value: {type(value).__name__}")


def _close(got: Any, want: Any, shape: list[int] | None, what: str,
           **known: Any) -> Problem | None:
    """Through the diagnosis: which quantity, which element, and the likely mistake
    (``known``: what the probe knows, as ``autograder.core.mistakes.diagnose`` takes it)."""
    try:
        got_array = np.array(got, dtype=float)
    except (TypeError, ValueError):
        return _wrong(f"{what} is not an array of numbers")
    want_array = np.array(want, dtype=float)
    if shape is not None and list(got_array.shape) != list(shape):
        return _wrong(f"{what} has the wrong shape")
    found = explain(want_array, got_array, **known)
    if got_array.shape != want_array.shape:
        words = f"{what} has shape {got_array.shape}, expected {want_array.shape}"
        mistake = found[0] if found else Mistake.WRONG_SHAPE
        if found is None:
            return _wrong(words, mistake)
        return _wrong(f"{words}. Likely mistake: {found[1]}", mistake)
    if not np.allclose(got_array, want_array, rtol=RTOL, atol=ATOL, equal_nan=False):
        worst = worst_element(got_array, want_array)
        where = (f"at element {worst}: expected {want_array[worst]:.6g}, "
                 f"got {got_array[worst]:.6g}")
        if found is None:
            return _wrong(f"{what} differs from the reference {where}")
        return _wrong(f"{what} differs from the reference. Likely mistake: {found[1]} "
                      f"(first difference {where})", found[0])
    return None


#: The nodes whose first input's rows are a batch (a factor of its size is named so).
_BATCHED = {"Linear", "MSE", "CrossEntropyWithSoftmax"}


def _known(probe: Probe) -> dict[str, Any]:
    """What a node probe's inputs tell the diagnosis: the inputs themselves (NaN where
    one is 0 is a division by it), the batch size and, with labels, the class count."""
    if probe.kind != "node":
        return {}
    try:
        inputs = tuple(np.array(v["data"], dtype=float).reshape(v["shape"])
                       for v in probe.spec.get("values", []))
    except (KeyError, TypeError, ValueError):
        return {}
    known: dict[str, Any] = {"inputs": inputs}
    if probe.name in _BATCHED and inputs and inputs[0].ndim >= 1 and len(inputs[0]) > 1:
        known["batch_size"] = len(inputs[0])
    if probe.name == "CrossEntropyWithSoftmax" and inputs and inputs[0].ndim == 2:
        known["classes"] = inputs[0].shape[1]
    return known


def _close_all(got: Any, want: list, what: str, missing: str,
               before: list | None = None, **known: Any) -> Problem | None:
    """Each of a list of answers against the reference's, in order (``before``: each
    one's value before a step, when there was one)."""
    if not isinstance(got, list) or len(got) != len(want):
        return _wrong(missing.format(len(want)))
    for i, (g, w) in enumerate(zip(got, want)):
        old = {"before": np.array(before[i], dtype=float)} if before else {}
        problem = _close(g, w, None, what.format(i), **old, **known)
        if problem:
            return problem
    return None


def _starts(spec: dict) -> list | None:
    """The values a step probe started from, as arrays' lists, or None."""
    try:
        return [np.array(v["data"], dtype=float).reshape(v["shape"]).tolist()
                for v in spec["values"]]
    except (KeyError, TypeError, ValueError):
        return None


def _check_chain_rule(spec: dict, got: dict, want: dict) -> Problem | None:
    """The chain rule's three answers through the diagnosis (the upstream gradient is
    known), and the path through x*z forgotten, which no pattern of numbers names."""
    _x, y, _z, upstream = spec["arguments"]
    results, expected = got.get("results"), want["results"]
    if isinstance(results, list) and len(results) == len(expected) == 3 and \
            _numbers(results[0]) and np.size(results[0]) == 1:
        dx, right = float(np.array(results[0], dtype=float)), float(expected[0])
        if np.isclose(dx, upstream * y) and not np.isclose(right, upstream * y):
            return _wrong("dL/dx follows only one path from x to f: x feeds two nodes, so "
                          "the contributions of both paths add up")
    return _close_all(results, expected, "result {}", "it did not return {} values",
                      upstream=upstream)


def _numbers(value: Any) -> bool:
    try:
        np.array(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return True


def compare(probe: Probe, got: dict, want: dict) -> Problem | None:
    """What is wrong with the answer ``got`` to ``probe`` (reference ``want``); None: right."""
    if probe.kind == "fit":
        return _check_accuracy(probe.secret or {}, got)
    if probe.kind == "predict":
        if got.get("weights_kept") is not True:
            return _wrong("predicting changed the network's weights: predict only runs forward")
        if got.get("labels_kept") is False:
            return _wrong("predicting gave network.labels a value: it ran the whole graph, "
                          "loss included; a prediction needs the graph only up to the logits")
        if got.get("integers") is not True:
            return _wrong("the labels are not integers (an integer array, as np.argmax gives)")
        if got.get("labels_shape") != want["labels_shape"]:
            return _wrong(f"it returned shape {got.get('labels_shape')}, expected one label per "
                          f"image, {want['labels_shape']}")
        return _close(got.get("labels"), want["labels"], None, "the predicted labels")
    if probe.kind == "train":
        return _check_train(probe.spec, got, want)
    if probe.kind == "build":
        return _check_network(got, want)
    if probe.kind == "tensor" and "gradients" not in want and want.get("records_parents") \
            and got.get("records_parents") is not True:  # forward probes only
        return _wrong("the result does not record the tensors it was computed from in _parents")
    if probe.kind in ("node", "tensor"):
        known = _known(probe)
        if "gradients" not in want:  # a forward probe: the value is what it checks
            return _close(got.get("value"), want["value"], got.get("value_shape"),
                          "the value", **known)
        # A backward probe judges the gradients only (backward started from the
        # reference value): one mistake costs one exercise.
        problems = _gradient_problems(probe, got, want, known)
        return next((p for p in problems if p), None)
    if probe.kind == "function" and probe.name == "chain_rule_gradients":
        return _check_chain_rule(probe.spec, got, want)
    if probe.kind == "function":
        return _close_all(got.get("results"), want["results"], "result {}",
                          "it did not return {} values")
    if probe.kind == "sort":
        return _check_order(probe.spec, got)
    if probe.kind == "order":
        return _check_tensor_order(probe.spec, got)
    if probe.kind == "network":
        problem = _close(got.get("value"), want["value"], None, "the loss")
        if problem:
            return problem
    if probe.kind in ("backprop", "network"):
        gradients = got.get("gradients")
        if not isinstance(gradients, dict):
            return _wrong("the gradients are missing")
        for name, expected in want["gradients"].items():
            problem = _close(gradients.get(name), expected, None, f"{name}.grad")
            if problem:
                return problem
        return None
    if probe.kind == "epoch":
        return _check_epoch(probe.spec, got)
    if probe.kind in ("sgd", "tensor_sgd"):
        return _close_all(got.get("values"), want["values"], "trainable {} after the step",
                          "the values of the {} trainables are missing",
                          before=_starts(probe.spec))
    return _wrong(f"unknown probe kind {probe.kind}")


def _gradient_problems(probe: Probe, got: dict, want: dict, known: dict[str, Any]
                       ) -> list[Problem | None]:
    """What is wrong with each gradient of a backward node or tensor probe's answer."""
    gradients = got.get("gradients")
    if not isinstance(gradients, list) or len(gradients) != len(want["gradients"]):
        return [_wrong("the gradients are missing")] * len(want["gradients"])
    shapes = got.get("gradient_shapes") or [None] * len(gradients)
    return [_close(g, w, shapes[i] if i < len(shapes) else None,
                   f"the gradient for input {probe.spec['gradients_of'][i]}", **known)
            for i, (g, w) in enumerate(zip(gradients, want["gradients"]))]


def check_outcomes(probe: Probe, got: dict, want: dict, whole: Problem | None
                   ) -> dict[str, Problem | None]:
    """Each check ``probe`` names (``Probe.checks``) -> what is wrong with its part of the
    answer, None when it is right: for one check, the whole answer's (``whole``, what
    ``compare`` said of it); for a backward probe's gradients, each judged alone."""
    names = probe.checks
    if len(names) > 1 and probe.kind in ("node", "tensor") and "gradients" in want \
            and len(names) == len(want["gradients"]):
        return dict(zip(names, _gradient_problems(probe, got, want, _known(probe))))
    return dict.fromkeys(names, whole)


def _check_train(spec: dict, got: dict, want: dict) -> Problem | None:
    """One batch per epoch: exactly gradient descent. Several: with a learning rate so
    small that the order of the rows hardly matters, the weights move by one step per
    batch and each epoch's loss is the mean of its batches'."""
    n, epochs = len(spec["y"]), spec["epochs"]
    size = spec.get("batch_size") or n
    history = got.get("history")
    if not isinstance(history, list) or len(history) != epochs:
        count = len(history) if isinstance(history, list) else 0
        return _wrong(f"it returned {count} losses for {epochs} epochs: one per epoch, the mean of "
                      "that epoch's batch losses")
    if size == n:
        return _close_all(got.get("values"), want["values"],
                          "trainable {} after training (one batch per epoch: plain "
                          "gradient descent)", "the {} trainables are missing")
    problem = _close(history, want["history"], None, "the history (each epoch's mean batch "
                     "loss)") if not np.allclose(np.array(history, dtype=float),
                                                 want["history"], rtol=1e-4) else None
    if problem:
        return problem
    values = got.get("values")
    if not isinstance(values, list) or len(values) != len(want["start"]):
        return _wrong("the trainables are missing")
    for i, (g, w, s) in enumerate(zip(values, want["values"], want["start"])):
        moved, expected = np.array(g, dtype=float) - s, np.array(w, dtype=float) - s
        if moved.shape != expected.shape or not np.allclose(moved, expected, rtol=2e-3,
                                                            atol=1e-12):
            steps = n // size + (1 if n % size else 0)
            return _wrong(f"trainable {i} moved {float(np.abs(moved).sum()):.3g} in all, where "
                          f"{epochs} epochs of {steps} batches ({epochs * steps} steps of "
                          f"sgd_update) move it {float(np.abs(expected).sum()):.3g}")
    return None


def _check_network(got: dict, want: dict) -> Problem | None:
    if got.get("shapes") != want["shapes"]:
        return _wrong(f"the weights have shapes {got.get('shapes')}, expected {want['shapes']}")
    if got.get("same_seed_same_start") is not True:
        return _wrong("two networks built with the same seed started with different weights: draw "
                      "them from a generator made from the seed it is given")
    start = got.get("start")
    if not isinstance(start, list) or len(start) != 4:
        return _wrong("the starting weights are missing")
    for (_mean, spread, largest), name, shape in zip(start, ("W1", "b1", "W2", "b2"),
                                                     want["shapes"]):
        if len(shape) == 1:
            if largest != 0:
                return _wrong(f"{name} does not start at zero")
            continue
        fan_in = shape[0]
        other = _other_layer_scale(spread, fan_in, shape[0] * shape[1], want["shapes"])
        if other:
            return _wrong(f"{name} starts with standard deviation {spread:.3g}, about "
                          f"1/sqrt({other}): it was scaled by another layer's size, not by its "
                          f"own {fan_in} inputs per unit", Mistake.SCALED)
        if shape[0] * shape[1] >= 100 and not (
                (1 / fan_in ** 0.5) / 3 <= spread <= 3 / fan_in ** 0.5):
            return _wrong(f"{name} starts with standard deviation {spread:.3g}, far from "
                          f"1/sqrt({fan_in})")
    return _close(got.get("value"), want["value"], got.get("value_shape"),
                  "the logits for given weights")


def _other_layer_scale(spread: float, fan_in: int, count: int, shapes: list) -> int | None:
    """The size of another layer whose 1/sqrt matches ``spread`` far better than the
    weight's own fan-in does (with 300 entries or more, the spread is known within a few
    per cent); None when none does."""
    if count < 300 or spread <= 0:
        return None
    own = 1.0 / math.sqrt(fan_in)
    accepted = (own, own * math.sqrt(2.0), math.sqrt(2.0 / (fan_in + count // fan_in)))
    if min(abs(math.log(spread / scale)) for scale in accepted) < 0.1:
        return None  # its own fan-in's scale, He's or Glorot's
    sizes = {shapes[0][0], shapes[0][1], shapes[2][1]} - {fan_in}
    for size in sorted(sizes):
        wrong = 1.0 / math.sqrt(size)
        if abs(math.log(wrong / own)) >= 0.25 and abs(math.log(spread / wrong)) < 0.1 \
                and abs(math.log(spread / own)) > 0.2:
            return size
    return None


def _check_epoch(spec: dict, got: dict) -> Problem | None:
    """The batches an epoch fed: each row once, full batches but the last, shuffled;
    and replaying them with miniflow's SGD must give the same weights and loss."""
    from miniflow.graph import forward_and_backward, topological_sort
    from miniflow.nodes import MSE, Input, Linear
    from miniflow.training import sgd_update

    batches = got.get("batches")
    if not isinstance(batches, list) or not all(isinstance(b, list) for b in batches):
        return _wrong("the batches it fed are missing")
    X = np.array(spec["X"]["data"], dtype=float).reshape(spec["X"]["shape"])
    y = np.array(spec["y"]["data"], dtype=float).reshape(spec["y"]["shape"])
    n, size = len(X), spec["batch_size"]
    rows = [int(r) for batch in batches for r in batch]
    if sorted(rows) != list(range(n)):
        return _wrong(f"one epoch over {n} rows in batches of {size} must use every row "
                      "exactly once")
    sizes = [len(batch) for batch in batches]
    expected = [size] * (n // size) + ([n % size] if n % size else [])
    if sizes != expected:
        return _wrong(f"batches of sizes {sizes}, expected {expected}")
    if len(batches) > 1 and rows == list(range(n)):
        return _wrong("the rows came in their original order: shuffle them each epoch")
    if got.get("batches_again") != batches:
        return _wrong(f"called twice with seed={spec['seed']}, it fed the rows in different "
                      "orders: take the order from the seed it is given, not from numpy's "
                      "global generator")
    X_node, y_node, W, b = Input("X"), Input("y"), Input("W"), Input("b")
    cost = MSE(y_node, Linear(X_node, W, b))
    graph = topological_sort({X_node: X, y_node: y,
                              W: np.array(spec["W"]["data"]).reshape(spec["W"]["shape"]),
                              b: np.array(spec["b"]["data"]).reshape(spec["b"]["shape"])})
    losses = []
    for batch in batches:
        X_node.value, y_node.value = X[batch], y[batch]
        losses.append(float(forward_and_backward(graph, output=cost, trainables=[W, b])))
        sgd_update([W, b], spec["learning_rate"])
    problem = _close_all(got.get("values"), [W.value.tolist(), b.value.tolist()],
                         "{} after the epoch (0: W, 1: b), replayed over the batches it fed",
                         "W and b are missing")
    return problem or _close(got.get("loss"), float(np.mean(losses)), None,
                             "the returned loss (the mean of the batch losses)")


def _check_accuracy(secret: dict, got: dict) -> Problem | None:
    labels = got.get("labels")
    truth = np.asarray(secret.get("labels", []), dtype=float)
    try:
        predicted = np.asarray(labels, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return _wrong("the predictions are not a list of labels")
    if predicted.shape != truth.shape:
        return _wrong(f"{predicted.size} predictions for {truth.size} points")
    accuracy = float(np.mean(predicted == truth))
    if accuracy < secret.get("at_least", 1.0):
        return _wrong(f"{accuracy:.1%} of the points were classified correctly; at least "
                      f"{secret['at_least']:.0%} is needed")
    return None


def _check_tensor_order(spec: dict, got: dict) -> Problem | None:
    order = got.get("order")
    names = list(spec["leaves"]) + [name for name, _, _ in spec["operations"]]
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(names):
        return _wrong(f"the order {order} does not hold every tensor exactly once ({names})")
    position = {name: i for i, name in enumerate(order)}
    for name, _, operands in spec["operations"]:
        for operand in operands:
            if position[operand] > position[name]:
                return _wrong(f"{name} comes before the tensor {operand} it was computed from")
    if order[-1] != spec["output"]:
        return _wrong(f"the output {spec['output']} is not last")
    return None


def _check_order(spec: dict, got: dict) -> Problem | None:
    order = got.get("order")
    names = list(spec["inputs"]) + [name for name, _ in spec["adds"]]
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(names):
        return _wrong(f"the order {order} does not hold every node exactly once ({names})")
    position = {name: i for i, name in enumerate(order)}
    for name, sources in spec["adds"]:
        for source in sources:
            if position[source] > position[name]:
                return _wrong(f"{name} comes before its input {source}")
    values = got.get("values") or {}
    for name, value in spec["inputs"].items():
        if values.get(name) != value:
            return _wrong(f"the input {name} did not get its value from feed_dict")
    return None
