"""What a notebook cell is to nbgrader: the one rule, used by every part of the grader.

nbgrader marks cells in ``metadata.nbgrader``: ``grade`` (it carries points),
``solution`` (the student writes in it), ``grade_id`` (its name). A **test
cell** is a graded code cell the student does not write: the instructor's
tests, whose first output nbgrader scores.
"""

from __future__ import annotations

import re
from typing import Any

from nbformat import NotebookNode

__all__ = ["DEATHS_KEY", "HIDDEN", "HIDDEN_NOTE", "cell_failed", "error_output", "graded_cell_ids",
           "is_graded", "is_test_cell", "nbgrader_meta"]


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


def cell_failed(cell: Any) -> bool:
    """nbgrader's rule: an error or anything on stderr fails a cell."""
    return any(o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
               for o in cell.get("outputs", []))


# -- what the grader writes into notebooks ------------------------------------

#: A test cell's hidden region: run when grading, never shown to a student.
HIDDEN = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.DOTALL)
HIDDEN_NOTE = "# (hidden tests run here when grading)\n"
# Notebook metadata key where SandboxedExecute records each kernel death.
DEATHS_KEY = "autograder_kernel_deaths"


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An error output, as a kernel would have sent it (one line of traceback)."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])
