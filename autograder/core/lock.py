"""The course lock: one grading run or collect at a time in a course folder.

An exclusive ``flock`` on the folder itself, kept here rather than in a
library: it leaves no file behind, is released by the kernel when the process
dies (a lock file would go stale), and is the same lock plain ``nbgrader
autograde`` takes through the course's plugin.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path


class CourseBusy(ValueError):
    """Another grading run holds this course; the message says what to do."""


def hold_course(root: Path | str) -> Callable[[], None]:
    """Hold the course folder for one grading run or collect; return what releases it.

    Two runs at once (two ``grade``, or ``grade`` and plain ``nbgrader
    autograde``) would both write the gradebook and ``autograded/``, each in
    its own transaction, the last one's grades winning row by row; a
    ``collect`` replacing a submission while a run reads it could have it
    graded half-written, or with the other submission's time. The hold
    is an exclusive ``flock`` on the course folder itself (no file is left
    behind), released by the returned function or when the process dies.
    Raises ``CourseBusy`` while another process holds it.
    """
    import fcntl

    handle = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        raise CourseBusy(f"another command is working in {root} (`python -m autograder "
                         "grade` or `collect`, or `nbgrader autograde`, started by you or "
                         "someone sharing the course): wait until it ends, or stop it with "
                         "Ctrl-C in its terminal, then run this again. Nothing was "
                         "changed.") from None
    except OSError as error:  # a file system without locks (some NFS set-ups)
        print(f"note: the course folder could not be held for this run ({error}); make "
              "sure nobody else grades this course until it ends", file=sys.stderr)
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            os.close(handle)

    return release


@contextlib.contextmanager
def course_held(root: Path) -> Iterator[None]:
    """``hold_course`` for the length of a ``with`` block."""
    release = hold_course(root)
    try:
        yield
    finally:
        release()
