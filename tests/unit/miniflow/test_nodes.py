"""Every node: the lab's published figures, gradients against central
differences on random shapes, fan-out, repeated inputs and extreme inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from miniflow import (
    MSE,
    Add,
    CrossEntropyWithSoftmax,
    DummyGrad,
    Input,
    Linear,
    Mul,
    Node,
    ReLU,
    Sigmoid,
    Tanh,
    check_gradients,
    forward_and_backward,
    topological_sort,
    value_and_grad,
)
from miniflow.nodes import _sigmoid, _softmax, unbroadcast  # noqa: PLC2701

# -- the lab's worked examples --------------------------------------------------


def test_chain_rule_example_f_equals_xy_plus_xz():
    x, y, z = Input("x"), Input("y"), Input("z")
    f = Add(Mul(x, y), Mul(x, z))
    dummy = DummyGrad(f)
    value, grads = value_and_grad(dummy, {x: 3.0, y: 4.0, z: -5.0, dummy: 0.5}, [x, y, z])
    assert value == pytest.approx(-3.0)
    np.testing.assert_allclose([float(g) for g in grads], [-0.5, 1.5, 1.5])


def test_linear_example():
    X, W, b = Input("X"), Input("W"), Input("b")
    dummy = DummyGrad(Linear(X, W, b))
    feed = {
        X: np.array([[-1.0, -2.0], [-1.0, -2.0]]),
        W: np.array([[2.0, -3.0], [2.0, -3.0]]),
        b: np.array([-3.0, -5.0]),
        dummy: np.array([[1.0, 2.0], [3.0, 4.0]]),
    }
    value, (dX, dW, db) = value_and_grad(dummy, feed, [X, W, b])
    np.testing.assert_allclose(value, [[-9, 4], [-9, 4]])
    np.testing.assert_allclose(dX, [[-4, -4], [-6, -6]])
    np.testing.assert_allclose(dW, [[-4, -6], [-8, -12]])
    np.testing.assert_allclose(db, [4, 6])


def test_sigmoid_example():
    x = Input("x")
    dummy = DummyGrad(Sigmoid(x))
    _, (dx,) = value_and_grad(dummy, {x: np.array([-10.0, 0.0, 10.0]), dummy: 0.5}, [x])
    np.testing.assert_allclose(dx, [0, 0.125, 0], atol=1e-4)


def test_cross_entropy_example():
    logits, labels = Input("logits"), Input("labels")
    cost = CrossEntropyWithSoftmax(logits, labels)
    value, (dlogits,) = value_and_grad(
        cost, {logits: np.array([[0.5, 1.0, 1.5]]), labels: np.array([1])}, [logits]
    )
    np.testing.assert_allclose(_softmax(np.array([[0.5, 1.0, 1.5]])),
                               [[0.1863, 0.3072, 0.5064]], atol=1e-4)
    assert value == pytest.approx(1.1802, abs=1e-4)
    np.testing.assert_allclose(dlogits, [[0.1863, -0.6928, 0.5064]], atol=1e-4)


def test_mse_example():
    y, a = Input("y"), Input("a")
    cost = MSE(y, a)
    value, _ = value_and_grad(cost, {y: np.array([1.0, 2.0, 3.0]),
                                     a: np.array([4.5, 5.0, 10.0])}, [a])
    assert value == pytest.approx(23.41667, abs=1e-5)


# -- gradients against central differences ------------------------------------

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**32 - 1)


def assert_gradients_match(node, feed, wrt):
    report = check_gradients(node, feed, wrt, tolerance=1e-6)
    assert report.passed, str(report)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, n_inputs=st.integers(2, 4), seed=seeds, broadcast=st.booleans())
def test_add_and_mul_gradients(shape, n_inputs, seed, broadcast):
    rng = np.random.default_rng(seed)
    inputs = [Input(f"x{i}") for i in range(n_inputs)]
    feed = {}
    for i, node in enumerate(inputs):
        # With broadcasting, the second input is shrunk to size 1 on one axis
        # and/or loses the leading axis, so its gradient must be summed back.
        s = shape
        if broadcast and i == 1:
            s = (1,) + shape[1:] if len(shape) > 1 and seed % 2 else shape[1:] or (1,)
        feed[node] = rng.normal(size=s)
    for op in (Add, Mul):
        dummy = DummyGrad(op(*inputs))
        feed[dummy] = rng.normal(size=np.broadcast_shapes(*(v.shape for v in feed.values()
                                                             if not isinstance(v, float))))
        assert_gradients_match(dummy, feed, inputs)
        del feed[dummy]


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 6), n_in=st.integers(1, 5), n_out=st.integers(1, 5), seed=seeds)
def test_linear_gradients(batch, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    X, W, b = Input("X"), Input("W"), Input("b")
    dummy = DummyGrad(Linear(X, W, b))
    feed = {X: rng.normal(size=(batch, n_in)), W: rng.normal(size=(n_in, n_out)),
            b: rng.normal(size=n_out), dummy: rng.normal(size=(batch, n_out))}
    assert_gradients_match(dummy, feed, [X, W, b])


@pytest.mark.parametrize("activation", [Sigmoid, Tanh, ReLU])
@settings(max_examples=15, deadline=None)
@given(shape=shapes, seed=seeds)
def test_activation_gradients(activation, shape, seed):
    rng = np.random.default_rng(seed)
    x = Input("x")
    dummy = DummyGrad(activation(x))
    value = rng.normal(size=shape) * 3
    if activation is ReLU:  # keep away from the kink at 0, where no derivative exists
        value = np.where(np.abs(value) < 1e-3, 0.5, value)
    assert_gradients_match(dummy, {x: value, dummy: rng.normal(size=shape)}, [x])


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 8), seed=seeds, column=st.booleans())
def test_mse_gradients(m, seed, column):
    rng = np.random.default_rng(seed)
    y, a = Input("y"), Input("a")
    cost = MSE(y, a)
    # y as (m,) and a as (m, 1): the broadcast trap the column reshape avoids.
    shape_a = (m, 1) if column else (m,)
    assert_gradients_match(cost, {y: rng.normal(size=m), a: rng.normal(size=shape_a)}, [y, a])


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 6), classes=st.integers(2, 6), seed=seeds,
       scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_cross_entropy_gradients(batch, classes, seed, scale):
    rng = np.random.default_rng(seed)
    logits, labels = Input("logits"), Input("labels")
    cost = CrossEntropyWithSoftmax(logits, labels)
    feed = {logits: rng.normal(size=(batch, classes)) * scale,
            labels: rng.integers(0, classes, size=batch)}
    assert_gradients_match(cost, feed, [logits])
    _, (dlabels,) = value_and_grad(cost, feed, [labels])
    assert np.all(dlabels == 0)


@settings(max_examples=20, deadline=None)
@given(batch=st.integers(1, 5), hidden=st.integers(1, 5), seed=seeds)
def test_two_layer_network_gradients_with_fan_out(batch, hidden, seed):
    """h feeds two layers and W1 is used twice: every contribution must add up."""
    rng = np.random.default_rng(seed)
    X, W1, b1, W2, b2, W3, b3, y = (Input(n) for n in ("X", "W1", "b1", "W2", "b2", "W3", "b3",
                                                       "y"))
    h = Sigmoid(Linear(X, W1, b1))
    out = Add(Linear(h, W2, b2), Linear(h, W3, b3), Mul(h, h))
    cost = MSE(y, out)
    feed = {X: rng.normal(size=(batch, 3)), W1: rng.normal(size=(3, hidden)),
            b1: rng.normal(size=hidden), W2: rng.normal(size=(hidden, hidden)),
            b2: rng.normal(size=hidden), W3: rng.normal(size=(hidden, hidden)),
            b3: rng.normal(size=hidden), y: rng.normal(size=(batch, hidden))}
    assert_gradients_match(cost, feed, [X, W1, b1, W2, b2, W3, b3])


# -- repeated inputs, fan-out, reruns -----------------------------------------


def test_same_node_twice_counts_both_uses_once():
    x = Input("x")
    square, double = Mul(x, x), Add(x, x)
    assert x.outbound_nodes == [square, double]
    _, (d_square,) = value_and_grad(square, {x: np.array([3.0, -2.0])}, [x])
    _, (d_double,) = value_and_grad(double, {x: np.array([3.0, -2.0])}, [x])
    np.testing.assert_allclose(d_square, [6.0, -4.0])
    np.testing.assert_allclose(d_double, [2.0, 2.0])


def test_fan_out_gradients_add_up():
    x = Input("x")
    total = Add(Mul(x, Input("two")), Mul(x, Input("three")))
    feed = {x: np.array([1.0]), total.inbound_nodes[0].inbound_nodes[1]: 2.0,
            total.inbound_nodes[1].inbound_nodes[1]: 3.0}
    _, (dx,) = value_and_grad(total, feed, [x])
    np.testing.assert_allclose(dx, [5.0])


def test_rerunning_forward_and_backward_gives_the_same_gradients():
    x, y = Input("x"), Input("y")
    MSE(y, Sigmoid(Mul(x, x)))
    graph = topological_sort({x: np.array([0.3, -1.2]), y: np.array([1.0, 0.0])})
    forward_and_backward(graph)
    first = x.gradients[x].copy()
    forward_and_backward(graph)
    forward_and_backward(graph)
    np.testing.assert_array_equal(x.gradients[x], first)


# -- base class and Input -----------------------------------------------------


def test_base_node_methods_name_the_class():
    class Half(Node):
        pass

    node = Half()
    with pytest.raises(NotImplementedError, match="Half.forward"):
        node.forward()
    with pytest.raises(NotImplementedError, match="Half.backward"):
        node.backward()


def test_no_shared_default_lists():
    a, b = Node(), Node()
    a.inbound_nodes.append(Input())
    assert b.inbound_nodes == [] and a.outbound_nodes is not b.outbound_nodes


def test_non_node_input_is_a_clear_error():
    with pytest.raises(TypeError, match="wrap plain values in an Input"):
        Add(Input("x"), 3.0)


@pytest.mark.parametrize("value", [0, 0.0, np.array([]), np.zeros(3), False])
def test_input_forward_keeps_falsy_values(value):
    x = Input("x")
    x.forward(value)
    assert x.value is value
    x.forward()  # no value: keep the one it has
    assert x.value is value


def test_input_names_and_repr():
    assert Input("W1").name == "W1" and repr(Input("W1")) == "<Input 'W1'>"
    assert Input().name == "Input" and repr(Mul(Input(), Input())) == "<Mul>"


# -- stability at extreme inputs ----------------------------------------------


def test_sigmoid_is_stable_at_plus_minus_1000():
    x = Input("x")
    dummy = DummyGrad(Sigmoid(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, (dx,) = value_and_grad(dummy, {x: np.array([-1000.0, 1000.0])}, [x])
        np.testing.assert_array_equal(_sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0, 0.5, 1])
    np.testing.assert_array_equal(value, [0.0, 1.0])
    assert np.all(np.isfinite(dx))


def test_cross_entropy_is_stable_for_huge_logits():
    logits, labels = Input("logits"), Input("labels")
    cost = CrossEntropyWithSoftmax(logits, labels)
    feed = {logits: np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]]),
            labels: np.array([1, 2])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, (dlogits,) = value_and_grad(cost, feed, [logits])
    assert np.isfinite(value) and value == pytest.approx((2000.0 + 1.0 + np.log1p(np.exp(-1))) / 2)
    assert np.all(np.isfinite(dlogits))
    np.testing.assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-12)


def test_cross_entropy_label_errors_say_what_to_do():
    logits, labels = Input("logits"), Input("labels")
    cost = CrossEntropyWithSoftmax(logits, labels)
    with pytest.raises(ValueError, match="one-hot.*argmax"):
        value_and_grad(cost, {logits: np.zeros((2, 3)), labels: np.eye(3)[[0, 1]]}, [logits])
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        value_and_grad(cost, {logits: np.zeros((2, 3)), labels: np.array([0, 3])}, [logits])
    with pytest.raises(ValueError, match="integer class indices"):
        value_and_grad(cost, {logits: np.zeros((2, 3)), labels: np.array([0.5, 1.0])}, [logits])


def test_mse_does_not_broadcast_column_against_row():
    y, a = Input("y"), Input("a")
    cost = MSE(y, a)
    value, (da,) = value_and_grad(cost, {y: np.array([1.0, 2.0, 3.0]),
                                         a: np.array([[4.5], [5.0], [10.0]])}, [a])
    assert value == pytest.approx(23.41667, abs=1e-5)
    assert da.shape == (3, 1)
    with pytest.raises(ValueError, match="as many predictions as targets"):
        value_and_grad(cost, {y: np.zeros(3), a: np.zeros(4)}, [a])


# -- dtype and helpers ----------------------------------------------------------


def test_float32_stays_float32_through_a_layer():
    X, W, b, labels = Input("X"), Input("W"), Input("b"), Input("labels")
    cost = CrossEntropyWithSoftmax(Sigmoid(Linear(X, W, b)), labels)
    rng = np.random.default_rng(0)
    feed = {X: rng.normal(size=(4, 3)).astype(np.float32),
            W: rng.normal(size=(3, 2)).astype(np.float32),
            b: np.zeros(2, np.float32), labels: np.array([0, 1, 1, 0])}
    _, (dW, db) = value_and_grad(cost, feed, [W, b])
    assert dW.dtype == np.float32 and db.dtype == np.float32


@pytest.mark.parametrize("gradient_shape, shape, expected", [
    ((2, 3), (3,), [2, 2, 2]),
    ((2, 3), (1, 3), [[2, 2, 2]]),
    ((2, 3), (2, 1), [[3], [3]]),
    ((2, 3), (), 6),
    ((2, 3), (2, 3), np.ones((2, 3))),
])
def test_unbroadcast_sums_over_broadcast_axes(gradient_shape, shape, expected):
    np.testing.assert_array_equal(unbroadcast(np.ones(gradient_shape), shape), expected)
