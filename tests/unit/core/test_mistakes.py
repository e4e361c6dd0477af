"""The mistake catalogue (autograder/core/mistakes.py): each diagnosis from the shape of
the difference, the words made from the code, a code no words were written for."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.core.mistakes import Mistake, diagnose, label, sentence

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
