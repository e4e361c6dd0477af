"""What a kernel's processes hold, as the watchdog measures it.

Memory (PSS, and the files in the sandbox's memory-backed folders), tasks,
folder sizes, and the CPU weight of the sessions a kernel starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from autograder.sandbox.bubblewrap import HOME

__all__ = ["autogroup", "demote_new_sessions", "folder_bytes", "memory_bytes",
           "memory_folders_bytes", "task_count"]


def memory_bytes(pid: int) -> int:
    """The memory a process uses, its shared pages split among their sharers (PSS).

    A forked child shares its parent's pages; counting them in full for each
    would overstate a family of processes many times over.
    """
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def memory_folders_bytes(pids: Iterable[int]) -> int:
    """Bytes of files in the memory-backed folders (tmpfs) of the sandboxes ``pids`` run in.

    A file written to ``/dev/shm``, the home or ``/tmp`` of a sandbox is
    memory that no process's address space holds: the watchdog adds it to
    the processes' own. Each sandbox has its own mount namespace with its own
    tmpfs mounts; a process in the grader's own namespace (``mode = "none"``,
    bubblewrap's outer process) sees the machine's folders, which are not the
    kernel's to pay for, so it is skipped. A tmpfs file that is also mapped
    counts twice: the sum errs toward stopping a kernel, never toward missing one.
    """
    try:
        ours = os.readlink("/proc/self/ns/mnt")
    except OSError:
        return 0
    seen_spaces: set[str] = set()
    seen_mounts: set[int] = set()
    total = 0
    for pid in pids:
        try:
            space = os.readlink(f"/proc/{pid}/ns/mnt")
        except OSError:
            continue
        if space == ours or space in seen_spaces:
            continue
        seen_spaces.add(space)
        for folder in ("dev/shm", HOME.lstrip("/")):
            path = f"/proc/{pid}/root/{folder}"
            try:
                device = os.stat(path).st_dev
                if device in seen_mounts:
                    continue
                usage = os.statvfs(path)
            except OSError:
                continue
            seen_mounts.add(device)
            total += (usage.f_blocks - usage.f_bfree) * usage.f_frsize
    return total


def autogroup(pid: int | str) -> str | None:
    """The scheduler's autogroup of ``pid`` (one per session), e.g. ``/autogroup-12``."""
    try:
        with open(f"/proc/{pid}/autogroup") as handle:
            return handle.read().split()[0]
    except (OSError, IndexError):
        return None


def demote_new_sessions(pids: Iterable[int], keep: set[str | None]) -> None:
    """Give every scheduling group in ``pids`` but ``keep`` the lowest CPU weight.

    Without a cgroup per kernel, the scheduler shares the CPU between
    sessions (autogroups), not kernels: a student who starts 24 processes,
    each in a session of its own (``setsid``), would get 24 shares and slow
    every other kernel 12 to 15 times. A group the kernel made is set to nice
    19 (weight 15 against a kernel's 1024), so all of them together weigh
    less than one kernel. Only a process's owner (or root) may do this; where
    it cannot be done, nothing else changes.
    """
    for pid in pids:
        group = autogroup(pid)
        if group in keep:
            continue
        try:
            with open(f"/proc/{pid}/autogroup", "w") as handle:
                handle.write("19")
        except OSError:
            pass
        keep.add(group)


def task_count(pids: Iterable[int]) -> int:
    """Threads and processes of ``pids`` (what RLIMIT_NPROC counts)."""
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return total


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
