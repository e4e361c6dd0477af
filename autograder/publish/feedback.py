"""HTML feedback that shows each student their score and the checks' messages,
but never a test's code, traceback or output.

A test cell shows only its visible part and the message of the check that
failed (the checks' messages are written for students); what the cell
printed or displayed, and every traceback, is dropped, and any output or note
that quotes a line of a hidden test is replaced by a notice (student code
can capture a test cell's source as it runs and print it later). Plain
``nbgrader generate_feedback`` gets the same rules from
``autograder.publish.hidden.HideTests`` (nbgrader_config.py).
"""

from __future__ import annotations

import base64
import html
import re
import shutil
from pathlib import Path

import nbformat

from autograder.core.cells import HIDDEN, HIDDEN_NOTE, cell_failed
from autograder.core.manifest import Assignment, Course
from autograder.core.reasons import Reason, reasons_of
from autograder.publish.hidden import feedback_outputs, hidden_lines, redact
from autograder.record.gradebook import load_results

__all__ = ["HIDDEN", "feedback_html", "problem_html", "resubmit_advice", "strip_hidden",
           "write_feedback"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 58rem; margin: 2rem auto; color: #222;
       line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } .muted { color: #666; }
.summary { font-size: 1.15rem; margin: 1rem 0; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { padding: .25rem .8rem; border-bottom: 1px solid #ddd; text-align: left; }
.cell { margin: 1rem 0; }
pre { background: #f6f8fa; padding: .6rem .8rem; overflow-x: auto; border-radius: 4px;
      margin: .2rem 0; font-size: .85rem; }
.markdown pre { background: none; padding: 0; white-space: pre-wrap; font-family: inherit;
                font-size: 1rem; }
.graded { border-left: 4px solid #888; padding-left: .8rem; }
.pass { border-color: #2a7d2a; } .fail { border-color: #c0392b; }
.badge { font-weight: 600; } .pass .badge { color: #2a7d2a; } .fail .badge { color: #c0392b; }
.error { background: #fdecea; color: #7b1f17; }
.hidden-note { color: #666; font-style: italic; }
.problem { background: #fff4e5; border-left: 4px solid #e67e22; padding: .6rem 1rem;
           margin: 1rem 0; }
img { max-width: 100%; }
"""


def strip_hidden(source: str) -> str:
    """The visible part of a test cell; hidden regions become one comment line."""
    return HIDDEN.sub(HIDDEN_NOTE, source)


def _markdown(text: str) -> str:
    """Markdown to HTML, with any raw HTML in it escaped (shown, never run)."""
    try:
        import mistune
    except ImportError:  # mistune comes with nbconvert; plain text if it ever does not
        return f"<pre>{html.escape(text)}</pre>"
    return mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])(text)


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


def _outputs_html(cell: nbformat.NotebookNode, secret: list[str] | None = None) -> str:
    parts = []
    for output in _merged_streams(feedback_outputs(cell, secret or [])):
        kind = output.output_type
        if kind == "stream":
            parts.append(f"<pre>{html.escape(_ANSI.sub('', output.text)[-5000:])}</pre>")
        elif kind == "error":
            # Type and message only: the traceback would show hidden test lines.
            message = _ANSI.sub("", f"{output.ename}: {output.evalue}")
            parts.append(f'<pre class="error">{html.escape(message[-5000:])}</pre>')
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "image/png" in data:
                png = data["image/png"]
                png = png if isinstance(png, str) else base64.b64encode(png).decode()
                if _BASE64.fullmatch(png):  # anything else is not an image: leave it out
                    parts.append(f'<img alt="figure" src="data:image/png;base64,'
                                 f'{"".join(png.split())}">')
            elif "text/plain" in data:
                parts.append(f"<pre>{html.escape(data['text/plain'][-5000:])}</pre>")
    return "".join(parts)


def feedback_html(notebook: nbformat.NotebookNode, result: dict, assignment: Assignment,
                  course_title: str) -> str:
    """One student's feedback page for one assignment."""
    scores = {c["grade_id"]: c for c in result.get("cells", [])}
    secret = hidden_lines(notebook)
    rows = "".join(
        f"<tr><td>{html.escape(gid)}</td><td>{c['score']:g} / {c['max_score']:g}</td></tr>"
        for gid, c in scores.items())
    body = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            body.append(f'<div class="cell markdown">{_markdown(cell.source)}</div>')
            continue
        if cell.cell_type != "code":
            continue
        source = strip_hidden(cell.source) if meta.get("grade") else cell.source
        block = f"<pre>{html.escape(source)}</pre>{_outputs_html(cell, secret)}"
        grade_id = meta.get("grade_id")
        if meta.get("grade") and grade_id in scores:
            c = scores[grade_id]
            status = "pass" if c["score"] >= c["max_score"] else "fail"
            if status == "fail" and c.get("message") and not cell_failed(cell):
                # It ran clean and the grader's reading of the code zeroed it: the
                # reason is the result's, or nowhere (what a test cell wrote stays hidden).
                block += (f'<pre class="error">'
                          f'{html.escape(redact(c["message"], secret))}</pre>')
            block = (f'<div class="badge">{html.escape(grade_id)}: {c["score"]:g} / '
                     f'{c["max_score"]:g} points</div>{block}')
            body.append(f'<div class="cell graded {status}">{block}</div>')
        else:
            body.append(f'<div class="cell">{block}</div>')
    notes = "".join(f"<li>{html.escape(redact(n, secret))}</li>"
                    for n in result.get("notes", []))
    return (
        _head(assignment, course_title, result["student"])
        + f'<div class="summary">Score: <b>{result["score"]:g} / {result["max_score"]:g}</b></div>'
        + _late_line(result.get("late"))
        + _deaths_html(result.get("kernel_deaths") or [], secret)
        + (f"<ul>{notes}</ul>" if notes else "")
        + f"<table><tr><th>test</th><th>points</th></tr>{rows}</table>"
        + '<p class="hidden-note">Each test cell shows its visible tests and the message of '
          "the first check that failed. Hidden tests are not shown.</p>"
        + "".join(body) + "</body></html>\n")


def _head(assignment: Assignment, course_title: str, student: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Feedback: {html.escape(assignment.title)}</title><style>{_STYLE}</style>"
            f"</head><body><h1>{html.escape(assignment.title)}</h1>"
            f'<div class="muted">{html.escape(course_title)} &middot; student '
            f"{html.escape(student)}</div>")


def _deaths_html(deaths: list[dict], secret: list[str]) -> str:
    """A box naming each cell that killed the kernel, and what it meant for the grade."""
    if not deaths:
        return ""
    items = []
    for death in deaths:
        where = f"cell {html.escape(str(death.get('cell')))}"
        if death.get("grade_id"):
            where += f" (the test {html.escape(str(death['grade_id']))})"
        elif death.get("first_line"):
            start = html.escape(redact(str(death["first_line"]), secret))
            where += f" (the cell that starts <code>{start}</code>)"
        verb = "while re-running " if death.get("while_replaying") else "while running "
        after = ("The test cells before it kept their points; the cells after it were graded "
                 "in a fresh kernel, after re-running the cells before it (without this one)."
                 if death.get("restarted") else
                 "The test cells before it kept their points; the cells after it could not be "
                 "run and score nothing.")
        items.append(f"<li>The kernel (the Python process running your notebook) died {verb}"
                     f"{where}: {html.escape(str(death.get('reason', '')))}. {after}</li>")
    return ('<div class="problem"><b>Your notebook stopped the kernel.</b><ul>'
            + "".join(items) + "</ul>Run the notebook top to bottom in JupyterLab "
            "(Kernel &gt; Restart Kernel and Run All Cells) to see it happen; look for "
            "<code>exit()</code>, <code>os._exit()</code>, a loop that builds an enormous "
            "list, or a recursion without end in that cell.</div>")


def resubmit_advice(code: str, assignment: Assignment) -> str:
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


def problem_html(result: dict, assignment: Assignment, course_title: str,
                 secret: list[str] | None = None) -> str:
    """The page of a submission that was not graded: rejected, or grading crashed."""
    notes = [redact(n, secret or []) for n in result.get("notes", [])]
    listed = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    if result.get("status") == "rejected":
        code = next(iter(reasons_of(result)), "")
        body = ('<div class="problem"><b>Your submission could not be graded.</b>'
                f"<ul>{listed}</ul><p><b>How to resubmit:</b> "
                f"{html.escape(resubmit_advice(code, assignment))}</p></div>"
                f'<div class="summary">Score: <b>none yet</b> (0 / '
                f'{result.get("max_score", assignment.points):g} until you resubmit)</div>')
    else:
        body = ('<div class="problem"><b>Grading your submission failed.</b>'
                f"<ul>{listed}</ul><p>Your instructor has been told and will look at it; "
                "you do not need to do anything unless they ask you to.</p></div>")
    return _head(assignment, course_title, result["student"]) + body + "</body></html>\n"


def _late_line(late: dict | None) -> str:
    """One line under the score: when it was submitted, and what lateness cost."""
    if not late or not late.get("submitted"):
        return ""

    def when(iso: str | None) -> str:
        return iso.replace("T", " ")[:16] + " UTC" if iso else "?"

    text = f"Submitted {when(late['submitted'])}, due {when(late.get('due'))}"
    if late.get("extension"):
        text += " (with your extension)"
    if late.get("seconds_late"):
        from autograder.record.late import describe

        text += f": {describe(late)}"
        if late.get("policy"):
            text += f" ({late['policy']})"
    else:
        text += ": on time"
    return f'<div class="late">{html.escape(text)}</div>'


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
            autograded = (course.root / "autograded" / who / name / assignment.notebook_file)
            if result["status"] != "graded":
                # Rejected or crashed: the student still learns what happened and what to do.
                source = course.root / "source" / name / assignment.notebook_file
                secret = hidden_lines(nbformat.read(source, as_version=4)) \
                    if source.is_file() else []
                page = problem_html(result, assignment, course.title, secret)
            elif autograded.is_file():
                notebook = nbformat.read(autograded, as_version=4)
                page = feedback_html(notebook, result, assignment, course.title)
            else:
                continue
            target = course.root / "feedback" / who / name / f"{assignment.notebook}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(page, encoding="utf-8")
            # nbgrader release_feedback publishes the page under a hash of the
            # submission's secret: both files come with the graded submission.
            for kept in ("timestamp.txt", "submission_secret.txt"):
                if (autograded.parent / kept).is_file():
                    shutil.copyfile(autograded.parent / kept, target.parent / kept)
            written.append(target)
    return written
