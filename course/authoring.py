"""Write nbgrader notebooks from Python, with the metadata spelled out once.

Each course notebook is written as a short Python script in
``course/notebooks/`` (reviewable in a diff, unlike ``.ipynb`` JSON); the
script fills a module-level ``notebook`` and ``python -m course.build``
turns it into ``source/<assignment>/<notebook>.ipynb``, runs it, and
regenerates the student release. A test fails when a committed notebook no
longer matches its script.

    notebook = NotebookBuilder()
    notebook.markdown("# Title")
    notebook.given("setup", "import numpy as np")            # read-only code
    notebook.solution("mul", "class Mul(Node): ...")         # ### BEGIN/END SOLUTION
    notebook.test("test_mul_forward", 2, "assert ...")       # graded, locked

A cell may also be the text of library code, where the library holds the
reference (``source_of``): ``notebook.solution("tensor", source_of(Tensor))``.
The code is then written in the notebook's style, and an exercise's
``### BEGIN/END SOLUTION`` markers are comments in the library's file.
"""

from __future__ import annotations

import copy
import inspect
import textwrap
from pathlib import Path
from typing import Any

import nbformat

SCHEMA_VERSION = 3
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

# The hidden region of every test cell: it runs nowhere. The judge grades.
JUDGED = ("### BEGIN HIDDEN TESTS\n"
          "# Graded by the judge (autograder/judge/): the questions above, asked on\n"
          "# inputs drawn from the course's secret, outside the student's kernel.\n"
          "### END HIDDEN TESTS")


def _nbgrader(grade_id: str, *, grade: bool, solution: bool, locked: bool,
              points: float | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": locked,
                            "schema_version": SCHEMA_VERSION, "solution": solution,
                            "task": False}
    if points is not None:
        meta["points"] = points
    return meta


class NotebookBuilder:
    """Collects cells; ``save`` writes a notebook with deterministic cell ids."""

    def __init__(self, *, id_prefix: str = "") -> None:
        # nbgrader prepends the header notebook's cells, so the header uses a
        # prefix to keep cell ids unique (a clash makes nbgrader pick a random id).
        self.cells: list[Any] = []
        self._ids: set[str] = set()
        self.id_prefix = id_prefix

    def _add(self, cell: Any, cell_id: str) -> None:
        if cell_id in self._ids:
            raise ValueError(f"duplicate cell id {cell_id!r}")
        self._ids.add(cell_id)
        cell["id"] = self.id_prefix + cell_id
        self.cells.append(cell)

    @staticmethod
    def _clean(text: str) -> str:
        return textwrap.dedent(text).strip("\n")

    def markdown(self, text: str) -> None:
        """Teaching text (editable by students, not graded)."""
        self._add(nbformat.v4.new_markdown_cell(self._clean(text)), f"md-{len(self.cells):02d}")

    def code(self, source: str, *, tags: list[str] | None = None) -> None:
        """An ordinary code cell students may edit (demos, experiments)."""
        cell = nbformat.v4.new_code_cell(self._clean(source))
        if tags:
            cell.metadata["tags"] = tags
        self._add(cell, f"code-{len(self.cells):02d}")

    def given(self, grade_id: str, source: str, *, tags: list[str] | None = None) -> None:
        """Given code in a read-only cell (nbgrader restores it if edited)."""
        cell = nbformat.v4.new_code_cell(self._clean(source))
        cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=False, solution=False,
                                              locked=True)
        cell.metadata["editable"] = False
        cell.metadata["deletable"] = False
        if tags:
            cell.metadata["tags"] = tags
        self._add(cell, grade_id)

    def solution(self, grade_id: str, source: str) -> None:
        """An exercise: the part between ### BEGIN/END SOLUTION becomes a stub."""
        text = self._clean(source)
        if "### BEGIN SOLUTION" not in text or "### END SOLUTION" not in text:
            raise ValueError(f"solution cell {grade_id!r} has no ### BEGIN/END SOLUTION")
        cell = nbformat.v4.new_code_cell(text)
        cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=False, solution=True,
                                              locked=False)
        self._add(cell, grade_id)

    def test(self, grade_id: str, points: float, source: str) -> None:
        """A graded test cell: the visible asserts of ``source``, then the judge's own
        questions for the test (``checks.as_graded``), then a hidden region that says
        where the grade comes from.

        The grade is the judge's (``autograder/judge``), asked what
        ``autograder/judge/plans.py`` declares for ``grade_id`` on secret inputs, outside
        the student's kernel; the visible part asks the same questions on public
        inputs, so the two cannot drift. A test's source holds no hidden tests.
        """
        text = self._clean(source)
        if "HIDDEN TESTS" in text:
            raise ValueError(f"test cell {grade_id!r} has hidden tests: the judge grades it "
                             "(declare what it asks in autograder/judge/plans.py's plans)")
        last = text.splitlines()[-1] if text else ""
        if last and not last.startswith((" ", "#")) and _looks_like_expression(last):
            raise ValueError(f"test cell {grade_id!r} ends in an expression; nbgrader would "
                             "read its value as partial credit. End it in a statement.")
        imports = "" if "from autograder import checks" in text else \
            "from autograder import checks\n\n"
        text = (f"{text}\n# The grader's own questions for this test (on other inputs when "
                f"grading).\n{imports}checks.as_graded({grade_id!r}, globals())\n"
                f"{JUDGED}")
        cell = nbformat.v4.new_code_cell(text)
        cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=True, solution=False,
                                              locked=True, points=points)
        cell.metadata["editable"] = False
        cell.metadata["deletable"] = False
        self._add(cell, grade_id)

    def to_notebook(self) -> nbformat.NotebookNode:
        """A validated notebook (a deep copy: the builder can be reused)."""
        notebook = nbformat.v4.new_notebook()
        notebook.nbformat_minor = 5
        notebook.cells = copy.deepcopy(self.cells)
        notebook.metadata["kernelspec"] = dict(KERNELSPEC)
        notebook.metadata["language_info"] = {"name": "python"}
        nbformat.validate(notebook)
        return notebook

    @property
    def points(self) -> float:
        """The total points of the graded cells."""
        return sum(c.metadata["nbgrader"].get("points", 0) for c in self.cells
                   if c.metadata.get("nbgrader", {}).get("grade"))

    def save(self, path: str | Path) -> Path:
        """Write the notebook, without outputs, to ``path``."""
        notebook = self.to_notebook()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, path)
        return path


def source_of(*objects: Any) -> str:
    """The source text of classes and functions, two blank lines apart: a cell made
    of library code (``inspect.getsource``: comments such as nbgrader's markers are
    kept)."""
    return "\n\n".join(inspect.getsource(item) for item in objects)


def _looks_like_expression(line: str) -> bool:
    import ast

    try:
        tree = ast.parse(line)
    except SyntaxError:
        return False
    return bool(tree.body) and isinstance(tree.body[-1], ast.Expr) and not isinstance(
        tree.body[-1].value, ast.Call)
