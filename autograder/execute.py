"""Run a notebook in a fresh kernel and score its graded cells as nbgrader would.

This is the fast path of the self-check: the solution notebook is run with
one solution cell swapped for a mutant, and the graded cells are scored with
nbgrader's own rule (``nbgrader.utils.determine_grade``: an error or any
stderr output scores zero). Real grading goes through ``nbgrader autograde``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["CellResult", "NotebookRun", "run_notebook", "error_message"]


@dataclass(frozen=True)
class CellResult:
    grade_id: str
    points: float
    max_points: float
    message: str = ""


@dataclass
class NotebookRun:
    cells: list[CellResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(c.points for c in self.cells)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.cells)

    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.points < c.max_points]


def error_message(cell: nbformat.NotebookNode) -> str:
    """The first error of a cell as ``Name: message`` (stderr text if no error)."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return f"{output.ename}: {output.evalue}"
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stderr":
            return "wrote to stderr: " + output.text.strip().splitlines()[-1][:300]
    return ""


def run_notebook(path: str | Path, replacements: Mapping[str, str] | None = None, *,
                 timeout: int = 30, kernel_name: str = "python3",
                 sandbox: str = "auto") -> NotebookRun:
    """Execute ``path`` (with cells whose grade id is a key replaced) and score it.

    The kernel runs in the grading sandbox (``sandbox``: auto, bwrap or none).
    """
    from nbclient import NotebookClient
    from nbgrader.utils import determine_grade, is_grade

    from autograder.kernels import kernel_config

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    replacements = dict(replacements or {})
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in replacements:
            cell.source = replacements.pop(grade_id)
    if replacements:
        raise KeyError(f"{path.name} has no cells with grade id {sorted(replacements)}")
    client = NotebookClient(notebook, config=kernel_config(sandbox), timeout=timeout,
                            kernel_name=kernel_name,
                            allow_errors=True, interrupt_on_timeout=True, record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    run = NotebookRun()
    for cell in notebook.cells:
        if cell.cell_type == "code" and is_grade(cell):
            points, max_points = determine_grade(cell)
            run.cells.append(CellResult(cell.metadata.nbgrader["grade_id"], points or 0.0,
                                        max_points, error_message(cell)))
    return run
