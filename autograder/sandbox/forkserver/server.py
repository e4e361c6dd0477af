"""Grading kernels forked from one that has already imported everything.

Starting a grading kernel costs about 0.4 s of CPU in the kernel alone
(bubblewrap and Python's own start come on top), most of it importing
ipykernel, numpy, matplotlib and the course's modules. A *fork server* pays
it once per grading worker: it imports them, then forks a copy for each
notebook, which is its kernel. The server also imports what ipykernel
imports as it starts (``KERNEL_START``): a forked kernel has used about
0.05 s of CPU by the time it runs its first cell.

The walls stay the ones ``autograder.sandbox.command`` builds with bubblewrap, per
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

The server's process is this module (``python -m autograder.sandbox.forkserver.server
FD``, inside the fork server's bubblewrap, FD its end of the channel), with what
each kernel's monitor, init and kernel do after the fork. The grader's side is
``client``; the calls Python's ``os`` lacks are in ``syscalls``. The system
calls, in order:

* The server: its imports, ``gc.freeze()``, then ``pidfd_open(2)`` on itself,
  sent to the grader (``SCM_RIGHTS``), which reads the server's pid in its own
  PID namespace from the descriptor. Then ``select(2)`` on the channel and on a
  ``SIGCHLD`` wake-up pipe (``signal.set_wakeup_fd``); per request,
  ``fork(2)`` and ``pidfd_open(2)`` on the child (the monitor), sent back: the
  grader watches and signals the monitor through it, never through a pid that
  could be reused; per ``SIGCHLD``, ``waitpid(2)``, each exit status sent as a
  message.
* The monitor (the server's child): ``setsid(2)``, ``prctl(PR_SET_PDEATHSIG)``,
  ``unshare(2)`` of the mount, PID, network, IPC and UTS namespaces (and the
  cgroup namespace where the kernel allows it), ``sethostname(2)``, then
  ``fork(2)``: the kernel's init. It waits for the init (``waitpid(2)``) and
  exits with its status, which is the kernel's.
* The init (PID 1 of the new PID namespace): ``mount(2)``: every mount made
  private (``MS_REC | MS_PRIVATE``), a new ``proc``, tmpfs for ``/dev/shm`` and
  the home (and for the scratch folder's base when it is not below ``/tmp``);
  each bind the grader made (``open_tree(2)``, in the grader) attached with
  ``move_mount(2)`` and remounted ``nosuid,nodev`` (and read-only) with
  ``mount(MS_REMOUNT | MS_BIND)``; ``chown(2)`` of the folders the kernel's user
  owns; the loopback brought up (``ioctl(SIOCSIFFLAGS)``). Then ``fork(2)``:
  the kernel; the init reaps (``wait(2)``) until the kernel has ended.
* The kernel: its standard streams onto ``/dev/null`` and its stderr pipe,
  every other descriptor closed, then ``autograder/sandbox/child.py``'s
  ``confine``: the IPC limits, ``setrlimit(2)``, ``setgroups(2)``,
  ``setresgid(2)``, ``setresuid(2)``, ``prctl(PR_SET_NO_NEW_PRIVS)`` and
  ``prctl(PR_SET_PDEATHSIG)``; then ipykernel, in the same process.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys

from autograder.sandbox.child import PR_SET_PDEATHSIG, close_descriptors, confine, prctl
from autograder.sandbox.forkserver.syscalls import (
    AT_FDCWD,
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUTS,
    IFF_UP,
    MAX_BINDS,
    MOVE_MOUNT_F_EMPTY_PATH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    SIOCGIFFLAGS,
    SIOCSIFFLAGS,
    SYS_MOVE_MOUNT,
    check,
    libc,
    mount,
    send,
)

HOME = "/home/student"
MPL_DIR = f"{HOME}/.config/matplotlib"


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
    check(libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(),
                         MOVE_MOUNT_F_EMPTY_PATH), f"attach {target}")
    os.close(tree)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (MS_RDONLY if read_only else 0)
    mount(None, target, None, flags)


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
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
           f"mode=1777,size={spec['shm_size']}")
    mount("tmpfs", HOME, "tmpfs", MS_NOSUID | MS_NODEV,
           f"mode=0700,size={spec['scratch_size']}")
    os.mkdir(f"{HOME}/.tmp")
    os.chmod(f"{HOME}/.tmp", 0o1777)
    if spec["base_mount"]:  # the scratch folder's base is not below /tmp
        mount("tmpfs", spec["base_mount"], "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
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
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
                             | CLONE_NEWUTS), "unshare")
        libc.unshare(CLONE_NEWCGROUP)  # where the kernel allows it, as bubblewrap tries
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
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
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


def import_all(names: list[str] | tuple[str, ...]) -> None:
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
    import_all(json.loads(message or b"[]"))
    import ipykernel_launcher  # noqa: F401
    from ipykernel import kernelapp  # noqa: F401

    import_all(KERNEL_START + (NUMPY_START if "numpy" in sys.modules else ()))
    gc.collect()
    gc.freeze()  # the collector would otherwise touch, and so copy, every inherited page
    me = os.pidfd_open(os.getpid())
    send(control, {"ready": True, "threads": len(os.listdir("/proc/self/task"))}, [me])
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
                send(control, {"exited": kernels.pop(pid, None), "status": exit_code(status)})
        if control in ready:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, MAX_BINDS + 1)
            if not message:
                os._exit(0)  # the grader is gone
            spec = json.loads(message)
            if len(fds) != len(spec["binds"]) + 1:
                for fd in fds:
                    os.close(fd)
                send(control, {"started": spec.get("id"),
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
            send(control, {"started": spec["id"]}, [handle])
            os.close(handle)


def main(argv: list[str]) -> None:
    serve(socket.socket(fileno=int(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
