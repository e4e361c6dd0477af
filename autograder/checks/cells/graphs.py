"""The visible tests of 01_graphs, one named check per test cell (course content).

Each function is the body of one test cell: the notebook passes in the code the
student wrote, and everything else (``Input``, ``Add``, the reference ``mf.Mul``)
is miniflow's, so a test grades its own exercise alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import miniflow as mf
from autograder.checks.core import check_close, random_inputs
from autograder.checks.graphs import check_chain_rule, check_topological_sort
from autograder.checks.nodes import (
    check_backward,
    check_fan_out,
    check_forward,
    check_repeated_input,
)
from miniflow import Add, DummyGrad, Input, value_and_grad

__all__ = ["test_chain_rule", "test_mul_forward", "test_mul_backward", "test_topological_sort"]

#: The lab's worked example: f = x*y + x*z at x=3, y=4, z=-5, upstream gradient 0.5.
EXAMPLE = {"x": 3.0, "y": 4.0, "z": -5.0}
EXAMPLE_UPSTREAM = 0.5


def test_chain_rule(chain_rule_gradients: Callable[..., Any]) -> None:
    """``chain_rule_gradients(x, y, z, upstream)`` on random numbers (three trials; a
    failure names the likely mistake), then on the lab's worked example: x=3, y=4,
    z=-5 with upstream gradient 0.5."""
    for trial in range(3):
        check_chain_rule(chain_rule_gradients, *np.random.default_rng(trial).normal(size=4))
    check_close("(dL/dx, dL/dy, dL/dz) for the worked example",
                chain_rule_gradients(*EXAMPLE.values(), EXAMPLE_UPSTREAM), [-0.5, 1.5, 1.5],
                upstream=EXAMPLE_UPSTREAM)


def test_mul_forward(Mul: type) -> None:  # noqa: N803 (the student's class)
    """``Mul``'s forward pass on random arrays that broadcast, (3, 2) * (2,) * (1, 2),
    against miniflow's; then three numbers: 3 * 4 * -5."""
    check_forward(Mul, mf.Mul, random_inputs([(3, 2), (2,), (1, 2)], seed=900))
    a, b, c = Input("a"), Input("b"), Input("c")
    product = Mul(a, b, c)
    mf.forward_pass(product, mf.topological_sort({a: 3.0, b: 4.0, c: -5.0}))
    check_close("Mul(a, b, c).value for a=3, b=4, c=-5", product.value, -60.0)


def test_mul_backward(Mul: type) -> None:  # noqa: N803 (the student's class)
    """``Mul``'s backward pass against miniflow's: shapes that broadcast, one ``Mul``
    feeding two consumers, ``Mul(x, x)`` with the same input twice, inputs that are
    zero; then the lab's example f = x*y + x*z at x=3, y=4, z=-5, upstream 0.5."""
    values = random_inputs([(3, 2), (2,), (1, 2)], seed=901)
    check_backward(Mul, mf.Mul, values, seed=1)
    check_fan_out(Mul, mf.Mul, values, seed=1)
    check_repeated_input(Mul, mf.Mul, np.array([2.0, -1.0, 0.5]))
    check_backward(Mul, mf.Mul, [np.array([0.0, 1.5]), np.array([2.0, 0.0])])
    x, y, z = Input("x"), Input("y"), Input("z")
    upstream = DummyGrad(Add(Mul(x, y), Mul(x, z)))
    feed = {x: EXAMPLE["x"], y: EXAMPLE["y"], z: EXAMPLE["z"], upstream: EXAMPLE_UPSTREAM}
    _, gradients = value_and_grad(upstream, feed, [x, y, z])
    check_close("the gradients of x, y, z in the lab's example", gradients,
                [-0.5, 1.5, 1.5], upstream=EXAMPLE_UPSTREAM)


def test_topological_sort(topological_sort: Callable[[dict], list]) -> None:
    """``topological_sort`` on ten random graphs; then on s = x + y, p = s + x (every
    node after its inputs, each Input's value set from ``feed_dict``); then on
    ``Mul(x, x)``, a node that uses one input twice (miniflow's ``Mul``)."""
    check_topological_sort(topological_sort, seed=900, trials=10)
    x, y = Input("x"), Input("y")
    s = Add(x, y, name="s")
    p = Add(s, x, name="p")
    order = topological_sort({x: 1.0, y: 2.0})
    assert len(order) == 4, f"expected 4 nodes (x, y, s, p), got {order}"
    assert order.index(s) > max(order.index(x), order.index(y)), "s must come after x and y"
    assert order.index(p) > order.index(s), "p must come after s"
    assert x.value == 1.0 and y.value == 2.0, "set each Input's value from feed_dict"
    x = Input("x")
    square = mf.Mul(x, x, name="square")
    order = topological_sort({x: 3.0})
    assert square in order, (f"Mul(x, x) is missing from the order {order}: count each "
                             "distinct input once when you count how many inputs a node "
                             "waits for")
