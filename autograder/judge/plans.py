"""The trusted verdict: the student's code answers, the grader judges, in its own process.

The hidden tests run inside the student's kernel, after the student's code,
so code that patches numpy, the checks or IPython in its own interpreter can
change how it is judged. Here it cannot: right after a test cell runs, the
grader sends the kernel a **probe**, a short program that feeds the
student's class or function fixed inputs and prints what came out as one
line of JSON (``MINIFLOW-ANSWER {...}``: numbers, lists and strings only,
never a pickle). The parent process, which imports nothing from the
submission, parses that line strictly and compares it with miniflow's
reference, computed in its own process on the same inputs.

Whatever the student's code does to its interpreter, it can then only change
what it answers, never how the answer is judged: a wrong ``Linear`` answers
wrong numbers. Answering with miniflow's own results is delegation, which
the static review (``autograder.judge.review``) catches and names.

``grade`` takes, per test cell, the lower of nbgrader's verdict and this
one, with a note when they disagree. Probes exist for the exercises of
``PLANS``; the other test cells keep nbgrader's verdict alone.

The helpers ``_run_*`` run twice: in the parent on miniflow's reference, and,
shipped as source text, inside the student's kernel on the student's code.
So they import what they need themselves and use only numpy and miniflow's
``Input``/``Add``.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GRADER_VERSIONS", "HELPERS", "HIDDEN", "MARK", "PLANS", "RUNNERS", "TEST_USES",
           "Probe", "compare", "json_constant", "judge", "parse_answers", "plain_value",
           "plan_for", "shippable"]

MARK = "MINIFLOW-ANSWER "
RTOL, ATOL = 1e-6, 1e-8
MAX_ANSWER = 2_000_000  # characters of one answer line


def _run_node(make: Any, spec: dict) -> dict:
    """Build ``make(*inputs)``, run forward, then backward from given upstream gradients.

    Backward starts from the reference forward value (``spec["reference"]``)
    when there is one, so a wrong forward is never blamed on a right backward.
    """
    import numpy as np

    from miniflow.nodes import Input

    def array(spec: dict) -> Any:
        return np.array(spec["data"], dtype=spec["dtype"]).reshape(spec["shape"])

    inputs = [Input(name=f"x{i}") for i in range(len(spec["values"]))]
    node = make(*[inputs[i] for i in spec["wiring"]])
    for node_input, value in zip(inputs, spec["values"]):
        node_input.value = array(value)
    node.forward()
    value = np.asarray(node.value, dtype=float)
    answer = {"value": value.tolist(), "value_shape": list(value.shape)}
    if spec.get("upstreams") is not None:
        if spec.get("reference") is not None:
            node.value = array(spec["reference"])
        consumers = []
        for upstream in spec["upstreams"]:
            consumer = type("Consumer", (), {})()
            consumer.gradients = {node: array(upstream)}
            consumers.append(consumer)
        node.outbound_nodes = consumers
        node.backward()
        gradients = [np.asarray(node.gradients[inputs[i]], dtype=float)
                     for i in spec["gradients_of"]]
        answer["gradients"] = [g.tolist() for g in gradients]
        answer["gradient_shapes"] = [list(g.shape) for g in gradients]
    return answer


def _run_function(function: Any, spec: dict) -> dict:
    """Call ``function(*arguments)``; every result becomes an array of floats."""
    import numpy as np

    arguments = [np.array(a["data"], dtype=a["dtype"]).reshape(a["shape"])
                 if isinstance(a, dict) else a for a in spec["arguments"]]
    result = function(*arguments)
    results = list(result) if isinstance(result, (tuple, list)) else [result]
    arrays = [np.asarray(r, dtype=float) for r in results]
    return {"results": [a.tolist() for a in arrays], "shapes": [list(a.shape) for a in arrays]}


def _run_sort(sort: Any, spec: dict) -> dict:
    """Build a graph of Input and Add nodes, sort it, answer the order by node name."""
    from miniflow.nodes import Add, Input

    nodes: dict = {}
    feed = {}
    for name, value in spec["inputs"].items():
        nodes[name] = Input(name=name)
        feed[nodes[name]] = value
    for name, sources in spec["adds"]:
        nodes[name] = Add(*[nodes[s] for s in sources], name=name)
    order = sort(feed)
    names = {id(node): name for name, node in nodes.items()}
    return {"order": [names.get(id(node), "?") for node in order],
            "values": {name: float(nodes[name].value) if nodes[name].value is not None
                       else None for name in spec["inputs"]}}


def _run_sgd(update: Any, spec: dict) -> dict:
    """Nodes with values and gradients, one update step, the values after it."""
    import numpy as np

    from miniflow.nodes import Input

    trainables = []
    for i, (value, gradient) in enumerate(zip(spec["values"], spec["gradients"])):
        node = Input(name=f"t{i}")
        node.value = np.array(value["data"], dtype=float).reshape(value["shape"])
        node.gradients = {node: np.array(gradient["data"], dtype=float)
                          .reshape(gradient["shape"])}
        trainables.append(node)
    update(trainables, spec["learning_rate"])
    return {"values": [np.asarray(t.value, dtype=float).tolist() for t in trainables]}


def _run_fit(fit: Any, spec: dict) -> dict:
    """Train with ``fit(X, y, seed=...)`` and answer its predictions for other points.

    The labels of those points stay with the grader: the answer is judged by
    the accuracy the grader computes. Earlier exercises the function calls
    run as miniflow's references, as in the hidden test.
    """
    import numpy as np

    space = getattr(fit, "__globals__", {})
    saved = {name: space.get(name) for name in spec["references"]}
    try:
        for name in spec["references"]:
            space[name] = _grader(name)
        predict, _ = fit(np.array(spec["X"], dtype=float), np.array(spec["y"], dtype=int),
                         seed=spec["seed"])
        labels = np.asarray(predict(np.array(spec["X_eval"], dtype=float)))
    finally:
        space.update(saved)
    return {"labels": labels.reshape(-1).astype(float).tolist()}


def _run_tensor(make: Any, spec: dict) -> dict:
    """One Tensor operation forward; backward through its own ``_backward``."""
    import numpy as np

    def array(spec: dict) -> Any:
        return np.array(spec["data"], dtype=spec["dtype"]).reshape(spec["shape"])

    tensors = [make(array(value)) for value in spec["values"]]
    operands = [tensors[i] for i in spec["wiring"]]
    operation = spec["operation"]
    if operation == "sigmoid":
        out = operands[0].sigmoid()
    elif operation == "sum":
        out = operands[0].sum()
    elif operation == "add":
        out = operands[0] + operands[1]
    elif operation == "mul":
        out = operands[0] * operands[1]
    else:
        out = operands[0] @ operands[1]
    value = np.asarray(out.data, dtype=float)
    parents = list(getattr(out, "_parents", ()) or ())
    answer = {"value": value.tolist(), "value_shape": list(value.shape),
              "records_parents": all(any(p is t for p in parents) for t in operands)}
    if spec.get("upstreams") is not None:
        # Gradients already there (from other consumers): _backward must add to them.
        before = spec.get("grads_before") or [None] * len(tensors)
        for tensor, start in zip(tensors, before):
            tensor.grad = np.zeros(np.shape(tensor.data)) if start is None else array(start)
        out.grad = array(spec["upstreams"][0])
        out._backward()
        gradients = [np.asarray(tensors[i].grad, dtype=float) for i in spec["gradients_of"]]
        answer["gradients"] = [g.tolist() for g in gradients]
        answer["gradient_shapes"] = [list(g.shape) for g in gradients]
    return answer


def _run_tensor_sgd(step: Any, spec: dict) -> dict:
    """Tensors with data and grad, one step, their data after it."""
    import numpy as np

    make = _grader("Tensor")  # a slip in the student's Tensor costs only its own test
    params = {}
    for name, value, gradient in zip(spec["names"], spec["values"], spec["gradients"]):
        params[name] = make(np.array(value["data"], dtype=float).reshape(value["shape"]))
        params[name].grad = np.array(gradient["data"], dtype=float).reshape(gradient["shape"])
    step(params, spec["learning_rate"])
    return {"values": [np.asarray(params[n].data, dtype=float).tolist()
                       for n in spec["names"]]}


def _tensor_graph(make: Any, spec: dict) -> dict:
    """Leaves and operations by name, built with ``make`` (a tensor class)."""
    import numpy as np

    tensors = {name: make(np.array(value["data"], dtype=float).reshape(value["shape"]))
               for name, value in spec["leaves"].items()}
    for name, operation, operands in spec["operations"]:
        a = tensors[operands[0]]
        if operation == "sigmoid":
            tensors[name] = a.sigmoid()
        elif operation == "sum":
            tensors[name] = a.sum()
        elif operation == "add":
            tensors[name] = a + tensors[operands[1]]
        elif operation == "mul":
            tensors[name] = a * tensors[operands[1]]
        else:
            tensors[name] = a @ tensors[operands[1]]
    return tensors


def _run_backprop(backpropagate: Any, spec: dict) -> dict:
    """The student's backpropagate over a graph of the grader's own tensors.

    Its ``topological_order`` is the grader's for the call, so a mistake in
    one exercise is not blamed on the other.
    """
    import numpy as np

    space = getattr(backpropagate, "__globals__", {})
    saved = space.get("topological_order")
    space["topological_order"] = _grader("topological_order")
    try:
        tensors = _tensor_graph(_grader("Tensor"), spec)
        for tensor in tensors.values():  # gradients left from an earlier pass
            tensor.grad = np.ones(np.shape(tensor.data))
        backpropagate(tensors[spec["output"]])
    finally:
        space["topological_order"] = saved
    return {"gradients": {name: np.asarray(tensors[name].grad, dtype=float).tolist()
                          for name in spec["leaves"]}}


def _run_order(order: Any, spec: dict) -> dict:
    """The student's topological_order over a graph of the grader's own tensors."""
    tensors = _tensor_graph(_grader("Tensor"), spec)
    names = {id(tensor): name for name, tensor in tensors.items()}
    return {"order": [names.get(id(t), "?") for t in order(tensors[spec["output"]])]}


def _run_build(build: Any, spec: dict) -> dict:
    """A network from ``build``: its weights' shapes and start, and its logits for
    given weights and images."""
    import numpy as np

    from miniflow.graph import forward_pass, topological_sort

    network = build(*spec["sizes"], seed=spec["seed"])
    start = [np.asarray(node.value, dtype=float) for node in network.trainables]
    again = [np.asarray(node.value, dtype=float)
             for node in build(*spec["sizes"], seed=spec["seed"]).trainables]
    same_seed = len(again) == len(start) and all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(start, again))
    for node, value in zip(network.trainables, spec["weights"]):
        node.value = np.array(value["data"], dtype=float).reshape(value["shape"])
    images = np.array(spec["X"]["data"], dtype=float).reshape(spec["X"]["shape"])
    feed = {node: node.value for node in network.trainables}
    feed[network.X] = images
    feed[network.labels] = np.zeros(len(images), dtype=int)
    logits = np.asarray(forward_pass(network.logits, topological_sort(feed)), dtype=float)
    return {"value": logits.tolist(), "value_shape": list(logits.shape),
            "shapes": [list(w.shape) for w in start], "same_seed_same_start": bool(same_seed),
            "start": [[float(np.mean(w)), float(np.std(w)), float(np.max(np.abs(w)))]
                      for w in start]}


def _run_predict(predict: Any, spec: dict) -> dict:
    """The grader's network with given weights (and a stale batch left in it)."""
    import numpy as np

    network = _grader("build_two_layer_network")(*spec["sizes"], seed=0)
    for node, value in zip(network.trainables, spec["weights"]):
        node.value = np.array(value["data"], dtype=float).reshape(value["shape"])
    network.X.value = np.zeros((len(spec["X"]["data"]) + 3, spec["sizes"][0]))
    network.labels.value = None
    images = np.array(spec["X"]["data"], dtype=float).reshape(spec["X"]["shape"])
    labels = np.asarray(predict(network, images))
    after = [np.asarray(node.value, dtype=float) for node in network.trainables]
    given = [np.array(v["data"], dtype=float).reshape(v["shape"]) for v in spec["weights"]]
    return {"labels": labels.reshape(-1).astype(float).tolist(),
            "labels_shape": list(labels.shape), "integers": labels.dtype.kind in "iu",
            "weights_kept": all(a.shape == g.shape and np.array_equal(a, g)
                                for a, g in zip(after, given))}


def _run_train(train: Any, spec: dict) -> dict:
    """``train`` on the grader's network, one batch per epoch: plain gradient descent."""
    import numpy as np

    network = _grader("build_two_layer_network")(*spec["sizes"], seed=spec["seed"])
    start = [np.asarray(n.value, dtype=float).tolist() for n in network.trainables]
    images = np.array(spec["X"]["data"], dtype=float).reshape(spec["X"]["shape"])
    labels = np.array(spec["y"], dtype=int)
    history = train(network, images, labels, spec["epochs"],
                    spec.get("batch_size") or len(labels), spec["learning_rate"])
    history = np.asarray(history, dtype=float).reshape(-1)
    return {"values": [np.asarray(n.value, dtype=float).tolist() for n in network.trainables],
            "history": history.tolist(), "start": start}


def _run_epoch(train_epoch: Any, spec: dict) -> dict:
    """One epoch on a linear regression; answer the batches it fed, in order.

    The loss node records which rows each forward pass saw, so the grader
    can replay exactly those batches with miniflow's SGD and compare the
    weights. The student's ``sgd_update`` is miniflow's for the call, as in
    the hidden test.
    """
    import numpy as np

    from miniflow.graph import topological_sort
    from miniflow.nodes import MSE, Input, Linear

    def array(spec: dict) -> Any:
        return np.array(spec["data"], dtype=float).reshape(spec["shape"])

    X, y = array(spec["X"]), array(spec["y"])
    batches: list = []

    class Recording(MSE):
        def forward(self) -> None:
            super().forward()
            fed = np.asarray(self.inbound_nodes[1].inbound_nodes[0].value,
                             dtype=float).reshape(-1, X.shape[1])
            batches.append([int(np.argmin(np.abs(X - row).sum(axis=1))) for row in fed])

    space = getattr(train_epoch, "__globals__", {})
    saved = space.get("sgd_update")
    space["sgd_update"] = _grader("sgd_update")
    runs = []
    try:
        for _ in range(2):  # the same seed twice: the same batches, or the seed is ignored
            X_node, y_node, W, b = Input("X"), Input("y"), Input("W"), Input("b")
            cost = Recording(y_node, Linear(X_node, W, b))
            graph = topological_sort({X_node: X, y_node: y, W: array(spec["W"]),
                                      b: array(spec["b"])})
            batches.clear()
            loss = train_epoch(graph, cost, X_node, y_node, [W, b], X, y, spec["batch_size"],
                               spec["learning_rate"], seed=spec["seed"])
            runs.append({"batches": list(batches), "loss": float(loss),
                         "values": [np.asarray(W.value, dtype=float).tolist(),
                                    np.asarray(b.value, dtype=float).tolist()]})
    finally:
        space["sgd_update"] = saved
    return {**runs[0], "batches_again": runs[1]["batches"]}


def _run_network(loss_of: Any, spec: dict) -> dict:
    """The student's two-layer loss on the grader's tensors, differentiated by the
    grader's backpropagation: a slip in ``Tensor`` or ``backpropagate`` costs
    only their own tests, never this one."""
    import numpy as np

    make = _grader("Tensor")

    def array(spec: dict) -> Any:
        return np.array(spec["data"], dtype=float).reshape(spec["shape"])

    space = getattr(loss_of, "__globals__", {})
    saved = space.get("Tensor")
    space["Tensor"] = make
    try:
        params = {name: make(array(value)) for name, value in spec["params"].items()}
        loss = loss_of(array(spec["X"]), array(spec["y"]), params)
        _grader("backpropagate")(loss)
    finally:
        space["Tensor"] = saved
    return {"value": float(np.asarray(loss.data, dtype=float).reshape(())),
            "gradients": {name: np.asarray(t.grad, dtype=float).tolist()
                          for name, t in params.items()}}


RUNNERS: dict[str, Callable[[Any, dict], dict]] = {
    "node": _run_node, "function": _run_function, "sort": _run_sort, "sgd": _run_sgd,
    "fit": _run_fit, "tensor": _run_tensor, "tensor_sgd": _run_tensor_sgd,
    "backprop": _run_backprop, "order": _run_order, "build": _run_build,
    "predict": _run_predict, "train": _run_train, "epoch": _run_epoch,
    "network": _run_network}
# Shipped with every runner (generic helpers, no exercise's answer in them).
HELPERS = ["_tensor_graph"]

# The grader's versions of exercises that later tests build on: the name a
# runner asks ``_grader`` for -> (miniflow module, attribute). A test that uses
# one runs on the grader's version, so a slip in that exercise costs only its
# own test. In the judge they arrive as the module's source only when the
# first question that needs them is asked, after every test they would answer.
GRADER_VERSIONS: dict[str, tuple[str, str]] = {
    "sgd_update": ("miniflow.training", "sgd_update"),
    "train_epoch": ("miniflow.training", "train_epoch"),
    "build_two_layer_network": ("miniflow.examples", "build_two_layer_network"),
    "Tensor": ("miniflow.tensor", "Tensor"),
    "topological_order": ("miniflow.tensor", "topological_order"),
    "backpropagate": ("miniflow.tensor", "backpropagate"),
}

# Which grader versions each test's runner uses.
TEST_USES: dict[str, list[str]] = {
    "test_train_epoch": ["sgd_update"], "test_xor": ["sgd_update", "train_epoch"],
    "test_predict": ["build_two_layer_network"], "test_train": ["build_two_layer_network"],
    "test_topological_order": ["Tensor"], "test_backpropagate": ["Tensor", "topological_order"],
    "test_two_layer_loss": ["Tensor", "backpropagate"], "test_sgd_step": ["Tensor"],
}

# What the judge's copy of miniflow leaves out, per assignment: the reference
# answers of the exercises being graded ("module.name", or a whole module), so
# that code delegating to them fails by construction.
HIDDEN: dict[str, list[str]] = {
    "01_graphs": ["nodes.Mul", "graph.topological_sort", "graph._connected_nodes",
                  "graph._node_on_cycle"],
    "02_layers": ["nodes.Linear", "nodes.Sigmoid", "nodes._sigmoid"],
    "03_losses": ["nodes.MSE", "nodes.CrossEntropyWithSoftmax", "nodes._softmax"],
    "04_training": ["training.sgd_update", "training.train_epoch"],
    "05_digits": ["examples.build_two_layer_network", "examples.train_digits"],
    "06_autograd": ["tensor"],
}


def _grader(name: str) -> Any:
    """The grader's version of an earlier exercise (``GRADER_VERSIONS``), in this process."""
    import importlib

    module, attribute = GRADER_VERSIONS[name]
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Probe:
    """One question for the student's code, backing one test cell."""

    id: str
    test: str        # grade id of the test cell it backs
    kind: str        # node, function, sort or sgd
    name: str        # the class or function under test, as named in the notebook
    spec: dict       # the inputs (JSON-able), sent to the kernel
    describe: str    # what it checks, in words for the student
    secret: dict | None = None  # what only the grader knows (labels to score against)

    def reference(self) -> dict:
        """What miniflow's own code answers, computed here, never in the kernel."""
        import miniflow

        if self.kind in ("fit", "epoch"):
            return {}  # judged on what only the grader knows, or by replaying the answer
        if self.kind == "network":
            return _reference_network(self.spec)
        if self.kind == "tensor_sgd":
            return _run_sgd(miniflow.sgd_update, self.spec)  # the same step, on nodes
        return RUNNERS[self.kind](_reference(self.name, miniflow), self.spec)


@functools.cache
def shippable(helper: Any) -> str:
    """A helper's source without annotations (the kernel has no ``typing`` names).

    Made once per helper and process: every probed test cell of every
    submission ships the same few helpers.
    """
    import ast

    tree = ast.parse(inspect.getsource(helper))

    class Strip(ast.NodeTransformer):
        def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
            node.returns = None
            for argument in [*node.args.args, *node.args.kwonlyargs]:
                argument.annotation = None
            return self.generic_visit(node)

        def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
            if node.value is None:
                return ast.Pass()
            return ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)

    return ast.unparse(ast.fix_missing_locations(Strip().visit(tree)))


def _reference_predict(network: Any, images: Any) -> Any:
    from miniflow.graph import forward_pass, topological_sort

    feed = {node: node.value for node in network.trainables}
    feed[network.X] = images
    feed[network.labels] = np.zeros(len(images), dtype=int)
    return np.argmax(forward_pass(network.logits, topological_sort(feed)), axis=1)


def _reference_train(network: Any, images: Any, labels: Any, epochs: int, batch_size: int,
                     learning_rate: float, seed: int = 0) -> list:
    import miniflow

    losses = []
    for epoch in range(epochs):
        batch_losses = []
        for X_batch, y_batch in miniflow.iterate_minibatches(images, labels, batch_size,
                                                             seed=seed + epoch):
            network.X.value, network.labels.value = X_batch, y_batch
            batch_losses.append(float(miniflow.forward_and_backward(
                network.graph, output=network.cost, trainables=network.trainables)))
            miniflow.sgd_update(network.trainables, learning_rate)
        losses.append(float(np.mean(batch_losses)))
    return losses


def _reference_network(spec: dict) -> dict:
    """mean((sigmoid(sigmoid(X W1 + b1) W2 + b2) - y)^2) and its gradients, by hand."""
    from miniflow.nodes import _sigmoid

    def array(spec: dict) -> np.ndarray:
        return np.array(spec["data"], dtype=float).reshape(spec["shape"])

    X, y = array(spec["X"]), array(spec["y"]).reshape(-1, 1)
    p = {name: array(value) for name, value in spec["params"].items()}
    hidden = _sigmoid(X @ p["W1"] + p["b1"])
    prediction = _sigmoid(hidden @ p["W2"] + p["b2"])
    error = prediction - y
    d_out = 2 * error / error.size * prediction * (1 - prediction)
    d_hidden = d_out @ p["W2"].T * hidden * (1 - hidden)
    gradients = {"W1": X.T @ d_hidden, "b1": d_hidden.sum(axis=0),
                 "W2": hidden.T @ d_out, "b2": d_out.sum(axis=0)}
    return {"value": float(np.mean(error ** 2)),
            "gradients": {name: gradients[name].reshape(p[name].shape).tolist()
                          for name in p}}


def _reference_step(params: dict, learning_rate: float) -> None:
    for tensor in params.values():
        tensor.data = tensor.data - learning_rate * tensor.grad


def _reference(name: str, miniflow: Any) -> Any:
    from miniflow import graph, nodes, training

    if name == "chain_rule_gradients":
        return lambda x, y, z, g: (g * (y + z), g * x, g * x)
    if name in ("Tensor", "backpropagate", "topological_order"):
        return _grader(name)
    if name == "sgd_step":
        return _reference_step
    if name == "build_network":
        from miniflow.examples import build_two_layer_network

        return lambda *sizes, seed: build_two_layer_network(*sizes, seed=seed)
    if name == "predict":
        return _reference_predict
    if name == "train":
        return _reference_train
    for module in (miniflow, nodes, graph, training):
        if hasattr(module, name):
            return getattr(module, name)
    raise KeyError(f"miniflow has no reference called {name!r}")


# --- the plans: seeded inputs per test cell --------------------------------------------

def _data(array: np.ndarray, dtype: str = "float64") -> dict:
    return {"data": np.asarray(array).tolist(), "dtype": dtype, "shape": list(np.shape(array))}


def _node_probes(test: str, name: str, shapes_list: list[list[tuple[int, ...]]], *,
                 seed: int, backward: bool, wiring: list[int] | None = None,
                 loss: bool = False, labels: bool = False, scale: float = 1.0,
                 gradients_of: list[int] | None = None, zero: bool = False) -> list[Probe]:
    """Forward (or backward) probes of a node on random inputs of each shape list."""
    import miniflow

    probes = []
    rng = np.random.default_rng(seed)
    for number, shapes in enumerate(shapes_list):
        values = [rng.normal(size=shape) * scale for shape in shapes]
        if scale > 1:  # both tails for sure, wherever the secret draws land
            values[0].flat[:2] = [1.25 * scale, -1.25 * scale]
        if zero:  # an input of exactly zero: dividing by it is the mistake asked about
            values[0].flat[0] = 0.0
        if labels:  # the last input holds class labels for the first one's columns
            values[-1] = rng.integers(0, shapes[0][1], size=shapes[-1])
            if scale > 1:  # the first row's label is its very wrong class, and the
                values[-1][0] = 1  # second row is far below the batch's maximum
                values[0][1, :] = -1.25 * scale
        spec: dict[str, Any] = {
            "values": [_data(v, "int64" if labels and i == len(values) - 1 else "float64")
                       for i, v in enumerate(values)],
            "wiring": wiring if wiring is not None else list(range(len(values)))}
        if scale > 1:  # large inputs: an overflow or a NaN on the way is a mistake
            spec["strict"] = True
        if backward:
            reference = _run_node(getattr(miniflow, name), spec)
            value = np.asarray(reference["value"], dtype=float)
            spec["reference"] = _data(value)
            spec["upstreams"] = [] if loss else [_data(rng.normal(size=value.shape))
                                                 for _ in range(2)]
            spec["gradients_of"] = gradients_of if gradients_of is not None else \
                sorted(set(spec["wiring"]))
        what = "backward" if backward else "forward"
        probes.append(Probe(f"{test}-{seed}-{number}", test, "node", name, spec,
                            f"{name} {what} on inputs of shapes {shapes}"
                            + (" with large inputs" if scale > 1 else "")
                            + (" (the same input twice)" if wiring else "")
                            + (" with two consumers" if backward and not loss else "")))
    return probes


def _graphs_plan(derive: Callable[[int], int]) -> list[Probe]:
    rng = np.random.default_rng(derive(7001))
    probes = [Probe(f"test_chain_rule-{n}", "test_chain_rule", "function",
                    "chain_rule_gradients",
                    {"arguments": [float(v) for v in rng.normal(size=4)]},
                    "chain_rule_gradients on random numbers") for n in range(3)]
    probes += _node_probes("test_mul_forward", "Mul", [[(3, 2), (3, 2)], [(4,), (4,), (4,)],
                                                       [(2, 3), (3,)]], seed=derive(7002),
                           backward=False)
    probes += _node_probes("test_mul_backward", "Mul", [[(3, 2), (3, 2)], [(2, 3), (3,)],
                                                        [(5,), (5,), (5,)]], seed=derive(7003),
                           backward=True)
    probes += _node_probes("test_mul_backward", "Mul", [[(4,), (4,)], [(2, 3), (2, 3), (2, 3)]],
                           seed=derive(7006), backward=True, zero=True)
    probes += _node_probes("test_mul_backward", "Mul", [[(3,)]], seed=derive(7004), backward=True,
                           wiring=[0, 0])
    graph_rng = np.random.default_rng(derive(7005))
    graphs = [_random_add_graph(graph_rng, inputs, adds) for inputs, adds in ((3, 4), (2, 8))]
    graphs.append(_shortcut_graph(graph_rng))
    probes += [Probe(f"test_topological_sort-{n}", "test_topological_sort", "sort",
                     "topological_sort", graph,
                     "topological_sort on a graph where a node uses the same input twice")
               for n, graph in enumerate(graphs)]
    return probes


def _layers_plan(derive: Callable[[int], int]) -> list[Probe]:
    shapes = [[(4, 3), (3, 2), (2,)], [(1, 5), (5, 4), (4,)], [(6, 2), (2, 1), (1,)]]
    probes = _node_probes("test_linear_forward", "Linear", shapes, seed=derive(7101),
                          backward=False)
    probes += _node_probes("test_linear_backward", "Linear", shapes, seed=derive(7102),
                           backward=True)
    probes += _node_probes("test_sigmoid_forward", "Sigmoid", [[(4, 3)], [(7,)]], seed=derive(7103),
                           backward=False)
    probes += _node_probes("test_sigmoid_forward", "Sigmoid", [[(2, 5)]], seed=derive(7104),
                           backward=False, scale=800.0)
    probes += _node_probes("test_sigmoid_backward", "Sigmoid", [[(4, 3)], [(6,)]],
                           seed=derive(7105), backward=True)
    return probes


def _losses_plan(derive: Callable[[int], int]) -> list[Probe]:
    probes = _node_probes("test_mse_forward", "MSE", [[(5,), (5, 1)], [(3, 2), (3, 2)]],
                          seed=derive(7201), backward=False)
    probes += _node_probes("test_mse_backward", "MSE", [[(4, 1), (4,)], [(6,), (6,)]],
                           seed=derive(7202), backward=True, loss=True)
    probes += _node_probes("test_cross_entropy_forward", "CrossEntropyWithSoftmax",
                           [[(4, 3), (4,)], [(6, 5), (6,)]], seed=derive(7203), backward=False,
                           labels=True)
    probes += _node_probes("test_cross_entropy_forward", "CrossEntropyWithSoftmax",
                           [[(3, 4), (3,)]], seed=derive(7204), backward=False, labels=True,
                           scale=500.0)
    probes += _node_probes("test_cross_entropy_backward", "CrossEntropyWithSoftmax",
                           [[(5, 3), (5,)], [(2, 4), (2,)]], seed=derive(7205), backward=True,
                           loss=True, labels=True, gradients_of=[0, 1])
    return probes


def _training_plan(derive: Callable[[int], int]) -> list[Probe]:
    from miniflow.datasets import make_xor

    rng = np.random.default_rng(derive(7301))
    X, y = make_xor(200, noise=0.2, seed=derive(7302))
    X_eval, y_eval = make_xor(400, noise=0.2, seed=derive(7303))
    epoch_rng = np.random.default_rng(derive(7304))
    epochs = [Probe(f"test_train_epoch-{n}", "test_train_epoch", "epoch", "train_epoch",
                    {"X": _data(epoch_rng.normal(size=(rows, 3))),
                     "y": _data(epoch_rng.normal(size=(rows, 1))),
                     "W": _data(epoch_rng.normal(size=(3, 1))), "b": _data(np.zeros(1)),
                     "batch_size": size, "learning_rate": 0.1, "seed": n},
                    f"train_epoch on {rows} rows in batches of {size}")
              for n, (rows, size) in enumerate([(6, 6), (23, 5), (16, 4)])]
    probes = epochs + [Probe("test_xor-7302", "test_xor", "fit", "train_xor",
                    {"X": X.tolist(), "y": y.tolist(), "X_eval": X_eval.tolist(), "seed": 3,
                     "references": ["sgd_update", "train_epoch"]},
                    "train_xor on fresh XOR data, scored on 400 points it never saw",
                    secret={"labels": y_eval.tolist(), "at_least": 0.95})]
    for number, rate in enumerate((0.1, 0.01)):
        shapes = [(3, 2), (2,), (4,)]
        probes.append(Probe(f"test_sgd_update-{number}", "test_sgd_update", "sgd",
                            "sgd_update",
                            {"values": [_data(rng.normal(size=s)) for s in shapes],
                             "gradients": [_data(rng.normal(size=s)) for s in shapes],
                             "learning_rate": rate},
                            f"sgd_update with learning rate {rate}"))
    return probes


def _tensor_probes(test: str, cases: list[tuple[str, list[tuple[int, ...]], list[int]]],
                   seed: int, backward: bool, scale: float = 1.0) -> list[Probe]:
    rng = np.random.default_rng(seed)
    probes = []
    for number, (operation, shapes, wiring) in enumerate(cases):
        values = [rng.normal(size=shape) * scale for shape in shapes]
        if scale > 1:  # both tails for sure, wherever the secret draws land
            values[0].flat[:2] = [1.25 * scale, -1.25 * scale]
        spec: dict[str, Any] = {"values": [_data(v) for v in values], "wiring": wiring,
                                "operation": operation}
        if scale > 1:
            spec["strict"] = True
        if backward:
            value = np.asarray(_run_tensor(_grader("Tensor"), spec)["value"])
            spec["upstreams"] = [_data(rng.normal(size=value.shape))]
            spec["grads_before"] = [_data(rng.normal(size=shape)) for shape in shapes]
            spec["gradients_of"] = sorted(set(wiring))
        what = "backward" if backward else "forward"
        probes.append(Probe(f"{test}-{seed}-{number}", test, "tensor", "Tensor", spec,
                            f"Tensor {operation} {what} on shapes {shapes}"
                            + (" with large inputs" if scale > 1 else "")
                            + (", adding to gradients already there" if backward else "")
                            + (" (the same tensor twice)" if len(set(wiring)) < len(wiring)
                               else "")))
    return probes


def _autograd_plan(derive: Callable[[int], int]) -> list[Probe]:
    cases = [("add", [(4, 3), (3,)], [0, 1]), ("mul", [(2, 3), (2, 3)], [0, 1]),
             ("mul", [(5, 1), (1, 3)], [0, 1]), ("matmul", [(3, 4), (4, 2)], [0, 1]),
             ("sigmoid", [(3, 4)], [0]), ("sum", [(2, 5)], [0])]
    probes = _tensor_probes("test_tensor_forward", cases, derive(7501), backward=False)
    probes += _tensor_probes("test_tensor_backward",
                             [*cases, ("mul", [(4,)], [0, 0]), ("add", [(2, 2)], [0, 0])],
                             derive(7502), backward=True)
    # Large inputs: a sigmoid written as 1 / (1 + exp(-x)) overflows there.
    probes += _tensor_probes("test_tensor_forward", [("sigmoid", [(2, 5)], [0])],
                             derive(7506), backward=False, scale=800.0)
    graph_rng = np.random.default_rng(derive(7504))
    graphs = [  # a diamond (x used twice), and a small layer
        {"leaves": {"x": _data(graph_rng.normal(size=(3,)))},
         "operations": [["a", "mul", ["x", "x"]], ["b", "sigmoid", ["x"]], ["c", "mul", ["a", "b"]],
                        ["d", "add", ["c", "x"]], ["out", "sum", ["d"]]], "output": "out"},
        {"leaves": {"X": _data(graph_rng.normal(size=(4, 2))),
                    "W": _data(graph_rng.normal(size=(2, 3))),
                    "b": _data(graph_rng.normal(size=(3,)))},
         "operations": [["z", "matmul", ["X", "W"]], ["h", "add", ["z", "b"]],
                        ["s", "sigmoid", ["h"]], ["out", "sum", ["s"]]], "output": "out"},
        {"leaves": {"x": _data(graph_rng.normal(size=(3,))),  # h is shared, not a leaf
                    "w": _data(graph_rng.normal(size=(3,)))},
         "operations": [["h", "mul", ["x", "w"]], ["a", "sigmoid", ["h"]], ["b", "mul", ["h", "h"]],
                        ["c", "add", ["a", "b"]], ["out", "sum", ["c"]]], "output": "out"},
    ]
    for number, graph in enumerate(graphs):
        probes.append(Probe(f"test_topological_order-{number}", "test_topological_order",
                            "order", "topological_order", graph,
                            "topological_order on a graph where a tensor is used twice"))
        probes.append(Probe(f"test_backpropagate-{number}", "test_backpropagate", "backprop",
                            "backpropagate", graph,
                            "backpropagate on a graph where a tensor is used twice, with "
                            "gradients left from an earlier pass"))
    network_rng = np.random.default_rng(derive(7505))
    for number, (n, d, h) in enumerate([(6, 2, 3), (9, 3, 4)]):
        parameters = {"W1": (d, h), "b1": (h,), "W2": (h, 1), "b2": (1,)}
        probes.append(Probe(
            f"test_two_layer_loss-{number}", "test_two_layer_loss", "network",
            "two_layer_loss",
            {"X": _data(network_rng.normal(size=(n, d))),
             "y": _data(network_rng.random(size=n)),
             "params": {k: _data(network_rng.normal(size=s)) for k, s in parameters.items()}},
            f"two_layer_loss on {n} rows of {d} features, {h} hidden units"))
    rng = np.random.default_rng(derive(7503))
    shapes = {"W1": (2, 3), "b1": (3,), "W2": (3, 1)}
    probes.append(Probe("test_sgd_step-7503", "test_sgd_step", "tensor_sgd", "sgd_step",
                        {"names": list(shapes),
                         "values": [_data(rng.normal(size=s)) for s in shapes.values()],
                         "gradients": [_data(rng.normal(size=s)) for s in shapes.values()],
                         "learning_rate": 0.05},
                        "sgd_step with learning rate 0.05"))
    return probes


def _digits_plan(derive: Callable[[int], int]) -> list[Probe]:
    rng = np.random.default_rng(derive(7401))
    probes = []
    for number, sizes in enumerate([(64, 32, 10), (5, 4, 3), (20, 80, 3)]):
        n_in, hidden, classes = sizes
        weights = [_data(rng.normal(size=s)) for s in
                   ((n_in, hidden), (hidden,), (hidden, classes), (classes,))]
        probes.append(Probe(f"test_build_network-{number}", "test_build_network", "build",
                            "build_network", {"sizes": list(sizes), "seed": number,
                                              "weights": weights,
                                              "X": _data(rng.normal(size=(6, n_in)))},
                            f"build_network{sizes}"))
    for number, sizes in enumerate([(4, 5, 3), (64, 16, 10)]):
        n_in, hidden, classes = sizes
        weights = [_data(rng.normal(size=s)) for s in
                   ((n_in, hidden), (hidden,), (hidden, classes), (classes,))]
        probes.append(Probe(f"test_predict-{number}", "test_predict", "predict", "predict",
                            {"sizes": list(sizes), "weights": weights,
                             "X": _data(rng.normal(size=(9, n_in)) * 2)},
                            f"predict on a {n_in}-{hidden}-{classes} network"))
    images = rng.random(size=(30, 64))
    probes.append(Probe("test_train-0", "test_train", "train", "train",
                        {"sizes": [64, 5, 10], "seed": 4, "X": _data(images),
                         "y": rng.integers(0, 10, size=30).tolist(), "epochs": 3,
                         "learning_rate": 0.5},
                        "train with one batch per epoch on 30 images"))
    probes.append(Probe("test_train-1", "test_train", "train", "train",
                        {"sizes": [64, 5, 10], "seed": 5, "X": _data(rng.random(size=(30, 64))),
                         "y": rng.integers(0, 10, size=30).tolist(), "epochs": 2,
                         "batch_size": 10, "learning_rate": 1e-5},
                        "train with 3 batches of 10 per epoch, 2 epochs"))
    return probes


PLANS: dict[str, Callable[[Callable[[int], int]], list[Probe]]] = {
    "01_graphs": _graphs_plan, "02_layers": _layers_plan, "03_losses": _losses_plan,
    "04_training": _training_plan, "05_digits": _digits_plan, "06_autograd": _autograd_plan}


def plan_for(assignment: str, derive: Callable[[int], int] | None = None) -> list[Probe]:
    """The probes of an assignment (none for assignments without a plan).

    ``derive`` turns each of the plan's seeds into the one used: the judge's
    comes from a secret students never see (``autograder.judge.secret``);
    without one, the public seeds written here are used (tests, demos).
    """
    return PLANS[assignment](derive or (lambda seed: seed)) if assignment in PLANS else []


def _shortcut_graph(rng: np.random.Generator) -> dict:
    """A long chain of Adds and one node that also takes the first input directly: met
    early by a walk from the inputs, but ready only after the whole chain."""
    names = [str(c) for c in rng.permutation(list("abcdefghijkmnpqrstuvwxyz"))[:8]]
    first, second, *chain = names
    adds, previous = [], first
    for name in chain[:-1]:
        adds.append([name, [previous, second]])
        previous = name
    adds.append([chain[-1], [first, previous]])
    return {"inputs": {first: float(np.round(rng.normal(), 2)),
                       second: float(np.round(rng.normal(), 2))}, "adds": adds}


def _random_add_graph(rng: np.random.Generator, inputs: int, adds: int) -> dict:
    """A random graph of Input and Add nodes, with one node used twice by another."""
    letters = [str(c) for c in rng.permutation(list("abcdefghijkmnpqrstuvwxyz"))]
    names = letters[:inputs + adds]
    graph: dict[str, Any] = {"inputs": {n: float(np.round(rng.normal(), 2))
                                        for n in names[:inputs]}, "adds": []}
    for position, name in enumerate(names[inputs:], start=inputs):
        earlier = names[:position]
        sources = [str(s) for s in rng.choice(earlier, size=min(2, len(earlier)), replace=False)]
        if position == inputs + 1:
            sources.append(sources[0])  # the same input twice
        graph["adds"].append([name, sources])
    return graph


# --- judging ---------------------------------------------------------------------------

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


def parse_answers(output: str) -> dict[str, dict]:
    """Every answer line of a probe run's output, strictly parsed, by probe id.

    Student code can print lines that look like answers too; the last line
    for an id wins, and a line that is not plain JSON counts as no answer.
    """
    answers: dict[str, dict] = {}
    for line in output.splitlines():
        if not line.startswith(MARK) or len(line) > MAX_ANSWER:
            continue
        try:
            answer = plain_value(json.loads(line[len(MARK):], parse_constant=json_constant))
        except (ValueError, RecursionError):
            continue
        if isinstance(answer, dict) and isinstance(answer.get("id"), str):
            answers[answer["id"]] = answer
    return answers


def _close(got: Any, want: Any, shape: list[int] | None, what: str) -> str | None:
    try:
        got_array = np.array(got, dtype=float)
    except (TypeError, ValueError):
        return f"{what} is not an array of numbers"
    want_array = np.array(want, dtype=float)
    if shape is not None and list(got_array.shape) != list(shape):
        return f"{what} has the wrong shape"
    if got_array.shape != want_array.shape:
        return (f"{what} has shape {got_array.shape}, expected {want_array.shape}")
    if not np.allclose(got_array, want_array, rtol=RTOL, atol=ATOL, equal_nan=False):
        worst = np.unravel_index(np.argmax(np.abs(got_array - want_array)),
                                 got_array.shape) if got_array.size else ()
        index = tuple(int(i) for i in worst)
        return (f"{what} differs from the reference at element {index}: expected "
                f"{want_array[worst]:.6g}, got {got_array[worst]:.6g}")
    return None


def _close_all(got: Any, want: list, what: str, missing: str) -> str | None:
    """Each of a list of answers against the reference's, in order."""
    if not isinstance(got, list) or len(got) != len(want):
        return missing.format(len(want))
    for i, (g, w) in enumerate(zip(got, want)):
        problem = _close(g, w, None, what.format(i))
        if problem:
            return problem
    return None


def compare(probe: Probe, got: dict, want: dict) -> str | None:
    """What is wrong with the answer ``got`` to ``probe`` (reference ``want``); None: right."""
    if probe.kind == "fit":
        return _check_accuracy(probe.secret or {}, got)
    if probe.kind == "predict":
        if got.get("weights_kept") is not True:
            return "predicting changed the network's weights: predict only runs forward"
        if got.get("integers") is not True:
            return "the labels are not integers (an integer array, as np.argmax gives)"
        if got.get("labels_shape") != want["labels_shape"]:
            return (f"it returned shape {got.get('labels_shape')}, expected one label per "
                    f"image, {want['labels_shape']}")
        return _close(got.get("labels"), want["labels"], None, "the predicted labels")
    if probe.kind == "train":
        return _check_train(probe.spec, got, want)
    if probe.kind == "build":
        return _check_network(got, want)
    if probe.kind == "tensor" and "gradients" not in want and want.get("records_parents") \
            and got.get("records_parents") is not True:  # forward probes only
        return "the result does not record the tensors it was computed from in _parents"
    if probe.kind in ("node", "tensor"):
        if "gradients" not in want:  # a forward probe: the value is what it checks
            return _close(got.get("value"), want["value"], got.get("value_shape"),
                          "the value")
        # A backward probe judges the gradients only (backward started from the
        # reference value): one mistake costs one exercise.
        gradients = got.get("gradients")
        if not isinstance(gradients, list) or len(gradients) != len(want["gradients"]):
            return "the gradients are missing"
        shapes = got.get("gradient_shapes") or [None] * len(gradients)
        for i, (g, w) in enumerate(zip(gradients, want["gradients"])):
            problem = _close(g, w, shapes[i] if i < len(shapes) else None,
                             f"the gradient for input {probe.spec['gradients_of'][i]}")
            if problem:
                return problem
        return None
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
            return "the gradients are missing"
        for name, expected in want["gradients"].items():
            problem = _close(gradients.get(name), expected, None, f"{name}.grad")
            if problem:
                return problem
        return None
    if probe.kind == "epoch":
        return _check_epoch(probe.spec, got)
    if probe.kind in ("sgd", "tensor_sgd"):
        return _close_all(got.get("values"), want["values"], "trainable {} after the step",
                          "the values of the {} trainables are missing")
    return f"unknown probe kind {probe.kind}"


def _check_train(spec: dict, got: dict, want: dict) -> str | None:
    """One batch per epoch: exactly gradient descent. Several: with a learning rate so
    small that the order of the rows hardly matters, the weights move by one step per
    batch and each epoch's loss is the mean of its batches'."""
    n, epochs = len(spec["y"]), spec["epochs"]
    size = spec.get("batch_size") or n
    history = got.get("history")
    if not isinstance(history, list) or len(history) != epochs:
        count = len(history) if isinstance(history, list) else 0
        return (f"it returned {count} losses for {epochs} epochs: one per epoch, the mean of "
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
        return "the trainables are missing"
    for i, (g, w, s) in enumerate(zip(values, want["values"], want["start"])):
        moved, expected = np.array(g, dtype=float) - s, np.array(w, dtype=float) - s
        if moved.shape != expected.shape or not np.allclose(moved, expected, rtol=2e-3,
                                                            atol=1e-12):
            steps = n // size + (1 if n % size else 0)
            return (f"trainable {i} moved {float(np.abs(moved).sum()):.3g} in all, where "
                    f"{epochs} epochs of {steps} batches ({epochs * steps} steps of "
                    f"sgd_update) move it {float(np.abs(expected).sum()):.3g}")
    return None


def _check_network(got: dict, want: dict) -> str | None:
    if got.get("shapes") != want["shapes"]:
        return f"the weights have shapes {got.get('shapes')}, expected {want['shapes']}"
    if got.get("same_seed_same_start") is not True:
        return ("two networks built with the same seed started with different weights: draw "
                "them from a generator made from the seed it is given")
    start = got.get("start")
    if not isinstance(start, list) or len(start) != 4:
        return "the starting weights are missing"
    for (_mean, spread, largest), name, shape in zip(start, ("W1", "b1", "W2", "b2"),
                                                     want["shapes"]):
        if len(shape) == 1:
            if largest != 0:
                return f"{name} does not start at zero"
            continue
        fan_in = shape[0]
        if shape[0] * shape[1] >= 100 and not (
                (1 / fan_in ** 0.5) / 3 <= spread <= 3 / fan_in ** 0.5):
            return (f"{name} starts with standard deviation {spread:.3g}, far from "
                    f"1/sqrt({fan_in})")
    return _close(got.get("value"), want["value"], got.get("value_shape"),
                  "the logits for given weights")


def _check_epoch(spec: dict, got: dict) -> str | None:
    """The batches an epoch fed: each row once, full batches but the last, shuffled;
    and replaying them with miniflow's SGD must give the same weights and loss."""
    from miniflow.graph import forward_and_backward, topological_sort
    from miniflow.nodes import MSE, Input, Linear
    from miniflow.training import sgd_update

    batches = got.get("batches")
    if not isinstance(batches, list) or not all(isinstance(b, list) for b in batches):
        return "the batches it fed are missing"
    X = np.array(spec["X"]["data"], dtype=float).reshape(spec["X"]["shape"])
    y = np.array(spec["y"]["data"], dtype=float).reshape(spec["y"]["shape"])
    n, size = len(X), spec["batch_size"]
    rows = [int(r) for batch in batches for r in batch]
    if sorted(rows) != list(range(n)):
        return f"one epoch over {n} rows in batches of {size} must use every row exactly once"
    sizes = [len(batch) for batch in batches]
    expected = [size] * (n // size) + ([n % size] if n % size else [])
    if sizes != expected:
        return f"batches of sizes {sizes}, expected {expected}"
    if len(batches) > 1 and rows == list(range(n)):
        return "the rows came in their original order: shuffle them each epoch"
    if got.get("batches_again") != batches:
        return (f"called twice with seed={spec['seed']}, it fed the rows in different orders: "
                "take the order from the seed it is given, not from numpy's global generator")
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


def _check_accuracy(secret: dict, got: dict) -> str | None:
    labels = got.get("labels")
    truth = np.asarray(secret.get("labels", []), dtype=float)
    try:
        predicted = np.asarray(labels, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return "the predictions are not a list of labels"
    if predicted.shape != truth.shape:
        return f"{predicted.size} predictions for {truth.size} points"
    accuracy = float(np.mean(predicted == truth))
    if accuracy < secret.get("at_least", 1.0):
        return (f"{accuracy:.1%} of the points were classified correctly; at least "
                f"{secret['at_least']:.0%} is needed")
    return None


def _check_tensor_order(spec: dict, got: dict) -> str | None:
    order = got.get("order")
    names = list(spec["leaves"]) + [name for name, _, _ in spec["operations"]]
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(names):
        return f"the order {order} does not hold every tensor exactly once ({names})"
    position = {name: i for i, name in enumerate(order)}
    for name, _, operands in spec["operations"]:
        for operand in operands:
            if position[operand] > position[name]:
                return f"{name} comes before the tensor {operand} it was computed from"
    if order[-1] != spec["output"]:
        return f"the output {spec['output']} is not last"
    return None


def _check_order(spec: dict, got: dict) -> str | None:
    order = got.get("order")
    names = list(spec["inputs"]) + [name for name, _ in spec["adds"]]
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(names):
        return f"the order {order} does not hold every node exactly once ({names})"
    position = {name: i for i, name in enumerate(order)}
    for name, sources in spec["adds"]:
        for source in sources:
            if position[source] > position[name]:
                return f"{name} comes before its input {source}"
    values = got.get("values") or {}
    for name, value in spec["inputs"].items():
        if values.get(name) != value:
            return f"the input {name} did not get its value from feed_dict"
    return None


def judge(probes: list[Probe], outputs: dict[str, str]) -> dict[str, str | None]:
    """test cell -> None when every probe of it passed, else what went wrong.

    ``outputs`` maps each test cell to what the kernel printed (and raised)
    while its probes ran.
    """
    verdict: dict[str, str | None] = {}
    parsed = {test: parse_answers(text) for test, text in outputs.items()}
    for probe in probes:
        if verdict.get(probe.test):
            continue  # one failure per test cell is enough
        if probe.test not in outputs:
            verdict[probe.test] = f"{probe.describe}: the check could not run"
            continue
        got = parsed[probe.test].get(probe.id)
        if got is None:
            verdict[probe.test] = f"{probe.describe}: the code under test gave no answer"
        elif "error" in got:
            verdict[probe.test] = f"{probe.describe}: raised {got['error']}"
        else:
            problem = compare(probe, got, probe.reference())
            verdict[probe.test] = f"{probe.describe}: {problem}" if problem else None
    return verdict
