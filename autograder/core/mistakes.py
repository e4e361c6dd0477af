"""What was wrong with an answer, as a code: the checks' and the judge's one catalogue.

A test that fails says why in words for the student; beside the words it
gives a ``Mistake`` code, which travels with the verdict into the graded
cell (``CellGrade.mistake`` in ``autograder/core/results.py``) and from
there to the report, which counts mistakes by code, never by their words.

``diagnose`` names the likely mistake behind a wrong array when the right
one is known, from the shape of the difference (the wrong sign, exactly
twice, k times for a simple k or a size the caller names, the transpose,
unchanged since before a step, NaN from a division by a zero input, ...);
``explain`` gives the code and the words together. It is pure
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

__all__ = ["Mistake", "diagnose", "explain", "label", "scale_factor", "sentence",
           "worst_element"]


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
    SCALED = "scaled"                    # exactly k times the right value, k simple
    CLASS_TIMES = "class_times"          # the number of classes times too large
    CLASS_DIVIDED = "class_divided"      # divided by the number of classes
    UNCHANGED = "unchanged"              # the value from before the step
    UPHILL = "uphill"                    # the step went the opposite way
    UPSTREAM_IGNORED = "upstream_ignored"  # the upstream gradient was not multiplied in
    DIVIDED_BY_ZERO = "divided_by_zero"  # NaN or inf from dividing by an input that is 0
    NOT_UNBROADCAST = "not_unbroadcast"  # the broadcast shape, not the input's
    STEP_SCALED = "step_scaled"          # a step k times the right one (another step size)
    COMPLEMENT = "complement"            # 1 minus the right value (a flipped sign inside)
    PERMUTED = "permuted"                # the right numbers in the wrong places
    ROW_OFFSET = "row_offset"            # off by the same amounts in every row (a bias)
    AS_INPUT = "as_input"                # equal to an input: the operation was not applied
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
    Mistake.SCALED: "exactly k times the right value: a factor is wrong",
    Mistake.CLASS_TIMES: "class-count times too large",
    Mistake.CLASS_DIVIDED: "class-count times too small: divided by the number of classes",
    Mistake.UNCHANGED: "unchanged: still the value from before the step",
    Mistake.UPHILL: "the step went the opposite way (its sign is flipped)",
    Mistake.UPSTREAM_IGNORED: "the upstream gradient was not multiplied in",
    Mistake.DIVIDED_BY_ZERO: "NaN or inf from a division by an input that is zero",
    Mistake.NOT_UNBROADCAST: "the broadcast shape, not summed back to the input's shape",
    Mistake.STEP_SCALED: "a step of the wrong size (not the learning rate given)",
    Mistake.COMPLEMENT: "1 minus the right value: a sign flipped inside",
    Mistake.PERMUTED: "the right numbers in the wrong places (two results swapped)",
    Mistake.ROW_OFFSET: "off by the same amounts in every row: a bias missing or doubled",
    Mistake.AS_INPUT: "equal to an input: the operation was not applied",
    Mistake.WRONG_VALUE: "a wrong value no known pattern explains",
}


def label(code: str) -> str:
    """The short words for an instructor's report (a code this grader does not know,
    from a newer one, is shown as itself)."""
    return _LABELS.get(code, code) if code in Mistake._value2member_map_ else code


def sentence(code: Mistake, *, expected_shape: tuple[int, ...] = (),
             batch_size: int | None = None, classes: int | None = None,
             factor: float | None = None, factor_name: str = "") -> str:
    """What to fix, in words for a student (for the codes ``diagnose`` gives).

    The words name the pattern and where such a pattern usually comes from;
    they never give the right formula (a visible test shows them).
    """
    if code == Mistake.KEPT_BATCH_AXIS:
        return ("it still has the batch dimension: a bias (or anything broadcast over the "
                "batch) needs its gradient summed over the batch.")
    if code == Mistake.WRONG_SHAPE:
        return (f"the numbers may be right but the shape is not: reshape to "
                f"{expected_shape} (a gradient always has the shape of its input).")
    if code == Mistake.NOT_UNBROADCAST:
        return (f"it has the broadcast shape, not the input's {expected_shape}: numpy "
                "stretched this input, so its gradient must be summed back to its shape.")
    if code == Mistake.DIVIDED_BY_ZERO:
        return ("it contains NaN or inf where an input is 0: something was divided by "
                "that input. Compute without dividing by an input.")
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
    if code == Mistake.CLASS_TIMES:
        return (f"it is {classes} (the number of classes) times too large: a sum over the "
                "classes where there should be none, or a factor of the class count.")
    if code == Mistake.CLASS_DIVIDED:
        return (f"it is {classes} (the number of classes) times too small: a mean over "
                "the classes where only the batch is averaged.")
    if code == Mistake.UNCHANGED:
        return ("it is unchanged, still the value from before the step: the new value "
                "was given to a local name, not stored back in the node or tensor.")
    if code == Mistake.UPHILL:
        return ("it moved by the right amount in the opposite direction: the step has the "
                "wrong sign (it climbs the loss instead of descending it).")
    if code == Mistake.UPSTREAM_IGNORED:
        return (f"it is exactly {_number(factor)} times the right value, 1 / the upstream "
                "gradient: the upstream gradient was not multiplied in.")
    if code == Mistake.STEP_SCALED:
        return (f"it moved {_number(factor)} times as far as the right step, in the right "
                "direction: the step size is not the learning rate it was given (a "
                "default or a constant instead of the argument?).")
    if code == Mistake.COMPLEMENT:
        return ("it is 1 minus the right value: a sign is flipped inside (an exponent's, "
                "say), which mirrors the curve.")
    if code == Mistake.PERMUTED:
        return ("it holds the right numbers in the wrong places: two results are swapped, "
                "or an index or an argument is in the wrong order.")
    if code == Mistake.ROW_OFFSET:
        return ("it is off by the same amounts in every row: a term every row shares (a "
                "bias) is missing, or counted twice.")
    if code == Mistake.AS_INPUT:
        return ("it equals the input: the operation was not applied (the input was "
                "stored where its result belongs).")
    if code == Mistake.SCALED:
        named = f" ({factor_name})" if factor_name else ""
        return (f"it is exactly {_number(factor)} times the right value{named}: a factor "
                "is wrong (a size or a constant too many, or one missing).")
    return _LABELS.get(code, str(code)) + "."


def _number(value: float | None) -> str:
    """A factor as a reader writes it: 2, 0.5, 1/3."""
    if value is None:
        return "k"
    if abs(value - round(value)) < 1e-6:
        return str(int(round(value)))
    inverse = 1.0 / value if value else 0.0
    if abs(inverse - round(inverse)) < 1e-6 and abs(round(inverse)) > 1:
        return f"1/{int(round(inverse))}"
    return f"{value:.4g}"


#: Errors within this fraction of the largest are the same error told apart only by
#: rounding (a bias missing from every row): ``worst_element`` takes the first of them.
TIE = 1e-6


def worst_element(got: np.ndarray, expected: np.ndarray) -> tuple[int, ...]:
    """The index of the element where ``got`` is furthest from ``expected`` (NaN first).

    Of errors equal but for rounding (within ``TIE`` of the largest), the first in
    row order: a bias missing from every row is named at row 0 on every machine,
    whichever row the last bits of the machine's matrix product made the largest.
    """
    import numpy as np

    error = np.abs(np.asarray(got, dtype=float) - np.asarray(expected, dtype=float))
    if not error.ndim or not error.size:
        return ()
    error = np.where(np.isnan(error), np.inf, error)
    largest = error.max()
    flat = int(np.argmax(error >= largest * (1 - TIE)))
    return tuple(int(i) for i in np.unravel_index(flat, error.shape))


def scale_factor(expected: np.ndarray, got: np.ndarray) -> float | None:
    """The number k for which k * ``expected`` comes closest to ``got`` (least
    squares), or None when ``got`` cannot be a multiple (another shape, NaN).

    Whether k * ``expected`` is close enough to explain ``got`` is the
    caller's question, asked with its own tolerance.
    """
    import numpy as np

    norm = float(np.sum(expected * expected))
    if not norm or got.shape != expected.shape or not np.all(np.isfinite(got)):
        return None
    return float(np.sum(got * expected)) / norm


def _simple(k: float) -> bool:
    """A factor a mistake plausibly makes: an integer up to 1000 or its inverse, or a
    fraction p/q with q up to 10 (both signs)."""
    magnitude = abs(k)
    if magnitude < 1e-12:
        return False
    for value in (magnitude, 1.0 / magnitude):
        if value <= 1000 and abs(value - round(value)) < 1e-5 * max(value, 1.0):
            return True
    return any(abs(magnitude * q - round(magnitude * q)) < 1e-5 * q for q in range(2, 11))


def _sized(k: float, sizes: dict[str, int]) -> str:
    """The name of the size k (or 1/k) is, when the caller named one."""
    for name, size in sizes.items():
        if size > 1 and (abs(k - size) < 1e-6 * size or abs(k * size - 1) < 1e-6):
            return name
    return ""


def explain(expected: np.ndarray, got: np.ndarray, *, batch_size: int | None = None,
            classes: int | None = None, sizes: dict[str, int] | None = None,
            upstream: float | None = None, before: np.ndarray | None = None,
            inputs: tuple[Any, ...] = (), operands: tuple[Any, ...] = (),
            close: Callable[..., Any] | None = None,
            ) -> tuple[Mistake, str] | None:
    """``diagnose``'s code with ``sentence``'s words for it (the factor filled in), or None."""
    import numpy as np

    code = diagnose(expected, got, batch_size=batch_size, classes=classes, sizes=sizes,
                    upstream=upstream, before=before, inputs=inputs, operands=operands,
                    close=close)
    if code is None:
        return None
    factor = scale_factor(expected, got) if code in (Mistake.SCALED,
                                                     Mistake.UPSTREAM_IGNORED) else None
    if code == Mistake.STEP_SCALED:
        old = np.asarray(before, dtype=float)
        factor = scale_factor(expected - old, got - old)
    name = _sized(factor, sizes or {}) if factor is not None else ""
    return code, sentence(code, expected_shape=expected.shape, batch_size=batch_size,
                          classes=classes, factor=factor, factor_name=name)


def diagnose(expected: np.ndarray, got: np.ndarray, *, batch_size: int | None = None,
             classes: int | None = None, sizes: dict[str, int] | None = None,
             upstream: float | None = None, before: np.ndarray | None = None,
             inputs: tuple[Any, ...] = (), operands: tuple[Any, ...] = (),
             close: Callable[..., Any] | None = None,
             ) -> Mistake | None:
    """The likely mistake behind ``got`` when ``expected`` was right, or None.

    What the caller knows narrows the guess: ``batch_size`` and ``classes``
    (a factor of exactly that size is named as such), ``sizes`` (other sizes
    by name, a layer's, say), ``upstream`` (the upstream gradient a backward
    was sent: 1/upstream times means it was left out), ``before`` (the value
    before a step: unchanged, moved the wrong way or by another step size),
    ``inputs`` (NaN where an input is 0 comes from dividing by it, not from
    overflow) and ``operands`` (what a forward was given: a result equal to one of
    them means the operation was not applied).

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
        if got.size > expected.size and _broadcasts_to(expected.shape, got.shape):
            return Mistake.NOT_UNBROADCAST
        if got.ndim == 2 and got.shape == expected.shape[::-1] and expected.shape[0] > 1 \
                and close(got, expected.T, rtol=1e-5, atol=1e-9):
            return Mistake.TRANSPOSED
        if got.size == expected.size:
            return Mistake.WRONG_SHAPE
        return None
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
        if any(np.any(np.asarray(value, dtype=float) == 0) for value in inputs):
            return Mistake.DIVIDED_BY_ZERO
        return Mistake.NOT_FINITE
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    if scale == 0:
        return None

    def same(a: np.ndarray, b: Any) -> bool:
        return bool(close(a, b, rtol=1e-5, atol=1e-9 * max(scale, 1.0)))

    if before is not None:
        old = np.asarray(before, dtype=float)
        if old.shape == got.shape and not same(expected, old):
            if same(got, old):
                return Mistake.UNCHANGED
            if same(got - old, old - expected):
                return Mistake.UPHILL
    if same(got, np.zeros_like(expected)):
        return Mistake.ZEROS
    if same(got, -expected):
        return Mistake.WRONG_SIGN
    k = scale_factor(expected, got)
    if k is None or not same(got, k * expected):
        return _transposed(expected, got, same) or _rearranged(expected, got, same, before,
                                                               operands)
    for size, times, divided in ((batch_size, Mistake.BATCH_TIMES, Mistake.BATCH_DIVIDED),
                                 (classes, Mistake.CLASS_TIMES, Mistake.CLASS_DIVIDED)):
        if size and size > 1:
            if same(got, size * expected):
                return times
            if same(got, expected / size):
                return divided
    if upstream is not None and abs(float(upstream)) not in (0.0, 1.0) and \
            same(got, expected / float(upstream)):
        return Mistake.UPSTREAM_IGNORED
    if same(got, 0.5 * expected):
        return Mistake.HALF
    if same(got, 2.0 * expected):
        return Mistake.DOUBLE
    if _simple(k) or _sized(k, sizes or {}):
        return Mistake.SCALED
    return _transposed(expected, got, same) or _rearranged(expected, got, same, before, operands)


def _rearranged(expected: np.ndarray, got: np.ndarray, same: Callable[..., bool],
                before: Any, operands: tuple[Any, ...]) -> Mistake | None:
    """The patterns tried when no factor explains ``got``: a step of another size, the
    input itself, 1 minus the answer, the same numbers elsewhere, a per-column offset."""
    import numpy as np

    if before is not None:
        old = np.asarray(before, dtype=float)
        if old.shape == got.shape and not same(expected, old):
            k = scale_factor(expected - old, got - old)
            if k is not None and k > 0 and abs(k - 1) > 1e-3 and \
                    same(got - old, k * (expected - old)):
                return Mistake.STEP_SCALED
    for value in operands:
        array = np.asarray(value, dtype=float)
        if array.shape == got.shape and not same(expected, array) and same(got, array):
            return Mistake.AS_INPUT
    if same(got, 1.0 - expected):
        return Mistake.COMPLEMENT
    if got.size > 1 and same(np.sort(got, axis=None), np.sort(expected, axis=None)):
        return Mistake.PERMUTED
    if got.ndim == 2 and got.shape[0] > 1 and got.shape[1] > 1:
        # one offset per column, the same in every row (a constant everywhere is not
        # a bias's signature: that stays unexplained)
        offset = got - expected
        row = offset[:1]
        if same(offset, np.broadcast_to(row, offset.shape)) and \
                not same(row, np.full_like(row, row[0, 0])):
            return Mistake.ROW_OFFSET
    return None


def _transposed(expected: np.ndarray, got: np.ndarray, same: Callable[..., bool]
                ) -> Mistake | None:
    if got.ndim == 2 and got.shape[0] == got.shape[1] > 1 and not same(expected, expected.T) \
            and same(got, expected.T):
        return Mistake.TRANSPOSED
    return None


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Does numpy stretch an array of ``shape`` to ``target`` (as a gradient that was
    never summed back would show)?"""
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(shape[::-1], target[::-1]))
