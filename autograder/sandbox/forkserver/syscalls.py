"""The Linux calls both ends of the fork server make that Python's ``os`` lacks.

Through ctypes, by number and flag (from ``<sched.h>``, ``<sys/mount.h>`` and
``<linux/sockios.h>``): ``unshare(2)`` (the kernel's namespaces), ``mount(2)``
(its ``/proc``, tmpfs mounts and read-only remounts), ``open_tree(2)`` (a bind
made in the grader's view of the files, as a descriptor: ``client``) and
``move_mount(2)`` (that bind attached in the kernel's mount namespace:
``server``). And the one message the two ends exchange on their channel (a
``SOCK_SEQPACKET`` socket pair): a JSON object, with file descriptors passed
beside it (``sendmsg(2)`` with ``SCM_RIGHTS``).
"""

from __future__ import annotations

import ctypes
import json
import os
import socket

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

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]


def check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def mount(source: str | None, target: str, kind: str | None, flags: int,
          data: str | None = None) -> None:
    check(libc.mount(source and source.encode(), target.encode(), kind and kind.encode(),
                     flags, data and data.encode()), f"mount {target}")


def send(control: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    socket.send_fds(control, [json.dumps(message).encode()], fds or [])
