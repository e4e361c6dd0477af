"""Graph algorithms: ordering the nodes, running them forward and backward."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from miniflow.nodes import DummyGrad, Input, Node

__all__ = [
    "GraphError",
    "topological_sort",
    "forward_pass",
    "backward_pass",
    "forward_and_backward",
    "value_and_grad",
    "gradient_of",
]


class GraphError(ValueError):
    """The graph cannot be run: a cycle, a missing value, a bad feed."""


def _connected_nodes(start: Iterable[Node]) -> list[Node]:
    """Every node linked to ``start`` through inbound or outbound edges.

    Breadth-first in list order, so the result is the same on every run. The
    inbound direction matters too: a node fed by an Input nobody put in
    feed_dict must still be found, so the missing value can be reported.
    """
    seen: dict[Node, None] = {}
    queue = deque(start)
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen[node] = None
        queue.extend(node.outbound_nodes)
        queue.extend(node.inbound_nodes)
    return list(seen)


def topological_sort(feed_dict: Mapping[Node, Any]) -> list[Node]:
    """Order every node connected to the fed inputs so each follows its inputs.

    Kahn's algorithm: repeatedly take a node whose inputs are all placed.
    Sets each fed ``Input``'s value (and a fed ``DummyGrad``'s upstream
    gradient). The order is deterministic: the same graph gives the same list.

    Raises GraphError for a cycle (naming a node on it), for an Input that is
    reached but has no value, or for feeding a node that cannot be fed.
    """
    if not feed_dict:
        raise GraphError("feed_dict is empty: give at least one Input and its value.")
    for node, value in feed_dict.items():
        if isinstance(node, Input):
            node.value = value
        elif isinstance(node, DummyGrad):
            node.upstream = value
        else:
            raise GraphError(
                f"{node!r} is a {type(node).__name__}, which computes its value: only Input "
                "nodes (and DummyGrad's upstream gradient) can be given in feed_dict."
            )

    nodes = _connected_nodes(feed_dict)
    # A node listed twice as an input (Mul(x, x)) is one edge to wait for.
    waiting = {node: len(set(node.inbound_nodes)) for node in nodes}
    ready = deque(node for node in nodes if waiting[node] == 0)
    order: list[Node] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for consumer in node.outbound_nodes:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                ready.append(consumer)

    if len(order) < len(nodes):
        stuck = [node for node in nodes if waiting[node] > 0]
        on_cycle = _node_on_cycle(stuck)
        raise GraphError(
            f"the graph has a cycle through {on_cycle!r}: a node cannot depend on its own "
            "output. Check which nodes you passed as inputs."
        )
    for node in order:
        if isinstance(node, Input) and node.value is None:
            raise GraphError(
                f"{node!r} has no value: add it to feed_dict, e.g. feed_dict[{node.name}] = ..."
            )
    return order


def _node_on_cycle(stuck: list[Node]) -> Node:
    """Walk back through unplaced inputs until a node repeats: it is on a cycle."""
    remaining = set(stuck)
    node, visited = stuck[0], set()
    while node not in visited:
        visited.add(node)
        node = next(n for n in node.inbound_nodes if n in remaining)
    return node


def forward_pass(output_node: Node, sorted_nodes: Sequence[Node]) -> Any:
    """Run ``forward`` on every node in order; return ``output_node``'s value."""
    for node in sorted_nodes:
        node.forward()
    return output_node.value


def _starts_backpropagation(node: Node) -> bool:
    """Losses and DummyGrad know d(output)/d(themselves); other nodes need a seed."""
    return node.is_loss or isinstance(node, DummyGrad)


def _default_output(graph: Sequence[Node]) -> Node:
    """The node a backward pass differentiates when none is named."""
    final = [node for node in graph if not node.outbound_nodes]
    losses = [node for node in final if _starts_backpropagation(node)]
    if len(final) == 1:
        return final[0]
    if len(losses) == 1:
        return losses[0]
    names = ", ".join(repr(node) for node in (losses or final))
    raise GraphError(f"the graph ends in several nodes ({names}): pass output=<the loss node>.")


def _mark_requires_grad(graph: Sequence[Node], trainables: Iterable[Node] | None) -> None:
    """A node needs a gradient when a trainable node lies at or before it."""
    if trainables is None:
        for node in graph:
            node.requires_grad = True
        return
    wanted = set(trainables)
    for node in graph:  # topological order: inputs are marked before consumers
        node.requires_grad = node in wanted or any(n.requires_grad for n in node.inbound_nodes)


def _ancestors(output: Node) -> set[Node]:
    """``output`` and every node its value depends on."""
    found = {output}
    stack = [output]
    while stack:
        for node in stack.pop().inbound_nodes:
            if node not in found:
                found.add(node)
                stack.append(node)
    return found


def backward_pass(
    graph: Sequence[Node],
    output: Node | None = None,
    trainables: Iterable[Node] | None = None,
    trace: bool | Callable[[str], None] = False,
) -> None:
    """Run ``backward`` in reverse order, from ``output`` back to the inputs.

    Only nodes ``output`` depends on take part: another head of the graph
    (a second loss, a prediction node) contributes nothing. An ``output``
    that is not a loss is differentiated as ``sum(output.value)``. With
    ``trainables`` given, gradients nobody needs are skipped.
    """
    output = _default_output(graph) if output is None else output
    if not any(node is output for node in graph):
        raise ValueError(
            f"the output {output!r} is not in the graph, so no gradient would reach any "
            "input. Pass the list topological_sort returned for the feed_dict that reaches "
            "this output, and check that the output is built on those inputs.")
    _mark_requires_grad(graph, trainables)
    relevant = _ancestors(output)
    log = _tracer(trace)
    with _seeded(output) as seed:
        if seed is not output:  # a temporary DummyGrad, not part of `graph`
            seed.forward()
            seed.backward()
        for node in reversed(graph):
            if node in relevant and node.requires_grad:
                node.backward()
                if log:
                    for source, gradient in node.gradients.items():
                        log(f"backward {_label(node, graph)} -> d/d {_label(source, graph)} = "
                            f"{_show(gradient)}")
            else:
                # Not on the way to the output, or no trainable behind it: it
                # sends nothing back. Zeros (not a missing key) for inputs that
                # do need a gradient, so a backward written as
                # `consumer.gradients[self]` still works; this only allocates
                # in graphs with several heads.
                node.gradients = {
                    source: np.zeros_like(source.value, dtype=float)
                    for source in dict.fromkeys(node.inbound_nodes)
                    if source.requires_grad and source in relevant
                }


@contextmanager
def _seeded(output: Node) -> Iterator[Node]:
    """The node that starts backpropagation at ``output``.

    A loss (or DummyGrad) starts it itself. Any other node gets a temporary
    DummyGrad consumer sending back ones, removed again afterwards so the
    user's graph is left as it was.
    """
    if _starts_backpropagation(output):
        yield output
        return
    seed = DummyGrad(output)
    try:
        yield seed
    finally:
        output.outbound_nodes.remove(seed)


def forward_and_backward(
    graph: Sequence[Node],
    output: Node | None = None,
    trainables: Iterable[Node] | None = None,
    trace: bool | Callable[[str], None] = False,
) -> Any:
    """Forward pass over ``graph``, then backward from ``output``.

    ``output`` defaults to the node that ends the graph (its loss, when
    several nodes end it). ``trace=True`` prints, node by node, the values
    going forward and the gradients coming back (or pass a function such as
    ``log.append`` to receive the lines). Returns the output's value.
    """
    output = _default_output(graph) if output is None else output
    log = _tracer(trace)
    for node in graph:
        node.forward()
        if log:
            log(f"forward  {_label(node, graph)} = {_show(node.value)}")
    backward_pass(graph, output, trainables, trace)
    return output.value


def gradient_of(node: Node) -> Any:
    """The full gradient of the last backward pass's output w.r.t. ``node``."""
    if isinstance(node, Input) and node in node.gradients:
        return node.gradients[node]
    gradient = node.upstream_gradient()
    if gradient is None:
        return np.zeros_like(node.value, dtype=float)
    return gradient


def value_and_grad(
    node: Node, feed_dict: Mapping[Node, Any], wrt: Sequence[Node]
) -> tuple[Any, list[Any]]:
    """The value of ``node`` and its gradients with respect to each of ``wrt``.

    A loss node (or a DummyGrad) starts backpropagation itself; any other node
    is treated as a DummyGrad with upstream gradient ones would treat it, so
    the result is the gradient of ``sum(node.value)``.
    """
    wrt = list(wrt)
    with _seeded(node) as seed:
        graph = topological_sort(feed_dict)
        if seed not in graph:
            raise GraphError(f"{node!r} is not connected to any node in feed_dict.")
        forward_and_backward(graph, output=seed, trainables=wrt)
        return node.value, [gradient_of(w) for w in wrt]


def _tracer(trace: bool | Callable[[str], None]) -> Callable[[str], None] | None:
    if callable(trace):
        return trace
    return print if trace else None


def _label(node: Node, graph: Sequence[Node]) -> str:
    try:
        position = graph.index(node)
    except ValueError:
        return repr(node)
    return f"[{position}] {node!r}"


def _show(value: Any) -> str:
    array = np.asarray(value)
    if array.ndim == 0 and np.issubdtype(array.dtype, np.number):
        return f"{array.item():.6g}"
    if array.size <= 12:
        return np.array2string(array, precision=4, separator=", ").replace("\n", "")
    return f"array of shape {array.shape}"
