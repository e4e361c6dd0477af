"""The private parts of libraries the grader relies on, and the versions it was tested with.

The grader uses public hooks wherever a library offers one. Where none
exists it reaches into a library's private names, listed here with the job
each does and why no public hook serves:

* **jupyter_client**: a kernel manager subclass is the documented way to
  change how a kernel starts, but the hooks it calls are private: the
  sandbox wraps the command line (``_async_pre_start_kernel``), launches
  through its fork server (``_async_launch_kernel``), and bounds shutting
  down and cleaning up a kernel that broke its end (``_async_request_shutdown``,
  ``_async_cleanup_resources``, ``_async_is_alive``); its heartbeat and
  client sockets are bounded the same way (``HBChannel._create_socket``,
  ``_async_run``, the manager's ``_create_connected_socket``).
* **nbclient**: ``SandboxedExecute`` is nbgrader's ``Execute``, which is an
  nbconvert preprocessor and an nbclient ``NotebookClient`` at once; nbclient
  re-initialises itself per notebook (``NotebookClient.__init__``), and a
  cell's time limit and display updates have no public hook
  (``_async_handle_timeout``, ``_update_display_id``).
* **nbgrader**: its ``Execute`` checks the resources it is given
  (``_check_assign_resources``), and a worker shares one database engine
  across autogrades by standing in for ``nbgrader.api.create_engine``.
* **ipykernel**: a grading kernel readies its output thread as it starts
  (``IOPubThread.schedule``: the kernel's ``iopub_thread``).

Each library has an upper bound in ``pyproject.toml`` and ``environment.yml``
(``TESTED``). ``check()`` says, for a version outside that range, which of
the names are gone and what they were for, so an upgrade that breaks the
grader fails with that sentence, not with an ``AttributeError`` in the middle
of a class's grading. ``tests/unit/core/test_libraries.py`` checks every name against
the installed versions.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

__all__ = ["PRIVATE", "TESTED", "LibraryChanged", "Private", "check", "missing"]

#: The versions the grader was tested with (the bounds pyproject.toml declares).
TESTED = {
    "jupyter_client": ">=8.6,<9",
    "nbclient": ">=0.10,<0.12",
    "nbgrader": ">=0.9.6,<0.10",
    "ipykernel": ">=6.29,<8",
}


@dataclass(frozen=True)
class Private:
    """One private name: in ``module``, the attribute path ``name``, used for ``job``."""

    library: str
    module: str
    name: str
    job: str


PRIVATE = (
    Private("jupyter_client", "jupyter_client.manager",
            "AsyncKernelManager._async_pre_start_kernel",
            "wrapping the kernel's command line in the sandbox (sandbox/manager.py)"),
    Private("jupyter_client", "jupyter_client.manager", "AsyncKernelManager._async_launch_kernel",
            "starting kernels through the fork server (sandbox/launch.py)"),
    Private("jupyter_client", "jupyter_client.manager",
            "AsyncKernelManager._async_request_shutdown",
            "stopping a kernel that broke its end without waiting (sandbox/manager.py)"),
    Private("jupyter_client", "jupyter_client.manager",
            "AsyncKernelManager._async_cleanup_resources",
            "removing a kernel's scratch folder with it (sandbox/manager.py)"),
    Private("jupyter_client", "jupyter_client.manager", "AsyncKernelManager._async_is_alive",
            "waiting for a kernel's end (sandbox/manager.py)"),
    Private("jupyter_client", "jupyter_client.channels", "HBChannel._create_socket",
            "a heartbeat that a broken kernel cannot hang (sandbox/client.py)"),
    Private("jupyter_client", "jupyter_client.channels", "HBChannel._async_run",
            "a heartbeat that a broken kernel cannot hang (sandbox/client.py)"),
    Private("jupyter_client", "jupyter_client.manager",
            "AsyncKernelManager._create_connected_socket",
            "bounding a kernel's sockets (sandbox/manager.py)"),
    Private("nbclient", "nbclient", "NotebookClient._async_handle_timeout",
            "a message a student can act on when a cell runs over its time "
            "(execute/preprocessor.py)"),
    Private("nbclient", "nbclient", "NotebookClient._update_display_id",
            "counting display updates in a notebook's output budget (execute/preprocessor.py)"),
    Private("nbgrader", "nbgrader.preprocessors", "Execute._check_assign_resources",
            "checking SandboxedExecute's resources as nbgrader's Execute does "
            "(execute/preprocessor.py)"),
    Private("nbgrader", "nbgrader.api", "create_engine",
            "one database engine shared by a grading worker's autogrades (run/worker_task.py)"),
    Private("ipykernel", "ipykernel.iostream", "IOPubThread.schedule",
            "readying a grading kernel's output thread as it starts (execute/startup.py)"),
)


class LibraryChanged(RuntimeError):
    """A library the grader relies on no longer has a name it needs."""


def _installed(library: str) -> str:
    try:
        return version(library)
    except PackageNotFoundError:
        return "not installed"


def _has(private: Private) -> bool:
    try:
        value = importlib.import_module(private.module)
    except ImportError:
        return False
    for part in private.name.split("."):
        if not hasattr(value, part):
            return False
        value = getattr(value, part)
    return True


def missing(names: tuple[Private, ...] = PRIVATE) -> list[str]:
    """A sentence for each library that lacks a name the grader needs (none: [])."""
    gone: dict[str, list[Private]] = {}
    for private in names:
        if not _has(private):
            gone.setdefault(private.library, []).append(private)
    sentences = []
    for library, privates in gone.items():
        listed = "; ".join(f"{p.module}.{p.name}, for {p.job}" for p in privates)
        bound = TESTED.get(library, "")
        sentences.append(
            f"{library} {_installed(library)} lacks what the grader needs: {listed}. "
            f"The grader was tested with {library}{bound}: install that "
            f"(pip install '{library}{bound}').")
    return sentences


@functools.cache
def check() -> None:
    """Raise ``LibraryChanged``, naming every name that is gone, if any is."""
    sentences = missing()
    if sentences:
        raise LibraryChanged(" ".join(sentences))
