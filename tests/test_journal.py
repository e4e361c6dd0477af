"""A grading run that stops half way keeps its answers, and the next run reuses them.

``python -m autograder grade`` records grades at the end, in one
transaction; what an interrupted run had graded is kept in
``autograded/interrupted-run.tsv`` (``autograder.run.journal``), and the next
run does not run those notebooks again unless something they were made from
changed. The grades are those of a run that was never interrupted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.author.mutants import load_mutants
from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.record.gradebook import load_results
from autograder.run.journal import JOURNAL

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
    """The kept answers' lines: key, assignment, student (tab-separated), answer (JSON)."""
    lines = (course.root / JOURNAL).read_text(encoding="utf-8").splitlines()
    return [dict(zip(("key", "assignment", "student"), line.split("\t", 3)[:3]),
                 answer=json.loads(line.split("\t", 3)[3])) for line in lines]


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
    assert {s: r["score"] for (_, s), r in recorded.items()} == \
        {r.student: r.score for r in fresh}
    for student in ("ann", "bob", "cy"):
        assert (course.root / "autograded" / student / FIRST.name /
                FIRST.notebook_file).is_file()
    assert not (course.root / JOURNAL).exists()  # the run ended well: nothing to keep


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
    import signal
    import subprocess
    import sys
    import time

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
    while time.monotonic() < give_up and not (journal.is_file() and journal.read_text()):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-2000:]
    assert "the answers of 1 graded submission(s) are kept in autograded/interrupted-run.tsv" \
        in err
    assert [k["student"] for k in _kept(course)] == ["ann"]
    assert load_results(course) == {}

    slow.write_bytes(kept_bob)  # bob's notebook as it was: quick
    done = subprocess.run(command, cwd=course.root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 submission(s) were not run again" in done.stderr
    recorded = load_results(course)
    assert recorded[(FIRST.name, "ann")]["score"] == FIRST.points
    assert recorded[(FIRST.name, "bob")]["score"] == 0.0
    assert not journal.exists()


def test_a_line_cut_short_by_a_crash_is_never_reused(course):
    from dataclasses import asdict

    from autograder.run.journal import Journal

    def task(student: str) -> dict:
        folder = course.root / "submitted" / student / FIRST.name
        return {"student": student, "notebook": str(folder / FIRST.notebook_file),
                "timestamp": None,
                "assignment": {**asdict(FIRST), "notebook_file": FIRST.notebook_file}}

    path = course.root / JOURNAL
    writing = Journal(path, course.root, "bwrap")
    writing.add(task("ann"), {"success": True, "log": "", "executed": "{}"})
    writing.add(task("bob"), {"success": True, "log": "x" * 200_000, "executed": "{}"})
    writing.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-20])  # the machine went down while bob's line was written
    reading = Journal(path, course.root, "bwrap")
    assert reading.kept_answer(task("ann")) == {"success": True, "log": "", "executed": "{}"}
    assert reading.kept_answer(task("bob")) is None
    assert reading.kept_answer(task("cy")) is None
    assert reading.reused == 1
    assert Journal(path, course.root, "none").kept_answer(task("ann")) is None  # other mode
    # The next run's first answer starts a line of its own after the cut one.
    reading.add(task("cy"), {"success": False, "log": "stopped", "executed": "{}"})
    reading.close()
    again = Journal(path, course.root, "bwrap")
    assert again.kept_answer(task("cy")) == {"success": False, "log": "stopped",
                                             "executed": "{}"}
    assert again.kept_answer(task("bob")) is None
    reading.finish({(FIRST.name, "cy")})
    assert path.read_bytes() == whole.split(b"\n")[0] + b"\n"  # ann's line alone
    Journal(path, course.root, "bwrap").finish({(FIRST.name, "ann")})
    assert not path.exists()
