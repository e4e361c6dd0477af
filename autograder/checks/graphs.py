"""Checks for "Graphs and the chain rule" (01_graphs): the chain rule by hand
and ``topological_sort``. ``Mul``'s checks are the node checks of
``autograder.checks.nodes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import miniflow
from autograder.checks.core import (
    allclose as _allclose,
    as_float_array as _as_float_array,
    assert_close,
    fail as _fail,
    run_check as _run,
)
from miniflow.nodes import Add, DummyGrad, Input, Mul, Node

__all__ = [
    "check_chain_rule",
    "check_topological_sort",
]


#: (dL/dx, dL/dy, dL/dz) in the lab's worked example: x=3, y=4, z=-5, upstream 0.5.
WORKED_EXAMPLE = [-0.5, 1.5, 1.5]


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
    got = _as_float_array(_run(call, lambda: student_fn(x, y, z, upstream)), call)
    if got.shape == (3,) and _allclose(got[0], upstream * y) and not _allclose(
            upstream * y, expected[0]):
        _fail("dL/dx follows only one path from x to f\n"
              f"  {call}: dL/dx is {got[0]:.6g}, expected {float(expected[0]):.6g}.\n"
              "  Likely mistake: x feeds two nodes (x*y and x*z), so it reaches f along two "
              "paths: add the contribution of every path.")
    if got.shape == (3,) and _allclose(got, WORKED_EXAMPLE) and not _allclose(
            np.asarray(expected, dtype=float), WORKED_EXAMPLE):
        _fail("The answer is the worked example's, whatever the inputs\n"
              f"  {call} returned {WORKED_EXAMPLE}, the answer for x=3, y=4, z=-5, "
              "upstream 0.5.\n  Likely mistake: the numbers were written in; compute them "
              "from the arguments x, y, z and upstream.")
    assert_close(got, np.asarray(expected, dtype=float), upstream=upstream,
                 what=f"{call} (dL/dx, dL/dy, dL/dz)")


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
