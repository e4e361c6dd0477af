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
