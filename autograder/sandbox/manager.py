"""Every grading kernel runs in a sandbox: bubblewrap on Linux, resource limits everywhere.

``SandboxKernelManager`` is a jupyter_client kernel manager. nbgrader's
autograde (through ``autograder.execute.preprocessor.SandboxedExecute``, set in
nbgrader_config.py), our ``grade``, ``selfcheck`` and ``demo`` all start
their kernels with it, so both paths get the same walls:

* **bubblewrap** (``mode = "bwrap"``, or ``"auto"`` where it works): the
  kernel sees a read-only copy of the system libraries and of the Python
  environment, a private writable home and ``/tmp`` (size-limited tmpfs),
  the assignment's data files, and nothing else: not the course root, not
  ``source/``, ``submitted/``, a gradebook, the notebook file, another
  student, or the grader's home. It has its own PID, network, IPC and UTS
  namespaces (no network at all, and every process it starts dies with it),
  a clean environment (no secrets from the grader's), and a new session.
  The only way out is the kernel's own connection sockets, in a folder of
  their own. If the grader runs as root, the kernel runs as an unprivileged
  uid picked for this kernel alone.
* **limits** (every mode): address space, CPU seconds, processes, file size
  and open files as ``setrlimit`` limits (``autograder/sandbox/child.py``),
  plus a watchdog in the grader that stops the kernel when all its
  processes together use too much memory, when it starts too many
  processes, or when it runs past the notebook's time limit. The reason is
  kept (``stop_reason``) and turned into a message for the student.
* **what the memory limit counts**: the address space limit is per process,
  and the watchdog adds up the memory (PSS) of the kernel's processes and the
  bytes of the files in the sandbox's memory-backed folders (``/dev/shm``, the
  home and ``/tmp``: tmpfs mounts of the sandbox's own, which no process's
  address space holds; ``measure.memory_folders_bytes``). Other memory held by no
  process is walled off another way: System V shared memory, message queues
  and semaphores and POSIX message queues are refused inside the sandbox (its
  IPC namespace's limits are set to zero by ``child.py``; a detached
  shared memory segment would otherwise hold memory the watchdog never sees).
  The tmpfs mounts are also capped by size: the home and ``/tmp`` together at
  ``scratch_size`` (512 MiB), ``/dev/shm`` at 64 MiB, so a burst between two
  watchdog rounds stays bounded. There is no cgroup per kernel: on the machine this
  was built on (kernel 6.18, cgroup v1 with a v2 hierarchy holding only
  ``hugetlb``) the memory, pids and cpu controllers are not available in
  cgroup v2, so kernels are limited by rlimits and the watchdog alone. The
  scheduler shares the CPU per session (autogroup), so the watchdog gives
  every session a kernel starts the lowest weight (``measure.demote_new_sessions``).
  Where cgroup v2 is delegated, a cgroup per kernel (``memory.max`` counting
  shmem and tmpfs, ``pids.max``, ``cpu.weight``) would be the next wall.
* ``mode = "none"`` runs the kernel with the limits and the clean
  environment but no isolation; ``"auto"`` falls back to it, loudly, when
  bubblewrap is missing or cannot create namespaces here.

The manager is put together from parts of one job each, mixed into it:
``command`` (the kernel's command line: bubblewrap's arguments, the child's
limits, the clean environment), ``launch`` (starting the kernel's process, or
forking it from the fork server, ``forkserver/``) and ``watchdog`` (the limits
while it runs, and why a kernel died); its client is ``client``'s. This module
holds the settings, prepares each kernel's scratch folder, and talks to and
stops the kernel.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, DottedObjectName, Enum, Float, Integer, Type, Unicode, validate

from autograder.core.processes import kill_tree
from autograder.core.results import DeathCause
from autograder.sandbox.bubblewrap import MODES, isolation_warning, parse_size, resolve_mode
from autograder.sandbox.command import KernelCommand
from autograder.sandbox.files import data_files, scratch_base
from autograder.sandbox.forkserver.registry import fork_server_pids, stop_fork_server
from autograder.sandbox.launch import KernelLaunch, warn_once
from autograder.sandbox.visible import font_list
from autograder.sandbox.watchdog import KernelWatchdog

# The fork server is one way of starting a kernel, behind this interface: the rest
# of the grader stops its servers, or asks which processes are theirs, through here.
__all__ = ["SandboxKernelManager", "describe_limits", "fork_server_pids", "stop_fork_server"]


class SandboxKernelManager(KernelLaunch, KernelCommand, KernelWatchdog, AsyncKernelManager):
    """A kernel manager whose kernels run sandboxed and limited (see the module doc)."""

    client_class = DottedObjectName("autograder.sandbox.client.SandboxKernelClient")
    client_factory = Type(klass="autograder.sandbox.client.SandboxKernelClient")

    mode = Enum(MODES, default_value="auto", config=True,
                help="auto: bubblewrap where it works, otherwise no isolation with a "
                     "warning; bwrap: refuse to start a kernel without it; none: limits only")
    memory_limit = Unicode("2 GiB", config=True,
                           help="memory per kernel: address space of each process, and the "
                                "memory of all its processes together")
    cpu_limit = Integer(600, config=True, help="CPU seconds per process")
    process_limit = Integer(64, config=True,
                            help="processes and threads the kernel may run at once")
    file_size_limit = Unicode("256 MiB", config=True, help="largest file a kernel may write")
    open_files_limit = Integer(1024, config=True, help="open files per process")
    scratch_size = Unicode("512 MiB", config=True,
                           help="size of the kernel's writable home and /tmp (together)")
    notebook_timeout = Integer(600, config=True,
                               help="wall-clock seconds a kernel may live; then it is stopped")
    poll_interval = Float(0.2, config=True, help="seconds between watchdog checks")
    mpl_font_list = Bool(True, config=True,
                         help="give each kernel the font list this process built, so that "
                              "importing matplotlib does not scan the fonts again")
    mpl_backend = Unicode("", config=True,
                          help="MPLBACKEND for the kernel (\"module://autograder.kernel.figures\": "
                               "figures are made but never drawn); empty: as inherited")
    fork_server = Bool(False, config=True,
                       help="fork each kernel, in a sandbox of its own, from a server that "
                            "has already imported ipykernel and the preload "
                            "(autograder/sandbox/forkserver/server.py): bubblewrap, as root, only; "
                            "elsewhere kernels start as usual. The grading workers turn it on")

    # Modules the kernel imports as it starts (SandboxedExecute sets them): a fork
    # server imports the same, in the same order, before it forks.
    preload_modules: list[str] = []

    stop_reason: str | None = None
    stop_cause: DeathCause | None = None
    fallback_reason: str | None = None
    # Seconds that earlier kernels of the same notebook already ran (a kernel
    # restarted after a death): they count toward notebook_timeout.
    time_used: float = 0.0

    @validate("memory_limit", "file_size_limit", "scratch_size")
    def _valid_size(self, proposal: Any) -> str:
        parse_size(proposal["value"])
        return proposal["value"]

    # -- configuration --------------------------------------------------------

    def limits(self) -> dict[str, int]:
        return {"AS": parse_size(self.memory_limit), "CPU": self.cpu_limit,
                "NPROC": self.process_limit, "FSIZE": parse_size(self.file_size_limit),
                "NOFILE": self.open_files_limit}

    @property
    def scratch(self) -> Path | None:
        """The kernel's own folder (sockets, connection file, working copy), None once removed."""
        return getattr(self, "_scratch", None)

    # -- start ----------------------------------------------------------------

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        self.stop_reason = self.stop_cause = None
        mode, reason = resolve_mode(self.mode)
        if mode == "none" and self.mode == "auto":
            self.fallback_reason = reason
            warn_once(self.log, isolation_warning(reason))
        self._active_mode = mode
        cwd = Path(kw["cwd"]).resolve() if kw.get("cwd") else None
        base = scratch_base()
        base.mkdir(parents=True, exist_ok=True)
        self._scratch = Path(tempfile.mkdtemp(prefix="k", dir=base))
        for part in ("s", "c", "w", "etc", "home", "tmp"):
            (self._scratch / part).mkdir()
        self._data = data_files(cwd, self._scratch / "w")
        self._fonts = self._font_file()
        # The kernel's sockets and connection file live in the scratch folder:
        # the socket folder is the one thing the sandbox shares with us.
        self.transport = "ipc"
        self.ip = str(self._scratch / "s" / "k")
        self.connection_file = str(self._scratch / "c" / "kernel.json")
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        wrapped = self._wrap(kernel_cmd, kw, cwd)
        self._fork_plan = self.plan_fork(kernel_cmd, cwd)
        return wrapped

    def _font_file(self) -> Path | None:
        """This kernel's copy of the font list (``font_list``), in its scratch folder."""
        fonts = font_list() if self.mpl_font_list else None
        if fonts is None:
            return None
        name, content = fonts
        (self._scratch / "f").mkdir()
        (self._scratch / "f" / name).write_bytes(content)
        return self._scratch / "f" / name

    # -- talking to it ------------------------------------------------------------
    # Student code can break its end of the kernel's sockets (write garbage into
    # them, stop the threads that serve them). Nothing we send may then wait
    # forever: interrupts are signals, and a send gives up after two seconds.

    def _create_connected_socket(self, channel: str, identity: bytes | None = None) -> Any:
        socket = super()._create_connected_socket(channel, identity)
        socket.sndtimeo = 2000
        return socket

    async def _async_interrupt_kernel(self) -> None:
        pid = self.kernel_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass

    async def _async_request_shutdown(self, restart: bool = False) -> None:
        import zmq

        try:
            await super()._async_request_shutdown(restart=restart)
        except zmq.ZMQError:
            pass  # the kernel no longer listens; it will be killed

    # AsyncKernelManager binds its public names to the base class's functions,
    # so an override reaches callers such as nbclient only when rebound here.
    interrupt_kernel = _async_interrupt_kernel
    request_shutdown = _async_request_shutdown

    # -- stop -------------------------------------------------------------------

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        """Until the kernel has ended, looking again after 1, 2, 4... ms, at most ``pollinterval``.

        jupyter_client looks every 0.1 s: a kernel killed at the end of its
        notebook (``shutdown_kernel(now=True)``) has ended a few ms after the
        signal, so each notebook waited about 0.1 s for nothing before the next
        one could start (0.11 s of a 0.49 s submission, ``--workers 1``).
        """
        import asyncio

        delay = 0.001
        while await self._async_is_alive():
            await asyncio.sleep(delay)
            delay = min(delay * 2, pollinterval)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
        process = getattr(self.provisioner, "process", None)
        if process is not None and process.poll() is None:
            kill_tree(process.pid)
        await super()._async_cleanup_resources(restart=restart)
        scratch = getattr(self, "_scratch", None)
        if scratch is not None and not restart:
            shutil.rmtree(scratch, ignore_errors=True)
            self._scratch = None

    cleanup_resources = _async_cleanup_resources


def describe_limits(manager: SandboxKernelManager | None = None) -> str:
    """One line for the guide and the CLI: the limits in force."""
    manager = manager or SandboxKernelManager()
    return (f"memory {manager.memory_limit}, CPU {manager.cpu_limit} s per process, "
            f"{manager.process_limit} processes, files up to {manager.file_size_limit}, "
            f"{manager.open_files_limit} open files, {manager.notebook_timeout} s per notebook")
