"""The judge's checks inside a test cell (``Probe.checks``): each settled on its own.

No kernel and no judge process: the judge's loop (``judge_notebook``) talks to a
stand-in that answers each question in this process, through the real runners,
with a ``Linear`` written as a student might have written it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.core.mistakes import Mistake
from autograder.core.results import CHECK_PASSED
from autograder.judge import run as run_module
from autograder.judge.compare import check_outcomes, compare, json_constant
from autograder.judge.plans import Probe, checks_for, plan_for
from autograder.judge.runners import RUNNERS

SECRET = bytes(range(32))


def _linear(transposed_dw: bool = False, overwrites: bool = False, unsummed_b: bool = False):
    """A student's ``Linear``: right, or with one of the mistakes students make."""
    from miniflow.nodes import Node

    class Linear(Node):
        def __init__(self, X, W, b):
            super().__init__([X, W, b])

        def forward(self):
            X, W, b = (n.value for n in self.inbound_nodes)
            self.value = X @ W + b

        def backward(self):
            X, W, b = self.inbound_nodes
            grads = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
            for consumer in self.outbound_nodes:
                G = consumer.gradients[self]
                dX, dW = G @ W.value.T, (G.T @ X.value if transposed_dw else X.value.T @ G)
                db = G if unsummed_b else G.sum(axis=0)
                if overwrites:
                    grads = {X: dX, W: dW, b: db}
                else:  # as students write it: a transposed dW raises unless it broadcasts
                    grads[X] = grads[X] + dX
                    grads[W] = grads[W] + dW
                    grads[b] = grads[b] + db
            self.gradients = grads

    return Linear


class _Judge:
    """Stands in for ``run._Judge``: answers in this process, records what was asked."""

    asked: list[Probe] = []
    namespace: dict = {}

    def __init__(self, *args, **kwargs):
        self.process, self.failed = self, []

    def start(self):
        pass

    def load(self, wanted):
        pass

    def restart(self, counted=True):
        return True

    def stop(self):
        pass

    def request(self, message):
        probe = next(p for p in self.probes if p.spec is message["spec"])
        type(self).asked.append(probe)
        try:
            answer = RUNNERS[message["kind"]](self.namespace[message["name"]], message["spec"])
        except Exception as error:  # noqa: BLE001 - as the judge's child answers one
            return {"error": f"{type(error).__name__}: {error}", "where": "<cell 9>, line 3"}
        return json.loads(json.dumps(answer), parse_constant=json_constant)


@pytest.fixture
def judge(monkeypatch):
    """``judge_notebook`` on 02_layers with a given ``Linear``: (verdicts, probes asked)."""
    import miniflow

    def judged(linear, strip_checks: bool = False):
        probes = []

        def planned(assignment, derive=None):
            found = plan_for(assignment, derive)
            if strip_checks:  # the judge as it was: no checks, no follow-up questions
                found = [Probe(p.id, p.test, p.kind, p.name, p.spec, p.describe, p.secret)
                         for p in found if not p.follow_up]
            probes[:] = found
            return found

        monkeypatch.setattr("autograder.judge.plans.plan_for", planned)
        monkeypatch.setattr(run_module, "_Judge", _Judge)
        _Judge.asked, _Judge.probes = [], probes
        _Judge.namespace = {"Linear": linear, "Sigmoid": miniflow.Sigmoid}
        verdicts = run_module.judge_notebook([], "02_layers", "alice", SECRET, mode="none",
                                             limits={}, timeout=5)
        return verdicts, list(_Judge.asked)

    return judged


def test_a_transposed_weight_gradient_fails_its_check_and_not_the_bias_s(judge):
    verdicts, asked = judge(_linear(transposed_dw=True))
    verdict = verdicts["test_linear_backward"]
    checks = dict(verdict.checks)
    assert checks["W"] != CHECK_PASSED
    # the gradients for X and b were right wherever the backward got to them, and the
    # follow-up question (one consumer, square shapes) reached the bias gradient
    assert checks["X"] == checks["b"] == checks["b_sum"] == CHECK_PASSED
    assert any(p.follow_up for p in asked)
    # the verdict (and so the grade) is what the judge without checks gave
    before, _ = judge(_linear(transposed_dw=True), strip_checks=True)
    assert (verdict.code, verdict.message, verdict.mistake) == (
        before["test_linear_backward"].code, before["test_linear_backward"].message,
        before["test_linear_backward"].mistake)
    assert verdict.code == "raised" and not before["test_linear_backward"].checks


def test_a_bias_not_summed_over_the_batch_fails_both_bias_checks(judge):
    checks = dict(judge(_linear(unsummed_b=True))[0]["test_linear_backward"].checks)
    assert checks == {"X": CHECK_PASSED, "W": CHECK_PASSED, "b": Mistake.KEPT_BATCH_AXIS,
                      "b_sum": Mistake.KEPT_BATCH_AXIS}


def test_overwriting_over_consumers_is_not_a_bias_sum_mistake(judge):
    checks = dict(judge(_linear(overwrites=True))[0]["test_linear_backward"].checks)
    assert checks["b"] != CHECK_PASSED and checks["W"] != CHECK_PASSED
    assert checks["b_sum"] == CHECK_PASSED  # one consumer: = and += agree


def test_a_passed_test_asks_no_follow_up_question(judge):
    import miniflow

    verdicts, asked = judge(miniflow.Linear)
    assert all(v.passed for v in verdicts.values())
    assert not any(p.follow_up for p in asked)
    assert dict(verdicts["test_linear_backward"].checks) == dict.fromkeys(
        ("X", "W", "b", "b_sum"), CHECK_PASSED)


def test_the_visible_tests_never_ask_a_follow_up_question(monkeypatch):
    from autograder.checks import judged

    asked: list[Probe] = []
    monkeypatch.setattr(judged, "_answer", lambda probe, target: asked.append(probe) or {})
    monkeypatch.setattr("autograder.judge.compare.compare", lambda *args: None)
    monkeypatch.setattr(Probe, "reference", lambda self: {})
    judged.as_graded("test_linear_backward", {"Linear": object()})
    assert asked and not any(p.follow_up for p in asked)
    assert len(asked) == len([p for p in plan_for("02_layers")
                              if p.test == "test_linear_backward"]) - 1


def test_each_gradient_of_a_backward_answer_is_its_own_check():
    probe = next(p for p in plan_for("02_layers") if p.test == "test_linear_backward")
    want = probe.reference()
    got = json.loads(json.dumps(want))
    got["gradients"][1] = np.array(want["gradients"][1]).T.tolist()  # dW transposed
    got["gradient_shapes"][1] = list(np.shape(got["gradients"][1]))
    found = check_outcomes(probe, got, want, compare(probe, got, want))
    assert found["X"] is None and found["b"] is None
    assert found["W"].mistake == Mistake.TRANSPOSED
    # a probe with one check: the whole answer's
    forward = next(p for p in plan_for("01_graphs") if p.test == "test_mul_forward")
    assert forward.checks == ("two_inputs",)
    wrong = compare(forward, {"value": [[0.0]]}, forward.reference())
    assert wrong and check_outcomes(forward, {"value": [[0.0]]}, forward.reference(),
                                    wrong) == {"two_inputs": wrong}


def test_the_plans_name_checks_where_a_cell_mixes_objectives():
    assert checks_for("02_layers") == {"test_linear_backward": ("X", "W", "b", "b_sum")}
    assert set(checks_for("01_graphs")) == {"test_mul_forward", "test_mul_backward"}
