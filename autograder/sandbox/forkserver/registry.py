"""This process's fork servers, by what they were started for.

And the servers that could not be had, with why.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

from autograder.core.processes import parent_map
from autograder.sandbox.files import scratch_base

# This process's fork servers (autograder/sandbox/forkserver/server.py), by what they were
# started for: the newest serves, older ones stop once their kernels are gone.
# And the servers that could not be had, with why.
__all__ = ["SERVERS", "UNAVAILABLE", "forget_fork_server", "fork_server_for", "fork_server_pids",
           "stop_fork_server"]


SERVERS: dict[str, Any] = {}
UNAVAILABLE: dict[str, str] = {}


def fork_server_for(key: str, start: Any) -> Any:
    """The fork server for ``key``, started now if need be (by ``start(folder)``).

    A server started for other settings serves no new kernel; it stops as soon
    as its last kernel has ended (stopping it would stop them). None if a
    server for ``key`` already failed to start in this process.
    """
    for other in [k for k, server in SERVERS.items()
                  if k != key and not server.busy() or not server.alive()]:
        _stop(SERVERS.pop(other))
    if key in UNAVAILABLE:
        return None
    if key in SERVERS:
        return SERVERS[key]
    folder = Path(tempfile.mkdtemp(prefix="z", dir=scratch_base()))
    try:
        server = start(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    server.folder = folder
    SERVERS[key] = server
    return server


def _stop(server: Any) -> None:
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


def forget_fork_server(key: str, reason: str) -> None:
    UNAVAILABLE[key] = reason
    if key in SERVERS and not SERVERS[key].busy():
        _stop(SERVERS.pop(key))


def stop_fork_server() -> None:
    """Stop this process's fork servers, and with them their kernels; remove their folders."""
    while SERVERS:
        _stop(SERVERS.popitem()[1])


def fork_server_pids() -> set[int]:
    """The processes of this process's fork servers themselves (not their kernels)."""
    pids: set[int] = set()
    parents = parent_map()
    for server in SERVERS.values():
        if not server.alive():
            continue
        pid = server.pid
        pids.add(pid)
        while pid in parents and pid != server.process.pid:  # up to its bubblewrap
            pid = parents[pid]
            pids.add(pid)
    return pids


atexit.register(stop_fork_server)
