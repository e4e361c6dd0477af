"""The grader's side of the fork server: starting it, asking it for kernels, watching them.

``ForkServer`` starts the server's process (``server``, in the bubblewrap
command the kernel manager built for it) with its end of a ``SOCK_SEQPACKET``
socket pair, and waits for its first message: a ``pidfd`` of the server
(``SCM_RIGHTS``), whose ``/proc/self/fdinfo`` entry gives its pid in the
grader's PID namespace. For each kernel, every bind is made here, in the
grader's view of the files, with ``open_tree(2)`` (``OPEN_TREE_CLONE``), and
handed over as a descriptor with the kernel's stderr pipe; the server answers
with a ``pidfd`` of the kernel's monitor. ``ForkedProcess`` shows that monitor
to jupyter_client as ``subprocess.Popen`` would: it polls the ``pidfd``
(``select(2)``, readable once the process has ended), reads the exit status
the server reported (the server, not the grader, is its parent), and signals
it with ``pidfd_send_signal(2)``, never through a pid that could have been
reused.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

from autograder.sandbox.child import wait_polling
from autograder.sandbox.forkserver.syscalls import (
    AT_FDCWD,
    MAX_BINDS,
    OPEN_TREE_CLONE,
    SYS_OPEN_TREE,
    check,
    libc,
    send,
)


class ForkServerError(RuntimeError):
    """The fork server could not be started or could not fork a kernel."""


def _pid_of(pidfd: int) -> int:
    """The process id (in the grader's namespace) a pidfd refers to."""
    with open(f"/proc/self/fdinfo/{pidfd}") as handle:
        for line in handle:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    raise ForkServerError("this Linux does not say which process a pidfd refers to")


class ForkServer:
    """One fork server (in its own bubblewrap) and the channel to it, in the grader."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: str,
                 preload: list[str], timeout: float = 60.0,
                 launched: Callable[[], None] | None = None) -> None:
        """Start the server and wait until it is ready; ``launched()`` as its process
        starts (before its imports)."""
        import subprocess
        import threading

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control = ours
        self._lock = threading.Lock()
        self._exits: dict[int, int] = {}
        self._running: set[int] = set()  # kernels forked and not known to have ended
        self.tried = False  # a trial fork succeeded (try_out)
        self._next = 0
        self.stderr_tail = bytearray()
        try:
            self.process = subprocess.Popen(
                [*command, sys.executable, "-m", "autograder.sandbox.forkserver.server",
                 str(theirs.fileno())],
                pass_fds=[theirs.fileno()], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        finally:
            theirs.close()
        if launched is not None:
            launched()
        threading.Thread(target=self._drain, daemon=True).start()
        try:
            ours.sendall(json.dumps(preload).encode())
            ready, fds = self._receive(timeout)
            if not ready.get("ready") or len(fds) != 1:
                raise ForkServerError(f"it answered {ready!r}")
            self.pid = _pid_of(fds[0])
            os.close(fds[0])
            if ready["threads"] != 1:  # forking a threaded process copies one thread only
                raise ForkServerError(f"it runs {ready['threads']} threads after its "
                                      "imports; it must run one to fork")
        except (OSError, ValueError, ForkServerError) as error:
            self.stop()
            said = bytes(self.stderr_tail).decode(errors="replace").strip()[-500:]
            raise ForkServerError(f"the fork server did not start ({error})"
                                  + (f": {said}" if said else "")) from None

    def _drain(self) -> None:
        stream = self.process.stderr
        try:
            for chunk in iter(lambda: stream.read1(4096), b""):  # type: ignore[union-attr]
                self.stderr_tail += chunk
                del self.stderr_tail[:-8192]
        except (OSError, ValueError):
            pass

    def _receive(self, timeout: float | None) -> tuple[dict, list[int]]:
        """The next message from the server (an exit is filed on the way)."""
        ready, _, _ = select.select([self._control], [], [], timeout)
        if not ready:
            raise ForkServerError(f"no answer in {timeout:g} s")
        message, fds, _, _ = socket.recv_fds(self._control, 1 << 16, 4)
        if not message:
            raise ForkServerError("it has stopped")
        answer = json.loads(message)
        if "exited" in answer:
            if answer["exited"] is not None:
                self._exits[answer["exited"]] = answer["status"]
                self._running.discard(answer["exited"])
        return answer, fds

    def busy(self) -> bool:
        """Does a kernel forked by this server still run?"""
        with self._lock:
            try:
                while self._running and self.alive():
                    self._receive(0)
            except (OSError, ValueError, ForkServerError):
                pass
            return bool(self._running) and self.alive()

    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, spec: dict, binds: list[tuple[str, str, bool]],
              timeout: float = 30.0) -> ForkedProcess:
        """Fork a kernel in the sandbox ``spec`` describes.

        ``binds``: (what, where in the kernel, read-only), as bubblewrap's
        ``--bind``/``--ro-bind``. Each is made here, in the grader's view of
        the files, and handed over as a descriptor (``open_tree``).
        """
        if len(binds) > MAX_BINDS:
            raise ForkServerError(f"{len(binds)} binds; at most {MAX_BINDS} go in one request")
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        trees: list[int] = []
        try:
            for source, _, _ in binds:
                tree = libc.syscall(SYS_OPEN_TREE, AT_FDCWD, source.encode(),
                                     OPEN_TREE_CLONE | os.O_CLOEXEC)
                check(0 if tree >= 0 else -1, f"bind {source}")
                trees.append(tree)
        except OSError as error:
            for fd in (*trees, read_end, write_end):
                os.close(fd)
            raise ForkServerError(str(error)) from None
        spec = {**spec, "binds": [(target, os.path.isdir(source), read_only)
                                  for source, target, read_only in binds]}
        with self._lock:
            self._next += 1
            number = self._next
            self._running.add(number)
            try:
                send(self._control, {**spec, "id": number}, [write_end, *trees])
                while True:
                    answer, fds = self._receive(timeout)
                    if answer.get("started") == number:
                        break
                    for fd in fds:
                        os.close(fd)
            except (OSError, ValueError, ForkServerError) as error:
                self._running.discard(number)
                os.close(read_end)
                raise ForkServerError(f"the fork server did not fork a kernel ({error})") \
                    from None
            finally:
                for fd in (write_end, *trees):
                    os.close(fd)
        if answer.get("error") or len(fds) != 1:
            with self._lock:
                self._running.discard(number)
            os.close(read_end)
            for fd in fds:
                os.close(fd)
            raise ForkServerError(f"the fork server refused: {answer.get('error')}")

        stderr = os.fdopen(read_end, "rb")
        return ForkedProcess(self, number, fds[0], stderr)

    def try_out(self, spec: dict, binds: list[tuple[str, str, bool]],
                timeout: float = 30.0) -> None:
        """Fork a kernel's whole sandbox once, without the kernel; raise if it fails.

        The first fork of a server: a machine that refuses a step (a mount, a
        namespace) fails here, before any notebook, and kernels then start in
        bubblewrap instead of each dying as it starts.
        """
        import time

        if self.tried:
            return
        trial = self.spawn({**spec, "trial": True}, binds, timeout)
        give_up = time.monotonic() + timeout
        while trial.poll() is None and time.monotonic() < give_up:
            time.sleep(0.01)
        code = trial.poll()
        said = trial.stderr.read1(4096).decode(errors="replace").strip() \
            if code is not None else ""  # type: ignore[attr-defined]
        trial.kill()
        trial.stderr.close()  # type: ignore[attr-defined]
        if code != 0:
            raise ForkServerError(f"a trial fork failed ({said or f'status {code}'})")
        self.tried = True

    def exit_status(self, number: int, wait: float) -> int | None:
        """The exit status the server reported for kernel ``number``, waiting up to ``wait``."""
        with self._lock:
            while number not in self._exits:
                try:
                    self._receive(wait)
                except (OSError, ValueError, ForkServerError):
                    return None
            return self._exits.pop(number)

    def stop(self) -> None:
        from autograder.core.processes import kill_tree

        if self.process.poll() is None:
            kill_tree(self.process.pid)
        self.process.wait()
        self._control.close()


class ForkedProcess:
    """A forked kernel's monitor, as ``subprocess.Popen`` would show it to jupyter_client."""

    stdin = None
    stdout = None

    def __init__(self, server: ForkServer, number: int, pidfd: int, stderr: object) -> None:
        import threading

        self._lock = threading.Lock()  # the watchdog's thread polls too
        self._server = server
        self._number = number
        self._pidfd: int | None = pidfd
        self.pid = _pid_of(pidfd)
        self.stderr = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is not None or self._pidfd is None:
                return self.returncode
            ended, _, _ = select.select([self._pidfd], [], [], 0)
            if not ended:
                return None
            status = self._server.exit_status(self._number, wait=5.0)
            # A server that died took its kernels with it: killed, as far as anyone can say.
            self.returncode = 128 + signal.SIGKILL if status is None else status
            os.close(self._pidfd)
            self._pidfd = None
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        return wait_polling(self, timeout, "forked kernel", 0.02)

    def send_signal(self, number: int) -> None:
        if self.poll() is None:
            with self._lock:
                if self._pidfd is not None:
                    signal.pidfd_send_signal(self._pidfd, number)  # never a recycled pid

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        from autograder.core.processes import kill_tree

        if self.poll() is None:
            kill_tree(self.pid)

