"""Record a forward and a backward pass, one node at a time, and check each gradient.

The student's own objects do the work: this module only calls their
``forward()`` and ``backward()`` (a graph of nodes) or their ``_backward``
closures (a ``Tensor``) in order, and writes down what they computed after
each call. Two kinds of graph are recognised by what they have, not by
their class (a student's classes are not miniflow's):

* nodes: ``inbound_nodes``, ``outbound_nodes``, ``value``, ``gradients``,
  ``forward()`` and ``backward()`` (notebooks 01 to 05);
* tensors: ``data``, ``grad``, ``_backward`` and their parents in
  ``_parents`` (notebook 06), ``parents`` or ``_prev`` (micrograd).

Every gradient is then compared with central differences: a node's
``backward()`` against its own ``forward()`` (so the node that is wrong is
the one marked), and each input's gradient against the whole graph's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from miniflow.gradcheck import DEFAULT_ATOL, DEFAULT_TOLERANCE, relative_error

__all__ = ["GradientCheck", "Recording", "Step", "record", "format_number", "format_value"]

#: The nudge of central differences (float64).
EPSILON = 1e-6
#: Elements nudged per array at most: enough to catch a wrong rule, fast on a batch.
MAX_CHECKED_ELEMENTS = 24


# ---------------------------------------------------------------- formatting
def format_number(number: float) -> str:
    """4 significant digits, the same text on every run (and no "-0")."""
    number = float(number) + 0.0  # -0.0 + 0.0 is 0.0
    if number != number:
        return "nan"
    return f"{number:.4g}"


def _numbers(value: Any) -> np.ndarray | str:
    """``value`` as an array of floats, or its type's name when it holds no numbers."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return type(value).__name__


def format_value(value: Any, limit: int = 6) -> str:
    """A value for the table: a number, a short array in full, a long one cut."""
    if value is None:
        return "None"
    array = _numbers(value)
    if not isinstance(array, np.ndarray) or array.ndim == 0:
        return array if isinstance(array, str) else format_number(array)
    numbers = [format_number(x) for x in array.ravel()[:limit]]
    if array.size > limit:
        return f"shape {array.shape}: [{', '.join(numbers)}, …]"
    if array.ndim == 1:
        return f"[{', '.join(numbers)}]"
    return f"shape {array.shape}: [{', '.join(numbers)}]"


def format_short(value: Any) -> str:
    """A value in a few characters, for the graph's boxes."""
    if value is None:
        return "–"
    array = _numbers(value)
    if not isinstance(array, np.ndarray) or array.ndim == 0:
        return array if isinstance(array, str) else format_number(array)
    if array.size <= 3 and array.ndim == 1:
        return "[" + ", ".join(format_number(x) for x in array) + "]"
    return "shape " + "×".join(str(n) for n in array.shape)


# ---------------------------------------------------------------- results
@dataclass(frozen=True)
class GradientCheck:
    """One gradient compared with central differences.

    ``kind`` is "local" (one node's backward() against its own forward(),
    for one input) or "end-to-end" (an input's full gradient against the
    whole graph). ``node`` is the index of the node the verdict belongs to,
    ``source`` the index of the input whose gradient was compared.
    """

    kind: str
    node: int
    source: int
    ok: bool
    relative_error: float
    analytic: str
    numerical: str
    message: str


@dataclass(frozen=True)
class Step:
    """What the learner sees after one call: every value and gradient so far."""

    phase: str            # "forward", "backward" or "error"
    node: int             # the node that just ran (its index in Recording.labels)
    title: str            # one line: what happened
    values: tuple[str, ...]
    short_values: tuple[str, ...]
    gradients: tuple[str, ...]        # "" until a node's gradient is known
    short_gradients: tuple[str, ...]


@dataclass
class Recording:
    """A graph, in topological order, and every step of its two passes."""

    labels: list[str]
    kinds: list[str]                       # "Mul", "Input", "*", "leaf", ...
    inputs: list[list[int]]                # each node's inputs, as indices
    output: int
    steps: list[Step] = field(default_factory=list)
    checks: list[GradientCheck] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    floor: float = DEFAULT_ATOL
    notes: list[str] = field(default_factory=list)

    def wrong_nodes(self) -> set[int]:
        """The nodes with at least one gradient marked wrong."""
        return {check.node for check in self.checks if not check.ok}

    def checks_of(self, node: int) -> list[GradientCheck]:
        return [check for check in self.checks if check.node == node]


# ---------------------------------------------------------------- the two kinds of graph
def _is_tensor(obj: Any) -> bool:
    return hasattr(obj, "data") and hasattr(obj, "grad") and hasattr(obj, "_backward")


def _is_node(obj: Any) -> bool:
    return hasattr(obj, "inbound_nodes") and hasattr(obj, "forward")


def _tensor_parents(tensor: Any) -> list[Any]:
    for name in ("_parents", "parents", "_prev", "_children"):
        if hasattr(tensor, name):
            parents = getattr(tensor, name)
            # micrograd keeps a set: order it the same way on every run
            if isinstance(parents, (set, frozenset)):
                parents = sorted(parents, key=lambda p: (str(getattr(p, "label", "")), id(p)))
            return list(parents)
    return []


def _ordered(output: Any, parents_of: Callable[[Any], list[Any]],
             first: Sequence[Any] = ()) -> list[Any]:
    """Every object ``output`` depends on, each once, parents before children.

    Kahn's algorithm over the ancestors of ``output``; the order is the same
    on every run (``first``, then leaves in the order they are met).
    """
    # depth-first discovery from the output: leaves in the order they are written
    discovered: list[Any] = []
    seen: set[int] = set()

    def visit(obj: Any) -> None:
        pending = [(obj, False)]
        while pending:
            item, done = pending.pop()
            if done:
                discovered.append(item)
                continue
            if id(item) in seen:
                continue
            seen.add(id(item))
            pending.append((item, True))
            for parent in reversed(parents_of(item)):
                if id(parent) not in seen:
                    pending.append((parent, False))

    visit(output)
    rank = {id(obj): i for i, obj in enumerate(discovered)}
    for i, obj in enumerate(first):
        if id(obj) in rank:
            rank[id(obj)] = -len(first) + i
    waiting = {id(obj): len({id(p) for p in parents_of(obj)}) for obj in discovered}
    consumers: dict[int, list[Any]] = {id(obj): [] for obj in discovered}
    for obj in discovered:
        for parent in {id(p): p for p in parents_of(obj)}.values():
            consumers[id(parent)].append(obj)
    ready = sorted((obj for obj in discovered if waiting[id(obj)] == 0),
                   key=lambda obj: rank[id(obj)])
    order: list[Any] = []
    while ready:
        obj = ready.pop(0)
        order.append(obj)
        for consumer in consumers[id(obj)]:
            waiting[id(consumer)] -= 1
            if waiting[id(consumer)] == 0:
                ready.append(consumer)
    return order


def _label(obj: Any, kind: str) -> str:
    name = getattr(obj, "name", None) or getattr(obj, "label", None)
    return str(name) if name else kind


def _distinct(labels: list[str]) -> list[str]:
    """Labels as given, numbered by position where several nodes share one ("Mul#4")."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return [f"{label}#{i}" if counts[label] > 1 else label for i, label in enumerate(labels)]


def _float_array(value: Any) -> np.ndarray | None:
    try:
        return np.array(value, dtype=float)
    except (TypeError, ValueError):
        return None


def _checked_positions(size: int) -> np.ndarray:
    """Which elements are nudged: all of a small array, spread over a large one."""
    if size <= MAX_CHECKED_ELEMENTS:
        return np.arange(size)
    return np.unique(np.linspace(0, size - 1, MAX_CHECKED_ELEMENTS).astype(int))


def _nudged(original: Any, position: int, delta: float) -> Any:
    """``original`` with one element moved by ``delta``, of the same kind (float stays float)."""
    array = np.array(original, dtype=float)
    array.flat[position] += delta
    if np.ndim(original) == 0 and not isinstance(original, np.ndarray):
        return float(array)
    return array


def _describe_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if isinstance(error, NotImplementedError):  # the release's stub, still in place
        text += " (not written yet: replace raise NotImplementedError() with your code)"
    return text


# ---------------------------------------------------------------- nodes
class _Seed:
    """A stand-in consumer of the output: it sends back d(sum(output))/d(output) = ones."""

    def __init__(self, output: Any, gradient: np.ndarray):
        self.inbound_nodes = [output]
        self.outbound_nodes: list[Any] = []
        self.gradients = {output: gradient}
        self.value = None
        self.name = "seed"
        self.requires_grad = True

    def __repr__(self) -> str:
        return "<seed>"


class _NodeGraph:
    """The student's nodes, driven one call at a time."""

    def __init__(self, output: Any, feed: Mapping[Any, Any] | None):
        self.output = output
        self.feed = dict(feed or {})
        for node, value in self.feed.items():
            node.value = value
        self.order = _ordered(output, lambda n: list(n.inbound_nodes), first=list(self.feed))
        self.index = {id(n): i for i, n in enumerate(self.order)}
        self.leaves = [i for i, n in enumerate(self.order) if not n.inbound_nodes]
        self.labels = _distinct([_label(n, type(n).__name__) for n in self.order])
        self.kinds = [type(n).__name__ for n in self.order]
        self.inputs = [[self.index[id(p)] for p in n.inbound_nodes] for n in self.order]
        self.consumers: list[list[int]] = [[] for _ in self.order]
        for i, ins in enumerate(self.inputs):
            for j in dict.fromkeys(ins):
                self.consumers[j].append(i)
        self.seed: _Seed | None = None
        for i in self.leaves:
            if self.order[i].value is None:
                raise ValueError(
                    f"{self.labels[i]!r} has no value: give it in feed, "
                    f"step_through(output, feed={{{self.labels[i]}: ...}})")

    def value(self, i: int) -> Any:
        return self.order[i].value

    def forward(self, i: int) -> None:
        node = self.order[i]
        if node.inbound_nodes:
            node.forward()

    def upstream_seed(self) -> np.ndarray:
        value = np.asarray(self.output.value, dtype=float)
        upstream = getattr(self.output, "upstream", None)  # a DummyGrad as the output
        if upstream is not None:
            return np.broadcast_to(np.asarray(upstream, dtype=float), value.shape).copy()
        return np.ones(value.shape)

    def start_backward(self) -> None:
        """Attach the seed; consumers outside the graph send nothing back."""
        self.seed = _Seed(self.output, self.upstream_seed())
        self.output.outbound_nodes.append(self.seed)
        members = {id(n) for n in self.order}
        for node in self.order:
            for consumer in node.outbound_nodes:
                if id(consumer) not in members and consumer is not self.seed:
                    consumer.gradients = {
                        p: np.zeros_like(np.asarray(p.value, dtype=float))
                        for p in consumer.inbound_nodes}

    def end_backward(self) -> None:
        if self.seed is not None and self.seed in self.output.outbound_nodes:
            self.output.outbound_nodes.remove(self.seed)

    def backward(self, i: int) -> None:
        self.order[i].backward()

    def sent(self, i: int, j: int) -> Any:
        """What node i's backward() sent to its input j (None: nothing)."""
        gradients = getattr(self.order[i], "gradients", None) or {}
        return gradients.get(self.order[j])

    def gradient(self, i: int, done: set[int]) -> Any:
        """d(output)/d(node i) from the consumers that have run so far."""
        if i == self.index[id(self.output)]:
            return self.seed.gradients[self.output] if self.seed else None
        total = None
        for consumer in self.consumers[i]:
            if consumer in done:
                part = self.sent(consumer, i)
                if part is not None:
                    total = part if total is None else total + part
        return total

    # numerical estimates: recompute with one element nudged
    def local_function(self, i: int, j: int, upstream: np.ndarray) -> Callable[[Any], float]:
        node, source = self.order[i], self.order[j]

        def evaluate(value: Any) -> float:
            saved = source.value
            source.value = value
            try:
                node.forward()
                return float(np.sum(upstream * np.asarray(node.value, dtype=float)))
            finally:
                source.value = saved
        return evaluate

    def restore_local(self, i: int) -> None:
        self.order[i].forward()

    def whole_function(self, j: int) -> Callable[[Any], float]:
        source = self.order[j]
        seed = self.upstream_seed()

        def evaluate(value: Any) -> float:
            saved = source.value
            source.value = value
            try:
                for i, node in enumerate(self.order):
                    if self.inputs[i]:
                        node.forward()
                return float(np.sum(seed * np.asarray(self.output.value, dtype=float)))
            finally:
                source.value = saved
        return evaluate

    def restore_all(self) -> None:
        for i, node in enumerate(self.order):
            if self.inputs[i]:
                node.forward()


# ---------------------------------------------------------------- tensors
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))


# The course's Tensor operations, by their _op, to recompute a result from its
# parents' data (a tensor records its result, not how to compute it again).
_TENSOR_OPS: dict[str, Callable[..., np.ndarray]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "@": lambda a, b: a @ b,
    "sum": lambda a: np.sum(a),
    "mean": lambda a: np.mean(a),
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda a: np.maximum(a, 0.0),
    "ReLU": lambda a: np.maximum(a, 0.0),
    "neg": lambda a: -a,
}


class _TensorGraph:
    """The student's tensors: forward already happened; backward runs each _backward."""

    def __init__(self, output: Any):
        self.output = output
        self.order = _ordered(output, _tensor_parents)
        self.index = {id(t): i for i, t in enumerate(self.order)}
        self.kinds = [str(getattr(t, "_op", "") or "leaf") for t in self.order]
        self.labels = _distinct([_label(t, kind) for t, kind in zip(self.order, self.kinds)])
        self.inputs = [[self.index[id(p)] for p in _tensor_parents(t)] for t in self.order]
        self.leaves = [i for i, ins in enumerate(self.inputs) if not ins]
        self.sent_by: dict[int, dict[int, np.ndarray]] = {}
        self.recomputable = [self._recomputes(i) for i in range(len(self.order))]

    def _operation(self, i: int) -> Callable[..., np.ndarray] | None:
        return _TENSOR_OPS.get(self.kinds[i]) if self.inputs[i] else None

    def _recomputes(self, i: int) -> bool:
        """Does the table's operation give back the recorded data? Only then is it checked."""
        operation = self._operation(i)
        if operation is None:
            return False
        try:
            with np.errstate(all="ignore"):
                again = operation(*(np.asarray(self.order[j].data, dtype=float)
                                    for j in self.inputs[i]))
            return bool(np.allclose(again, self.order[i].data, rtol=1e-9, atol=1e-12))
        except (TypeError, ValueError):
            return False

    def value(self, i: int) -> Any:
        return self.order[i].data

    def forward(self, i: int) -> None:
        """Define-by-run: the value was computed when the tensor was made."""

    def upstream_seed(self) -> np.ndarray:
        return np.ones(np.shape(self.output.data))

    def start_backward(self) -> None:
        for tensor in self.order:
            tensor.grad = np.zeros_like(np.asarray(tensor.data, dtype=float))
        self.output.grad = self.upstream_seed()

    def end_backward(self) -> None:
        """Nothing was attached to the student's tensors."""

    def backward(self, i: int) -> None:
        tensor = self.order[i]
        parents = {j: np.array(self.order[j].grad, dtype=float) for j in self.inputs[i]}
        tensor._backward()
        self.sent_by[i] = {j: np.asarray(self.order[j].grad, dtype=float) - before
                           for j, before in parents.items()}

    def sent(self, i: int, j: int) -> Any:
        return self.sent_by.get(i, {}).get(j)

    def gradient(self, i: int, done: set[int]) -> Any:
        return self.order[i].grad

    def _recompute(self, i: int, data: dict[int, Any]) -> np.ndarray:
        operation = self._operation(i)
        return operation(*(np.asarray(data[j], dtype=float) for j in self.inputs[i]))

    def local_function(self, i: int, j: int, upstream: np.ndarray) -> Callable[[Any], float]:
        def evaluate(value: Any) -> float:
            data = {k: self.order[k].data for k in self.inputs[i]}
            data[j] = value
            return float(np.sum(upstream * self._recompute(i, data)))
        return evaluate

    def restore_local(self, i: int) -> None:
        """The tensors were never changed."""

    def whole_function(self, j: int) -> Callable[[Any], float] | None:
        if not all(self.recomputable[i] for i in range(len(self.order)) if self.inputs[i]):
            return None

        def evaluate(value: Any) -> float:
            data: dict[int, Any] = {}
            for i, tensor in enumerate(self.order):
                if i == j:
                    data[i] = value
                elif not self.inputs[i]:
                    data[i] = tensor.data
                else:
                    data[i] = self._recompute(i, data)
            return float(np.sum(data[len(self.order) - 1]))
        return evaluate

    def restore_all(self) -> None:
        """The tensors were never changed."""


# ---------------------------------------------------------------- recording
def _numerical(evaluate: Callable[[Any], float], original: Any,
               positions: np.ndarray) -> np.ndarray:
    estimates = np.empty(len(positions))
    with np.errstate(all="ignore"):
        for k, position in enumerate(positions):
            plus = evaluate(_nudged(original, int(position), EPSILON))
            minus = evaluate(_nudged(original, int(position), -EPSILON))
            estimates[k] = (plus - minus) / (2 * EPSILON)
    return estimates


def _compare(kind: str, node: int, source: int, analytic: Any, numerical: np.ndarray,
             positions: np.ndarray, shape: tuple[int, ...], labels: list[str],
             tolerance: float, floor: float) -> GradientCheck:
    what = (f"{labels[node]}.backward() → d/d {labels[source]}" if kind == "local"
            else f"d output / d {labels[source]}")
    whole = len(positions) == int(np.prod(shape))

    def shown(elements: np.ndarray) -> str:  # every element: at the value's shape
        return format_value(elements.reshape(shape) if whole else elements)

    estimate = shown(numerical)
    if analytic is None:
        return GradientCheck(kind, node, source, False, float("inf"), "missing", estimate,
                             f"{what}: no gradient was computed (missing from gradients)")
    array = _float_array(analytic)
    if array is None or array.shape != tuple(shape):
        got = "not a number" if array is None else f"shape {array.shape}"
        return GradientCheck(kind, node, source, False, float("inf"), format_value(analytic),
                             estimate, f"{what}: {got}, but {labels[source]}'s value has "
                             f"shape {tuple(shape)}")
    picked = array.ravel()[positions]
    errors = relative_error(picked, numerical)
    errors[np.abs(picked - numerical) <= floor] = 0.0
    worst = float(np.max(errors)) if errors.size else 0.0
    if not np.isfinite(worst):
        worst = float("inf")
    ok = worst <= tolerance
    verdict = "agrees with" if ok else "differs from"
    message = (f"{what} {verdict} central differences: relative error "
               f"{format_number(worst)} (tolerance {tolerance:g}, floor {floor:g})")
    return GradientCheck(kind, node, source, ok, worst, shown(picked), estimate, message)


def _check(graph: Any, labels: list[str], tolerance: float, floor: float,
           upstreams: dict[int, np.ndarray]) -> tuple[list[GradientCheck], list[str]]:
    checks: list[GradientCheck] = []
    notes: list[str] = []
    for i, ins in enumerate(graph.inputs):
        if not ins or i not in upstreams:
            continue
        if isinstance(graph, _TensorGraph) and not graph.recomputable[i]:
            notes.append(f"{labels[i]} ({graph.kinds[i]}): not checked, the stepper cannot "
                         "recompute this operation")
            continue
        for j in dict.fromkeys(ins):
            original = graph.value(j)
            array = _float_array(original)
            if array is None or not np.issubdtype(np.asarray(original).dtype, np.number):
                continue
            if np.issubdtype(np.asarray(original).dtype, np.integer) and array.ndim > 0:
                continue  # class labels: no gradient to check
            positions = _checked_positions(array.size)
            try:
                estimate = _numerical(graph.local_function(i, j, upstreams[i]), original,
                                      positions)
            finally:
                graph.restore_local(i)
            checks.append(_compare("local", i, j, graph.sent(i, j), estimate, positions,
                                   array.shape, labels, tolerance, floor))
    done = set(range(len(graph.order)))
    for j in graph.leaves:
        original = graph.value(j)
        array = _float_array(original)
        if array is None or (np.issubdtype(np.asarray(original).dtype, np.integer)
                             and array.ndim > 0):
            continue
        evaluate = graph.whole_function(j)
        if evaluate is None:
            continue
        positions = _checked_positions(array.size)
        try:
            estimate = _numerical(evaluate, original, positions)
        finally:
            graph.restore_all()
        checks.append(_compare("end-to-end", j, j, graph.gradient(j, done), estimate,
                               positions, array.shape, labels, tolerance, floor))
    return checks, notes


def _snapshot(graph: Any, shown_gradients: set[int], done: set[int]) -> tuple[tuple, ...]:
    values = [graph.value(i) for i in range(len(graph.order))]
    gradients = [graph.gradient(i, done) if i in shown_gradients else None
                 for i in range(len(graph.order))]
    return (tuple(format_value(v) for v in values), tuple(format_short(v) for v in values),
            tuple(format_value(g) if i in shown_gradients else ""
                  for i, g in enumerate(gradients)),
            tuple(format_short(g) if i in shown_gradients else ""
                  for i, g in enumerate(gradients)))


def record(output: Any, feed: Mapping[Any, Any] | None = None, check: bool = True,
           tolerance: float = DEFAULT_TOLERANCE, floor: float = DEFAULT_ATOL) -> Recording:
    """Run ``output``'s graph forward, then backward, one node at a time; record each step.

    ``output`` is the last node of a graph of nodes (``feed``: values for its
    Input nodes, as for ``topological_sort``; without it the values they
    already hold) or a ``Tensor``. The gradient computed is that of
    ``sum(output)``. With ``check``, every gradient is compared with central
    differences and marked wrong above ``tolerance`` (relative error
    ``|a - n| / max(|a| + |n|, 1e-8)``; differences below ``floor`` pass).
    """
    if _is_tensor(output):
        graph: Any = _TensorGraph(output)
    elif _is_node(output):
        graph = _NodeGraph(output, feed)
    else:
        raise TypeError(
            f"step_through needs the last node of a graph (with inbound_nodes, forward() and "
            f"backward()) or a Tensor (with data, grad and _backward), got "
            f"{type(output).__name__}")
    recording = Recording(graph.labels, graph.kinds, graph.inputs, len(graph.order) - 1,
                          tolerance=tolerance, floor=floor)
    labels = graph.labels
    shown: set[int] = set()
    done: set[int] = set()

    def add(phase: str, i: int, title: str) -> None:
        values, short_values, gradients, short_gradients = _snapshot(graph, shown, done)
        recording.steps.append(Step(phase, i, title, values, short_values, gradients,
                                    short_gradients))

    for i in range(len(graph.order)):
        try:
            graph.forward(i)
        except Exception as error:  # the student's code: show where it broke, keep going no more
            add("error", i, f"{labels[i]}.forward() raised {_describe_error(error)}")
            return recording
        if graph.inputs[i]:
            ins = ", ".join(labels[j] for j in graph.inputs[i])
            title = (f"{labels[i]} = {graph.kinds[i]}({ins}) = "
                     f"{format_value(graph.value(i))}")
        else:
            title = f"{labels[i]} is an input: {format_value(graph.value(i))}"
        add("forward", i, title)

    upstreams: dict[int, np.ndarray] = {}
    graph.start_backward()
    try:
        for i in reversed(range(len(graph.order))):
            incoming = graph.gradient(i, done)
            if incoming is not None:
                upstreams[i] = np.array(incoming, dtype=float)
            shown.add(i)
            try:
                graph.backward(i)
            except Exception as error:
                add("error", i, f"{labels[i]}.backward() raised {_describe_error(error)}")
                return recording
            done.add(i)
            sent = [f"d/d {labels[j]} = {format_value(graph.sent(i, j))}"
                    for j in dict.fromkeys(graph.inputs[i])]
            gradient = format_value(graph.gradient(i, done))
            seed = " (the seed: d sum(output) / d output)" if i == recording.output else ""
            title = f"gradient of {labels[i]} = {gradient}{seed}"
            if sent:
                title += "; backward() sends " + "; ".join(sent)
            add("backward", i, title)
        if check:
            recording.checks, recording.notes = _check(graph, labels, tolerance, floor,
                                                       upstreams)
    finally:
        graph.end_backward()
    return recording
