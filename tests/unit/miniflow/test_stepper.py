"""miniflow.stepper: stepping through a learner's own graph (issue 31, point 3).

No kernel and no browser here (tests/test_stepper_browser.py has the widget
in JupyterLab): the recorded steps, their order, the gradient check, and the
static rendering that nbconvert and nbval see.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from miniflow import Add, Input, Mul, Node, Sigmoid
from miniflow.stepper import Stepper, record, step_through
from miniflow.stepper.render import plain_text, static_html
from miniflow.tensor import Tensor, as_tensor


def _f_graph(add=Add, mul=Mul, input_class=Input):
    """f = (x + y) * z, CS231n's first example: at x=-2, y=5, z=-4, f = -12."""
    x, y, z = input_class("x"), input_class("y"), input_class("z")
    q = add(x, y, name="q")
    f = mul(q, z, name="f")
    return f, {x: -2.0, y: 5.0, z: -4.0}


def _last_values(recording) -> dict[str, str]:
    return dict(zip(recording.labels, recording.steps[-1].values))


def _last_gradients(recording) -> dict[str, str]:
    return dict(zip(recording.labels, recording.steps[-1].gradients))


def test_the_steps_of_f_are_forward_in_order_then_backward_in_reverse():
    f, feed = _f_graph()
    recording = record(f, feed)
    order = [recording.labels[step.node] for step in recording.steps]
    phases = [step.phase for step in recording.steps]
    assert order == ["x", "y", "z", "q", "f", "f", "q", "z", "y", "x"], order
    assert phases == ["forward"] * 5 + ["backward"] * 5, phases
    assert _last_values(recording) == {"x": "-2", "y": "5", "z": "-4", "q": "3", "f": "-12"}
    # df/dq = z = -4, df/dz = q = 3, df/dx = df/dy = df/dq = -4 (by hand)
    assert _last_gradients(recording) == {"x": "-4", "y": "-4", "z": "3", "q": "-4", "f": "1"}


def test_each_snapshot_shows_only_what_has_been_computed_so_far():
    f, feed = _f_graph()
    for node in feed:
        node.value = None
    recording = record(f, feed)
    first, after_q = recording.steps[0], recording.steps[3]
    assert first.values[recording.labels.index("q")] == "None", first.values
    assert after_q.values[recording.labels.index("q")] == "3"
    assert after_q.values[recording.labels.index("f")] == "None"
    assert all(gradient == "" for gradient in after_q.gradients), "no gradient before backward"
    top = recording.steps[5]   # f's backward: only f's gradient is known
    assert [g for g in top.gradients if g] == ["1"], top.gradients
    assert "sends d/d q = -4; d/d z = 3" in top.title, top.title


def test_a_right_graph_passes_the_gradient_check():
    f, feed = _f_graph()
    recording = record(f, feed)
    assert recording.checks, "local and end-to-end checks expected"
    assert all(check.ok for check in recording.checks), [c.message for c in recording.checks]
    kinds = {check.kind for check in recording.checks}
    assert kinds == {"local", "end-to-end"}, kinds


class ForgetfulMul(Node):
    """A plausible mistake: backward uses the local derivative, forgets the upstream gradient."""

    def __init__(self, a, b, name=None):
        super().__init__([a, b], name=name)

    def forward(self):
        a, b = self.inbound_nodes
        self.value = a.value * b.value

    def backward(self):
        a, b = self.inbound_nodes
        self.gradients = {a: b.value * 1.0, b: a.value * 1.0}   # no consumer.gradients[self]


def test_a_backward_that_forgets_the_upstream_gradient_is_marked_where_it_is_wrong():
    f, feed = _f_graph(mul=ForgetfulMul)
    w = Input("w")
    out = Mul(f, w, name="out")   # an upstream gradient of 3, not 1, reaches f
    recording = record(out, {**feed, w: 3.0})
    wrong = {recording.labels[i] for i in recording.wrong_nodes()}
    # f's own backward is wrong; the inputs' full gradients are wrong because of it;
    # q's Add and out's Mul are right.
    assert wrong == {"f", "x", "y", "z"}, wrong
    local = [c for c in recording.checks if c.kind == "local" and not c.ok]
    assert {recording.labels[c.source] for c in local} == {"q", "z"}
    by_source = {recording.labels[c.source]: c for c in local}
    assert by_source["z"].analytic == "3" and by_source["z"].numerical == "9", by_source["z"]
    assert "tolerance 1e-06" in by_source["z"].message and "floor 1e-08" in by_source["z"].message
    text = plain_text(recording)
    assert "✗ WRONG: f.backward() → d/d z differs from central differences" in text, text
    html = static_html(recording)
    assert "✗ wrong" in html and 'class="mf-wrong"' in html


def test_wrong_gradients_are_marked_in_the_drawing_only_after_they_are_computed():
    from miniflow.stepper.render import svg

    f, feed = _f_graph(mul=ForgetfulMul)
    w = Input("w")
    recording = record(Mul(f, w, name="out"), {**feed, w: 3.0})
    f_index = recording.labels.index("f")
    forward_picture = svg(recording, 2)
    assert "mf-wrong" not in forward_picture
    f_backward = next(k for k, s in enumerate(recording.steps)
                      if s.phase == "backward" and s.node == f_index)
    assert f'mf-node mf-current mf-wrong" data-node="{f_index}"' in svg(recording, f_backward)


def test_names_a_student_chose_are_escaped_everywhere():
    x, y = Input("<script>alert('x')</script>"), Input('y" onmouseover="evil()')
    f = Mul(x, y, name="<img src=x onerror=alert(1)>")
    page = static_html(record(f, {x: 2.0, y: 3.0}))
    assert "<script>" not in page and "<img" not in page and 'y" onmouseover' not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x" in page


def test_the_text_alternative_is_a_table_with_a_caption_and_one_row_per_step():
    f, feed = _f_graph()
    page = static_html(record(f, feed))
    assert re.search(r"<table[^>]*><caption>Forward and backward pass of f", page)
    assert page.count("<tr data-step=") == 10
    assert '<th scope="col">Gradient check</th>' in page
    assert page.count("<svg") == 1 and "<title>" in page


def test_the_static_rendering_is_the_same_on_every_run():
    pages, texts = set(), set()
    for _ in range(2):
        f, feed = _f_graph()
        recording = record(f, feed)
        pages.add(static_html(recording))
        texts.add(plain_text(recording))
    assert len(pages) == 1 and len(texts) == 1
    text = texts.pop()
    assert "1e-06" in text and "0.30000000000000004" not in text


def test_arrays_are_printed_to_four_significant_digits():
    X, W, b = Input("X"), Input("W"), Input("b")
    from miniflow import Linear

    out = Sigmoid(Linear(X, W, b, name="layer"), name="out")
    rng = np.random.default_rng(0)
    recording = record(out, {X: rng.normal(size=(4, 3)), W: rng.normal(size=(3, 2)),
                             b: np.zeros(2)})
    assert all(check.ok for check in recording.checks), [c.message for c in recording.checks]
    value = _last_values(recording)["X"]
    assert value.startswith("shape (4, 3): [0.1257, -0.1321, 0.6404, 0.1049, -0.5357, 0.3616, …]")


class StudentNode:
    """Not miniflow's Node: a student's own base class, as in the lab."""

    def __init__(self, inbound_nodes=(), name=None):
        self.inbound_nodes = list(inbound_nodes)
        self.outbound_nodes = []
        self.value = None
        self.gradients = {}
        self.name = name
        for node in self.inbound_nodes:
            node.outbound_nodes.append(self)


class StudentInput(StudentNode):
    def __init__(self, name=None):
        super().__init__(name=name)

    def forward(self):
        pass

    def backward(self):
        self.gradients = {self: 0}
        for consumer in self.outbound_nodes:
            self.gradients[self] += consumer.gradients[self]


class StudentAdd(StudentNode):
    def __init__(self, a, b, name=None):
        super().__init__([a, b], name=name)

    def forward(self):
        self.value = self.inbound_nodes[0].value + self.inbound_nodes[1].value

    def backward(self):
        self.gradients = {n: 0 for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            for n in self.inbound_nodes:
                self.gradients[n] += consumer.gradients[self]


class StudentMul(StudentNode):
    def __init__(self, a, b, name=None):
        super().__init__([a, b], name=name)

    def forward(self):
        self.value = self.inbound_nodes[0].value * self.inbound_nodes[1].value

    def backward(self):
        a, b = self.inbound_nodes
        self.gradients = {a: 0, b: 0}
        for consumer in self.outbound_nodes:
            self.gradients[a] += consumer.gradients[self] * b.value
            self.gradients[b] += consumer.gradients[self] * a.value


def test_a_students_own_classes_work_by_duck_typing():
    f, feed = _f_graph(add=StudentAdd, mul=StudentMul, input_class=StudentInput)
    recording = record(f, feed)
    assert recording.kinds == ["StudentInput"] * 3 + ["StudentAdd", "StudentMul"]
    assert _last_gradients(recording) == {"x": "-4", "y": "-4", "z": "3", "q": "-4", "f": "1"}
    assert all(check.ok for check in recording.checks), [c.message for c in recording.checks]
    assert f.outbound_nodes == [], "the seed consumer must be removed again"


def test_a_node_whose_forward_is_a_stub_stops_at_an_error_step():
    x = Input("x")

    class Square(Node):
        def __init__(self, node, name=None):
            super().__init__([node], name=name)

        def forward(self):
            raise NotImplementedError("Square.forward() is not implemented yet")

    recording = record(Square(x, name="sq"), {x: 2.0})
    assert recording.steps[-1].phase == "error"
    assert recording.steps[-1].title == (
        "sq.forward() raised NotImplementedError: Square.forward() is not implemented yet "
        "(not written yet: replace raise NotImplementedError() with your code)")


def test_an_input_without_a_value_asks_for_feed():
    x, y = Input("x"), Input("y")
    with pytest.raises(ValueError, match=r"'y' has no value: give it in feed"):
        record(Add(x, y), {x: 1.0})


def test_a_tensor_is_stepped_through_with_its_own_backward_closures():
    x, y, z = Tensor(-2.0, name="x"), Tensor(5.0, name="y"), Tensor(-4.0, name="z")
    f = (x + y) * z
    recording = record(f)
    assert [recording.labels[s.node] for s in recording.steps] == [
        "x", "y", "z", "+", "*", "*", "+", "z", "y", "x"]
    assert _last_gradients(recording) == {"x": "-4", "y": "-4", "z": "3", "+": "-4", "*": "1"}
    assert float(x.grad) == -4.0, "the student's tensors hold the gradients afterwards"
    assert all(check.ok for check in recording.checks), [c.message for c in recording.checks]
    assert {c.kind for c in recording.checks} == {"local", "end-to-end"}


class ForgetfulTensor(Tensor):
    """A Tensor whose product forgets out.grad."""

    def __mul__(self, other):
        other = as_tensor(other)
        out = ForgetfulTensor(self.data * other.data, parents=(self, other), op="*")

        def _backward():
            self.grad += other.data
            other.grad += self.data

        out._backward = _backward
        return out

    def __add__(self, other):
        other = as_tensor(other)
        out = ForgetfulTensor(self.data + other.data, parents=(self, other), op="+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out


def test_a_wrong_tensor_backward_is_marked():
    x, w = ForgetfulTensor([1.0, 2.0], name="x"), ForgetfulTensor([3.0, -1.0], name="w")
    loss = (x * w).sum() * 2.0   # sum's upstream is 2: forgetting it shows
    recording = record(loss)
    assert recording.labels == ["x", "w", "leaf", "*#3", "sum", "*#5"], recording.labels
    wrong = {recording.labels[i] for i in recording.wrong_nodes()}
    assert wrong == {"*#3", "x", "w"}, wrong


def test_without_anywidget_step_through_falls_back_to_the_table(monkeypatch):
    monkeypatch.setitem(sys.modules, "anywidget", None)   # import anywidget raises ImportError
    monkeypatch.delitem(sys.modules, "miniflow.stepper.widget", raising=False)
    f, feed = _f_graph()
    shown = step_through(f, feed)
    assert isinstance(shown, Stepper)
    bundle = shown._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert "<table" in shown._repr_html_() and "Step-through of f" in repr(shown)


def test_the_widget_carries_every_step_and_a_static_fallback():
    pytest.importorskip("anywidget")
    f, feed = _f_graph()
    widget = step_through(f, feed)
    assert type(widget).__name__ == "StepperWidget"
    assert len(widget.steps) == 10 and all(s["svg"].startswith("<svg") for s in widget.steps)
    widget.index = 99
    assert widget.index == 9, "the index is kept within the steps"
    data, _ = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/html"] == static_html(widget.recording)
    assert data["text/plain"].startswith("Step-through of f: 10 steps.")
