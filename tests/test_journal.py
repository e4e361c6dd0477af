"""A grading run that stops half way keeps its answers, and the next run reuses them.

``python -m autograder grade`` records grades at the end, in one
transaction; what an interrupted run had graded is kept in
``autograded/interrupted-run.sqlite`` (``autograder.run.journal``), and the next
run does not run those notebooks again unless something they were made from
changed. The grades are those of a run that was never interrupted. An
answer committed survives its process being killed; a damaged journal is
named and grading goes on without it; the previous version's
``interrupted-run.tsv`` is ignored, with a note.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import asdict
from pathlib import Path

import nbformat
import pytest

from autograder.author.mutants import load_mutants
from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.record.load import load_results
from autograder.run.journal import JOURNAL, OLD_JOURNAL, Journal, kept_count

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]


class PowerCut(Exception):
    """The run stops here, as a Ctrl-C or a crash would stop it."""


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """01_graphs: a solution, the blank release and a known mistake, never graded."""
    root = tmp_path_factory.mktemp("journal") / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    run_nbgrader(["generate_assignment", FIRST.name, "--force"], root)
    source = nbformat.read(root / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
    release = nbformat.read(root / "release" / FIRST.name / FIRST.notebook_file, as_version=4)
    mistake = load_mutants(FIRST.name)[4]
    mutant = nbformat.from_dict(source)
    for cell in mutant.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == mistake.cell:
            cell.source = mistake.source
    for student, notebook in {"ann": source, "bob": release, "cy": mutant}.items():
        folder = root / "submitted" / student / FIRST.name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / FIRST.notebook_file)
    return root


@pytest.fixture()
def course(made, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(made, root)
    return load_manifest(root)


def _cells(results) -> dict[str, list[tuple[str, float]]]:
    return {r.student: [(c.grade_id, c.score) for c in r.cells] for r in results}


def _kept(course) -> list[dict]:
    """The kept answers' rows, in the order they came: key, assignment, student, answer."""
    with closing(sqlite3.connect(course.root / JOURNAL)) as db:
        rows = db.execute("SELECT key, assignment, student, answer FROM answers "
                          "ORDER BY rowid").fetchall()
    return [{"key": key, "assignment": assignment, "student": student,
             "answer": json.loads(answer)} for key, assignment, student, answer in rows]


def _task(course, student: str) -> dict:
    """What the grader hands a worker for ``student``'s 01_graphs, as the journal reads it."""
    folder = course.root / "submitted" / student / FIRST.name
    return {"student": student, "notebook": str(folder / FIRST.notebook_file),
            "timestamp": None,
            "assignment": {**asdict(FIRST), "notebook_file": FIRST.notebook_file}}


def _companions(path: Path) -> list[Path]:
    return [path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _interrupted(course, after: int) -> None:
    """A run that stops once ``after`` submissions are graded."""
    seen: list[str] = []

    def count(result) -> None:
        seen.append(result.student)
        if len(seen) == after:
            raise PowerCut

    with pytest.raises(PowerCut):
        grade(course, [FIRST], students=None, workers=1, on_result=count, journal=True)


def test_the_next_run_reuses_what_an_interrupted_run_graded(course, tmp_path, capsys):
    fresh_root = tmp_path / "fresh"
    shutil.copytree(course.root, fresh_root)
    fresh = grade(load_manifest(fresh_root), [FIRST], students=None, workers=1)
    assert not (fresh_root / JOURNAL).exists()  # a run without the journal leaves none

    _interrupted(course, after=2)
    kept = _kept(course)
    assert len(kept) == 2 and all("executed" in k["answer"] for k in kept)
    assert load_results(course) == {}  # nothing recorded, nothing published
    assert sorted(p.name for p in (course.root / "autograded").iterdir()) == [JOURNAL.name]
    capsys.readouterr()

    resumed = grade(course, [FIRST], students=None, workers=1, journal=True)
    said = capsys.readouterr().err
    assert "2 submission(s) were not run again" in said
    assert _cells(resumed) == _cells(fresh)
    assert {r.student: r.score for r in resumed} == {r.student: r.score for r in fresh}
    recorded = load_results(course)
    assert {s: r.score for (_, s), r in recorded.items()} == \
        {r.student: r.score for r in fresh}
    for student in ("ann", "bob", "cy"):
        assert (course.root / "autograded" / student / FIRST.name /
                FIRST.notebook_file).is_file()
    assert not (course.root / JOURNAL).exists()  # the run ended well: nothing to keep
    assert not any(p.exists() for p in _companions(course.root / JOURNAL))


def test_an_answer_is_not_reused_once_what_it_was_made_from_changed(course, capsys,
                                                                    monkeypatch):
    _interrupted(course, after=2)
    assert [k["student"] for k in _kept(course)] == ["ann", "bob"]  # one worker, in order
    # Ann resubmits: the blank release (bob's file) in place of her graded solution.
    blank = course.root / "submitted" / "bob" / FIRST.name / FIRST.notebook_file
    (course.root / "submitted" / "ann" / FIRST.name / FIRST.notebook_file).write_bytes(
        blank.read_bytes())
    capsys.readouterr()
    results = {r.student: r for r in grade(course, [FIRST], students=None, workers=1,
                                           journal=True)}
    assert "1 submission(s) were not run again" in capsys.readouterr().err  # bob's
    assert results["ann"].score == 0.0  # graded again, from the new file
    assert results["bob"].status == "graded" and results["bob"].score == 0.0

    # A changed setting (here the cell time limit) reuses nothing.
    _interrupted(course, after=1)
    monkeypatch.setenv("MINIFLOW_CELL_TIMEOUT", "29")
    capsys.readouterr()
    grade(course, [FIRST], students=None, workers=1, journal=True)
    assert "were not run again" not in capsys.readouterr().err
    assert not (course.root / JOURNAL).exists()


def test_ctrl_c_keeps_what_was_graded_and_grade_goes_on_from_there(course):
    # bob's notebook runs for a minute: Ctrl-C comes while it runs, after ann's answer.
    slow = course.root / "submitted" / "bob" / FIRST.name / FIRST.notebook_file
    kept_bob = slow.read_bytes()
    notebook = nbformat.reads(kept_bob.decode(), as_version=4)
    notebook.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(60)"))
    nbformat.write(notebook, slow)
    shutil.rmtree(course.root / "submitted" / "cy")
    command = [sys.executable, "-m", "autograder", "grade", "--workers", "1"]
    process = subprocess.Popen(command, cwd=course.root, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    journal = course.root / JOURNAL
    give_up = time.monotonic() + 120
    while time.monotonic() < give_up and not kept_count(journal):  # read as it is written
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-2000:]
    assert "the answers of 1 graded submission(s) are kept in " \
        "autograded/interrupted-run.sqlite" in err
    assert [k["student"] for k in _kept(course)] == ["ann"]
    assert load_results(course) == {}

    slow.write_bytes(kept_bob)  # bob's notebook as it was: quick
    done = subprocess.run(command, cwd=course.root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 submission(s) were not run again" in done.stderr
    recorded = load_results(course)
    assert recorded[(FIRST.name, "ann")].score == FIRST.points
    assert recorded[(FIRST.name, "bob")].score == 0.0
    assert not journal.exists()


_KILLED = """
import json, sys, time
from pathlib import Path
from autograder.run.journal import Journal

root, tasks = Path(sys.argv[1]), json.loads(sys.stdin.readline())
journal = Journal(root / "autograded" / "interrupted-run.sqlite", root, "bwrap")
for number, task in enumerate(tasks):
    journal.add(task, {"success": True, "log": "answer %d" % number, "executed": "{}"})
print(json.dumps({task["student"]: journal.key(task) for task in tasks}), flush=True)
time.sleep(600)  # mid-run: the connection open, the next notebook grading
"""


def test_an_answer_kept_survives_its_process_being_killed(course, monkeypatch):
    path = course.root / JOURNAL
    process = subprocess.Popen([sys.executable, "-c", _KILLED, str(course.root)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        process.stdin.write(json.dumps([_task(course, "ann"), _task(course, "bob")]) + "\n")
        process.stdin.flush()
        said = process.stdout.readline()
    finally:
        os.kill(process.pid, signal.SIGKILL)  # no close, no checkpoint, no exit handler
        _, err = process.communicate(timeout=60)
    assert said.startswith("{"), err[-2000:]
    assert process.returncode == -signal.SIGKILL
    # The answers are in the write-ahead log, not yet in the file: the next reader recovers it.
    assert all(p.is_file() for p in _companions(path))
    assert kept_count(path) == 2
    # The child's keys: the source hash in them is the autograder's as the child read it,
    # and this process's (cached since its first grade) would differ if the source
    # changed since (an editor saving a file while the tests run).
    keys = json.loads(said)
    monkeypatch.setattr(Journal, "key", lambda self, task: keys.get(task["student"], "none"))
    reading = Journal(path, course.root, "bwrap")
    assert reading.kept_answer(_task(course, "ann")) == {"success": True, "log": "answer 0",
                                                         "executed": "{}"}
    assert reading.kept_answer(_task(course, "bob")) == {"success": True, "log": "answer 1",
                                                         "executed": "{}"}
    assert reading.kept_answer(_task(course, "cy")) is None
    assert reading.reused == 2 and not reading.broken
    reading.close()
    assert [k["key"] for k in _kept(course)] == [keys["ann"], keys["bob"]]
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_good_run_removes_its_rows_then_the_file(course):
    path = course.root / JOURNAL
    writing = Journal(path, course.root, "bwrap")
    for student in ("ann", "bob", "cy"):
        writing.add(_task(course, student), {"success": True, "log": "x" * 200_000,
                                             "executed": student, "id": 7})
    writing.close()
    assert [k["student"] for k in _kept(course)] == ["ann", "bob", "cy"]
    assert "id" not in _kept(course)[0]["answer"]  # the run's own task number is not kept
    assert kept_count(path) == 3
    Journal(path, course.root, "bwrap").finish({(FIRST.name, "cy"), ("02_other", "ann")})
    assert [k["student"] for k in _kept(course)] == ["ann", "bob"]  # cy's row alone went
    reading = Journal(path, course.root, "bwrap")
    assert reading.kept_answer(_task(course, "bob"))["executed"] == "bob"
    assert reading.kept_answer(_task(course, "cy")) is None
    assert Journal(path, course.root, "none").kept_answer(_task(course, "bob")) is None  # mode
    reading.finish({(FIRST.name, "ann"), (FIRST.name, "bob")})
    assert not path.exists()
    assert not any(p.exists() for p in _companions(path))
    assert kept_count(path) == 0
    Journal(path, course.root, "bwrap").finish(set())  # no file: nothing to do
    assert not path.exists()


def test_a_damaged_journal_is_named_and_every_submission_graded(course, capsys):
    shutil.rmtree(course.root / "submitted" / "cy")
    path = course.root / JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    damaged = b"interrupted run, but not a database\n" * 200
    path.write_bytes(damaged)
    assert kept_count(path) == 0  # what grade says after Ctrl-C: no crash either
    capsys.readouterr()
    results = grade(course, [FIRST], students=None, workers=1, journal=True)
    said = capsys.readouterr().err
    assert f"the journal of interrupted runs, {path}, cannot be used" in said
    assert "file is not a database" in said
    assert "delete the file" in said and "runs every notebook again" in said
    assert "were not run again" not in said
    assert {r.student: r.status for r in results} == {"ann": "graded", "bob": "graded"}
    assert {s: r.score for (_, s), r in load_results(course).items()} == \
        {"ann": FIRST.points, "bob": 0.0}
    assert path.read_bytes() == damaged  # the instructor's to delete, never overwritten


def test_a_journal_cut_short_is_never_a_crash(course, capsys):
    path = course.root / JOURNAL
    writing = Journal(path, course.root, "bwrap")
    for student in ("ann", "bob", "cy"):
        writing.add(_task(course, student), {"success": True, "log": "x" * 300_000,
                                             "executed": "{}"})
    writing.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) // 2])  # a disk that lost the file's second half
    capsys.readouterr()
    reading = Journal(path, course.root, "bwrap")
    for student in ("ann", "bob", "cy"):  # each answer whole, or none: never an exception
        answer = reading.kept_answer(_task(course, student))
        assert answer is None or answer["log"] == "x" * 300_000
    reading.add(_task(course, "cy"), {"success": False, "log": "", "executed": "{}"})
    reading.finish({(FIRST.name, "cy")})
    said = capsys.readouterr().err
    assert reading.broken and f"{path}, cannot be used" in said
    assert said.count("cannot be used") == 1  # said once
    assert path.is_file()  # left for the instructor to delete


def test_the_old_tsv_journal_is_ignored_with_a_note(course, capsys):
    old = course.root / OLD_JOURNAL
    old.parent.mkdir(parents=True, exist_ok=True)
    probe = Journal(course.root / JOURNAL, course.root, "bwrap")
    capsys.readouterr()
    # A line as the previous version wrote it, even with this version's key: not read.
    line = (f"{probe.key(_task(course, 'ann'))}\t{FIRST.name}\tann\t"
            + json.dumps({"success": True, "log": "", "executed": "{}"}) + "\n")
    old.write_text(line, encoding="utf-8")
    journal = Journal(course.root / JOURNAL, course.root, "bwrap")
    said = capsys.readouterr().err
    assert f"note: {old} was written by an earlier version of the autograder and is no " \
        "longer used" in said
    assert "you can delete it" in said
    assert journal.kept_answer(_task(course, "ann")) is None
    assert kept_count(course.root / JOURNAL) == 0
    journal.add(_task(course, "bob"), {"success": True, "log": "", "executed": "{}"})
    journal.finish({(FIRST.name, "bob")})
    assert not (course.root / JOURNAL).exists()
    assert old.read_text(encoding="utf-8") == line  # never changed, never removed
