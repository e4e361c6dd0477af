"""The visible tests of 02_layers, one named check per test cell (course content).

Each function is the body of one test cell: the notebook passes in the code the
student wrote; ``Input``, ``DummyGrad``, ``value_and_grad`` and
``topological_sort`` are miniflow's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import miniflow as mf
from autograder.checks.core import check_close, random_inputs
from autograder.checks.nodes import (
    check_backward,
    check_fan_out,
    check_forward,
    check_function,
    check_gradient_shapes,
    check_known_mistakes,
    check_stable_forward,
    known_mistakes,
)
from miniflow import DummyGrad, Input, topological_sort, value_and_grad

__all__ = ["test_linear_forward", "test_linear_backward", "test_sigmoid_forward",
           "test_sigmoid_backward"]

#: The lab's worked example: a batch of 2 rows, 2 features in, 2 out.
EXAMPLE_X = [[-1., -2.], [-1., -2.]]
EXAMPLE_W = [[2., -3.], [2., -3.]]
EXAMPLE_B = [-3., -5.]
LINEAR = ["X", "W", "b"]


def test_linear_forward(Linear: type) -> None:  # noqa: N803 (the student's class)
    """``Linear``'s forward pass on a random batch of 5 rows, 3 features in and 2 out,
    against miniflow's; then the lab's example (2 rows, 2 features in, 2 out)."""
    check_forward(Linear, mf.Linear, random_inputs([(5, 3), (3, 2), (2,)], seed=900),
                  names=LINEAR, batch_size=5)
    X, W, b = Input("X"), Input("W"), Input("b")
    layer = Linear(X, W, b)
    mf.forward_pass(layer, topological_sort({X: np.array(EXAMPLE_X), W: np.array(EXAMPLE_W),
                                             b: np.array(EXAMPLE_B)}))
    check_close("Linear.value for the lab's example", layer.value, [[-9., 4.], [-9., 4.]])


def test_linear_backward(Linear: type) -> None:  # noqa: N803 (the student's class)
    """``Linear``'s backward pass: first, whether it is a mistake students often make
    (silent unless it is); then the gradients' shapes and values on a random batch
    of 5, and a layer feeding two consumers, against miniflow's; then the lab's
    example with upstream gradient [[1, 2], [3, 4]]."""
    mistakes = known_mistakes("Linear.backward")
    for shapes in [[(4, 3), (3, 3), (3,)], [(5, 3), (3, 2), (2,)]]:
        values = random_inputs(shapes, seed=901)
        check_known_mistakes(Linear, mf.Linear, values, mistakes, names=LINEAR, seed=1)
    check_gradient_shapes(Linear, values, names=LINEAR, seed=1)
    check_backward(Linear, mf.Linear, values, names=LINEAR, batch_size=5, seed=1)
    check_fan_out(Linear, mf.Linear, values, names=LINEAR, seed=1)
    X, W, b = Input("X"), Input("W"), Input("b")
    upstream = DummyGrad(Linear(X, W, b))
    feed = {X: np.array(EXAMPLE_X), W: np.array(EXAMPLE_W), b: np.array(EXAMPLE_B),
            upstream: np.array([[1., 2.], [3., 4.]])}
    _, (dX, dW, db) = value_and_grad(upstream, feed, [X, W, b])
    check_close("dX for the lab's example", dX, [[-4., -4.], [-6., -6.]], batch_size=2)
    check_close("dW for the lab's example", dW, [[-4., -6.], [-8., -12.]], batch_size=2)
    check_close("db for the lab's example", db, [4., 6.], batch_size=2)


def test_sigmoid_forward(_sigmoid: Callable[[Any], Any], Sigmoid: type) -> None:  # noqa: N803
    """``_sigmoid`` alone on [-10, 0, 10] and on +-1000 (without a RuntimeWarning);
    then ``Sigmoid``'s forward pass on random values of a (4, 3) array and on
    extreme values, against miniflow's."""
    check_function(_sigmoid, mf.nodes._sigmoid,
                   [np.array([-10., 0., 10.]), np.array([-1000., 1000.])], name="_sigmoid")
    check_forward(Sigmoid, mf.Sigmoid, random_inputs([(4, 3)], seed=900, scale=4.0),
                  names=["x"])
    check_stable_forward(Sigmoid, mf.Sigmoid, [np.array([[0.5, -2.0], [-900., 900.]])],
                         names=["x"])


def test_sigmoid_backward(Sigmoid: type) -> None:  # noqa: N803 (the student's class)
    """``Sigmoid``'s backward pass: first, whether it is a mistake students often make
    (silent unless it is); then random values, and a Sigmoid feeding two consumers,
    against miniflow's; then [-10, 0, 10] with upstream gradient 0.5."""
    values = random_inputs([(4, 3)], seed=901, scale=3.0)
    mistakes = known_mistakes("Sigmoid.backward")
    check_known_mistakes(Sigmoid, mf.Sigmoid, values, mistakes, names=["x"], seed=1)
    check_backward(Sigmoid, mf.Sigmoid, values, names=["x"], seed=1)
    check_fan_out(Sigmoid, mf.Sigmoid, values, names=["x"], seed=1)
    x = Input("x")
    upstream = DummyGrad(Sigmoid(x))
    _, (dx,) = value_and_grad(upstream, {x: np.array([-10., 0., 10.]), upstream: 0.5}, [x])
    check_close("dL/dx for the lab's example", dx, [0., 0.125, 0.], upstream=0.5, atol=1e-4)
