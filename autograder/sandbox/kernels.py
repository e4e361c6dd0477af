"""Kernels that talk over Unix sockets, so parallel graders never share a port.

Over TCP, jupyter_client picks a free port and the kernel binds it a moment
later; two kernels started at once by two worker processes can pick the same
port, and one of them fails to bind ("Address already in use"). Over IPC each
kernel's sockets are files under a name that includes this process's id, so
kernels started by different processes cannot collide, and no port is opened
on the machine at all. Windows has no Unix sockets: there, TCP stays.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["ipc_available", "socket_prefix", "kernel_config"]


def ipc_available() -> bool:
    return os.name == "posix"


def socket_prefix() -> str:
    """An absolute, per-process prefix for kernel socket files.

    The folder is Jupyter's runtime folder (where connection files live
    too), private to this user; the sockets are removed when their kernel
    shuts down (jupyter_client's ``cleanup_ipc_files``). Unix socket paths
    are limited to about 100 characters: a deep runtime folder falls back to
    a per-user folder in the temporary folder.
    """
    from jupyter_core.paths import jupyter_runtime_dir

    folder = Path(jupyter_runtime_dir())
    if len(str(folder)) > 70:
        folder = Path(tempfile.gettempdir()) / f"miniflow-kernels-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(folder / f"mf{os.getpid()}")


def kernel_config(sandbox: str | None = None) -> Any:
    """traitlets config for a NotebookClient: its kernels use IPC where they can.

    With ``sandbox`` (``auto``, ``bwrap`` or ``none``) the kernels are
    students' code: they start through ``autograder.sandbox.manager``. Pass it as
    ``NotebookClient(..., config=kernel_config())``; the client still
    creates, owns and shuts down its kernel.
    """
    from traitlets.config import Config

    config = Config()
    if ipc_available():
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = socket_prefix()
    if sandbox is not None:
        config.NotebookClient.kernel_manager_class = (
            "autograder.sandbox.manager.SandboxKernelManager")
        config.SandboxKernelManager.mode = sandbox
    return config
