"""The checks written for "Losses": each diagnostic, triggered by a wrong implementation."""

from __future__ import annotations

import numpy as np
from failing import fails as _fails

from autograder import checks
from miniflow import MSE, CrossEntropyWithSoftmax, Node
from miniflow.nodes import _softmax  # noqa: PLC2701

LOGITS = np.random.default_rng(0).normal(size=(4, 3))
LAYER = checks.random_inputs([(6, 3), (3, 1), (1,)], seed=1)
TARGETS = np.random.default_rng(2).normal(size=6)
CLASS_LAYER = checks.random_inputs([(5, 3), (3, 4), (4,)], seed=3)
LABELS = np.array([0, 3, 1, 2, 3])




# -- wrong implementations a student might write --------------------------------------


class StudentMSE(Node):
    """A correct MSE, with the ways of getting it wrong as overridable pieces."""

    is_loss = True

    def __init__(self, y, a, name=None):
        super().__init__([y, a], name=name)

    def _difference(self, y, a):
        return y.reshape(-1, 1) - a.reshape(-1, 1)

    def forward(self):
        y, a = (np.asarray(n.value, dtype=float) for n in self.inbound_nodes)
        self.diff = self._difference(y, a)
        self.value = np.mean(self.diff ** 2)

    def backward(self):
        y, a = self.inbound_nodes
        m = self.diff.shape[0]
        self.gradients = {y: (2 / m * self.diff).reshape(np.shape(y.value)),
                          a: (-2 / m * self.diff).reshape(np.shape(a.value))}


class BroadcastMSE(StudentMSE):
    def _difference(self, y, a):
        return y - a

    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {y: np.zeros(np.shape(y.value)), a: np.zeros(np.shape(a.value))}


class SignFlippedMSE(StudentMSE):
    def backward(self):
        super().backward()
        self.gradients = {node: -g for node, g in self.gradients.items()}


class ScaledMSE(StudentMSE):
    def forward(self):
        super().forward()
        self.value = 2 * self.value


class StickyMSE(StudentMSE):
    """Computes its value once and never again: right at first, stale afterwards."""

    def forward(self):
        if self.value is None:
            super().forward()


class TwoArgumentsOnlyMSE(StudentMSE):
    def __init__(self, y, a, name=None):
        raise TypeError("MSE got an unexpected node")


# -- check_probability_rows ------------------------------------------------------------


def test_check_probability_rows_accepts_softmax():
    checks.check_probability_rows(_softmax, LOGITS)


def test_check_probability_rows_names_the_wrong_axis():
    def over_the_batch(x):
        exps = np.exp(x - x.max(axis=0, keepdims=True))
        return exps / exps.sum(axis=0, keepdims=True)

    with _fails(r"each row of _softmax\(x\) should sum to 1.*columns sum to 1 instead: "
                r"normalise over axis=1"):
        checks.check_probability_rows(over_the_batch, LOGITS)


def test_check_probability_rows_names_a_global_normalisation():
    def whole_array(x):
        exps = np.exp(x - x.max())
        return exps / exps.sum()

    with _fails(r"row sums are .* The whole array sums to 1: normalise each row on its own"):
        checks.check_probability_rows(whole_array, LOGITS)


def test_check_probability_rows_reports_unnormalised_rows():
    with _fails(r"each row of _softmax\(x\) should sum to 1 .* row sums are \[") as info:
        checks.check_probability_rows(np.exp, LOGITS)
    assert "axis=1" not in str(info.value) and "whole array" not in str(info.value)


def test_check_probability_rows_reports_negative_entries():
    with _fails(r"negative entries"):
        checks.check_probability_rows(lambda x: 2 * _softmax(x) - 1 / x.shape[1], LOGITS)


def test_check_probability_rows_reports_a_wrong_shape():
    with _fails(r"_softmax\(x\) has shape \(4,\) for x of shape \(4, 3\)"):
        checks.check_probability_rows(lambda x: _softmax(x).max(axis=1), LOGITS)


# -- check_forward_mistakes ------------------------------------------------------------

BROADCAST = {"BROADCAST TRAP": lambda v, e: np.mean((v[0].reshape(-1) - v[1].reshape(-1, 1))
                                                    ** 2)}


def test_check_forward_mistakes_names_a_recognised_mistake():
    values = checks.random_inputs([(5,), (5, 1)], seed=4)
    with _fails(r"BroadcastMSE.value \(inputs: y: shape \(5,\), a: shape \(5, 1\)\) is wrong "
                r"in a recognisable way: BROADCAST TRAP"):
        checks.check_forward_mistakes(BroadcastMSE, MSE, values, BROADCAST, names=["y", "a"])


def test_check_forward_mistakes_passes_right_and_unrecognised_values():
    values = checks.random_inputs([(5,), (5, 1)], seed=4)
    checks.check_forward_mistakes(StudentMSE, MSE, values, BROADCAST, names=["y", "a"])
    checks.check_forward_mistakes(ScaledMSE, MSE, values, BROADCAST, names=["y", "a"])


def test_check_forward_mistakes_ignores_a_mistake_equal_to_the_right_answer():
    # With equal shapes there is no trap to fall into: nothing may be named.
    values = checks.random_inputs([(5,), (5,)], seed=4)
    checks.check_forward_mistakes(StudentMSE, MSE, values,
                                  {"NOT A MISTAKE": lambda v, e: np.mean((v[0] - v[1]) ** 2)},
                                  names=["y", "a"])


# -- check_loss_after_linear -----------------------------------------------------------


def test_check_loss_after_linear_accepts_the_reference_losses():
    checks.check_loss_after_linear(StudentMSE, MSE, *LAYER, TARGETS, target_position=0)
    checks.check_loss_after_linear(CrossEntropyWithSoftmax, CrossEntropyWithSoftmax,
                                   *CLASS_LAYER, LABELS, target_position=1)


def test_check_loss_after_linear_judges_the_backward_only():
    # A wrong value is the forward test's to report; the gradients are judged
    # from the right value, so a right backward passes and a wrong one fails.
    checks.check_loss_after_linear(StickyMSE, MSE, *LAYER, TARGETS, target_position=0)
    with _fails(r"the gradient of X through a Linear layer and your BroadcastMSE"):
        checks.check_loss_after_linear(BroadcastMSE, MSE, *LAYER, TARGETS, target_position=0)


def test_check_loss_after_linear_reports_a_wrong_gradient():
    with _fails(r"(?s)the gradient of X through a Linear layer and your SignFlippedMSE .* wrong.*"
                r"wrong sign"):
        checks.check_loss_after_linear(SignFlippedMSE, MSE, *LAYER, TARGETS, target_position=0)


def test_check_loss_after_linear_reports_a_constructor_error():
    with _fails(r"TwoArgumentsOnlyMSE after a Linear layer raised TypeError"):
        checks.check_loss_after_linear(TwoArgumentsOnlyMSE, MSE, *LAYER, TARGETS,
                                       target_position=0)
