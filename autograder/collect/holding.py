"""One collect at a time, and none while a grading run reads ``submitted/``.

``holding_course`` wraps ``collect`` and ``collect_exchange``: the course is
held (``autograder.core.lock``) while they write, as a grading run holds it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from autograder.collect.report import CollectReport
from autograder.core.manifest import Course

__all__ = ["holding_course"]


def holding_course(collecting: Callable[..., CollectReport]) -> Callable[..., CollectReport]:
    """``collecting`` with the course held, as a grading run holds it (``hold_course``).

    A submission replaced while ``grade`` reads it could be graded half
    written, or with the other submission's time; so ``collect`` waits for
    no run and none waits for it: the second one stops at once, changing
    nothing, and says what holds the course.
    """
    @functools.wraps(collecting)
    def held(course: Course, *args: Any, **kwargs: Any) -> CollectReport:
        from autograder.core.lock import hold_course

        release = hold_course(course.root)
        try:
            return collecting(course, *args, **kwargs)
        finally:
            release()

    return held
