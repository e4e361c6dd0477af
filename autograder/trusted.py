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
the static review (``autograder.review``) catches and names.

``grade`` takes, per test cell, the lower of nbgrader's verdict and this
one, with a note when they disagree. Probes exist for the exercises of
``PLANS``; the other test cells keep nbgrader's verdict alone.

The helpers ``_run_*`` run twice: in the parent on miniflow's reference, and,
shipped as source text, inside the student's kernel on the student's code.
So they import what they need themselves and use only numpy and miniflow's
``Input``/``Add``.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MARK", "PLANS", "Probe", "judge", "kernel_code", "parse_answers", "plan_for"]

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


RUNNERS: dict[str, Callable[[Any, dict], dict]] = {
    "node": _run_node, "function": _run_function, "sort": _run_sort, "sgd": _run_sgd}


@dataclass(frozen=True)
class Probe:
    """One question for the student's code, backing one test cell."""

    id: str
    test: str        # grade id of the test cell it backs
    kind: str        # node, function, sort or sgd
    name: str        # the class or function under test, as named in the notebook
    spec: dict       # the inputs (JSON-able)
    describe: str    # what it checks, in words for the student

    def reference(self) -> dict:
        """What miniflow's own code answers, computed here, never in the kernel."""
        import miniflow

        return RUNNERS[self.kind](_reference(self.name, miniflow), self.spec)


def _shippable(function: Callable) -> str:
    """A helper's source without annotations (the kernel has no ``typing`` names)."""
    import ast

    tree = ast.parse(inspect.getsource(function))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            node.returns = None
            for argument in [*node.args.args, *node.args.kwonlyargs]:
                argument.annotation = None
    return ast.unparse(tree)


def kernel_code(probes: list[Probe]) -> str:
    """One program that runs ``probes`` (of one test cell) and prints one line each."""
    runners = sorted({probe.kind for probe in probes})
    questions = [{"id": p.id, "kind": p.kind, "name": p.name, "spec": p.spec} for p in probes]
    return "\n".join([
        *(_shippable(RUNNERS[kind]) for kind in runners),
        "def __miniflow_probes():",
        "    import json",
        f"    runners = {{{', '.join(f'{k!r}: {RUNNERS[k].__name__}' for k in runners)}}}",
        f"    for question in json.loads({json.dumps(json.dumps(questions))}):",
        "        try:",
        "            answer = runners[question['kind']](globals()[question['name']],",
        "                                               question['spec'])",
        "        except BaseException as error:",
        "            answer = {'error': f'{type(error).__name__}: {error}'[:500]}",
        "        answer['id'] = question['id']",
        f"        print({MARK!r} + json.dumps(answer))",
        "__miniflow_probes()",
        f"del __miniflow_probes, {', '.join(RUNNERS[k].__name__ for k in runners)}",
    ])


def _reference(name: str, miniflow: Any) -> Any:
    from miniflow import graph, nodes, training

    if name == "chain_rule_gradients":
        return lambda x, y, z, g: (g * (y + z), g * x, g * x)
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
                 gradients_of: list[int] | None = None) -> list[Probe]:
    """Forward (or backward) probes of a node on random inputs of each shape list."""
    import miniflow

    probes = []
    rng = np.random.default_rng(seed)
    for number, shapes in enumerate(shapes_list):
        values = [rng.normal(size=shape) * scale for shape in shapes]
        if labels:  # the last input holds class labels for the first one's columns
            values[-1] = rng.integers(0, shapes[0][1], size=shapes[-1])
        spec: dict[str, Any] = {
            "values": [_data(v, "int64" if labels and i == len(values) - 1 else "float64")
                       for i, v in enumerate(values)],
            "wiring": wiring if wiring is not None else list(range(len(values)))}
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
                            + (" (the same input twice)" if wiring else "")
                            + (" with two consumers" if backward and not loss else "")))
    return probes


def _graphs_plan() -> list[Probe]:
    rng = np.random.default_rng(7001)
    probes = [Probe(f"test_chain_rule-{n}", "test_chain_rule", "function",
                    "chain_rule_gradients",
                    {"arguments": [float(v) for v in rng.normal(size=4)]},
                    "chain_rule_gradients on random numbers") for n in range(3)]
    probes += _node_probes("test_mul_forward", "Mul", [[(3, 2), (3, 2)], [(4,), (4,), (4,)],
                                                       [(2, 3), (3,)]], seed=7002,
                           backward=False)
    probes += _node_probes("test_mul_backward", "Mul", [[(3, 2), (3, 2)], [(2, 3), (3,)],
                                                        [(5,), (5,), (5,)]], seed=7003,
                           backward=True)
    probes += _node_probes("test_mul_backward", "Mul", [[(3,)]], seed=7004, backward=True,
                           wiring=[0, 0])
    graphs = [
        {"inputs": {"a": 1.5, "b": -2.0, "c": 0.5},
         "adds": [["s", ["a", "b"]], ["t", ["s", "c"]], ["u", ["t", "a"]], ["v", ["u", "u"]]]},
        {"inputs": {"p": 3.0, "q": 1.0},
         "adds": [["r", ["q", "p"]], ["w", ["r", "r", "p"]], ["z", ["w", "q", "r"]]]},
    ]
    probes += [Probe(f"test_topological_sort-{n}", "test_topological_sort", "sort",
                     "topological_sort", graph,
                     "topological_sort on a graph where a node uses the same input twice")
               for n, graph in enumerate(graphs)]
    return probes


def _layers_plan() -> list[Probe]:
    shapes = [[(4, 3), (3, 2), (2,)], [(1, 5), (5, 4), (4,)], [(6, 2), (2, 1), (1,)]]
    probes = _node_probes("test_linear_forward", "Linear", shapes, seed=7101, backward=False)
    probes += _node_probes("test_linear_backward", "Linear", shapes, seed=7102,
                           backward=True)
    probes += _node_probes("test_sigmoid_forward", "Sigmoid", [[(4, 3)], [(7,)]], seed=7103,
                           backward=False)
    probes += _node_probes("test_sigmoid_forward", "Sigmoid", [[(2, 5)]], seed=7104,
                           backward=False, scale=800.0)
    probes += _node_probes("test_sigmoid_backward", "Sigmoid", [[(4, 3)], [(6,)]], seed=7105,
                           backward=True)
    return probes


def _losses_plan() -> list[Probe]:
    probes = _node_probes("test_mse_forward", "MSE", [[(5,), (5, 1)], [(3, 2), (3, 2)]],
                          seed=7201, backward=False)
    probes += _node_probes("test_mse_backward", "MSE", [[(4, 1), (4,)], [(6,), (6,)]],
                           seed=7202, backward=True, loss=True)
    probes += _node_probes("test_cross_entropy_forward", "CrossEntropyWithSoftmax",
                           [[(4, 3), (4,)], [(6, 5), (6,)]], seed=7203, backward=False,
                           labels=True)
    probes += _node_probes("test_cross_entropy_forward", "CrossEntropyWithSoftmax",
                           [[(3, 4), (3,)]], seed=7204, backward=False, labels=True,
                           scale=500.0)
    probes += _node_probes("test_cross_entropy_backward", "CrossEntropyWithSoftmax",
                           [[(5, 3), (5,)], [(2, 4), (2,)]], seed=7205, backward=True,
                           loss=True, labels=True, gradients_of=[0])
    return probes


def _training_plan() -> list[Probe]:
    rng = np.random.default_rng(7301)
    probes = []
    for number, rate in enumerate((0.1, 0.01)):
        shapes = [(3, 2), (2,), (4,)]
        probes.append(Probe(f"test_sgd_update-{number}", "test_sgd_update", "sgd",
                            "sgd_update",
                            {"values": [_data(rng.normal(size=s)) for s in shapes],
                             "gradients": [_data(rng.normal(size=s)) for s in shapes],
                             "learning_rate": rate},
                            f"sgd_update with learning rate {rate}"))
    return probes


PLANS: dict[str, Callable[[], list[Probe]]] = {
    "01_graphs": _graphs_plan, "02_layers": _layers_plan, "03_losses": _losses_plan,
    "04_training": _training_plan}


def plan_for(assignment: str) -> list[Probe]:
    """The probes of an assignment (none for assignments without a plan)."""
    return PLANS[assignment]() if assignment in PLANS else []


# --- judging ---------------------------------------------------------------------------

def _constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _clean(value: Any, depth: int = 0) -> Any:
    """Numbers, strings, lists and string-keyed dicts only; anything else is refused."""
    if depth > 12:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _clean(v, depth + 1) for k, v in value.items()}
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
            answer = _clean(json.loads(line[len(MARK):], parse_constant=_constant))
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


def _compare(probe: Probe, got: dict, want: dict) -> str | None:
    if probe.kind == "node":
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
        results = got.get("results")
        if not isinstance(results, list) or len(results) != len(want["results"]):
            return f"it returned {len(results) if isinstance(results, list) else 'no'} " \
                   f"values, expected {len(want['results'])}"
        for i, (g, w) in enumerate(zip(results, want["results"])):
            problem = _close(g, w, None, f"result {i}")
            if problem:
                return problem
        return None
    if probe.kind == "sort":
        return _check_order(probe.spec, got)
    if probe.kind == "sgd":
        values = got.get("values")
        if not isinstance(values, list) or len(values) != len(want["values"]):
            return "the trainables' values are missing"
        for i, (g, w) in enumerate(zip(values, want["values"])):
            problem = _close(g, w, None, f"trainable {i} after the step")
            if problem:
                return problem
        return None
    return f"unknown probe kind {probe.kind}"


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
            problem = _compare(probe, got, probe.reference())
            verdict[probe.test] = f"{probe.describe}: {problem}" if problem else None
    return verdict
