"""The mistake catalogue (autograder/core/mistakes.py): each diagnosis from the shape of
the difference, the words made from the code, a code no words were written for."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.core.mistakes import Mistake, diagnose, explain, label, sentence, worst_element

RIGHT = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]])
SQUARE = np.array([[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize(("got", "batch_size", "code"), [
    (-RIGHT, None, Mistake.WRONG_SIGN),
    (0.5 * RIGHT, None, Mistake.HALF),
    (2 * RIGHT, None, Mistake.DOUBLE),
    (4 * RIGHT, 4, Mistake.BATCH_TIMES),
    (RIGHT / 4, 4, Mistake.BATCH_DIVIDED),
    (np.zeros_like(RIGHT), None, Mistake.ZEROS),
    (np.where(RIGHT > 0, np.nan, RIGHT), None, Mistake.NOT_FINITE),
    (RIGHT.T, None, Mistake.TRANSPOSED),              # another shape: the transpose
    (RIGHT.reshape(3, 2)[::-1], None, Mistake.WRONG_SHAPE),  # same size, not the transpose
    (np.stack([RIGHT] * 5), None, Mistake.KEPT_BATCH_AXIS),
    (RIGHT + 0.3, None, None),                        # wrong, but no known pattern
    (np.ones(4), None, None),                         # another size altogether
])
def test_each_mistake_is_named_from_the_difference(got, batch_size, code):
    assert diagnose(RIGHT, got, batch_size=batch_size) == code


def test_a_square_matrix_s_transpose_is_named_but_not_a_symmetric_one_s():
    assert diagnose(SQUARE, SQUARE.T) == Mistake.TRANSPOSED
    symmetric = SQUARE + SQUARE.T
    assert diagnose(symmetric, symmetric + 1) is None


def test_the_caller_s_comparison_is_the_one_used():
    """Inside the student's kernel the checks pass numpy's allclose as captured before
    any student code ran: a replaced np.allclose changes nothing."""
    calls = []

    def close(a, b, **tolerances):
        calls.append(tolerances)
        return np.abs(np.asarray(a) - np.asarray(b)).max() < 1e-9

    assert diagnose(RIGHT, -RIGHT, close=close) == Mistake.WRONG_SIGN and calls


def test_words_for_students_and_for_the_report():
    assert "batch size" in sentence(Mistake.BATCH_TIMES, batch_size=8) and "8" in \
        sentence(Mistake.BATCH_TIMES, batch_size=8)
    assert "(2, 3)" in sentence(Mistake.WRONG_SHAPE, expected_shape=(2, 3))
    for code in Mistake:
        assert label(code) and label(code) != str(code)  # every code has its words
        assert sentence(code).strip()
    assert label("from_a_newer_grader") == "from_a_newer_grader"


# -- issue 31: the patterns a bare comparison used to leave as two tables of numbers --


@pytest.mark.parametrize(("got", "known", "code"), [
    (3 * RIGHT, {}, Mistake.SCALED),                               # a simple k
    (RIGHT / 7, {}, Mistake.SCALED),
    (RIGHT / 3, {"classes": 3}, Mistake.CLASS_DIVIDED),
    (3 * RIGHT, {"classes": 3}, Mistake.CLASS_TIMES),
    (RIGHT / 2, {"batch_size": 2}, Mistake.BATCH_DIVIDED),         # the batch before "half"
    (2 * RIGHT, {"upstream": 0.5}, Mistake.UPSTREAM_IGNORED),      # 1 / upstream
    (RIGHT * 32, {"sizes": {"the hidden layer's size": 32}}, Mistake.SCALED),
    (RIGHT + 1, {"before": RIGHT + 1}, Mistake.UNCHANGED),
    (2 * (RIGHT + 1) - RIGHT, {"before": RIGHT + 1}, Mistake.UPHILL),
    (np.where(RIGHT > 0, np.inf, RIGHT), {"inputs": (np.array([0.0, 2.0]),)},
     Mistake.DIVIDED_BY_ZERO),
    (np.where(RIGHT > 0, np.inf, RIGHT), {"inputs": (np.array([1.0, 2.0]),)},
     Mistake.NOT_FINITE),
    (np.stack([RIGHT[0]] * 2), {}, None),                          # same shape, no pattern
])
def test_what_the_caller_knows_names_more_mistakes(got, known, code):
    assert diagnose(RIGHT, got, **known) == code


def test_a_gradient_left_in_the_broadcast_shape_is_named():
    assert diagnose(np.ones((1, 3)), np.ones((4, 3))) == Mistake.NOT_UNBROADCAST
    assert diagnose(np.ones(3), np.ones((4, 3))) == Mistake.KEPT_BATCH_AXIS  # as before


def test_an_irregular_factor_is_not_a_pattern():
    assert diagnose(RIGHT, RIGHT * 1.2345678) is None


def test_explain_fills_in_the_factor_and_the_size_it_is():
    code, words = explain(RIGHT, RIGHT * 32, sizes={"the hidden layer's size": 32})
    assert code == Mistake.SCALED and "32 times" in words and "hidden layer" in words
    code, words = explain(RIGHT, 2 * RIGHT, upstream=0.5)
    assert code == Mistake.UPSTREAM_IGNORED and "2 times" in words
    assert "1/3 times" in explain(RIGHT, RIGHT / 3)[1]
    assert explain(RIGHT, RIGHT + 0.3) is None


def test_the_words_never_say_compute_stably_for_a_division_by_zero():
    assert "stabl" not in sentence(Mistake.DIVIDED_BY_ZERO)
    assert "an input is 0" in sentence(Mistake.DIVIDED_BY_ZERO)


def test_the_codes_stored_in_results_keep_their_values():
    """results.json holds the codes' values: the older ones must not change."""
    assert {m.value for m in Mistake} >= {
        "not_attempted", "raised", "missing", "stopped", "not_judged", "not_run",
        "test_changed", "zeroed_by_review", "wrong_shape", "kept_batch_axis", "not_finite",
        "wrong_sign", "half", "double", "batch_times", "batch_divided", "zeros", "transposed",
        "wrong_value"}


# Issue 31's measure: the patterns tried when no factor explains the answer.
BEFORE = np.array([[0.2, -0.1, 0.4], [1.0, 0.0, -0.3]])
STEP = RIGHT - BEFORE


@pytest.mark.parametrize(("got", "known", "code"), [
    (BEFORE + 0.1 * STEP, {"before": BEFORE}, Mistake.STEP_SCALED),  # another step size
    (BEFORE + STEP * 1.0001, {"before": BEFORE}, None),              # the right step
    (BEFORE - STEP, {"before": BEFORE}, Mistake.UPHILL),             # still the uphill one
    (BEFORE * 1.0, {"operands": (BEFORE,)}, Mistake.AS_INPUT),       # nothing applied
    (1.0 - RIGHT, {}, Mistake.COMPLEMENT),
    (RIGHT[:, ::-1], {}, Mistake.PERMUTED),                          # the right numbers, moved
    (RIGHT + np.array([0.5, -1.0, 2.0]), {}, Mistake.ROW_OFFSET),    # a bias left out
    (RIGHT + np.array([[0.5], [-1.0]]), {}, None),                   # per row, not per column
])
def test_what_no_factor_explains_is_named_from_its_pattern(got, known, code):
    assert diagnose(RIGHT, got, **known) == code
    if code is not None:
        found = explain(RIGHT, got, **known)
        assert found is not None and found[0] == code
        assert "=" not in found[1], "a hint never states a formula"


def test_a_step_of_another_size_says_how_many_times_the_right_one():
    _, words = explain(RIGHT, BEFORE + 0.1 * STEP, before=BEFORE)
    assert "1/10 times as far as the right step" in words and "learning rate" in words


def test_a_forward_whose_value_is_an_input_is_only_named_when_inputs_are_given():
    assert diagnose(RIGHT, BEFORE.copy()) is None
    assert diagnose(RIGHT, BEFORE.copy(), inputs=(BEFORE,)) is None  # inputs: for NaN only


#: Every row off by the same 0.1 (a bias missing from each); the subtraction's rounding
#: makes row 1's error the largest by its last bit, which another machine's arithmetic
#: (another BLAS kernel for the product behind such numbers) may give to another row.
BIASED_WANT = np.array([[0.7], [3.3], [1.9], [12.1]])
BIASED_GOT = BIASED_WANT + 0.1


def test_the_worst_element_of_errors_equal_but_for_rounding_is_the_first():
    rounded = np.abs(BIASED_GOT - BIASED_WANT)
    assert int(np.argmax(rounded)) == 1, "the example no longer has a tie broken by rounding"
    assert worst_element(BIASED_GOT, BIASED_WANT) == (0, 0)


def test_the_worst_element_is_the_largest_error_and_nan_before_any_number():
    want = np.zeros((2, 3))
    got = want.copy()
    got[0, 1], got[1, 2] = 0.5, 0.5001
    assert worst_element(got, want) == (1, 2), "an error a ten-thousandth larger is larger"
    got[1, 0] = np.nan
    assert worst_element(got, want) == (1, 0)
    assert worst_element(np.float64(2.0), np.float64(1.0)) == ()
    assert worst_element(np.zeros((0, 3)), np.ones((0, 3))) == ()
