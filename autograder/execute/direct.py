"""Run a notebook in a fresh kernel and score its graded cells as nbgrader would.

This is the fast path of the self-check: the solution notebook is run with
one solution cell swapped for a mutant, and the graded cells are scored with
nbgrader's own rule (``nbgrader.utils.determine_grade``: an error or any
stderr output scores zero). Real grading goes through ``nbgrader autograde``.

Each test cell runs as two cells, its visible part and then its hidden part
(``### BEGIN HIDDEN TESTS`` to the end), so that one run tells both what the
student would have seen before submitting (the visible tests, plus any other
cell that fails) and what the grade would be. The hidden part runs in the
same kernel right after the visible one, so it sees everything the visible
part defined; the cell scores zero when either part fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["CellResult", "NotebookRun", "run_notebook", "error_message"]


HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


@dataclass(frozen=True)
class CellResult:
    grade_id: str
    points: float
    max_points: float
    message: str = ""


def split_hidden(source: str) -> tuple[str, str]:
    """A test cell's source as (visible part, hidden part); the markers are dropped."""
    lines = source.splitlines()
    visible, hidden, inside = [], [], False
    for line in lines:
        if line.strip() == HIDDEN_BEGIN:
            inside = True
        elif line.strip() == HIDDEN_END:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible).rstrip("\n"), "\n".join(hidden).strip("\n")


@dataclass
class NotebookRun:
    cells: list[CellResult] = field(default_factory=list)
    #: failures a student sees before submitting: a visible test part, or any
    #: other code cell (the solution cell itself, a demo) that raised
    seen: list[str] = field(default_factory=list)

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

    from autograder.sandbox.kernels import kernel_config

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    replacements = dict(replacements or {})
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in replacements:
            cell.source = replacements.pop(grade_id)
    if replacements:
        raise KeyError(f"{path.name} has no cells with grade id {sorted(replacements)}")
    hidden_parts: dict[int, nbformat.NotebookNode] = {}
    cells = []
    for cell in notebook.cells:
        cells.append(cell)
        if cell.cell_type == "code" and is_grade(cell):
            visible, hidden = split_hidden(cell.source)
            cell.source = visible
            hidden_parts[id(cell)] = nbformat.v4.new_code_cell(hidden)
            cells.append(hidden_parts[id(cell)])
    notebook.cells = cells
    client = NotebookClient(notebook, config=kernel_config(sandbox), timeout=timeout,
                            kernel_name=kernel_name,
                            allow_errors=True, interrupt_on_timeout=True, record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    run = NotebookRun()
    hidden_ids = {id(part) for part in hidden_parts.values()}
    for cell in notebook.cells:
        if cell.cell_type != "code" or id(cell) in hidden_ids:
            continue
        seen = error_message(cell)
        if is_grade(cell):
            points, max_points = determine_grade(cell)
            hidden = error_message(hidden_parts[id(cell)])
            if hidden:
                points = 0.0
            grade_id = cell.metadata.nbgrader["grade_id"]
            run.cells.append(CellResult(grade_id, points or 0.0, max_points, seen or hidden))
        else:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "a code cell")
        if seen:
            run.seen.append(f"{grade_id}: {seen}")
    return run
