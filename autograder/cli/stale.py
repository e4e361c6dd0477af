"""The loud warning ``release``, ``export`` and ``report`` print when grades were made with
tests that have changed since (``autograder.record.fingerprints``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["print_stale"]


def print_stale(warnings: Sequence[str]) -> None:
    """Each warning, framed so that it stands out of the rest, on standard error; the
    student ids in it are shown as text (``terminal_lines``), never run as escapes."""
    from autograder.core.safe_text import terminal_lines

    if warnings:
        line = "!" * 78
        print(f"{line}\n" + "\n".join(terminal_lines(text) for text in warnings)
              + f"\n{line}", file=sys.stderr)
