"""``python -m autograder gradebook copy --to URL``: a gradebook moves, every row of it.

An instructor who started the term on SQLite and moves to PostgreSQL keeps
what a regrade cannot make again: manual scores, comments, extensions, late
penalties. These tests copy to a new SQLite file (PostgreSQL, on a real
server, is in test_postgres.py): every row of every table arrives unchanged,
nbgrader's own export reads the same from the copy, the course gradebook is
never written, and every refusal or failure leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from conftest import hand_graded_course, sqlite_tables

from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton
from autograder.record import gradebook_copy, load
from autograder.record.database import db_url

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]


@pytest.fixture(scope="module")
def course_root(tmp_path_factory) -> Path:
    return hand_graded_course(tmp_path_factory, "copy")


@pytest.fixture()
def course(course_root, monkeypatch):
    monkeypatch.delenv("MINIFLOW_DB_URL", raising=False)
    monkeypatch.chdir(course_root)
    return course_root


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _main(*args: str) -> int:
    from autograder.cli.main import main

    return main(list(args))


def test_a_copy_holds_every_row_and_nbgrader_exports_the_same_from_it(course, tmp_path,
                                                                      capsys):
    source = course / "gradebook.db"
    before = _digest(source)
    target = tmp_path / "moved.db"
    assert _main("gradebook", "copy", "--to", f"sqlite:///{target}") == 0
    said = capsys.readouterr().out
    assert "2 student(s), 1 assignment(s), 2 submission(s)" in said
    assert f"export MINIFLOW_DB_URL='sqlite:///{target}'" in said

    assert _digest(source) == before  # read, never written
    rows = sqlite_tables(target)
    assert rows == sqlite_tables(source)  # every table, the schema version's included
    assert rows["alembic_version"] and rows["grade"] and rows["comment"]
    # What only a person made is there: the manual score, the comment, the extension.
    assert any(0.75 in row for row in rows["grade"])
    assert any("Good: but name the shapes (ü, ✓)." in row for row in rows["comment"])
    assert any(row[-1] is not None for row in rows["submitted_assignment"])

    run_nbgrader(["export", "--to", str(tmp_path / "before.csv")], course)
    os.environ["MINIFLOW_DB_URL"] = f"sqlite:///{target}"
    try:
        run_nbgrader(["export", "--to", str(tmp_path / "after.csv")], course)
        assert _main("gradebook", "check") == 0
    finally:
        del os.environ["MINIFLOW_DB_URL"]
    assert (tmp_path / "after.csv").read_text() == (tmp_path / "before.csv").read_text()
    assert "2 student(s), 1 assignment(s), 2 submission(s)" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["exists", "itself", "no target", "no folder"])
def test_a_refused_copy_says_why_and_changes_nothing(course, tmp_path, capsys, case):
    source = course / "gradebook.db"
    before = _digest(source)
    target = tmp_path / "taken.db"
    target.write_bytes(b"someone's data")
    args = {"exists": ["--to", f"sqlite:///{target}"],
            "itself": ["--to", "sqlite:///gradebook.db"],
            "no target": [],
            "no folder": ["--to", f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}"]}[case]
    assert _main("gradebook", "copy", *args) == 2
    said = capsys.readouterr().err
    assert {"exists": "exists already: the copy goes only into a new file",
            "itself": "is the course gradebook itself",
            "no target": "gradebook copy needs the database to copy to",
            "no folder": "does not exist"}[case] in said
    assert _digest(source) == before
    assert target.read_bytes() == b"someone's data"
    assert not (tmp_path / "nowhere").exists()


def test_nothing_to_copy_before_the_first_release(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MINIFLOW_DB_URL", raising=False)
    copy_course_skeleton(ROOT, tmp_path / "new", [FIRST])
    monkeypatch.chdir(tmp_path / "new")
    assert _main("gradebook", "copy", "--to", f"sqlite:///{tmp_path / 'x.db'}") == 2
    assert "does not exist yet, so there is nothing to copy" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()
    assert _main("gradebook", "check") == 0
    assert "does not exist yet (release creates it)" in capsys.readouterr().out


def test_a_copy_that_fails_part_way_leaves_no_file(course, tmp_path, monkeypatch, capsys):
    from sqlalchemy.exc import OperationalError

    real, seen = gradebook_copy.table_rows, []

    def failing(connection, table):
        seen.append(table.name)
        if table.name == "grade":  # after the students, assignments and submissions
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return real(connection, table)

    monkeypatch.setattr(gradebook_copy, "table_rows", failing)
    before = _digest(course / "gradebook.db")
    target = tmp_path / "half.db"
    assert _main("gradebook", "copy", "--to", f"sqlite:///{target}") == 2
    said = capsys.readouterr().err
    assert "failed (disk I/O error): nothing was kept there" in said
    assert "student" in seen and "submitted_assignment" in seen  # rows were written first
    assert not target.exists()
    assert _digest(course / "gradebook.db") == before


def test_a_copy_that_reads_back_otherwise_is_not_kept(course, tmp_path, monkeypatch, capsys):
    real = gradebook_copy.comparable_rows
    calls = []

    def lossy(rows):
        calls.append(1)
        made = real(rows)
        return made[:-1] if len(calls) % 2 == 1 and made else made  # the target's side

    monkeypatch.setattr(gradebook_copy, "comparable_rows", lossy)
    target = tmp_path / "lossy.db"
    assert _main("gradebook", "copy", "--to", f"sqlite:///{target}") == 2
    assert "reads back from the target database" in capsys.readouterr().err
    assert not target.exists()


def _statements(run):
    """(what ``run()`` returned, how many SQL statements it sent)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    sent: list[str] = []

    def note(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):  # not the schema's checks
            sent.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        return run(), len(sent)
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def test_scores_and_lateness_are_read_at_once_and_read_the_same(course):
    # What every export, report and feedback reads (load_results): row by row, a
    # query per submission, notebook, grade and cell, 1 s of a class of 400's export.
    import datetime

    from nbgrader.api import Gradebook

    manifest = load_manifest(course)

    def row_by_row():
        scores: dict = {}
        late: dict = {}
        with Gradebook(db_url(manifest), course_id=manifest.id) as book:
            for assignment in book.assignments:
                for submission in assignment.submissions:
                    key = (assignment.name, submission.student.id)
                    cells = scores.setdefault(key, {})
                    for notebook in submission.notebooks:
                        for grade in notebook.grades:
                            if grade.max_score:
                                cells[grade.name] = (float(grade.score or 0.0),
                                                     float(grade.max_score))
                    late[key] = {
                        "timestamp": submission.timestamp,
                        "due": submission.duedate if assignment.duedate is not None else None,
                        "seconds_late": float(submission.total_seconds_late or 0.0),
                        "penalty": float(submission.late_submission_penalty or 0.0)}
        return scores, late

    (scores, late), lazily = _statements(row_by_row)
    (read, eager) = _statements(lambda: load.gradebook_submissions(manifest))
    # The same answers, cells in the same order: the manual score, the extension
    # and the late penalty the fixture put there included.
    assert [(k, list(v.items())) for k, v in read[0].items()] == \
        [(k, list(v.items())) for k, v in scores.items()]
    assert read[1] == late
    assert scores[(FIRST.name, "ann")] and late[(FIRST.name, "bo")]["penalty"] == 1.5
    assert late[(FIRST.name, "bo")]["timestamp"] == datetime.datetime(2026, 10, 3, 23, 59, 59)
    # In a few statements, however many submissions: not one per row.
    assert eager <= 12 < lazily, (eager, lazily)
