"""Feedback pages read like the notebook (issue 31, point 4): maths as MathML with
its TeX intact, a student's text still escaped, each test's message beside the
answer it judges, figures with a text alternative, and nothing fetched from the
network, on our pages and on plain ``nbgrader generate_feedback``'s.

Built in memory (tests/feedback_pages.py): no kernel runs. In Chromium:
tests/test_feedback_browser.py.
"""

from __future__ import annotations

import re

import pytest
from feedback_pages import COURSE, FIRST, our_feedback_page, plain_feedback_page
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.core.results import GradeResult
from autograder.publish.alt_text import figure_alt
from autograder.publish.feedback import feedback_html
from autograder.publish.maths import markdown_html, tex_to_mathml

#: What would make a page fetch a script, a style sheet or a font at view time.
FETCHES = re.compile(r"<script[^>]*\bsrc\s*=|<link\b[^>]*\bhref\s*=|@import|"
                     r"url\(\s*['\"]?\s*(?:https?:)?//|\b(?:src|href)\s*=\s*['\"]?\s*(?:https?:)?//",
                     re.IGNORECASE)


def test_maths_becomes_mathml_with_its_tex_escapes_intact():
    page = markdown_html("Take\n$$f = x\\,y + x\\,z .$$\nwith $x_1, \\dots$ and \\\\(a\\\\).")
    assert page.count("<math") == 3 and "$" not in page
    assert '<math display="block">' in page and "<mspace" in page  # \, is a thin space
    assert '<annotation encoding="application/x-tex">f = x\\,y + x\\,z .</annotation>' in page
    assert "<msub><mi>x</mi><mn>1</mn></msub>" in page and "…" in page


def test_a_dollar_in_code_stays_code():
    page = markdown_html("Run `echo $HOME $PATH` first.")
    assert "<code>echo $HOME $PATH</code>" in page and "<math" not in page


@pytest.mark.parametrize("tex", [r"\text{</annotation><script>alert(1)</script>}",
                                 r"</math><script>alert(1)</script>",
                                 r"\href{javascript:alert(1)}{x}"])
def test_a_students_maths_can_never_run_code(tex):
    page = str(markdown_html(f"My answer ${tex}$ <script>alert(2)</script>"))
    assert "<script" not in page and "javascript:" not in page.replace("$\\href{javascript:", "")
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert " href=" not in page  # \href is shown as its TeX, not made a link


def test_tex_the_converter_cannot_read_is_shown_as_tex():
    assert tex_to_mathml(r"\frac{1}{") == '<code class="tex">$\\frac{1}{$</code>'


def test_a_figure_is_described_by_the_titles_its_code_gives_it():
    cell = new_code_cell('draw_graph(graph, title="f = x*y + x*z")\nax.set_title("loss")')
    assert figure_alt(cell, {"text/plain": "<Figure size 820x490 with 1 Axes>"}) == (
        "Figure: f = x*y + x*z; loss")
    assert figure_alt(new_code_cell("plt.plot(x)"), {"text/plain": "<Figure size 8x4 with 1 Axes>"}
                      ) == "A figure this cell drew (Figure size 8x4 with 1 Axes)"


@pytest.fixture(scope="module")
def ours() -> str:
    return our_feedback_page()


def test_our_page_shows_each_failed_tests_message_beside_the_answer_it_judges(ours):
    answers = re.findall(r'<div class="answer">(.*?)</aside></div>', ours, re.DOTALL)
    mul = next(a for a in answers if "class Mul(Node)" in a)
    assert "test_mul_forward: 0 / 2 points (failed)" in mul
    assert "Mul forward on inputs of shapes" in mul
    assert "test_mul_backward: 3 / 3 points (passed)" in mul
    assert ours.count("Mul forward on inputs of shapes") == 1  # beside the answer only
    assert '<img alt="Figure: ' in ours and 'alt="figure"' not in ours


def test_no_feedback_page_fetches_anything(ours):
    plain = plain_feedback_page()
    for page in (ours, plain):
        assert not FETCHES.findall(page)
        assert "<math" in page and "MathJax" not in page and "cdnjs" not in page
        assert r'<annotation encoding="application/x-tex">g = x\,W + b' in page
    assert '<html lang="en">' in plain


def test_what_a_student_wrote_stays_text_beside_the_answer_and_in_a_figures_alt():
    hostile = '<script>alert(1)</script>" onerror="alert(1)'
    answer = new_code_cell(f'plt.title("{hostile}")', metadata={"nbgrader": {
        "solution": True, "grade": False, "grade_id": "answer"}}, outputs=[
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "x"})])
    test = new_code_cell("check()", metadata={"nbgrader": {
        "grade": True, "solution": False, "grade_id": hostile, "points": 1}}, outputs=[
        new_output("error", ename="AssertionError", evalue=hostile, traceback=[])])
    result = GradeResult.from_dict({"student": "ann", "status": "graded", "score": 0.0,
                                    "max_score": 1.0, "cells": [
                                        {"grade_id": hostile, "score": 0.0, "max_score": 1.0}]})
    page = feedback_html(new_notebook(cells=[answer, test]), result, FIRST, COURSE.title)
    assert "<script" not in page and '" onerror=' not in page
    assert '<aside class="verdicts" aria-label="What &lt;script&gt;' in page
    assert 'alt="Figure: &lt;script&gt;alert(1)&lt;/script&gt;' in page
