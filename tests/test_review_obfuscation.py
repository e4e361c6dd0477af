"""The static review names the line a student sees."""

from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.review import review_submission

ROOT = Path(__file__).resolve().parents[1]
SOURCE = nbformat.read(ROOT / "source" / "02_layers" / "layers.ipynb", as_version=4)


def _with_linear(code: str, source: nbformat.NotebookNode = SOURCE) -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(source)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "linear":
            cell.source = code
    return notebook


def test_a_flag_names_the_cells_own_line_after_leading_blank_lines():
    # IPython drops leading blank lines before the review parses a cell.
    code = "\n\n   \n# my layer\nimport os\n\nclass Linear(mf.Linear):\n    pass\n"
    lines = review_submission(_with_linear(code), SOURCE).lines()
    assert "linear, line 5: imports os" in lines, lines
    assert "linear, line 7: `Linear` inherits miniflow's reference `Linear`" in lines, lines
    broken = review_submission(_with_linear("\n\nclass Linear(:\n"), SOURCE)
    assert [(f.rule, f.line) for f in broken.flags] == [("syntax", 3)]
