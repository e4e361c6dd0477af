"""HTML feedback that shows each student their score and the checks' messages,
but never a test's code, traceback or output.

A test cell shows only its visible part and the message of the check that
failed (the checks' messages are written for students); what the cell
printed or displayed, and every traceback, is dropped, and any output or note
that quotes a line of a hidden test is replaced by a notice (student code
can capture a test cell's source as it runs and print it later). Plain
``nbgrader generate_feedback`` gets the same rules from
``autograder.publish.hidden.HideTests`` (nbgrader_config.py).

The page reads like the notebook: its markdown's maths is MathML, typeset
offline (``autograder.publish.maths``); each test's message stands beside the
answer cell it judges, where the student fixes the code; every figure has a
text alternative (``autograder.publish.alt_text``); long lines wrap.

The pages are rendered from the templates autograder/publish/templates/feedback*.j2,
with every value they print escaped (``autograder.publish.render.render_template``).
"""

from __future__ import annotations

import base64
import dataclasses
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
from markupsafe import Markup

from autograder.core.cells import HIDDEN, HIDDEN_NOTE, cell_failed
from autograder.core.manifest import Assignment, Course
from autograder.core.reasons import Reason
from autograder.core.results import CellGrade, GradeResult, KernelDeath, Lateness, Status
from autograder.publish.alt_text import figure_alt
from autograder.publish.hidden import feedback_outputs, hidden_lines, redact
from autograder.publish.maths import markdown_html
from autograder.publish.render import render_template
from autograder.record.load import load_results

__all__ = ["COURSE_PAGE_MARK", "HIDDEN", "course_page", "feedback_html", "is_course_page",
           "problem_html", "resubmit_advice", "strip_hidden", "write_feedback", "write_page"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def strip_hidden(source: str) -> str:
    """The visible part of a test cell; hidden regions become one comment line."""
    return HIDDEN.sub(HIDDEN_NOTE, source)


_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")


def _merged_streams(outputs: list) -> list:
    """Consecutive stream outputs of one name as one: how a kernel splits what a
    cell prints depends on when it flushes, so the page must not."""
    merged: list = []
    for output in outputs:
        if (output.output_type == "stream" and merged
                and merged[-1].output_type == "stream" and merged[-1].name == output.name):
            merged[-1] = nbformat.NotebookNode(output_type="stream", name=output.name,
                                               text=merged[-1].text + output.text)
        else:
            merged.append(output)
    return merged


def outputs_html(cell: nbformat.NotebookNode, secret: list[str] | None = None) -> Markup:
    """What a student may see of a cell's outputs, as HTML (feedback_outputs.html.j2)."""
    shown = []
    for output in _merged_streams(feedback_outputs(cell, secret or [])):
        kind = output.output_type
        if kind == "stream":
            shown.append(("text", _ANSI.sub("", output.text)[-5000:], ""))
        elif kind == "error":
            # Type and message only: the traceback would show hidden test lines.
            shown.append(("error", _ANSI.sub("", f"{output.ename}: {output.evalue}")[-5000:], ""))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "image/png" in data:
                png = data["image/png"]
                png = png if isinstance(png, str) else base64.b64encode(png).decode()
                if _BASE64.fullmatch(png):  # anything else is not an image: leave it out
                    alt = redact(figure_alt(cell, data), secret or [])
                    shown.append(("image", "".join(png.split()), alt))
            elif "text/plain" in data:
                shown.append(("text", data["text/plain"][-5000:], ""))
    return Markup(render_template("feedback_outputs.html.j2", outputs=shown))


@dataclass
class _Cell:
    """One cell of the notebook as its feedback page shows it (feedback.html.j2)."""

    markdown: Markup | None = None  # a markdown cell, as HTML
    source: str = ""                # a code cell's code; a test cell's visible part
    outputs: Markup = Markup()
    grade_id: str = ""
    result: CellGrade | None = None  # a test cell's score in the result
    status: str = ""                # "pass" or "fail"
    message: str = ""               # why the grader zeroed a test cell that ran clean
    answer: bool = False            # a cell the student wrote (nbgrader's solution cell)
    # An answer cell: the test cells that judge it, whose verdicts the page shows beside it.
    verdicts: list[_Cell] = dataclasses.field(default_factory=list)
    verdict: Markup = Markup()       # a test cell's outputs, shown beside its answer instead
    judged: bool = False            # a test cell whose verdict is beside its answer


def _cells(notebook: nbformat.NotebookNode, scores: dict[str, CellGrade],
           secret: list[str]) -> list[_Cell]:
    shown = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            shown.append(_Cell(markdown=markdown_html(cell.source, cell.get("attachments"))))
            continue
        if cell.cell_type != "code":
            continue
        code = _Cell(source=strip_hidden(cell.source) if meta.get("grade") else cell.source,
                     outputs=outputs_html(cell, secret), answer=bool(meta.get("solution")))
        grade_id = meta.get("grade_id")
        if meta.get("grade") and grade_id in scores:
            c = scores[grade_id]
            code.grade_id, code.result = grade_id, c
            code.status = "pass" if c.score >= c.max_score else "fail"
            if code.status == "fail" and c.message and not cell_failed(cell):
                # It ran clean and the grader's reading of the code zeroed it: the
                # reason is the result's, or nowhere (what a test cell wrote stays hidden).
                code.message = redact(c.message, secret)
        shown.append(code)
    _place_verdicts(shown)
    return shown


def _place_verdicts(cells: list[_Cell]) -> None:
    """Each test cell's verdict beside the answer cell it judges: the closest answer
    cell above it with only code between (a student reads the message where they
    fix the code). A test with no such answer keeps its verdict in place."""
    answer = None
    for cell in cells:
        if cell.markdown is not None:
            answer = None
        elif cell.answer and cell.result is None:
            answer = cell
        elif cell.result is not None and not cell.answer and answer is not None:
            cell.verdict, cell.outputs, cell.judged = cell.outputs, Markup(), True
            answer.verdicts.append(cell)


def feedback_html(notebook: nbformat.NotebookNode, result: GradeResult,
                  assignment: Assignment, course_title: str) -> str:
    """One student's feedback page for one assignment."""
    scores = {c.grade_id: c for c in result.cells}
    secret = hidden_lines(notebook)
    return render_template(
        "feedback.html.j2", assignment=assignment, course_title=course_title,
        student=result.student, score=result.score, max_score=result.max_score,
        late=_late_text(result.late), deaths=_deaths(result.kernel_deaths, secret),
        notes=[redact(n, secret) for n in result.notes],
        scores=scores, cells=_cells(notebook, scores, secret))


def _deaths(deaths: list[KernelDeath], secret: list[str]) -> list[KernelDeath]:
    """Each cell that killed the kernel, its first line redacted as any output is."""
    return [dataclasses.replace(death, first_line=redact(death.first_line, secret)
                                if death.first_line else "") for death in deaths]


def resubmit_advice(code: Reason | str, assignment: Assignment) -> str:
    """How a student fixes a rejected submission, from its reason's code
    (``autograder.core.reasons.Reason``, recorded in ``GradeResult.reasons``)."""
    download = ("Open your notebook in JupyterLab, save it (File > Save Notebook), download "
                "it again with File > Download, check that the downloaded file opens, and "
                "resubmit it.")
    advice = {
        Reason.NOT_JSON: ("The file is not a complete notebook: it may be truncated (an upload "
                          "cut short, a copy made while it was being saved) or not a notebook "
                          "at all. " + download),
        Reason.NOT_TEXT: "The file is not a notebook. Submit the .ipynb file itself. " + download,
        Reason.NOT_NOTEBOOK: ("The file is JSON but not a Jupyter notebook (was it edited "
                              "outside JupyterLab?). " + download),
        Reason.TOO_LARGE: ("Clear the notebook's outputs (Edit > Clear Outputs of All Cells in "
                           "JupyterLab), save it, and resubmit it: grading runs every cell "
                           "again."),
        Reason.MISSING_NOTEBOOK: (f"Submit your notebook as {assignment.notebook_file}, the "
                                  "name of the notebook you were given."),
        Reason.SEVERAL_NOTEBOOKS: f"Submit one notebook only: {assignment.notebook_file}.",
    }
    return advice.get(code, "Fix the problem named above and resubmit; ask your instructor if "
                            "it is unclear.")


def problem_html(result: GradeResult, assignment: Assignment, course_title: str,
                 secret: list[str] | None = None) -> str:
    """The page of a submission that was not graded: rejected, or grading crashed."""
    rejected = result.status == Status.REJECTED
    return render_template(
        "feedback_problem.html.j2", assignment=assignment, course_title=course_title,
        student=result.student, rejected=rejected,
        notes=[redact(n, secret or []) for n in result.notes],
        advice=resubmit_advice(next(iter(result.reasons), ""), assignment) if rejected else "",
        max_score=result.max_score)


def _late_text(late: Lateness | None) -> str:
    """One line under the score: when it was submitted, and what lateness cost ("": none)."""
    if late is None or not late.submitted:
        return ""

    def when(iso: str | None) -> str:
        return iso.replace("T", " ")[:16] + " UTC" if iso else "?"

    text = f"Submitted {when(late.submitted)}, due {when(late.due)}"
    if late.extension:
        text += " (with your extension)"
    if late.seconds_late:
        from autograder.record.late import describe

        text += f": {describe(late)}"
        if late.policy:
            text += f" ({late.policy})"
    else:
        text += ": on time"
    return text


#: In the head of every page ``python -m autograder feedback`` writes (feedback_page.html.j2):
#: what tells plain ``nbgrader generate_feedback`` that a page is the course's
#: (``autograder.publish.course_pages``).
COURSE_PAGE_MARK = '<meta name="generator" content="miniflow autograder feedback">'
#: How the course's pages began before they were marked.
_UNMARKED_START = '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Feedback: '


def is_course_page(start: str) -> bool:
    """Whether a page that begins with ``start`` (its first few KB) is one
    ``python -m autograder feedback`` wrote: the mark in its head, before any
    value a student chose can appear, or the start every course page had
    before it was marked."""
    return COURSE_PAGE_MARK in start.split("</head>", 1)[0] or start.startswith(_UNMARKED_START)


def course_page(course: Course, assignment: Assignment, result: GradeResult) -> str | None:
    """The feedback page of ``result``: the graded notebook with its scores and messages,
    or, for a submission that was not graded, why and what to do (None: a graded
    submission whose notebook is not in ``autograded/``)."""
    who = result.student
    if result.status != Status.GRADED:
        # Rejected or crashed: the student still learns what happened and what to do.
        source = course.root / "source" / assignment.name / assignment.notebook_file
        secret = hidden_lines(nbformat.read(source, as_version=4)) if source.is_file() else []
        return problem_html(result, assignment, course.title, secret)
    autograded = course.root / "autograded" / who / assignment.name / assignment.notebook_file
    if not autograded.is_file():
        return None
    notebook = nbformat.read(autograded, as_version=4)
    return feedback_html(notebook, result, assignment, course.title)


def write_page(course: Course, assignment: Assignment, student: str, page: str) -> Path:
    """Write ``page`` at feedback/<student>/<assignment>/<notebook>.html, with the files
    nbgrader's release_feedback needs beside it; its path."""
    target = course.root / "feedback" / student / assignment.name / f"{assignment.notebook}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    # nbgrader release_feedback publishes the page under a hash of the
    # submission's secret: both files come with the graded submission.
    autograded = course.root / "autograded" / student / assignment.name
    for kept in ("timestamp.txt", "submission_secret.txt"):
        if (autograded / kept).is_file():
            shutil.copyfile(autograded / kept, target.parent / kept)
    return target


def write_feedback(course: Course, assignments: tuple[Assignment, ...],
                   student: str | None = None) -> list[Path]:
    """feedback/<student>/<assignment>/<notebook>.html for every submission.

    Graded ones show their scores and messages; rejected ones say why and how
    to resubmit; ones whose grading crashed say so.
    """
    results = load_results(course)
    written = []
    for assignment in assignments:
        for (name, who), result in sorted(results.items()):
            if name != assignment.name or (student and who != student):
                continue
            page = course_page(course, assignment, result)
            if page is not None:
                written.append(write_page(course, assignment, who, page))
    return written
