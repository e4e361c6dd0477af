"""The loud warning ``release``, ``export`` and ``report`` print when grades were made with
tests that have changed since (``autograder.record.fingerprints``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["print_stale"]


def print_stale(warnings: Sequence[str]) -> None:
    """Each warning, framed so that it stands out of the rest, on standard error."""
    if warnings:
        line = "!" * 78
        print(f"{line}\n" + "\n".join(warnings) + f"\n{line}", file=sys.stderr)
