"""The runners: how one question is put to the student's code, wherever it is asked.

A runner feeds a class or function of the notebook the inputs of one question
(a plan's ``spec``, plain data: ``autograder.judge.plans``) and answers what
came out as plain numbers, lists and strings. The same runners run in three
places:

- in the judge (``autograder.judge.child``), on the notebook's definitions:
  ``autograder.judge.run.judge_program`` ships the runners a plan needs as
  source text (``shippable``), after the ``HELPERS``; there ``grader_version``
  is the child's own, which hands out the grader's versions it was sent;
- in the grader, on miniflow's reference, for the expected answer
  (``autograder.judge.plans.Probe.reference``);
- in the student's kernel, for the visible tests (``autograder.checks.judged``).

So they import what they need themselves, use only numpy and miniflow, and
call nothing of this module but the ``HELPERS`` and ``grader_version``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["GRADER_VERSIONS", "HELPERS", "RUNNERS", "grader_version", "run_node", "run_sgd",
           "run_tensor", "shippable", "tensor_graph"]


def run_node(make: Any, spec: dict) -> dict:
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


def run_function(function: Any, spec: dict) -> dict:
    """Call ``function(*arguments)``; every result becomes an array of floats."""
    import numpy as np

    arguments = [np.array(a["data"], dtype=a["dtype"]).reshape(a["shape"])
                 if isinstance(a, dict) else a for a in spec["arguments"]]
    result = function(*arguments)
    results = list(result) if isinstance(result, (tuple, list)) else [result]
    arrays = [np.asarray(r, dtype=float) for r in results]
    return {"results": [a.tolist() for a in arrays], "shapes": [list(a.shape) for a in arrays]}


def run_sort(sort: Any, spec: dict) -> dict:
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


def run_sgd(update: Any, spec: dict) -> dict:
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


def run_fit(fit: Any, spec: dict) -> dict:
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
            space[name] = grader_version(name)
        predict, _ = fit(np.array(spec["X"], dtype=float), np.array(spec["y"], dtype=int),
                         seed=spec["seed"])
        labels = np.asarray(predict(np.array(spec["X_eval"], dtype=float)))
    finally:
        space.update(saved)
    return {"labels": labels.reshape(-1).astype(float).tolist()}


def run_tensor(make: Any, spec: dict) -> dict:
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


def run_tensor_sgd(step: Any, spec: dict) -> dict:
    """Tensors with data and grad, one step, their data after it."""
    import numpy as np

    make = grader_version("Tensor")  # a slip in the student's Tensor costs only its own test
    params = {}
    for name, value, gradient in zip(spec["names"], spec["values"], spec["gradients"]):
        params[name] = make(np.array(value["data"], dtype=float).reshape(value["shape"]))
        params[name].grad = np.array(gradient["data"], dtype=float).reshape(gradient["shape"])
    step(params, spec["learning_rate"])
    return {"values": [np.asarray(params[n].data, dtype=float).tolist()
                       for n in spec["names"]]}


def tensor_graph(make: Any, spec: dict) -> dict:
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


def run_backprop(backpropagate: Any, spec: dict) -> dict:
    """The student's backpropagate over a graph of the grader's own tensors.

    Its ``topological_order`` is the grader's for the call, so a mistake in
    one exercise is not blamed on the other.
    """
    import numpy as np

    space = getattr(backpropagate, "__globals__", {})
    saved = space.get("topological_order")
    space["topological_order"] = grader_version("topological_order")
    try:
        tensors = tensor_graph(grader_version("Tensor"), spec)
        for tensor in tensors.values():  # gradients left from an earlier pass
            tensor.grad = np.ones(np.shape(tensor.data))
        backpropagate(tensors[spec["output"]])
    finally:
        space["topological_order"] = saved
    return {"gradients": {name: np.asarray(tensors[name].grad, dtype=float).tolist()
                          for name in spec["leaves"]}}


def run_order(order: Any, spec: dict) -> dict:
    """The student's topological_order over a graph of the grader's own tensors."""
    tensors = tensor_graph(grader_version("Tensor"), spec)
    names = {id(tensor): name for name, tensor in tensors.items()}
    return {"order": [names.get(id(t), "?") for t in order(tensors[spec["output"]])]}


def run_build(build: Any, spec: dict) -> dict:
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


def run_predict(predict: Any, spec: dict) -> dict:
    """The grader's network with given weights (and a stale batch left in it)."""
    import numpy as np

    network = grader_version("build_two_layer_network")(*spec["sizes"], seed=0)
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
            "labels_kept": network.labels.value is None,
            "weights_kept": all(a.shape == g.shape and np.array_equal(a, g)
                                for a, g in zip(after, given))}


def run_train(train: Any, spec: dict) -> dict:
    """``train`` on the grader's network, one batch per epoch: plain gradient descent."""
    import numpy as np

    network = grader_version("build_two_layer_network")(*spec["sizes"], seed=spec["seed"])
    start = [np.asarray(n.value, dtype=float).tolist() for n in network.trainables]
    images = np.array(spec["X"]["data"], dtype=float).reshape(spec["X"]["shape"])
    labels = np.array(spec["y"], dtype=int)
    history = train(network, images, labels, spec["epochs"],
                    spec.get("batch_size") or len(labels), spec["learning_rate"])
    history = np.asarray(history, dtype=float).reshape(-1)
    return {"values": [np.asarray(n.value, dtype=float).tolist() for n in network.trainables],
            "history": history.tolist(), "start": start}


def run_epoch(train_epoch: Any, spec: dict) -> dict:
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
    space["sgd_update"] = grader_version("sgd_update")
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


def run_network(loss_of: Any, spec: dict) -> dict:
    """The student's two-layer loss on the grader's tensors, differentiated by the
    grader's backpropagation: a slip in ``Tensor`` or ``backpropagate`` costs
    only their own tests, never this one."""
    import numpy as np

    make = grader_version("Tensor")

    def array(spec: dict) -> Any:
        return np.array(spec["data"], dtype=float).reshape(spec["shape"])

    space = getattr(loss_of, "__globals__", {})
    saved = space.get("Tensor")
    space["Tensor"] = make
    try:
        params = {name: make(array(value)) for name, value in spec["params"].items()}
        loss = loss_of(array(spec["X"]), array(spec["y"]), params)
        grader_version("backpropagate")(loss)
    finally:
        space["Tensor"] = saved
    return {"value": float(np.asarray(loss.data, dtype=float).reshape(())),
            "gradients": {name: np.asarray(t.grad, dtype=float).tolist()
                          for name, t in params.items()}}


RUNNERS: dict[str, Callable[[Any, dict], dict]] = {
    "node": run_node, "function": run_function, "sort": run_sort, "sgd": run_sgd,
    "fit": run_fit, "tensor": run_tensor, "tensor_sgd": run_tensor_sgd,
    "backprop": run_backprop, "order": run_order, "build": run_build,
    "predict": run_predict, "train": run_train, "epoch": run_epoch,
    "network": run_network}
# Shipped with every runner (generic helpers, no exercise's answer in them).
HELPERS = ["tensor_graph"]

# The grader's versions of exercises that later tests build on: the name a
# runner asks ``grader_version`` for -> (miniflow module, attribute). A test that uses
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


def grader_version(name: str) -> Any:
    """The grader's version of an earlier exercise (``GRADER_VERSIONS``), in this process.

    In the judge, the runners call the child's function of this name instead, which
    hands out the versions the grader sent it (``autograder.judge.child``).
    """
    import importlib

    module, attribute = GRADER_VERSIONS[name]
    return getattr(importlib.import_module(module), attribute)


@functools.cache
def shippable(helper: Any) -> str:
    """A helper's source without annotations (the judge's program has no ``typing`` names).

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
