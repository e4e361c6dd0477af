"""Grading kernels forked from one that has already imported everything.

Starting a grading kernel costs about 0.4 s of CPU in the kernel alone
(bubblewrap and Python's own start come on top), most of it importing
ipykernel, numpy, matplotlib and the course's modules. A *fork server* pays
it once per grading worker: it imports them, then forks a copy for each
notebook, which is its kernel. The server also imports what ipykernel
imports as it starts (``KERNEL_START``): a forked kernel has used about
0.05 s of CPU by the time it runs its first cell.

The walls stay the ones ``autograder.sandbox.manager`` builds with bubblewrap, per
kernel:

* The fork server itself runs inside bubblewrap, shaped like a kernel's
  sandbox (a read-only system and Python environment, no course root, no
  network, its own PID, IPC and UTS namespaces, a clean environment) but with
  no notebook, data or sockets: only trusted code ever runs in it.
* Each kernel gets namespaces of its own below it: mount, PID, network, IPC,
  UTS (and cgroup where it can). In its own mount namespace it gets a fresh
  size-limited tmpfs for its home and ``/tmp``, a fresh ``/dev/shm``, a fresh
  ``/proc`` that shows its own processes only, and exactly the binds a
  bubblewrap kernel gets: the assignment's data and the font list read-only,
  its ``/etc/passwd``, its connection file read-only and its socket folder.
  The grader hands these over as an open folder (``SCM_RIGHTS``), so the
  fork server never sees the host's folders. Another kernel of the same
  worker is in other namespaces: it cannot see, signal or reach it.
* Then, as with ``autograder/sandbox/child.py``: the resource limits, an unprivileged
  uid of its own, no new privileges ever, death with its parent, every file
  descriptor but its standard streams closed, and fresh seeds for Python's
  and numpy's random generators (a copy would otherwise share its parent's).
  Only then does it become the kernel (``ipykernel``'s own start, with the
  arguments the kernel's command line would have had, in ``sys.argv``).
  ``/proc/self/cmdline`` still shows the fork server's command line: setting
  it needs CAP_SYS_RESOURCE, which containers often withhold.

Process layout, as the grader sees it: the fork server's bubblewrap, its
init, the fork server (Python), then for each kernel a *monitor* (the
server's child, which the grader treats as the kernel's process: its exit
status is the kernel's, killing its tree stops the kernel), the kernel's
init (PID 1 of the kernel's namespace, which reaps) and the kernel.

Used only where the grader is root (a grading server or container): an
unprivileged grader would need a user namespace per kernel. Elsewhere, and
whenever the fork server cannot be had, kernels start as before.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import select
import signal
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

from autograder.sandbox.child import (
    PR_SET_PDEATHSIG,
    _prctl,
    close_descriptors,
    confine,
    wait_polling,
)

HOME = "/home/student"
MPL_DIR = f"{HOME}/.config/matplotlib"

# from <sched.h> and <sys/mount.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
# open_tree(2) and move_mount(2) (x86_64 and aarch64 numbers): a bind made in
# the grader's mount namespace, handed over as a descriptor, attached here.
SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429
OPEN_TREE_CLONE, MOVE_MOUNT_F_EMPTY_PATH, AT_FDCWD = 1, 4, -100
MAX_BINDS = 200  # descriptors in one message (the kernel allows 253)
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source: str | None, target: str, kind: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), kind and kind.encode(),
                       flags, data and data.encode()), f"mount {target}")


def exit_code(status: int) -> int:
    """A wait status as an exit code, a signal as 128 + its number (as bubblewrap reports)."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


# --- in the kernel's monitor, init and kernel (forked from the server) ---------------------

def _attach(tree: int, target: str, *, folder: bool, read_only: bool) -> None:
    """Attach the bind ``tree`` (from ``open_tree``) at ``target``, made if missing."""
    if folder:
        os.makedirs(target, mode=0o755, exist_ok=True)
    elif not os.path.exists(target):
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _check(_libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(),
                         MOVE_MOUNT_F_EMPTY_PATH), f"attach {target}")
    os.close(tree)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (MS_RDONLY if read_only else 0)
    _mount(None, target, None, flags)


def _loopback_up() -> None:
    """Bring up the loopback of the kernel's new network namespace (bubblewrap does too)."""
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _make_folders(spec: dict, trees: list[int]) -> None:
    """The kernel's file system: what bubblewrap binds for a kernel, in this namespace."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
           f"mode=1777,size={spec['shm_size']}")
    _mount("tmpfs", HOME, "tmpfs", MS_NOSUID | MS_NODEV,
           f"mode=0700,size={spec['scratch_size']}")
    os.mkdir(f"{HOME}/.tmp")
    os.chmod(f"{HOME}/.tmp", 0o1777)
    if spec["base_mount"]:  # the scratch folder's base is not below /tmp
        _mount("tmpfs", spec["base_mount"], "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for tree, (target, folder, read_only) in zip(trees, spec["binds"], strict=True):
        _attach(tree, target, folder=folder, read_only=read_only)
    for path in spec["owned"]:
        os.chown(path, spec["uid"], spec["gid"])


def _become_kernel(spec: dict, stderr: int) -> None:
    """The kernel's process: limits, the sandbox's user, then ipykernel. Never returns."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(stderr, 2)
    close_descriptors({0, 1, 2})  # nothing of the server's, nothing of the grader's
    try:
        # its own IPC namespace (_monitor's unshare): IPC closed there
        confine(spec["limits"], spec["uid"], spec["gid"], nproc_relative=False,
                private_ipc=True)
    except SystemExit as refused:  # the child's way of saying so, before its exec
        raise OSError(str(refused)) from None
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(HOME)
    # A fork shares its parent's random state: every kernel would draw the same
    # numbers. A fresh interpreter seeds from the system; so does this one.
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    if spec.get("trial"):  # everything a kernel gets, then no kernel
        os._exit(0)
    import ipykernel_launcher
    from ipykernel import kernelapp

    sys.argv = [ipykernel_launcher.__file__, *spec["arguments"]]
    code = 0
    try:
        kernelapp.launch_new_instance()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        import atexit

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def _fail(stderr: int, what: str, error: BaseException) -> None:
    try:
        os.write(stderr, f"sandbox: could not {what}: {error}\n".encode())
    finally:
        os._exit(1)


def _monitor(spec: dict, trees: list[int], stderr: int) -> None:
    """The server's child for one kernel: new namespaces, then the kernel's init. Never returns."""
    try:
        os.setsid()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
                             | CLONE_NEWUTS), "unshare")
        _libc.unshare(CLONE_NEWCGROUP)  # where the kernel allows it, as bubblewrap tries
        socket.sethostname("sandbox")
    except BaseException as error:
        _fail(stderr, "create the kernel's namespaces", error)
    init = os.fork()
    if init:
        for fd in (*trees, stderr):
            os.close(fd)
        while True:
            try:
                _, status = os.waitpid(init, 0)
                os._exit(exit_code(status))
            except InterruptedError:
                continue
    # PID 1 of the kernel's namespace: it builds the kernel's file system, starts
    # the kernel and reaps; when the kernel ends, it ends, and with it every
    # process left in the namespace.
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _make_folders(spec, trees)
        _loopback_up()
    except BaseException as error:
        _fail(stderr, "prepare the kernel's sandbox", error)
    kernel = os.fork()
    if kernel == 0:
        try:
            _become_kernel(spec, stderr)
        except BaseException as error:
            _fail(stderr, "start the kernel", error)
    os.close(stderr)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if pid == kernel:
            os._exit(exit_code(status))


# --- the server -----------------------------------------------------------------------

def _send(control: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    socket.send_fds(control, [json.dumps(message).encode()], fds or [])


# What every ipykernel imports as it starts, after ipykernel_launcher and its
# kernelapp: the debugger (debugpy, about 40 ms of CPU), IPython's debugger,
# inspector and completer, the history's sqlite3 and a few more (and the
# readers importlib.resources loads when IPython reads its colour theme). Imported
# here once, they cost each forked kernel nothing: about 0.07 CPU-seconds less
# per kernel. tests/test_forkserver.py checks that a kernel's start imports no
# other library module and no other top-level standard one; which submodules of
# a standard package it meets depends on the machine's libraries. (A kernel's
# start no longer prints debugpy's warning, which used to ready its output path
# by chance: autograder.execute.startup.OUTPUT_READY readies it on purpose.)
KERNEL_START = ("ipykernel.debugger", "IPython.core.debugger", "IPython.core.completerlib",
                "IPython.core.oinspect", "IPython.extensions.storemagic", "sqlite3",
                "faulthandler", "tornado.platform.asyncio", "IPython.core.logger", "runpy",
                "importlib.readers")
# With numpy: each forked kernel reseeds numpy.random (_become_kernel), and the
# tamper guard watches numpy.testing (autograder.kernel.guard).
NUMPY_START = ("numpy.random", "numpy.testing")


def _import_all(names: list[str] | tuple[str, ...]) -> None:
    for name in names:
        try:
            __import__(name)
        except Exception:
            pass  # a kernel that needs it meets the same error itself


def serve(control: socket.socket) -> None:
    """Import the preload (as a kernel's exec_lines would), then fork a kernel per request.

    The preload comes as the first message, not on the command line, which
    every forked kernel shows as its own.
    """
    message, _, _, _ = socket.recv_fds(control, 1 << 16, 0)
    _import_all(json.loads(message or b"[]"))
    import ipykernel_launcher  # noqa: F401
    from ipykernel import kernelapp  # noqa: F401

    _import_all(KERNEL_START + (NUMPY_START if "numpy" in sys.modules else ()))
    gc.collect()
    gc.freeze()  # the collector would otherwise touch, and so copy, every inherited page
    me = os.pidfd_open(os.getpid())
    _send(control, {"ready": True, "threads": len(os.listdir("/proc/self/task"))}, [me])
    os.close(me)
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    kernels: dict[int, int] = {}  # our child's pid -> the grader's number for it
    while True:
        ready, _, _ = select.select([control, wake_read], [], [])
        if wake_read in ready:
            while True:
                try:
                    if not os.read(wake_read, 512):
                        break
                except BlockingIOError:
                    break
            while kernels:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                _send(control, {"exited": kernels.pop(pid, None), "status": exit_code(status)})
        if control in ready:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, MAX_BINDS + 1)
            if not message:
                os._exit(0)  # the grader is gone
            spec = json.loads(message)
            if len(fds) != len(spec["binds"]) + 1:
                for fd in fds:
                    os.close(fd)
                _send(control, {"started": spec.get("id"),
                                "error": "the binds and their descriptors do not match"})
                continue
            pid = os.fork()
            if pid == 0:
                try:
                    control.close()
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    os.close(wake_read)
                    os.close(wake_write)
                except BaseException as error:
                    _fail(fds[0], "start the kernel's monitor", error)
                _monitor(spec, fds[1:], fds[0])
            for fd in fds:
                os.close(fd)
            kernels[pid] = spec["id"]
            handle = os.pidfd_open(pid)
            _send(control, {"started": spec["id"]}, [handle])
            os.close(handle)


# --- the grader's side ---------------------------------------------------------------

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
                tree = _libc.syscall(SYS_OPEN_TREE, AT_FDCWD, source.encode(),
                                     OPEN_TREE_CLONE | os.O_CLOEXEC)
                _check(0 if tree >= 0 else -1, f"bind {source}")
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
                _send(self._control, {**spec, "id": number}, [write_end, *trees])
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


def main(argv: list[str]) -> None:
    serve(socket.socket(fileno=int(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
