"""Checking a submission before nbgrader sees it: found, readable, a notebook, not too large.

Submissions are checked before nbgrader sees them (not JSON, not a
notebook, missing, renamed, extra files) and are only ever copied: the files
in ``submitted/`` are never modified. ``prepare_submission`` says which
notebook to grade, or why none can be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.core.cells import graded_cell_ids, is_test_cell, nbgrader_meta
from autograder.core.manifest import Assignment
from autograder.core.reasons import Reason

__all__ = ["MAX_SUBMISSION_BYTES", "Prepared", "prepare_submission"]


@dataclass
class Prepared:
    """A submission checked and ready to copy, or the reason it cannot be graded."""

    notebook: Path | None
    notes: list[str]
    reason: str = ""  # in words, for people
    code: Reason | None = None  # the reason as a code
    deleted: list[str] = field(default_factory=list)  # graded cells no longer there
    edited: list[str] = field(default_factory=list)  # test cells whose code was changed


# What collect keeps beside a notebook: the submission time, the exchange's secret
# (release_feedback needs it), the LMS's "late" marker. Not extra files.
_KEPT_BESIDE = ("timestamp.txt", "submission_secret.txt", "lms_late.txt")


# The largest notebook file taken for grading: an exercise notebook, saved with its
# outputs and figures, is well under a megabyte; one of hundreds of megabytes
# would cost the grader its memory before any cell runs.
MAX_SUBMISSION_BYTES = 32 << 20


def prepare_submission(folder: Path, assignment: Assignment,
                       source: Path | None = None) -> Prepared:
    """Find and check the notebook in ``submitted/<student>/<assignment>/``.

    A missing notebook with exactly one other notebook beside it is taken as
    renamed (and noted); anything that is not a readable notebook is
    rejected with the reason.
    """
    expected = folder / assignment.notebook_file
    notes: list[str] = []
    if not folder.is_dir():
        return Prepared(None, notes, f"no submission folder {folder}", Reason.NO_FOLDER)
    notebooks = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    others = sorted(p.name for p in folder.iterdir()
                    if p.is_file() and p != expected and p.name not in _KEPT_BESIDE)
    if expected.is_file():
        chosen = expected
    elif len(notebooks) == 1:
        chosen = notebooks[0]
        notes.append(f"notebook was renamed to {chosen.name}; graded it as "
                     f"{assignment.notebook_file}")
        others.remove(chosen.name)
    elif not notebooks:
        return Prepared(None, notes, f"missing notebook: expected {assignment.notebook_file}, "
                        f"found {', '.join(others) or 'nothing'}", Reason.MISSING_NOTEBOOK)
    else:
        return Prepared(None, notes, f"expected {assignment.notebook_file} but found several "
                        f"notebooks ({', '.join(p.name for p in notebooks)}); cannot tell "
                        "which one to grade", Reason.SEVERAL_NOTEBOOKS)
    if others:
        notes.append(f"ignored extra files: {', '.join(others)}")
    size = chosen.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        from autograder.sandbox.bubblewrap import format_size

        return Prepared(None, notes, f"{chosen.name} is {format_size(size)}, larger than the "
                        f"{format_size(MAX_SUBMISSION_BYTES)} a submitted notebook may be "
                        "(its saved outputs are what usually makes a notebook large)",
                        Reason.TOO_LARGE)
    try:
        text = chosen.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return Prepared(None, notes, f"{chosen.name} is not a text file (is it a notebook?)",
                        Reason.NOT_TEXT)
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return Prepared(None, notes, f"{chosen.name} is not valid JSON ({error.msg}: line "
                        f"{error.lineno}); it may be truncated or not a notebook",
                        Reason.NOT_JSON)
    except RecursionError:  # thousands of nested brackets: no notebook looks like that
        return Prepared(None, notes, f"{chosen.name} is JSON but not a valid notebook: it is "
                        "nested thousands of levels deep", Reason.NOT_NOTEBOOK)
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several types
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        return Prepared(None, notes, f"{chosen.name} is JSON but not a valid notebook: {first}",
                        Reason.NOT_NOTEBOOK)
    deleted, edited = [], []
    if source is not None and source.is_file():
        present = set(graded_cell_ids(notebook))
        original = nbformat.read(source, as_version=4)
        deleted = [g for g in graded_cell_ids(original) if g not in present]
        tests = {nbgrader_meta(c)["grade_id"]: c.source for c in original.cells
                 if is_test_cell(c)}
        for cell in notebook.cells:
            grade_id = nbgrader_meta(cell).get("grade_id")
            if grade_id in tests and grade_id not in edited and \
                    _visible(cell.get("source", "")) != _visible(tests[grade_id]):
                edited.append(str(grade_id))
    return Prepared(chosen, notes, deleted=deleted, edited=edited)


def _visible(source: str) -> str:
    """A test cell's code as the student's copy holds it (nbgrader releases it without
    the hidden region), whitespace at the ends aside."""
    from autograder.core.cells import HIDDEN

    return HIDDEN.sub("", source).strip()
