"""The grading run's folder: one private temporary folder, removed on every way out.

Every temporary folder of a run (the workers', their kernels' sockets) lives
below it; one left by a grader that was killed outright is removed by the next.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["RUN_PREFIX", "remove_stale_runs", "run_directory", "temp_root"]

RUN_PREFIX = "miniflow-grade-"


def temp_root() -> Path:
    # Kernel sockets live below the run folder, and Unix socket paths are short.
    base = Path(tempfile.gettempdir())
    return base if len(str(base)) < 40 else Path("/tmp")


def remove_stale_runs(root: Path) -> None:
    """Run folders left by a grader that was killed outright (SIGKILL, power loss)."""
    for folder in root.glob(f"{RUN_PREFIX}*"):
        try:
            pid = int(folder.name[len(RUN_PREFIX):].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue


@contextlib.contextmanager
def run_directory() -> Iterator[Path]:
    """A private folder for one grading run, removed on every way out."""
    root = temp_root()
    remove_stale_runs(root)
    folder = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
