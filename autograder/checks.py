"""Checks that hidden test cells call, with messages a student can act on.

Every check compares the student's code with miniflow's reference on seeded
random inputs. A failure raises ``AssertionError`` whose message says which
node, which input, which element, expected vs got and the shapes (shape and
dtype are compared before values), and, where a mistake has a recognisable
signature, names the likely mistake.

Checks return None, never a number: nbgrader reads a test cell whose last
line shows a number as partial credit. Checks never trust objects the
student controls: values are converted with
``np.asarray(..., dtype=float)`` before comparing, never compared with the
student's own ``==``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import miniflow
from miniflow.graph import topological_sort
from miniflow.nodes import Add, DummyGrad, Input, Mul, Node

__all__ = [
    "defined_in_notebook",
    "diagnose",
    "assert_close",
    "check_forward",
    "check_backward",
    "check_fan_out",
    "check_repeated_input",
    "check_against_numerical",
    "check_topological_sort",
    "check_sgd_update",
    "check_accuracy",
    "random_inputs",
]

RTOL = 1e-6
ATOL = 1e-8


def _fail(message: str) -> None:
    # `raise ... from None`: the student sees our message, not our internals.
    raise AssertionError(message) from None


# -- where the code under test came from ------------------------------------


def defined_in_notebook(obj: Any, name: str | None = None) -> None:
    """The class or function under test must be the student's own.

    An ``import`` of miniflow's reference (``from miniflow import Linear``)
    would pass every check without teaching anything, so it scores zero.
    """
    name = name or getattr(obj, "__name__", repr(obj))
    module = getattr(obj, "__module__", "") or ""
    if module.split(".")[0] in {"miniflow", "autograder"}:
        _fail(
            f"`{name}` is miniflow's reference implementation (imported from {module}), "
            f"not yours. Write `{name}` yourself in the solution cell above, run that "
            "cell, then run this test again."
        )
    if obj is None or (inspect.isclass(obj) and not issubclass(obj, Node)
                       and name not in {"Tensor"}):
        _fail(f"`{name}` should be a subclass of miniflow's Node, got {obj!r}.")


# -- comparing arrays with an explanation -----------------------------------


def _as_float_array(value: Any, what: str) -> np.ndarray:
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(f"{what} should be a number or numpy array, got {type(value).__name__}: "
              f"{value!r:.200}")
        raise  # unreachable; keeps type checkers content


def diagnose(expected: np.ndarray, got: np.ndarray, *, batch_size: int | None = None) -> str:
    """The likely mistake behind ``got`` when ``expected`` was right, or ''."""
    if got.shape != expected.shape:
        if got.ndim == expected.ndim + 1 and got.shape[1:] == expected.shape:
            return ("it still has the batch dimension: a bias (or anything broadcast over the "
                    "batch) needs its gradient summed over the batch, e.g. .sum(axis=0).")
        if got.size == expected.size:
            return (f"the numbers may be right but the shape is not: reshape to "
                    f"{expected.shape} (a gradient always has the shape of its input).")
        return ""
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
        return ("it contains NaN or inf although the right answer is finite: for large "
                "inputs, compute it stably (for softmax, subtract each row's maximum "
                "before np.exp).")
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    if scale == 0:
        return ""

    def same(a: np.ndarray, b: np.ndarray) -> bool:
        return bool(np.allclose(a, b, rtol=1e-5, atol=1e-9 * max(scale, 1.0)))

    if same(got, -expected):
        return "it has the wrong sign: check the order of a subtraction or a minus sign."
    if same(got, 0.5 * expected):
        return ("it is exactly half of the right value: with two consumers, the second "
                "contribution overwrote the first. Accumulate with += over all outbound nodes.")
    if same(got, 2.0 * expected):
        return "it is exactly twice the right value: one contribution was counted twice."
    if batch_size and batch_size > 1:
        if same(got, batch_size * expected):
            return (f"it is {batch_size} (the batch size) times too large: divide by the "
                    "batch size (the loss is a mean, not a sum).")
        if same(got, expected / batch_size):
            return f"it is {batch_size} (the batch size) times too small: divided once too often."
    if same(got, np.zeros_like(expected)):
        return "it is all zeros: was the gradient computed and stored in self.gradients?"
    return ""


def assert_close(
    got: Any, expected: Any, *, what: str, batch_size: int | None = None,
    rtol: float = RTOL, atol: float = ATOL,
) -> None:
    """Shape, then finiteness, then values; the message names the worst element."""
    if got is None:
        _fail(f"{what}: got None, expected an array of shape {np.shape(expected)}.")
    got_array = _as_float_array(got, what)
    expected_array = np.asarray(expected, dtype=np.float64)
    hint = diagnose(expected_array, got_array, batch_size=batch_size)
    if got_array.shape != expected_array.shape:
        _fail(f"{what}: shape {got_array.shape}, expected {expected_array.shape}"
              + (f"; {hint}" if hint else "."))
    if np.allclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=False):
        return
    error = np.abs(got_array - expected_array)
    worst = np.unravel_index(int(np.nanargmax(np.where(np.isnan(error), np.inf, error))),
                             error.shape) if error.ndim else ()
    index = tuple(int(i) for i in worst)
    _fail(f"{what} is wrong at element {index}: expected {expected_array[worst]:.6g}, "
          f"got {got_array[worst]:.6g} (shape {expected_array.shape})."
          + (f" Likely mistake: {hint}" if hint else ""))


# -- random inputs -----------------------------------------------------------


def random_inputs(shapes: Sequence[tuple[int, ...]], seed: int, *, scale: float = 1.0
                  ) -> list[np.ndarray]:
    """Float64 normal arrays of the given shapes, from a fixed seed."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) * scale for shape in shapes]


def _build(cls: type, values: Sequence[Any], names: Sequence[str] | None
           ) -> tuple[list[Input], Node]:
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    inputs = [Input(n) for n in names]
    try:
        node = cls(*inputs)
    except Exception as error:  # the student's constructor
        _fail(f"{cls.__name__}({', '.join(names)}) raised {type(error).__name__}: {error}")
        raise
    return inputs, node


def _run(what: str, function: Callable[[], Any]) -> Any:
    try:
        return function()
    except AssertionError:
        raise
    except Exception as error:
        _fail(f"{what} raised {type(error).__name__}: {error}")


def _describe_inputs(names: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(f"{n}: shape {np.shape(v)}" for n, v in zip(names, values))


def check_forward(
    student: type, reference: type, values: Sequence[Any], *,
    names: Sequence[str] | None = None, batch_size: int | None = None,
) -> None:
    """``student(*inputs).forward()`` must give the reference's value."""
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    feed_values = [np.array(v) for v in values]
    inputs, node = _build(student, feed_values, names)
    ref_inputs, ref_node = _build(reference, feed_values, names)
    graph = _run("topological_sort", lambda: topological_sort(dict(zip(inputs, feed_values))))
    ref_graph = topological_sort(dict(zip(ref_inputs, [np.array(v) for v in values])))
    _run(f"{student.__name__}.forward()", lambda: [n.forward() for n in graph])
    for n in ref_graph:
        n.forward()
    assert_close(node.value, ref_node.value, batch_size=batch_size,
                 what=f"{student.__name__}.value for inputs ({_describe_inputs(names, values)})")


def _gradients(cls: type, values: Sequence[Any], names: Sequence[str], wrt: Sequence[int],
               upstream: Any, *, loss: bool = False) -> tuple[Node, list[Input], list[Any]]:
    """Gradients of ``cls(*inputs)`` w.r.t. the inputs at positions ``wrt``.

    With ``loss`` the node is the end of the graph (no consumer sends it a
    gradient), as a loss node is when training.
    """
    inputs, node = _build(cls, values, names)
    feed = dict(zip(inputs, [np.array(v) for v in values]))
    if not loss:
        dummy = DummyGrad(node)
        feed[dummy] = upstream
    graph = _run("topological_sort", lambda: topological_sort(feed))
    _run(f"{cls.__name__}.forward()", lambda: [n.forward() for n in graph])
    _run(f"{cls.__name__}.backward()", lambda: [n.backward() for n in reversed(graph)])
    return node, inputs, [node.gradients.get(inputs[i], None) if isinstance(node.gradients, dict)
                          else None for i in wrt]


def check_backward(
    student: type, reference: type, values: Sequence[Any], *,
    names: Sequence[str] | None = None, wrt: Sequence[int] | None = None,
    upstream: Any = None, batch_size: int | None = None, seed: int = 0, loss: bool = False,
) -> None:
    """``student``'s gradients w.r.t. each input must equal the reference's.

    The upstream gradient is random (from ``seed``) unless given, so a
    backward that ignores it is caught. With ``loss=True`` the node is the
    last node of the graph (a loss): no upstream gradient is sent.
    """
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    wrt = list(range(len(values))) if wrt is None else list(wrt)
    ref_inputs, ref_node = _build(reference, values, names)
    graph = topological_sort(dict(zip(ref_inputs, [np.array(v) for v in values])))
    for n in graph:
        n.forward()
    if upstream is None:
        upstream = np.random.default_rng(seed).normal(size=np.shape(ref_node.value))
    _, _, expected = _gradients(reference, values, names, wrt, upstream, loss=loss)
    node, _, got = _gradients(student, values, names, wrt, upstream, loss=loss)
    for i, g, e in zip(wrt, got, expected):
        what = (f"{student.__name__}.gradients[{names[i]}] (inputs: "
                f"{_describe_inputs(names, values)})")
        if g is None:
            _fail(f"{what} was not set: backward() must store the gradient for every input "
                  f"in self.gradients, keyed by the input node.")
        assert_close(g, e, what=what, batch_size=batch_size)


def check_fan_out(
    student: type, reference: type, values: Sequence[Any], *,
    names: Sequence[str] | None = None, wrt: Sequence[int] | None = None, seed: int = 0,
) -> None:
    """The student's node feeds two consumers: its inputs' gradients must add both.

    Both consumers multiply by the same random array ``c``, so the right
    gradient is that of ``2 * c * node``; overwriting gives exactly half.
    """
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    wrt = list(range(len(values))) if wrt is None else list(wrt)

    def gradients(cls: type) -> list[Any]:
        inputs, node = _build(cls, values, names)
        c = Input("c")
        total = Add(Mul(node, c), Mul(node, c))
        feed = dict(zip(inputs, [np.array(v) for v in values]))
        probe = topological_sort({**feed, c: 0.0})
        for n in probe:
            n.forward()
        feed[c] = np.random.default_rng(seed).normal(size=np.shape(node.value))
        _, grads = _run(f"{cls.__name__} with two consumers",
                        lambda: miniflow.value_and_grad(total, feed, [inputs[i] for i in wrt]))
        return grads

    expected, got = gradients(reference), gradients(student)
    for i, g, e in zip(wrt, got, expected):
        assert_close(g, e, what=(f"gradient of {names[i]} when one {student.__name__} node "
                                 "feeds two consumers"))


def check_repeated_input(student: type, reference: type, value: Any, *, copies: int = 2,
                         seed: int = 0) -> None:
    """``student(x, x)``: the same input twice must get both contributions once."""
    def gradient(cls: type) -> Any:
        x = Input("x")
        node = _run(f"{cls.__name__}(x, x)", lambda: cls(*([x] * copies)))
        dummy = DummyGrad(node)
        upstream = np.random.default_rng(seed).normal(size=np.shape(value))
        _, (dx,) = _run(f"{cls.__name__}(x, x)", lambda: miniflow.value_and_grad(
            dummy, {x: np.array(value), dummy: upstream}, [x]))
        return dx

    assert_close(gradient(student), gradient(reference),
                 what=f"gradient of x in {student.__name__}({', '.join(['x'] * copies)})")


def check_against_numerical(
    student: type, values: Sequence[Any], *, names: Sequence[str] | None = None,
    wrt: Sequence[int] | None = None, tolerance: float = 1e-5,
) -> None:
    """The student's backward must agree with central differences of its forward."""
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    wrt = list(range(len(values))) if wrt is None else list(wrt)
    inputs, node = _build(student, values, names)
    feed = dict(zip(inputs, [np.array(v) for v in values]))
    report = _run(f"checking {student.__name__}'s gradients numerically",
                  lambda: miniflow.check_gradients(node, feed, [inputs[i] for i in wrt],
                                                   tolerance=tolerance))
    if not report.passed:
        _fail(f"{student.__name__}'s backward disagrees with a numerical gradient of its "
              f"forward:\n{report}")


# -- whole functions -----------------------------------------------------------


def _random_dag(rng: np.random.Generator) -> tuple[list[Input], list[Node]]:
    inputs = [Input(f"x{i}") for i in range(int(rng.integers(1, 4)))]
    nodes: list[Node] = list(inputs)
    for k in range(int(rng.integers(2, 9))):
        picks = rng.integers(0, len(nodes), size=int(rng.integers(1, 4)))
        operation = Add if k % 2 else Mul
        nodes.append(operation(*[nodes[int(p)] for p in picks], name=f"op{k}"))
    return inputs, nodes


def check_topological_sort(student_sort: Callable[[dict], list], *, seed: int = 0,
                           trials: int = 20) -> None:
    """Random DAGs (with repeated inputs): every node once, after all its inputs."""
    rng = np.random.default_rng(seed)
    for trial in range(trials):
        inputs, nodes = _random_dag(rng)
        feed = {x: float(v) for x, v in zip(inputs, rng.normal(size=len(inputs)))}
        order = _run("topological_sort(feed_dict)", lambda: student_sort(dict(feed)))
        if not isinstance(order, list):
            _fail(f"topological_sort should return a list of nodes, got {type(order).__name__}.")
        seen_ids = [id(n) for n in order]
        missing = [n for n in nodes if id(n) not in seen_ids]
        if missing:
            _fail(f"topological_sort dropped {len(missing)} node(s), e.g. {missing[0]!r}; "
                  f"graph of {len(nodes)} nodes (trial {trial}). Every node reachable from "
                  "the inputs must be in the result.")
        if len(set(seen_ids)) != len(seen_ids):
            twice = next(n for n in order if seen_ids.count(id(n)) > 1)
            _fail(f"topological_sort lists {twice!r} more than once (trial {trial}); a node "
                  "used twice by one consumer (Mul(x, x)) is still one node.")
        position = {id(n): i for i, n in enumerate(order)}
        for node in nodes:
            for source in node.inbound_nodes:
                if position[id(source)] > position[id(node)]:
                    _fail(f"topological_sort puts {node!r} (position {position[id(node)]}) "
                          f"before its input {source!r} (position {position[id(source)]}); "
                          "a node may only come after all of its inputs.")
        for x, v in feed.items():
            if x.value is None or float(np.asarray(x.value, dtype=float)) != v:
                _fail(f"topological_sort did not set {x!r}'s value from feed_dict "
                      f"(expected {v:.6g}, got {x.value!r}).")


def check_sgd_update(student_update: Callable[..., Any], *, seed: int = 0) -> None:
    """One step on random values: every trainable moves by -learning_rate * gradient."""
    rng = np.random.default_rng(seed)
    for learning_rate in (0.1, 0.01):
        trainables = [Input(f"t{i}") for i in range(3)]
        starts, grads = [], []
        for t, shape in zip(trainables, [(3, 2), (2,), (4,)]):
            t.value = rng.normal(size=shape)
            t.gradients = {t: rng.normal(size=shape)}
            starts.append(t.value.copy())
            grads.append(t.gradients[t].copy())
        _run("sgd_update(trainables, learning_rate)",
             lambda lr=learning_rate: student_update(trainables, lr))
        for t, start, grad in zip(trainables, starts, grads):
            # Compare the step taken, so a wrong sign or a missing learning
            # rate shows up as such in the message.
            step = _as_float_array(t.value, f"{t.name}.value") - start
            if np.allclose(step, -grad):
                _fail(f"sgd_update moved {t.name} by the whole gradient: multiply the "
                      f"gradient by learning_rate ({learning_rate}) before subtracting it.")
            assert_close(step, -learning_rate * grad,
                         what=(f"the step sgd_update(learning_rate={learning_rate}) took for "
                               f"{t.name} (new value - old value)"))


def check_accuracy(predict: Callable[[np.ndarray], Any], X: np.ndarray, y: np.ndarray, *,
                   at_least: float) -> None:
    """Accuracy of ``predict`` on data the test loads itself.

    Returns nothing: a test cell ending in a number would be read by nbgrader
    as partial credit.
    """
    scores = _run("predict(X_test)", lambda: predict(np.array(X)))
    scores = _as_float_array(scores, "predict(X_test)")
    if scores.ndim == 2 and scores.shape[0] == len(y):
        predicted = scores.argmax(axis=1)
    elif scores.shape == (len(y),):
        predicted = scores.astype(np.int64)
    else:
        _fail(f"predict(X_test) should return one row of class scores per image "
              f"(shape ({len(y)}, 10)) or one label per image, got shape {scores.shape}.")
    accuracy = float(np.mean(predicted == np.asarray(y)))
    if accuracy < at_least:
        _fail(f"test accuracy {accuracy:.1%} is below the {at_least:.0%} target: train longer, "
              "adjust the learning rate or the hidden size.")

