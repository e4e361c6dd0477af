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



# -- layers and losses (02_layers, 03_losses) ----------------------------------

_KnownMistake = Callable[[list[np.ndarray], Any, list[np.ndarray]], Sequence[Any]]


def _as_arrays(values: Sequence[Any]) -> list[np.ndarray]:
    return [np.array(v) for v in values]


def _value_range(values: Sequence[Any]) -> str:
    floats = [np.asarray(v, dtype=np.float64) for v in values
              if np.issubdtype(np.asarray(v).dtype, np.floating) and np.size(v)]
    if not floats:
        return ""
    low = min(float(v.min()) for v in floats)
    high = max(float(v.max()) for v in floats)
    return f" with values from {low:.4g} to {high:.4g}"


def _call_without_warnings(what: str, function: Callable[[], Any], context: str) -> Any:
    """Run student code with every warning turned into a failure that explains it.

    A numpy RuntimeWarning ("overflow encountered in exp") would otherwise go
    to stderr, where nbgrader silently scores the whole cell zero.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
            try:
                return function()
            except AssertionError:
                raise
            except Warning as warning:
                _fail(
                    f"{what} warned \"{type(warning).__name__}: {warning}\" for {context}. "
                    "A warning means an intermediate result overflowed (or a log saw 0) even "
                    "if the final answer looks right. Rewrite the computation so that no "
                    "intermediate value overflows: np.exp should only see numbers <= 0 "
                    "(subtract each row's own maximum first, use np.logaddexp, or "
                    "log-sum-exp)."
                )
            except Exception as error:
                _fail(f"{what} raised {type(error).__name__}: {error} (for {context})")


def _reference_quietly(function: Callable[[], Any]) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return function()


def check_function(student_fn: Callable[[Any], Any], reference_fn: Callable[[Any], Any],
                   inputs: Sequence[Any], *, name: str) -> None:
    """``student_fn(x) == reference_fn(x)`` for each x: finite, and without any warning.

    Used for the numerically delicate helpers (``_sigmoid``, ``_softmax``): an
    input of +-1000 must give the right finite answer and no RuntimeWarning.
    """
    for x in inputs:
        x = np.array(x, dtype=np.float64)
        expected = np.asarray(_reference_quietly(lambda: reference_fn(x.copy())),
                              dtype=np.float64)
        context = f"x of shape {x.shape}{_value_range([x])}"
        got = _call_without_warnings(f"{name}(x)", lambda: student_fn(x.copy()), context)
        assert_close(got, expected, what=f"{name}(x) for {context}")


def check_probability_rows(student_fn: Callable[[Any], Any], x: Any, *,
                           name: str = "_softmax") -> None:
    """Each row of ``student_fn(x)`` must be a distribution: >= 0 and summing to 1."""
    x = np.array(x, dtype=np.float64)
    got = _as_float_array(_run(f"{name}(x)", lambda: student_fn(x.copy())), f"{name}(x)")
    if got.shape != x.shape:
        _fail(f"{name}(x) has shape {got.shape} for x of shape {x.shape}: softmax keeps the "
              "shape, one probability per logit.")
    sums = got.sum(axis=-1)
    if np.all(np.isfinite(got)) and not np.allclose(sums, 1.0, atol=1e-8):
        hint = ""
        if x.ndim == 2 and np.allclose(got.sum(axis=0), 1.0):
            hint = (" Its columns sum to 1 instead: normalise over axis=1 (the classes of one "
                    "example), not axis=0 (the batch).")
        elif np.isclose(got.sum(), 1.0):
            hint = (" The whole array sums to 1: normalise each row on its own "
                    "(.sum(axis=1, keepdims=True)).")
        _fail(f"each row of {name}(x) should sum to 1 (one probability distribution per "
              f"example), but the row sums are {np.array2string(sums, precision=4)} for x of "
              f"shape {x.shape}.{hint}")
    if np.any(got < 0):
        _fail(f"{name}(x) has negative entries: probabilities are never negative.")


def check_stable_forward(
    student: type, reference: type, values: Sequence[Any], *,
    names: Sequence[str] | None = None, batch_size: int | None = None,
) -> None:
    """Like ``check_forward`` for extreme inputs (+-1000): finite, right and no warning."""
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    arrays = _as_arrays(values)
    ref_inputs, ref_node = _build(reference, arrays, names)
    ref_graph = topological_sort(dict(zip(ref_inputs, _as_arrays(values))))
    _reference_quietly(lambda: [n.forward() for n in ref_graph])
    inputs, node = _build(student, arrays, names)
    graph = _run("topological_sort", lambda: topological_sort(dict(zip(inputs, arrays))))
    context = f"inputs ({_describe_inputs(names, values)}){_value_range(values)}"
    _call_without_warnings(f"{student.__name__}.forward()",
                           lambda: [n.forward() for n in graph], context)
    assert_close(node.value, ref_node.value, batch_size=batch_size,
                 what=f"{student.__name__}.value for {context}")


def check_gradient_shapes(
    student: type, values: Sequence[Any], *, names: Sequence[str] | None = None,
    wrt: Sequence[int] | None = None, seed: int = 0, loss: bool = False,
) -> None:
    """Every gradient must have its input's shape; checked before any value.

    Names the shape mistakes of matrix code: a transposed gradient, a gradient
    that kept the batch dimension, a matrix product whose shapes do not fit.
    """
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    wrt = list(range(len(values))) if wrt is None else list(wrt)
    arrays = _as_arrays(values)
    inputs, node = _build(student, arrays, names)
    feed: dict[Node, Any] = dict(zip(inputs, arrays))
    dummy = None
    if not loss:
        dummy = DummyGrad(node)
        feed[dummy] = None
    graph = _run("topological_sort", lambda: topological_sort(feed))
    _run(f"{student.__name__}.forward()", lambda: [n.forward() for n in graph])
    if dummy is not None:
        dummy.upstream = np.random.default_rng(seed).normal(size=np.shape(node.value))
    context = f"inputs: {_describe_inputs(names, values)}"
    try:
        for n in reversed(graph):
            n.backward()
    except Exception as error:
        text = str(error)
        hint = ""
        if "non-broadcastable output operand" in text:
            hint = (" An in-place += tried to add a larger array into a smaller one: did a "
                    "gradient keep the batch dimension? A bias's gradient is summed over the "
                    "batch (axis=0).")
        elif "could not be broadcast" in text:
            hint = (" Two arrays of different shapes were combined: most likely a gradient "
                    "does not have its input's shape (a transposed product, or a batch "
                    "dimension left in). Write down the shape of each gradient you compute.")
        elif "matmul" in text or "not aligned" in text:
            hint = (" The shapes of a matrix product do not fit. Write down each factor's "
                    "shape: the result must have the shape of the input whose gradient it "
                    "is, which tells you which factor to transpose and in which order to "
                    "multiply.")
        _fail(f"{student.__name__}.backward() raised {type(error).__name__}: {error} "
              f"({context}).{hint}")
    for i in wrt:
        gradient = node.gradients.get(inputs[i]) if isinstance(node.gradients, dict) else None
        what = f"{student.__name__}.gradients[{names[i]}] ({context})"
        if gradient is None:
            _fail(f"{what} was not set: backward() must store the gradient for every input "
                  "in self.gradients, keyed by the input node.")
        got = _as_float_array(gradient, what)
        shape = tuple(np.shape(arrays[i]))
        if got.shape == shape:
            continue
        if got.ndim == 2 and len(shape) == 2 and got.shape == shape[::-1]:
            _fail(f"{what} has shape {got.shape}, the transpose of {names[i]}'s shape {shape}. "
                  "A gradient always has its input's shape: check the order of the matrix "
                  "product and which factor is transposed (A @ B has A's rows and B's "
                  "columns).")
        if got.size == int(np.prod(shape)):
            hint = (f"it has the right number of elements, so reshape it to {shape} "
                    f"(.reshape(np.shape({names[i]}.value))).")
        elif got.ndim == len(shape) + 1 and got.shape[1:] == shape:
            hint = (f"it has an extra leading dimension of {got.shape[0]}: if {names[i]} was "
                    "broadcast over the batch (like a bias), sum its gradient over the batch "
                    "(.sum(axis=0)).")
        else:
            hint = (f"a gradient always has its input's shape; "
                    f"np.zeros_like({names[i]}.value) starts one with the right shape.")
        _fail(f"{what} has shape {got.shape}, expected {names[i]}'s shape {shape}: {hint}")


def check_known_mistakes(
    student: type, reference: type, values: Sequence[Any],
    mistakes: dict[str, _KnownMistake], *, names: Sequence[str] | None = None,
    wrt: Sequence[int] | None = None, seed: int = 0, loss: bool = False,
) -> None:
    """Fail with a precise message when the student's gradients equal a known mistake.

    ``mistakes`` maps a description (what the student did and how to fix it)
    to ``f(values, upstream, expected) -> gradients``: the wrong gradients
    that mistake gives, one per input in ``wrt`` (None where it does not
    matter). ``upstream`` is the gradient ``check_backward`` sends with the
    same ``seed`` (None for a loss). A mistake is only named when it differs
    from the right answer on these inputs. Gradients that match nothing are
    left to ``check_backward``, which runs next.
    """
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    wrt = list(range(len(values))) if wrt is None else list(wrt)
    ref_inputs, ref_node = _build(reference, values, names)
    graph = topological_sort(dict(zip(ref_inputs, _as_arrays(values))))
    _reference_quietly(lambda: [n.forward() for n in graph])
    upstream = None if loss else np.random.default_rng(seed).normal(
        size=np.shape(ref_node.value))
    _, _, expected = _reference_quietly(
        lambda: _gradients(reference, values, names, wrt, upstream, loss=loss))
    expected = [np.asarray(e, dtype=np.float64) for e in expected]
    try:
        _, _, got = _gradients(student, values, names, wrt, upstream, loss=loss)
        got = [None if g is None else np.array(g, dtype=np.float64) for g in got]
    except (AssertionError, TypeError, ValueError):
        return  # the student's code fails outright: check_backward says how
    for description, mistake in mistakes.items():
        try:
            wrong = _reference_quietly(lambda: mistake(_as_arrays(values), upstream,
                                                       [e.copy() for e in expected]))
        except Exception:
            continue  # this mistake is impossible for these shapes
        compared = 0
        for g, w, e in zip(got, wrong, expected):
            if w is None:
                continue
            w = np.asarray(w, dtype=np.float64)
            if w.shape != e.shape or np.allclose(w, e, rtol=1e-5, atol=1e-9):
                compared = 0  # indistinguishable from the right answer here
                break
            if g is None or g.shape != w.shape or not np.allclose(g, w, rtol=1e-5, atol=1e-9):
                compared = 0
                break
            compared += 1
        if compared:
            _fail(f"{student.__name__}'s gradients (inputs: {_describe_inputs(names, values)}) "
                  f"are wrong in a recognisable way: {description}")


def check_forward_mistakes(
    student: type, reference: type, values: Sequence[Any],
    mistakes: dict[str, Callable[[list[np.ndarray], np.ndarray], Any]], *,
    names: Sequence[str] | None = None,
) -> None:
    """Fail with a precise message when the student's value equals a known mistake.

    ``mistakes`` maps a description to ``f(values, expected) -> wrong value``.
    A mistake is only named when it differs from the right value on these
    inputs; anything else is left to ``check_forward``, which runs next.
    """
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    ref_inputs, ref_node = _build(reference, values, names)
    ref_graph = topological_sort(dict(zip(ref_inputs, _as_arrays(values))))
    _reference_quietly(lambda: [n.forward() for n in ref_graph])
    expected = np.asarray(ref_node.value, dtype=np.float64)
    inputs, node = _build(student, values, names)
    try:
        graph = topological_sort(dict(zip(inputs, _as_arrays(values))))
        for n in graph:
            n.forward()
        got = np.array(node.value, dtype=np.float64)
    except Exception:
        return  # the student's code fails outright: check_forward says how
    for description, mistake in mistakes.items():
        try:
            wrong = np.asarray(_reference_quietly(
                lambda: mistake(_as_arrays(values), expected.copy())), dtype=np.float64)
        except Exception:
            continue
        if wrong.shape != expected.shape or np.allclose(wrong, expected, rtol=1e-5, atol=1e-9):
            continue
        if got.shape == wrong.shape and np.allclose(got, wrong, rtol=1e-5, atol=1e-9):
            _fail(f"{student.__name__}.value (inputs: {_describe_inputs(names, values)}) is "
                  f"wrong in a recognisable way: {description}")


def check_loss_after_linear(
    student: type, reference: type, X: Any, W: Any, b: Any, target: Any, *,
    target_position: int, tolerance: float = 1e-5,
) -> None:
    """The student's loss on top of miniflow's ``Linear``: a whole small network.

    ``target`` (regression targets or class labels) is the loss's input at
    ``target_position``; the layer's output is the other one. The gradients of
    X, W and b must match the reference graph's and a numerical gradient of
    the student's own graph.
    """
    feed_values = {"X": np.array(X, dtype=np.float64), "W": np.array(W, dtype=np.float64),
                   "b": np.array(b, dtype=np.float64), "target": np.array(target)}

    def network(cls: type) -> tuple[Node, dict[Node, Any], list[Input]]:
        nodes = {name: Input(name) for name in feed_values}
        layer = miniflow.Linear(nodes["X"], nodes["W"], nodes["b"], name="linear")
        pair = [nodes["target"], layer] if target_position == 0 else [layer, nodes["target"]]
        try:
            loss = cls(*pair)
        except Exception as error:
            _fail(f"{cls.__name__} after a Linear layer raised {type(error).__name__}: {error}")
            raise
        feed = {nodes[name]: value.copy() for name, value in feed_values.items()}
        return loss, feed, [nodes["X"], nodes["W"], nodes["b"]]

    shapes = ", ".join(f"{k}: shape {v.shape}" for k, v in feed_values.items())
    ref_loss, ref_feed, ref_wrt = network(reference)
    expected_value, expected = miniflow.value_and_grad(ref_loss, ref_feed, ref_wrt)
    loss, feed, wrt = network(student)
    value, got = _run(f"{student.__name__} after a Linear layer ({shapes})",
                      lambda: miniflow.value_and_grad(loss, feed, wrt))
    assert_close(value, expected_value,
                 what=f"the value of {student.__name__} after a Linear layer ({shapes})")
    for node, g, e in zip(wrt, got, expected):
        assert_close(g, e, what=(f"the gradient of {node.name} through a Linear layer and "
                                 f"your {student.__name__} ({shapes})"))
    report = _run("the numerical gradient check",
                  lambda: miniflow.check_gradients(loss, feed, wrt, tolerance=tolerance))
    if not report.passed:
        _fail(f"a Linear layer followed by your {student.__name__} disagrees with a numerical "
              f"gradient of the whole graph:\n{report}")


__all__ += [
    "check_function",
    "check_probability_rows",
    "check_stable_forward",
    "check_gradient_shapes",
    "check_known_mistakes",
    "check_forward_mistakes",
    "check_loss_after_linear",
]
