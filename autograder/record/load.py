"""Reading every result back: scores from the gradebook, details from results.json.

The gradebook is the single source of truth for scores. The checks'
messages, notes and the status of submissions that never reached the
gradebook (rejected files, crashed grading) live in
``autograded/results.json``; ``load_results`` reads the details from there
and every score from the gradebook, so ``export``, ``feedback`` and
``report`` always agree with each other and with plain ``nbgrader export``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from autograder.core.manifest import Course
from autograder.core.reasons import Reason
from autograder.core.results import CellGrade, GradeResult, Lateness, Status
from autograder.record.database import db_url, open_gradebook

__all__ = ["RESULTS", "gradebook_submissions", "load_results", "stored_details"]

RESULTS = Path("autograded") / "results.json"


def stored_details(course: Course) -> dict[tuple[str, str], GradeResult]:
    """The results ``results.json`` holds (this grader's, or an earlier one's)."""
    path = course.root / RESULTS
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    if not isinstance(records, list):
        return {}
    return {(str(r["assignment"]), str(r["student"])): GradeResult.from_dict(r)
            for r in records if isinstance(r, dict) and "assignment" in r and "student" in r}


def _submitted(gradebook: Any) -> list:
    """``gradebook.assignments``, with what the loop over their submissions reads
    loaded at once: their notebooks (and late penalties) and grades, with each
    grade's cell and maximum score.

    Read lazily, each of those is a query of its own: about 4,000 for 400
    submissions of one assignment, half a second each time. A submission's
    ``late_submission_penalty`` is not read: nbgrader computes it with a
    subquery over every submitted notebook for each submission (no index),
    seconds for a few thousand; ``_penalty`` adds its notebooks' instead.
    """
    from nbgrader.api import Assignment, Grade, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy.orm import selectinload

    submissions = selectinload(Assignment.submissions)
    graded = submissions.selectinload(SubmittedAssignment.notebooks).selectinload(
        SubmittedNotebook.grades)
    return gradebook.db.query(Assignment).order_by(Assignment.duedate, Assignment.name) \
        .options(graded.joinedload(Grade.cell), graded.undefer(Grade.max_score)).all()


def _penalty(submission: Any) -> float:
    """nbgrader's ``late_submission_penalty`` of a submission: its notebooks' summed."""
    return float(sum(notebook.late_submission_penalty or 0.0
                     for notebook in submission.notebooks))


def gradebook_submissions(course: Course) -> tuple[
        dict[tuple[str, str], dict[str, tuple[float, float]]],
        dict[tuple[str, str], dict[str, Any]]]:
    """Every submission the gradebook holds, by (assignment, student): {cell: (score,
    max score)}, and its time, due date, seconds late and penalty."""
    url = db_url(course)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        return {}, {}
    scores: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    late: dict[tuple[str, str], dict[str, Any]] = {}
    with open_gradebook(url, course.id) as gradebook:
        for assignment in _submitted(gradebook):
            for submission in assignment.submissions:
                key = (assignment.name, submission.student_id)
                cells = scores.setdefault(key, {})
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.max_score:
                            cells[grade.name] = (float(grade.score or 0.0),
                                                 float(grade.max_score))
                due = submission.duedate if assignment.duedate is not None else None
                late[key] = {"timestamp": submission.timestamp, "due": due,
                             "seconds_late": float(submission.total_seconds_late or 0.0),
                             "penalty": _penalty(submission)}
    return scores, late


def load_results(course: Course, stored: dict[tuple[str, str], GradeResult] | None = None
                 ) -> dict[tuple[str, str], GradeResult]:
    """Every result, keyed by (assignment, student): scores from the gradebook.

    Messages and notes come from ``results.json``. A submission the gradebook
    holds but results.json does not (graded with plain ``nbgrader
    autograde``) is included with its scores and no messages; one that
    results.json calls graded but the gradebook does not hold is reported as
    missing from the gradebook, with no score. ``stored``: the details to use
    instead of results.json's (``record_results`` has them in hand); none of
    them is changed.
    """
    stored = stored_details(course) if stored is None else stored
    gradebook, lateness = gradebook_submissions(course)
    merged: dict[tuple[str, str], GradeResult] = {}
    for key in sorted(set(stored) | set(gradebook)):
        record = stored.get(key) or GradeResult(key[1], key[0], Status.GRADED)
        cells = gradebook.get(key)
        if cells is not None:
            messages = {c.grade_id: c.message for c in record.cells}
            # a cell an instructor has since given full marks (formgrader) lost nothing
            mistakes = {c.grade_id: c.mistake for c in record.cells}
            checks = {c.grade_id: c.checks for c in record.cells}
            order = [name for name in messages if name in cells]
            order += [name for name in cells if name not in messages]
            score = float(sum(s for s, _ in cells.values()))
            lost = {name for name in order if cells[name][0] < cells[name][1]}
            record = dataclasses.replace(
                record, status=Status.GRADED, score=score,
                max_score=float(sum(t for _, t in cells.values())),
                cells=[CellGrade(name, cells[name][0], cells[name][1], messages.get(name, ""),
                                 mistakes.get(name, "") if name in lost else "",
                                 dict(checks.get(name, {})) if name in lost else {})
                       for name in order])
            record = _merge_late(record, lateness.get(key))
        elif record.status == Status.GRADED:
            record = dataclasses.replace(
                record, status=Status.ERROR, score=0.0, cells=[],
                notes=[*record.notes, "the gradebook holds no grade for this submission; "
                       "grade it again"], reasons=[*record.reasons, Reason.NO_GRADE])
        merged[key] = record
    return merged


def _merge_late(record: GradeResult, held: dict[str, Any] | None) -> GradeResult:
    """Take the gradebook's late penalty off the score; build ``late`` if only nbgrader knew."""
    from datetime import UTC

    if not held:
        return record
    penalty = held["penalty"]
    late = record.late
    if late is not None:
        late = dataclasses.replace(late, penalty=penalty)
    elif held["timestamp"] is not None:  # graded by plain nbgrader autograde
        late = Lateness(
            submitted=held["timestamp"].replace(tzinfo=UTC).isoformat(),
            due=held["due"].replace(tzinfo=UTC).isoformat() if held["due"] else None,
            seconds_late=held["seconds_late"], penalty=penalty,
            policy="as nbgrader autograde recorded it")
    return dataclasses.replace(record, score=max(0.0, record.score - penalty), late=late)
