"""The first program a grading kernel's sandbox runs: limits, then the kernel.

Run as ``python -I child.py SPEC -- KERNEL COMMAND...`` (the command
``autograder.sandbox.command`` builds), inside bubblewrap when there is one. It imports
nothing from the course, so nothing a student wrote can shadow it. In order:

1. Hand the writable folders to the sandbox's user (when the grader is root).
2. Close System V IPC (shared memory, message queues, semaphores) and POSIX
   message queues, when the sandbox has an IPC namespace of its own
   (``"private_ipc"``, bubblewrap and the fork server's kernels): their
   limits in that namespace are set to zero. A detached shared memory segment
   is in no process's address space, so the watchdog, which adds up the
   kernel's processes' memory, would never count it (3 GiB held under a
   2 GiB limit). ``shmget`` then fails with ENOSPC ("No space left on
   device"), ``msgget`` and ``semget`` too (``semget`` with EINVAL). The
   writes change only the sandbox's own namespace; outside one (mode
   ``none``) nothing is written. If the kernel refuses a write, the kernel
   still starts, and one line on its stderr says what stays open.
3. Set the resource limits. ``RLIMIT_NPROC`` counts the processes of one
   user in one user namespace, so it is set here, inside the sandbox, where
   the only processes of that user are the kernel's own.
4. Drop to the unprivileged uid (when the grader is root) and forbid ever
   gaining privileges again (``PR_SET_NO_NEW_PRIVS``).
5. Ask to be killed if the process that started it dies (``PR_SET_PDEATHSIG``).
6. ``exec`` the kernel: from here on the process is the kernel.

SPEC is JSON: ``{"limits": {"AS": bytes, "CPU": s, "NPROC": n, "FSIZE":
bytes, "NOFILE": n}, "uid": int | null, "gid": int | null, "chown": [paths],
"nproc_relative": bool, "private_ipc": bool}``.
"""

import ctypes
import json
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

LIMITS = {
    "AS": resource.RLIMIT_AS,
    "CPU": resource.RLIMIT_CPU,
    "NPROC": resource.RLIMIT_NPROC,
    "FSIZE": resource.RLIMIT_FSIZE,
    "NOFILE": resource.RLIMIT_NOFILE,
}


# Limits of the IPC namespace (files below /proc/sys) that, at zero, refuse every
# new System V segment, queue and semaphore set, and every POSIX message queue.
# shmmni and shmall: shmget fails with ENOSPC (shmmax 0 would say EINVAL, less clear).
CLOSED_IPC = (("kernel/shmmni", "0"), ("kernel/shmall", "0"), ("kernel/msgmni", "0"),
              ("kernel/sem", "0 0 0 0"), ("fs/mqueue/queues_max", "0"))


def close_ipc() -> list[str]:
    """Set this IPC namespace's limits to zero (``CLOSED_IPC``); the ones it could not.

    Only ever in a namespace of the sandbox's own: elsewhere this would close
    IPC for the whole machine.
    """
    refused = []
    for name, value in CLOSED_IPC:
        try:
            with open(f"/proc/sys/{name}", "w") as handle:
                handle.write(value)
        except OSError as error:
            if name.startswith("fs/mqueue") and error.errno == 2:
                continue  # a kernel without POSIX message queues: nothing to close
            refused.append(f"{name} ({error.strerror})")
    if refused:
        sys.stderr.write("sandbox: System V IPC stays open in this kernel; the kernel "
                         f"refused to set {', '.join(refused)} to 0\n")
    return refused


def prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def close_descriptors(keep: set[int]) -> None:
    """Close every descriptor this process holds (as ``/proc/self/fd`` lists them) but ``keep``.

    For a process forked from one whose descriptors it must not inherit
    (autograder/sandbox/forkserver/server.py's kernels, autograder/run/worker_process.py's
    forked workers).
    """
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep:
            try:
                os.close(int(name))
            except OSError:
                pass  # the listing's own descriptor, already closed


def wait_polling(process: object, timeout: float | None, what: str, every: float) -> int:
    """``Popen.wait`` for a process known only by its ``poll()`` and ``returncode``.

    For the processes the grader cannot wait for with ``waitpid`` in one call:
    a forked worker (autograder/run/workers.py) and a kernel forked by the fork
    server, whose exit the server reports (autograder/sandbox/forkserver/server.py).
    """
    import subprocess
    import time

    give_up = None if timeout is None else time.monotonic() + timeout
    while process.poll() is None:  # type: ignore[attr-defined]
        if give_up is not None and time.monotonic() > give_up:
            raise subprocess.TimeoutExpired(what, timeout or 0)
        time.sleep(every)
    return process.returncode  # type: ignore[attr-defined]


def _tasks_of(uid: int) -> int:
    """Threads and processes this uid runs now (RLIMIT_NPROC counts both)."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


def _set_limits(limits: dict, nproc_relative: bool) -> None:
    for name, value in limits.items():
        if value is None:
            continue
        value = int(value)
        if name == "NPROC" and nproc_relative:
            # Without a user namespace the count covers every process of this
            # user on the machine: allow this many more than run now.
            value += _tasks_of(os.getuid())
        soft = hard = value
        if name == "CPU":
            hard = value + 5  # SIGXCPU first (a clear exit status), SIGKILL soon after
        resource.setrlimit(LIMITS[name], (soft, hard))


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: child.py SPEC -- COMMAND...\n")
        raise SystemExit(2)
    spec = json.loads(argv[0])
    command = argv[2:]
    uid, gid = spec.get("uid"), spec.get("gid")
    if uid is not None:
        for path in spec.get("chown", []):
            os.chown(path, uid, gid)
    confine(spec.get("limits", {}), uid, gid, bool(spec.get("nproc_relative")),
            private_ipc=bool(spec.get("private_ipc")))
    os.execvp(command[0], command)


def confine(limits: dict, uid: int | None, gid: int | None, nproc_relative: bool, *,
            private_ipc: bool = False) -> None:
    """Steps 2 to 5: IPC closed, limits, the sandbox's user, no new privileges, death with
    the parent.

    Also what autograder/sandbox/forkserver/server.py does to each kernel it forks.
    ``private_ipc``: this process is in an IPC namespace of the sandbox's own.
    """
    if private_ipc:
        close_ipc()
    _set_limits(limits, nproc_relative)
    if uid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise SystemExit("sandbox: could not drop privileges")
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
    # Python ignores SIGXFSZ, so a file over the size limit is an OSError
    # ("File too large") in the kernel, not a dead kernel. Say so for the exec.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


if __name__ == "__main__":
    main(sys.argv[1:])
