"""Starting a kernel's process: as jupyter_client does (bubblewrap, or none), or forked
from a fork server (``autograder/sandbox/forkserver/``: as root, in bubblewrap).

Mixed into ``SandboxKernelManager`` (``autograder.sandbox.manager``): the
manager plans the fork as it builds the kernel's command (``plan_fork``, from
the same binds and environment as bubblewrap's, ``autograder.sandbox.command``),
then launches the kernel here, and starts its watchdog
(``autograder.sandbox.watchdog``). Whenever the fork server cannot be had, the
kernel starts as usual, with one warning.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from autograder.sandbox.bubblewrap import HOME, parse_size
from autograder.sandbox.files import outside_tmp, scratch_base
from autograder.sandbox.forkserver.registry import forget_fork_server, fork_server_for
from autograder.sandbox.visible import python_paths

__all__ = ["KernelLaunch", "launched", "warn_once"]


_warned: set[str] = set()

# Set once this process has launched the process of a kernel or of a fork server:
# what is left of starting it is waiting, which other work can fill
# (``worker_task.warm_up`` does its first task's one-time work then, not before: the
# work would delay the launch, one Python thread at a time).
launched = threading.Event()


def warn_once(log: Any, message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


class KernelLaunch:
    """Launching the kernel's process (a part of ``SandboxKernelManager``)."""


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

    def plan_fork(self, kernel_cmd: list[str], cwd: Path | None) -> dict[str, Any] | None:
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
        from autograder.sandbox.forkserver.client import ForkServerError

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
            warn_once(self.log, f"sandbox: kernels start without the fork server: {error}")
            return None

    def _start_fork_server(self, folder: Path, cwd: Path | None) -> Any:
        """Start a fork server for kernels like this one, its files in ``folder``."""
        from autograder.sandbox.forkserver.client import ForkServer

        (folder / "etc").mkdir()
        (folder / "etc" / "passwd").write_text("root:x:0:0:root:/root:/usr/sbin/nologin\n")
        (folder / "etc" / "group").write_text("root:x:0:\n")
        if self._fonts is not None:
            (folder / "f").mkdir()
            shutil.copy(self._fonts, folder / "f" / self._fonts.name)
        return ForkServer([*self._bwrap_args(cwd, server=folder), "--"],
                          {"PATH": os.environ.get("PATH", "")}, str(folder),
                          list(self.preload_modules), launched=launched.set)
