"""One rule rejects a submission, for `grade` and for plain `nbgrader autograde`
(autograder/record/submission.py), and both record a rejection the same way."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nbformat
import pytest

from autograder.core.manifest import load_manifest
from autograder.core.reasons import Reason
from autograder.core.results import GradeResult, Status
from autograder.pipeline.prepare import prepare_submission
from autograder.record.gradebook import forget_problem
from autograder.record.load import RESULTS, stored_details
from autograder.record.submission import check_submission, rejected_result

ROOT = Path(__file__).resolve().parents[3]
COURSE = load_manifest(ROOT)
FIRST = COURSE.assignments[0]
SOURCE = ROOT / "source" / FIRST.name / FIRST.notebook_file

CUT_SHORT = '{\n "cells": [\n  {\n   "cell_type": "markdown",\n   "source": "# Assign'


def _folder(tmp_path: Path, text: str | bytes, name: str = FIRST.notebook_file) -> Path:
    folder = tmp_path / "ann" / FIRST.name
    folder.mkdir(parents=True)
    if isinstance(text, bytes):
        (folder / name).write_bytes(text)
    else:
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("text, code", [
    (CUT_SHORT, Reason.NOT_JSON),
    ('{"hello": "world"}', Reason.NOT_NOTEBOOK),
    (b"\x89PNG\r\n\x1a\n\xff\xfe", Reason.NOT_TEXT),
    (SOURCE.read_text(encoding="utf-8"), None),
])
def test_grade_s_check_is_the_rule_plain_autograde_asks(tmp_path, text, code):
    folder = _folder(tmp_path, text)
    checked = check_submission(folder, FIRST.notebook_file)
    prepared = prepare_submission(folder, FIRST, SOURCE)
    assert checked.code == prepared.code == code
    assert (checked.notebook, checked.notes, checked.reason) == \
        (prepared.notebook, prepared.notes, prepared.reason)
    assert (checked.notebook is None) == (code is not None)
    assert (checked.parsed is None) == (code is not None)  # read once, kept for grade


def test_a_rejection_is_recorded_with_its_reason_code_and_lateness(tmp_path):
    folder = _folder(tmp_path, CUT_SHORT)
    (folder / "timestamp.txt").write_text("2027-01-20 01:59:00.000000 UTC", encoding="utf-8")
    checked = check_submission(folder, FIRST.notebook_file)
    result = rejected_result(COURSE, FIRST, "ann", folder, checked, "bwrap")
    assert (result.student, result.assignment, result.status) == ("ann", FIRST.name,
                                                                 Status.REJECTED)
    assert (result.score, result.max_score, result.cells) == (0.0, FIRST.points, [])
    assert result.reasons == [Reason.NOT_JSON] and result.notes == [checked.reason]
    assert result.sandbox == "bwrap"
    assert result.late is not None and result.late.submitted.startswith("2027-01-20T01:59")
    assert result.late.seconds_late > 0


def test_a_rejection_with_an_unreadable_time_says_so_and_guesses_no_lateness(tmp_path):
    folder = _folder(tmp_path, CUT_SHORT)
    (folder / "timestamp.txt").write_text("last Tuesday", encoding="utf-8")
    checked = check_submission(folder, FIRST.notebook_file)
    result = rejected_result(COURSE, FIRST, "ann", folder, checked, "none")
    assert result.late is None
    assert result.notes[0] == checked.reason
    assert result.notes[1].endswith("; graded without a submission time")


def test_forgetting_a_problem_drops_only_a_record_that_was_not_graded(tmp_path):
    course = dataclasses.replace(COURSE, root=tmp_path)
    records = [GradeResult("ann", FIRST.name, Status.REJECTED, max_score=10.0,
                           notes=["graphs.ipynb is not valid JSON"], reasons=[Reason.NOT_JSON]),
               GradeResult("bo", FIRST.name, Status.GRADED, score=7.0, max_score=10.0,
                           flags=["test_mul_forward: np.allclose was replaced"])]
    (tmp_path / RESULTS).parent.mkdir(parents=True)
    (tmp_path / RESULTS).write_text(json.dumps([r.to_dict() for r in records]),
                                    encoding="utf-8")
    assert not forget_problem(course, FIRST.name, "bo")  # graded: its flags stay
    assert not forget_problem(course, FIRST.name, "cy")  # no record at all
    assert set(stored_details(course)) == {(FIRST.name, "ann"), (FIRST.name, "bo")}
    assert forget_problem(course, FIRST.name, "ann")
    assert set(stored_details(course)) == {(FIRST.name, "bo")}
    assert stored_details(course)[(FIRST.name, "bo")].flags == records[1].flags


def test_a_parsed_notebook_is_the_file_as_read(tmp_path):
    folder = _folder(tmp_path, SOURCE.read_text(encoding="utf-8"), name="renamed.ipynb")
    checked = check_submission(folder, FIRST.notebook_file)
    assert checked.notebook == folder / "renamed.ipynb"
    assert checked.notes == [f"notebook was renamed to renamed.ipynb; graded it as "
                             f"{FIRST.notebook_file}"]
    assert checked.parsed == nbformat.read(SOURCE, as_version=4)
