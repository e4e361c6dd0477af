"""Check analytic gradients against central differences.

Backpropagation computes gradients from derivative rules; a numerical
gradient nudges each input element by +-eps and watches the output move:

    d f / d x_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

The two should agree. How closely is measured by the relative error
``|a - n| / max(|a| + |n|, 1e-8)``: about 1e-7 or less is right in float64,
above 1e-2 is almost certainly a bug (CS231n's rule of thumb).

>>> report = check_gradients(cost, {x: x_value, W: W_value}, wrt=[W])
>>> print(report)        # a failing input: its worst element, both values
"""

from __future__ import annotations

import linecache
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from miniflow.graph import topological_sort, value_and_grad
from miniflow.nodes import DummyGrad, Node

__all__ = [
    "describe_failure",
    "relative_error",
    "numerical_gradients",
    "check_gradients",
    "check_tensor_gradients",
    "GradientCheck",
    "GradientCheckReport",
]

#: Relative error below which a float64 gradient counts as correct.
DEFAULT_TOLERANCE = 1e-6
#: Absolute error that always passes: central differences carry about 1e-10
#: of round-off, which is a large *relative* error on a tiny gradient.
DEFAULT_ATOL = 1e-8


def relative_error(analytic: Any, numerical: Any) -> np.ndarray:
    """Elementwise ``|a - n| / max(|a| + |n|, 1e-8)``."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-8)


def _as_float64(feed_dict: Mapping[Node, Any]) -> dict[Node, Any]:
    """Copies of the fed values, floating ones in float64; integers (labels) kept."""
    converted: dict[Node, Any] = {}
    for node, value in feed_dict.items():
        array = np.array(value)  # always a copy: the caller's arrays are never nudged
        if np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.bool_):
            array = array.astype(np.float64)
        converted[node] = array
    return converted


def describe_failure(error: BaseException) -> str:
    """``error`` in a student's terms: which node's forward or backward raised it,
    at which line of the code, and the message.

    The innermost ``forward``/``backward`` of a ``Node`` (or ``_backward`` of a
    define-by-run tensor) in the traceback is the one named; the line shown is
    the innermost line of code below it that is not numpy's, Python's or
    miniflow's own (a helper the method called, say).
    """
    message = f"{type(error).__name__}: {error}"
    library = tuple(os.path.dirname(path) for path in (np.__file__, os.__file__, __file__))
    method = None
    tb = error.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        owner = frame.f_locals.get("self")
        name = frame.f_code.co_name
        if name == "_backward":  # a tensor's local rule: it belongs to the result, out
            owner = frame.f_locals.get("out", owner)
        if (name in ("forward", "backward") and isinstance(owner, Node)) or (
                name == "_backward" and owner is not None):
            method = (owner, name, frame.f_code.co_filename, tb.tb_lineno)
        elif method is not None and not frame.f_code.co_filename.startswith(library):
            method = (*method[:2], frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    if method is None:
        return message
    owner, name, filename, line = method
    code = linecache.getline(filename, line).strip()
    return f"{owner!r}.{name}() raised {message}" + (f" (at `{code}`)" if code else "")


#: What a student's forward or backward raises that a check reports rather than crashes on.
_REPORTED_ERRORS = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError)


def _central_differences(values: np.ndarray, evaluate: Callable[[], float],
                         eps: float) -> np.ndarray:
    """d evaluate() / d values, nudging each element of ``values`` in place by +-eps
    (and putting it back)."""
    gradient = np.zeros_like(values)
    flat_value, flat_grad = values.reshape(-1), gradient.reshape(-1)
    for i in range(flat_value.size):
        original = flat_value[i]
        flat_value[i] = original + eps
        plus = evaluate()
        flat_value[i] = original - eps
        minus = evaluate()
        flat_value[i] = original
        flat_grad[i] = (plus - minus) / (2 * eps)
    return gradient


def _multi_use(graph: list[Node]) -> list[Node]:
    """Nodes whose value reaches more than one consumer (or one consumer twice)."""
    return [n for n in graph if len(n.outbound_nodes) > 1]


def _scalar_output(node: Node) -> float:
    """The number the gradients are gradients of (see value_and_grad)."""
    value = np.asarray(node.value, dtype=np.float64)
    if isinstance(node, DummyGrad):
        return float(np.sum(node.seed_gradient() * value))
    return float(np.sum(value))


def numerical_gradients(
    node: Node, feed_dict: Mapping[Node, Any], wrt: Sequence[Node], eps: float = 1e-6
) -> list[np.ndarray]:
    """Central-difference gradients of ``node`` w.r.t. each of ``wrt`` (fed Inputs).

    Works on float64 copies; the values in ``feed_dict`` are not changed.
    """
    feed = _as_float64(feed_dict)
    missing = [w for w in wrt if w not in feed]
    if missing:
        raise ValueError(
            f"numerical gradients need the inputs in feed_dict; {missing!r} are not there."
        )
    graph = topological_sort(feed)
    if node not in graph:
        raise ValueError(f"{node!r} is not connected to the inputs in feed_dict.")

    def evaluate() -> float:
        for n in graph:
            n.forward()
        return _scalar_output(node)

    results = []
    for w in wrt:
        value = feed[w]
        if not np.issubdtype(value.dtype, np.floating):
            raise ValueError(
                f"{w!r} holds {value.dtype} values; only floating inputs have gradients."
            )
        w.value = value
        results.append(_central_differences(value, evaluate, eps))
    evaluate()  # leave the graph holding the unperturbed values
    return results


def check_tensor_gradients(
    function: Callable[[], Any],
    wrt: Sequence[Any],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    atol: float = DEFAULT_ATOL,
    eps: float = 1e-6,
) -> GradientCheckReport:
    """``check_gradients`` for define-by-run tensors (assignment 6's ``Tensor``).

    ``function()`` builds the graph from the tensors in ``wrt`` and returns the
    output tensor; it is called again for every nudge, since a define-by-run
    graph exists only while it is computed. The analytic gradients are the
    ``.grad`` that ``output.backward()`` leaves (of ``sum(output.data)``); the
    numerical ones come from central differences of ``sum(output.data)``.
    Any object with ``.data``, ``.grad``, ``.name`` and ``backward()`` works.
    The tensors' values are left as they were.

    >>> print(check_tensor_gradients(lambda: two_layer_loss(X, y, params),
    ...                              list(params.values())))
    """
    wrt = list(wrt)
    names = [getattr(t, "name", None) or f"tensor {i}" for i, t in enumerate(wrt)]
    saved = [t.data for t in wrt]
    originals = [np.array(t.data, dtype=np.float64) for t in wrt]
    try:
        output = function()
        output.backward()
        analytic = [None if t.grad is None else np.array(t.grad, dtype=np.float64)
                    for t in wrt]
    except _REPORTED_ERRORS as error:
        return _broken_report(names, [o.shape for o in originals], error, tolerance, atol)

    def evaluate() -> float:
        return float(np.sum(np.asarray(function().data, dtype=np.float64)))

    checks = []
    try:
        for tensor, name, original, a in zip(wrt, names, originals, analytic):
            tensor.data = original.copy()
            numerical = _central_differences(tensor.data, evaluate, eps)
            checks.append(_compared(name, a, numerical, tolerance, atol,
                                    empty=".grad is None", holder="tensor"))
    finally:
        for tensor, data in zip(wrt, saved):
            tensor.data = data
    return GradientCheckReport(checks)


@dataclass
class GradientCheck:
    """The comparison for one input."""

    name: str
    analytic: np.ndarray | None
    numerical: np.ndarray
    tolerance: float
    problem: str | None = None  # a shape or type problem found before values
    atol: float = DEFAULT_ATOL
    error: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if self.problem is None:
            self.error = relative_error(self.analytic, self.numerical)
            if not np.all(np.isfinite(np.asarray(self.analytic, dtype=np.float64))):
                self.problem = "the analytic gradient contains NaN or inf"
        else:
            self.error = np.full(self.numerical.shape, np.inf)

    @property
    def max_error(self) -> float:
        return float(np.max(self.error)) if self.error.size else 0.0

    def _outside(self) -> np.ndarray:
        """Elementwise: within neither tolerance, relative nor absolute (NaN is within none)."""
        absolute = np.abs(np.asarray(self.analytic, dtype=np.float64) - self.numerical)
        return ~((self.error <= self.tolerance) | (absolute <= self.atol))

    @property
    def passed(self) -> bool:
        if self.problem is not None:
            return False
        return not bool(np.any(self._outside()))

    def describe(self) -> str:
        """A paragraph a student can act on.

        A passing input gets the rule it met, not its errors: those are
        round-off, and their exact size (and which element is largest)
        changes from one machine or BLAS to another. ``max_error`` and
        ``error`` still hold them. The rule names both bounds, so an "ok" on
        a gradient near 0, whose relative error is large but whose difference
        is below the absolute floor, is explained by the line itself. A
        failing input shows its worst failing element with both values: an
        error that large is no round-off.
        """
        if self.problem is not None:
            return f"{self.name}: FAILED: {self.problem}."
        if self.error.size == 0:
            return f"{self.name}: ok (empty)"
        shape = self.numerical.shape
        if self.passed:
            return (f"{self.name}: ok: every element within relative error "
                    f"{self.tolerance:.0e}, or (a gradient near 0) within the absolute floor "
                    f"{self.atol:.0e}; shape {shape}")
        analytic = np.asarray(self.analytic, dtype=np.float64)
        outside = self._outside()
        # Among the failing elements, the largest relative error; among equals
        # (often several at 1.0), the largest absolute difference is the most
        # telling one to show. Elements that pass are never shown: the largest
        # relative error is often a round-off one on a gradient of about 0.
        absolute = np.abs(analytic - self.numerical)
        ranked = np.lexsort((absolute.reshape(-1), self.error.reshape(-1),
                             outside.reshape(-1)))
        worst = np.unravel_index(int(ranked[-1]), shape)
        index = tuple(int(i) for i in worst) if self.error.ndim else ()
        count = int(np.count_nonzero(outside))
        return (
            f"{self.name}: FAILED: {count} of {outside.size} element"
            f"{'' if outside.size == 1 else 's'} outside tolerance; the worst: "
            f"relative error {self.error[worst]:.2e} (tolerance {self.tolerance:.0e}) "
            f"at element {index}: analytic {analytic[worst]:.6g}, "
            f"numerical {self.numerical[worst]:.6g}; shape {shape}"
        )


@dataclass
class GradientCheckReport:
    """All the comparisons of one ``check_gradients`` call."""

    checks: list[GradientCheck]
    #: nodes of the graph that feed more than one consumer
    shared: list[Node] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = "gradient check passed" if self.passed else "gradient check FAILED"
        tolerances = {(check.tolerance, check.atol) for check in self.checks}
        if len(tolerances) == 1:
            ((tolerance, atol),) = tolerances
            head += (f" (tolerance per element: relative error {tolerance:.0e}, "
                     f"or absolute {atol:.0e})")
        lines = [head] + ["  " + check.describe() for check in self.checks]
        if not self.passed and self.shared:
            names = ", ".join(repr(n) for n in self.shared[:3])
            lines.append(f"  note: {names} feed{'s' if len(self.shared) == 1 else ''} more "
                         "than one consumer. If the check passes with one consumer and fails "
                         "here, a backward overwrites (=) where it must add (+=) the gradient "
                         "of every consumer.")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython display
        printer.text(str(self))


def check_gradients(
    node: Node,
    feed_dict: Mapping[Node, Any],
    wrt: Sequence[Node],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    atol: float = DEFAULT_ATOL,
    eps: float = 1e-6,
) -> GradientCheckReport:
    """Compare backpropagated and numerical gradients of ``node`` for each of ``wrt``.

    An element passes when its relative error is at most ``tolerance`` or its
    absolute error at most ``atol``. Shapes are compared before values.
    Returns a report: ``bool(report)`` says
    whether every input passed, ``print(report)`` says where and by how much
    it did not.
    """
    wrt = list(wrt)
    feed = _as_float64(feed_dict)
    shared = [n for n in _multi_use(topological_sort(feed)) if not isinstance(n, DummyGrad)]
    try:
        _, analytic = value_and_grad(node, feed, wrt)
    except _REPORTED_ERRORS as error:
        return _broken_report([w.name for w in wrt], [np.shape(feed[w]) for w in wrt], error,
                              tolerance, atol, shared)
    analytic = [None if a is None else np.array(a, dtype=np.float64) for a in analytic]
    numerical = numerical_gradients(node, feed, wrt, eps=eps)
    return GradientCheckReport([_compared(w.name, a, n, tolerance, atol,
                                          empty="backward left it empty", holder="input")
                                for w, a, n in zip(wrt, analytic, numerical)], shared)


def _compared(name: str, analytic: np.ndarray | None, numerical: np.ndarray,
              tolerance: float, atol: float, *, empty: str, holder: str) -> GradientCheck:
    """One input's comparison; a missing or misshapen gradient is named before values."""
    problem = None
    if analytic is None:
        problem = f"no gradient was computed ({empty})"
    elif analytic.shape != numerical.shape:
        problem = (f"gradient has shape {analytic.shape} but the {holder} has shape "
                   f"{numerical.shape}; a gradient always has its {holder}'s shape")
    return GradientCheck(name, analytic, numerical, tolerance, problem, atol)


def _broken_report(names: Sequence[str], shapes: Sequence[tuple[int, ...]],
                   error: BaseException, tolerance: float, atol: float,
                   shared: list[Node] | None = None) -> GradientCheckReport:
    """A forward or backward that raised: a finding to report, not a crash."""
    broken = describe_failure(error)
    return GradientCheckReport([GradientCheck(name, None, np.zeros(shape), tolerance, broken,
                                              atol) for name, shape in zip(names, shapes)],
                               shared or [])
