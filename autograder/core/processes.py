"""The processes below a process: finding them, stopping them all.

Read from ``/proc`` (Linux). Used by the sandbox's watchdog, the fork server,
the grading workers and the Dask worker side; it imports nothing of the
course, so every one of them can.
"""

from __future__ import annotations

import os
import signal


def parent_map() -> dict[int, int]:
    """pid -> parent pid for every process on the machine."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces or ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        parents[int(entry)] = int(fields[1])
    return parents


def descendants(pid: int, parents: dict[int, int] | None = None) -> list[int]:
    """Every process below ``pid`` (children, their children, ...)."""
    parents = parent_map() if parents is None else parents
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def start_time(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        return int(stat[stat.rfind(b")") + 2:].split()[19])
    except (OSError, IndexError, ValueError):
        return 1 << 62


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and everything below it (stopped first, so nothing forks away)."""
    tree = [pid, *descendants(pid)]
    for target in tree:
        try:
            os.kill(target, signal.SIGSTOP)
        except OSError:
            pass
    for target in tree:
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
