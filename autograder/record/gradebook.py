"""Writing a grading run's results: the one writer of the course gradebook.

Workers and kernels never touch the course gradebook; the parent process
writes every result of a grading run in **one transaction** (all or
nothing), after checking that the database is reachable, that its driver is
installed, that its schema is nbgrader's and that nobody has added triggers
or views to it (``autograder.record.database``). The messages, notes and
status go to ``autograded/results.json`` beside it, with the scores the
gradebook then holds (``autograder.record.load`` reads both back).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

from autograder.core.atomic import write_text_atomically
from autograder.core.manifest import Course
from autograder.core.results import GradeResult, Status
from autograder.record.database import (
    check_gradebook,
    db_url,
    ensure_in_gradebook,
    one_transaction,
    open_gradebook,
)
from autograder.record.load import RESULTS, load_results, stored_details

__all__ = ["forget_problem", "record_late", "record_results"]


def record_results(course: Course, results: Sequence[GradeResult]) -> None:
    """Write ``results`` to the gradebook, all or nothing.

    Then rewrite ``autograded/results.json`` (messages, notes, status) with
    the scores the gradebook now holds.
    """
    check_gradebook(course)
    for assignment in sorted({r.assignment for r in results}):
        ensure_in_gradebook(course, assignment)
    with open_gradebook(db_url(course), course.id) as gradebook:
        commit = one_transaction(gradebook)
        try:
            # No flush before each query: the queries read what the gradebook
            # held before this run, and the new rows go in at the commit.
            with gradebook.db.no_autoflush, warnings.catch_warnings():
                # nbgrader builds rows before adding them to the session, which
                # SQLAlchemy flags (harmlessly) when it flushes.
                warnings.simplefilter("ignore", RuntimeWarning)
                _write_results(course, gradebook, results)
            commit()
        except BaseException:
            gradebook.db.rollback()
            raise
    stored = stored_details(course)
    for result in results:  # a copy: the caller's results keep their scores
        stored[(result.assignment, result.student)] = GradeResult.from_dict(result.to_dict())
    try:
        merged = load_results(course, stored)  # the scores as the gradebook has them
    except BaseException:
        _write_details(course, stored)  # the messages and notes are not lost
        raise
    _write_details(course, merged)


def forget_problem(course: Course, assignment: str, student: str) -> bool:
    """Drop ``results.json``'s record of a submission that was rejected or whose grading
    failed; whether there was one.

    Plain ``nbgrader autograde`` calls it as it takes a submission the grader's rule
    accepts (``autograder.execute.exporter``): the grade it records in the gradebook
    is then the submission's, without an old rejection's notes and reasons beside it.
    A graded record stays (its messages and flags are the grader's).
    """
    stored = stored_details(course)
    record = stored.get((assignment, student))
    if record is None or record.status == Status.GRADED:
        return False
    del stored[(assignment, student)]
    _write_details(course, stored)
    return True


def _write_results(course: Course, gradebook: Any, results: Sequence[GradeResult]) -> None:
    """``record_results``' writing: nbgrader's rows (students, submissions, grades),
    with what the loop reads (students, submissions, the cells' names) read first
    in a few queries, and the new rows flushed together at the commit.

    nbgrader's API (``update_or_create_student``, ``find_submission``,
    ``add_submission``, each grade's name through its cell) sends queries and a
    flush for each result: 4.5 s to record 1,000 new submissions, 1.1 s here
    (``benchmarks/bench_gradebook.py``). ``tests/test_gradebook_scale.py``
    checks that the rows are the ones nbgrader's API writes.
    """
    from nbgrader.api import Assignment, Notebook, Student, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy.orm import selectinload

    from autograder.record.late import due_utc

    db = gradebook.db
    names = sorted({r.assignment for r in results})
    assignments = {a.name: a for a in db.query(Assignment).filter(Assignment.name.in_(names))
                   .options(selectinload(Assignment.notebooks)
                            .selectinload(Notebook._base_cells)).all()}
    cell_names = {cell.id: cell.name for assignment in assignments.values()
                  for notebook in assignment.notebooks for cell in notebook._base_cells}
    known = {student_id for (student_id,) in db.query(Student.id)}
    # As nbgrader's add_student (no authenticator here), without a flush for each.
    db.add_all([Student(id=student) for student in dict.fromkeys(r.student for r in results)
                if student not in known])
    named = {a.id: a.name for a in assignments.values()}
    held = {(named[s.assignment_id], s.student_id): s for s in db.query(SubmittedAssignment)
            .join(SubmittedAssignment.assignment).filter(Assignment.name.in_(names))
            .options(selectinload(SubmittedAssignment.notebooks)
                     .selectinload(SubmittedNotebook.grades)).all()}
    due_dates_set: set[str] = set()
    for result in results:
        key = (result.assignment, result.student)
        submission = held.get(key)
        if result.status != Status.GRADED:
            if submission is not None:  # a regrade that now fails: forget the old one
                db.flush()  # nbgrader finds what it removes with a query
                gradebook.remove_submission(result.assignment, result.student)
                del held[key]
            continue  # no submission recorded: export shows a zero
        if submission is None:
            submission = held[key] = _new_submission(db, assignments[result.assignment],
                                                     result.student)
        scores = {c.grade_id: c.score for c in result.cells}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                name = cell_names.get(grade.cell_id)
                if name in scores:
                    grade.auto_score = scores[name]
                    grade.needs_manual_grade = False
        if result.assignment not in due_dates_set:
            due_dates_set.add(result.assignment)
            # The due date nbgrader counts lateness from is the manifest's (release
            # writes it too; a course graded without releasing first would have none).
            submission.assignment.duedate = due_utc(course, result.assignment)
        record_late(course, submission, result)


def _new_submission(db: Any, assignment: Any, student: str) -> Any:
    """A new submission of ``assignment`` by ``student``, the rows nbgrader's
    ``add_submission`` makes (a notebook per notebook; a grade per grade cell;
    a comment per solution cell; both per task cell), added to the session
    without its queries and flush."""
    from nbgrader.api import Comment, Grade, SubmittedAssignment, SubmittedNotebook

    submission = SubmittedAssignment(assignment=assignment, student_id=student)
    for notebook in assignment.notebooks:
        submitted = SubmittedNotebook(notebook=notebook, assignment=submission)
        for cell in notebook.grade_cells:
            Grade(cell_id=cell.id, notebook=submitted)
        for cell in notebook.solution_cells:
            Comment(cell_id=cell.id, notebook=submitted)
        for cell in notebook.task_cells:
            Comment(cell_id=cell.id, notebook=submitted)
            Grade(cell_id=cell.id, notebook=submitted)
    db.add(submission)
    return submission


def record_late(course: Course, submission: Any, result: GradeResult) -> None:
    """The submission time, extension and late penalty, where nbgrader keeps them.

    nbgrader's export then shows the same timestamp, penalty and score as
    ours (its score is the notebooks' scores minus their penalties).
    """
    from nbgrader.utils import parse_utc

    from autograder.record.late import deadline

    late = result.late
    submission.timestamp = parse_utc(late.submitted) if late else None
    _, extension = deadline(course, result.assignment, result.student)
    submission.extension = extension if extension else None
    for number, notebook in enumerate(submission.notebooks):
        # One notebook per assignment here; a penalty is charged once.
        penalty = float(late.penalty) if late and number == 0 else 0.0
        notebook.late_submission_penalty = penalty or None


def _write_details(course: Course, stored: dict[tuple[str, str], GradeResult]) -> None:
    path = course.root / RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = [stored[key].to_dict() for key in sorted(stored)]
    write_text_atomically(path, json.dumps(ordered, indent=1))
