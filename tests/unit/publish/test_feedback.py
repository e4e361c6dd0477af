"""The feedback pages escape everything a student wrote (issue 30, point 5).

The pages are Jinja2 templates (autograder/publish/templates/) with autoescape: a
student's id, notes, code, outputs, test cell names and messages, and the
lines of the kernel deaths they caused, are shown as text, never run as HTML.
Built from results in memory: no kernel runs.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.core.manifest import load_manifest
from autograder.core.results import GradeResult
from autograder.publish.feedback import feedback_html, problem_html
from autograder.publish.render import render_template

ROOT = Path(__file__).resolve().parents[3]
FIRST = load_manifest(ROOT).assignments[0]
HOSTILE = '<script>alert(1)</script>" onerror="alert(1)'
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&quot; onerror=&quot;alert(1)"


def _assert_shown_as_text(page: str, places: int) -> None:
    assert "<script" not in page and '" onerror=' not in page
    assert page.count(ESCAPED) == places, page
    assert "&amp;lt;" not in page  # nothing escaped twice


def _test_cell(source: str, grade_id: str) -> nbformat.NotebookNode:
    return new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "grade_id": grade_id, "points": 2, "solution": False}})


def test_what_a_student_wrote_is_text_on_the_feedback_page():
    notebook = new_notebook(cells=[
        new_markdown_cell(f"# My answer {HOSTILE}"),
        new_code_cell(f"x = '{HOSTILE}'\n    print(x)", outputs=[
            new_output("stream", name="stdout", text=HOSTILE),
            new_output("execute_result", data={"text/plain": HOSTILE}, execution_count=1),
            new_output("error", ename="ValueError", evalue=HOSTILE, traceback=[])]),
        _test_cell("check(x)", HOSTILE),
    ])
    result = GradeResult.from_dict({
              "student": HOSTILE, "status": "graded", "score": 0.0, "max_score": 2.0,
              "cells": [{"grade_id": HOSTILE, "score": 0.0, "max_score": 2.0,
                         "message": HOSTILE}],
              "notes": [HOSTILE],
              "kernel_deaths": [{"cell": 2, "first_line": HOSTILE, "reason": HOSTILE},
                                {"cell": 3, "grade_id": HOSTILE, "reason": "exit"}],
              "late": {"submitted": "2027-01-20T10:00:00", "due": "2027-01-18T23:59:00",
                       "seconds_late": 3600.0, "penalty": 1.0, "policy": HOSTILE}})
    page = feedback_html(notebook, result, FIRST, "miniflow")
    # student id; the markdown's text (its own escaping: quotes stay); the code; stdout,
    # the result and the error; the test cell's name (table, badge, the death);
    # the zeroing message; the note; the death's first line and reason; the late policy
    _assert_shown_as_text(page, 14)
    assert "My answer &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.startswith("<!DOCTYPE html>\n<html") and page.endswith("</body></html>\n")
    # the templates' line breaks are layout, never printed; a printed value keeps its own
    assert '</div><div class="summary">' in page
    assert f"<pre>x = &#x27;{ESCAPED}&#x27;\n    print(x)</pre>" in page


@pytest.mark.parametrize("status", ["rejected", "error"])
def test_what_a_student_wrote_is_text_on_the_page_of_a_submission_not_graded(status):
    result = GradeResult(HOSTILE, FIRST.name, status, max_score=10.0, notes=[HOSTILE],
                         reasons=["not_json"])
    page = problem_html(result, FIRST, "miniflow")
    _assert_shown_as_text(page, 2)


def test_a_template_missing_a_value_fails_rather_than_printing_nothing():
    with pytest.raises(jinja2.UndefinedError):
        render_template("feedback_problem.html.j2", student="ann", rejected=False, notes=[])
