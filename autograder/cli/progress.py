"""``grade``'s live progress display on standard error: the submissions graded of all, a
bar, the time left and the last submission graded ("student assignment score").

It is drawn on a terminal only: where standard error is a file or a pipe (a
CI log, a test) nothing is drawn at all, not even a last line, so no escape
code reaches them. The names in it are what students chose: each goes
through ``terminal_text`` and is shown as plain text, never read as rich's
markup (``[bold]`` stays ``[bold]``).
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column

from autograder.core.results import GradeResult
from autograder.core.safe_text import terminal_text

__all__ = ["GradingProgress", "last_graded", "terminal_console"]


def terminal_console() -> Console | None:
    """Standard error as rich draws on it, or None unless it is a terminal.

    None for a file or a pipe even when the environment asks for colour
    (``FORCE_COLOR``, ``TTY_COMPATIBLE``), and for a terminal that cannot move
    its cursor (``TERM=dumb``).
    """
    console = Console(stderr=True)
    if not (sys.stderr.isatty() and console.is_terminal) or console.is_dumb_terminal:
        return None
    return console


def last_graded(result: GradeResult) -> str:
    """The "student assignment score" of ``result``, its names as plain text."""
    return (f"{terminal_text(result.student)} {terminal_text(result.assignment)} "
            f"{result.score:g}/{result.max_score:g}")


class GradingProgress:
    """``grade``'s ``on_start`` (``start``) and ``on_result`` (``graded``), drawn on ``console``.

    Used as a context manager, which takes the display down (the cursor shown
    again) however the run ends. With no console (``terminal_console``'s
    None) it draws nothing. The display is redrawn at each result, by the
    caller's thread: no thread of its own (the worker pool forks this
    process only while it runs one thread).
    """

    def __init__(self, console: Console | None) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> GradingProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def start(self, total: int) -> None:
        """``total`` submissions to grade: the display starts."""
        if self.console is None or self._progress is not None:
            return
        self._progress = Progress(
            TextColumn(" "), BarColumn(bar_width=30), MofNCompleteColumn(),
            TextColumn("graded,"), TimeRemainingColumn(), TextColumn("left"),
            # markup=False: a student's name is text, whatever brackets it holds
            TextColumn("{task.fields[last]}", markup=False,
                       table_column=Column(no_wrap=True, overflow="ellipsis")),
            console=self.console, auto_refresh=False, redirect_stdout=False,
            redirect_stderr=False, speed_estimate_period=600.0)
        self._task = self._progress.add_task("grade", total=total, last="")
        self._progress.start()

    def graded(self, result: GradeResult) -> None:
        """One more submission graded (or rejected): the count, the time left, its score."""
        if self._progress is None or self._task is None:
            return
        self._progress.update(self._task, advance=1, last=f" last: {last_graded(result)}")
        self._progress.refresh()
