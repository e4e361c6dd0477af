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


# -- which pages are the course's: plain generate_feedback keeps those (course_pages.py) ----


def test_the_course_s_pages_are_marked_as_the_course_s_and_nbgrader_s_are_not():
    from feedback_pages import our_feedback_page, plain_feedback_page

    from autograder.publish.feedback import COURSE_PAGE_MARK, is_course_page

    rejected = problem_html(GradeResult("ann", FIRST.name, "rejected", max_score=10.0,
                                        notes=["graphs.ipynb is not valid JSON"],
                                        reasons=["not_json"]), FIRST, "miniflow")
    for page in (our_feedback_page(), rejected):
        head = page.split("</head>", 1)[0]
        assert COURSE_PAGE_MARK in head and is_course_page(page[:4096])
    assert not is_course_page(plain_feedback_page()[:4096])


def test_only_the_head_of_a_page_can_mark_it_as_the_course_s():
    from autograder.publish.feedback import COURSE_PAGE_MARK, is_course_page

    # A student's text that quotes the mark is in the body of nbgrader's page: not the course's.
    nbgrader_page = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
                     f"<title>graphs</title>\n</head><body><pre>{COURSE_PAGE_MARK}</pre>")
    assert not is_course_page(nbgrader_page)
    assert not is_course_page("")
    # A page the course wrote before its pages were marked is still the course's.
    assert is_course_page('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                          "<title>Feedback: Graphs and the chain rule</title><style>")
