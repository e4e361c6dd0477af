"""The judge's questions, asked in the notebook: one declaration for both.

What the grader's judge asks each test's code is declared once, in
``autograder.judge.plans`` (its plans: which class or function, on which
inputs, built on which of the grader's versions of earlier exercises). A
visible test cell ends with ``checks.as_graded("test_linear_forward",
globals())``: the same questions, through the same runners
(``autograder.judge.runners``), compared by the same rule
(``autograder.judge.compare``), so what a student sees before submitting and
what the grade says cannot drift apart. The only difference is the inputs: here the
plan's public seeds, in the judge seeds drawn from the course's secret.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["as_graded"]


@functools.cache
def _assignment_of(test: str) -> str:
    from autograder.judge.plans import PLANS, plan_for

    for assignment in PLANS:
        if any(probe.test == test for probe in plan_for(assignment)):
            return assignment
    raise KeyError(f"no judge declaration for the test {test!r} in autograder/judge/plans.py")


def as_graded(test: str, namespace: Mapping[str, Any]) -> None:
    """Ask the notebook's code (``namespace``, usually ``globals()``) what the judge asks
    for ``test``; an ``AssertionError`` in the judge's words for the first wrong answer."""
    from autograder.judge.compare import compare
    from autograder.judge.plans import plan_for

    for probe in plan_for(_assignment_of(test)):
        if probe.test != test or probe.follow_up:  # those settle the grade's checks only
            continue
        target = namespace.get(probe.name)
        if target is None:
            raise AssertionError(f"{probe.name} is not defined: run the cell that defines it "
                                 "first (Run All runs them in order)")
        # What the code under test prints meanwhile (a progress bar) is not shown: it
        # would change with the clock, and the answer is what counts.
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            answer = _answer(probe, target)
        problem = compare(probe, answer, probe.reference())
        if problem:
            raise AssertionError(f"{probe.describe}: {problem.words}")


def _answer(probe: Any, target: Any) -> dict:
    """The answer of ``target`` to one question, as the plain data the judge would send."""
    import numpy as np

    from autograder.judge.compare import json_constant, plain_value
    from autograder.judge.runners import RUNNERS

    if probe.spec.get("strict"):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            try:
                answer = RUNNERS[probe.kind](target, probe.spec)
            except FloatingPointError as error:
                raise AssertionError(
                    f"{probe.describe}: numpy raised {error!r}.\n  Likely mistake: these "
                    "large inputs made it overflow, divide by zero or make a NaN; compute it "
                    "in a way that stays finite") from None
    else:
        answer = RUNNERS[probe.kind](target, probe.spec)
    try:
        return plain_value(json.loads(json.dumps(answer, allow_nan=True),
                                      parse_constant=json_constant))
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{probe.describe}: the result is not plain numbers "
                             f"({error})") from None
