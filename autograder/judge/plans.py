"""The plans: what the judge asks each test cell's code, declared once.

A plan is an assignment's list of questions (``Probe``): for each graded test
cell, which class or function of the notebook is asked, by which runner
(``autograder.judge.runners``), on which inputs. The inputs are drawn from
public seeds, each turned by ``derive`` into the seed used: the judge's come
from the course's secret (``autograder.judge.secret``), so no student can
compute them at home; without one, the public seeds are used (the visible
tests, ``autograder.checks.judged``; tests; demos).

Beside the plans: which of the grader's versions of earlier exercises each
test builds on (``TEST_USES``), and what the judge's copy of miniflow leaves
out per assignment (``HIDDEN``, ``autograder.judge.library``). The expected
answers are miniflow's (``autograder.judge.references``); how an answer is
judged is ``autograder.judge.compare``.

A probe may name the checks its answer feeds (``Probe.checks``): the
gradient for each input (``X``, ``W``, ``b`` of ``Linear``), or the probe as a
whole (``three_inputs``). The judge records each check's outcome with the
verdict, and the course manifest says which of a test cell's objectives each
check isolates (its ``checks`` table), so that the class report does not count
a transposed weight gradient against "the bias sums over the batch".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.judge.references import reference_for, reference_network
from autograder.judge.runners import RUNNERS, grader_version, run_node, run_sgd, run_tensor

__all__ = ["HIDDEN", "PLANS", "TEST_USES", "Probe", "checks_for", "plan_for"]

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


@dataclass(frozen=True)
class Probe:
    """One question for the student's code, backing one test cell."""

    id: str
    test: str        # grade id of the test cell it backs
    kind: str        # the runner that asks it (autograder.judge.runners.RUNNERS)
    name: str        # the class or function under test, as named in the notebook
    spec: dict       # the inputs (JSON-able), sent to the judge
    describe: str    # what it checks, in words for the student
    secret: dict | None = None  # what only the grader knows (labels to score against)
    #: the checks its answer feeds: one name for the whole answer, or, for a backward
    #: node probe, one per gradient (in ``spec["gradients_of"]``'s order; "" for a
    #: gradient it feeds to none); () for none
    checks: tuple[str, ...] = ()
    #: asked only after its test has failed, to settle the checks: it never decides
    #: the verdict, and the visible tests do not ask it
    follow_up: bool = False

    def reference(self) -> dict:
        """What miniflow's own code answers, computed in the grader, never in the judge."""
        import miniflow

        if self.kind in ("fit", "epoch"):
            return {}  # judged on what only the grader knows, or by replaying the answer
        if self.kind == "network":
            return reference_network(self.spec)
        if self.kind == "tensor_sgd":
            return run_sgd(miniflow.sgd_update, self.spec)  # the same step, on nodes
        return RUNNERS[self.kind](reference_for(self.name, miniflow), self.spec)


# --- the plans: seeded inputs per test cell --------------------------------------------

def _data(array: np.ndarray, dtype: str = "float64") -> dict:
    return {"data": np.asarray(array).tolist(), "dtype": dtype, "shape": list(np.shape(array))}


def _node_probes(test: str, name: str, shapes_list: list[list[tuple[int, ...]]], *,
                 seed: int, backward: bool, wiring: list[int] | None = None,
                 loss: bool = False, labels: bool = False, scale: float = 1.0,
                 gradients_of: list[int] | None = None, zero: bool = False,
                 checks: list[tuple[str, ...]] | None = None, consumers: int = 2,
                 follow_up: bool = False) -> list[Probe]:
    """Forward (or backward) probes of a node on random inputs of each shape list
    (``checks``: for each shape list, the checks its probe feeds, ``Probe.checks``)."""
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
            reference = run_node(getattr(miniflow, name), spec)
            value = np.asarray(reference["value"], dtype=float)
            spec["reference"] = _data(value)
            spec["upstreams"] = [] if loss else [_data(rng.normal(size=value.shape))
                                                 for _ in range(consumers)]
            spec["gradients_of"] = gradients_of if gradients_of is not None else \
                sorted(set(spec["wiring"]))
        what = "backward" if backward else "forward"
        probes.append(Probe(f"{test}-{seed}-{number}", test, "node", name, spec,
                            f"{name} {what} on inputs of shapes {shapes}"
                            + (" with large inputs" if scale > 1 else "")
                            + (" (the same input twice)" if wiring else "")
                            + (" with two consumers" if backward and not loss
                               and consumers == 2 else ""),
                            checks=checks[number] if checks else (), follow_up=follow_up))
    return probes


def _graphs_plan(derive: Callable[[int], int]) -> list[Probe]:
    rng = np.random.default_rng(derive(7001))
    probes = [Probe(f"test_chain_rule-{n}", "test_chain_rule", "function",
                    "chain_rule_gradients",
                    {"arguments": [float(v) for v in rng.normal(size=4)]},
                    "chain_rule_gradients on random numbers") for n in range(3)]
    # Checks: two inputs (a node's value and gradients, from and to its inbound nodes),
    # three (the n-ary product), broadcast shapes, an input of zero, the same input twice.
    probes += _node_probes("test_mul_forward", "Mul", [[(3, 2), (3, 2)], [(4,), (4,), (4,)],
                                                       [(2, 3), (3,)]], seed=derive(7002),
                           backward=False,
                           checks=[("two_inputs",), ("three_inputs",), ("broadcast",)])
    probes += _node_probes("test_mul_backward", "Mul", [[(3, 2), (3, 2)], [(2, 3), (3,)],
                                                        [(5,), (5,), (5,)]], seed=derive(7003),
                           backward=True,
                           checks=[("two_inputs",), ("broadcast",), ("three_inputs",)])
    probes += _node_probes("test_mul_backward", "Mul", [[(4,), (4,)], [(2, 3), (2, 3), (2, 3)]],
                           seed=derive(7006), backward=True, zero=True,
                           checks=[("zero_input",)] * 2)
    probes += _node_probes("test_mul_backward", "Mul", [[(3,)]], seed=derive(7004), backward=True,
                           wiring=[0, 0], checks=[("same_input_twice",)])
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
    # Checks: the gradient for each input, X, W and b; and b_sum, the bias gradient's sum
    # over a batch apart from the rest, asked once the test has failed: with one
    # consumer (= for += loses nothing) and square shapes (a transposed dX or dW raises
    # nothing, so the bias gradient is reached).
    probes += _node_probes("test_linear_backward", "Linear", shapes, seed=derive(7102),
                           backward=True, checks=[("X", "W", "b")] * len(shapes))
    probes += _node_probes("test_linear_backward", "Linear", [[(3, 3), (3, 3), (3,)]],
                           seed=derive(7106), backward=True, checks=[("X", "W", "b_sum")],
                           consumers=1, follow_up=True)
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
            value = np.asarray(run_tensor(grader_version("Tensor"), spec)["value"])
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


def checks_for(assignment: str) -> dict[str, tuple[str, ...]]:
    """Test cell -> the names of the checks its probes feed, in order (only the cells
    whose probes name checks)."""
    found: dict[str, dict[str, None]] = {}
    for probe in plan_for(assignment):
        if probe.checks:
            found.setdefault(probe.test, {}).update(dict.fromkeys(c for c in probe.checks if c))
    return {test: tuple(names) for test, names in found.items()}


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

