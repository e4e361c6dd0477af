"""Checks for "Autograd" (06_autograd): the ``Tensor`` operations and their
local backward rules, ``topological_order``, ``backpropagate``, the two-layer
loss and the training step; and the grader's own ``reference_tensor`` and
``reference_topological_order``, so that a test can grade one exercise alone.

Longer than a module of the grader may be (about 500 lines): it is course
content, one check per exercise of the notebook, each with the mistakes it
names, and reads best beside the notebook in the notebook's order.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import miniflow
from autograder.checks.core import (
    ATOL,
    RTOL,
    allclose as _allclose,
    array_equal as _array_equal,
    as_float_array as _as_float_array,
    assert_close,
    course_code as _course_code,
    fail as _fail,
    isclose as _isclose,
    reference_quietly as _reference_quietly,
    run_check as _run,
)
from miniflow.nodes import Input, _sigmoid, unbroadcast  # noqa: PLC2701

__all__ = [
    "reference_topological_order",
    "reference_tensor",
    "check_tensor_forward",
    "check_tensor_backward",
    "known_tensor_mistakes",
    "check_backpropagation",
    "check_topological_order",
    "check_tensor_network",
    "check_tensor_sgd_step",
]


def reference_topological_order(output: Any) -> list[Any]:
    """A right ``topological_order`` for "Autograd": every tensor ``output``
    depends on, once each, parents first, ``output`` last."""
    return _recorded_graph(output)


def reference_tensor(backpropagate: Callable[[Any], Any] | None = None) -> type:
    """The grader's own ``Tensor`` for "Autograd", with the notebook's interface.

    Tests of the exercises built on ``Tensor`` (``backpropagate``, the loss)
    run on it, so that a mistake in the student's ``Tensor`` costs only the
    ``Tensor`` exercise. It is ``miniflow.tensor.Tensor``, whose ``backward()``
    calls a correct ``backpropagate``; given one (the student's, when that is
    what is graded), a new class each call whose ``backward()`` calls it.

    That class is miniflow's, made again in a copy of its module, whose
    ``backpropagate`` is the given one: ``miniflow/tensor.py`` is the notebook's
    text, so its operations make a ``Tensor`` and its ``backward()`` calls
    ``backpropagate``, both names looked up in the module when called. (A
    subclass overriding ``backward`` would not do: ``x * x`` would be a
    ``miniflow.tensor.Tensor``, whose ``backward()`` is miniflow's.)
    """
    import importlib.util

    import miniflow.tensor

    if backpropagate is None:
        return miniflow.tensor.Tensor
    spec = importlib.util.find_spec(miniflow.tensor.__name__)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {miniflow.tensor.__name__} again")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.backpropagate = backpropagate
    return module.Tensor


# -- define-by-run tensors (06_autograd) ----------------------------------------
#
# The student's ``Tensor`` (see course/notebooks/06_autograd.py) holds ``data``,
# ``grad`` (same shape, zeros at first), ``_parents``, ``_backward`` and
# ``_op``, and is built as ``Tensor(data, parents=(), op="", name=None)``.
# An operation's ``_backward`` adds its contribution to each parent's ``grad``
# from ``out.grad``; ``backpropagate(output)`` zeroes every gradient of the
# graph, seeds ``output.grad`` with ones and runs every ``_backward`` once, in
# reverse topological order.


def _tensor_names(count: int, names: Sequence[str] | None) -> list[str]:
    return list(names) if names else ["a", "b", "c", "d"][:count]


def _new_tensor(tensor_cls: type, value: Any, name: str) -> Any:
    return _run(f"Tensor(data, name={name!r})",
                lambda: tensor_cls(np.array(value, dtype=np.float64), name=name))


def _describe_tensors(names: Sequence[str], arrays: Sequence[np.ndarray]) -> str:
    return ", ".join(f"{n}: shape {np.shape(a)}" for n, a in zip(names, arrays))


def _numerical_tensor_gradient(function: Callable[[list[np.ndarray]], float],
                               arrays: list[np.ndarray], index: int, eps: float = 1e-6
                               ) -> np.ndarray:
    """Central differences of ``function`` with respect to ``arrays[index]``."""
    work = [a.copy() for a in arrays]
    flat = work[index].reshape(-1)
    gradient = np.zeros(flat.size)
    for k in range(flat.size):
        original = flat[k]
        flat[k] = original + eps
        plus = function(work)
        flat[k] = original - eps
        minus = function(work)
        flat[k] = original
        gradient[k] = (plus - minus) / (2 * eps)
    return gradient.reshape(arrays[index].shape)


def _operation_result(tensor_cls: type, operation: Callable[..., Any], operands: list[Any],
                      context: str) -> Any:
    out = _run(context, lambda: operation(*operands))
    if not isinstance(out, tensor_cls):
        _fail(f"{context} returned {type(out).__name__}, not a Tensor: an operation must "
              "return a new Tensor(result, parents=(...), op=...), so that the graph is "
              "recorded as it runs.")
    return out


def check_tensor_forward(
    tensor_cls: type, operation: Callable[..., Any], reference: Callable[..., Any],
    values: Sequence[Any], *, what: str, names: Sequence[str] | None = None,
    uses: Sequence[int] | None = None,
) -> None:
    """``operation(*tensors)`` must return a new Tensor holding ``reference(*arrays)``.

    ``uses`` says which tensor each operand is (``[0, 0]`` for ``x * x``). The
    result must record its operands in ``_parents``, have a callable
    ``_backward`` and leave the operands' ``data`` unchanged.
    """
    arrays = [np.array(v, dtype=np.float64) for v in values]
    names = _tensor_names(len(arrays), names)
    uses = list(range(len(arrays))) if uses is None else list(uses)
    tensors = [_new_tensor(tensor_cls, a.copy(), n) for a, n in zip(arrays, names)]
    operands = [tensors[i] for i in uses]
    context = f"{what} ({_describe_tensors(names, arrays)})"
    out = _operation_result(tensor_cls, operation, operands, context)
    expected = np.asarray(reference(*[arrays[i] for i in uses]), dtype=np.float64)
    assert_close(getattr(out, "data", None), expected, what=f"the .data of {context}")
    parents = getattr(out, "_parents", None)
    recorded = list(parents) if isinstance(parents, (tuple, list)) else []
    missing = [names[i] for i in dict.fromkeys(uses)
               if not any(p is tensors[i] for p in recorded)]
    if missing:
        _fail(f"{context}: the result's _parents is {parents!r}, which does not hold "
              f"{', '.join(missing)}. Record the tensors a result was computed from, "
              "Tensor(..., parents=(self, other)): backpropagation follows _parents back.")
    if not callable(getattr(out, "_backward", None)):
        _fail(f"{context}: the result's _backward is {getattr(out, '_backward', None)!r}; it "
              "must be a function (the closure that sends out.grad back to the parents).")
    for tensor, array, name in zip(tensors, arrays, names):
        data = getattr(tensor, "data", None)
        if np.shape(data) != array.shape or not _array_equal(np.asarray(data), array):
            _fail(f"{context} changed {name}.data: an operation computes a new array for its "
                  "result and leaves its operands as they were (no += on self.data).")


def _assert_grad_close(got: Any, expected: Any, *, what: str, rtol: float = RTOL,
                       atol: float = ATOL) -> None:
    """``assert_close`` for a Tensor's gradient, naming zeros and halves in Tensor terms."""
    if got is not None:
        got_array = _as_float_array(got, what)
        want = np.asarray(expected, dtype=np.float64)
        if (got_array.shape == want.shape and np.any(np.abs(want) > atol)
                and not _allclose(got_array, want, rtol=rtol, atol=atol)):
            if _allclose(got_array, 0.0):
                _fail(f"{what} is all zeros, expected values up to {np.max(np.abs(want)):.4g}: "
                      "no gradient reached it. Check that every operation records its parents "
                      "(parents=(self, other)), that every _backward adds to its parents' "
                      ".grad, and that backpropagate seeds the output with ones.")
            if _allclose(got_array, 0.5 * want, rtol=1e-5, atol=1e-9):
                _fail(f"{what} is exactly half of the right value: one of two contributions "
                      "was lost, as when .grad = ... stands where .grad += ... belongs.")
    assert_close(got, expected, what=what, rtol=rtol, atol=atol)


def _backward_error_hint(text: str) -> str:
    if "non-broadcastable output operand" in text:
        return (" Likely mistake: a += tried to add a larger array into a smaller .grad: the "
                "operand was broadcast, so sum the gradient back to its shape first "
                "(miniflow's unbroadcast does that).")
    if "matmul" in text or "not aligned" in text:
        return (" Likely mistake: the shapes of a matrix product do not fit; a transpose is "
                "missing or misplaced. Write down the shapes of out.grad, a.data and b.data; "
                "each gradient has its tensor's shape.")
    if "could not be broadcast" in text:
        return (" Likely mistake: two arrays of different shapes were combined; check that "
                "each gradient has its tensor's shape (unbroadcast, or a transpose in a "
                "matrix product).")
    return ""


_TensorMistake = Callable[[list[np.ndarray], np.ndarray], Sequence[Any]]


# What students get wrong in a local backward rule, by operation: a description
# (what went wrong and how to fix it) -> f(arrays, upstream) -> the wrong
# contributions. Visible and hidden tests share them (check_tensor_backward's
# ``mistakes``).
_TENSOR_MISTAKES: dict[str, dict[str, _TensorMistake]] = {
    "a * b": {
        "each operand's gradient uses its own value: the derivative of a * b with "
        "respect to one operand is the OTHER operand.":
            lambda v, g: [unbroadcast(g * v[0], v[0].shape), unbroadcast(g * v[1], v[1].shape)],
        "the upstream gradient out.grad is ignored: multiply the local derivative by it.":
            lambda v, g: [unbroadcast(np.ones_like(g) * v[1], v[0].shape),
                          unbroadcast(np.ones_like(g) * v[0], v[1].shape)],
    },
    "a @ b": {
        "a transpose is missing or misplaced: write down the shapes of out.grad, a and b; "
        "each gradient has its tensor's shape.": lambda v, g: [g @ v[1], v[0] @ g],
        "the factors are in the wrong order: a matrix product does not commute; write "
        "down the shapes of out.grad, a and b.": lambda v, g: [v[1].T @ g, g @ v[0].T],
    },
    "a.sigmoid()": {
        "the derivative is taken from the input. The sigmoid's slope comes from its "
        "OUTPUT, out.data.": lambda v, g: [g * v[0] * (1 - v[0])],
        "the upstream gradient out.grad is ignored: multiply the slope by it.":
            lambda v, g: [_sigmoid(v[0]) * (1 - _sigmoid(v[0]))],
    },
}


def known_tensor_mistakes(operation: str) -> dict[str, _TensorMistake]:
    """The recognisable mistakes in one operation's ``_backward``: ``"a * b"``, ``"a @ b"``
    or ``"a.sigmoid()"``, for ``check_tensor_backward(..., mistakes=...)``."""
    if operation not in _TENSOR_MISTAKES:
        raise KeyError(f"no known mistakes for {operation!r}; there are some for "
                       f"{', '.join(sorted(_TENSOR_MISTAKES))}")
    return dict(_TENSOR_MISTAKES[operation])


def check_tensor_backward(
    tensor_cls: type, operation: Callable[..., Any], reference: Callable[..., Any],
    values: Sequence[Any], *, what: str, names: Sequence[str] | None = None,
    uses: Sequence[int] | None = None, seed: int = 0,
    mistakes: dict[str, _TensorMistake] | None = None,
) -> None:
    """The local backward rule of one operation, run on its own.

    Builds ``out = operation(*tensors)``, sets ``out.grad`` to a random upstream
    gradient and each operand's ``grad`` to a random earlier value, calls
    ``out._backward()`` once, and compares what was *added* to each ``grad``
    with central differences of ``sum(upstream * reference(*arrays))``.
    ``mistakes`` maps a description to ``f(arrays, upstream) -> the wrong
    contributions`` (None where it does not matter), named when matched.
    """
    arrays = [np.array(v, dtype=np.float64) for v in values]
    names = _tensor_names(len(arrays), names)
    uses = list(range(len(arrays))) if uses is None else list(uses)
    tensors = [_new_tensor(tensor_cls, a.copy(), n) for a, n in zip(arrays, names)]
    context = f"{what} ({_describe_tensors(names, arrays)})"
    out = _operation_result(tensor_cls, operation, [tensors[i] for i in uses], context)

    def result(work: list[np.ndarray]) -> np.ndarray:
        return np.asarray(reference(*[work[i] for i in uses]), dtype=np.float64)

    rng = np.random.default_rng(seed)
    upstream = rng.normal(size=result(arrays).shape)
    earlier = [rng.normal(size=a.shape) for a in arrays]
    for tensor, grad in zip(tensors, earlier):
        tensor.grad = grad.copy()
    out.grad = upstream.copy()
    try:
        out._backward()
    except AssertionError:
        raise
    except Exception as error:
        _fail(f"the _backward of {context} raised {type(error).__name__}: {error}."
              + _backward_error_hint(str(error)))

    expected = [_numerical_tensor_gradient(lambda w: float(np.sum(upstream * result(w))),
                                           arrays, i) if i in uses else np.zeros(a.shape)
                for i, a in enumerate(arrays)]
    added = []
    for i, (tensor, name) in enumerate(zip(tensors, names)):
        grad = getattr(tensor, "grad", None)
        where = f"{name}.grad after the _backward of {context}"
        if grad is None:
            _fail(f"{where} is None: add the contribution to the gradient that is there, "
                  f"{name}.grad += ...")
        got = _as_float_array(grad, where)
        shape = arrays[i].shape
        if got.shape != shape:
            if got.ndim == 0 or got.size == 1:
                hint = (f"a single number cannot be the gradient of a {shape} array: every "
                        f"element of {name} gets the upstream gradient, so broadcast it to "
                        f"{name}'s shape (np.broadcast_to, or += into the existing .grad).")
            elif got.shape == np.shape(upstream):
                hint = (f"it has the result's shape {np.shape(upstream)}: {name} was "
                        f"broadcast, so sum its gradient back to {name}'s shape (miniflow's "
                        "unbroadcast does that).")
            elif got.ndim == 2 and got.shape == shape[::-1]:
                hint = "it is transposed: check the order and the transposes of the product."
            else:
                hint = "a gradient always has the shape of its tensor's data."
            _fail(f"{where} has shape {got.shape}, expected {shape}: {hint}")
        added.append(got - earlier[i])
        count = uses.count(i)
        if count and not _allclose(got, earlier[i] + expected[i], rtol=1e-5, atol=1e-7):
            if _allclose(got, expected[i], rtol=1e-5, atol=1e-7):
                _fail(f"{where} replaced the gradient {name} already had instead of adding "
                      f"to it. A tensor can feed several operations (and the same one twice, "
                      f"as in x * x), and every contribution counts: {name}.grad += ..., "
                      "never =.")
            if count > 1 and _allclose(got, expected[i] / count, rtol=1e-5, atol=1e-7):
                _fail(f"{where} holds only one of the {count} contributions of {name}, which is "
                      f"used {count} times (x * x must give 2 x, x + x must give 2): the second "
                      "assignment overwrote the first. Use += for every parent.")
    for description, mistake in (mistakes or {}).items():
        try:
            wrong = _reference_quietly(lambda: mistake([a.copy() for a in arrays],
                                                       upstream.copy()))
        except Exception:
            continue
        compared = 0
        for got, w, e in zip(added, wrong, expected):
            if w is None:
                continue
            w = np.asarray(w, dtype=np.float64)
            if (w.shape != e.shape or _allclose(w, e, rtol=1e-5, atol=1e-7)
                    or not _allclose(got, w, rtol=1e-5, atol=1e-7)):
                compared = 0
                break
            compared += 1
        if compared:
            _fail(f"the _backward of {context} is wrong in a recognisable way: {description}")
    for i, name in enumerate(names):
        _assert_grad_close(added[i], expected[i], rtol=1e-5, atol=1e-7,
                     what=(f"the gradient the _backward of {context} added to {name}.grad "
                           "(compared with a numerical gradient)"))


# -- whole graphs: the order of backpropagation -----------------------------------


def _accumulate(tensor: Any, gradient: np.ndarray) -> None:
    current = getattr(tensor, "grad", None)
    base = np.zeros(np.shape(tensor.data)) if current is None else np.asarray(current, float)
    tensor.grad = base + gradient


def _upstream_of(tensor: Any) -> np.ndarray:
    grad = getattr(tensor, "grad", None)
    return np.zeros(np.shape(tensor.data)) if grad is None else np.asarray(grad, float)


class _RecordedOps:
    """Operations with known-right backward rules that build the student's Tensors.

    Testing ``backpropagate`` with these rules keeps it apart from the
    student's own operations; every rule notes that it ran, so the number and
    the order of the runs can be checked.
    """

    def __init__(self, tensor_cls: type):
        self.cls = tensor_cls
        self.ran: list[Any] = []
        self.labels: dict[int, str] = {}

    def label(self, tensor: Any) -> str:
        return self.labels.get(id(tensor), "a tensor")

    def leaf(self, value: Any, name: str) -> Any:
        tensor = _new_tensor(self.cls, value, name)
        self.labels[id(tensor)] = name
        return tensor

    def _record(self, data: Any, parents: tuple[Any, ...], op: str, label: str,
                rule: Callable[[Any], None]) -> Any:
        out = _run(f"Tensor(data, parents=..., op={op!r})",
                   lambda: self.cls(np.asarray(data, dtype=np.float64), parents=parents, op=op))

        def backward() -> None:
            self.ran.append(out)
            rule(out)

        out._backward = backward
        self.labels[id(out)] = label
        return out

    def _name(self, label: str | None, text: str) -> str:
        return label or text

    def add(self, a: Any, b: Any, label: str | None = None) -> Any:
        def rule(out: Any) -> None:
            g = _upstream_of(out)
            _accumulate(a, miniflow.nodes.unbroadcast(g, np.shape(a.data)))
            _accumulate(b, miniflow.nodes.unbroadcast(g, np.shape(b.data)))
        return self._record(a.data + b.data, (a, b), "+",
                            self._name(label, f"{self.label(a)} + {self.label(b)}"), rule)

    def mul(self, a: Any, b: Any, label: str | None = None) -> Any:
        def rule(out: Any) -> None:
            g = _upstream_of(out)
            _accumulate(a, miniflow.nodes.unbroadcast(g * b.data, np.shape(a.data)))
            _accumulate(b, miniflow.nodes.unbroadcast(g * a.data, np.shape(b.data)))
        return self._record(a.data * b.data, (a, b), "*",
                            self._name(label, f"{self.label(a)} * {self.label(b)}"), rule)

    def matmul(self, a: Any, b: Any, label: str | None = None) -> Any:
        def rule(out: Any) -> None:
            g = _upstream_of(out)
            _accumulate(a, g @ np.asarray(b.data).T)
            _accumulate(b, np.asarray(a.data).T @ g)
        return self._record(a.data @ b.data, (a, b), "@",
                            self._name(label, f"{self.label(a)} @ {self.label(b)}"), rule)

    def sum(self, a: Any, label: str | None = None) -> Any:
        def rule(out: Any) -> None:
            _accumulate(a, np.broadcast_to(_upstream_of(out), np.shape(a.data)))
        return self._record(np.sum(a.data), (a,), "sum",
                            self._name(label, f"sum({self.label(a)})"), rule)

    def sigmoid(self, a: Any, label: str | None = None) -> Any:
        def rule(out: Any) -> None:
            s = np.asarray(out.data)
            _accumulate(a, _upstream_of(out) * s * (1.0 - s))
        return self._record(_reference_quietly(lambda: 1.0 / (1.0 + np.exp(-a.data))), (a,),
                            "sigmoid", self._name(label, f"sigmoid({self.label(a)})"), rule)


def _recorded_graph(output: Any) -> list[Any]:
    """Every tensor ``output`` depends on, parents before children (for the checks)."""
    from miniflow.tensor import topological_order

    return topological_order(output)


def _right_backpropagation(output: Any, *, clear: bool = True) -> None:
    graph = _recorded_graph(output)
    if clear:
        for tensor in graph:
            tensor.grad = np.zeros(np.shape(tensor.data))
    output.grad = np.ones(np.shape(output.data))
    for tensor in reversed(graph):
        tensor._backward()


_Scenario = Callable[[_RecordedOps], tuple[Any, dict[str, Any]]]


def _backpropagation_scenarios(rng: np.random.Generator, depth: int
                               ) -> list[tuple[str, _Scenario]]:
    """(description, build) pairs; build(ops) -> (output, {leaf name: leaf})."""
    x3, x23 = rng.normal(size=3), rng.normal(size=(2, 3))
    c1, c2 = rng.normal(size=(2, 3)), rng.normal(size=3)
    X, W1, b1 = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    W2, b2, y = rng.normal(size=(4, 1)), rng.normal(size=1), rng.normal(size=(5, 1))
    w0, scale = rng.normal(size=2), 1.0 + 0.01 * rng.normal()

    def square(ops: _RecordedOps) -> tuple[Any, dict[str, Any]]:
        x = ops.leaf(x3, "x")
        return ops.sum(ops.mul(x, x)), {"x": x}

    def double(ops: _RecordedOps) -> tuple[Any, dict[str, Any]]:
        x = ops.leaf(x3, "x")
        return ops.sum(ops.add(x, x)), {"x": x}

    def diamond(ops: _RecordedOps) -> tuple[Any, dict[str, Any]]:
        x, u, v = ops.leaf(x23, "x"), ops.leaf(c1, "u"), ops.leaf(c2, "v")
        h = ops.sigmoid(x, label="h = sigmoid(x)")
        d = ops.add(ops.mul(h, u, label="h * u"), ops.mul(h, v, label="h * v"),
                    label="d = h * u + h * v")
        return ops.sum(d), {"x": x, "u": u, "v": v}

    def stacked(ops: _RecordedOps) -> tuple[Any, dict[str, Any]]:
        w = ops.leaf(w0, "w")
        a, b = ops.leaf(np.full(2, 0.6), "a"), ops.leaf(np.full(2, 0.5), "b")
        h = w
        for level in range(12):
            h = ops.sigmoid(ops.add(ops.mul(h, a), ops.mul(h, b)), label=f"h{level + 1}")
        return ops.sum(h), {"w": w, "a": a, "b": b}

    def network(ops: _RecordedOps) -> tuple[Any, dict[str, Any]]:
        leaves = {n: ops.leaf(v, n) for n, v in
                  [("X", X), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2), ("y", y)]}
        hidden = ops.sigmoid(ops.add(ops.matmul(leaves["X"], leaves["W1"]), leaves["b1"]),
                             label="hidden")
        prediction = ops.add(ops.matmul(hidden, leaves["W2"]), leaves["b2"], label="prediction")
        error = ops.add(prediction, ops.mul(leaves["y"], ops.leaf(-1.0, "-1")), label="error")
        mse = ops.mul(ops.sum(ops.mul(error, error, label="error * error")),
                      ops.leaf(1.0 / len(X), "1/n"), label="loss")
        return mse, leaves

    def matrix_output(ops: _RecordedOps) -> tuple[Any, dict[str, Any]]:
        x, u = ops.leaf(x23, "x"), ops.leaf(c2, "u")
        return ops.mul(ops.sigmoid(x), u, label="out = sigmoid(x) * u"), {"x": x, "u": u}

    def chain(ops: _RecordedOps) -> tuple[Any, dict[str, Any]]:
        x, s = ops.leaf(0.5, "x"), ops.leaf(scale, "s")
        h = x
        for _ in range(depth):
            h = ops.mul(h, s, label="h * s")
        return h, {"x": x, "s": s}

    return [
        ("y = sum(x * x)", square),
        ("y = sum(x + x)", double),
        ("a diamond: h = sigmoid(x) feeds h * u and h * v, which are added", diamond),
        ("12 stacked diamonds, h = sigmoid(h * a + h * b), 4096 paths from w", stacked),
        ("a two-layer network with a mean squared error (error * error)", network),
        ("out = sigmoid(x) * u, a (2, 3) output: its gradient is that of its sum", matrix_output),
        (f"a chain of {depth} multiplications, h = h * s", chain),
    ]


def _run_backpropagate(backpropagate: Callable[[Any], Any], output: Any, what: str) -> None:
    try:
        backpropagate(output)
    except AssertionError:
        raise
    except RecursionError:
        _fail(f"backpropagate hit Python's recursion limit for {what}: a recursive walk "
              "through a long graph runs out of stack. Write the depth-first search with "
              "your own stack (a list) instead of recursion, or make sure the recursion "
              "only goes through topological_order once per tensor.")
    except Exception as error:
        _fail(f"backpropagate(output) for {what} raised {type(error).__name__}: {error}")


def _check_rule_runs(ops: _RecordedOps, graph: list[Any], what: str) -> None:
    """Every rule ran exactly once, each after the rules of all its consumers."""
    runs: dict[int, int] = {}
    for tensor in ops.ran:
        runs[id(tensor)] = runs.get(id(tensor), 0) + 1
    for tensor in graph:
        if not tensor._parents:
            continue
        count = runs.get(id(tensor), 0)
        if count == 0:
            _fail("A _backward never ran\n"
                  f"  for {what}, the _backward of {ops.label(tensor)} never ran: call the "
                  "_backward of every tensor in topological_order(output), in reverse.")
        if count > 1:
            _fail("A _backward ran more than once in one backward pass\n"
                  f"  for {what}, the _backward of {ops.label(tensor)} ran {count} times in one "
                  "backward pass, so its gradient was passed on more than once. Run each "
                  "tensor's _backward exactly once: a recursive backward that calls it "
                  "again every time a shared tensor is reached double-counts.")
    position = {id(t): i for i, t in enumerate(ops.ran)}
    for tensor in graph:
        for parent in dict.fromkeys(tensor._parents):
            if id(parent) in position and id(tensor) in position and \
                    position[id(parent)] < position[id(tensor)]:
                _fail("The _backward functions ran in the wrong order\n"
                      f"  for {what}, the _backward of {ops.label(parent)} ran before the one "
                      f"of {ops.label(tensor)}, which uses it: its gradient was not complete "
                      "when it was passed on. Run the _backward functions in reverse "
                      "topological order: the output first, every tensor after all the "
                      "tensors computed from it.")


def check_backpropagation(tensor_cls: type, backpropagate: Callable[[Any], Any], *,
                          seed: int = 0, depth: int = 500) -> None:
    """``backpropagate(output)`` on graphs whose backward rules are known to be right.

    Reused tensors (x * x, x + x), a diamond, stacked diamonds, a small
    network with a squared error, a non-scalar output and a chain of
    ``depth`` operations. Every gradient in the graph starts with a stale
    value, which backpropagate must clear. Leaves' gradients are compared
    with a right backpropagation of the same graph; the checks also name a
    rule that ran twice, never, or before a consumer's rule.
    """
    rng = np.random.default_rng(seed)
    for what, build in _backpropagation_scenarios(rng, depth):
        reference = _RecordedOps(tensor_cls)
        ref_output, ref_leaves = build(reference)
        _right_backpropagation(ref_output)
        expected = {name: np.array(leaf.grad, dtype=np.float64)
                    for name, leaf in ref_leaves.items()}

        ops = _RecordedOps(tensor_cls)
        output, leaves = build(ops)
        graph = _recorded_graph(output)
        stale = [rng.normal(size=np.shape(t.data)) for t in graph]
        for tensor, grad in zip(graph, stale):
            tensor.grad = grad.copy()
        _run_backpropagate(backpropagate, output, what)
        # What the same graph gives when nobody clears the stale gradients.
        unclear = _RecordedOps(tensor_cls)
        unclear_output, unclear_leaves = build(unclear)
        for tensor, grad in zip(_recorded_graph(unclear_output), stale):
            tensor.grad = grad.copy()
        _right_backpropagation(unclear_output, clear=False)

        seed_grad = getattr(output, "grad", None)
        ones = np.ones(np.shape(output.data))
        seeded = seed_grad is not None and np.shape(seed_grad) == ones.shape and \
            _allclose(np.asarray(seed_grad, dtype=np.float64), ones)
        if not seeded:
            shown = seed_grad if seed_grad is None else np.array2string(
                np.asarray(seed_grad, dtype=np.float64).reshape(-1)[:4], precision=4)
            _fail(f"for {what}, output.grad after backpropagate(output) is {shown}; it must "
                  "be ones (d output / d output = 1): after zeroing every gradient, seed "
                  "the output's .grad with ones of its shape, then run the _backward "
                  "functions.")
        _check_rule_runs(ops, graph, what)
        stale_leaf = {id(t): g for t, g in zip(graph, stale)}
        for name, leaf in leaves.items():
            where = f"{name}.grad after backpropagate(output) for {what}"
            got = _as_float_array(getattr(leaf, "grad", None), where)
            wrong = [expected[name] + stale_leaf[id(leaf)],
                     np.asarray(unclear_leaves[name].grad, dtype=np.float64)]
            if got.shape == expected[name].shape and not _allclose(
                    got, expected[name], rtol=1e-6, atol=1e-9) and any(
                    _allclose(got, w, rtol=1e-6, atol=1e-9) for w in wrong):
                _fail(f"{where} still contains gradients left from before: backpropagate must "
                      "set the .grad of every tensor in the graph to zeros before it seeds "
                      "the output (otherwise the gradients of an earlier backward pass pile "
                      "up).")
            _assert_grad_close(got, expected[name], what=where)
    _check_repeated_backpropagation(tensor_cls, backpropagate, rng)


def _check_repeated_backpropagation(tensor_cls: type, backpropagate: Callable[[Any], Any],
                                    rng: np.random.Generator) -> None:
    """backward twice on one graph, then on a fresh graph of the same leaves: same grads."""
    ops = _RecordedOps(tensor_cls)
    W, x = ops.leaf(rng.normal(size=(3, 2)), "W"), ops.leaf(rng.normal(size=(4, 3)), "x")

    def loss() -> Any:
        return ops.sum(ops.sigmoid(ops.matmul(x, W)))

    first = loss()
    _run_backpropagate(backpropagate, first, "loss = sum(sigmoid(x @ W))")
    once = np.array(W.grad, dtype=np.float64)
    _run_backpropagate(backpropagate, first, "loss = sum(sigmoid(x @ W)), a second time")
    again = _as_float_array(W.grad, "W.grad")
    if again.shape == once.shape and not _allclose(again, once, rtol=1e-9, atol=1e-12):
        ratio = f" ({float(np.sum(again * once) / np.sum(once * once)):.3g} times the first)" \
            if np.sum(once * once) else ""
        _fail(f"calling loss.backward() a second time on the same graph changed W.grad"
              f"{ratio}: backpropagate must start from zero gradients every time.")
    fresh = loss()
    _run_backpropagate(backpropagate, fresh, "a fresh graph of the same leaves W and x")
    _assert_grad_close(W.grad, once, what=("W.grad after backward() on a second, freshly built "
                                           "graph of the same W (it must not add to the first "
                                           "pass's gradient)"))


def check_topological_order(tensor_cls: type, order_fn: Callable[[Any], Any], *,
                            seed: int = 0, trials: int = 20, depth: int = 500) -> None:
    """Random recorded graphs (with reused tensors) and a chain of ``depth`` operations:
    every tensor the output depends on, once, each after its parents, the output last."""
    rng = np.random.default_rng(seed)
    graphs = []
    for trial in range(trials):
        count = int(rng.integers(1, 4))
        tensors = [_new_tensor(tensor_cls, float(rng.normal()), f"x{i}") for i in range(count)]
        labels = {id(t): f"x{i}" for i, t in enumerate(tensors)}
        for k in range(int(rng.integers(2, 9))):
            picks = rng.integers(0, len(tensors), size=int(rng.integers(1, 4)))
            parents = tuple(tensors[int(p)] for p in picks)
            tensor = _run("Tensor(data, parents=...)",
                          lambda parents=parents: tensor_cls(0.0, parents=parents, op=f"op{k}"))
            labels[id(tensor)] = f"t{k}"
            tensors.append(tensor)
        graphs.append((f"random graph {trial}", tensors[-1], labels))
    # A skip connection: x feeds the output directly and through a chain, so
    # an order from a breadth-first walk back from the output is wrong.
    x = _new_tensor(tensor_cls, 1.0, "x")
    a = tensor_cls(0.0, parents=(x,), op="a")
    b = tensor_cls(0.0, parents=(a,), op="b")
    for parents in [(b, x), (x, b)]:
        out = tensor_cls(0.0, parents=parents, op="out")
        what = "out = f(b, x), b = g(a), a = h(x)" if parents[0] is b else \
            "out = f(x, b), b = g(a), a = h(x)"
        graphs.append((what, out, {id(x): "x", id(a): "a", id(b): "b", id(out): "out"}))
    for what, output, labels in graphs:
        _check_one_order(order_fn, output, labels, what)

    chain = [_new_tensor(tensor_cls, 0.5, "x")]
    for _ in range(depth):
        chain.append(tensor_cls(0.0, parents=(chain[-1],), op="step"))
    try:
        order = order_fn(chain[-1])
    except RecursionError:
        _fail(f"topological_order hit Python's recursion limit on a chain of {depth} "
              "operations: visit the parents with your own stack (a list) instead of "
              "recursion.")
    except Exception as error:
        _fail(f"topological_order(output) for a chain of {depth} operations raised "
              f"{type(error).__name__}: {error}")
    labels = {id(t): ("x" if i == 0 else f"step {i}") for i, t in enumerate(chain)}
    _check_one_order(lambda _: order, chain[-1], labels, f"a chain of {depth} operations")


def _check_one_order(order_fn: Callable[[Any], Any], output: Any, labels: dict[int, str],
                     what: str) -> None:
    order = _run(f"topological_order(output) for {what}", lambda: order_fn(output))
    if not isinstance(order, list):
        _fail(f"topological_order should return a list of tensors, got {type(order).__name__} "
              f"(for {what}).")
    needed = _recorded_graph(output)
    ids = [id(t) for t in order]
    for tensor in order:
        if id(tensor) not in labels:
            _fail(f"topological_order lists {tensor!r}, which the output of {what} does not "
                  "depend on: list only the output and the tensors reached through _parents.")
    if len(set(ids)) != len(ids):
        twice = next(t for t in order if ids.count(id(t)) > 1)
        _fail(f"topological_order lists {labels[id(twice)]} {ids.count(id(twice))} times "
              f"(for {what}); a tensor reached along several paths (or used twice, as in "
              "x * x) is still one tensor: remember which ones you have visited.")
    missing = [t for t in needed if id(t) not in set(ids)]
    if missing:
        _fail(f"topological_order left out {len(missing)} of the {len(needed)} tensors of "
              f"{what}, e.g. {labels[id(missing[0])]}: follow _parents all the way back to "
              "the leaves.")
    position = {id(t): i for i, t in enumerate(order)}
    for tensor in needed:
        for parent in tensor._parents:
            if position[id(parent)] > position[id(tensor)]:
                _fail(f"topological_order puts {labels[id(tensor)]} (position "
                      f"{position[id(tensor)]}) before its parent {labels[id(parent)]} "
                      f"(position {position[id(parent)]}) for {what}: append a tensor only "
                      "after all of its parents have been appended (depth-first, "
                      "post-order).")


# -- a network built from Tensors, compared with miniflow's static graph ----------


def _two_layer_reference(X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray]
                         ) -> tuple[float, dict[str, np.ndarray]]:
    """Loss and gradients of Linear, Sigmoid, Linear, Sigmoid, MSE: miniflow's graph."""
    nodes = {name: Input(name) for name in ("X", "y", "W1", "b1", "W2", "b2")}
    hidden = miniflow.Sigmoid(miniflow.Linear(nodes["X"], nodes["W1"], nodes["b1"]))
    output = miniflow.Sigmoid(miniflow.Linear(hidden, nodes["W2"], nodes["b2"]))
    cost = miniflow.MSE(nodes["y"], output)
    feed = {nodes["X"]: X, nodes["y"]: y, **{nodes[n]: v.copy() for n, v in params.items()}}
    names = ["W1", "b1", "W2", "b2"]
    value, grads = miniflow.value_and_grad(cost, feed, [nodes[n] for n in names])
    return float(value), dict(zip(names, grads))


def _network_loss_mistakes(X: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]
                           ) -> dict[str, float]:
    def sigmoid(z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-z))

    column = y.reshape(-1, 1)
    hidden = sigmoid(X @ p["W1"] + p["b1"])
    output = sigmoid(hidden @ p["W2"] + p["b2"])
    return {
        "y was not reshaped to a column: the prediction has shape (n, 1) and y (n,), so "
        "prediction - y broadcasts to an (n, n) matrix. Give y the prediction's shape.":
            float(np.mean((output - y) ** 2)),
        "the loss is the sum of the squared errors, not their mean: use .mean() (or "
        "multiply by 1 / n).": float(np.sum((output - column) ** 2)),
        "the output layer has no sigmoid: prediction = sigmoid(hidden @ W2 + b2).":
            float(np.mean((hidden @ p["W2"] + p["b2"] - column) ** 2)),
        "the hidden layer has no sigmoid: hidden = sigmoid(X @ W1 + b1).":
            float(np.mean((sigmoid((X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]) - column)
                          ** 2)),
        "the hidden layer has no bias: hidden = sigmoid(X @ W1 + b1).":
            float(np.mean((sigmoid(sigmoid(X @ p["W1"]) @ p["W2"] + p["b2"]) - column) ** 2)),
        "the output layer has no bias: prediction = sigmoid(hidden @ W2 + b2).":
            float(np.mean((sigmoid(hidden @ p["W2"]) - column) ** 2)),
        "the error is not squared: the loss is the mean of (prediction - y) ** 2, "
        "which is (error * error).mean().": float(np.mean(output - column)),
    }


def _network_parameters(rng: np.random.Generator, n: int, d: int, h: int
                        ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    X = rng.normal(size=(n, d))
    y = rng.integers(0, 2, size=n).astype(np.int64)
    params = {"W1": rng.normal(size=(d, h)), "b1": rng.normal(size=h),
              "W2": rng.normal(size=(h, 1)), "b2": rng.normal(size=1)}
    return X, y, params


def check_tensor_network(tensor_cls: type, loss_fn: Callable[..., Any], *, n: int, d: int,
                         h: int, seed: int = 0) -> None:
    """``loss_fn(X, y, params)`` then ``loss.backward()`` must give miniflow's static
    graph's loss and gradients (Linear, Sigmoid, Linear, Sigmoid, MSE) on the same
    weights."""
    rng = np.random.default_rng(seed)
    X, y, values = _network_parameters(rng, n, d, h)
    expected_value, expected = _two_layer_reference(X, y, values)
    params = {name: _new_tensor(tensor_cls, v.copy(), name) for name, v in values.items()}
    shapes = f"X: shape {X.shape}, y: shape {y.shape}, hidden size {h}"
    loss = _run(f"two_layer_loss(X, y, params) ({shapes})",
                lambda: loss_fn(X.copy(), y.copy(), params))
    if not isinstance(loss, tensor_cls):
        _fail(f"two_layer_loss should return the loss as a Tensor (so that loss.backward() "
              f"works), got {type(loss).__name__} ({shapes}).")
    value = _as_float_array(getattr(loss, "data", None), "the loss's .data")
    if value.size != 1:
        _fail(f"the loss should be a single number, got .data of shape {value.shape} "
              f"({shapes}): take the mean over the whole batch.")
    got = float(value.reshape(-1)[0])
    if not _isclose(got, expected_value, rtol=1e-6, atol=1e-9):
        for description, wrong in _reference_quietly(
                lambda: _network_loss_mistakes(X, y, values)).items():
            if _isclose(got, wrong, rtol=1e-6, atol=1e-9) and not _isclose(
                    wrong, expected_value, rtol=1e-6, atol=1e-9):
                _fail(f"two_layer_loss ({shapes}) gives {got:.6g} instead of "
                      f"{expected_value:.6g}; likely mistake: {description}")
    assert_close(got, expected_value,
                 what=f"the loss of two_layer_loss compared with miniflow's static graph "
                      f"({shapes})")
    for name, tensor in params.items():
        if not _array_equal(np.asarray(tensor.data), values[name]):
            _fail(f"two_layer_loss changed params['{name}'].data: computing the loss must "
                  "leave the weights as they are.")
    try:
        loss.backward()
    except AssertionError:
        raise
    except Exception as error:
        _fail(f"loss.backward() for two_layer_loss ({shapes}) raised {type(error).__name__}: "
              f"{error}." + _backward_error_hint(str(error)))
    if _graders_own(tensor_cls):
        _check_graph_not_cut(params, expected)
    for name, tensor in params.items():
        _assert_grad_close(getattr(tensor, "grad", None), expected[name],
                     what=(f"params['{name}'].grad after loss.backward(), compared with "
                           f"miniflow's static graph Linear, Sigmoid, Linear, Sigmoid, MSE on "
                           f"the same weights ({shapes})"))


def _graders_own(tensor_cls: type) -> bool:
    """Is every method of ``tensor_cls`` miniflow's own (the Tensor a test puts in place
    of the student's), so that a gradient that never arrives is the loss's fault?"""
    return all(_course_code(member) for member in vars(tensor_cls).values()
               if inspect.isfunction(member))


def _check_graph_not_cut(params: dict[str, Any], expected: dict[str, np.ndarray]) -> None:
    """A weight whose gradient is all zeros while the loss depends on it: the loss was
    computed from its ``.data`` (plain numpy), which records nothing to go back along.
    (The Tensor here is the grader's, so its operations and backward are right.)"""
    cut = [name for name, tensor in params.items()
           if np.shape(getattr(tensor, "grad", None)) == expected[name].shape
           and _allclose(np.asarray(tensor.grad, dtype=np.float64), 0.0)
           and not _allclose(expected[name], 0.0)]
    if cut:
        _fail(f"No gradient reached {', '.join(cut)}: the graph was cut\n"
              f"  After loss.backward(), params['{cut[0]}'].grad is all zeros, although the "
              "loss depends on it.\n"
              "  Likely mistake: part of the loss was computed on .data (plain numpy arrays), "
              "which records no operation to go back along. Keep every step a Tensor "
              "operation from the weights to the loss.")


def check_tensor_sgd_step(tensor_cls: type, step_fn: Callable[..., Any], *,
                          seed: int = 0) -> None:
    """``step_fn(params, learning_rate)`` moves every ``params[name].data`` by
    ``-learning_rate * params[name].grad``."""
    rng = np.random.default_rng(seed)
    for learning_rate in (0.5, 0.01):
        start = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
                 "W2": rng.normal(size=(4, 1)), "b2": rng.normal(size=1)}
        grads = {name: rng.normal(size=v.shape) for name, v in start.items()}
        params = {name: _new_tensor(tensor_cls, v.copy(), name) for name, v in start.items()}
        for name, tensor in params.items():
            tensor.grad = grads[name].copy()
        _run(f"sgd_step(params, learning_rate={learning_rate})",
             lambda lr=learning_rate: step_fn(params, lr))
        for name in start:
            data = _as_float_array(getattr(params[name], "data", None), f"params['{name}'].data")
            what = (f"the step sgd_step(params, learning_rate={learning_rate}) took for "
                    f"params['{name}'] (new .data - old .data)")
            if data.shape != start[name].shape:
                _fail(f"{what}: .data has shape {data.shape}, expected {start[name].shape}.")
            step = data - start[name]
            if _allclose(step, 0.0):
                _fail(f"{what} is zero: the parameters did not move. Change each tensor's "
                      ".data in place (a new name or a new Tensor is not the one in params).")
            if _allclose(step, learning_rate * grads[name]):
                _fail(f"{what} went uphill: subtract the gradient, do not add it.")
            if _allclose(step, -grads[name]):
                _fail(f"{what} is the whole gradient: multiply it by learning_rate "
                      f"({learning_rate}) first.")
            if _allclose(data, -learning_rate * grads[name]):
                _fail(f"{what}: the new .data is -learning_rate * grad, the old value was "
                      "thrown away. A step changes the old value; it does not replace it.")
            assert_close(step, -learning_rate * grads[name], what=what)
