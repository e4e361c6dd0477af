"""Topological sort, forward/backward passes, trace mode and value_and_grad."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from miniflow import (
    MSE,
    Add,
    CrossEntropyWithSoftmax,
    GraphError,
    Input,
    Linear,
    Mul,
    Sigmoid,
    forward_and_backward,
    forward_pass,
    topological_sort,
    value_and_grad,
)


@st.composite
def random_dags(draw):
    """A random DAG of Add nodes over a few inputs; edges only go to later nodes."""
    n_inputs = draw(st.integers(1, 4))
    n_ops = draw(st.integers(1, 10))
    inputs = [Input(f"x{i}") for i in range(n_inputs)]
    nodes = list(inputs)
    for k in range(n_ops):
        parents = draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=3))
        nodes.append(Add(*parents, name=f"op{k}"))
    return inputs, nodes


@settings(max_examples=60, deadline=None)
@given(random_dags())
def test_topological_order_respects_every_edge(dag):
    inputs, nodes = dag
    order = topological_sort({x: 1.0 for x in inputs})
    position = {node: i for i, node in enumerate(order)}
    assert len(order) == len(set(order))
    # Every node joined to the inputs is placed, and after all its inputs.
    for node in nodes:
        assert node in position
        for source in node.inbound_nodes:
            assert position[source] < position[node]


@settings(max_examples=30, deadline=None)
@given(random_dags())
def test_topological_sort_is_deterministic(dag):
    inputs, _ = dag
    feed = {x: 1.0 for x in inputs}
    assert topological_sort(feed) == topological_sort(feed)


def test_order_is_identical_across_processes():
    """No hash-based ordering: a fresh interpreter (new hash seeds) agrees."""
    program = textwrap.dedent("""
        from miniflow import Input, Add, Mul, topological_sort
        x, y, z = Input("x"), Input("y"), Input("z")
        a = Mul(x, y, name="a"); b = Mul(x, z, name="b"); c = Add(a, b, name="c")
        d = Add(c, x, name="d")
        print([n.name for n in topological_sort({z: 1, y: 2, x: 3})])
    """)
    outputs = {
        subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                       env={"PYTHONHASHSEED": str(seed)}, check=True).stdout
        for seed in (1, 2, 3)
    }
    assert len(outputs) == 1


def test_cycle_is_reported_with_a_node_on_it():
    x = Input("x")
    a = Add(x, x, name="a")
    b = Add(a, name="b")
    # Close the loop by hand: a now also depends on b.
    a.inbound_nodes.append(b)
    b.outbound_nodes.append(a)
    with pytest.raises(GraphError, match=r"cycle through <Add '[ab]'>"):
        topological_sort({x: 1.0})


def test_missing_input_names_it_and_says_how_to_fix():
    x, w = Input("x"), Input("w")
    Mul(x, w)
    with pytest.raises(GraphError, match=r"<Input 'w'> has no value: add it to feed_dict"):
        topological_sort({x: 1.0})


def test_feeding_a_computed_node_is_an_error():
    x = Input("x")
    s = Sigmoid(x)
    with pytest.raises(GraphError, match="only Input nodes"):
        topological_sort({x: 1.0, s: 2.0})
    with pytest.raises(GraphError, match="feed_dict is empty"):
        topological_sort({})


def test_forward_pass_returns_the_output_value():
    x, y = Input("x"), Input("y")
    f = Add(x, Mul(x, y))
    graph = topological_sort({x: 2.0, y: 5.0})
    assert forward_pass(f, graph) == 12.0


def test_trace_shows_values_forward_and_gradients_back(capsys):
    x, y = Input("x"), Input("y")
    f = Mul(x, y)
    graph = topological_sort({x: 3.0, y: 4.0})
    forward_and_backward(graph, trace=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["forward  [0] <Input 'x'> = 3", "forward  [1] <Input 'y'> = 4",
                         "forward  [2] <Mul> = 12"]
    assert "backward [2] <Mul> -> d/d [0] <Input 'x'> = 4" in lines
    assert "backward [2] <Mul> -> d/d [1] <Input 'y'> = 3" in lines
    collected: list[str] = []
    forward_and_backward(graph, output=f, trace=collected.append)
    assert collected == lines


def test_backward_follows_only_the_chosen_output():
    """A prediction head next to the loss must not add to the loss's gradients."""
    X, W, b, labels = Input("X"), Input("W"), Input("b"), Input("labels")
    logits = Linear(X, W, b)
    probabilities = Sigmoid(logits)  # a second head, used for predictions
    cost = CrossEntropyWithSoftmax(logits, labels)
    rng = np.random.default_rng(0)
    feed = {X: rng.normal(size=(4, 3)), W: rng.normal(size=(3, 2)), b: np.zeros(2),
            labels: np.array([0, 1, 1, 0])}
    graph = topological_sort(feed)
    forward_and_backward(graph)  # picks the loss: the only final node that is one
    with_head = W.gradients[W].copy()
    probabilities.outbound_nodes.clear()
    logits.outbound_nodes.remove(probabilities)
    graph = topological_sort(feed)
    forward_and_backward(graph, output=cost)
    np.testing.assert_allclose(with_head, W.gradients[W])


def test_ambiguous_output_asks_for_one():
    x = Input("x")
    Sigmoid(x)
    Mul(x, x)
    with pytest.raises(GraphError, match="pass output="):
        forward_and_backward(topological_sort({x: 1.0}))


def test_trainables_skip_the_data_gradient():
    X, W, b, y = Input("X"), Input("W"), Input("b"), Input("y")
    layer = Linear(X, W, b)
    cost = MSE(y, layer)
    feed = {X: np.ones((5, 3)), W: np.ones((3, 1)), b: np.zeros(1), y: np.zeros(5)}
    graph = topological_sort(feed)
    forward_and_backward(graph, trainables=[W, b])
    assert X not in layer.gradients and X.gradients == {}
    assert set(layer.gradients) == {W, b}
    forward_and_backward(graph)  # without trainables: everything, X included
    assert X.gradients[X].shape == (5, 3)
    assert cost.value == pytest.approx(9.0)


def test_value_and_grad_leaves_the_graph_as_it_was():
    x = Input("x")
    s = Sigmoid(x)
    value, (dx,) = value_and_grad(s, {x: np.array([0.0])}, [x])
    assert s.outbound_nodes == [] and x.outbound_nodes == [s]
    np.testing.assert_allclose(dx, [0.25])
    # The gradient of an intermediate node with respect to itself is ones.
    _, (ds,) = value_and_grad(s, {x: np.array([0.0])}, [s])
    np.testing.assert_allclose(ds, [1.0])


def test_value_and_grad_of_a_node_that_ignores_an_input():
    x, y = Input("x"), Input("y")
    f = Mul(x, x)
    Add(x, y)
    _, (dx, dy) = value_and_grad(f, {x: np.array([2.0]), y: np.array([7.0])}, [x, y])
    np.testing.assert_allclose(dx, [4.0])
    np.testing.assert_allclose(dy, [0.0])


def test_an_output_outside_the_graph_is_an_error_not_zero_gradients():
    x, y = Input("x"), Input("y")
    inside, outside = Mul(x, x), Mul(y, y)
    graph = topological_sort({x: 2.0})
    with pytest.raises(ValueError, match="is not in the graph"):
        forward_and_backward(graph, output=outside)
    assert forward_and_backward(graph, output=inside) == 4.0
