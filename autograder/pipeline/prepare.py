"""Checking a submission before nbgrader sees it: found, readable, a notebook, not too large.

Submissions are checked before nbgrader sees them (not JSON, not a
notebook, missing, renamed, extra files) and are only ever copied: the files
in ``submitted/`` are never modified. ``prepare_submission`` says which
notebook to grade, or why none can be: the rule is
``autograder.record.submission.check_submission``, the one plain ``nbgrader
autograde`` asks too; this adds what ``grade`` notes beside it (graded cells
deleted, test cells edited).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.core.cells import graded_cell_ids, is_test_cell, nbgrader_meta
from autograder.core.manifest import Assignment
from autograder.record.submission import Checked, check_submission

__all__ = ["Prepared", "prepare_submission"]


@dataclass
class Prepared(Checked):
    """A submission checked and ready to copy, or the reason it cannot be graded."""

    deleted: list[str] = field(default_factory=list)  # graded cells no longer there
    edited: list[str] = field(default_factory=list)  # test cells whose code was changed


def prepare_submission(folder: Path, assignment: Assignment,
                       source: Path | None = None) -> Prepared:
    """Find and check the notebook in ``submitted/<student>/<assignment>/``.

    A missing notebook with exactly one other notebook beside it is taken as
    renamed (and noted); anything that is not a readable notebook is
    rejected with the reason (``check_submission``). With ``source`` (the
    instructor's notebook), the graded cells deleted and the test cells
    edited are listed too.
    """
    checked = check_submission(folder, assignment.notebook_file)
    prepared = Prepared(checked.notebook, checked.notes, checked.reason, checked.code,
                        checked.parsed)
    notebook = checked.parsed
    if notebook is None or source is None or not source.is_file():
        return prepared
    present = set(graded_cell_ids(notebook))
    original = nbformat.read(source, as_version=4)
    prepared.deleted = [g for g in graded_cell_ids(original) if g not in present]
    tests = {nbgrader_meta(c)["grade_id"]: c.source for c in original.cells if is_test_cell(c)}
    for cell in notebook.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in tests and grade_id not in prepared.edited and \
                _visible(cell.get("source", "")) != _visible(tests[grade_id]):
            prepared.edited.append(str(grade_id))
    return prepared


def _visible(source: str) -> str:
    """A test cell's code as the student's copy holds it (nbgrader releases it without
    the hidden region), whitespace at the ends aside."""
    from autograder.core.cells import HIDDEN

    return HIDDEN.sub("", source).strip()
