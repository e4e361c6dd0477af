"""What a kernel may see: its data files, its fonts, its scratch folder."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.sandbox.measure import folder_bytes
from autograder.sandbox.visible import FONT_LIST_AHEAD

__all__ = ["ONE_MATHS_THREAD", "copied_files", "data_entries", "data_files", "data_signature",
           "outside_tmp", "sandbox_uid", "scratch_base", "start_font_list"]


_DATA_IGNORED = shutil.ignore_patterns("*.ipynb", ".*")


def data_entries(cwd: Path | None, budget: int = 64 * 1024 ** 2) -> list[Path]:
    """The non-notebook files and folders of ``cwd`` (an assignment's data) a kernel gets."""
    chosen: list[Path] = []
    if cwd is None or not cwd.is_dir():
        return chosen
    for entry in sorted(cwd.iterdir()):
        name = entry.name
        if name.startswith(".") or name.endswith((".ipynb", ".db", ".sqlite")) \
                or name in ("timestamp.txt", "__pycache__") or entry.is_symlink():
            continue
        size = entry.stat().st_size if entry.is_file() else \
            folder_bytes(entry) if entry.is_dir() else budget + 1
        if size <= budget:
            budget -= size
            chosen.append(entry)
    return chosen


def data_files(cwd: Path | None, target: Path) -> list[str]:
    """Copy the non-notebook files of ``cwd`` (an assignment's data) to ``target``."""
    entries = data_entries(cwd)
    for entry in entries:
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name, symlinks=False, ignore=_DATA_IGNORED)
        else:
            shutil.copy2(entry, target / entry.name)
    return [entry.name for entry in entries]


# One thread for numpy's maths library. In a kernel: grading runs several kernels
# side by side, and the same sums in the same order on every machine. In the
# grader's own processes (its workers, the font list's): they do small sums
# (the trusted probes, the review), where a pool of maths threads, one per core,
# only spins beside the kernels.
ONE_MATHS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1"}

def start_font_list(folder: Path) -> subprocess.Popen:
    """Make the font list (``font_list``) into ``folder``, in a process of its own.

    The grader starts it before it imports what its workers import, and its
    workers (with ``$MINIFLOW_FONT_LIST`` set to ``folder``) take the list
    from there instead of each scanning the fonts again. A worker that finds
    nothing there builds the list itself.
    """
    folder.mkdir(parents=True, exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if k != FONT_LIST_AHEAD}
    environment.update(ONE_MATHS_THREAD)  # matplotlib imports numpy
    return subprocess.Popen(
        [sys.executable, "-P", "-c",
         "import sys\nfrom autograder.sandbox.visible import make_font_list\n"
         "make_font_list(sys.argv[1])", str(folder)],
        env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


def copied_files(folder: Path) -> list[Path]:
    """The files ``data_files`` copies from the data folder ``folder``, as copytree does:
    ``_DATA_IGNORED`` at every depth, symbolic links followed."""
    found: list[Path] = []
    for root, folders, files in os.walk(folder, followlinks=True):
        ignored = _DATA_IGNORED(root, [*folders, *files])
        folders[:] = sorted(name for name in folders if name not in ignored)
        found.extend(Path(root, name) for name in sorted(files) if name not in ignored)
    return found


def data_signature(cwd: Path | None) -> str:
    """A hash of the data a kernel started in ``cwd`` gets: names and contents."""
    digest = hashlib.sha256()
    for entry in data_entries(cwd):
        for path in [entry] if entry.is_file() else copied_files(entry):
            digest.update(str(path.relative_to(cwd)).encode() + b"\0")  # type: ignore[arg-type]
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def scratch_base() -> Path:
    """Where kernels' scratch folders go: $MINIFLOW_SANDBOX_TMPDIR or the temp folder.

    Unix socket paths must stay under about 100 characters; a deep temp
    folder falls back to /tmp.
    """
    base = Path(os.environ.get("MINIFLOW_SANDBOX_TMPDIR") or tempfile.gettempdir())
    return base if len(str(base)) < 60 else Path("/tmp")


def sandbox_uid() -> int:
    # A uid of its own per kernel (no user on the machine has it), so the
    # process limit counts this kernel's processes alone.
    return 1_000_000 + secrets.randbelow(1_000_000_000)


def outside_tmp(base: Path) -> bool:
    """Is ``base`` outside /tmp (which, in a kernel's sandbox, lies in its home)?"""
    return not (base == Path("/tmp") or Path("/tmp") in base.parents)
