"""The one writer: put grading results into the course gradebook.

Workers never touch the course gradebook; the parent process calls
``record_results`` once per grading run. The gradebook is the ``db_url`` of
nbgrader_config.py (SQLite in the course root by default, PostgreSQL for a
large course), so ``nbgrader export`` and formgrader see the same grades.

Every result, with the checks' messages per cell, is also kept in
``autograded/results.json``, which ``feedback`` and ``report`` read.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from pathlib import Path

from autograder.manifest import Course
from autograder.nbgrader_cli import run_nbgrader

__all__ = ["db_url", "load_results", "record_results", "register_assignments"]

RESULTS = Path("autograded") / "results.json"


def db_url(course: Course) -> str:
    """The gradebook URL nbgrader_config.py sets (default: gradebook.db in the root)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()
    url = config.CourseDirectory.get("db_url")
    return str(url) if url else f"sqlite:///{course.root / 'gradebook.db'}"


def register_assignments(course: Course, names: list[str] | None = None) -> None:
    """Create each assignment (with its due date) in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url(course), course_id=course.id) as gradebook:
        for assignment in course.assignments:
            if names is None or assignment.name in names:
                gradebook.update_or_create_assignment(
                    assignment.name,
                    duedate=datetime.strptime(assignment.due, "%Y-%m-%d %H:%M:%S"))


def _ensure_in_gradebook(course: Course, assignment: str) -> None:
    """The gradebook knows an assignment's cells once generate_assignment ran."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url(course), course_id=course.id) as gradebook:
        try:
            known = bool(gradebook.find_assignment(assignment).notebooks)
        except MissingEntry:
            known = False
    if not known:
        run_nbgrader(["generate_assignment", assignment, "--force"], course.root)


def load_results(course: Course) -> dict[tuple[str, str], dict]:
    """Every recorded result, keyed by (assignment, student)."""
    path = course.root / RESULTS
    if not path.is_file():
        return {}
    return {(r["assignment"], r["student"]): r
            for r in json.loads(path.read_text(encoding="utf-8"))}


def record_results(course: Course, results: list) -> None:
    """Write ``results`` (GradeResult objects) to the gradebook and results.json."""
    from nbgrader.api import Gradebook, MissingEntry

    for assignment in sorted({r.assignment for r in results}):
        _ensure_in_gradebook(course, assignment)
    with Gradebook(db_url(course), course_id=course.id) as gradebook:
        for result in results:
            gradebook.update_or_create_student(result.student)
            try:
                submission = gradebook.find_submission(result.assignment, result.student)
            except MissingEntry:
                submission = None
            if result.status != "graded":
                if submission is not None:  # a regrade that now fails: forget the old grade
                    gradebook.remove_submission(result.assignment, result.student)
                continue  # no submission recorded: export shows a zero
            if submission is None:
                with warnings.catch_warnings():
                    # nbgrader builds the rows before adding them to the session,
                    # which SQLAlchemy flags (harmlessly) while autoflushing.
                    warnings.simplefilter("ignore", RuntimeWarning)
                    submission = gradebook.add_submission(result.assignment, result.student)
            scores = {c.grade_id: c.score for c in result.cells}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.name in scores:
                        grade.auto_score = scores[grade.name]
                        grade.needs_manual_grade = False
            gradebook.db.commit()
    stored = load_results(course)
    for result in results:
        stored[(result.assignment, result.student)] = result.to_dict()
    path = course.root / RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(stored.values(), key=lambda r: (r["assignment"], r["student"]))
    path.write_text(json.dumps(ordered, indent=1), encoding="utf-8")
