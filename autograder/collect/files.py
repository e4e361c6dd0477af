"""Reading what students wrote without trusting it: the caps, names, descriptors, copies.

Everything a source holds was written by students, so it is read as input,
never as instructions, within caps that hold for every source (an LMS
archive, a folder, nbgrader's exchange):

* the caps (``MAX_MEMBERS``, ``MAX_DEPTH``, ``MAX_NAME_BYTES``,
  ``MAX_FILE_BYTES``, ``MAX_TOTAL_BYTES``, ``MAX_ARCHIVE_BYTES``);
* name checks: a component over ``MAX_NAME_BYTES`` or a path deeper than
  ``MAX_DEPTH`` (``name_problem``), a control character (``has_control``);
* descriptors, never paths: every folder and file is opened with
  ``O_NOFOLLOW`` relative to its folder's descriptor (``open_file``,
  ``walk``), so a link is never followed and a file swapped while it is
  read is caught by the descriptor that was checked;
* bounded copies: bytes are counted as they are read, never trusted from a
  declared size, and runs of zeros become holes (``copy_bounded``).

``Refused`` says one item is not taken; ``TooMany``, that the whole source
is refused before anything is written.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from autograder.collect.report import mib

__all__ = ["DIR_FLAGS", "MAX_ARCHIVE_BYTES", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_MEMBERS",
           "MAX_NAME_BYTES", "MAX_TOTAL_BYTES", "Entry", "Refused", "TooMany", "copy_bounded",
           "has_control", "name_problem", "open_file", "walk"]

# --- limits: what one collect reads from student-written input ---------------------------
MAX_MEMBERS = 5_000               # entries in an archive, a folder, or one exchange submission
MAX_DEPTH = 16                    # path components of a member (folders and the file)
MAX_NAME_BYTES = 255              # one path component, as Linux file systems allow
MAX_FILE_BYTES = 64 * 2**20       # one notebook (exchange: one file), apparent size
MAX_TOTAL_BYTES = 512 * 2**20     # all notebooks one collect copies (exchange: per submission)
MAX_ARCHIVE_BYTES = 2 * 2**30     # all members an archive declares (bounds a tar.gz's reading)

_CHUNK = 1 << 20
_BLOCK = 1 << 16  # a run of zeros this long becomes a hole
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Refused(Exception):
    """One item is not taken; the message says why."""


class TooMany(ValueError):
    """The whole source is refused before anything is written."""


def copy_bounded(read: Callable[[int], bytes], target: int, limit: int) -> int:
    """Copy ``read``'s bytes into the descriptor ``target``, at most ``limit`` of them.

    Runs of zeros become holes (a sparse file stays sparse); Refused past the limit.
    """
    total, hole = 0, False
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise Refused(f"more than {mib(limit)} when read (its size was given as less)")
        for start in range(0, len(chunk), _BLOCK):
            block = chunk[start:start + _BLOCK]
            if block.count(0) == len(block):
                os.lseek(target, len(block), os.SEEK_CUR)
                hole = True
                continue
            view = memoryview(block)
            while view:
                view = view[os.write(target, view):]
            hole = False
    if hole:
        os.ftruncate(target, total)
    return total


def has_control(parts: tuple[str, ...]) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for part in parts for c in part)


def name_problem(parts: tuple[str, ...]) -> str | None:
    """Why a member's path (already split) may not be read, or None.

    A control character is not one of them: a name is shown escaped, and a
    notebook named so is refused only where it would be collected.
    """
    for part in parts:
        size = len(part.encode("utf-8", errors="surrogateescape"))
        if size > MAX_NAME_BYTES:
            return f"a name of {size:,} bytes (at most {MAX_NAME_BYTES})"
    if len(parts) > MAX_DEPTH:
        return f"{len(parts):,} levels deep (at most {MAX_DEPTH})"
    return None


def _open_dir(top: int, parts: tuple[str, ...]) -> int:
    """A descriptor of the folder ``parts`` below ``top``, no link followed on the way."""
    fd = os.open(".", DIR_FLAGS, dir_fd=top)
    try:
        for part in parts:
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(top: int, parts: tuple[str, ...]) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file ``parts`` below ``top`` and its fstat; no links."""
    folder = _open_dir(top, parts[:-1])
    try:
        fd = os.open(parts[-1], _OPEN_FLAGS, dir_fd=folder)
    finally:
        os.close(folder)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Refused("not a regular file")
    return fd, info


@dataclass
class Entry:
    parts: tuple[str, ...]
    kind: str                    # file, dir, link, other, deep
    info: os.stat_result | None  # fstat of the opened descriptor (lstat for other)
    fd: int | None = None        # open while the walk yields it (file, dir)


def walk(top: int, prune: Callable[[str], bool]) -> Iterator[Entry]:
    """Every entry below the folder ``top``, depth first, without recursion.

    Each regular file and folder is opened with ``O_NOFOLLOW`` relative to its
    folder's descriptor and described by ``fstat`` of that descriptor (open
    while it is yielded, closed after); a link is yielded as ``link`` and
    never opened; a folder ``MAX_DEPTH`` deep is not read (``deep``). Past
    ``MAX_MEMBERS`` entries: TooMany. At most ``MAX_DEPTH`` + 1 descriptors
    are open at once.
    """
    count = 0

    def listing(fd: int) -> Iterator[str]:
        nonlocal count
        names = []
        with os.scandir(fd) as entries:
            for entry in entries:
                count += 1
                if count > MAX_MEMBERS:
                    raise TooMany(f"more than {MAX_MEMBERS:,} files and folders")
                names.append(entry.name)
        return iter(sorted(names))

    first = os.open(".", DIR_FLAGS, dir_fd=top)
    stack: list[tuple[int, tuple[str, ...], Iterator[str]]] = []
    try:
        stack.append((first, (), listing(first)))
        while stack:
            folder, parts, names = stack[-1]
            name = next(names, None)
            if name is None:
                os.close(folder)
                stack.pop()
                continue
            if prune(name):
                continue
            here = (*parts, name)
            seen = os.stat(name, dir_fd=folder, follow_symlinks=False)
            if stat.S_ISLNK(seen.st_mode):
                yield Entry(here, "link", seen)
                continue
            if not (stat.S_ISREG(seen.st_mode) or stat.S_ISDIR(seen.st_mode)):
                yield Entry(here, "other", seen)  # a pipe, socket or device: never opened
                continue
            try:
                fd = os.open(name, _OPEN_FLAGS, dir_fd=folder)
            except PermissionError:
                raise Refused(f"{'/'.join(here)} cannot be read by this account: the "
                              "exchange must give the instructor read access "
                              "(docs/jupyterhub.md)") from None
            except OSError as error:  # a link now, or gone: it changed under us
                raise Refused(f"{'/'.join(here)} changed while being read "
                               f"({error.strerror})") from None
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) != (seen.st_dev, seen.st_ino) or \
                    stat.S_IFMT(info.st_mode) != stat.S_IFMT(seen.st_mode):
                os.close(fd)
                raise Refused(f"{'/'.join(here)} changed while being read")
            if stat.S_ISDIR(info.st_mode):
                if len(here) >= MAX_DEPTH:
                    os.close(fd)
                    yield Entry(here, "deep", info)
                    continue
                try:
                    yield Entry(here, "dir", info, fd)
                    stack.append((fd, here, listing(fd)))
                except BaseException:
                    os.close(fd)
                    raise
                continue
            try:
                yield Entry(here, "file", info, fd)
            finally:
                os.close(fd)
    finally:
        for folder, _, _ in stack:
            os.close(folder)
