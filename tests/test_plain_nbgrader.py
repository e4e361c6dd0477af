"""Plain nbgrader agrees with the course's commands at the edges.

One small class of the first assignment: ``ada`` (the solution), ``dee`` (a
notebook cut short as it was uploaded: not JSON), ``emi`` (JSON, but not a
notebook) and ``fay`` (a script, no notebook at all). One course folder goes
through ``python -m autograder grade`` and ``feedback``, a copy of it through
plain ``nbgrader autograde`` and ``generate_feedback``. Before the course's
exporters checked submissions (``autograder.execute.exporter``,
``autograder.publish.course_pages``), plain autograde failed on dee and emi
and left them "graded, 0" with empty cells, never saw fay, plain
generate_feedback wrote them no page, and ``generate_feedback --force``
replaced the course's page of ada with nbgrader's without a word.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.core.results import Status
from autograder.pipeline.grading import copy_course_skeleton
from autograder.publish.feedback import is_course_page
from autograder.record.load import load_results

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]
SOLUTION = (ROOT / "source" / FIRST.name / FIRST.notebook_file).read_text(encoding="utf-8")
CUT_SHORT = '{\n "cells": [\n  {\n   "cell_type": "markdown",\n   "source": "# Assign'
#: Each rejected student: the file submitted and the reason's code both paths record.
#: fay uploaded her answers as a script: no notebook at all, which nbgrader, going by
#: notebooks, never looks at.
REJECTED = {"dee": (CUT_SHORT, "not_json"), "emi": ('{"hello": "world"}', "not_notebook"),
            "fay": (None, "missing_notebook")}


def _submit(root: Path, student: str, text: str | None) -> None:
    folder = root / "submitted" / student / FIRST.name
    folder.mkdir(parents=True)
    if text is None:
        (folder / f"{FIRST.notebook}.py").write_text("print('my answers')\n", encoding="utf-8")
    else:
        (folder / FIRST.notebook_file).write_text(text, encoding="utf-8")
    (folder / "timestamp.txt").write_text("2027-01-18 12:00:00.000000 UTC", encoding="utf-8")


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root,
                         capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def _records(root: Path) -> dict[str, dict]:
    """results.json, by student."""
    records = json.loads((root / "autograded" / "results.json").read_text(encoding="utf-8"))
    return {r["student"]: r for r in records if r["assignment"] == FIRST.name}


def _in_gradebook(root: Path) -> set[str]:
    with sqlite3.connect(root / "gradebook.db") as db:
        return {student for (student,) in db.execute(
            "SELECT student_id FROM submitted_assignment")}


def _page(root: Path, student: str) -> Path:
    return root / "feedback" / student / FIRST.name / f"{FIRST.notebook}.html"


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MINIFLOW_DB_URL", raising=False)  # each course's own gradebook.db
        template = tmp_path_factory.mktemp("template") / "course"
        copy_course_skeleton(ROOT, template, [FIRST])
        run_nbgrader(["generate_assignment", FIRST.name, "--force"], template)
        ours, plain = (tmp_path_factory.mktemp(name) / "course" for name in ("ours", "plain"))
        for root in (ours, plain):
            shutil.copytree(template, root)
            _submit(root, "ada", SOLUTION)
            for student, (text, _) in REJECTED.items():
                _submit(root, student, text)
        said = {"grade": _cli(ours, "grade", FIRST.name, "--workers", "1"),
                "feedback": _cli(ours, "feedback", FIRST.name),
                "autograde": run_nbgrader(["autograde", FIRST.name], plain, check=False),
                "generate_feedback": run_nbgrader(["generate_feedback", FIRST.name], plain,
                                                  check=False)}
        yield {"ours": ours, "plain": plain, "said": said}


def test_plain_autograde_records_a_rejection_as_grade_does(term):
    ours, plain = term["ours"], term["plain"]
    autograde = term["said"]["autograde"]
    assert autograde.returncode == 0, autograde.stderr[-3000:]  # a rejection is no error
    mine, theirs = _records(ours), _records(plain)
    for student, (_, code) in REJECTED.items():
        assert theirs[student] == mine[student]  # status, notes, reasons, late, sandbox
        assert theirs[student]["status"] == "rejected"
        assert theirs[student]["reasons"] == [code]
        result = load_results(load_manifest(plain))[(FIRST.name, student)]
        assert (result.status, result.score, result.cells) == (Status.REJECTED, 0.0, [])
        assert f"{student}'s {FIRST.name} was rejected, not graded" in autograde.stderr
        assert f"reason {code}," in autograde.stderr
        assert student in term["said"]["grade"].stdout
    # no "graded, 0" row: the gradebook holds the graded submission only, in both
    assert _in_gradebook(plain) == _in_gradebook(ours) == {"ada"}
    assert load_results(load_manifest(plain))[(FIRST.name, "ada")].status == Status.GRADED


def test_plain_generate_feedback_writes_the_page_feedback_writes_for_a_rejection(term):
    ours, plain = term["ours"], term["plain"]
    generated = term["said"]["generate_feedback"]
    assert generated.returncode == 0, generated.stderr[-3000:]
    for student in REJECTED:
        page = _page(plain, student).read_text(encoding="utf-8")
        assert page == _page(ours, student).read_text(encoding="utf-8")
        assert "Your submission could not be graded." in page and "How to resubmit:" in page
        assert f"Wrote feedback/{student}/{FIRST.name}/{FIRST.notebook}.html" in generated.stderr
    assert "is not valid JSON" in _page(plain, "dee").read_text(encoding="utf-8")
    assert "missing notebook" in _page(plain, "fay").read_text(encoding="utf-8")
    # a graded submission's page is still nbgrader's own
    with open(_page(plain, "ada"), encoding="utf-8") as handle:
        assert not is_course_page(handle.read(4096))


def test_plain_generate_feedback_keeps_the_course_s_page_and_says_so(term):
    ours = term["ours"]
    pages = {student: _page(ours, student).read_bytes() for student in ("ada", *REJECTED)}
    forced = run_nbgrader(["generate_feedback", FIRST.name, "--force"], ours)
    assert {student: _page(ours, student).read_bytes() for student in pages} == pages
    said = " ".join(forced.stderr.split())  # nbgrader's log may wrap a long line
    assert (f"feedback/ada/{FIRST.name}/{FIRST.notebook}.html was written by `python -m "
            "autograder feedback` and is kept") in said
    assert f"`python -m autograder feedback {FIRST.name} --student ada`" in said
    # Only the course's page is kept: deleted, nbgrader writes its own in its place.
    _page(ours, "ada").unlink()
    again = run_nbgrader(["generate_feedback", FIRST.name, "--force"], ours)
    assert "is kept" not in again.stderr
    with open(_page(ours, "ada"), encoding="utf-8") as handle:
        assert not is_course_page(handle.read(4096))


def test_a_resubmission_plain_autograde_grades_loses_the_old_rejection(term):
    plain = term["plain"]
    notebook = plain / "submitted" / "dee" / FIRST.name / FIRST.notebook_file
    notebook.write_text(SOLUTION, encoding="utf-8")
    run_nbgrader(["autograde", FIRST.name], plain)
    result = load_results(load_manifest(plain))[(FIRST.name, "dee")]
    assert (result.status, result.score, result.reasons) == (Status.GRADED, FIRST.points, [])
    assert not any("not valid JSON" in note for note in result.notes)
    assert "dee" not in _records(plain) or _records(plain)["dee"]["status"] == "graded"
    assert "dee" in _in_gradebook(plain)
