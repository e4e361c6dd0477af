"""The gradebook at the size of a large course.

Writing a run's results (``record_results``), reading them back
(``load_results``, behind export, report and feedback) and nbgrader's grade
export (``CourseExportPlugin``, which plain ``nbgrader export`` runs too) do
work in proportion to the class, not to its square: nbgrader's own API
looks up each submission with queries of its own, and its late penalty and
score scan every submitted notebook (its schema has no index there), 35 s
to export 5,000 submissions. The work is counted in SQLite's own steps
(virtual-machine instructions), which do not depend on the machine's load.
And the faster code writes and exports what nbgrader's API does, row for row
and character for character.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import nbformat
import pytest
from conftest import hand_graded_course, sqlite_tables

from autograder.core.cells import graded_cell_ids
from autograder.core.manifest import load_manifest
from autograder.core.results import CellGrade, GradeResult, Lateness
from autograder.publish.export_plugin import CourseExportPlugin
from autograder.record import gradebook as gradebook_module
from autograder.record.database import db_url, open_gradebook
from autograder.record.load import load_results

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]
SOURCE = nbformat.read(ROOT / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
POINTS = {cell.metadata.nbgrader.grade_id: float(cell.metadata.nbgrader.points)
          for cell in SOURCE.cells if cell.metadata.get("nbgrader", {}).get("grade")}
CELLS = graded_cell_ids(SOURCE)
LATE = Lateness(submitted="2026-10-04T08:00:00+00:00", due="2026-10-03T23:59:00+00:00",
                seconds_late=28860.0, penalty=1.0, policy="a point per started day")


@pytest.fixture(scope="module")
def hand_graded(tmp_path_factory) -> Path:
    """A course whose gradebook holds ann's and bo's submissions, graded by hand."""
    return hand_graded_course(tmp_path_factory, "scale")


@pytest.fixture()
def course(hand_graded, tmp_path, monkeypatch):
    """A fresh copy of ``hand_graded`` for one test."""
    monkeypatch.delenv("MINIFLOW_DB_URL", raising=False)
    root = tmp_path / "course"
    shutil.copytree(hand_graded, root)
    return load_manifest(root)


def _result(student: str, status: str = "graded", late: Lateness | None = None,
            fraction: float = 1.0) -> GradeResult:
    cells = [CellGrade(name, POINTS[name] * fraction, POINTS[name]) for name in CELLS]
    return GradeResult(student, FIRST.name, status, sum(c.score for c in cells),
                       sum(c.max_score for c in cells), cells if status == "graded" else [],
                       late=late)


def _row_by_row(course, results: list) -> None:
    """The results written one at a time through nbgrader's API: its own lookups,
    ``add_submission``, and each grade's cell name through its proxy."""
    from nbgrader.api import MissingEntry

    from autograder.record.late import due_utc

    with open_gradebook(db_url(course), course.id) as book, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for result in results:
            book.update_or_create_student(result.student)
            try:
                submission = book.find_submission(result.assignment, result.student)
            except MissingEntry:
                submission = None
            if result.status != "graded":
                if submission is not None:
                    book.remove_submission(result.assignment, result.student)
                continue
            if submission is None:
                submission = book.add_submission(result.assignment, result.student)
            scores = {c.grade_id: c.score for c in result.cells}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.name in scores:
                        grade.auto_score = scores[grade.name]
                        grade.needs_manual_grade = False
            submission.assignment.duedate = due_utc(course, result.assignment)
            gradebook_module.record_late(course, submission, result)
        book.db.commit()


ID = re.compile(r"^[0-9a-f]{32}$")


def _rows(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows, nbgrader's random ids written as ``<id>``, sorted."""
    return {table: sorted((tuple("<id>" if isinstance(v, str) and ID.match(v) else v
                                 for v in row) for row in rows), key=repr)
            for table, rows in sqlite_tables(path).items()}


def test_recorded_results_are_the_rows_nbgrader_s_own_api_writes(course, tmp_path):
    results = [
        _result("ann", fraction=0.5),                 # regraded: her manual score stays
        _result("bo", status="error"),                # a regrade that failed: forgotten
        _result("cy", late=LATE),                     # new student, late
        _result("dee", status="rejected"),            # new student, nothing graded
        _result("eve", fraction=0.25),
        _result("fay"), _result("fay", status="error"),  # one call, graded then failed
    ]
    reference = tmp_path / "reference"
    shutil.copytree(course.root, reference)
    _row_by_row(load_manifest(reference), results)
    gradebook_module.record_results(course, results)

    written, expected = _rows(course.root / "gradebook.db"), _rows(reference / "gradebook.db")
    assert written == expected
    # What the rows say, read back: the regrade, the hand's score, the late penalty.
    read = load_results(course)
    assert read[(FIRST.name, "bo")].status == "error"  # no submission left for bo
    assert read[(FIRST.name, "cy")].score == FIRST.points - 1.0
    assert read[(FIRST.name, "cy")].late.penalty == 1.0
    ann = {c.grade_id: c.score for c in read[(FIRST.name, "ann")].cells}
    assert ann[CELLS[0]] == 0.75  # hand_graded_gradebook's manual score wins
    assert len(written["submitted_assignment"]) == 3  # ann, cy, eve


def _exports(course, tmp_path: Path, **filters) -> tuple[bytes, bytes]:
    """(CourseExportPlugin's nbgrader columns, nbgrader's own CsvExportPlugin), same filters."""
    from nbgrader.plugins import CsvExportPlugin

    made = []
    for name, plugin in (("ours", CourseExportPlugin), ("nbgrader", CsvExportPlugin)):
        target = tmp_path / f"{name}.csv"
        with open_gradebook(db_url(course), course.id) as book:
            exporter = plugin(to=str(target), **filters)
            (exporter.export_nbgrader_columns if plugin is CourseExportPlugin
             else exporter.export)(book)
        made.append(target.read_bytes())
    return made[0], made[1]


@pytest.mark.parametrize("filters", [{}, {"assignment": [FIRST.name]}, {"student": ["bo", "zed"]},
                                     {"assignment": ["none-such"]}])
def test_the_export_is_nbgrader_s_own_character_for_character(course, tmp_path, filters):
    from nbgrader.api import Student

    gradebook_module.record_results(course, [_result("cy", late=LATE),
                                             _result("eve", fraction=0.25)])
    with open_gradebook(db_url(course), course.id) as book:
        book.db.add(Student(id="zed", first_name="Zed"))   # on the roster, nothing submitted
        grade = book.find_submission(FIRST.name, "eve").notebooks[0].grades[1]
        grade.extra_credit = 0.5
        book.db.commit()
    ours, theirs = _exports(course, tmp_path, **filters)
    assert ours == theirs
    lines = ours.decode().splitlines()
    assert lines[0].startswith("assignment,duedate,timestamp,student_id")
    if not filters:
        # ann, bo (hand graded), cy, eve, zed: each student has a row.
        assert len(lines) == 6 and any(line.split(",")[3] == "zed" for line in lines)


class _Steps:
    """SQLite's virtual-machine instructions (in thousands) while counting."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> _Steps:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        def tick() -> int:
            self.count += 1
            return 0  # go on

        def connected(connection, record) -> None:
            connection.set_progress_handler(tick, 1000)

        self._connected = connected
        event.listen(Engine, "connect", connected)
        return self

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "connect", self._connected)


def _work(course, students: int) -> dict[str, int]:
    """SQLite's steps to record ``students`` results (then again), read and export them."""
    results = [_result(f"s{n:04d}", fraction=(n % 4) / 4) for n in range(students)]
    steps: dict[str, int] = {}
    for name, run in (
            ("record", lambda: gradebook_module.record_results(course, results)),
            ("record again", lambda: gradebook_module.record_results(course, results)),
            ("read", lambda: load_results(course)),
            ("export", lambda: _export_only(course))):
        with _Steps() as counted:
            run()
        steps[name] = counted.count
    return steps


def _export_only(course) -> None:
    with open_gradebook(db_url(course), course.id) as book:
        CourseExportPlugin(to=str(course.root / "grades.csv")).export_nbgrader_columns(book)


def test_recording_reading_and_exporting_grow_with_the_class_not_its_square(hand_graded,
                                                                           tmp_path,
                                                                           monkeypatch):
    # nbgrader's row-by-row code: 2.5-3.5 times the work for twice the class at
    # this size, and worse as it grows; this code about 1.9 (each step has a
    # fixed part).
    monkeypatch.delenv("MINIFLOW_DB_URL", raising=False)
    work = {}
    for size in (150, 300):
        root = tmp_path / f"class-{size}"
        shutil.copytree(hand_graded, root)
        work[size] = _work(load_manifest(root), size)
    for step in work[150]:
        assert work[150][step] > 0, step
        assert work[300][step] / work[150][step] < 2.25, (step, work)
