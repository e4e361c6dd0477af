"""autograder/publish/sanitize.py on hand-made notebooks: what autograded/ and formgrader may show.

A student's display outputs keep text and pictures only; a markdown cell
with HTML (or a link that could run a script) shows as its source; graded
test cells' verdicts, streams and errors pass unchanged, so the scores
nbgrader reads from the outputs are the same before and after. The
browser test (tests/test_formgrader_safety.py) shows the same in formgrader.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, strategies as st
from nbformat import v4
from nbgrader.utils import compute_checksum, determine_grade

from autograder.publish.sanitize import (
    DROPPED_NOTE,
    MARKDOWN_NOTE,
    FormgraderPage,
    SanitizeOutputs,
    markdown_is_safe,
    render_markdown,
    sanitize_cell,
    sanitize_notebook,
)

ROOT = Path(__file__).resolve().parents[3]
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
       "AAAABJRU5ErkJggg==")
SCRIPT = '<script>window.__pwned = 1; document.title = "PWNED"</script>'


def _display(data: dict, kind: str = "display_data", metadata: dict | None = None):
    if kind == "execute_result":
        return v4.new_output("execute_result", data=data, metadata=metadata or {},
                             execution_count=1)
    return v4.new_output("display_data", data=data, metadata=metadata or {})


def _graded_test(outputs: list, grade_id: str = "test_add", points: float = 2.0):
    cell = v4.new_code_cell("assert add(1, 1) == 2", outputs=outputs)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                 "grade_id": grade_id, "points": points, "schema_version": 3}
    cell.metadata["nbgrader"]["checksum"] = compute_checksum(cell)
    return cell


def _passed(points: float = 2.0):
    return _display({"text/plain": repr(points)}, "execute_result",
                    metadata={"miniflow_judge": True})


def _failed():
    return v4.new_output("error", ename="GraderCheckFailed", evalue="add(1, 1) gave 3",
                         traceback=["GraderCheckFailed: add(1, 1) gave 3"])


def _run(cell):
    nb = v4.new_notebook(cells=[cell])
    SanitizeOutputs().preprocess(nb, {})
    return nb.cells[0]


# --- outputs --------------------------------------------------------------------

def test_html_and_javascript_are_dropped_text_and_pictures_stay():
    cell = v4.new_code_cell("Evil()", outputs=[
        _display({"text/plain": "<Evil>", "text/html": SCRIPT}, "execute_result",
                 metadata={"text/html": {"isolated": False}}),
        _display({"application/javascript": "window.__pwned = 2"}),
        _display({"image/svg+xml": "<svg><script>window.__pwned=3</script></svg>",
                  "text/plain": "<SVG>"}),
        _display({"image/png": PNG, "text/plain": "<Figure size 640x480>"},
                 metadata={"image/png": {"width": 300}}),
        _display({"text/markdown": "<img src=x onerror=alert(1)>"}),
        _display({"application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
                  "text/plain": "IntSlider()"}),
        _display({"text/latex": "$x^2$"}),
        v4.new_output("stream", name="stdout", text="<b>printed</b>\n"),
    ])
    outputs = _run(cell).outputs
    assert [o.output_type for o in outputs] == ["execute_result", "display_data",
                                                 "display_data", "display_data",
                                                 "display_data", "display_data",
                                                 "display_data", "stream"]
    assert outputs[0].data == {"text/plain": "<Evil>"} and outputs[0].metadata == {}
    assert outputs[1].data == {"text/plain": DROPPED_NOTE.format(
        kinds="application/javascript")}
    assert outputs[2].data == {"text/plain": "<SVG>"}
    assert outputs[3].data == {"image/png": PNG, "text/plain": "<Figure size 640x480>"}
    assert outputs[3].metadata == {"image/png": {"width": 300}}
    assert "text/markdown" in outputs[4].data["text/plain"]
    assert outputs[5].data == {"text/plain": "IntSlider()"}
    assert outputs[6].data == {"text/latex": "$x^2$"}
    assert outputs[7].text == "<b>printed</b>\n"  # rendered escaped


def test_a_picture_that_is_not_base64_is_dropped():
    bad = '" onerror="window.__pwned=1'
    cell = v4.new_code_cell("x", outputs=[
        _display({"image/png": bad, "text/plain": "png"}),
        _display({"image/jpeg": PNG}, metadata={"filenames": {"image/jpeg": "evil.html"}})])
    outputs = _run(cell).outputs
    assert outputs[0].data == {"text/plain": "png"}
    assert outputs[1].data == {"image/jpeg": PNG} and "filenames" not in outputs[1].metadata


@pytest.mark.parametrize("verdict", [_passed, _failed])
def test_a_graded_cells_verdict_and_its_score_are_untouched(verdict):
    later = [_display({"text/html": SCRIPT}, "execute_result"),
             _display({"text/html": SCRIPT, "text/plain": "obj"}),
             v4.new_output("stream", name="stderr", text="warning\n")]
    cell = _graded_test([verdict(), *later])
    before = copy.deepcopy(cell)
    after = _run(copy.deepcopy(cell))
    assert after.outputs[0] == before.outputs[0]
    assert [o.output_type for o in after.outputs] == [o.output_type for o in before.outputs]
    assert determine_grade(after) == determine_grade(before)
    # No note stands in for a graded cell's result: nbgrader would read it as the score.
    assert after.outputs[1].data == {}
    assert after.outputs[2].data == {"text/plain": "obj"}
    assert after.outputs[3] == before.outputs[3]


def test_errors_and_streams_are_never_removed():
    outputs = [v4.new_output("error", ename="ValueError", evalue="<script>x</script>",
                             traceback=["<script>x</script>"]),
               v4.new_output("stream", name="stderr", text="<img src=x onerror=1>")]
    cell = v4.new_code_cell("x", outputs=copy.deepcopy(outputs))
    assert _run(cell).outputs == outputs


# --- markdown -------------------------------------------------------------------

ATTACKS = [
    '<img src=x onerror="window.__pwned=2">',
    "Look: <script>window.__pwned=1</script>",
    "[my plot](javascript:window.__pwned=4)",
    "[my plot](java&#115;cript:window.__pwned=4)",
    "<javascript:window.__pwned=4>",
    "[the rest](answer.html)",  # a student's file, which formgrader serves in its origin
    "```mermaid\ngraph TD; A-->B\n```",
    "# Title <b onmouseover=alert(1)>x</b>",
    "<!-- --><svg onload=alert(1)>",
    "![plot](attachment:missing.png)",
]


@pytest.mark.parametrize("source", ATTACKS)
def test_a_students_markdown_with_html_is_shown_as_its_text(source):
    cell = _run(v4.new_markdown_cell(source))
    assert cell.source.startswith(MARKDOWN_NOTE)
    assert source in cell.source
    rendered = render_markdown(cell.source)
    assert markdown_is_safe(cell.source)
    assert "<script" not in rendered and "onerror=" not in rendered.replace("onerror=&quot;", "")
    assert 'href="javascript' not in rendered.lower()


GOOD_MARKDOWN = [
    "## My answer\n\nThe gradient is $\\frac{\\partial L}{\\partial x} = 2x$ when $x < 3$.",
    "| a | b |\n|:-|-:|\n| 1 | 2 |\n\n- [x] done\n- [ ] not yet\n\n> quoted",
    "See [the docs](https://numpy.org/doc/) or [above](#My-answer); `a < b` and\n\n"
    "```python\nif a < b:\n    pass\n```",
    "1. one\n2. two\n\n$$\\sum_{i<n} x_i$$\n\n~~wrong~~ **right** *ok*\n\n***",
    "![figure](attachment:plot.png)",
]


@pytest.mark.parametrize("source", GOOD_MARKDOWN)
def test_ordinary_markdown_and_math_stay_as_they_are(source):
    cell = v4.new_markdown_cell(source)
    cell["attachments"] = {"plot.png": {"image/png": PNG}}
    assert _run(cell).source == source


def test_every_markdown_cell_of_the_course_is_kept():
    for path in sorted((ROOT / "source").glob("*/*.ipynb")) + [ROOT / "course" / "header.ipynb"]:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                assert markdown_is_safe(cell.source, cell.get("attachments")), \
                    (path.name, cell.source[:200])


def test_svg_attachments_are_dropped():
    cell = v4.new_markdown_cell("![a](attachment:a.png)")
    cell["attachments"] = {"a.png": {"image/png": PNG,
                                     "image/svg+xml": "<svg onload='alert(1)'/>"},
                           "b.svg": {"image/svg+xml": "<svg/>"}}
    cell = _run(cell)
    assert cell.attachments == {"a.png": {"image/png": PNG}}
    assert cell.source == "![a](attachment:a.png)"


def _locked_markdown(source: str, *, grade_id: str | None = "intro"):
    cell = v4.new_markdown_cell(source)
    cell.metadata["nbgrader"] = {"locked": True, "solution": False, "grade": False,
                                 "schema_version": 3}
    if grade_id:
        cell.metadata["nbgrader"]["grade_id"] = grade_id
        cell.metadata["nbgrader"]["checksum"] = compute_checksum(cell)
    else:  # what a student may write into a new cell
        cell.metadata["nbgrader"]["checksum"] = "0" * 32
    return cell


def test_a_locked_cell_restored_by_nbgrader_is_the_instructors():
    source = 'Instructions <span style="color: red">in red</span>'
    assert _run(_locked_markdown(source)).source == source


def test_locked_in_metadata_alone_proves_nothing():
    source = '<img src=x onerror="window.__pwned=2">'
    assert _run(_locked_markdown(source, grade_id=None)).source.startswith(MARKDOWN_NOTE)
    changed = _locked_markdown("the instructor's words")
    changed.source = source  # checksum no longer matches
    assert _run(changed).source.startswith(MARKDOWN_NOTE)


def test_a_students_answer_cell_is_checked():
    cell = v4.new_markdown_cell('My answer <img src=x onerror="window.__pwned=2">')
    cell.metadata["nbgrader"] = {"solution": True, "grade": True, "locked": False,
                                 "grade_id": "explain", "points": 1, "schema_version": 3,
                                 "checksum": "0" * 64}
    before = determine_grade(copy.deepcopy(cell))
    cell = _run(cell)
    assert cell.source.startswith(MARKDOWN_NOTE)
    assert determine_grade(cell) == before  # still for a person to grade


def test_raw_cells_render_as_their_text():
    cell = _run(v4.new_raw_cell("<script>window.__pwned=5</script> & more"))
    assert cell.source == "&lt;script&gt;window.__pwned=5&lt;/script&gt; &amp; more"
    assert _run(v4.new_raw_cell("plain words")).source == "plain words"


@given(st.text(alphabet=st.sampled_from(list("<>\"'`$&:/#*[]()!\n -=ajvsciptmrdx0")),
               max_size=60))
def test_whatever_the_markdown_the_result_is_safe(source):
    cell = v4.new_markdown_cell(source)
    sanitize_cell(cell)
    assert markdown_is_safe(cell.source)
    if cell.source != source:
        assert cell.source.startswith(MARKDOWN_NOTE)


def test_the_whole_notebook_sanitized_twice_is_the_same():
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell(ATTACKS[0]),
        v4.new_code_cell("x", outputs=[_display({"text/html": SCRIPT})]),
        _graded_test([_failed(), _display({"text/html": SCRIPT})])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    assert sanitize_notebook(nb) == 3
    assert "widgets" not in nb.metadata
    once = copy.deepcopy(nb)
    assert sanitize_notebook(nb) == 0 and nb == once


def test_rendered_by_nbconvert_nothing_of_the_student_runs():
    """The HTML nbconvert writes for a sanitized notebook holds none of the payloads."""
    from nbconvert import HTMLExporter

    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell('<img src=x onerror="window.__pwned=2">'),
        v4.new_code_cell("Evil()", outputs=[
            _display({"text/plain": "Evil", "text/html": SCRIPT}, "execute_result"),
            _display({"application/javascript": "window.__pwned=3"}),
            _display({"image/svg+xml": '<svg><script>window.__pwned=4</script></svg>'})])])
    raw, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    assert "window.__pwned = 1" in raw and 'onerror="window.__pwned=2"' in raw  # the control
    sanitize_notebook(nb)
    page, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    assert re.search(r"<script[^>]*>\s*window\.__pwned", page) is None
    assert "window.__pwned=3" not in page and "window.__pwned=4" not in page
    assert "<img src=x" not in page  # as text in a code block:
    assert '&lt;img src=x onerror="window.__pwned=2"&gt;' in page


# --- formgrader's page ------------------------------------------------------------

def test_formgraders_page_fields_are_escaped_for_that_page_only():
    name = "O'Hara<img src=x onerror=\"window.__pwned=6\">"
    resources = {"submission_id": "abc", "first_name": "Zoë", "last_name": name,
                 "student": "s1", "notebook_path": 'autograded/s"1/a/n.ipynb', "index": 0}
    nb = v4.new_notebook(cells=[v4.new_markdown_cell(ATTACKS[0])])
    nb, resources = FormgraderPage().preprocess(nb, resources)
    assert resources["last_name"] == ("O&#x27;Hara&lt;img src=x onerror=&quot;"
                                      "window.__pwned=6&quot;&gt;")
    assert resources["first_name"] == "Zoë" and resources["index"] == 0
    assert resources["notebook_path"] == "autograded/s&quot;1/a/n.ipynb"
    assert nb.cells[0].source.startswith(MARKDOWN_NOTE)
    other = {"last_name": name}  # not formgrader's page: left alone
    assert FormgraderPage().preprocess(v4.new_notebook(), other)[1] == {"last_name": name}


def test_the_course_configuration_runs_both():
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    steps = config.Autograde.autograde_preprocessors
    assert steps.index("autograder.publish.sanitize.SanitizeOutputs") > \
        steps.index("nbgrader.preprocessors.SaveAutoGrades")
    assert "autograder.publish.sanitize.FormgraderPage" in config.HTMLExporter.preprocessors
