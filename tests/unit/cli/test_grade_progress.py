"""``grade``'s live progress display (``autograder/cli/progress.py``): drawn on a terminal
only, without a thread of its own, and the names students chose in it shown as text."""

from __future__ import annotations

import re
import sys
import threading
from io import StringIO

from rich.console import Console

from autograder.cli.progress import GradingProgress, last_graded, terminal_console
from autograder.core.results import GradeResult, Status

#: rich's markup, then the escape that clears the instructor's screen.
HOSTILE = "[bold red]x\x1b[2J"


def _result(student: str, score: float = 3.0) -> GradeResult:
    return GradeResult(student, "01_graphs", Status.GRADED, score=score, max_score=10.0)


def _terminal(out: StringIO) -> Console:
    return Console(file=out, force_terminal=True, width=160, color_system="truecolor")


def _text(drawn: str) -> str:
    """What the terminal shows of ``drawn``: its colours taken off."""
    return re.sub(r"\x1b\[[0-9;]*m", "", drawn)


def test_a_student_s_name_reaches_a_terminal_as_literal_escaped_text():
    out = StringIO()
    with GradingProgress(_terminal(out)) as progress:
        progress.start(2)
        progress.graded(_result(HOSTILE))
    drawn = out.getvalue()
    assert "1/2 graded" in _text(drawn)
    # The brackets are shown, not read as markup; the escape is shown, not sent.
    assert "last: [bold red]x\\x1b[2J 01_graphs 3/10" in _text(drawn)
    assert last_graded(_result(HOSTILE)) == "[bold red]x\\x1b[2J 01_graphs 3/10"
    assert "\x1b[2J" not in drawn
    assert "\x1b[1;31m" not in drawn  # nothing was made bold and red


def test_the_display_counts_each_result_and_starts_no_thread():
    # The worker pool forks the grader only while it runs a single thread.
    out = StringIO()
    threads = threading.active_count()
    with GradingProgress(_terminal(out)) as progress:
        progress.start(3)
        for student in ("ann", "bob"):
            progress.graded(_result(student))
            assert threading.active_count() == threads
    drawn = _text(out.getvalue())
    assert "1/3 graded" in drawn and "2/3 graded" in drawn
    assert "last: bob 01_graphs 3/10" in drawn


def test_nothing_is_drawn_where_standard_error_is_not_a_terminal(monkeypatch, capsys):
    # A CI log that asks for colour is still not a terminal.
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert not sys.stderr.isatty()
    assert terminal_console() is None
    with GradingProgress(terminal_console()) as progress:
        progress.start(1)
        progress.graded(_result(HOSTILE))
    assert capsys.readouterr() == ("", "")
