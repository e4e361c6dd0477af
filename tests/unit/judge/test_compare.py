"""The judge's comparison (autograder/judge/compare.py): what is wrong, in words and as a
code, for an answer that arrives as plain data."""

from __future__ import annotations

import numpy as np

from autograder.core.mistakes import Mistake
from autograder.judge.compare import Problem, compare
from autograder.judge.plans import Probe

WANT = [[1.0, -2.0], [3.0, 0.5]]


def _probe(kind: str = "function") -> Probe:
    return Probe(id="p1", test="test_x", kind=kind, name="f", spec={},
                 describe="f on random numbers")


def test_a_right_answer_is_no_problem():
    assert compare(_probe(), {"results": [WANT]}, {"results": [WANT]}) is None


def test_a_diagnosed_answer_names_its_mistake_first_then_the_numbers():
    problem = compare(_probe(), {"results": [(-np.array(WANT)).tolist()]},
                      {"results": [WANT]})
    assert isinstance(problem, Problem) and problem.mistake == Mistake.WRONG_SIGN
    assert problem.words.index("Likely mistake: it has the wrong sign") \
        < problem.words.index("element (1, 0): expected 3, got -3")


def test_the_transpose_is_named_even_though_the_shape_differs():
    wide = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    problem = compare(_probe(), {"results": [np.array(wide).T.tolist()]}, {"results": [wide]})
    assert problem.mistake == Mistake.TRANSPOSED and "has shape (3, 2), expected (2, 3)" \
        in problem.words


def test_an_unexplained_wrong_value_and_a_missing_answer_are_wrong_values():
    odd = compare(_probe(), {"results": [[[1.0, -2.0], [3.0, 9.0]]]}, {"results": [WANT]})
    assert odd.mistake == Mistake.WRONG_VALUE and "Likely mistake" not in odd.words
    missing = compare(_probe(), {"results": []}, {"results": [WANT]})
    assert missing == Problem("it did not return 1 values", Mistake.WRONG_VALUE)


def test_a_simple_factor_is_named_with_its_value():
    problem = compare(_probe(), {"results": [(3 * np.array(WANT)).tolist()]},
                      {"results": [WANT]})
    assert problem.mistake == Mistake.SCALED and "exactly 3 times" in problem.words


def _network_answer(W2_spread: float) -> dict:
    shapes = [[64, 32], [32], [32, 10], [10]]
    start = [[0.0, 1 / 8, 0.5], [0.0, 0.0, 0.0], [0.0, W2_spread, 0.5], [0.0, 0.0, 0.0]]
    return {"shapes": shapes, "same_seed_same_start": True, "start": start, "value": [1.0]}


def test_a_weight_scaled_by_another_layer_s_size_is_named():
    want = {"shapes": [[64, 32], [32], [32, 10], [10]], "value": [1.0]}
    wrong = compare(_probe("build"), _network_answer(1 / 8), want)  # 1/sqrt(64), not 32
    assert wrong.mistake == Mistake.SCALED and "1/sqrt(64)" in wrong.words
    assert compare(_probe("build"), _network_answer(1 / 32 ** 0.5), want) is None


def test_a_prediction_that_feeds_labels_is_wrong():
    got = {"weights_kept": True, "integers": True, "labels_kept": False,
           "labels_shape": [2], "labels": [0, 1]}
    want = {"labels_shape": [2], "labels": [0, 1]}
    assert "network.labels" in compare(_probe("predict"), got, want).words
    assert compare(_probe("predict"), {**got, "labels_kept": True}, want) is None


def test_a_node_probe_s_inputs_inform_the_diagnosis():
    logits = np.random.default_rng(0).normal(size=(4, 3))
    spec = {"values": [{"data": logits.tolist(), "dtype": "float64", "shape": [4, 3]},
                       {"data": [0, 1, 2, 0], "dtype": "int64", "shape": [4]}],
            "gradients_of": [0]}
    probe = Probe(id="p", test="t", kind="node", name="CrossEntropyWithSoftmax", spec=spec,
                  describe="d")
    right = (logits / 12).tolist()
    problem = compare(probe, {"gradients": [(logits / 36).tolist()]}, {"gradients": [right]})
    assert problem.mistake == Mistake.CLASS_DIVIDED
    zero = {"values": [{"data": [0.0, 2.0], "dtype": "float64", "shape": [2]}],
            "gradients_of": [0]}
    mul = Probe(id="p", test="t", kind="node", name="Mul", spec=zero, describe="d")
    nan = compare(mul, {"gradients": [[float("nan"), 1.0]]}, {"gradients": [[1.0, 1.0]]})
    assert nan.mistake == Mistake.DIVIDED_BY_ZERO


def _chain_rule_probe(arguments: list[float]) -> Probe:
    return Probe(id="c", test="test_chain_rule", kind="function", name="chain_rule_gradients",
                 spec={"arguments": arguments}, describe="d")


def test_the_chain_rule_s_mistakes_are_named_by_the_judge_too():
    x, y, z, g = 3.0, 4.0, -5.0, 0.5
    want = {"results": [g * (y + z), g * x, g * x]}
    one_path = compare(_chain_rule_probe([x, y, z, g]), {"results": [g * y, g * x, g * x]}, want)
    assert "only one path" in one_path.words
    no_upstream = compare(_chain_rule_probe([x, y, z, g]), {"results": [y + z, x, x]}, want)
    assert no_upstream.mistake == Mistake.UPSTREAM_IGNORED
    assert compare(_chain_rule_probe([x, y, z, g]), want, want) is None


def test_a_step_that_changed_nothing_is_named_by_the_judge():
    start = [[1.0, 2.0]]
    probe = Probe(id="s", test="test_sgd_update", kind="sgd", name="sgd_update",
                  spec={"values": [{"data": start[0], "dtype": "float64", "shape": [2]}]},
                  describe="d")
    problem = compare(probe, {"values": start}, {"values": [[0.95, 2.1]]})
    assert problem.mistake == Mistake.UNCHANGED


def test_errors_equal_but_for_rounding_are_named_at_their_first_element():
    """The golden class keeps this message: it must name the same element on every
    machine (tests/unit/core/test_mistakes.py holds the tie broken by rounding)."""
    want = np.array([[0.7, 1.0], [3.3, 1.0], [1.9, 1.0], [12.1, 1.0]])
    got = want.copy()
    got[:, 0] += 0.1
    problem = compare(_probe(), {"results": [got.tolist()]}, {"results": [want.tolist()]})
    assert "at element (0, 0): expected 0.7, got 0.8" in problem.words
