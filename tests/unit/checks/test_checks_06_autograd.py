"""The checks written for "Bonus: define-by-run autograd": each diagnostic, triggered
by a wrong implementation."""

from __future__ import annotations

import inspect
from collections import deque

import numpy as np
import pytest
from failing import fails as _fails

from autograder import checks
from miniflow.nodes import unbroadcast
from miniflow.tensor import Tensor, backpropagate, topological_order

BROADCAST_PAIR = checks.random_inputs([(4, 3), (3,)], seed=0)
SAME_PAIR = checks.random_inputs([(4, 3), (4, 3)], seed=1)
SQUARE_PAIR = checks.random_inputs([(3, 3), (3, 3)], seed=2)
MATRIX_PAIR = checks.random_inputs([(4, 3), (3, 2)], seed=3)
ONE = checks.random_inputs([(3, 4)], seed=4)




def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# -- a right Tensor: miniflow's, the notebook's solution; and wrong ones made from it ----------


def _wrong(changes):
    """miniflow's Tensor with the methods of the class ``changes`` in place of its own.

    A class of its own, made in a copy of miniflow.tensor (``checks.reference_tensor``
    makes one at each call) whose ``Tensor`` it is: every operation, the right ones
    too, returns one of it, as in a student's notebook. A changed operation makes its
    result with ``type(self)(...)``.
    """
    tensor = checks.reference_tensor(backpropagate)
    for name, value in vars(changes).items():
        if inspect.isfunction(value):
            setattr(tensor, name, value)
    return tensor


def test_the_reference_tensor_of_a_graded_backpropagate_calls_it_from_every_result():
    calls = []

    def graded(output):
        calls.append(output)
        backpropagate(output)

    Reference = checks.reference_tensor(graded)
    x = Reference(3.0, name="x")
    h = x * x
    d = h * 2 + h * 3
    assert type(d) is Reference, "an operation makes the class the test was given"
    d.backward()
    assert calls == [d] and float(x.grad) == 30.0
    assert checks.reference_tensor(graded) is not Reference, "a new class at each call"
    y = Tensor(2.0) * 3.0
    y.backward()
    assert calls == [d], "miniflow's own Tensor keeps miniflow's backpropagate"
    assert checks.reference_tensor() is Tensor


# -- check_tensor_forward -----------------------------------------------------------------


def test_check_tensor_forward_accepts_right_operations():
    checks.check_tensor_forward(Tensor, lambda a, b: a + b, np.add, BROADCAST_PAIR, what="a + b")
    checks.check_tensor_forward(Tensor, lambda a, b: a @ b, np.matmul, MATRIX_PAIR, what="a @ b")
    checks.check_tensor_forward(Tensor, lambda a, b: a * b, np.multiply, ONE, what="x * x",
                                names=["x"], uses=[0, 0])


def test_check_tensor_forward_wants_a_tensor_back():
    @_wrong
    class PlainSum:
        def sum(self):
            return self.data.sum()

    with _fails(r"a.sum\(\) \(a: shape \(3, 4\)\) returned float64, not a Tensor"):
        checks.check_tensor_forward(PlainSum, lambda a: a.sum(), np.sum, ONE, what="a.sum()")


def test_check_tensor_forward_compares_the_data():
    @_wrong
    class ElementwiseMatmul:
        def __matmul__(self, other):
            return type(self)(self.data * other.data, parents=(self, other), op="@")

    with _fails(r"the .data of a @ b \(a: shape \(3, 3\), b: shape \(3, 3\)\) is wrong"):
        checks.check_tensor_forward(ElementwiseMatmul, lambda a, b: a @ b, np.matmul,
                                    SQUARE_PAIR, what="a @ b")


def test_check_tensor_forward_names_an_error_of_the_operation():
    @_wrong
    class ElementwiseMatmul:
        def __matmul__(self, other):
            return type(self)(self.data * other.data, parents=(self, other), op="@")

    with _fails(r"a @ b \(a: shape \(4, 3\), b: shape \(3, 2\)\) raised ValueError"):
        checks.check_tensor_forward(ElementwiseMatmul, lambda a, b: a @ b, np.matmul,
                                    MATRIX_PAIR, what="a @ b")


def test_check_tensor_forward_wants_the_parents_recorded():
    @_wrong
    class Forgetful:
        def __add__(self, other):
            return type(self)(self.data + other.data, op="+")

    with _fails(r"_parents is \(\), which does not hold a, b. Record the tensors"):
        checks.check_tensor_forward(Forgetful, lambda a, b: a + b, np.add, SAME_PAIR,
                                    what="a + b")


def test_check_tensor_forward_wants_a_callable_backward():
    @_wrong
    class NoRule:
        def __add__(self, other):
            out = type(self)(self.data + other.data, parents=(self, other), op="+")
            out._backward = None
            return out

    with _fails(r"_backward is None; it must be a function"):
        checks.check_tensor_forward(NoRule, lambda a, b: a + b, np.add, SAME_PAIR, what="a + b")


def test_check_tensor_forward_names_a_changed_operand():
    @_wrong
    class InPlace:
        def __add__(self, other):
            self.data += other.data
            return type(self)(self.data, parents=(self, other), op="+")

    with _fails(r"changed a.data: an operation computes a new array"):
        checks.check_tensor_forward(InPlace, lambda a, b: a + b, np.add, SAME_PAIR, what="a + b")


# -- check_tensor_backward ----------------------------------------------------------------


def test_check_tensor_backward_accepts_right_rules():
    for operation, reference, values in [(lambda a, b: a + b, np.add, BROADCAST_PAIR),
                                         (lambda a, b: a * b, np.multiply, BROADCAST_PAIR),
                                         (lambda a, b: a @ b, np.matmul, MATRIX_PAIR),
                                         (lambda a: a.sum(), np.sum, ONE),
                                         (lambda a: a.sigmoid(), _sigmoid, ONE)]:
        checks.check_tensor_backward(Tensor, operation, reference, values, what="op")
    checks.check_tensor_backward(Tensor, lambda a, b: a * b, np.multiply, ONE, what="x * x",
                                 names=["x"], uses=[0, 0])


@_wrong
class NoUnbroadcastInPlace:
    def __add__(self, other):
        out = type(self)(self.data + other.data, parents=(self, other), op="+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out


@_wrong
class NoUnbroadcastRebound:
    def __add__(self, other):
        out = type(self)(self.data + other.data, parents=(self, other), op="+")

        def _backward():
            self.grad = self.grad + out.grad
            other.grad = other.grad + out.grad

        out._backward = _backward
        return out


def test_check_tensor_backward_explains_a_failed_in_place_add():
    with _fails(r"the _backward of a \+ b .* raised ValueError: non-broadcastable output "
                r"operand.* sum the gradient back to its shape first \(miniflow.s unbroadcast"):
        checks.check_tensor_backward(NoUnbroadcastInPlace, lambda a, b: a + b, np.add,
                                     BROADCAST_PAIR, what="a + b")


def test_check_tensor_backward_explains_a_failed_matrix_product():
    @_wrong
    class NoTranspose:
        def __matmul__(self, other):
            out = type(self)(self.data @ other.data, parents=(self, other), op="@")

            def _backward():
                self.grad += out.grad @ other.data
                other.grad += self.data @ out.grad

            out._backward = _backward
            return out

    with _fails(r"raised ValueError: matmul.* Likely mistake: the shapes of a matrix product "
                r"do not fit"):
        checks.check_tensor_backward(NoTranspose, lambda a, b: a @ b, np.matmul, MATRIX_PAIR,
                                     what="a @ b")


def test_check_tensor_backward_names_a_gradient_left_broadcast():
    with _fails(r"b.grad after the _backward of a \+ b .* has shape \(4, 3\), expected \(3,\): "
                r"it has the result's shape \(4, 3\): b was broadcast"):
        checks.check_tensor_backward(NoUnbroadcastRebound, lambda a, b: a + b, np.add,
                                     BROADCAST_PAIR, what="a + b")


def test_check_tensor_backward_names_a_single_number_for_an_array():
    @_wrong
    class ScalarSumGradient:
        def sum(self):
            out = type(self)(self.data.sum(), parents=(self,), op="sum")

            def _backward():
                self.grad = out.grad

            out._backward = _backward
            return out

    with _fails(r"has shape \(\), expected \(3, 4\): a single number cannot be the gradient"):
        checks.check_tensor_backward(ScalarSumGradient, lambda a: a.sum(), np.sum, ONE,
                                     what="a.sum()")


def test_check_tensor_backward_names_a_transposed_gradient():
    @_wrong
    class TransposedGradient:
        def __matmul__(self, other):
            out = type(self)(self.data @ other.data, parents=(self, other), op="@")

            def _backward():
                self.grad = self.grad + out.grad @ other.data.T
                other.grad = other.grad.T + (self.data.T @ out.grad).T

            out._backward = _backward
            return out

    with _fails(r"b.grad .* has shape \(2, 3\), expected \(3, 2\): it is transposed"):
        checks.check_tensor_backward(TransposedGradient, lambda a, b: a @ b, np.matmul,
                                     MATRIX_PAIR, what="a @ b")


def test_check_tensor_backward_names_a_gradient_of_another_shape():
    @_wrong
    class Flattened:
        def sigmoid(self):
            out = type(self)(_sigmoid(self.data), parents=(self,), op="sigmoid")

            def _backward():
                self.grad = (self.grad + out.grad * out.data * (1 - out.data)).reshape(-1)

            out._backward = _backward
            return out

    with _fails(r"has shape \(12,\), expected \(3, 4\): a gradient always has the shape"):
        checks.check_tensor_backward(Flattened, lambda a: a.sigmoid(), _sigmoid, ONE,
                                     what="a.sigmoid()")


def test_check_tensor_backward_names_a_missing_gradient():
    @_wrong
    class NoneGradient:
        def sigmoid(self):
            out = type(self)(_sigmoid(self.data), parents=(self,), op="sigmoid")

            def _backward():
                self.grad = None

            out._backward = _backward
            return out

    with _fails(r"a.grad after the _backward of a.sigmoid\(\) .* is None"):
        checks.check_tensor_backward(NoneGradient, lambda a: a.sigmoid(), _sigmoid, ONE,
                                     what="a.sigmoid()")


@_wrong
class OverwritingMul:
    def __mul__(self, other):
        out = type(self)(self.data * other.data, parents=(self, other), op="*")

        def _backward():
            self.grad = unbroadcast(out.grad * other.data, self.data.shape)
            other.grad = unbroadcast(out.grad * self.data, other.data.shape)

        out._backward = _backward
        return out


def test_check_tensor_backward_names_an_overwritten_gradient():
    with _fails(r"replaced the gradient a already had instead of adding to it"):
        checks.check_tensor_backward(OverwritingMul, lambda a, b: a * b, np.multiply, SAME_PAIR,
                                     what="a * b")


def test_check_tensor_backward_names_a_lost_second_use():
    with _fails(r"holds only one of the 2 contributions of x, which is used 2 times"):
        checks.check_tensor_backward(OverwritingMul, lambda a, b: a * b, np.multiply, ONE,
                                     what="x * x", names=["x"], uses=[0, 0])


def test_check_tensor_backward_names_a_recognised_mistake():
    @_wrong
    class OwnValue:
        def __mul__(self, other):
            out = type(self)(self.data * other.data, parents=(self, other), op="*")

            def _backward():
                self.grad += out.grad * self.data
                other.grad += out.grad * other.data

            out._backward = _backward
            return out

    mistakes = {"OWN VALUE": lambda v, g: [g * v[0], g * v[1]]}
    with _fails(r"the _backward of a \* b .* is wrong in a recognisable way: OWN VALUE"):
        checks.check_tensor_backward(OwnValue, lambda a, b: a * b, np.multiply, SAME_PAIR,
                                     what="a * b", mistakes=mistakes)


def test_check_tensor_backward_compares_with_a_numerical_gradient():
    @_wrong
    class InputSlope:
        def sigmoid(self):
            out = type(self)(_sigmoid(self.data), parents=(self,), op="sigmoid")

            def _backward():
                self.grad += out.grad * self.data * (1 - self.data)

            out._backward = _backward
            return out

    with _fails(r"the gradient the _backward of a.sigmoid\(\) .* added to a.grad \(compared "
                r"with a numerical gradient\) is wrong at element"):
        checks.check_tensor_backward(InputSlope, lambda a: a.sigmoid(), _sigmoid, ONE,
                                     what="a.sigmoid()")


def test_check_tensor_backward_names_a_rule_that_adds_nothing():
    @_wrong
    class Silent:
        def sigmoid(self):
            out = type(self)(_sigmoid(self.data), parents=(self,), op="sigmoid")
            out._backward = lambda: None
            return out

    with _fails(r"is all zeros, expected values up to .* no gradient reached it"):
        checks.check_tensor_backward(Silent, lambda a: a.sigmoid(), _sigmoid, ONE,
                                     what="a.sigmoid()")


def test_check_tensor_backward_names_half_a_gradient():
    @_wrong
    class HalfSum:
        def sum(self):
            out = type(self)(self.data.sum(), parents=(self,), op="sum")

            def _backward():
                self.grad += 0.5 * np.broadcast_to(out.grad, self.data.shape)

            out._backward = _backward
            return out

    with _fails(r"is exactly half of the right value"):
        checks.check_tensor_backward(HalfSum, lambda a: a.sum(), np.sum, ONE, what="a.sum()")


# -- check_topological_order ----------------------------------------------------------------


def _recursive_order(output):
    order, visited = [], set()

    def visit(tensor):
        if id(tensor) in visited:
            return
        visited.add(id(tensor))
        for parent in tensor._parents:
            visit(parent)
        order.append(tensor)

    visit(output)
    return order


def test_check_topological_order_accepts_depth_first_orders():
    checks.check_topological_order(Tensor, topological_order, seed=0)
    checks.check_topological_order(Tensor, _recursive_order, seed=0, trials=5, depth=200)


def test_check_topological_order_wants_a_list():
    with _fails(r"should return a list of tensors, got tuple"):
        checks.check_topological_order(Tensor, lambda t: tuple(topological_order(t)), trials=1)


def test_check_topological_order_names_a_stranger():
    stranger = Tensor(0.0)
    with _fails(r"which the output of .* does not depend on"):
        checks.check_topological_order(Tensor, lambda t: [stranger] + topological_order(t),
                                       trials=1)


def test_check_topological_order_names_a_duplicate():
    def no_visited_set(output):
        order = []

        def visit(tensor):
            for parent in tensor._parents:
                visit(parent)
            order.append(tensor)

        visit(output)
        return order

    with _fails(r"topological_order lists .* \d+ times .* remember which ones you have visited"):
        checks.check_topological_order(Tensor, no_visited_set, seed=0)


def test_check_topological_order_names_a_missing_tensor():
    def no_leaves(output):
        return [t for t in topological_order(output) if t._parents]

    with _fails(r"left out \d+ of the \d+ tensors .* follow _parents all the way back"):
        checks.check_topological_order(Tensor, no_leaves, seed=0)


def test_check_topological_order_names_a_child_before_its_parent():
    def reversed_breadth_first(output):
        order, seen, queue = [], {id(output)}, deque([output])
        while queue:
            tensor = queue.popleft()
            order.append(tensor)
            for parent in tensor._parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    queue.append(parent)
        return order[::-1]

    with _fails(r"puts .* before its parent .* append a tensor only after all of its parents"):
        checks.check_topological_order(Tensor, reversed_breadth_first, seed=0)


def test_check_topological_order_names_the_recursion_limit():
    with _fails(r"hit Python's recursion limit on a chain of 3000 operations: visit the "
                r"parents with your own stack"):
        checks.check_topological_order(Tensor, _recursive_order, trials=1, depth=3000)


def test_check_topological_order_names_an_error_on_the_chain():
    def fails_when_deep(output):
        order = topological_order(output)
        if len(order) > 100:
            raise MemoryError("too deep")
        return order

    with _fails(r"for a chain of 500 operations raised MemoryError: too deep"):
        checks.check_topological_order(Tensor, fails_when_deep, trials=1)


# -- check_backpropagation --------------------------------------------------------------------


def test_check_backpropagation_accepts_a_right_backpropagate():
    checks.check_backpropagation(Tensor, backpropagate, seed=0)


def test_check_backpropagation_names_the_recursion_limit():
    def recursive(output):
        order = _recursive_order(output)
        for tensor in order:
            tensor.grad = np.zeros_like(tensor.data)
        output.grad = np.ones_like(output.data)
        for tensor in reversed(order):
            tensor._backward()

    with _fails(r"backpropagate hit Python's recursion limit for a chain of 3000"):
        checks.check_backpropagation(Tensor, recursive, depth=3000)


def test_check_backpropagation_names_an_error():
    def broken(output):
        raise KeyError("oops")

    with _fails(r"backpropagate\(output\) for y = sum\(x \* x\) raised KeyError"):
        checks.check_backpropagation(Tensor, broken)


def test_check_backpropagation_wants_the_output_seeded_with_ones():
    def unseeded(output):
        order = topological_order(output)
        for tensor in order:
            tensor.grad = np.zeros_like(tensor.data)
        for tensor in reversed(order):
            tensor._backward()

    with _fails(r"output.grad after backpropagate\(output\) is \[0.\]; it must be ones"):
        checks.check_backpropagation(Tensor, unseeded)


def _seeded(output):
    order = topological_order(output)
    for tensor in order:
        tensor.grad = np.zeros_like(tensor.data)
    output.grad = np.ones_like(output.data)
    return order


def test_check_backpropagation_names_a_rule_that_never_ran():
    def output_rule_only(output):
        _seeded(output)
        output._backward()

    with _fails(r"the _backward of x \* x never ran"):
        checks.check_backpropagation(Tensor, output_rule_only)


def test_check_backpropagation_names_a_rule_that_ran_twice():
    def eager(output):
        _seeded(output)

        def visit(tensor):
            tensor._backward()
            for parent in tensor._parents:
                visit(parent)

        visit(output)

    with _fails(r"for a diamond: .* the _backward of h = sigmoid\(x\) ran 2 times in one "
                r"backward pass"):
        checks.check_backpropagation(Tensor, eager)


def test_check_backpropagation_names_the_forward_order():
    def forward_order(output):
        for tensor in _seeded(output):
            tensor._backward()

    with _fails(r"the _backward of x \* x ran before the one of sum\(x \* x\), which uses it"):
        checks.check_backpropagation(Tensor, forward_order)


def test_check_backpropagation_names_stale_gradients():
    def no_reset(output):
        output.grad = np.ones_like(output.data)
        for tensor in reversed(topological_order(output)):
            tensor._backward()

    with _fails(r"x.grad after backpropagate\(output\) for y = sum\(x \* x\) still contains "
                r"gradients left from before"):
        checks.check_backpropagation(Tensor, no_reset)


def test_check_backpropagation_names_stale_leaves_only():
    def leaves_kept(output):
        order = topological_order(output)
        for tensor in order:
            if tensor._parents:
                tensor.grad = np.zeros_like(tensor.data)
        output.grad = np.ones_like(output.data)
        for tensor in reversed(order):
            tensor._backward()

    with _fails(r"still contains gradients left from before"):
        checks.check_backpropagation(Tensor, leaves_kept)


def test_check_backpropagation_compares_the_leaves_gradients():
    def doubled(output):
        backpropagate(output)
        for tensor in topological_order(output):
            if not tensor._parents:
                tensor.grad = 2 * tensor.grad

    with _fails(r"(?s)x.grad after backpropagate\(output\) for y = sum\(x \* x\) is wrong .* "
                r"exactly twice the right value"):
        checks.check_backpropagation(Tensor, doubled)


def _is_repeated_loss(output):
    """The graph sum(sigmoid(x @ W)) that the repeated-call checks build."""
    return (output._op == "sum" and output._parents[0]._op == "sigmoid"
            and output._parents[0]._parents[0]._op == "@")


def test_check_backpropagation_names_a_second_call_that_adds_up():
    calls = []

    def grows(output):
        backpropagate(output)
        if _is_repeated_loss(output):
            calls.append(output)
            if calls.count(output) > 1:
                for tensor in topological_order(output):
                    tensor.grad = 2 * tensor.grad

    with _fails(r"calling loss.backward\(\) a second time on the same graph changed W.grad "
                r"\(2 times the first\)"):
        checks.check_backpropagation(Tensor, grows)


def test_check_backpropagation_names_a_fresh_graph_that_adds_up():
    seen = []

    def remembers(output):
        backpropagate(output)
        if _is_repeated_loss(output):
            W = output._parents[0]._parents[0]._parents[1]
            if any(previous is not output for previous in seen):
                W.grad = 2 * W.grad
            seen.append(output)

    with _fails(r"W.grad after backward\(\) on a second, freshly built graph of the same W"):
        checks.check_backpropagation(Tensor, remembers)


# -- check_tensor_network -----------------------------------------------------------------------


def two_layer_loss(X, y, params):
    hidden = (Tensor(X) @ params["W1"] + params["b1"]).sigmoid()
    prediction = (hidden @ params["W2"] + params["b2"]).sigmoid()
    error = prediction - np.reshape(y, (-1, 1))
    return (error * error).mean()


def test_check_tensor_network_accepts_the_right_loss():
    for seed, (n, d, h) in enumerate([(6, 2, 3), (1, 2, 5), (7, 4, 1)]):
        checks.check_tensor_network(Tensor, two_layer_loss, n=n, d=d, h=h, seed=seed)


def _loss(*, hidden_sigmoid=True, output_sigmoid=True, b1=True, b2=True, column=True,
          reduce="mean", square=True):
    def loss(X, y, params):
        hidden = Tensor(X) @ params["W1"]
        hidden = hidden + params["b1"] if b1 else hidden
        hidden = hidden.sigmoid() if hidden_sigmoid else hidden
        prediction = hidden @ params["W2"]
        prediction = prediction + params["b2"] if b2 else prediction
        prediction = prediction.sigmoid() if output_sigmoid else prediction
        error = prediction - (np.reshape(y, (-1, 1)) if column else y)
        error = error * error if square else error
        return error.mean() if reduce == "mean" else error.sum()
    return loss


@pytest.mark.parametrize("loss, message", [
    (_loss(column=False), r"y was not reshaped to a column"),
    (_loss(reduce="sum"), r"the loss is the sum of the squared errors, not their mean"),
    (_loss(output_sigmoid=False), r"the output layer has no sigmoid"),
    (_loss(hidden_sigmoid=False), r"the hidden layer has no sigmoid"),
    (_loss(b1=False), r"the hidden layer has no bias"),
    (_loss(b2=False), r"the output layer has no bias"),
    (_loss(square=False), r"the error is not squared"),
], ids=["column", "sum", "output-sigmoid", "hidden-sigmoid", "b1", "b2", "square"])
def test_check_tensor_network_names_recognised_loss_mistakes(loss, message):
    with _fails(r"two_layer_loss \(X: shape \(6, 2\), y: shape \(6,\), hidden size 3\) gives .* "
                r"instead of .*; likely mistake: " + message):
        checks.check_tensor_network(Tensor, loss, n=6, d=2, h=3, seed=0)


def test_check_tensor_network_compares_an_unrecognised_loss():
    def doubled(X, y, params):
        return two_layer_loss(X, y, params) * 2.0

    with _fails(r"the loss of two_layer_loss compared with miniflow's static graph"):
        checks.check_tensor_network(Tensor, doubled, n=6, d=2, h=3, seed=0)


def test_check_tensor_network_wants_a_tensor():
    def numbers(X, y, params):
        return float(two_layer_loss(X, y, params).data)

    with _fails(r"should return the loss as a Tensor \(so that loss.backward\(\) works\), got "
                r"float"):
        checks.check_tensor_network(Tensor, numbers, n=6, d=2, h=3, seed=0)


def test_check_tensor_network_wants_a_single_number():
    def per_example(X, y, params):
        hidden = (Tensor(X) @ params["W1"] + params["b1"]).sigmoid()
        error = (hidden @ params["W2"] + params["b2"]).sigmoid() - np.reshape(y, (-1, 1))
        return error * error

    with _fails(r"the loss should be a single number, got .data of shape \(6, 1\)"):
        checks.check_tensor_network(Tensor, per_example, n=6, d=2, h=3, seed=0)


def test_check_tensor_network_explains_a_failing_backward():
    @_wrong
    class NoTranspose:
        def __matmul__(self, other):
            out = type(self)(self.data @ other.data, parents=(self, other), op="@")

            def _backward():
                self.grad += out.grad @ other.data
                other.grad += self.data @ out.grad

            out._backward = _backward
            return out

    def loss(X, y, params):
        hidden = (NoTranspose(X) @ params["W1"] + params["b1"]).sigmoid()
        error = (hidden @ params["W2"] + params["b2"]).sigmoid() - np.reshape(y, (-1, 1))
        return (error * error).mean()

    with _fails(r"loss.backward\(\) for two_layer_loss .* raised ValueError.* Likely mistake: "
                r"the shapes of a matrix product do not fit"):
        checks.check_tensor_network(NoTranspose, loss, n=6, d=2, h=3, seed=0)


def test_check_tensor_network_names_gradients_that_never_arrive():
    @_wrong
    class Forgetful:
        def __add__(self, other):
            return type(self)(self.data + other.data, op="+")

    def loss(X, y, params):
        hidden = (Forgetful(X) @ params["W1"] + params["b1"]).sigmoid()
        error = (hidden @ params["W2"] + params["b2"]).sigmoid() - np.reshape(y, (-1, 1))
        return (error * error).mean()

    with _fails(r"params\['W1'\].grad after loss.backward\(\), compared with miniflow's static "
                r"graph .* is all zeros"):
        checks.check_tensor_network(Forgetful, loss, n=6, d=2, h=3, seed=0)


def test_check_tensor_network_names_changed_weights():
    def nudges(X, y, params):
        loss = two_layer_loss(X, y, params)
        params["W2"].data += 0.0 * params["W2"].data + 1e-3
        return loss

    with _fails(r"two_layer_loss changed params\['W2'\].data"):
        checks.check_tensor_network(Tensor, nudges, n=6, d=2, h=3, seed=0)


# -- check_tensor_sgd_step --------------------------------------------------------------------


def sgd_step(params, learning_rate):
    for tensor in params.values():
        tensor.data -= learning_rate * tensor.grad


def test_check_tensor_sgd_step_accepts_the_right_step():
    checks.check_tensor_sgd_step(Tensor, sgd_step, seed=0)


@pytest.mark.parametrize("step, message", [
    (lambda params, lr: None, r"is zero: the parameters did not move"),
    (lambda params, lr: [setattr(t, "data", t.data + lr * t.grad) for t in params.values()],
     r"went uphill: subtract the gradient"),
    (lambda params, lr: [setattr(t, "data", t.data - t.grad) for t in params.values()],
     r"is the whole gradient: multiply it by learning_rate \(0.5\)"),
    (lambda params, lr: [setattr(t, "data", -lr * t.grad) for t in params.values()],
     r"the new .data is -learning_rate \* grad, the old value was thrown away"),
    (lambda params, lr: [setattr(t, "data", t.data - lr * lr * t.grad) for t in params.values()],
     r"the step sgd_step\(params, learning_rate=0.5\) took for params\['W1'\] .* is wrong"),
    (lambda params, lr: [setattr(t, "data", (t.data - lr * t.grad).reshape(-1))
                         for t in params.values()],
     r"\.data has shape \(12,\), expected \(3, 4\)"),
], ids=["still", "uphill", "no-rate", "replaced", "squared-rate", "reshaped"])
def test_check_tensor_sgd_step_names_wrong_steps(step, message):
    with _fails(message):
        checks.check_tensor_sgd_step(Tensor, step, seed=0)


def test_check_tensor_network_names_a_graph_cut_by_data_arithmetic():
    """With the grader's own Tensor, a gradient that never arrives is the loss's fault:
    part of it was computed on .data, which records nothing."""
    def loss(X, y, params):
        hidden = Tensor(1 / (1 + np.exp(-(X @ params["W1"].data + params["b1"].data))))
        error = (hidden @ params["W2"] + params["b2"]).sigmoid() - np.reshape(y, (-1, 1))
        return (error * error).mean()

    with _fails(r"^No gradient reached W1, b1: the graph was cut .* on \.data"):
        checks.check_tensor_network(Tensor, loss, n=6, d=2, h=3, seed=0)


def test_check_backpropagation_names_a_forward_order_without_blaming_the_seed():
    def forward_order(output):
        order = topological_order(output)
        for tensor in order:
            tensor.grad = np.zeros_like(tensor.data, dtype=float)
        output.grad = np.ones_like(output.data, dtype=float)
        for tensor in order:
            tensor._backward()

    with pytest.raises(AssertionError) as failure:
        checks.check_backpropagation(checks.reference_tensor(forward_order), forward_order,
                                     seed=0)
    message = str(failure.value)
    assert message.startswith("The _backward functions ran in the wrong order")
    assert "seed" not in message
