"""The kernel's command line: the child that limits it, bubblewrap's arguments, its environment.

What a kernel's sandbox shows it (``_bwrap_args``: the system and the Python
environment read-only, a private home and ``/tmp``, its data, fonts, sockets
and connection file, nothing of the course or the grader's), the clean
environment it starts with, and the spec of ``autograder/sandbox/child.py``,
which sets its limits and its user before the kernel starts. Mixed into
``SandboxKernelManager`` (``autograder.sandbox.manager``), whose settings it
reads; a fork server's sandbox is built here too, and each kernel it forks
gets the same binds (``_own_binds``; ``autograder.sandbox.launch``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from autograder.sandbox.bubblewrap import (
    CHILD,
    ETC,
    HOME,
    MPL_DIR,
    PASS_THROUGH,
    bwrap_has_size,
    namespace_flags,
    parse_size,
    probe_bwrap,
)
from autograder.sandbox.files import ONE_MATHS_THREAD, outside_tmp, sandbox_uid, scratch_base
from autograder.sandbox.visible import SYSTEM, python_paths

__all__ = ["KernelCommand"]


class KernelCommand:
    """The command that starts a kernel in its sandbox (a part of ``SandboxKernelManager``)."""

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
