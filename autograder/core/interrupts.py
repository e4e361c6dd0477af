"""Stopping the grader: Ctrl-C and SIGTERM unwind it like a KeyboardInterrupt.

Kept apart so that every part that loops (the worker pool, nbgrader's
generate step, which catches every exception) can ask ``interrupted()``
without importing the pool.
"""

from __future__ import annotations

import signal

# Set by ``interrupt``: the grader was told to stop (Ctrl-C, SIGTERM).
_interrupted = False


def stop_on_signals() -> None:
    """Make Ctrl-C and SIGTERM stop the grader (``interrupt``), forgetting any earlier one."""
    global _interrupted
    _interrupted = False
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def interrupt(signum: int, frame: object) -> None:
    """The grader's SIGINT and SIGTERM handler: stop, unwinding like Ctrl-C.

    A signal's handler runs wherever the grader happens to be, and Python
    drops (prints and ignores) an exception raised inside a weakref callback
    or a ``__del__``: so the interrupt is also remembered, and ``WorkerPool.run``
    raises it again within half a second.
    """
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def interrupted() -> bool:
    """Whether the grader was told to stop since ``stop_on_signals``."""
    return _interrupted


def _remember(signum: int, frame: object) -> None:
    global _interrupted
    _interrupted = True


def stopping() -> None:
    """The grader has caught its interrupt and is saying so: a later Ctrl-C or SIGTERM
    is remembered, not raised. Raised there, it would escape the command's last words,
    and Python would end the process by the signal instead of with its exit status 130
    (a KeyboardInterrupt nobody catches makes the interpreter kill itself with SIGINT)."""
    signal.signal(signal.SIGINT, _remember)
    signal.signal(signal.SIGTERM, _remember)

