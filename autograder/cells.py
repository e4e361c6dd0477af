"""What a notebook cell is to nbgrader: the one rule, used by every part of the grader.

nbgrader marks cells in ``metadata.nbgrader``: ``grade`` (it carries points),
``solution`` (the student writes in it), ``grade_id`` (its name). A **test
cell** is a graded code cell the student does not write: the instructor's
tests, whose first output nbgrader scores.
"""

from __future__ import annotations

from typing import Any

__all__ = ["graded_cell_ids", "is_graded", "is_test_cell", "nbgrader_meta"]


def nbgrader_meta(cell: Any) -> dict:
    """The cell's ``metadata.nbgrader`` ({} when it has none)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def is_graded(cell: Any) -> bool:
    """Whether the cell carries points (a test cell, or an answer graded by hand)."""
    return bool(nbgrader_meta(cell).get("grade"))


def is_test_cell(cell: Any) -> bool:
    """Whether the cell is a test cell: graded code that is not the student's to write."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and \
        cell.get("cell_type") == "code"


def graded_cell_ids(notebook: Any) -> list[str]:
    """The ``grade_id`` of every graded cell, in order."""
    return [str(nbgrader_meta(c)["grade_id"]) for c in notebook.cells
            if is_graded(c) and "grade_id" in nbgrader_meta(c)]
