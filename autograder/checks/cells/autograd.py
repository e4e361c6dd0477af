"""The visible tests of 06_autograd, one named check per test cell (course content).

Each function is the body of one test cell: the notebook passes in the code the
student wrote (``Tensor``, ``topological_order``, ...). A test that grades one
exercise alone takes the notebook's namespace (``globals()``): inside its ``with``
block ``Tensor`` (and ``topological_order``) are the grader's own, and the names
are read from the namespace there, so the student's code under test uses them too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.checks.cells.notebook import from_notebook
from autograder.checks.core import check_close, in_place_of, random_inputs
from autograder.checks.tensors import (
    check_backpropagation,
    check_tensor_backward,
    check_tensor_forward,
    check_tensor_network,
    check_tensor_sgd_step,
    check_topological_order,
    known_tensor_mistakes,
    reference_tensor,
    reference_topological_order,
)

__all__ = ["test_tensor_forward", "test_tensor_backward", "test_topological_order",
           "test_backpropagate", "test_two_layer_loss", "test_sgd_step"]



def test_tensor_forward(Tensor: type) -> None:
    """The values your ``Tensor`` operations compute: ``+`` and ``*`` with broadcasting,
    ``@``, ``sum()`` and ``sigmoid()`` on random arrays, against numpy; then the lab's
    worked examples with a = [[1, 2], [3, 4]] and b = [10, 20], ``a + 1`` and
    ``sigmoid([0, 0])``: each must return a new ``Tensor``."""
    # Random arrays with broadcasting, a matrix product, sum and sigmoid.
    values = random_inputs([(4, 3), (3,)], seed=900)
    check_tensor_forward(Tensor, lambda p, q: p + q, np.add, values, what="a + b")
    check_tensor_forward(Tensor, lambda p, q: p * q, np.multiply, values, what="a * b")
    check_tensor_forward(Tensor, lambda p, q: p @ q, np.matmul,
                         random_inputs([(2, 3), (3, 4)], seed=901), what="a @ b")
    values = random_inputs([(3, 2)], seed=902, scale=3.0)
    check_tensor_forward(Tensor, lambda p: p.sum(), np.sum, values, what="a.sum()")
    check_tensor_forward(Tensor, lambda p: p.sigmoid(), lambda v: 1 / (1 + np.exp(-v)),
                         values, what="a.sigmoid()")
    # The worked examples.
    a = Tensor([[1.0, 2.0], [3.0, 4.0]], name="a")
    b = Tensor([10.0, 20.0], name="b")
    cases = [("a + b", lambda: a + b, [[11.0, 22.0], [13.0, 24.0]]),
             ("a * b", lambda: a * b, [[10.0, 40.0], [30.0, 80.0]]),
             ("a @ [[1], [-1]]", lambda: a @ Tensor([[1.0], [-1.0]]), [[-1.0], [-1.0]]),
             ("a.sum()", lambda: a.sum(), 10.0),
             ("a + 1", lambda: a + 1, [[2.0, 3.0], [4.0, 5.0]]),
             ("sigmoid([0, 0])", lambda: Tensor([0.0, 0.0]).sigmoid(), [0.5, 0.5])]
    for text, operation, expected in cases:
        out = operation()
        assert isinstance(out, Tensor), (
            f"{text} should return a new Tensor, got {type(out).__name__}")
        check_close(f"({text}).data", out.data, expected)


def test_tensor_backward(Tensor: type) -> None:
    """The gradients your ``Tensor`` operations send back: ``+``, ``*``, ``@``, ``sum()``
    and ``sigmoid()`` on random arrays (broadcasting included; a failure names the likely
    mistake), a tensor used twice (x * x, x + x); then the lab's worked example: one
    ``_backward()`` of out = a * b with a given upstream gradient."""
    # Every operation on random arrays (broadcasting included), and x * x, x + x.
    values = random_inputs([(4, 3), (3,)], seed=903)
    check_tensor_backward(Tensor, lambda p, q: p + q, np.add, values, what="a + b", seed=1)
    check_tensor_backward(Tensor, lambda p, q: p * q, np.multiply, values, what="a * b",
                          seed=1, mistakes=known_tensor_mistakes("a * b"))
    check_tensor_backward(Tensor, lambda p, q: p @ q, np.matmul,
                          random_inputs([(2, 3), (3, 4)], seed=904), what="a @ b",
                          seed=1, mistakes=known_tensor_mistakes("a @ b"))
    values = random_inputs([(3, 2)], seed=905, scale=2.0)
    check_tensor_backward(Tensor, lambda p: p.sum(), np.sum, values, what="a.sum()", seed=1)
    check_tensor_backward(Tensor, lambda p: p.sigmoid(), lambda v: 1 / (1 + np.exp(-v)),
                          values, what="a.sigmoid()", seed=1,
                          mistakes=known_tensor_mistakes("a.sigmoid()"))
    check_tensor_backward(Tensor, lambda p, q: p * q, np.multiply, values, what="x * x",
                          names=["x"], uses=[0, 0])
    check_tensor_backward(Tensor, lambda p, q: p + q, np.add, values, what="x + x",
                          names=["x"], uses=[0, 0])
    # The worked example: out = a * b with an upstream gradient G, the local rule run once.
    a, b = Tensor([[1.0, 2.0], [3.0, 4.0]], name="a"), Tensor([10.0, 20.0], name="b")
    out = a * b
    out.grad = np.array([[1.0, 1.0], [1.0, 2.0]])
    out._backward()
    check_close("a.grad for out = a * b", a.grad, [[10.0, 20.0], [10.0, 40.0]])
    check_close("b.grad for out = a * b (b broadcast over 2 rows)", b.grad, [4.0, 10.0],
                batch_size=2)


def test_topological_order(Tensor: type, topological_order: Callable[..., Any]) -> None:
    """``topological_order`` on the diamond d = f(h, h2), h2 = g(h), h = x * x, built with
    the ``Tensor`` constructor only: a list holding each tensor once, every tensor after
    its parents, d last; then on random recorded graphs with shared and repeated
    parents."""
    # A diamond built with the constructor only: d = f(h, h2), h2 = g(h), h = x * x.
    x = Tensor(2.0, name="x")
    h = Tensor(4.0, parents=(x, x), op="*", name="h")
    h2 = Tensor(12.0, parents=(h,), op="*3", name="h2")
    d = Tensor(16.0, parents=(h2, h), op="+", name="d")
    order = topological_order(d)
    assert isinstance(order, list), f"topological_order should return a list, got {type(order)}"
    names = [t.name for t in order]
    assert sorted(names) == ["d", "h", "h2", "x"], (
        f"expected each of x, h, h2, d exactly once, got {names}")
    assert names[-1] == "d", f"the output d comes last, got {names}"
    assert names.index("x") < names.index("h") < names.index("h2") < names.index("d"), (
        f"every tensor must come after its parents, got {names}")
    # Random recorded graphs with shared and repeated parents.
    check_topological_order(Tensor, topological_order, seed=900, trials=10)


def test_backpropagate(namespace: dict) -> None:
    """Your ``backpropagate`` (pass ``globals()``), with the grader's own ``Tensor``,
    whose ``backward()`` calls it, and a right ``topological_order`` in place of yours:
    random graphs (shared parents, repeated calls, the output seeded); the diamond of
    Section 3, d = 5 x**2 at x = 3, after one and after two ``d.backward()``; then a
    chain of 500 multiplications by 1.001."""
    backpropagate = from_notebook(namespace, "backpropagate")
    graded_alone = in_place_of(namespace, Tensor=reference_tensor(backpropagate),
                               topological_order=reference_topological_order)
    with graded_alone:
        Tensor = from_notebook(namespace, "Tensor")
        # Random graphs: shared parents, repeated calls, the output seeded with ones.
        check_backpropagation(Tensor, backpropagate, seed=900)
        # The diamond of Section 3: d = 5 x**2 at x = 3, so dd/dx = 30.
        x = Tensor(3.0, name="x")
        h = x * x
        d = h * 2 + h * 3
        d.backward()
        check_close("dd/dx for the diamond d = 2 x*x + 3 x*x at x = 3", x.grad, 30.0)
        d.backward()
        check_close("dd/dx after a second d.backward()", x.grad, 30.0)
        # A chain of 500 operations.
        start = Tensor(1.0, name="start")
        y = start
        for _ in range(500):
            y = y * 1.001
        y.backward()
        check_close("d y / d start for 500 multiplications by 1.001", start.grad,
                    1.001 ** 500, rtol=1e-9)


def test_two_layer_loss(namespace: dict) -> None:
    """Your ``two_layer_loss`` (pass ``globals()``), with the grader's own ``Tensor`` in
    place of yours: on random sizes, and on a batch of 4 XOR points with hidden size 3,
    it must return a ``Tensor`` whose value and whose gradients after ``backward()``
    match miniflow's static graph (``static_two_layer``) on the same weights."""
    with in_place_of(namespace, Tensor=reference_tensor()):
        Tensor = from_notebook(namespace, "Tensor")
        two_layer_loss = from_notebook(namespace, "two_layer_loss")
        static_two_layer = from_notebook(namespace, "static_two_layer")
        rng = np.random.default_rng(0)
        X_small, y_small = rng.normal(size=(4, 2)), np.array([0, 1, 1, 0])
        start = {"W1": rng.normal(size=(2, 3)), "b1": rng.normal(size=3),
                 "W2": rng.normal(size=(3, 1)), "b2": rng.normal(size=1)}
        params = {name: Tensor(value, name=name) for name, value in start.items()}
        # Other sizes, compared with miniflow's static graph on the same weights.
        check_tensor_network(Tensor, two_layer_loss, n=5, d=3, h=4, seed=900)
        # A batch of 4 XOR points, hidden size 3.
        loss = two_layer_loss(X_small, y_small, params)
        assert isinstance(loss, Tensor), (
            f"two_layer_loss should return a Tensor, got {type(loss)}")
        static_value, static_gradients = static_two_layer(X_small, y_small, start)
        check_close("the loss, against miniflow's static graph", loss.data, static_value,
                    rtol=1e-9, batch_size=4)
        loss.backward()
        for name in start:
            check_close(f"params['{name}'].grad, against miniflow's", params[name].grad,
                        static_gradients[name], rtol=1e-7, atol=1e-12, batch_size=4)


def test_sgd_step(Tensor: type, sgd_step: Callable[..., Any]) -> None:
    """``sgd_step`` on random parameters of several shapes; then the lab's worked
    example: w = [1, 2] with gradient [0.5, -1] and learning rate 0.1, one step."""
    # Random parameters of several shapes.
    check_tensor_sgd_step(Tensor, sgd_step, seed=900)
    # The worked example: w = [1, 2] with gradient [0.5, -1] and learning rate 0.1.
    params = {"w": Tensor([1.0, 2.0], name="w")}
    params["w"].grad = np.array([0.5, -1.0])
    sgd_step(params, 0.1)
    check_close("w.data after one step", params["w"].data, [0.95, 2.1], before=[1.0, 2.0])
