"""Start the judge and talk to it: a fresh, sandboxed process per submission.

The judge's filesystem (under bubblewrap) holds the system's folders, the
Python standard library (every ``site-packages`` hidden under an empty
folder), numpy, the judge's copy of miniflow and its program: not the course,
not the grader, not the submission's folder, not the other packages of the
Python environment. It runs as an unprivileged user with the grading
kernels' resource limits (``autograder/sandbox/child.py``), no network, and
its own process, IPC and PID namespaces, and dies with the grader.

Without bubblewrap (sandbox mode "none", or "auto" on a machine without it)
the judge still runs in a process of its own with the same limits and sees
only the judge's folder on its ``sys.path``, but it could read files the
grader can read: the grader warns about that mode already.

The grader sends one request at a time and waits for its answer, with a
time limit; a judge that dies or overruns is killed with everything it
started, and the questions after it go to a fresh judge.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy

from autograder.core.processes import kill_tree
from autograder.sandbox.bubblewrap import ETC, HOME, bwrap_has_size, namespace_flags, probe_bwrap
from autograder.sandbox.files import ONE_MATHS_THREAD, scratch_base
from autograder.sandbox.visible import SYSTEM

__all__ = ["JudgeDied", "JudgeProcess"]

CHILD = Path(__file__).with_name("child.py")
LIMITS = Path(__file__).resolve().parent.parent / "sandbox" / "child.py"
MAX_LINE = 4_000_000  # characters of one answer
JUDGE = "/judge"  # where the judge's folder appears inside bubblewrap


class JudgeDied(RuntimeError):
    """The judge stopped answering: it died, overran its time or broke the protocol."""


def _python() -> str:
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable) or sys.executable)


def _site_folders() -> list[str]:
    folders = set(site.getsitepackages() + [site.getusersitepackages()])
    folders.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    folders.update(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    return sorted(os.path.realpath(f) for f in folders if os.path.isdir(f))


def _numpy_folders() -> list[Path]:
    package = Path(numpy.__file__).resolve().parent
    libs = package.parent / "numpy.libs"  # the wheel's own OpenBLAS
    return [package] + ([libs] if libs.is_dir() else [])


def _interpreter_prefix() -> str:
    return os.path.dirname(os.path.dirname(_python()))


class JudgeProcess:
    """One judge: ``start``, then ``request`` (one answer each), then ``stop``."""

    def __init__(self, program: str, library: dict[str, str], *, mode: str,
                 limits: dict[str, int],
                 timeout: float) -> None:
        self.program, self.library, self.mode = program, library, mode
        self.limits, self.timeout = limits, timeout
        self.process: subprocess.Popen | None = None
        self.folder: Path | None = None
        self._buffer = b""

    # -- start and stop -------------------------------------------------------------

    def start(self) -> None:
        base = scratch_base()
        base.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="j", dir=base))
        os.chmod(self.folder, 0o755)
        (self.folder / "judge.py").write_text(self.program, encoding="utf-8")
        from autograder.judge.library import write_library

        self.miniflow = write_library(self.library, self.folder / "lib")
        shutil.copy(LIMITS, self.folder / "limits.py")
        for name in ("judge.py", "limits.py"):
            os.chmod(self.folder / name, 0o644)
        env = {"LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
               "PATH": "/usr/bin:/bin", **ONE_MATHS_THREAD}
        spec: dict[str, Any] = {"limits": self.limits, "uid": None, "gid": None, "chown": []}
        if self.mode == "bwrap":
            as_root = os.geteuid() == 0
            if as_root:
                uid = 1_000_000 + int.from_bytes(os.urandom(4), "big") % 1_000_000_000
                spec.update(uid=uid, gid=uid)
            env.update(HOME=HOME, TMPDIR="/tmp")
            command = [*self._bwrap(env), "--", _python(), "-I", "-S", f"{JUDGE}/limits.py",
                       json.dumps(spec), "--", _python(), "-I", "-S", "-c", self._bootstrap(
                           f"{JUDGE}/lib", f"{JUDGE}/judge.py")]
            cwd = None
        else:
            lib = self.folder / "lib"
            for folder in _numpy_folders():
                os.symlink(folder, lib / folder.name)
            home = self.folder / "home"
            home.mkdir()
            env.update(HOME=str(home), TMPDIR=str(home))
            spec["nproc_relative"] = True
            command = [_python(), "-I", "-S", str(self.folder / "limits.py"), json.dumps(spec),
                       "--", _python(), "-I", "-S", "-c",
                       self._bootstrap(str(lib), str(self.folder / "judge.py"))]
            cwd = str(home)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=env, cwd=cwd,
                                        start_new_session=True)
        self._buffer = b""

    @staticmethod
    def _bootstrap(lib: str, program: str) -> str:
        return (f"import sys; sys.path.insert(0, {lib!r}); "
                f"exec(compile(open({program!r}).read(), 'judge', 'exec')); main()")

    def _bwrap(self, env: dict[str, str]) -> list[str]:
        assert self.folder is not None
        size = ["--size", str(64 * 1024 ** 2)] if bwrap_has_size() else []
        args = [probe_bwrap().detail, *namespace_flags(os.geteuid() == 0),
                "--die-with-parent", "--new-session", "--clearenv",
                "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", *size, "--tmpfs", "/tmp",
                "--perms", "1777", *size, "--tmpfs", "/dev/shm",
                "--perms", "0755", "--dir", "/home", "--perms", "0755", *size, "--tmpfs", HOME]
        for folder in SYSTEM:
            if os.path.islink(folder):
                args += ["--symlink", os.readlink(folder), folder]
            elif os.path.isdir(folder):
                args += ["--ro-bind", folder, folder]
        for name in ETC:
            if os.path.exists(f"/etc/{name}"):
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        prefix = _interpreter_prefix()
        if not any(prefix == s or prefix.startswith(s + "/") for s in SYSTEM):
            # bubblewrap would make the missing parents 0700, closed to the judge's user
            for parent in reversed(Path(prefix).parents):
                if str(parent) != "/":
                    args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", prefix, prefix]
        # Every folder of installed packages is hidden, wherever it lies.
        for folder in _site_folders():
            if any(folder == s or folder.startswith(s + "/") for s in [*SYSTEM, prefix]):
                args += ["--tmpfs", folder]
        args += ["--perms", "0755", "--dir", JUDGE,
                 "--ro-bind", str(self.folder / "judge.py"), f"{JUDGE}/judge.py",
                 "--ro-bind", str(self.folder / "limits.py"), f"{JUDGE}/limits.py",
                 "--perms", "0755", "--dir", f"{JUDGE}/lib",
                 "--ro-bind", str(self.miniflow), f"{JUDGE}/lib/miniflow"]
        for folder in _numpy_folders():
            args += ["--ro-bind", str(folder), f"{JUDGE}/lib/{folder.name}"]
        args += ["--chdir", HOME, "--hostname", "judge"]
        for key, value in env.items():
            args += ["--setenv", key, value]
        return args

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                kill_tree(process.pid)
            for stream in (process.stdin, process.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # -- one request, one answer ----------------------------------------------------

    def request(self, message: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send ``message``; its answer, parsed as plain data. JudgeDied if none came."""
        from autograder.judge.compare import json_constant, plain_value

        process = self.process
        if process is None or process.poll() is not None:
            raise JudgeDied("the judge is not running")
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(message).encode() + b"\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise JudgeDied(self._death()) from None
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        descriptor = process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise JudgeDied(f"it did not answer within {timeout or self.timeout:g} s")
            ready, _, _ = select.select([descriptor], [], [], min(left, 1.0))
            if not ready:
                if process.poll() is not None:
                    raise JudgeDied(self._death())
                continue
            chunk = os.read(descriptor, 1 << 16)
            if not chunk:
                raise JudgeDied(self._death())
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE:
                raise JudgeDied("its answer was larger than the grader reads")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            answer = plain_value(json.loads(line.decode("utf-8"), parse_constant=json_constant))
        except (ValueError, RecursionError, UnicodeDecodeError):
            raise JudgeDied("its answer was not plain data") from None
        if not isinstance(answer, dict):
            raise JudgeDied("its answer was not plain data")
        return answer

    def _death(self) -> str:
        process = self.process
        code = process.poll() if process is not None else None
        if code is None:
            try:
                code = process.wait(timeout=1) if process is not None else None
            except subprocess.TimeoutExpired:
                code = None
        if code is not None and code < 0:
            import signal

            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            reason = {"SIGXCPU": "it used up its CPU time", "SIGKILL": "it was killed "
                      "(out of memory, or a limit)", "SIGSEGV": "it crashed (a segfault)"}
            return f"the process stopped: {reason.get(name, name)}"
        return f"the process exited (status {code})"
