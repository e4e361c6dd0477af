"""Feedback pages and a class report with maths, long lines and figures, built in
memory for the tests (tests/unit/publish/test_maths.py, tests/test_feedback_browser.py).

Both kinds of feedback page: ours (``autograder.publish.feedback.feedback_html``)
and plain ``nbgrader generate_feedback``'s, made by the exporter and the
preprocessors nbgrader_config.py gives it (all but GetGrades, which reads the
gradebook: the scores it would add are given directly). No kernel runs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell, new_output

from autograder.core.manifest import load_manifest
from autograder.core.results import GradeResult

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_manifest(ROOT)
FIRST = COURSE.assignment("01_graphs")
#: A failure message with one long line, as a check may write (a shape, a whole array).
LONG_LINE = ("Mul forward on inputs of shapes [(3, 2), (3, 2), (3, 2)]: expected "
             + ", ".join(f"{0.25 * i:.2f}" for i in range(120)))
#: Maths in a markdown cell, with TeX escapes (a thin space ``\,``, a brace ``\{``).
MATHS_MARKDOWN = r"Check: $$g = x\,W + b, \quad W \in \{0, 1\}$$ and $\partial L/\partial x$."
#: Markdown a student might write in an answer: maths with a TeX escape, and HTML.
STUDENT_MARKDOWN = (r"My answer: $\partial L/\partial x = y\,u$ <script>alert(1)</script>"
                    "\n\n$$f(x) = x\\,W + b$$")


def graded_notebook() -> nbformat.NotebookNode:
    """01_graphs as its source notebook holds it (outputs, a figure), with the
    first Mul test failing on a long message, and two markdown cells added: maths
    (``MATHS_MARKDOWN``) and a student's answer (``STUDENT_MARKDOWN``)."""
    notebook = nbformat.read(ROOT / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_mul_forward":
            cell.outputs = [new_output("error", ename="AssertionError", evalue=LONG_LINE,
                                       traceback=["AssertionError: " + LONG_LINE])]
    notebook.cells += [new_markdown_cell(MATHS_MARKDOWN), new_markdown_cell(STUDENT_MARKDOWN)]
    return notebook


def result(student: str = "ann", lost: str = "test_mul_forward",
           message: str = "") -> GradeResult:
    """Full marks but for one failing test (the first Mul test's: ``graded_notebook``)."""
    cells = [{"grade_id": grade_id, "max_score": points,
              "score": 0.0 if grade_id == lost else points,
              "message": message if grade_id == lost else ""}
             for grade_id, points in (("test_chain_rule", 2.0), ("test_mul_forward", 2.0),
                                      ("test_mul_backward", 3.0),
                                      ("test_topological_sort", 3.0))]
    return GradeResult.from_dict({
        "assignment": FIRST.name, "student": student, "status": "graded",
        "score": 10.0 - next(c["max_score"] for c in cells if c["grade_id"] == lost),
        "max_score": 10.0, "cells": cells, "sandbox": "bwrap"})


def our_feedback_page() -> str:
    """The page ``python -m autograder feedback`` writes."""
    from autograder.publish.feedback import feedback_html

    return feedback_html(graded_notebook(), result(), FIRST, COURSE.title)


def plain_feedback_page() -> str:
    """The page plain ``nbgrader generate_feedback`` writes with the course's config."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import GetGrades
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    exporter = converter.exporter_class(parent=converter, config=converter.config)
    for preprocessor in converter.preprocessors:
        if preprocessor not in (GetGrades, "nbgrader.preprocessors.GetGrades"):
            exporter.register_preprocessor(preprocessor, enabled=True)
    notebook = graded_notebook()
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["score"] = 0.0 if meta["grade_id"] == "test_mul_forward" else meta["points"]
    resources = {"nbgrader": {"notebook": FIRST.notebook, "score": 8.0, "max_score": 10.0,
                              "late_penalty": 0.0}}
    page, _ = exporter.from_notebook_node(notebook, resources=resources)
    return page


def class_report(path: Path) -> Path:
    """A class report of a small synthetic class of 01_graphs, written at ``path``."""
    from unittest import mock

    from autograder.publish import report

    results = {(FIRST.name, student): result(student, lost, "AssertionError: " + LONG_LINE)
               for student, lost in (("ann", "test_mul_forward"), ("bob", "test_chain_rule"),
                                     ("cid", "test_mul_backward"))}
    with mock.patch.object(report, "load_results", lambda course: results):
        return report.write_report(COURSE, path)
