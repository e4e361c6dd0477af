"""Limits and deaths in words a student can act on, written into the graded notebook."""

from __future__ import annotations

import ast
import json
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from autograder.core.cells import error_output
from autograder.core.results import DeathCause
from autograder.sandbox.bubblewrap import format_size, parse_size
from autograder.sandbox.manager import SandboxKernelManager


def death_reason(manager: Any, error: Exception) -> tuple[DeathCause, str]:
    """Why the kernel is gone (the watchdog's reason first): the code, and the words for
    a student."""
    if getattr(manager, "stop_reason", None) or (
            isinstance(error, DeadKernelError) and hasattr(manager, "death")):
        cause, words = manager.death()
        return DeathCause(cause), str(words)
    if isinstance(error, CellTimeoutError):
        return DeathCause.TIME, ("this cell did not stop when it was interrupted after its "
                                 "time limit, so the grader stopped the notebook")
    return DeathCause.UNKNOWN, "the kernel died"


def first_line(cell: NotebookNode) -> str:
    lines = [line.strip() for line in cell.get("source", "").splitlines() if line.strip()]
    return lines[0][:80] if lines else ""


def grade_id(cell: NotebookNode) -> str | None:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return str(grade_id) if grade_id is not None else None


def guard_answer(reply: dict | None) -> str | None:
    """The guard's answer in an execute reply's user expressions, as ``ask_kernel`` prints it.

    None when the cell did not run to the end (the kernel then evaluates no
    expression); "" (no answer: the guard was taken away) when the expression
    failed or its value is not the string the guard returns (at most 20
    sentences of 200 characters: anything far longer is not its answer).
    """
    content = (reply or {}).get("content", {})
    if content.get("status") != "ok":
        return None
    answer = (content.get("user_expressions") or {}).get("guard") or {}
    text = (answer.get("data") or {}).get("text/plain") if answer.get("status") == "ok" else None
    try:
        value = ast.literal_eval(text) if isinstance(text, str) and len(text) < 100_000 \
            else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    return f"MINIFLOW-GUARD {value}" if isinstance(value, str) else ""


def guard_changes(output: str) -> list[str]:
    """The guard's answer; no answer at all means the guard itself was taken away."""
    for line in reversed(output.splitlines()):
        if line.startswith("MINIFLOW-GUARD "):
            try:
                changes = json.loads(line[len("MINIFLOW-GUARD "):])
            except ValueError:
                break
            if isinstance(changes, list) and all(isinstance(c, str) for c in changes):
                return [c[:200] for c in changes[:20]]
            break
    return ["the grader's guard no longer answers"]


def limits_of(manager: Any) -> dict[str, Any]:
    if not isinstance(manager, SandboxKernelManager):
        return {}
    return {"memory": format_size(parse_size(manager.memory_limit)),
            "file_size": format_size(parse_size(manager.file_size_limit)),
            "processes": manager.process_limit, "open_files": manager.open_files_limit}


def stop_after(cells: list[NotebookNode], index: int, reason: str, *,
                mark: bool = True) -> None:
    """The cell at ``index`` failed because the kernel is gone; later cells never ran."""
    if mark:
        cells[index].setdefault("outputs", []).append(error_output("KernelStopped", reason))
    for cell in cells[index + 1:]:
        if cell.cell_type == "code":
            cell.outputs = [error_output("NotRun", "not run: the notebook was stopped in an "
                                   f"earlier cell ({reason})")]


_RULES = [
    (lambda o: o.ename.endswith("MemoryError"),
     "grading allows {memory} of memory per process"),
    (lambda o: "[Errno 27]" in o.evalue or "File too large" in o.evalue,
     "grading allows files of at most {file_size}"),
    (lambda o: "[Errno 24]" in o.evalue,
     "grading allows {open_files} open files at once"),
    (lambda o: "[Errno 11]" in o.evalue or "can't start new thread" in o.evalue,
     "grading allows {processes} processes and threads at once"),
]


def explain_limits(nb: NotebookNode, limits: dict[str, Any]) -> None:
    """Turn the marks of a limit that was hit into a message that names it."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        timeout = cell.get("metadata", {}).pop("autograder_timed_out", None)
        if timeout is not None:
            # The interrupt's KeyboardInterrupt and nbgrader's placeholder become one message.
            kept = [o for o in cell.outputs if o.output_type != "error"]
            # What happened to the kernel afterwards stays, after it.
            fate = [o for o in cell.outputs if o.output_type == "error"
                    and o.ename in ("KernelDied", "KernelStopped")]
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            which = f"this cell ({grade_id})" if grade_id else "this cell"
            cell.outputs = kept + [error_output(
                "TimeoutError", f"{which} ran for more than {timeout} s, the limit per cell "
                "when grading, and was stopped; look for a loop that never ends (a while "
                "loop whose condition never changes, a graph walk that revisits nodes) or "
                "work that can be done once instead of in a loop")] + fate
            continue
        for output in cell.outputs:
            if output.output_type != "error" or not limits:
                continue
            for matches, text in _RULES:
                if matches(output):
                    prefix = text.format(**limits)
                    if not output.evalue.startswith(prefix):
                        output.evalue = f"{prefix}: {output.evalue}"
                    break

