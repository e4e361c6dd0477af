"""The checks written for "Layers": each diagnostic, triggered by a wrong implementation."""

from __future__ import annotations

import numpy as np
from failing import fails as _fails

import miniflow as mf
from autograder import checks
from miniflow import Linear, Node, Sigmoid
from miniflow.nodes import _sigmoid  # noqa: PLC2701

LINEAR_VALUES = checks.random_inputs([(5, 3), (3, 2), (2,)], seed=0)
NAMES = ["X", "W", "b"]




# -- wrong implementations a student might write --------------------------------------


def _naive_sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


class NaiveSigmoid(Sigmoid):
    def forward(self):
        self.value = _naive_sigmoid(self.inbound_nodes[0].value)


class HalfSigmoid(Sigmoid):
    def forward(self):
        self.value = 0.5 * _sigmoid(self.inbound_nodes[0].value)


class StudentLinear(Node):
    """A correct layer whose backward computes the gradients with ``_gradients``."""

    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name=name)

    def forward(self):
        X, W, b = (n.value for n in self.inbound_nodes)
        self.value = X @ W + b

    def _gradients(self, G, X, W):
        return G @ W.T, X.T @ G, G.sum(axis=0)

    def backward(self):
        X, W, b = self.inbound_nodes
        G = sum(consumer.gradients[self] for consumer in self.outbound_nodes)
        dX, dW, db = self._gradients(G, X.value, W.value)
        self.gradients = {X: dX, W: dW, b: db}


class TransposedDW(StudentLinear):
    def _gradients(self, G, X, W):
        return G @ W.T, G.T @ X, G.sum(axis=0)


class NoTransposeDX(StudentLinear):
    def _gradients(self, G, X, W):
        return G @ W, X.T @ G, G.sum(axis=0)


class BiasKeepsBatch(StudentLinear):
    def _gradients(self, G, X, W):
        return G @ W.T, X.T @ G, G


class BiasInPlace(StudentLinear):
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            self.gradients[b] += consumer.gradients[self]


class DWInPlaceTransposed(StudentLinear):
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            self.gradients[W] += consumer.gradients[self].T @ X.value


class DXIsUpstream(StudentLinear):
    def _gradients(self, G, X, W):
        return G, X.T @ G, G.sum(axis=0)


class FlatDW(StudentLinear):
    def _gradients(self, G, X, W):
        return G @ W.T, (X.T @ G).reshape(-1), G.sum(axis=0)


class ForgetsBias(StudentLinear):
    def backward(self):
        X, W, _ = self.inbound_nodes
        G = self.outbound_nodes[0].gradients[self]
        self.gradients = {X: G @ W.value.T, W: X.value.T @ G}


class IgnoresUpstream(StudentLinear):
    def _gradients(self, G, X, W):
        return super()._gradients(np.ones_like(G), X, W)


class RaisingLinear(StudentLinear):
    def backward(self):
        raise RuntimeError("not finished")


# -- check_function --------------------------------------------------------------------


def test_check_function_accepts_a_stable_sigmoid():
    checks.check_function(lambda x: np.exp(-np.logaddexp(0, -x)), _sigmoid,
                          [np.array([-1000.0, 0.0, 1000.0])], name="_sigmoid")


def test_check_function_names_an_overflow_warning():
    with _fails(r"_sigmoid\(x\) warned .*overflow.*np.exp should only see numbers <= 0"):
        checks.check_function(_naive_sigmoid, _sigmoid, [np.array([-1000.0, 1000.0])],
                              name="_sigmoid")


def test_check_function_warns_even_when_numpy_errors_are_ignored_globally():
    with np.errstate(all="ignore"), _fails("warned"):
        checks.check_function(_naive_sigmoid, _sigmoid, [np.array([-1000.0])], name="_sigmoid")


def test_check_function_reports_a_wrong_value():
    with _fails(r"_sigmoid\(x\) for x of shape \(2,\) with values from -1 to 1 is wrong"):
        checks.check_function(lambda x: 0.5 * _sigmoid(x), _sigmoid, [np.array([-1.0, 1.0])],
                              name="_sigmoid")


def test_check_function_reports_an_error():
    def broken(x):
        raise ValueError("oops")

    with _fails(r"_sigmoid\(x\) raised ValueError: oops"):
        checks.check_function(broken, _sigmoid, [np.array([1.0])], name="_sigmoid")


# -- check_stable_forward --------------------------------------------------------------


def test_check_stable_forward_accepts_the_reference():
    checks.check_stable_forward(mf.Sigmoid, mf.Sigmoid, [np.array([[-1000.0, 1000.0]])])


def test_check_stable_forward_names_the_warning():
    with _fails(r"NaiveSigmoid.forward\(\) warned .*overflow encountered in exp.*-1000"):
        checks.check_stable_forward(NaiveSigmoid, mf.Sigmoid, [np.array([[-1000.0, 1000.0]])])


def test_check_stable_forward_reports_a_wrong_value():
    with _fails(r"HalfSigmoid.value for inputs .* is wrong"):
        checks.check_stable_forward(HalfSigmoid, mf.Sigmoid, [np.array([[-1000.0, 1000.0]])])


# -- check_gradient_shapes -------------------------------------------------------------


def test_check_gradient_shapes_accepts_a_correct_layer():
    checks.check_gradient_shapes(StudentLinear, LINEAR_VALUES, names=NAMES)
    checks.check_gradient_shapes(Linear, LINEAR_VALUES, names=NAMES)


def test_check_gradient_shapes_names_a_transposed_gradient():
    with _fails(r"gradients\[W\] .* has shape \(2, 3\), the transpose of W's shape \(3, 2\)"):
        checks.check_gradient_shapes(TransposedDW, LINEAR_VALUES, names=NAMES)


def test_check_gradient_shapes_explains_a_matmul_error():
    with _fails(r"raised ValueError: matmul.*shapes of a matrix product do not fit"):
        checks.check_gradient_shapes(NoTransposeDX, LINEAR_VALUES, names=NAMES)


def test_check_gradient_shapes_explains_an_in_place_add_of_the_batch():
    with _fails(r"non-broadcastable output operand.*summed over the batch"):
        checks.check_gradient_shapes(BiasInPlace, LINEAR_VALUES, names=NAMES)


def test_check_gradient_shapes_explains_a_broadcast_error():
    with _fails(r"could not be broadcast.*Likely mistake: two arrays of different shapes"):
        checks.check_gradient_shapes(DWInPlaceTransposed, LINEAR_VALUES, names=NAMES)


def test_check_gradient_shapes_names_a_kept_batch_dimension():
    with _fails(r"gradients\[b\] .* has shape \(5, 2\).*extra leading dimension of 5.*"
                r"sum its gradient over the batch"):
        checks.check_gradient_shapes(BiasKeepsBatch, LINEAR_VALUES, names=NAMES)


def test_check_gradient_shapes_suggests_a_reshape_when_the_size_is_right():
    with _fails(r"gradients\[W\] .* has shape \(6,\).*right number of elements, so reshape"):
        checks.check_gradient_shapes(FlatDW, LINEAR_VALUES, names=NAMES)


def test_check_gradient_shapes_reports_any_other_shape():
    with _fails(r"gradients\[X\] .* has shape \(5, 2\), expected X's shape \(5, 3\): a gradient "
                r"always has its input's shape"):
        checks.check_gradient_shapes(DXIsUpstream, LINEAR_VALUES, names=NAMES)


def test_check_gradient_shapes_reports_a_missing_gradient():
    with _fails(r"gradients\[b\] .* was not set"):
        checks.check_gradient_shapes(ForgetsBias, LINEAR_VALUES, names=NAMES)


def test_check_gradient_shapes_reports_other_errors():
    with _fails(r"RaisingLinear.backward\(\) raised RuntimeError: not finished"):
        checks.check_gradient_shapes(RaisingLinear, LINEAR_VALUES, names=NAMES)


# -- check_known_mistakes --------------------------------------------------------------

MISTAKES = {
    "IGNORES UPSTREAM": lambda v, g, e: [np.ones_like(g) @ v[1].T, v[0].T @ np.ones_like(g),
                                         np.ones_like(g).sum(axis=0)],
}


def test_check_known_mistakes_names_a_recognised_mistake():
    with _fails(r"IgnoresUpstream's gradients .* are wrong in a recognisable way: "
                r"IGNORES UPSTREAM"):
        checks.check_known_mistakes(IgnoresUpstream, Linear, LINEAR_VALUES, MISTAKES,
                                    names=NAMES)


def test_check_known_mistakes_passes_right_and_unrecognised_gradients():
    checks.check_known_mistakes(StudentLinear, Linear, LINEAR_VALUES, MISTAKES, names=NAMES)
    # Wrong, but not in a way listed: left to check_backward.
    checks.check_known_mistakes(BiasKeepsBatch, Linear, LINEAR_VALUES, MISTAKES, names=NAMES)
    checks.check_known_mistakes(RaisingLinear, Linear, LINEAR_VALUES, MISTAKES, names=NAMES)


def test_check_known_mistakes_ignores_a_mistake_equal_to_the_right_answer():
    same = {"NOT A MISTAKE HERE": lambda v, g, e: [e[0], None, None]}
    checks.check_known_mistakes(StudentLinear, Linear, LINEAR_VALUES, same, names=NAMES)


def test_check_known_mistakes_uses_the_same_upstream_as_check_backward():
    # The mistake is described with the upstream gradient check_backward sends.
    with _fails("SIGMOID FROM INPUT"):
        checks.check_known_mistakes(
            SigmoidFromInput, Sigmoid, [np.array([0.3, -1.2, 2.0])],
            {"SIGMOID FROM INPUT": lambda v, g, e: [g * v[0] * (1 - v[0])]}, seed=4)


class SigmoidFromInput(Sigmoid):
    def backward(self):
        (x,) = self.inbound_nodes
        upstream = self.outbound_nodes[0].gradients[self]
        self.gradients = {x: upstream * x.value * (1 - x.value)}


# -- one mistake costs one exercise -------------------------------------------------------


class LinearWithoutBias(StudentLinear):
    """A wrong forward (no bias) and a right backward."""

    def forward(self):
        X, W, _ = (n.value for n in self.inbound_nodes)
        self.value = X @ W


class SigmoidStoringInput(Sigmoid):
    """A wrong forward (the input, not its sigmoid); the backward is miniflow's."""

    def forward(self):
        self.value = np.array(self.inbound_nodes[0].value, dtype=float)


def test_a_wrong_forward_fails_the_forward_check_only():
    with _fails("LinearWithoutBias.value"):
        checks.check_forward(LinearWithoutBias, mf.Linear, LINEAR_VALUES, names=NAMES)
    # The backward checks start from the right forward value: the right
    # backward passes, and the numerical check differentiates the right forward.
    checks.check_backward(LinearWithoutBias, mf.Linear, LINEAR_VALUES, names=NAMES)
    checks.check_fan_out(LinearWithoutBias, mf.Linear, LINEAR_VALUES, names=NAMES)
    checks.check_against_numerical(LinearWithoutBias, LINEAR_VALUES, names=NAMES,
                                   reference=mf.Linear)
    values = checks.random_inputs([(4, 3)], seed=1)
    with _fails("SigmoidStoringInput.value"):
        checks.check_forward(SigmoidStoringInput, mf.Sigmoid, values, names=["x"])
    checks.check_backward(SigmoidStoringInput, mf.Sigmoid, values, names=["x"])
    checks.check_fan_out(SigmoidStoringInput, mf.Sigmoid, values, names=["x"])
    # A notebook's class has miniflow's name: the reference is found by it.
    named_like_miniflow = type("Sigmoid", (SigmoidStoringInput,), {})
    checks.check_against_numerical(named_like_miniflow, values, names=["x"])
    with _fails("numerical gradient of its forward"):  # no reference: its own forward
        checks.check_against_numerical(SigmoidStoringInput, values, names=["x"])


class LinearWhoseBackwardRaises(StudentLinear):
    def _gradients(self, G, X, W):
        return G @ W, X.T @ G, G.sum(axis=0)


def test_an_error_in_backward_names_the_node_and_the_line():
    with _fails(r"<LinearWhoseBackwardRaises>\.backward\(\) raised ValueError: .*"
                r"at `return G @ W, X\.T @ G, G\.sum\(axis=0\)`"):
        checks.check_backward(LinearWhoseBackwardRaises, mf.Linear, LINEAR_VALUES, names=NAMES)
