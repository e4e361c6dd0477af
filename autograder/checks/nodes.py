"""Checks for nodes, layers and losses (01_graphs ``Mul``, 02_layers, 03_losses).

A node is compared with miniflow's reference on seeded random inputs:
forward value, gradients (starting from the reference forward value, so a
wrong forward is not blamed on a right backward), two consumers, repeated
inputs, numerical gradients, shapes, stability, and known mistakes named.

Longer than a module of the grader may be (about 500 lines): it is course
content, one check per exercise of three notebooks, in the notebooks' order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import miniflow
from autograder.checks.core import (
    allclose as _allclose,
    as_arrays as _as_arrays,
    as_float_array as _as_float_array,
    assert_close,
    build_node as _build,
    call_without_warnings as _call_without_warnings,
    describe_inputs as _describe_inputs,
    fail as _fail,
    isclose as _isclose,
    pinned as _pinned,
    reference_quietly as _reference_quietly,
    run_check as _run,
    value_range as _value_range,
)
from miniflow.graph import topological_sort
from miniflow.nodes import Add, DummyGrad, Input, Mul, Node, _sigmoid  # noqa: PLC2701

__all__ = [
    "check_forward",
    "check_backward",
    "check_fan_out",
    "check_repeated_input",
    "check_against_numerical",
    "check_function",
    "check_probability_rows",
    "check_stable_forward",
    "check_gradient_shapes",
    "check_known_mistakes",
    "check_forward_mistakes",
    "known_mistakes",
    "check_loss_after_linear",
]


def check_forward(
    student: type, reference: type, values: Sequence[Any], *,
    names: Sequence[str] | None = None, batch_size: int | None = None, **known: Any,
) -> None:
    """``student(*inputs).forward()`` must give the reference's value (``known``: what
    else the diagnosis may use, ``classes=`` say: see ``assert_close``)."""
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    feed_values = [np.array(v) for v in values]
    inputs, node = _build(student, feed_values, names)
    ref_inputs, ref_node = _build(reference, feed_values, names)
    graph = _run("topological_sort", lambda: topological_sort(dict(zip(inputs, feed_values))))
    ref_graph = topological_sort(dict(zip(ref_inputs, [np.array(v) for v in values])))
    _run(f"{student.__name__}.forward()", lambda: [n.forward() for n in graph])
    for n in ref_graph:
        n.forward()
    known.setdefault("operands", tuple(feed_values))
    what = f"{student.__name__}.value for inputs ({_describe_inputs(names, values)})"
    if len(values) > 2 and _takes_any_number(reference):
        _check_all_inputs_used(node.value, ref_node.value, reference, feed_values, what)
    assert_close(node.value, ref_node.value, batch_size=batch_size, **known, what=what)


def _takes_any_number(cls: type) -> bool:
    """Does ``cls(*inputs)`` take any number of inputs (``Mul``, ``Add``)?"""
    import inspect

    return any(p.kind is inspect.Parameter.VAR_POSITIONAL
               for p in inspect.signature(cls).parameters.values())


def _check_all_inputs_used(got: Any, expected: Any, reference: type,
                           values: Sequence[np.ndarray], what: str) -> None:
    """A node of three or more inputs whose value is the reference's for the first two
    only: the others were left out."""
    inputs, node = _build(reference, values[:2], ["a", "b"])
    for n in topological_sort(dict(zip(inputs, values[:2]))):
        n.forward()
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return  # not numbers at all: assert_close says so
    first_two = np.asarray(node.value, dtype=float)
    if got_array.shape == first_two.shape and _allclose(got_array, first_two) and \
            not _allclose(first_two, np.asarray(expected, dtype=float)):
        _fail(f"Only the first two of {len(values)} inputs were used\n  {what}: the value "
              "is what the first two inputs alone give.\n  Likely mistake: a node may have "
              "any number of inputs; use every one of self.inbound_nodes.")


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
    **known: Any,
) -> None:
    """``student``'s gradients w.r.t. each input must equal the reference's.

    The diagnosis knows the inputs (NaN where one is zero comes from a
    division by it) and a number sent as the upstream gradient; ``known``
    adds more (``classes=``, see ``assert_close``).

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
    # What a backward that leaves out the upstream gradient would give.
    _, _, unscaled = ([], [], [None] * len(wrt)) if loss else _gradients(
        reference, values, names, wrt, np.ones(np.shape(upstream)), loss=loss)
    for i, g, e, u in zip(wrt, got, expected, unscaled):
        what = (f"{student.__name__}.gradients[{names[i]}] (inputs: "
                f"{_describe_inputs(names, values)})")
        if g is None:
            _fail(f"{what} was not set: backward() must store the gradient for every input "
                  f"in self.gradients, keyed by the input node.")
        _check_upstream_used(g, e, u, what)
        assert_close(g, e, what=what, batch_size=batch_size, inputs=tuple(values),
                     upstream=float(upstream) if np.size(upstream) == 1 and not loss else None,
                     **known)


def _check_upstream_used(got: Any, expected: Any, unscaled: Any, what: str) -> None:
    """``got`` is what the rule gives when the upstream gradient is ones: it was left out."""
    if unscaled is None:
        return
    try:
        got_array = np.array(got, dtype=np.float64)
    except (TypeError, ValueError):
        return  # assert_close says what is wrong with it
    want, without = np.asarray(expected, dtype=np.float64), np.asarray(unscaled, np.float64)
    if got_array.shape != want.shape or \
            _allclose(want, without) or not _allclose(got_array, without):
        return
    _fail("The upstream gradient was not multiplied in\n"
          f"  {what} is the local derivative alone: it is what a backward pass gives when "
          "the upstream gradient is all ones.\n"
          "  Likely mistake: each consumer sends back its upstream gradient "
          "(consumer.gradients[self]); the chain rule multiplies the local derivative by it.")


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


# -- layers and losses (02_layers, 03_losses) ----------------------------------

_KnownMistake = Callable[[list[np.ndarray], Any, list[np.ndarray]], Sequence[Any]]


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
            hint = " The whole array sums to 1: normalise each row on its own."
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
            hint = (" Likely mistake: an in-place += tried to add a larger array into a "
                    "smaller one: did a gradient keep the batch dimension? A bias's gradient "
                    "is summed over the batch (axis=0).")
        elif "could not be broadcast" in text:
            hint = (" Likely mistake: two arrays of different shapes were combined; most "
                    "likely a gradient does not have its input's shape (a transposed product, "
                    "or a batch dimension left in). Write down the shape of each gradient you "
                    "compute.")
        elif "matmul" in text or "not aligned" in text:
            hint = (" Likely mistake: the shapes of a matrix product do not fit. Write down "
                    "each factor's shape: the result must have the shape of the input whose "
                    "gradient it is, which tells you which factor to transpose and in which "
                    "order to multiply.")
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
                    "broadcast over the batch (like a bias), sum its gradient over the "
                    "batch.")
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


# -- the mistakes students make, by exercise --------------------------------------
#
# Each maps a description (what went wrong and how to fix it) to the wrong
# answer that mistake gives: ``f(values, upstream, expected) -> gradients``
# for a backward (check_known_mistakes), ``f(values, expected) -> value`` for
# a forward (check_forward_mistakes). Visible and hidden tests share them, so
# a student whose visible test fails reads the same "likely mistake" as the
# grade would.


def _onehot_over_n(values: Sequence[np.ndarray]) -> np.ndarray:
    labels = np.asarray(values[1]).astype(int)
    onehot = np.zeros(np.shape(values[0]))
    onehot[np.arange(len(labels)), labels] = 1.0
    return onehot / len(labels)


def _label_columns_over_n(values: Sequence[np.ndarray]) -> np.ndarray:
    """1/N in every row of each column that is some row's label (``grad[:, labels]``)."""
    labels = np.asarray(values[1]).astype(int)
    columns = np.zeros(np.shape(values[0]))
    columns[:, labels] = 1.0
    return columns / len(labels)


_LOSS_WITHOUT_SEED = (
    "the gradients are all zero. A loss has no consumers, so a loop over "
    "self.outbound_nodes never runs: its upstream gradient is dL/dL = 1.")

_KNOWN_MISTAKES: dict[str, dict[str, Callable[..., Any]]] = {
    "Linear.backward": {
        "dX is missing a transpose: write down the shapes, dX has X's shape "
        "(batch, n_in) and G is (batch, n_out).": lambda v, g, e: [g @ v[1], None, None],
        "the upstream gradient is ignored: each gradient is built from "
        "G = consumer.gradients[self], the gradient each consumer sends back.":
            lambda v, g, e: [np.ones_like(g) @ v[1].T, v[0].T @ np.ones_like(g),
                             np.ones_like(g).sum(axis=0)],
    },
    "Sigmoid.backward": {
        "the slope was computed from the input x; the sigmoid's slope comes from its "
        "output, self.value.": lambda v, g, e: [g * v[0] * (1 - v[0])],
        "the upstream gradient is ignored: multiply the slope by consumer.gradients[self].":
            lambda v, g, e: [_sigmoid(v[0]) * (1 - _sigmoid(v[0]))],
        "the slope is missing one of its two factors; both factors come from the "
        "output, self.value.": lambda v, g, e: [g * _sigmoid(v[0])],
        "the slope mixes the output and the input x; both of its factors come from the "
        "output, self.value.": lambda v, g, e: [g * _sigmoid(v[0]) * (1 - v[0])],
    },
    "MSE.forward": {
        "y - a broadcast to an (m, m) matrix of every target minus every prediction: "
        "give both the same shape, a column, before subtracting.":
            lambda v, e: np.mean((v[0].reshape(-1) - v[1].reshape(-1, 1)) ** 2),
    },
    "MSE.backward": {
        _LOSS_WITHOUT_SEED: lambda v, g, e: [0 * e[0], 0 * e[1]],
        "the factor 2 from the derivative of the square is missing.":
            lambda v, g, e: [e[0] / 2, e[1] / 2],
    },
    "CrossEntropyWithSoftmax.backward": {
        _LOSS_WITHOUT_SEED: lambda v, g, e: [0 * e[0]],
        "the gradient is the softmax alone: subtract the one-hot labels, "
        "(softmax - onehot) / N.": lambda v, g, e: [e[0] + _onehot_over_n(v)],
        "the 1 was taken off whole columns, in every row at every label: take it off "
        "once per row, in that row's own label's column.":
            lambda v, g, e: [e[0] + _onehot_over_n(v) - _label_columns_over_n(v)],
    },
}


def known_mistakes(exercise: str) -> dict[str, Callable[..., Any]]:
    """The recognisable mistakes of one exercise, e.g. ``known_mistakes("Linear.backward")``.

    For ``check_known_mistakes`` (a ``.backward``) or ``check_forward_mistakes``
    (a ``.forward``). Raises KeyError naming the exercises that have some.
    """
    if exercise not in _KNOWN_MISTAKES:
        raise KeyError(f"no known mistakes for {exercise!r}; there are some for "
                       f"{', '.join(sorted(_KNOWN_MISTAKES))}")
    return dict(_KNOWN_MISTAKES[exercise])


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
