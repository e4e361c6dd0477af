"""Which submitted notebook can be graded, or why none can: one rule for both paths.

``python -m autograder grade`` (``autograder.pipeline.prepare``) and plain
``nbgrader autograde`` (``autograder.execute.exporter.CourseHeldExporter``,
named in nbgrader_config.py) both ask ``check_submission`` about
``submitted/<student>/<assignment>/``, and both turn a rejection into the same
record with ``rejected_result``: status ``rejected``, the reason in words and
as a code (``autograder.core.reasons``), the submission time and what its
lateness would cost, and no grade in the gradebook
(``autograder.record.gradebook.record_results`` writes it). A rejected
notebook is never handed to nbgrader, so it is never "graded, 0" with empty
cells. The files in ``submitted/`` are only read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat

from autograder.core.manifest import Assignment, Course
from autograder.core.reasons import Reason
from autograder.core.results import GradeResult, Status

__all__ = ["KEPT_BESIDE", "MAX_SUBMISSION_BYTES", "Checked", "apply_lateness",
           "check_submission", "rejected_result", "submission_time"]


# What collect keeps beside a notebook: the submission time, the exchange's secret
# (release_feedback needs it), the LMS's "late" marker. Not extra files.
KEPT_BESIDE = ("timestamp.txt", "submission_secret.txt", "lms_late.txt")

# The largest notebook file taken for grading: an exercise notebook, saved with its
# outputs and figures, is well under a megabyte; one of hundreds of megabytes
# would cost the grader its memory before any cell runs.
MAX_SUBMISSION_BYTES = 32 << 20


@dataclass
class Checked:
    """A submission's notebook, checked: the file to grade, or the reason it cannot be."""

    notebook: Path | None
    notes: list[str]
    reason: str = ""  # in words, for people
    code: Reason | None = None  # the reason as a code
    # the notebook as read (None when rejected): the check reads it once
    parsed: nbformat.NotebookNode | None = field(default=None, repr=False)


def check_submission(folder: Path, notebook_file: str) -> Checked:
    """Find and check the notebook in ``submitted/<student>/<assignment>/``.

    ``notebook_file`` is the name the assignment's notebook has
    (``Assignment.notebook_file``). A missing notebook with exactly one other
    notebook beside it is taken as renamed (and noted); anything that is not
    a readable notebook is rejected with the reason.
    """
    expected = folder / notebook_file
    notes: list[str] = []
    if not folder.is_dir():
        return Checked(None, notes, f"no submission folder {folder}", Reason.NO_FOLDER)
    notebooks = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    others = sorted(p.name for p in folder.iterdir()
                    if p.is_file() and p != expected and p.name not in KEPT_BESIDE)
    if expected.is_file():
        chosen = expected
    elif len(notebooks) == 1:
        chosen = notebooks[0]
        notes.append(f"notebook was renamed to {chosen.name}; graded it as {notebook_file}")
        others.remove(chosen.name)
    elif not notebooks:
        return Checked(None, notes, f"missing notebook: expected {notebook_file}, "
                       f"found {', '.join(others) or 'nothing'}", Reason.MISSING_NOTEBOOK)
    else:
        return Checked(None, notes, f"expected {notebook_file} but found several "
                       f"notebooks ({', '.join(p.name for p in notebooks)}); cannot tell "
                       "which one to grade", Reason.SEVERAL_NOTEBOOKS)
    if others:
        notes.append(f"ignored extra files: {', '.join(others)}")
    size = chosen.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        from autograder.sandbox.bubblewrap import format_size

        return Checked(None, notes, f"{chosen.name} is {format_size(size)}, larger than the "
                       f"{format_size(MAX_SUBMISSION_BYTES)} a submitted notebook may be "
                       "(its saved outputs are what usually makes a notebook large)",
                       Reason.TOO_LARGE)
    try:
        text = chosen.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return Checked(None, notes, f"{chosen.name} is not a text file (is it a notebook?)",
                       Reason.NOT_TEXT)
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return Checked(None, notes, f"{chosen.name} is not valid JSON ({error.msg}: line "
                       f"{error.lineno}); it may be truncated or not a notebook",
                       Reason.NOT_JSON)
    except RecursionError:  # thousands of nested brackets: no notebook looks like that
        return Checked(None, notes, f"{chosen.name} is JSON but not a valid notebook: it is "
                       "nested thousands of levels deep", Reason.NOT_NOTEBOOK)
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several types
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        return Checked(None, notes, f"{chosen.name} is JSON but not a valid notebook: {first}",
                       Reason.NOT_NOTEBOOK)
    return Checked(chosen, notes, parsed=notebook)


def submission_time(folder: Path, notes: list[str]) -> datetime | None:
    """When the submission was made (its ``timestamp.txt``), or None.

    An unreadable time, or an LMS "late" marker without a time, adds a note
    saying so to ``notes``: no late penalty is guessed.
    """
    from autograder.record.late import read_timestamp

    try:
        moment = read_timestamp(folder / "timestamp.txt")
    except ValueError as error:
        notes.append(f"{error}; graded without a submission time")
        return None
    if moment is None and (folder / "lms_late.txt").is_file():
        notes.append("the LMS marked this submission late, but no submission time was kept, "
                     "so no late penalty was applied (a timestamp.txt beside the notebook "
                     "applies the course's late policy)")
    return moment


def apply_lateness(course: Course, result: GradeResult, moment: datetime | None) -> None:
    """Record how late the submission was and take off the manifest's penalty."""
    from autograder.record.late import lateness

    if moment is None:
        return
    result.late = lateness(course, result.assignment, result.student, moment, result.score)
    result.score = max(0.0, result.score - result.late.penalty)


def rejected_result(course: Course, assignment: Assignment, student: str, folder: Path,
                    checked: Checked, sandbox: str) -> GradeResult:
    """The record of a submission ``check_submission`` rejected, as both paths keep it.

    ``sandbox``: the run's sandbox mode (``bwrap`` or ``none``), as a graded
    result of the same run records it.
    """
    result = GradeResult(student, assignment.name, Status.REJECTED,
                         max_score=assignment.points, notes=[*checked.notes, checked.reason],
                         sandbox=sandbox, reasons=[checked.code] if checked.code else [])
    apply_lateness(course, result, submission_time(folder, result.notes))
    return result
