"""What was wrong with an answer, as a code: the checks' and the judge's one catalogue.

A test that fails says why in words for the student; beside the words it
gives a ``Mistake`` code, which travels with the verdict into the graded
cell (``CellGrade.mistake`` in ``autograder/core/results.py``) and from
there to the report, which counts mistakes by code, never by their words.

``diagnose`` names the likely mistake behind a wrong array when the right
one is known, from the shape of the difference (the wrong sign, exactly
twice, the batch size times too large, the transpose, ...). It is pure
numpy and is used on both sides: by the visible checks inside the
student's kernel (``autograder.checks.core.assert_close``, which passes its
own ``close``, captured before any student code ran) and by the judge
outside it (``autograder.judge.compare``). ``sentence`` makes the words for a
student; ``label`` the short words for an instructor's report.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Mistake", "diagnose", "label", "sentence"]


class Mistake(StrEnum):
    """Why a test cell lost its points. A ``str``, so JSON writes it as the word."""

    # the code did not answer
    NOT_ATTEMPTED = "not_attempted"  # the stub's NotImplementedError is still there
    RAISED = "raised"                # it raised another error
    MISSING = "missing"              # the name under test is not defined
    STOPPED = "stopped"              # it stopped the grader's check (exit, endless loop)
    NOT_JUDGED = "not_judged"        # the grader has no check for this test
    NOT_RUN = "not_run"              # the test cell never ran (the notebook stopped before it)
    TEST_CHANGED = "test_changed"    # the code in the test cell was not the instructor's test
    ZEROED_BY_REVIEW = "zeroed_by_review"  # the static review found the answer is not the
    #                                        student's own (miniflow's, or no code at all)
    # a wrong answer, diagnosed from the right one
    WRONG_SHAPE = "wrong_shape"          # right numbers, wrong shape
    KEPT_BATCH_AXIS = "kept_batch_axis"  # a gradient not summed over the batch
    NOT_FINITE = "not_finite"            # NaN or inf where the answer is finite
    WRONG_SIGN = "wrong_sign"
    HALF = "half"                        # one contribution of two overwrote the other
    DOUBLE = "double"                    # one contribution counted twice
    BATCH_TIMES = "batch_times"          # a sum where the loss is a mean
    BATCH_DIVIDED = "batch_divided"      # divided by the batch size once too often
    ZEROS = "zeros"                      # nothing computed or stored
    TRANSPOSED = "transposed"            # the transpose of the right matrix
    # a wrong answer no pattern above explains
    WRONG_VALUE = "wrong_value"


_LABELS = {
    Mistake.NOT_ATTEMPTED: "not attempted: the stub's NotImplementedError is still there",
    Mistake.RAISED: "the code raised an error",
    Mistake.MISSING: "the name under test is not defined",
    Mistake.STOPPED: "the code stopped the grader's check (exit(), an endless loop)",
    Mistake.NOT_JUDGED: "the grader has no check for this test",
    Mistake.NOT_RUN: "the test cell never ran (the notebook stopped before it)",
    Mistake.TEST_CHANGED: "the test cell's code was not the instructor's test",
    Mistake.ZEROED_BY_REVIEW: "scored 0 by the static review (not the student's own code)",
    Mistake.WRONG_SHAPE: "right numbers, wrong shape",
    Mistake.KEPT_BATCH_AXIS: "a gradient not summed over the batch",
    Mistake.NOT_FINITE: "NaN or inf where the answer is finite (not computed stably)",
    Mistake.WRONG_SIGN: "the wrong sign",
    Mistake.HALF: "exactly half: a second contribution overwrote the first (= for +=)",
    Mistake.DOUBLE: "exactly twice: a contribution counted twice",
    Mistake.BATCH_TIMES: "batch-size times too large: a sum where the loss is a mean",
    Mistake.BATCH_DIVIDED: "batch-size times too small: divided once too often",
    Mistake.ZEROS: "all zeros: nothing computed or stored",
    Mistake.TRANSPOSED: "the transpose of the right answer",
    Mistake.WRONG_VALUE: "a wrong value no known pattern explains",
}


def label(code: str) -> str:
    """The short words for an instructor's report (a code this grader does not know,
    from a newer one, is shown as itself)."""
    return _LABELS.get(code, code) if code in Mistake._value2member_map_ else code


def sentence(code: Mistake, *, expected_shape: tuple[int, ...] = (),
             batch_size: int | None = None) -> str:
    """What to fix, in words for a student (for the codes ``diagnose`` gives)."""
    if code == Mistake.KEPT_BATCH_AXIS:
        return ("it still has the batch dimension: a bias (or anything broadcast over the "
                "batch) needs its gradient summed over the batch, e.g. .sum(axis=0).")
    if code == Mistake.WRONG_SHAPE:
        return (f"the numbers may be right but the shape is not: reshape to "
                f"{expected_shape} (a gradient always has the shape of its input).")
    if code == Mistake.NOT_FINITE:
        return ("it contains NaN or inf although the right answer is finite: for large "
                "inputs, compute it stably (for softmax, subtract each row's maximum "
                "before np.exp).")
    if code == Mistake.WRONG_SIGN:
        return "it has the wrong sign: check the order of a subtraction or a minus sign."
    if code == Mistake.HALF:
        return ("it is exactly half of the right value: with two consumers, the second "
                "contribution overwrote the first. Accumulate with += over all outbound nodes.")
    if code == Mistake.DOUBLE:
        return "it is exactly twice the right value: one contribution was counted twice."
    if code == Mistake.BATCH_TIMES:
        return (f"it is {batch_size} (the batch size) times too large: divide by the "
                "batch size (the loss is a mean, not a sum).")
    if code == Mistake.BATCH_DIVIDED:
        return f"it is {batch_size} (the batch size) times too small: divided once too often."
    if code == Mistake.ZEROS:
        return "it is all zeros: was the gradient computed and stored in self.gradients?"
    if code == Mistake.TRANSPOSED:
        return ("it is the transpose of the right matrix: check the order of a matrix "
                "product (which side the transpose goes on).")
    return _LABELS.get(code, str(code)) + "."


def diagnose(expected: np.ndarray, got: np.ndarray, *, batch_size: int | None = None,
             close: Callable[..., Any] | None = None) -> Mistake | None:
    """The likely mistake behind ``got`` when ``expected`` was right, or None.

    ``close`` is numpy's ``allclose`` as the caller captured it (inside the
    student's kernel, before any student code could replace numpy's); numpy
    is imported here, not with the module, so that the codes cost nothing to
    import.
    """
    import numpy as np

    close = close or np.allclose
    if got.shape != expected.shape:
        if got.ndim == expected.ndim + 1 and got.shape[1:] == expected.shape:
            return Mistake.KEPT_BATCH_AXIS
        if got.ndim == 2 and got.shape == expected.shape[::-1] and expected.shape[0] > 1 \
                and close(got, expected.T, rtol=1e-5, atol=1e-9):
            return Mistake.TRANSPOSED
        if got.size == expected.size:
            return Mistake.WRONG_SHAPE
        return None
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
        return Mistake.NOT_FINITE
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    if scale == 0:
        return None

    def same(a: np.ndarray, b: np.ndarray) -> bool:
        return bool(close(a, b, rtol=1e-5, atol=1e-9 * max(scale, 1.0)))

    if same(got, -expected):
        return Mistake.WRONG_SIGN
    if same(got, 0.5 * expected):
        return Mistake.HALF
    if same(got, 2.0 * expected):
        return Mistake.DOUBLE
    if batch_size and batch_size > 1:
        if same(got, batch_size * expected):
            return Mistake.BATCH_TIMES
        if same(got, expected / batch_size):
            return Mistake.BATCH_DIVIDED
    if same(got, np.zeros_like(expected)):
        return Mistake.ZEROS
    if got.ndim == 2 and got.shape[0] == got.shape[1] > 1 and not same(expected, expected.T) \
            and same(got, expected.T):
        return Mistake.TRANSPOSED
    return None
