"""The grader's processes and the trees below them: Linux's prctl, each process's
children, and the kill of what a worker's kernels left behind.

Both the grader and each worker are Linux "child subreapers" (``prctl``), so a
process that a kernel detached from its parent (double fork, ``setsid``) is
adopted by them instead of by init, and is killed when its submission is done.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time

from autograder.core.processes import descendants, kill_tree

__all__ = ["PR_GET_CHILD_SUBREAPER", "PR_SET_CHILD_SUBREAPER", "PR_SET_NAME",
           "PR_SET_PDEATHSIG", "children_of", "kill_leftovers", "prctl", "single_threaded"]

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


def prctl(option: int, value: int) -> int:
    """Linux's ``prctl(option, value)`` for this process (0 and nothing done elsewhere)."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    if option == PR_GET_CHILD_SUBREAPER:
        out = ctypes.c_int(0)
        libc.prctl(option, ctypes.byref(out), 0, 0, 0)
        return out.value
    return libc.prctl(option, value, 0, 0, 0)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    from autograder.core.processes import parent_map

    return [child for child, parent in parent_map().items() if parent == pid]


def single_threaded() -> bool:
    """True when this process runs one thread only (so that forking it is safe)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def kill_leftovers(keep: int | None = None) -> None:
    """Kill every process still below this worker (kernels' leftovers) and reap them.

    ``keep`` is the spare kernel, started by this worker for the next
    submission: it and its processes stay. So do the fork servers' own
    processes (autograder/sandbox/forkserver/server.py), but not what they forked for
    kernels that are done.
    """
    from autograder.core.processes import parent_map
    from autograder.sandbox.manager import fork_server_pids

    kept = {keep, *descendants(keep)} if keep is not None else set()
    servers = fork_server_pids() - kept
    # this worker's children and what its fork servers forked, but the keepers
    for child, parent in parent_map().items():
        if parent in {os.getpid(), *servers} and child not in kept | servers:
            kill_tree(child)
    kept |= servers
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if not set(descendants(os.getpid())) - kept:
                return
            time.sleep(0.05)
