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
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import HBChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, DottedObjectName, Enum, Float, Integer, Type, Unicode, validate

from autograder.core.processes import descendants, kill_tree, parent_map, start_time
from autograder.sandbox.bubblewrap import (
    CHILD,
    ETC,
    HOME,
    MODES,
    MPL_DIR,
    PASS_THROUGH,
    bwrap_has_size,
    format_size,
    isolation_warning,
    namespace_flags,
    parse_size,
    probe_bwrap,
    resolve_mode,
)
from autograder.sandbox.files import (
    ONE_MATHS_THREAD,
    data_files,
    outside_tmp,
    sandbox_uid,
    scratch_base,
)
from autograder.sandbox.forkserver.registry import (
    forget_fork_server,
    fork_server_for,
    fork_server_pids,
    stop_fork_server,
)
from autograder.sandbox.measure import (
    autogroup,
    demote_new_sessions,
    folder_bytes,
    memory_bytes,
    memory_folders_bytes,
    task_count,
)
from autograder.sandbox.visible import SYSTEM, font_list, python_paths

# The fork server is one way of starting a kernel, behind this interface: the rest
# of the grader stops its servers, or asks which processes are theirs, through here.
__all__ = ["SandboxKernelClient", "SandboxKernelManager", "describe_limits", "fork_server_pids",
           "launched", "stop_fork_server"]


class _BoundedHeartbeat(HBChannel):
    """The heartbeat, but a kernel that broke its end cannot hang us while we stop."""

    def _create_socket(self) -> None:
        super()._create_socket()
        self.socket.sndtimeo = 2000  # type: ignore[union-attr]
        self.socket.rcvtimeo = 2000  # type: ignore[union-attr]

    async def _async_run(self) -> None:
        import zmq

        try:
            await super()._async_run()
        except zmq.ZMQError:
            self._beating = False  # the kernel no longer answers: it counts as dead


class SandboxKernelClient(AsyncKernelClient):
    hb_channel_class = Type(_BoundedHeartbeat)  # type: ignore[assignment]

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        """Wait until the kernel answers on its shell channel and IOPub delivers.

        jupyter_client's own wait then listens to IOPub until it has been
        silent for 0.2 s, to drop what the kernel said as it started: 0.2 s
        of nothing per notebook (a fifth of grading one, with a forked
        kernel). Here what IOPub already holds is dropped without waiting for
        more; anything from the start-up that arrives later is not a reply to
        any request of the notebook's, and nbclient ignores it.
        """
        from queue import Empty

        from jupyter_client.utils import ensure_async

        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await ensure_async(self.shell_channel.get_msg(timeout=1))
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                # IOPub is connected once it delivers anything: the kernel's
                # welcome to a new subscriber, or the status of this request.
                try:
                    await ensure_async(self.iopub_channel.get_msg(timeout=0.2))
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while True:
            try:
                await ensure_async(self.iopub_channel.get_msg(timeout=0))
            except Empty:
                break

    wait_for_ready = _async_wait_for_ready


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run sandboxed and limited (see the module doc)."""

    client_class = DottedObjectName("autograder.sandbox.manager.SandboxKernelClient")
    client_factory = Type(klass="autograder.sandbox.manager.SandboxKernelClient")

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

    def _forbidden(self, cwd: Path | None) -> list[Path]:
        forbidden = [Path.home()]
        root = self.config.get("CourseDirectory", {}).get("root")
        if root:
            forbidden.append(Path(root))
        if cwd is not None:
            forbidden.append(cwd)
        return forbidden

    def _environment(self, home: str, tmp: str) -> dict[str, str]:
        scripts = os.path.dirname(sys.executable)
        env = {key: os.environ[key] for key in PASS_THROUGH if key in os.environ}
        env.update({
            "HOME": home, "USER": "student", "LOGNAME": "student", "TMPDIR": tmp,
            "PATH": f"{scripts}:/usr/local/bin:/usr/bin:/bin",
            "PYTHONSAFEPATH": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "MPLCONFIGDIR": f"{home}/.config/matplotlib",
            **ONE_MATHS_THREAD,
        })
        env.setdefault("LANG", "C.UTF-8")
        env.setdefault("PYTHONHASHSEED", "0")
        if self.mpl_backend:
            env["MPLBACKEND"] = self.mpl_backend
        return env

    # -- start ----------------------------------------------------------------

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        self.stop_reason = None
        mode, reason = resolve_mode(self.mode)
        if mode == "none" and self.mode == "auto":
            self.fallback_reason = reason
            _warn_once(self.log, isolation_warning(reason))
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
        self._fork_plan = self._plan_fork(kernel_cmd, cwd)
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

    def _wrap(self, kernel_cmd: list[str], kw: dict[str, Any],
              cwd: Path | None) -> tuple[list[str], dict[str, Any]]:
        scratch = self._scratch
        as_root = os.geteuid() == 0
        spec: dict[str, Any] = {"limits": self.limits(), "uid": None, "gid": None, "chown": []}
        if self._active_mode == "bwrap":
            spec["private_ipc"] = True  # --unshare-ipc (namespace_flags)
            uid = sandbox_uid() if as_root else os.getuid()
            gid = uid if as_root else os.getgid()
            (scratch / "etc" / "passwd").write_text(
                f"student:x:{uid}:{gid}:miniflow student:{HOME}:/usr/sbin/nologin\n")
            (scratch / "etc" / "group").write_text(f"student:x:{gid}:\n")
            env = self._environment(HOME, "/tmp")
            if as_root:
                # The kernel's user owns its socket folder and may read its
                # connection file; nothing else on the host is its own.
                spec.update(uid=uid, gid=gid, chown=[HOME, f"{HOME}/.tmp", "/dev/shm"])
                if self._fonts is not None:  # matplotlib must be able to write there
                    spec["chown"] += [f"{HOME}/.config", MPL_DIR]
                os.chown(scratch / "s", uid, gid)
                os.chown(self.connection_file, uid, gid)
            self._child_spec = spec
            command = [*self._bwrap_args(cwd), "--", sys.executable, "-I", str(CHILD),
                       json.dumps(spec), "--", *kernel_cmd]
        else:
            home = scratch / "home"
            for name in self._data:
                os.symlink(scratch / "w" / name, home / name)
            if self._fonts is not None:
                (home / ".config" / "matplotlib").mkdir(parents=True)
                shutil.copy(self._fonts, home / ".config" / "matplotlib")
            env = self._environment(str(home), str(scratch / "tmp"))
            spec["nproc_relative"] = True
            command = [sys.executable, "-I", str(CHILD), json.dumps(spec), "--", *kernel_cmd]
            kw["cwd"] = str(home)
        kw["env"] = env
        if self._active_mode == "bwrap":
            kw["cwd"] = str(scratch)
        kw["stdout"] = subprocess.DEVNULL
        kw["stderr"] = subprocess.PIPE
        return command, kw

    def _bwrap_args(self, cwd: Path | None, *, server: Path | None = None) -> list[str]:
        """bubblewrap's arguments for this kernel, or for a fork server (its folder ``server``).

        A fork server's sandbox is a kernel's without the kernel's own things
        (data, sockets, connection file): each kernel it forks binds those in
        a mount namespace of its own (autograder/sandbox/forkserver/server.py).
        """
        scratch = server or self._scratch
        size = ["--size", str(parse_size(self.scratch_size))] if bwrap_has_size() else []
        small = ["--size", str(64 * 1024 ** 2)] if bwrap_has_size() else []
        made: set[str] = {"/"}

        def parents(target: str | Path) -> list[str]:
            # bubblewrap creates missing parents as 0700 root folders, which an
            # unprivileged kernel could not pass through: make them 0755 first.
            made_now = []
            for parent in reversed(Path(target).parents):
                if str(parent) not in made:
                    made.add(str(parent))
                    made_now += ["--perms", "0755", "--dir", str(parent)]
            made.add(str(target))
            return made_now

        def bind(kind: str, source: str | Path, target: str | Path) -> list[str]:
            return [*parents(target), kind, str(source), str(target)]

        args = [probe_bwrap().detail, *namespace_flags(os.geteuid() == 0),
                "--die-with-parent", "--new-session", "--clearenv"]
        # One size-limited tmpfs holds everything the kernel may write (its home,
        # /tmp through a symlink); /dev/shm gets a small one of its own. tmpfs is
        # memory, so this is part of what a kernel can cost the machine. They
        # come first, so that anything bound below /tmp lands inside them.
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", *small, "--tmpfs", "/dev/shm",
                 *parents(HOME), "--perms", "0700", *size, "--tmpfs", HOME,
                 "--perms", "1777", "--dir", f"{HOME}/.tmp",
                 # relative: bubblewrap resolves it before the sandbox root is "/"
                 "--symlink", f"{HOME[1:]}/.tmp", "/tmp"]
        made.update({"/proc", "/dev", "/dev/shm", "/tmp", f"{HOME}/.tmp"})
        for folder in SYSTEM:
            if os.path.islink(folder):
                args += ["--symlink", os.readlink(folder), folder]
            elif os.path.isdir(folder):
                args += bind("--ro-bind", folder, folder)
        for name in ETC:
            if os.path.exists(f"/etc/{name}"):
                args += bind("--ro-bind", f"/etc/{name}", f"/etc/{name}")
        for path in python_paths(self._forbidden(cwd)):
            args += bind("--ro-bind", path, path)
        for source, target, read_only in self._own_binds(scratch, kernel=server is None):
            args += bind("--ro-bind" if read_only else "--bind", source, target)
        if server is not None and outside_tmp(scratch_base()):
            # where each kernel it forks mounts its socket folder
            args += [*parents(scratch_base()), "--dir", str(scratch_base())]
        args += ["--chdir", HOME, "--hostname", "sandbox"]
        for key, value in self._environment(HOME, "/tmp").items():
            args += ["--setenv", key, value]
        return args

    def _own_binds(self, scratch: Path, *, kernel: bool) -> list[tuple[str, str, bool]]:
        """This kernel's binds (what, where, read-only), from ``scratch``.

        A fork server's folder holds its own ``/etc/passwd`` and font list,
        and no data, sockets or connection file (``kernel`` False).
        """
        binds = [(str(scratch / "etc" / name), f"/etc/{name}", True)
                 for name in ("passwd", "group")]
        if kernel:
            binds += [(str(scratch / "w" / name), f"{HOME}/{name}", True) for name in self._data]
        if self._fonts is not None:
            binds.append((str(scratch / "f" / self._fonts.name),
                          f"{MPL_DIR}/{self._fonts.name}", True))
        if kernel:
            binds += [(str(scratch / "s"), str(scratch / "s"), False),
                      (str(scratch / "c"), str(scratch / "c"), True)]
        return binds

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        self._started = time.monotonic()
        process = self._fork_kernel() if getattr(self, "_fork_plan", None) else None
        if process is None:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        else:
            provisioner = self.provisioner
            assert provisioner is not None
            provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, None
            provisioner.cwd = kw.get("cwd")  # type: ignore[attr-defined]
            self._reconcile_connection_info(provisioner.connection_info)
        launched.set()
        process = self.provisioner.process  # type: ignore[union-attr]
        self._stderr_tail = bytearray()
        self._stop = threading.Event()
        threading.Thread(target=self._drain, args=(process.stderr,), daemon=True).start()
        self._watchdog = threading.Thread(target=self._watch, args=(process,), daemon=True)
        self._watchdog.start()

    # -- a fork server's kernel (autograder/sandbox/forkserver/server.py) ----------

    def _plan_fork(self, kernel_cmd: list[str], cwd: Path | None) -> dict[str, Any] | None:
        """What the fork server needs to fork this kernel; None: start it as usual."""
        if not (self.fork_server and self._active_mode == "bwrap" and os.geteuid() == 0
                and hasattr(os, "pidfd_open") and len(kernel_cmd) > 3
                and kernel_cmd[1:3] == ["-m", "ipykernel_launcher"]
                and os.path.realpath(kernel_cmd[0]) == os.path.realpath(sys.executable)):
            return None
        spec = self._child_spec
        base = scratch_base()
        paths = python_paths(self._forbidden(cwd))
        # Python folders below /tmp lie in the kernel's home, which each kernel
        # gets fresh: bind them again there, as bubblewrap does; then the
        # kernel's own binds, as bubblewrap makes them (_bwrap_args).
        binds = [(str(path), str(path), True) for path in paths if not outside_tmp(path)]
        binds += self._own_binds(self._scratch, kernel=True)
        return {
            "server": json.dumps([[str(p) for p in paths],
                                  self._environment(HOME, "/tmp"), self.preload_modules,
                                  self._fonts and self._fonts.name, str(base),
                                  sys.executable],
                                 sort_keys=True),
            "cwd": cwd,
            "binds": binds,
            "kernel": {
                "arguments": kernel_cmd[3:], "limits": spec["limits"], "uid": spec["uid"],
                "gid": spec["gid"], "owned": spec["chown"],
                "base_mount": str(base) if outside_tmp(base) else None,
                "scratch_size": parse_size(self.scratch_size), "shm_size": 64 * 1024 ** 2,
            },
        }

    def _fork_kernel(self) -> Any:
        """Fork this kernel from the fork server; None (and a warning) if that cannot be."""
        from autograder.sandbox.forkserver.server import ForkServerError

        plan, self._fork_plan = self._fork_plan, None
        try:
            server = fork_server_for(
                plan["server"], lambda folder: self._start_fork_server(folder, plan["cwd"]))
            if server is None:
                return None
            server.try_out(plan["kernel"], plan["binds"])
            return server.spawn(plan["kernel"], plan["binds"])
        except ForkServerError as error:
            forget_fork_server(plan["server"], str(error))
            _warn_once(self.log, f"sandbox: kernels start without the fork server: {error}")
            return None

    def _start_fork_server(self, folder: Path, cwd: Path | None) -> Any:
        """Start a fork server for kernels like this one, its files in ``folder``."""
        from autograder.sandbox.forkserver.server import ForkServer

        (folder / "etc").mkdir()
        (folder / "etc" / "passwd").write_text("root:x:0:0:root:/root:/usr/sbin/nologin\n")
        (folder / "etc" / "group").write_text("root:x:0:\n")
        if self._fonts is not None:
            (folder / "f").mkdir()
            shutil.copy(self._fonts, folder / "f" / self._fonts.name)
        return ForkServer([*self._bwrap_args(cwd, server=folder), "--"],
                          {"PATH": os.environ.get("PATH", "")}, str(folder),
                          list(self.preload_modules), launched=launched.set)

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
            if kernel is None and (kernel := self._kernel_pid()) is not None:
                groups.add(autogroup(kernel))
            if kernel is not None:
                demote_new_sessions(tree, groups)
            reason = None
            if task_count(tree) >= self.process_limit - 1:
                # A fork storm sits at the process limit, spinning: stop it
                # before it takes the CPU from everyone else's grading.
                reason = (f"started too many processes or threads (the limit is "
                          f"{self.process_limit})")
            elif (time.monotonic() - self._started + self.time_used
                  > self.notebook_timeout):
                reason = f"ran for more than {self.notebook_timeout} s in all"
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
            if reason:
                self.stop_reason = reason
                self.log.warning("sandbox: stopping the kernel: it %s", reason)
                kill_tree(process.pid)
                return

    def death_reason(self) -> str:
        """Why the kernel is gone, in words for a student."""
        if self.stop_reason:
            return f"the grader stopped the notebook: it {self.stop_reason}"
        process = getattr(self.provisioner, "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return "the kernel stopped responding"
        signum = -code if code < 0 else code - 128 if code > 128 else 0
        if signum == signal.SIGXCPU:
            return (f"the grader stopped the notebook: it used more than {self.cpu_limit} s "
                    "of CPU time")
        if signum == signal.SIGKILL:
            return ("the kernel was killed (SIGKILL); the usual cause is running out of "
                    "memory")
        if signum:
            return f"the kernel crashed ({signal.Signals(signum).name})"
        tail = bytes(self._stderr_tail).decode(errors="replace") if hasattr(
            self, "_stderr_tail") else ""
        if "bwrap:" in tail or "sandbox: could not" in tail:
            return "the sandbox could not start the kernel: " + tail.strip().splitlines()[-1]
        return (f"the kernel exited with status {code} (does the notebook call exit(), "
                "sys.exit() or os._exit()?)")

    # -- talking to it ------------------------------------------------------------
    # Student code can break its end of the kernel's sockets (write garbage into
    # them, stop the threads that serve them). Nothing we send may then wait
    # forever: interrupts are signals, and a send gives up after two seconds.

    def _create_connected_socket(self, channel: str, identity: bytes | None = None) -> Any:
        socket = super()._create_connected_socket(channel, identity)
        socket.sndtimeo = 2000
        return socket

    def _kernel_pid(self) -> int | None:
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

    async def _async_interrupt_kernel(self) -> None:
        pid = self._kernel_pid()
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


_warned: set[str] = set()

# Set once this process has launched the process of a kernel or of a fork server:
# what is left of starting it is waiting, which other work can fill
# (``worker_task.warm_up`` does its first task's one-time work then, not before: the
# work would delay the launch, one Python thread at a time).
launched = threading.Event()




def _warn_once(log: Any, message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def describe_limits(manager: SandboxKernelManager | None = None) -> str:
    """One line for the guide and the CLI: the limits in force."""
    manager = manager or SandboxKernelManager()
    return (f"memory {manager.memory_limit}, CPU {manager.cpu_limit} s per process, "
            f"{manager.process_limit} processes, files up to {manager.file_size_limit}, "
            f"{manager.open_files_limit} open files, {manager.notebook_timeout} s per notebook")

