"""Asking the kernel: the tamper guard's question after every cell.

With ``trusted`` on, ``SandboxedExecute`` installs the tamper guard
(``autograder.kernel.guard``) before the first cell and asks it after each
code cell what student code changed, as a user expression in the cell's own
execute request (``guard_in_request``) or in a probe program of its own
(``ask_kernel``); a test cell after a change gets a ``TamperingDetected`` note.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nbformat import NotebookNode

from autograder.core.cells import error_output, is_test_cell
from autograder.execute.explain import guard_answer, guard_changes

__all__ = ["GuardMixin"]


class GuardMixin:
    """``SandboxedExecute``'s questions to the kernel: the guard's, and probe programs.

    A mixin for ``autograder.execute.preprocessor.SandboxedExecute`` (before
    nbclient's ``NotebookClient`` in its bases): it reads that class's
    ``trusted`` and ``guard_in_request``, and overrides nbclient's
    ``on_cell_executed`` to keep each cell's execute reply.
    """

    def _with_expressions(self, execute: Callable[..., Any]) -> Callable[..., Any]:
        """The client's ``execute``, adding the user expressions set for this request."""
        def execute_with(code: str, *args: Any, **kwargs: Any) -> Any:
            if self._expressions:
                kwargs["user_expressions"] = dict(self._expressions)
            return execute(code, *args, **kwargs)

        return execute_with

    def on_cell_executed(self, **kwargs: Any) -> Any:
        self._reply = kwargs.get("execute_reply")
        return super().on_cell_executed(**kwargs)

    async def _execute_asking(self, cell: NotebookNode, index: int, guard: str) -> str | None:
        """Run a notebook cell; with the guard on, ask the guard in the same request.

        The kernel evaluates a request's user expressions right after its
        code, before it replies: asking the guard there costs no round trip of
        its own (there is one for every code cell). The guard's answer, as
        ``ask_kernel`` would have printed it; None when the kernel evaluated no
        expression (the cell raised, or was not run), and then the grader asks
        in a request of its own, as before.
        """
        with self._visible_only(cell):
            if not (self.trusted and self.guard_in_request) or cell.cell_type != "code":
                await self.async_execute_cell(cell, index, store_history=True)
                return None
            self._expressions, self._reply = {"guard": f"{guard}()"}, None
            try:
                await self.async_execute_cell(cell, index, store_history=True)
            finally:
                self._expressions = None
        return guard_answer(self._reply)

    async def _guard_check(self, index: int, guard: str, changed: list[str],
                           said: str | None = None) -> None:
        """Ask the guard what student code changed (unless ``said``); note each change once."""
        if said is None:
            said = await self.ask_kernel(f"print('MINIFLOW-GUARD ' + {guard}())", index)
        for change in guard_changes(said):
            if not any(c.startswith(change) for c in changed):
                changed.append(f"{change} (noticed after cell {index + 1})")

    async def _judge(self, cell: NotebookNode, index: int, guard: str,
                     changed: list[str], said: str | None = None) -> None:
        """After a cell: what did student code change (a signal for the instructor;
        the score is the judge's, whatever the kernel did)."""
        await self._guard_check(index, guard, changed, said)
        if is_test_cell(cell) and changed:
            cell.outputs.append(error_output(
                "TamperingDetected", "code in this notebook changed what the tests rely "
                f"on: {'; '.join(changed[:5])}"))

    async def ask_kernel(self, code: str, index: int) -> str:
        """Run a probe program in the kernel; what it printed (and raised), capped."""
        probe = NotebookNode(cell_type="code", source=code, metadata={}, outputs=[],
                             execution_count=None)
        original = self.nb.cells[index]
        try:
            with self._output.discarded():
                await self.async_execute_cell(probe, index, store_history=False)
        finally:
            self.nb.cells[index] = original  # nbclient stores what it ran at that index
        text = "".join(o.get("text", "") for o in probe.outputs
                       if o.output_type == "stream" and o.name == "stdout")
        errors = "".join(f"\n{o.ename}: {o.evalue}" for o in probe.outputs
                         if o.output_type == "error")
        return (text[-1_000_000:] + errors[:2000])
