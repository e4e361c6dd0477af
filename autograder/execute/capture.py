"""What a cell's output may cost the grader: nbclient's output hooks, within a budget.

The budget itself (how much one cell and one notebook may keep) is
``autograder.execute.outputs.OutputBudget``; this is where ``SandboxedExecute``
applies it to each output message as it arrives.
"""

from __future__ import annotations

from typing import Any

from nbformat import NotebookNode

from autograder.execute.outputs import OutputBudget
from autograder.sandbox.bubblewrap import parse_size

__all__ = ["OutputCaptureMixin"]


class OutputCaptureMixin:
    """``SandboxedExecute``'s output handling: every output within the output budget.

    A mixin for ``autograder.execute.preprocessor.SandboxedExecute`` (before
    nbclient's ``NotebookClient`` in its bases): it reads that class's
    ``max_cell_output`` and ``max_notebook_output``, keeps the budget in
    ``self._output`` and overrides nbclient's ``async_execute_cell``,
    ``output``, ``clear_output``, ``_update_display_id`` and ``handle_comm_msg``.
    """

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int,
                                 *args: Any, **kwargs: Any) -> NotebookNode:
        self.begin_cell(cell)
        return await super().async_execute_cell(cell, cell_index, *args, **kwargs)

    def begin_cell(self, cell: NotebookNode) -> None:
        """``cell`` starts running: its own output budget begins."""
        self._output.new_cell()
        self._running = cell

    @property
    def output_budget(self) -> OutputBudget:
        """What this notebook's outputs have cost so far (``OutputBudget``)."""
        return self._output

    def _new_budget(self) -> OutputBudget:
        return OutputBudget(parse_size(self.max_cell_output),
                             parse_size(self.max_notebook_output))

    def _note_cut(self, outs: list[NotebookNode]) -> None:
        if self._output.note_due():
            outs.append(NotebookNode(output_type="stream", name="stdout",
                                     text=self._output.note()))

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        """nbclient's ``output``, within the cell's and the notebook's output budget.

        A notebook can print or display without end (until its cell's time
        limit): kept, that would be gigabytes in this process, in the answer
        and in ``autograded/``. Beyond the budget an output is dropped as it
        arrives, with one note in the cell, except the cell's first failure
        (an error, or stderr, which nbgrader scores as a failure too): it is
        kept, cut short, so cutting never turns a failed test into a passed one.
        """
        kept = self._output.admit(msg, clearing=self.clear_before_next_output,
                                  display_id=display_id)
        if kept is None:
            self._note_cut(outs)
            return None
        return super().output(outs, kept, display_id, cell_index)

    def clear_output(self, outs: list[NotebookNode], msg: dict[str, Any],
                     cell_index: int) -> None:
        super().clear_output(outs, msg, cell_index)
        if not msg["content"].get("wait"):
            self._output.cleared()

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        """An update rewrites every output shown with its id: each copy counts."""
        copies = sum(len(where) for where in self._display_id_map.get(display_id, {}).values())
        if copies and not self._output.admit_update(msg, display_id, copies):
            if self._running is not None:
                self._note_cut(self._running.setdefault("outputs", []))
            return
        super()._update_display_id(display_id, msg)

    def handle_comm_msg(self, outs: list[NotebookNode], msg: dict[str, Any],
                        cell_index: int) -> None:
        """Widgets play no part in a grade: their messages are not kept (nor their state)."""
