"""What a student may see of a graded notebook: no hidden test, and no output that quotes one."""

from __future__ import annotations

from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool

from autograder.core.cells import HIDDEN, HIDDEN_NOTE, error_output, is_test_cell


def hidden_lines(nb: NotebookNode) -> list[str]:
    """The distinctive lines of every hidden test region (to recognise them if quoted).

    A line that also appears outside the hidden regions (``from autograder
    import checks`` in a visible test, say), whole or as part of a line, is
    in the students' own notebook, so it is no secret and does not count.
    """
    def flat(text: str) -> list[str]:
        return [" ".join(line.split()) for line in text.splitlines()]

    public = "\n".join(line for cell in nb.cells
                        for line in flat(HIDDEN.sub("", cell.get("source", ""))))
    lines = []
    for cell in nb.cells:
        for region in HIDDEN.findall(cell.get("source", "")):
            for text in flat(region):
                if len(text) >= 12 and "HIDDEN TESTS" not in text and text not in public:
                    lines.append(text)
    return lines


def redact(text: str, secret_lines: list[str]) -> str:
    """``text``, or a notice if it quotes a line of a hidden test."""
    flat = " ".join(text.split())
    if any(line in flat for line in secret_lines):
        return "[not shown: this output quoted hidden test code]"
    return text


def feedback_outputs(cell: NotebookNode, secret_lines: list[str]) -> list[NotebookNode]:
    """What a student may see of a cell's outputs."""
    if is_test_cell(cell):
        # A test cell: its failure message, nothing it printed or displayed.
        return [error_output(o.ename, redact(o.evalue, secret_lines)[-2000:])
                for o in cell.get("outputs", []) if o.output_type == "error"]
    shown = []
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            shown.append(error_output(output.ename, redact(output.evalue, secret_lines)))
        elif output.output_type == "stream":
            shown.append(NotebookNode(output_type="stream", name=output.name,
                                      text=redact(output.text, secret_lines)))
        else:
            data = output.get("data", {})
            texts = " ".join(v for v in data.values() if isinstance(v, str) and len(v) < 10 ** 5)
            if redact(texts, secret_lines) != texts:
                shown.append(NotebookNode(output_type="stream", name="stdout",
                                          text="[not shown: this output quoted hidden test "
                                               "code]"))
            else:
                shown.append(output)
    return shown


class HideTests(Preprocessor):
    """generate_feedback: no hidden test, no test traceback, no test output in feedback."""

    enabled = Bool(True)  # nbconvert's preprocessors start disabled

    def preprocess(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        secret = hidden_lines(nb)
        for cell in nb.cells:
            if is_test_cell(cell):
                cell.source = HIDDEN.sub(HIDDEN_NOTE, cell.source)
            if cell.cell_type == "code":
                cell.outputs = feedback_outputs(cell, secret)
        return nb, resources

