"""``checks.check_close`` and the diagnoses behind every comparison (issue 31): a
failure's first line says what to fix within 90 characters, the lines below name the
quantity, the worst element and the likely mistake; no bare table of numbers."""

from __future__ import annotations

import numpy as np
import pytest

import miniflow as mf
from autograder import checks
from miniflow import Mul, Node
from miniflow.nodes import unbroadcast

RIGHT = np.array([[1.0, -2.0], [3.0, 0.5]])


def _message(function, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as failure:
        function(*args, **kwargs)
    return str(failure.value)


@pytest.mark.parametrize(("got", "known", "first", "later"), [
    (RIGHT.T, {}, "The transpose of the right answer", "element (0, 1)"),
    (3 * RIGHT, {}, "Exactly 3 times the right value", "a factor is wrong"),
    (RIGHT / 4, {"batch_size": 4}, "Batch-size times too small", "4 (the batch size)"),
    (RIGHT / 3, {"classes": 3}, "Class-count times too small", "number of classes"),
    (RIGHT + 5, {"before": RIGHT + 5}, "Unchanged", "value from before the step"),
    (2 * RIGHT, {"upstream": 0.5}, "Exactly 2 times the right value, 1 / the upstream",
     "not multiplied in"),
    (np.zeros_like(RIGHT), {}, "All zeros", "all zeros"),
    (RIGHT + np.array([[0.0, 0.3], [0.0, 0.0]]), {}, "Wrong value at element (0, 1)",
     "dW for the example is wrong at element (0, 1): expected -2, got -1.7"),
])
def test_check_close_names_the_pattern_first(got, known, first, later):
    message = _message(checks.check_close, "dW for the example", got, RIGHT, **known)
    lines = message.splitlines()
    assert lines[0].startswith(first) and len(lines[0]) <= 90, lines[0]
    assert "dW for the example" in message and later in message


def test_check_close_passes_quietly_and_returns_nothing():
    assert checks.check_close("dW", RIGHT + 1e-12, RIGHT) is None


def test_a_long_one_line_message_is_given_a_short_first_line():
    message = _message(checks.check_close, "x" * 200, RIGHT.T, RIGHT)
    assert all(len(line) <= 90 for line in message.splitlines()[:1])


class _DividingMul(Node):
    """Mul whose backward divides the whole product by each input: NaN at a zero."""

    def __init__(self, *inputs):
        super().__init__(inputs)

    def forward(self):
        self.value = np.prod([n.value for n in self.inbound_nodes], axis=0)

    def backward(self):
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            upstream = consumer.gradients[self]
            for node in self.inbound_nodes:
                with np.errstate(all="ignore"):
                    local = upstream * self.value / node.value
                self.gradients[node] += unbroadcast(local, np.shape(node.value))


def test_nan_from_a_zero_input_is_a_division_not_an_instability():
    message = _message(checks.check_backward, _DividingMul, Mul,
                       [np.array([0.0, 1.5]), np.array([2.0, 0.0])])
    assert "divided by that input" in message and "stabl" not in message


class _NoUpstreamMul(Mul):
    def backward(self):
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        a, b = self.inbound_nodes
        self.gradients[a] += b.value * np.ones_like(a.value)
        self.gradients[b] += a.value * np.ones_like(b.value)


def test_a_backward_without_the_upstream_gradient_is_named():
    values = checks.random_inputs([(3,), (3,)], seed=1)
    message = _message(checks.check_backward, _NoUpstreamMul, mf.Mul, values)
    assert message.splitlines()[0] == "The upstream gradient was not multiplied in"


def test_the_chain_rule_with_one_path_for_x_is_named():
    message = _message(checks.check_chain_rule, lambda x, y, z, g: (g * y, g * x, g * x),
                       3.0, 4.0, -5.0, 0.5)
    assert message.startswith("dL/dx follows only one path") and "two paths" in message


def test_a_visible_check_names_the_first_of_errors_equal_but_for_rounding():
    want = np.array([[0.7], [3.3], [1.9], [12.1]])
    with pytest.raises(AssertionError, match=r"element \(0, 0\): expected 0\.7, got 0\.8"):
        checks.check_close("the logits", want + 0.1, want)
