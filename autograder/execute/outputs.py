"""How much output one notebook may send: the budget ``SandboxedExecute`` keeps per kernel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from autograder.sandbox.bubblewrap import format_size


def _characters(value: Any) -> int:
    """About how many characters ``value`` (a message's JSON content) takes, without recursion."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            total += len(item)
            stack.extend(item)
        else:
            total += 8
    return total


def cut_message(msg: dict[str, Any], room: int) -> dict[str, Any]:
    """A failure output (an error, or stderr) that takes at most about ``room`` characters."""
    content = dict(msg["content"])
    note = " [cut short by the grader]"
    if msg["msg_type"] == "stream":
        content["text"] = str(content.get("text", ""))[:room] + note + "\n"
    else:
        evalue = str(content.get("evalue", ""))
        content["ename"] = str(content.get("ename", "Error"))[:200]
        content["evalue"] = evalue if len(evalue) <= room else evalue[:room] + note
        lines = content.get("traceback") or []
        lines = lines if isinstance(lines, list) else [str(lines)]
        content["traceback"] = [str(line)[:room // 20] for line in lines[-10:]]
    return {**msg, "content": content}


class OutputBudget:
    """What a notebook's outputs may take: per cell and for the whole notebook."""

    FAILURE_ROOM = 4000  # characters a failure keeps once the budget is spent

    def __init__(self, per_cell: int, per_notebook: int) -> None:
        self.per_cell, self.per_notebook = per_cell, per_notebook
        self.notebook = 0
        self.shown: dict[str, int] = {}  # display id -> the characters each of its copies holds
        self.new_cell()

    def new_cell(self) -> None:
        self.cell = 0
        self.failures: set[str] = set()  # "error", "stderr": kept and still shown in the cell
        self.noted = False
        self.dropped = 0

    def cleared(self) -> None:
        """The cell's outputs were emptied: its failures (if any) are gone with them."""
        self.cell = 0
        self.failures = set()

    @contextmanager
    def discarded(self) -> Iterator[None]:
        """Outputs of a probe or a replay: capped alike, never kept in the notebook."""
        saved = (self.notebook, dict(self.shown), self.cell, self.failures, self.noted,
                 self.dropped)
        try:
            yield
        finally:
            (self.notebook, self.shown, self.cell, self.failures, self.noted,
             self.dropped) = saved

    def admit(self, msg: dict[str, Any], clearing: bool = False,
              display_id: str | None = None) -> dict[str, Any] | None:
        """``msg`` as it may be kept (maybe cut short), or None to drop it.

        Past the budget, the cell's first error (the failed check's message)
        and its first stderr output are still kept, cut short: either fails
        a test cell, for nbgrader as for the grader. ``clearing``: nbclient
        empties the cell before it keeps ``msg`` (a ``clear_output`` that
        waited), and not at all if ``msg`` is dropped. ``display_id``: the
        kept output is shown under it, so an update rewrites it too.
        """
        kind, content = msg.get("msg_type"), msg.get("content") or {}
        failure = "error" if kind == "error" else \
            "stderr" if kind == "stream" and content.get("name") == "stderr" else None
        cell, failures = (0, set()) if clearing else (self.cell, self.failures)
        size = _characters(content)
        room = min(self.per_cell - cell, self.per_notebook - self.notebook)
        if size > room:
            if failure is None or failure in failures:
                self.dropped += size
                return None
            msg = cut_message(msg, max(room, self.FAILURE_ROOM))
            size = _characters(msg["content"])
        self.cell = cell + size
        self.notebook += size
        self.failures = failures | ({failure} if failure else set())
        if display_id:
            self.shown[display_id] = size
        return msg

    def admit_update(self, msg: dict[str, Any], display_id: str, copies: int) -> bool:
        """May ``msg`` rewrite the ``copies`` outputs shown with ``display_id``?

        Every copy then holds ``msg``'s data: the notebook grows by the
        difference, for each of them.
        """
        size = _characters(msg.get("content") or {})
        growth = copies * (size - self.shown.get(display_id, 0))
        if growth > self.per_notebook - self.notebook:
            self.dropped += growth
            return False
        self.notebook += growth
        self.shown[display_id] = size
        return True

    def note_due(self) -> bool:
        due, self.noted = not self.noted, True
        return due

    def note(self) -> str:
        return (f"\n[the grader kept at most {format_size(self.per_cell)} of a cell's output "
                f"and {format_size(self.per_notebook)} of the notebook's; the rest of this "
                "cell's output was dropped]\n")

