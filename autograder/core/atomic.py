"""Writing a file whole or not at all: the one atomic write of the grader.

Every file the grader writes for instructors to read (``grades.csv``,
``roster.csv``, ``autograded/results.json``, the fingerprints) is written to
a temporary file beside it, flushed to the disk, and renamed over it: a
reader sees the old file or the new one, never half of one, and a run that
stops half way (Ctrl-C, a full disk, the machine going down) leaves the old
file as it was. The temporary file has a name of its own (two writers never
share one) and is removed when writing fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["copy_atomically", "replacing", "write_text_atomically"]


@contextlib.contextmanager
def replacing(path: Path, mode: str = "w", **options: Any) -> Iterator[IO[Any]]:
    """A file opened for writing whose content replaces ``path`` when the block ends well.

    ``mode`` and ``options`` are ``open``'s (``"w"`` with ``newline=""`` and an
    encoding for the ``csv`` module, ``"wb"`` for bytes). If the block raises,
    ``path`` is untouched and the temporary file is gone.
    """
    path = Path(path)
    # A name of its own, made with the mode a plain open gives (0666 less the umask):
    # mkstemp's 0600 would leave grades.csv unreadable to the course's other staff.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with open(descriptor, mode, **options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_text_atomically(path: Path, text: str, encoding: str = "utf-8") -> None:
    """``path.write_text(text)``, whole or not at all."""
    with replacing(path, "w", encoding=encoding) as handle:
        handle.write(text)


def copy_atomically(source: Path, target: Path) -> None:
    """``source``'s bytes as ``target``, whole or not at all."""
    with open(source, "rb") as reading, replacing(target, "wb") as writing:
        shutil.copyfileobj(reading, writing)
