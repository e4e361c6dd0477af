"""The watchdog: a running kernel stopped when it goes over its limits, and why it died.

Every ``poll_interval`` seconds, in a thread of the grader's, it adds up what
the kernel's processes hold (``autograder.sandbox.measure``): too many
processes, more than ``notebook_timeout`` seconds in all, files written into
the grader's connection folder, or more memory (PSS, and the files in the
sandbox's memory-backed folders) than ``memory_limit``, and it kills the
kernel's whole tree, keeping the reason (``stop_reason``). It also gives every
session the kernel starts the lowest CPU weight. ``death_reason`` turns the
reason, or the kernel's exit status and the end of its stderr, into words for a
student. Mixed into ``SandboxKernelManager`` (``autograder.sandbox.manager``),
whose limits it reads; ``autograder.sandbox.launch`` starts it.
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

from autograder.core.processes import descendants, kill_tree, parent_map, start_time
from autograder.core.results import DeathCause
from autograder.sandbox.bubblewrap import format_size, parse_size
from autograder.sandbox.measure import (
    autogroup,
    demote_new_sessions,
    folder_bytes,
    memory_bytes,
    memory_folders_bytes,
    task_count,
)

__all__ = ["KernelWatchdog"]


class KernelWatchdog:
    """The watchdog and its clock (a part of ``SandboxKernelManager``)."""

    def restart_clock(self) -> None:
        """A spare kernel, started ahead, is handed its notebook: its time starts now."""
        self._started = time.monotonic()
        self.time_used = 0.0

    # -- while it runs ----------------------------------------------------------

    def _drain(self, stream: Any) -> None:
        try:
            for chunk in iter(lambda: stream.read1(4096), b""):
                self._stderr_tail += chunk
                del self._stderr_tail[:-8192]
        except (OSError, ValueError):
            pass  # closed by jupyter_client once the kernel is gone

    def _watch(self, process: subprocess.Popen) -> None:
        memory = parse_size(self.memory_limit)
        sockets = self._scratch / "s"
        # the grader's scheduling group and the kernel's own keep their weight
        groups: set[str | None] = {None, autogroup("self")}
        kernel = None
        while not self._stop.wait(self.poll_interval):
            if process.poll() is not None:
                return
            tree = descendants(process.pid)
            if kernel is None and (kernel := self.kernel_pid()) is not None:
                groups.add(autogroup(kernel))
            if kernel is not None:
                demote_new_sessions(tree, groups)
            reason, cause = None, DeathCause.LIMIT
            if task_count(tree) >= self.process_limit - 1:
                # A fork storm sits at the process limit, spinning: stop it
                # before it takes the CPU from everyone else's grading.
                reason = (f"started too many processes or threads (the limit is "
                          f"{self.process_limit})")
            elif (time.monotonic() - self._started + self.time_used
                  > self.notebook_timeout):
                reason = f"ran for more than {self.notebook_timeout} s in all"
                cause = DeathCause.TIME
            elif folder_bytes(sockets) > 1024 ** 2:
                reason = "wrote files into the grader's connection folder"
            else:
                held = sum(memory_bytes(pid) for pid in tree)
                files = memory_folders_bytes(tree)
                if held + files > memory:
                    where = f"{format_size(held)} in {len(tree)} processes"
                    if files:
                        where += f", {format_size(files)} in files in memory (/dev/shm, home, /tmp)"
                    reason = f"used more than {format_size(memory)} of memory ({where})"
                    cause = DeathCause.MEMORY
            if reason:
                self.stop_reason, self.stop_cause = reason, cause
                self.log.warning("sandbox: stopping the kernel: it %s", reason)
                kill_tree(process.pid)
                return

    def death_reason(self) -> str:
        """Why the kernel is gone, in words for a student."""
        return self.death()[1]

    def death(self) -> tuple[DeathCause, str]:
        """Why the kernel is gone: the code, and the words for a student."""
        if self.stop_reason:
            return (self.stop_cause or DeathCause.LIMIT,
                    f"the grader stopped the notebook: it {self.stop_reason}")
        process = getattr(self.provisioner, "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return DeathCause.UNRESPONSIVE, "the kernel stopped responding"
        signum = -code if code < 0 else code - 128 if code > 128 else 0
        if signum == signal.SIGXCPU:
            return DeathCause.CPU_TIME, (f"the grader stopped the notebook: it used more than "
                                         f"{self.cpu_limit} s of CPU time")
        if signum == signal.SIGKILL:
            return DeathCause.MEMORY, ("the kernel was killed (SIGKILL); the usual cause is "
                                       "running out of memory")
        if signum:
            return DeathCause.CRASHED, f"the kernel crashed ({signal.Signals(signum).name})"
        tail = bytes(self._stderr_tail).decode(errors="replace") if hasattr(
            self, "_stderr_tail") else ""
        if "bwrap:" in tail or "sandbox: could not" in tail:
            return DeathCause.SANDBOX, ("the sandbox could not start the kernel: "
                                        + tail.strip().splitlines()[-1])
        return DeathCause.EXITED, (f"the kernel exited with status {code} (does the notebook "
                                   "call exit(), sys.exit() or os._exit()?)")

    # -- which process is the kernel ----------------------------------------------

    def kernel_pid(self) -> int | None:
        """The kernel's process id on this machine (inside bwrap: the child of its init)."""
        process = getattr(self.provisioner, "process", None)
        if process is None or process.poll() is not None:
            return None
        if getattr(self, "_active_mode", "none") == "none":
            return process.pid
        parents = parent_map()
        inits = {pid for pid, parent in parents.items() if parent == process.pid}
        kernels = [pid for pid, parent in parents.items() if parent in inits]
        return min(kernels, key=start_time) if kernels else None
