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
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import miniflow
from miniflow.gradcheck import describe_failure as _describe_failure
from miniflow.graph import forward_and_backward, topological_sort
from miniflow.nodes import Add, DummyGrad, Input, Mul, Node, _sigmoid

__all__ = [
    "defined_in_notebook",
    "diagnose",
    "assert_close",
    "check_chain_rule",
    "in_place_of",
    "miniflow_in_place_of",
    "reference_tensor",
    "reference_topological_order",
    "check_forward",
    "check_backward",
    "check_fan_out",
    "check_repeated_input",
    "check_against_numerical",
    "check_topological_sort",
    "check_sgd_update",
    "check_accuracy",
    "check_train_epoch",
    "random_inputs",
]

RTOL = 1e-6
ATOL = 1e-8

# Captured when this module is imported: the grader imports it before any
# student cell runs (autograder.guard), so code that later replaces numpy's
# comparisons does not change how these checks compare.
_allclose, _isclose, _array_equal = np.allclose, np.isclose, np.array_equal


def _fail(message: str) -> None:
    # `raise ... from None`: the student sees our message, not our internals.
    raise AssertionError(message) from None


# -- where the code under test came from ------------------------------------


_PACKAGES = tuple(os.path.dirname(os.path.abspath(module.__file__)) + os.sep
                  for module in (miniflow, sys.modules[__name__.split(".")[0]]))


def _course_code(function: Any) -> bool:
    """Is this function's code miniflow's or the grader's own (whatever it is called)?"""
    code = getattr(inspect.unwrap(function), "__code__", None) if callable(function) else None
    filename = os.path.abspath(getattr(code, "co_filename", "") or "")
    return bool(code) and filename.startswith(_PACKAGES)


def _true_ancestors(cls: type) -> list[type]:
    """Every base class, read through type's own descriptor (a metaclass cannot lie)."""
    seen: list[type] = []
    stack = [cls]
    while stack:
        klass = stack.pop()
        if klass in seen:
            continue
        seen.append(klass)
        stack.extend(type.__dict__["__bases__"].__get__(klass))
    return seen


def _reference_inside(obj: Any) -> str | None:
    """What of miniflow's own code ``obj`` is or holds; None for the student's own."""
    if inspect.isclass(obj):
        for klass in _true_ancestors(obj):
            if klass in (Node, object):
                continue
            if klass is not obj and _course_code(getattr(klass, "forward", None)):
                return f"a subclass of miniflow's {klass.__name__}"
            for attribute, member in vars(klass).items():
                member = getattr(member, "__func__", member)
                if _course_code(member):
                    return f"{klass.__name__}.{attribute} is miniflow's own code"
        return None
    if _course_code(obj):
        return f"miniflow's {getattr(obj, '__name__', 'code')} under another name"
    return None


def defined_in_notebook(obj: Any, name: str | None = None) -> None:
    """The class or function under test must be the student's own.

    An ``import`` of miniflow's reference (``from miniflow import Linear``),
    a subclass of it, or its methods or code under the student's names would
    pass every check without teaching anything, so it scores zero. It is
    recognised by what the code is (where its code objects come from, its
    real base classes), not by what it calls itself.
    """
    name = name or getattr(obj, "__name__", repr(obj))
    module = getattr(obj, "__module__", "") or ""
    found = _reference_inside(obj)
    if found is not None or module.split(".")[0] in {"miniflow", "autograder"}:
        _fail(
            f"`{name}` is miniflow's reference implementation ({found or f'from {module}'}), "
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
        return bool(_allclose(a, b, rtol=1e-5, atol=1e-9 * max(scale, 1.0)))

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
    if _allclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=False):
        return
    error = np.abs(got_array - expected_array)
    worst = np.unravel_index(int(np.nanargmax(np.where(np.isnan(error), np.inf, error))),
                             error.shape) if error.ndim else ()
    index = tuple(int(i) for i in worst)
    _fail(f"{what} is wrong at element {index}: expected {expected_array[worst]:.6g}, "
          f"got {got_array[worst]:.6g} (shape {expected_array.shape})."
          + (f" Likely mistake: {hint}" if hint else ""))


class in_place_of:  # noqa: N801 (used as a statement: with checks.in_place_of(...))
    """``with checks.in_place_of(globals(), Tensor=...):`` in a test cell.

    Inside the block each name given points to the grader's version, so the
    test grades one exercise alone, not also the ones it builds on (one
    mistake costs one exercise); afterwards the student's own is back, even
    when the block failed. A ``with`` block, unlike ``try``/``finally``, keeps
    IPython's traceback pointing at the assert that failed.
    """

    def __init__(self, namespace: dict, **replacements: Any) -> None:
        self.namespace, self.replacements = namespace, replacements
        self.saved: dict[str, Any] = {}

    def __enter__(self) -> None:
        self.saved = {}
        for name, replacement in self.replacements.items():
            if name in self.namespace:
                self.saved[name] = self.namespace[name]
            self.namespace[name] = replacement

    def __exit__(self, *error: Any) -> bool:
        for name in self.replacements:
            if name in self.saved:
                self.namespace[name] = self.saved[name]
            else:
                self.namespace.pop(name, None)
        return False


def miniflow_in_place_of(namespace: dict, *names: str) -> in_place_of:
    """``with checks.miniflow_in_place_of(globals(), "sgd_update"):``: miniflow's
    functions of those names in place of the notebook's while the block runs."""
    return in_place_of(namespace, **{name: getattr(miniflow, name) for name in names})


def reference_topological_order(output: Any) -> list[Any]:
    """A right ``topological_order`` for "Autograd": every tensor ``output``
    depends on, once each, parents first, ``output`` last."""
    return _recorded_graph(output)


def reference_tensor(backpropagate: Callable[[Any], Any] | None = None) -> type:
    """The grader's own ``Tensor`` for "Autograd", with the notebook's interface.

    Tests of the exercises built on ``Tensor`` (``backpropagate``, the loss)
    run on it, so that a mistake in the student's ``Tensor`` costs only the
    ``Tensor`` exercise. Its ``backward()`` calls ``backpropagate`` (the
    student's, when that is what is graded) or, by default, a correct one.
    """
    from miniflow.nodes import unbroadcast

    def as_tensor(value: Any) -> Any:
        return value if isinstance(value, Tensor) else Tensor(value)

    class Tensor:
        def __init__(self, data: Any, parents: Sequence[Any] = (), op: str = "",
                     name: str | None = None) -> None:
            self.data = np.array(data, dtype=float)
            self.grad = np.zeros_like(self.data)
            self._parents = tuple(parents)
            self._backward: Callable[[], None] = lambda: None
            self._op = op
            self.name = name

        @property
        def shape(self) -> tuple[int, ...]:
            return self.data.shape

        def __repr__(self) -> str:
            return f"Tensor({self.name or self._op or 'leaf'}, shape={self.shape})"

        def _result(self, data: Any, parents: tuple, op: str,
                    shares: Callable[[np.ndarray], tuple]) -> Any:
            out = Tensor(data, parents=parents, op=op)

            def _backward() -> None:
                for parent, share in zip(parents, shares(out.grad)):
                    parent.grad = parent.grad + unbroadcast(share, parent.shape)

            out._backward = _backward
            return out

        def exp(self) -> Any:
            value = np.exp(self.data)
            return self._result(value, (self,), "exp", lambda g: (g * value,))

        def __add__(self, other: Any) -> Any:
            other = as_tensor(other)
            return self._result(self.data + other.data, (self, other), "+", lambda g: (g, g))

        def __mul__(self, other: Any) -> Any:
            other = as_tensor(other)
            return self._result(self.data * other.data, (self, other), "*",
                                lambda g: (g * other.data, g * self.data))

        def __matmul__(self, other: Any) -> Any:
            other = as_tensor(other)
            return self._result(self.data @ other.data, (self, other), "@",
                                lambda g: (g @ other.data.T, self.data.T @ g))

        def sum(self) -> Any:
            return self._result(self.data.sum(), (self,), "sum",
                                lambda g: (np.broadcast_to(g, self.shape),))

        def sigmoid(self) -> Any:
            s = _sigmoid(self.data)
            return self._result(s, (self,), "sigmoid", lambda g: (g * s * (1.0 - s),))

        def __radd__(self, other: Any) -> Any:
            return self + other

        def __rmul__(self, other: Any) -> Any:
            return self * other

        def __neg__(self) -> Any:
            return self * -1.0

        def __sub__(self, other: Any) -> Any:
            return self + (-as_tensor(other))

        def __rsub__(self, other: Any) -> Any:
            return as_tensor(other) - self

        def mean(self) -> Any:
            return self.sum() * (1.0 / self.data.size)

        def backward(self) -> None:
            if backpropagate is None:
                _right_backpropagation(self)
            else:
                backpropagate(self)

    return Tensor


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


def _pinned(student: type, reference: type) -> type:
    """``student``, whose forward still runs, but whose value is then the reference's.

    Backward checks build this class, so that they judge ``backward`` alone:
    a wrong forward is the forward test's failure, not also the backward's
    (one mistake costs one exercise). State the student's forward keeps for
    its backward (a cached difference, say) is the student's own.
    """
    def forward(self: Node) -> None:
        student.forward(self)
        values = [np.array(n.value) for n in self.inbound_nodes]
        inputs, ref = _build(reference, values, None)
        for node, value in zip(inputs, values):
            node.value = value
        _reference_quietly(ref.forward)
        self.value = ref.value

    return type(student.__name__, (student,),
                {"forward": forward, "__qualname__": student.__qualname__,
                 "__module__": student.__module__})


def _run(what: str, function: Callable[[], Any]) -> Any:
    try:
        return function()
    except AssertionError:
        raise
    except Exception as error:
        # Name the node and the line when the error comes from a forward or backward.
        plain = f"{type(error).__name__}: {error}"
        described = _describe_failure(error)
        if described == plain:
            _fail(f"{what} raised {plain}")
        _fail(described if what.endswith(("forward()", "backward()"))
              else f"{what}: {described}")


def _describe_inputs(names: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(f"{n}: shape {np.shape(v)}" for n, v in zip(names, values))


def check_chain_rule(student_fn: Callable[..., Any], x: float, y: float, z: float,
                     upstream: float) -> None:
    """``student_fn(x, y, z, upstream)`` against miniflow's graph of f = x*y + x*z."""
    x, y, z, upstream = (float(v) for v in (x, y, z, upstream))
    inputs = [Input(name) for name in "xyz"]
    f = Add(Mul(inputs[0], inputs[1]), Mul(inputs[0], inputs[2]))
    dummy = DummyGrad(f)
    _, expected = miniflow.value_and_grad(dummy, {**dict(zip(inputs, (x, y, z))),
                                                  dummy: upstream}, inputs)
    call = f"chain_rule_gradients({x:.3f}, {y:.3f}, {z:.3f}, {upstream:.3f})"
    got = _run(call, lambda: student_fn(x, y, z, upstream))
    assert_close(_as_float_array(got, call), np.asarray(expected, dtype=float),
                 what=f"{call} (dL/dx, dL/dy, dL/dz)")


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
    node, _, got = _gradients(_pinned(student, reference), values, names, wrt, upstream,
                              loss=loss)
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

    expected, got = gradients(reference), gradients(_pinned(student, reference))
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

    assert_close(gradient(_pinned(student, reference)), gradient(reference),
                 what=f"gradient of x in {student.__name__}({', '.join(['x'] * copies)})")


def check_against_numerical(
    student: type, values: Sequence[Any], *, names: Sequence[str] | None = None,
    wrt: Sequence[int] | None = None, tolerance: float = 1e-5,
    reference: type | None = None,
) -> None:
    """The student's backward must agree with central differences of the forward.

    The forward differentiated is the reference's (``reference``, by default
    miniflow's node of the same name when there is one): a correct backward
    is not blamed for a wrong forward, which the forward test reports.
    """
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    wrt = list(range(len(values))) if wrt is None else list(wrt)
    if reference is None:
        candidate = getattr(miniflow, student.__name__, None)
        if isinstance(candidate, type) and issubclass(candidate, Node):
            reference = candidate
    inputs, node = _build(_pinned(student, reference) if reference else student, values, names)
    feed = dict(zip(inputs, [np.array(v) for v in values]))
    report = _run(f"checking {student.__name__}'s gradients numerically",
                  lambda: miniflow.check_gradients(node, feed, [inputs[i] for i in wrt],
                                                   tolerance=tolerance))
    if not report.passed:
        _fail(f"{student.__name__}'s backward disagrees with a numerical gradient of "
              f"{'the right' if reference else 'its'} forward:\n{report}")


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
            if _allclose(step, -grad):
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



# -- training (04_training) ---------------------------------------------------


class _RecordingMSE(miniflow.MSE):
    """miniflow's MSE that remembers every batch its backward pass saw."""

    def __init__(self, y: Node, a: Node, X: Node) -> None:
        super().__init__(y, a, name="cost")
        self.watched_X, self.watched_y = X, y
        self.batches: list[tuple[np.ndarray, np.ndarray, float]] = []

    def backward(self) -> None:
        super().backward()
        batch = (np.array(self.watched_X.value, dtype=float),
                 np.array(self.watched_y.value, dtype=float), float(self.value))
        previous = self.batches[-1] if self.batches else None
        # Two backward passes on the same batch in a row count as one step.
        if previous is None or not (previous[0].shape == batch[0].shape
                                    and _array_equal(previous[0], batch[0])):
            self.batches.append(batch)


def _linear_regression(X: np.ndarray, y: np.ndarray, start: list[np.ndarray],
                       cost_cls: Callable[..., Node] | None = None
                       ) -> tuple[list[Node], Node, Input, Input, list[Input]]:
    X_node, y_node, W, b = Input("X"), Input("y"), Input("W"), Input("b")
    prediction = miniflow.Linear(X_node, W, b, name="prediction")
    cost = (cost_cls(y_node, prediction, X_node) if cost_cls
            else miniflow.MSE(y_node, prediction, name="cost"))
    graph = topological_sort({X_node: X, y_node: y, W: start[0].copy(), b: start[1].copy()})
    return graph, cost, X_node, y_node, [W, b]


def _row_indices(X: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Which rows of ``X`` a batch holds (-1 for a row that is not in X)."""
    if batch.ndim != 2 or batch.shape[1] != X.shape[1]:
        _fail(f"the graph was fed X of shape {batch.shape}: each batch should be whole rows "
              f"of X, shape (batch_size, {X.shape[1]}).")
    distance = np.abs(batch[:, None, :] - X[None, :, :]).max(axis=2)
    indices = distance.argmin(axis=1)
    indices[distance[np.arange(len(batch)), indices] > 1e-12] = -1
    return indices


def _epoch_run(train_epoch: Callable[..., Any], X: np.ndarray, y: np.ndarray,
               start: list[np.ndarray], *, batch_size: int, learning_rate: float, seed: int
               ) -> tuple[Any, _RecordingMSE, list[Input]]:
    graph, cost, X_node, y_node, trainables = _linear_regression(X, y, start, _RecordingMSE)
    call = (f"train_epoch(graph, cost, X_node, y_node, trainables, X, y, "
            f"batch_size={batch_size}, learning_rate={learning_rate}, seed={seed})")
    result = _run(call, lambda: train_epoch(graph, cost, X_node, y_node, trainables, X.copy(),
                                            y.copy(), batch_size=batch_size,
                                            learning_rate=learning_rate, seed=seed))
    if not cost.batches:
        _fail(f"{call} never ran a backward pass: for each mini-batch, set X_node.value and "
              "y_node.value, then call forward_and_backward(graph, output=cost, "
              "trainables=trainables).")
    return result, cost, trainables


def _check_batches(cost: _RecordingMSE, X: np.ndarray, y: np.ndarray, batch_size: int) -> list[
        np.ndarray]:
    n = len(X)
    batches = []
    for X_batch, y_batch, _ in cost.batches:
        rows = _row_indices(X, X_batch)
        if np.any(rows < 0):
            _fail("the graph was fed X rows that are not rows of the X passed in: feed "
                  "X[rows] for a set of row numbers.")
        if y_batch.reshape(-1).shape != rows.shape or not _allclose(y_batch.reshape(-1),
                                                                      y[rows]):
            _fail("the targets fed with a batch are not the targets of its rows: X and y were "
                  "shuffled differently. Draw one permutation and index both with it.")
        batches.append(rows)
    sizes = [len(rows) for rows in batches]
    seen = np.concatenate(batches)
    missing = sorted(set(range(n)) - set(seen.tolist()))
    if missing:
        _fail(f"one epoch with batch_size={batch_size} on {n} rows never used rows {missing}: "
              f"every row must be used once. Batch sizes were {sizes}; keep the last, smaller "
              f"batch (range(0, {n}, {batch_size})).")
    if len(seen) != n:
        _fail(f"one epoch used {len(seen)} rows for {n} rows of data (batch sizes {sizes}): "
              "each row must appear in exactly one batch. Slice the permutation as "
              "order[start:start + batch_size] with start stepping by batch_size.")
    expected = -(-n // batch_size)
    if len(batches) != expected or max(sizes) > batch_size:
        _fail(f"one epoch with batch_size={batch_size} on {n} rows should take {expected} "
              f"steps of at most {batch_size} rows; got batch sizes {sizes}.")
    return batches


def check_train_epoch(train_epoch: Callable[..., Any], *, seed: int = 0) -> None:
    """One epoch of mini-batch SGD on a linear regression the check builds.

    ``train_epoch(graph, cost, X_node, y_node, trainables, X, y, batch_size=,
    learning_rate=, seed=)`` must feed every row once, in batches of
    ``batch_size`` (the last may be smaller), in an order shuffled by
    ``seed`` with X and y kept together, take one SGD step after each batch,
    and return the mean batch loss.
    """
    rng = np.random.default_rng(seed)
    n, d = 23, 3
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    start = [rng.normal(size=(d, 1)), rng.normal(size=1)]
    learning_rate = 0.05
    for batch_size in (5, 8, n):
        result, cost, trainables = _epoch_run(train_epoch, X, y, start, batch_size=batch_size,
                                              learning_rate=learning_rate, seed=seed + 1)
        batches = _check_batches(cost, X, y, batch_size)
        if batch_size < n and _array_equal(np.concatenate(batches), np.arange(n)):
            _fail("the rows came in their original order: shuffle them each epoch with "
                  "order = np.random.default_rng(seed).permutation(len(X)).")
        # Replay the same batches with miniflow's SGD: the weights must agree.
        graph, ref_cost, X_node, y_node, expected = _linear_regression(X, y, start)
        for rows in batches:
            X_node.value, y_node.value = X[rows], y[rows]
            forward_and_backward(graph, output=ref_cost, trainables=expected)
            miniflow.sgd_update(expected, learning_rate)
        for got, want, begin in zip(trainables, expected, start):
            got_value = _as_float_array(got.value, f"{got.name}.value after the epoch")
            if got_value.shape == begin.shape and _array_equal(got_value, begin):
                _fail(f"{got.name} did not change during the epoch: call "
                      "sgd_update(trainables, learning_rate) after each batch's backward pass.")
            assert_close(got_value, want.value,
                         what=(f"{got.name} after one epoch (batch_size={batch_size}, "
                               f"learning_rate={learning_rate}); expected one SGD step after "
                               "each batch's forward_and_backward"))
        losses = np.array([loss for _, _, loss in cost.batches])
        sizes = np.array([len(rows) for rows in batches], dtype=float)
        got_loss = _as_float_array(result, "the value train_epoch returned")
        if got_loss.size != 1:
            _fail(f"train_epoch should return one number, the mean batch loss; got shape "
                  f"{got_loss.shape}.")
        if not any(_isclose(got_loss.item(), target, rtol=1e-6)
                   for target in (losses.mean(), np.average(losses, weights=sizes))):
            _fail(f"train_epoch returned {got_loss.item():.6g}; the mean of the batch losses "
                  f"is {losses.mean():.6g} (the last batch's loss is {losses[-1]:.6g}). "
                  "Collect each batch's loss and return their mean.")
    orders = []
    for run_seed in (seed + 1, seed + 1, seed + 2):
        _, cost, _ = _epoch_run(train_epoch, X, y, start, batch_size=5,
                                learning_rate=learning_rate, seed=run_seed)
        orders.append(np.concatenate(_check_batches(cost, X, y, 5)))
    if not _array_equal(orders[0], orders[1]):
        _fail("two epochs with the same seed visited the rows in different orders: draw the "
              "permutation from np.random.default_rng(seed), not the global np.random.")
    if _array_equal(orders[0], orders[2]):
        _fail("seed=1 and seed=2 gave the same order of rows: use the seed argument, "
              "np.random.default_rng(seed), so each epoch can have its own order.")


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
    if np.all(np.isfinite(got)) and not _allclose(sums, 1.0, atol=1e-8):
        hint = ""
        if x.ndim == 2 and _allclose(got.sum(axis=0), 1.0):
            hint = (" Its columns sum to 1 instead: normalise over axis=1 (the classes of one "
                    "example), not axis=0 (the batch).")
        elif _isclose(got.sum(), 1.0):
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
        _, _, got = _gradients(_pinned(student, reference), values, names, wrt, upstream,
                               loss=loss)
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
            if w.shape != e.shape or _allclose(w, e, rtol=1e-5, atol=1e-9):
                compared = 0  # indistinguishable from the right answer here
                break
            if g is None or g.shape != w.shape or not _allclose(g, w, rtol=1e-5, atol=1e-9):
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
        if wrong.shape != expected.shape or _allclose(wrong, expected, rtol=1e-5, atol=1e-9):
            continue
        if got.shape == wrong.shape and _allclose(got, wrong, rtol=1e-5, atol=1e-9):
            _fail(f"{student.__name__}.value (inputs: {_describe_inputs(names, values)}) is "
                  f"wrong in a recognisable way: {description}")


def check_loss_after_linear(
    student: type, reference: type, X: Any, W: Any, b: Any, target: Any, *,
    target_position: int,
) -> None:
    """The student's loss on top of miniflow's ``Linear``: a whole small network.

    ``target`` (regression targets or class labels) is the loss's input at
    ``target_position``; the layer's output is the other one. The gradients of
    X, W and b must match the reference graph's. The loss's value is the
    reference's (its forward has a test of its own), so only the backward is
    judged here.
    """
    student = _pinned(student, reference)
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
    _, expected = miniflow.value_and_grad(ref_loss, ref_feed, ref_wrt)
    loss, feed, wrt = network(student)
    _, got = _run(f"{student.__name__} after a Linear layer ({shapes})",
                  lambda: miniflow.value_and_grad(loss, feed, wrt))
    for node, g, e in zip(wrt, got, expected):
        assert_close(g, e, what=(f"the gradient of {node.name} through a Linear layer and "
                                 f"your {student.__name__} ({shapes})"))


__all__ += [
    "check_function",
    "check_probability_rows",
    "check_stable_forward",
    "check_gradient_shapes",
    "check_known_mistakes",
    "check_forward_mistakes",
    "check_loss_after_linear",
]


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
        return (" A += tried to add a larger array into a smaller .grad: the operand was "
                "broadcast, so sum the gradient back to its shape first, "
                "unbroadcast(gradient, self.data.shape).")
    if "matmul" in text or "not aligned" in text:
        return (" The shapes of a matrix product do not fit: for out = a @ b, "
                "a.grad += out.grad @ b.data.T and b.grad += a.data.T @ out.grad "
                "(write down each shape).")
    if "could not be broadcast" in text:
        return (" Two arrays of different shapes were combined: check that each gradient "
                "has its tensor's shape (unbroadcast, or a transpose in a matrix product).")
    return ""


_TensorMistake = Callable[[list[np.ndarray], np.ndarray], Sequence[Any]]


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
                        f"broadcast, so sum its gradient back, unbroadcast(gradient, "
                        f"{name}.data.shape).")
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
    order: list[Any] = []
    done: set[int] = set()
    stack: list[tuple[Any, bool]] = [(output, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in done:
            continue
        done.add(id(tensor))
        stack.append((tensor, True))
        stack.extend((p, False) for p in tensor._parents if id(p) not in done)
    return order


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
            _fail(f"for {what}, the _backward of {ops.label(tensor)} never ran: call the "
                  "_backward of every tensor in topological_order(output), in reverse.")
        if count > 1:
            _fail(f"for {what}, the _backward of {ops.label(tensor)} ran {count} times in one "
                  "backward pass, so its gradient was passed on more than once. Run each "
                  "tensor's _backward exactly once: a recursive backward that calls it "
                  "again every time a shared tensor is reached double-counts.")
    position = {id(t): i for i, t in enumerate(ops.ran)}
    for tensor in graph:
        for parent in dict.fromkeys(tensor._parents):
            if id(parent) in position and id(tensor) in position and \
                    position[id(parent)] < position[id(tensor)]:
                _fail(f"for {what}, the _backward of {ops.label(parent)} ran before the one "
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
                  "be ones (d output / d output = 1): after zeroing every gradient, set "
                  "output.grad = np.ones_like(output.data), then run the _backward functions.")
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
        "prediction - y broadcasts to an (n, n) matrix. Use np.reshape(y, (-1, 1)).":
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
    for name, tensor in params.items():
        _assert_grad_close(getattr(tensor, "grad", None), expected[name],
                     what=(f"params['{name}'].grad after loss.backward(), compared with "
                           f"miniflow's static graph Linear, Sigmoid, Linear, Sigmoid, MSE on "
                           f"the same weights ({shapes})"))


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
                _fail(f"{what} is zero: the parameters did not move. Update each tensor's "
                      "data in place, tensor.data -= learning_rate * tensor.grad.")
            if _allclose(step, learning_rate * grads[name]):
                _fail(f"{what} went uphill: subtract the gradient "
                      "(tensor.data -= learning_rate * tensor.grad).")
            if _allclose(step, -grads[name]):
                _fail(f"{what} is the whole gradient: multiply it by learning_rate "
                      f"({learning_rate}) first.")
            if _allclose(data, -learning_rate * grads[name]):
                _fail(f"{what}: the new .data is -learning_rate * grad, the old value was "
                      "thrown away. Subtract from it: tensor.data -= learning_rate * tensor.grad.")
            assert_close(step, -learning_rate * grads[name], what=what)


__all__ += [
    "check_tensor_forward",
    "check_tensor_backward",
    "check_topological_order",
    "check_backpropagation",
    "check_tensor_network",
    "check_tensor_sgd_step",
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
        if not target / _INIT_FACTOR <= spread <= target * _INIT_FACTOR:
            effect = ("so large that the sigmoids saturate (outputs stuck near 0 or 1, "
                      "gradients near 0)" if spread > target else
                      "so small that the signal and its gradient shrink layer by layer")
            _fail(f"{call}: the entries of {name} ({n_in} inputs per unit) have standard "
                  f"deviation {spread:.3g}, {effect}. Draw them with standard deviation "
                  f"about 1/sqrt(n_in) = {target:.3g}: rng.normal(size=...) / "
                  "np.sqrt(n_in) (section 4).")
    _, _, _, again = _built_network(build_network, n_inputs, n_hidden, n_classes, seed)
    if not all(_array_equal(a, b) for a, b in zip(arrays, again)):
        _fail(f"{call} gave different weights on two calls: draw them from "
              "np.random.default_rng(seed), so that a run can be repeated exactly.")
    _, other, _, different = _built_network(build_network, n_inputs, n_hidden, n_classes,
                                            seed + 1)
    if _array_equal(arrays[0], different[0]):
        _fail(f"{call} and {other} gave the same W1: use the seed argument "
              "(np.random.default_rng(seed)).")


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
                  "(as when predicting new images): it ran the loss node, which needs labels. "
                  "Run the graph only up to network.logits.")
        if result is None:
            _fail(f"{call} returned None: return the predicted labels.")
        got = np.asarray(result)
        if got.ndim == 2 and got.shape == (n, n_classes):
            _fail(f"{call} returned shape {got.shape}: one score per class (the logits). "
                  "Return the class with the largest score of each row: "
                  "np.argmax(logits, axis=1).")
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


__all__ += [
    "check_network_graph",
    "check_initial_weights",
    "check_predict",
    "check_training",
]
