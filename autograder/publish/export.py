"""The grades as a CSV file: nbgrader's export, then the course's columns.

``export_grades`` runs ``nbgrader export`` through the course's plugin
(``autograder.publish.export_plugin.CourseExportPlugin``), which calls
``add_course_columns``: the flags, the late columns, which tests changed since
each grade was made, and a row for every roster student with their section and
status. Every text cell a student
could have written is neutralised (``autograder.core.safe_text.csv_row``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from autograder.core.atomic import replacing
from autograder.core.manifest import Course
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.core.results import GradeResult
from autograder.core.safe_text import csv_row
from autograder.publish.roster import export_status, load_roster
from autograder.record.fingerprints import stale_by_submission
from autograder.record.load import load_results

__all__ = ["EXPORT_NUMBERS", "add_course_columns", "add_flags_column", "add_late_columns",
           "add_stale_column", "complete_export", "export_grades"]


Results = dict[tuple[str, str], GradeResult]


def _extend_export(course: Course, csv_path: Path, added: list[str],
                   fill: Callable[[dict[str, str], GradeResult | None], None],
                   results: Results | None = None) -> None:
    """Add columns to nbgrader's grade export: ``fill(row, result)`` sets them per row.

    ``result`` is the submission's result from ``load_results`` (None if none);
    ``results``, if given, is what ``load_results`` returned. The added cells
    go through ``autograder.core.safe_text.csv_cell`` (a flag starts with a
    student's ``grade_id``); the columns already there are left as they are
    for the next step to find its students by, until ``complete_export``.
    """
    results = load_results(course) if results is None else results
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
        fields = list(rows[0].keys()) if rows else []
    if not fields:
        return
    for row in rows:
        fill(row, results.get((row.get("assignment", ""), row.get("student_id", ""))))
        row.update(csv_row({name: row[name] for name in added}, EXPORT_NUMBERS))
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*fields, *added])
        writer.writeheader()
        writer.writerows(rows)


#: The export's columns of numbers the grader computed: kept as numbers, never quoted
#: (autograder.core.safe_text.csv_row); every other cell is text and is neutralised.
EXPORT_NUMBERS = frozenset({"raw_score", "late_submission_penalty", "score", "max_score",
                            "seconds_late", "days_late"})


def export_grades(course: Course, target: Path) -> None:
    """The grades as CSV: nbgrader's export through the course's plugin
    (``autograder.publish.export_plugin.CourseExportPlugin``: nbgrader's columns, read
    in a few queries, then ours), named on the command line so that a course
    whose nbgrader_config.py predates the plugin gets the same file.
    """
    run_nbgrader(["export", "--to", str(target),
                  "--ExportApp.plugin_class=autograder.publish.export_plugin.CourseExportPlugin",
                  f"--CourseExportPlugin.course_root={course.root}"], course.root)


def add_course_columns(course: Course, target: Path, *, assignments: Sequence[str] = (),
                       students: Sequence[str] = ()) -> None:
    """Our columns after nbgrader's in its grade export ``target``.

    ``flags``, the late columns (``seconds_late``, ``days_late``,
    ``late_policy``), ``stale_tests`` (a grade made with tests changed since),
    and ``section`` and ``status`` with a row for every roster student
    (``complete_export``; ``assignments`` and ``students`` are the export's
    filters, if it had any). The file written
    last runs no formula in a spreadsheet: every text cell that would (a
    name, an id, a flag) starts with a quote (autograder.core.safe_text.csv_cell).
    """
    results = load_results(course)  # once for the four
    add_flags_column(course, target, results)
    add_late_columns(course, target, results)
    add_stale_column(course, target, results)
    complete_export(course, target, assignments=assignments, students=students, results=results)


def add_late_columns(course: Course, csv_path: Path, results: Results | None = None) -> None:
    """Add ``seconds_late``, ``days_late`` and ``late_policy`` to nbgrader's grade export.

    nbgrader's own columns already hold the submission ``timestamp``, the
    ``raw_score``, the ``late_submission_penalty`` and the ``score`` after it.
    ``results``: what ``load_results`` returned, if the caller has it.
    """
    def fill(row: dict[str, str], result: GradeResult | None) -> None:
        late = result.late if result is not None else None
        seconds = late.seconds_late if late is not None else None
        row["seconds_late"] = "" if seconds is None else f"{seconds:g}"
        row["days_late"] = "" if seconds is None else str(math.ceil(seconds / 86400))
        row["late_policy"] = late.policy if late is not None and seconds else ""

    _extend_export(course, csv_path, ["seconds_late", "days_late", "late_policy"], fill,
                   results)


def add_flags_column(course: Course, csv_path: Path, results: Results | None = None) -> None:
    """Add a ``flags`` column to nbgrader's grade export (one cell per submission).

    ``results``: what ``load_results`` returned, if the caller has it."""

    def fill(row: dict[str, str], result: GradeResult | None) -> None:
        row["flags"] = " | ".join(result.flags) if result is not None else ""

    _extend_export(course, csv_path, ["flags"], fill, results)


def add_stale_column(course: Course, csv_path: Path, results: Results | None = None) -> None:
    """Add a ``stale_tests`` column: for a grade made with tests that have changed since
    (``autograder.record.fingerprints``), which ones ("test_mul_forward (edited)"), or
    that it cannot tell; empty for a grade made with the current tests."""
    results = load_results(course) if results is None else results
    stale = stale_by_submission(course, results)

    def fill(row: dict[str, str], result: GradeResult | None) -> None:
        row["stale_tests"] = stale.get((row.get("assignment", ""), row.get("student_id", "")),
                                       "") if result is not None else ""

    _extend_export(course, csv_path, ["stale_tests"], fill, results)


def complete_export(course: Course, csv_path: Path, *, assignments: Sequence[str] = (),
                    students: Sequence[str] = (),
                    results: Results | None = None) -> None:
    """Give every roster student a row per assignment; fill names; add section and status.

    nbgrader's export has a row for every student of the gradebook and every
    assignment; a roster student missing from it (the roster changed after
    the import) gets a row with a score of 0. Names and emails come from the
    roster where nbgrader's are empty. ``assignments`` and ``students``, when
    given, are the export's own filters (``nbgrader export --assignment``):
    rows are added for them only. ``results``: what ``gradebook.load_results``
    returned, if the caller has it.

    This is the export's last step: it writes every text cell through
    ``autograder.core.safe_text.csv_cell`` (a name such as ``=cmd|...`` or ``@SUM(..)``
    gets a quote in front, so no spreadsheet runs it); the grader's numbers
    (``EXPORT_NUMBERS``) are written as they are.
    """
    results = load_results(course) if results is None else results
    roster = {s.id: s for s in load_roster(course)}
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0].keys()) if rows else [
        "assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
        "raw_score", "late_submission_penalty", "score", "max_score"]
    exported = [a for a in dict.fromkeys([r["assignment"] for r in rows]
                                         + [a for a, _ in results])
                if not assignments or a in assignments]
    present = {(r["assignment"], r["student_id"]) for r in rows}
    order = [a.name for a in course.assignments]
    for assignment in exported:
        sample = next((r for r in rows if r["assignment"] == assignment), None)
        points = course.assignment(assignment).points if assignment in order else 0.0
        for student in roster:
            if (assignment, student) not in present and (not students or student in students):
                row = dict.fromkeys(fields, "")
                row.update(assignment=assignment, student_id=student, raw_score="0.0",
                           late_submission_penalty="0.0", score="0.0",
                           duedate=sample["duedate"] if sample else "",
                           max_score=sample["max_score"] if sample else f"{points}")
                rows.append(row)
    for row in rows:
        on_roster = roster.get(row["student_id"])
        if on_roster is not None:
            for field_name in ("first_name", "last_name", "email"):
                if not row.get(field_name):
                    row[field_name] = getattr(on_roster, field_name)
        row["section"] = on_roster.section if on_roster is not None else ""
        submitted = (course.root / "submitted" / row["student_id"] / row["assignment"]).is_dir()
        row["status"] = export_status(results.get((row["assignment"], row["student_id"])),
                                      submitted)
    rows.sort(key=lambda r: (order.index(r["assignment"]) if r["assignment"] in order
                             else len(order), r["assignment"], r["student_id"]))
    extra = [f for f in ("section", "status") if f not in fields]
    with replacing(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*fields, *extra])
        writer.writeheader()
        writer.writerows(csv_row(row, EXPORT_NUMBERS) for row in rows)
