"""Whether a submission met a learning objective, and what cost it the objective.

An objective is measured by the test cells the course manifest maps to it
(``[assignment.tests]``). A cell that checks several things may say which of
its checks isolate which of its objectives (its ``checks`` table: the judge's
checks, ``autograder.judge.plans.Probe.checks``); for such a cell the
objective is measured by the checks mapped to it, from the outcome the judge
recorded for each (``CellGrade.checks``), so a transposed weight gradient does
not count against "why a bias gradient sums over the batch". Every other
cell, and a cell whose checks were not recorded (plain nbgrader, an earlier
grader, a cell the static review zeroed, a cell that lost its points for a
reason no check names), is measured whole: every point of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from autograder.core.manifest import Assignment
from autograder.core.results import CHECK_PASSED, CellGrade

__all__ = ["Shortfall", "measured_by", "shortfalls"]


@dataclass(frozen=True)
class Shortfall:
    """One thing that cost a submission an objective: a test cell that lost points, or,
    when checks isolate the objective, one failed check of it (``check``; "" for the
    whole cell) with that check's mistake code; or a cell it never ran (``cell`` None:
    it earned nothing, and names no mistake)."""

    grade_id: str
    cell: CellGrade | None
    check: str = ""
    mistake: str = ""


def shortfalls(assignment: Assignment, number: int, cells: dict[str, CellGrade],
               grade_ids: tuple[str, ...] | None = None) -> list[Shortfall]:
    """What cost the submission whose graded cells are ``cells`` (grade id -> cell)
    objective ``number``: empty when it met it.

    ``grade_ids``: the cells that measure it, if not the manifest's (the report's
    objective 0, the cells mapped to none, measured whole)."""
    found: list[Shortfall] = []
    for grade_id in assignment.tests_of(number) if grade_ids is None else grade_ids:
        cell = cells.get(grade_id)
        if cell is None:
            found.append(Shortfall(grade_id, None))
            continue
        if cell.score >= cell.max_score:
            continue
        checks = assignment.isolating(grade_id, number)
        failed = {name: code for name, code in cell.checks.items() if code != CHECK_PASSED}
        if not (checks and failed):  # measured whole
            found.append(Shortfall(grade_id, cell, "", cell.mistake))
            continue
        for check in checks:
            outcome = cell.checks.get(check)
            if outcome is None:  # not recorded: the cell as a whole says
                found.append(Shortfall(grade_id, cell, "", cell.mistake))
                break
            if outcome != CHECK_PASSED:
                found.append(Shortfall(grade_id, cell, check, outcome))
    return found


def measured_by(assignment: Assignment, number: int) -> tuple[str, ...]:
    """How objective ``number`` is measured, in words, one per test cell: the cell's
    grade id, with the checks that isolate the objective when some do."""
    words = []
    for grade_id in assignment.tests_of(number):
        checks = assignment.isolating(grade_id, number)
        words.append(f"{grade_id} (check{'s' if len(checks) > 1 else ''} "
                     f"{', '.join(checks)})" if checks else grade_id)
    return tuple(words)
