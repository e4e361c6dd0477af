"""The gradient checker students debug with: it must find real bugs and say where."""

from __future__ import annotations

import numpy as np
import pytest

from miniflow import DummyGrad, Input, Linear, Mul, Node, Sigmoid, check_gradients
from miniflow.gradcheck import GradientCheck, numerical_gradients, relative_error


class SigmoidFromInput(Node):
    """A classic mistake: the derivative evaluated at the input, s(x)(1-s(x)) with s=x."""

    def __init__(self, node):
        super().__init__([node])

    def forward(self):
        self.value = 1 / (1 + np.exp(-self.inbound_nodes[0].value))

    def backward(self):
        x = self.inbound_nodes[0]
        upstream = sum(n.gradients[self] for n in self.outbound_nodes)
        self.gradients = {x: upstream * x.value * (1 - x.value)}


class LinearNoBiasSum(Linear):
    """Another classic: the bias gradient keeps the batch dimension."""

    def backward(self):
        super().backward()
        self.gradients[self.inbound_nodes[2]] = self.upstream_gradient()


def test_relative_error_formula():
    np.testing.assert_allclose(relative_error([1.0, 0.0, 2.0], [1.0, 0.0, 1.0]),
                               [0.0, 0.0, 1 / 3])


def test_numerical_gradient_of_a_product():
    x, y = Input("x"), Input("y")
    f = Mul(x, y)
    dx, dy = numerical_gradients(f, {x: np.array([2.0, 3.0]), y: np.array([5.0, 7.0])}, [x, y])
    np.testing.assert_allclose(dx, [5.0, 7.0], rtol=1e-8)
    np.testing.assert_allclose(dy, [2.0, 3.0], rtol=1e-8)


def test_report_names_input_worst_element_and_both_values():
    x = Input("x")
    dummy = DummyGrad(SigmoidFromInput(x))
    report = check_gradients(dummy, {x: np.array([0.0, 2.0, -1.0])}, [x])
    assert not report.passed and not report
    text = str(report)
    assert text.startswith("gradient check FAILED (tolerance per element: relative error 1e-06")
    assert "x: FAILED: 3 of 3 elements outside tolerance" in text and "at element (2,)" in text
    assert "analytic -2" in text and "numerical 0.196612" in text and "shape (3,)" in text


def test_a_passing_report_does_not_depend_on_round_off():
    # The same correct gradient, checked on two machines whose BLAS round
    # differently: the errors and the worst element differ, the report must not
    # (notebooks commit it, and nbval compares it with a fresh run).
    analytic = np.array([[0.00443575, -0.00376755], [0.5, 1e-17]])
    one = GradientCheck("X", analytic, analytic * (1 + np.array([[3e-8, 1e-9], [0, 0]])), 1e-6)
    two = GradientCheck("X", analytic, analytic * (1 + np.array([[1e-9, 5e-8], [2e-10, 0]]))
                        + np.array([[0, 0], [0, 1e-10]]), 1e-6)
    assert one.passed and two.passed and one.max_error != two.max_error
    assert one.describe() == two.describe() == (
        "X: ok: every element within relative error 1e-06, or (a gradient near 0) within the "
        "absolute floor 1e-08; shape (2, 2)")


def test_a_failure_shows_a_failing_element_not_round_off_on_a_zero_gradient():
    # Element 0: a gradient of about 0 whose relative error, 1.1e-2, is
    # round-off alone, within the absolute tolerance. Element 2 is the real
    # bug, with a smaller relative error: it is the one to show.
    check = GradientCheck("b", np.array([1e-17, 1.0, 2.0]), np.array([-1.1e-10, 1.0, 2.0001]),
                          1e-6)
    assert not check.passed and check.max_error == pytest.approx(1.1e-2)
    text = check.describe()
    assert text.startswith("b: FAILED: 1 of 3 elements outside tolerance")
    assert "relative error 2.50e-05 (tolerance 1e-06) at element (2,)" in text
    assert "analytic 2, numerical 2.0001" in text


def test_a_nan_numerical_gradient_fails_the_check():
    check = GradientCheck("x", np.array([1.0, 2.0]), np.array([1.0, np.nan]), 1e-6)
    assert not check.passed
    assert "1 of 2 elements outside tolerance" in check.describe()


def test_shape_problem_is_reported_before_values():
    X, W, b = Input("X"), Input("W"), Input("b")
    dummy = DummyGrad(LinearNoBiasSum(X, W, b))
    rng = np.random.default_rng(0)
    report = check_gradients(dummy, {X: rng.normal(size=(4, 2)), W: rng.normal(size=(2, 3)),
                                     b: rng.normal(size=3)}, [W, b])
    assert [check.passed for check in report.checks] == [True, False]
    assert "b: FAILED: gradient has shape (4, 3) but the input has shape (3,)" in str(report)


def test_nan_in_gradient_fails_the_check():
    class NanGradient(Sigmoid):
        def backward(self):
            super().backward()
            (node,) = self.inbound_nodes
            self.gradients[node] = self.gradients[node] * np.nan

    x = Input("x")
    report = check_gradients(NanGradient(x), {x: np.array([0.5])}, [x])
    assert "NaN or inf" in str(report) and not report.passed


def test_feed_values_are_never_changed():
    x, y = Input("x"), Input("y")
    f = Mul(x, y)
    xv = np.array([1.0, 2.0], dtype=np.float32)
    yv = np.array([3.0, 4.0])
    before = (xv.copy(), yv.copy())
    check_gradients(f, {x: xv, y: yv}, [x, y])
    np.testing.assert_array_equal(xv, before[0])
    np.testing.assert_array_equal(yv, before[1])
    assert xv.dtype == np.float32


def test_integer_inputs_have_no_numerical_gradient():
    x = Input("x")
    with pytest.raises(ValueError, match="only floating inputs have gradients"):
        numerical_gradients(Mul(x, x), {x: np.array([1, 2])}, [x])


def test_correct_nodes_pass():
    x = Input("x")
    report = check_gradients(Sigmoid(x), {x: np.linspace(-3, 3, 7)}, [x])
    assert report.passed, str(report)
    assert str(report) == ("gradient check passed (tolerance per element: relative error "
                           "1e-06, or absolute 1e-08)\n"
                           "  x: ok: every element within relative error 1e-06, or (a "
                           "gradient near 0) within the absolute floor 1e-08; shape (7,)")


class BackwardThatRaises(Node):
    """A backward whose matrix product does not fit: the checker reports it."""

    def __init__(self, node):
        super().__init__([node])

    def forward(self):
        self.value = 2 * self.inbound_nodes[0].value

    def backward(self):
        x = self.inbound_nodes[0]
        self.gradients = {x: self.outbound_nodes[0].gradients[self] @ np.ones((7, 7))}


def test_a_backward_that_raises_is_reported_with_its_node_and_line():
    x = Input("x")
    report = check_gradients(BackwardThatRaises(x), {x: np.ones(3)}, [x])
    assert not report.passed
    text = str(report)
    assert "<BackwardThatRaises>.backward() raised ValueError" in text
    assert "np.ones((7, 7))" in text  # the student's own line


class OverwritingDouble(Node):
    """2 x, whose backward overwrites instead of adding over consumers."""

    def __init__(self, node):
        super().__init__([node])

    def forward(self):
        self.value = 2 * self.inbound_nodes[0].value

    def backward(self):
        x = self.inbound_nodes[0]
        self.gradients = {x: np.zeros_like(x.value)}
        for consumer in self.outbound_nodes:
            self.gradients[x] = 2 * consumer.gradients[self]


def test_a_failure_with_several_consumers_points_to_accumulation():
    x = Input("x")
    alone = check_gradients(OverwritingDouble(x), {x: np.array([1.0, 2.0])}, [x])
    assert alone.passed and "more than one consumer" not in str(alone)
    x = Input("x")
    double = OverwritingDouble(x)
    report = check_gradients(Mul(Sigmoid(double), Sigmoid(double)), {x: np.array([1.0, 2.0])},
                             [x])
    assert not report.passed
    assert "feeds more than one consumer" in str(report) and "(+=)" in str(report)


# -- define-by-run tensors ------------------------------------------------------------------

def _tensor_class():
    from autograder.checks import reference_tensor

    return reference_tensor()


def test_tensor_gradients_of_right_operations_pass_and_values_are_kept():
    from miniflow import check_tensor_gradients

    Tensor = _tensor_class()
    rng = np.random.default_rng(0)
    W, x = Tensor(rng.normal(size=(3, 2)), name="W"), Tensor(rng.normal(size=(4, 3)), name="x")
    data = W.data
    report = check_tensor_gradients(lambda: (x @ W).sigmoid().sum(), [W, x])
    assert report.passed, str(report)
    assert [c.name for c in report.checks] == ["W", "x"]
    assert W.data is data, "the tensor's own array is put back"


def test_tensor_gradients_find_a_planted_bug_and_say_where():
    from miniflow import check_tensor_gradients

    Tensor = _tensor_class()

    def broken_square(t):
        out = Tensor(t.data ** 2, parents=(t,), op="square")

        def _backward():
            t.grad = t.grad + out.grad * t.data  # the bug: the slope of t**2 is 2 t

        out._backward = _backward
        return out

    w = Tensor([1.0, -2.0, 3.0], name="w")
    report = check_tensor_gradients(lambda: broken_square(w).sum(), [w])
    assert not report.passed
    assert "w: FAILED" in str(report) and "analytic 3, numerical 6" in str(report)


def test_a_tensor_backward_that_raises_is_reported_with_its_line():
    from miniflow import check_tensor_gradients

    Tensor = _tensor_class()

    def broken(t):
        out = Tensor(t.data * 2, parents=(t,), op="double")

        def _backward():
            t.grad = t.grad + out.grad @ np.ones((5, 5))

        out._backward = _backward
        return out

    w = Tensor([1.0, 2.0], name="w")
    text = str(check_tensor_gradients(lambda: broken(w).sum(), [w]))
    assert "w: FAILED" in text and "._backward() raised ValueError" in text
    assert "out.grad @ np.ones((5, 5))" in text
