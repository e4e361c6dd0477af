"""Bring submissions into ``submitted/<student>/<assignment>/<notebook>.ipynb``.

Accepted inputs, as learning-management systems hand them out:

* a folder, zip or tar with one folder per student: ``alice/graphs.ipynb``
  or ``alice/01_graphs/graphs.ipynb``; LMS folder names such as
  ``alice_12345_assignsubmission_file_`` are read as student ``alice``;
* a flat folder (or zip) of files named ``<student>_<anything>_<file>``, as
  Canvas names them (``alice_1234_5678_graphs-1.ipynb``).

The assignment of each notebook is the one named on the command line, else
the one whose notebook name (or assignment name) the file or folder matches.
Files are copied, never moved; anything that cannot be placed is reported.

Everything in a source was written by students, so it is read as input, not
as instructions: an archive or folder with more than ``MAX_MEMBERS``
entries, or an archive declaring more than ``MAX_ARCHIVE_BYTES``, is refused
whole before anything is written; a member with a bad name (absolute, ``..``,
a control character, a component over 255 bytes), deeper than ``MAX_DEPTH``
or a notebook over ``MAX_FILE_BYTES`` is refused by name; the notebooks to
collect may not hold more than ``MAX_TOTAL_BYTES`` in all; bytes are counted
as they are read, links are never followed. Two uploads that read as the
same student for the same assignment are both refused (a display name
``bob`` must not take the real bob's place, whichever sorts first).

The submission time is kept, as nbgrader's ``timestamp.txt`` beside the
collected notebook, whenever the source gives one: the member's modification
time in a zip (read in the course's time zone) or a tar. A ``timestamp.txt``
in a student's upload is the student's own file, never the time, unless the
instructor wrote it in a folder and says so (``folder_timestamps``). Canvas
stamps every file of its zip with the time of the download, so its times are
not used; its ``_LATE_`` marker (``alice_LATE_1234_5678_graphs.ipynb``) is
kept as ``lms_late.txt`` and reported instead.

``collect_exchange`` reads nbgrader's exchange
(``<root>/<course>/inbound/<student>+<assignment>+<time>+<random>/``),
where any student can write a folder with any name: a submission is taken
only from a folder (and files) owned by the Unix account of the student it
names, its time is the file system's (the last change of anything in it,
which no student can set back), and every file is opened without following
links and copied from the descriptor that was checked.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from autograder.core.manifest import Assignment, Course
from autograder.core.safe_text import terminal_text

__all__ = ["CollectReport", "collect", "collect_exchange", "exchange_root"]

LMS_LATE = "lms_late.txt"  # the LMS said "late" but gave no time
# A hub login name (JupyterHub allows e-mail addresses): never a path.
_EXCHANGE_STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@\-]*$")
_CANVAS = re.compile(r"^[^_]+_(?:LATE_)?\d+_\d+_", re.IGNORECASE)

_STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
_RESUBMISSION = re.compile(r"-\d+$")  # Canvas appends -1, -2 to resubmissions

# --- limits: what one collect reads from student-written input ---------------------------
MAX_MEMBERS = 5_000               # entries in an archive, a folder, or one exchange submission
MAX_DEPTH = 16                    # path components of a member (folders and the file)
MAX_NAME_BYTES = 255              # one path component, as Linux file systems allow
MAX_FILE_BYTES = 64 * 2**20       # one notebook (exchange: one file), apparent size
MAX_TOTAL_BYTES = 512 * 2**20     # all notebooks one collect copies (exchange: per submission)
MAX_ARCHIVE_BYTES = 2 * 2**30     # all members an archive declares (bounds a tar.gz's reading)
MAX_REPORT_LINES = 50             # files named in the report; the rest are counted
# How far the time in an exchange folder's name may be from the file system's time
# and still be kept as it is (nbgrader names the folder as it starts copying).
EXCHANGE_CLOCK_SLACK = timedelta(seconds=120)

_CHUNK = 1 << 20
_BLOCK = 1 << 16  # a run of zeros this long becomes a hole
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _mib(size: float) -> str:
    return f"{size / 2**20:,.0f} MiB" if size >= 2**20 else f"{size:,.0f} bytes"


def _shown(name: str, width: int = 160) -> str:
    """``name`` fit for one line of a report: control characters escaped, long ones cut."""
    text = terminal_text(name)
    if len(text) > width:
        size = len(name.encode(errors="replace"))
        text = f"{text[:width // 2]}...{text[-(width // 2):]} ({size:,} bytes)"
    return text


@dataclass
class CollectReport:
    placed: list[tuple[str, str, str]] = field(default_factory=list)  # student, assignment, from
    skipped: list[tuple[str, str]] = field(default_factory=list)      # file, reason
    times: dict[tuple[str, str], str] = field(default_factory=dict)   # what was kept, and why
    notes: list[str] = field(default_factory=list)
    refused: int = 0  # of the skipped: refused as crossing a boundary (owner, limit, name)

    def refuse(self, name: str, reason: str) -> None:
        """``name`` is not taken, on purpose: listed first, and the command exits non-zero."""
        self.skipped.append((name, f"refused: {reason}"))
        self.refused += 1

    def lines(self) -> list[str]:
        out = [f"collected {len(self.placed)} notebook(s)"]
        out += [f"  {s:16} {a:14} <- {_shown(origin)}"
                + (f"\n  {'':16} {'':14}    {self.times[(s, a)]}" if (s, a) in self.times else "")
                for s, a, origin in self.placed]
        out += self.notes
        if self.skipped:
            refused = [s for s in self.skipped if s[1].startswith("refused: ")]
            ordered = refused + [s for s in self.skipped if not s[1].startswith("refused: ")]
            out.append(f"could not place {len(self.skipped)} file(s)"
                       + (f", {len(refused)} of them refused:" if refused else ":"))
            out += [f"  {_shown(name)}: {reason}" for name, reason in
                    ordered[:MAX_REPORT_LINES]]
            rest = ordered[MAX_REPORT_LINES:]
            if rest:
                kinds = Counter(reason.split(":")[0].split(" (")[0][:60] for _, reason in rest)
                out.append(f"  ... and {len(rest):,} more: " + ", ".join(
                    f"{count:,} {kind}" for kind, count in kinds.most_common(5))
                    + (", ..." if len(kinds) > 5 else ""))
        return out


def _match_assignment(names: list[str], assignments: tuple[Assignment, ...]
                      ) -> Assignment | None:
    for candidate in names:
        stem = _RESUBMISSION.sub("", candidate)
        for assignment in assignments:
            if stem in (assignment.notebook, assignment.name):
                return assignment
    return None


def _student_of(part: str) -> str:
    """``alice_12345_assignsubmission_file_`` -> ``alice``; ``alice`` -> ``alice``."""
    return part.split("_", 1)[0] if "_" in part else part


def _place(course: Course, parts: tuple[str, ...], only: Assignment | None
           ) -> tuple[str, Assignment] | str:
    """(student, assignment) for a notebook at relative path ``parts``, or a reason."""
    file_stem = PurePosixPath(parts[-1]).stem
    if len(parts) == 1:  # flat: <student>_..._<file>
        pieces = file_stem.split("_")
        if len(pieces) < 2:
            return "a flat file must be named <student>_..._<notebook>.ipynb"
        student, candidates = pieces[0], ["_".join(pieces[i:]) for i in range(1, len(pieces))]
    else:
        student = _student_of(parts[0])
        candidates = [file_stem, *parts[1:-1]]
    if not _STUDENT.match(student):
        return f"cannot read a student id from '{_shown(parts[0], 60)}'"
    assignment = only or _match_assignment(candidates, course.assignments)
    if assignment is None:
        known = ", ".join(a.notebook_file for a in course.assignments)
        return f"matches no assignment (expected one of {known}, or name the assignment)"
    return student, assignment


def _zip_time(date_time: tuple, zone: str) -> datetime:
    """A zip member's time (local, no zone: read in the course's zone) in naive UTC."""
    from autograder.record.late import course_zone

    local = datetime(*date_time).replace(tzinfo=course_zone(zone))
    return local.astimezone(UTC).replace(tzinfo=None)


def _is_canvas_late(relative: tuple[str, ...]) -> bool:
    pieces = PurePosixPath(relative[-1]).stem.split("_")
    return len(relative) == 1 and len(pieces) > 2 and pieces[1].upper() == "LATE"


def _place_files(destination: Path, notebook: Path, target_name: str,
                 moment: datetime | None, late_marker: str) -> None:
    """The notebook, its timestamp.txt and LMS marker; stale ones from before are removed."""
    from autograder.record.late import format_timestamp

    destination.mkdir(parents=True, exist_ok=True)
    for stale in ("timestamp.txt", LMS_LATE):
        (destination / stale).unlink(missing_ok=True)
    shutil.copyfile(notebook, destination / target_name)
    if moment is not None:
        (destination / "timestamp.txt").write_text(format_timestamp(moment), encoding="utf-8")
    if late_marker:
        (destination / LMS_LATE).write_text(late_marker + "\n", encoding="utf-8")


def _held(collecting: Callable[..., CollectReport]) -> Callable[..., CollectReport]:
    """``collecting`` with the course held, as a grading run holds it (``hold_course``).

    A submission replaced while ``grade`` reads it could be graded half
    written, or with the other submission's time; so ``collect`` waits for
    no run and none waits for it: the second one stops at once, changing
    nothing, and says what holds the course.
    """
    @functools.wraps(collecting)
    def held(course: Course, *args: Any, **kwargs: Any) -> CollectReport:
        from autograder.core.lock import hold_course

        release = hold_course(course.root)
        try:
            return collecting(course, *args, **kwargs)
        finally:
            release()

    return held


# --- reading without trusting: bounded copies, descriptors, no links -----------------------


class _Refused(Exception):
    """One item is not taken; the message says why."""


class _TooMany(ValueError):
    """The whole source is refused before anything is written."""


def _copy_bounded(read: Callable[[int], bytes], target: int, limit: int) -> int:
    """Copy ``read``'s bytes into the descriptor ``target``, at most ``limit`` of them.

    Runs of zeros become holes (a sparse file stays sparse); _Refused past the limit.
    """
    total, hole = 0, False
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise _Refused(f"more than {_mib(limit)} when read (its size was given as less)")
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


def _has_control(parts: tuple[str, ...]) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for part in parts for c in part)


def _name_problem(parts: tuple[str, ...]) -> str | None:
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


def _archive_parts(name: str) -> tuple[tuple[str, ...], str | None]:
    """An archive member's name as path parts, and why it may not be read (or None)."""
    if "\x00" in name:
        return (), "a NUL character in its name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return (), "unsafe path in the archive (an absolute path)"
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        return parts, "unsafe path in the archive (a '..' in it)"
    if not parts:
        return parts, "an empty name"
    return parts, _name_problem(parts)


def _open_dir(top: int, parts: tuple[str, ...]) -> int:
    """A descriptor of the folder ``parts`` below ``top``, no link followed on the way."""
    fd = os.open(".", _DIR_FLAGS, dir_fd=top)
    try:
        for part in parts:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_file(top: int, parts: tuple[str, ...]) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file ``parts`` below ``top`` and its fstat; no links."""
    folder = _open_dir(top, parts[:-1])
    try:
        fd = os.open(parts[-1], _OPEN_FLAGS, dir_fd=folder)
    finally:
        os.close(folder)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _Refused("not a regular file")
    return fd, info


@dataclass
class _Entry:
    parts: tuple[str, ...]
    kind: str                    # file, dir, link, other, deep
    info: os.stat_result | None  # fstat of the opened descriptor (lstat for other)
    fd: int | None = None        # open while the walk yields it (file, dir)


def _walk(top: int, prune: Callable[[str], bool]) -> Iterator[_Entry]:
    """Every entry below the folder ``top``, depth first, without recursion.

    Each regular file and folder is opened with ``O_NOFOLLOW`` relative to its
    folder's descriptor and described by ``fstat`` of that descriptor (open
    while it is yielded, closed after); a link is yielded as ``link`` and
    never opened; a folder ``MAX_DEPTH`` deep is not read (``deep``). Past
    ``MAX_MEMBERS`` entries: _TooMany. At most ``MAX_DEPTH`` + 1 descriptors
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
                    raise _TooMany(f"more than {MAX_MEMBERS:,} files and folders")
                names.append(entry.name)
        return iter(sorted(names))

    first = os.open(".", _DIR_FLAGS, dir_fd=top)
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
                yield _Entry(here, "link", seen)
                continue
            if not (stat.S_ISREG(seen.st_mode) or stat.S_ISDIR(seen.st_mode)):
                yield _Entry(here, "other", seen)  # a pipe, socket or device: never opened
                continue
            try:
                fd = os.open(name, _OPEN_FLAGS, dir_fd=folder)
            except OSError as error:  # a link now, or gone: it changed under us
                raise _Refused(f"{'/'.join(here)} changed while being read "
                               f"({error.strerror})") from None
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) != (seen.st_dev, seen.st_ino) or \
                    stat.S_IFMT(info.st_mode) != stat.S_IFMT(seen.st_mode):
                os.close(fd)
                raise _Refused(f"{'/'.join(here)} changed while being read")
            if stat.S_ISDIR(info.st_mode):
                if len(here) >= MAX_DEPTH:
                    os.close(fd)
                    yield _Entry(here, "deep", info)
                    continue
                try:
                    yield _Entry(here, "dir", info, fd)
                    stack.append((fd, here, listing(fd)))
                except BaseException:
                    os.close(fd)
                    raise
                continue
            try:
                yield _Entry(here, "file", info, fd)
            finally:
                os.close(fd)
    finally:
        for folder, _, _ in stack:
            os.close(folder)


# --- an LMS archive or folder: its members --------------------------------------------------


@dataclass
class _Member:
    parts: tuple[str, ...]
    size: int                       # declared (archive) or apparent (folder)
    time: datetime | None           # the archive's time for it, naive UTC
    origin: str                     # where that time comes from
    read: Callable[[], Any]         # a context manager giving a binary file


def _hidden(part: str) -> bool:
    return part.startswith((".", "__MACOSX"))


def _check_declared(total: int) -> None:
    if total > MAX_ARCHIVE_BYTES:
        raise _TooMany(f"its members declare more than {_mib(MAX_ARCHIVE_BYTES)} in all")


def _zip_members(archive: zipfile.ZipFile, zone: str, report: CollectReport) -> list[_Member]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _TooMany(f"{len(infos):,} members, more than {MAX_MEMBERS:,}")
    _check_declared(sum(i.file_size for i in infos))
    members = []
    for info in infos:
        parts, problem = _archive_parts(info.filename)
        if problem:
            report.refuse(info.filename, problem)
            continue
        if info.is_dir() or any(_hidden(p) for p in parts):
            continue
        if info.flag_bits & 0x1:
            report.refuse(info.filename, "encrypted in the zip")
            continue
        moment = None
        if info.date_time[0] > 1980:  # 1980-01-01: "no time" in a zip
            moment = _zip_time(info.date_time, zone)
        members.append(_Member(parts, info.file_size, moment, f"the zip's time for it ({zone})",
                               functools.partial(archive.open, info)))
    return members


def _tar_members(archive: tarfile.TarFile, report: CollectReport) -> list[_Member]:
    members, declared, count = [], 0, 0
    while (info := archive.next()) is not None:  # one header at a time: a bomb stops early
        count += 1
        if count > MAX_MEMBERS:
            raise _TooMany(f"more than {MAX_MEMBERS:,} members")
        declared += info.size
        _check_declared(declared)
        parts, problem = _archive_parts(info.name)
        if problem:
            report.refuse(info.name, problem)
            continue
        if info.isdir() or any(_hidden(p) for p in parts):
            continue
        if not info.isreg():
            report.refuse(info.name, "a link or special file in the archive: never followed")
            continue
        moment = (datetime.fromtimestamp(info.mtime, UTC).replace(tzinfo=None)
                  if info.mtime > 0 else None)
        members.append(_Member(parts, info.size, moment, "the tar's time for it (UTC)",
                               functools.partial(archive.extractfile, info)))
    return members


def _folder_members(top: int, report: CollectReport) -> list[_Member]:
    members = []
    for entry in _walk(top, _hidden):
        shown = "/".join(entry.parts)
        problem = _name_problem(entry.parts)
        if problem:
            report.refuse(shown, problem)
        elif entry.kind == "deep":
            report.refuse(shown + "/", f"holds files more than {MAX_DEPTH} levels deep: not read")
        elif entry.kind == "link":
            report.refuse(shown, "a symbolic link: never followed")
        elif entry.kind == "other":
            report.refuse(shown, "not a regular file")
        elif entry.kind == "file":
            members.append(_Member(entry.parts, entry.info.st_size, None, "",
                                   functools.partial(_folder_reader, top, entry.parts,
                                                     entry.info)))
    return members


@contextlib.contextmanager
def _folder_reader(top: int, parts: tuple[str, ...], seen: os.stat_result
                   ) -> Iterator[BinaryIO]:
    fd, info = _open_file(top, parts)
    if (info.st_dev, info.st_ino) != (seen.st_dev, seen.st_ino):
        os.close(fd)
        raise _Refused("changed while being collected")
    with os.fdopen(fd, "rb") as stream:
        yield stream


@contextlib.contextmanager
def _members(source: Path, zone: str, report: CollectReport) -> Iterator[list[_Member]]:
    """The files of ``source`` (folder, zip or tar), open for reading while in the block."""
    try:
        if source.is_dir():
            top = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                yield _folder_members(top, report)
            finally:
                os.close(top)
        elif zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as archive:
                yield _zip_members(archive, zone, report)
        elif tarfile.is_tarfile(source):
            with tarfile.open(source, "r:*") as archive:
                yield _tar_members(archive, report)
        else:
            raise ValueError(f"{source} is neither a folder nor a zip or tar file")
    except _TooMany as error:
        raise ValueError(f"{source} refused: {error}; nothing was collected (limits: "
                         f"{MAX_MEMBERS:,} files, {_mib(MAX_FILE_BYTES)} a notebook, "
                         f"{_mib(MAX_TOTAL_BYTES)} in all)") from None
    except _Refused as error:
        raise ValueError(f"{source} refused: {error}; nothing was collected") from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{source} is a damaged archive ({error}); nothing was collected"
                         ) from None


_UNREADABLE = (OSError, EOFError, RuntimeError, NotImplementedError, zlib.error,
               zipfile.BadZipFile, tarfile.TarError)


def _stage(member: _Member, folder: Path, limit: int) -> tuple[Path, int]:
    """Copy ``member`` into the temporary ``folder``, at most ``limit`` bytes: (path, size)."""
    fd, name = tempfile.mkstemp(dir=folder, suffix=".ipynb")
    path = Path(name)
    try:
        with member.read() as stream:
            size = _copy_bounded(stream.read, fd, limit)
        return path, size
    except BaseException:
        path.unlink()
        raise
    finally:
        os.close(fd)


def _folder_time(by_parts: dict[tuple[str, ...], _Member], parts: tuple[str, ...]
                 ) -> tuple[datetime | None, str]:
    """The time in a ``timestamp.txt`` beside a notebook of a folder the instructor wrote."""
    from nbgrader.utils import parse_utc

    stamp = by_parts.get((*parts[:-1], "timestamp.txt")) if len(parts) > 1 else None
    if stamp is None:
        return None, ""
    try:
        with stamp.read() as stream:
            text = stream.read(4096).decode("utf-8", errors="replace").strip()
    except _UNREADABLE + (_Refused,) as error:
        return None, f"{'/'.join(stamp.parts)} could not be read ({error})"
    try:
        return (parse_utc(text), "timestamp.txt") if text else (None, "")
    except (ValueError, OverflowError):
        return None, (f"{'/'.join(stamp.parts)} does not hold a time nbgrader can read "
                      f"({text[:60]!r}); write it like 2027-01-18 23:59:00.000000 UTC")


@_held
def collect(course: Course, source: Path, *, assignment: Assignment | None = None,
            students: list[str] | None = None, force: bool = False,
            folder_timestamps: bool = False) -> CollectReport:
    """Copy every notebook under ``source`` (a folder, a .zip or a tar) into ``submitted/``.

    The submission time, where the archive gives one, is kept as
    ``timestamp.txt`` beside the notebook; a ``timestamp.txt`` in an upload
    is read only from a folder and only with ``folder_timestamps`` (see the
    module's docstring, also for the limits).
    """
    from autograder.record.late import deadline

    report = CollectReport()
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: give a folder of submissions or "
                                "the zip file your learning-management system exported")
    canvas_seen = False
    own_stamps: list[str] = []
    with _members(source, course.timezone, report) as members, \
            tempfile.TemporaryDirectory(prefix="collect-") as temp:
        members.sort(key=lambda m: m.parts)
        by_parts = {m.parts: m for m in members}
        claims: dict[tuple[str, str], list[tuple[_Member, str, Assignment]]] = {}
        for member in members:
            relative = "/".join(member.parts)
            name = member.parts[-1]
            if PurePosixPath(name).suffix != ".ipynb":
                if name == "timestamp.txt" and not (folder_timestamps and source.is_dir()):
                    own_stamps.append(relative)
                elif name not in ("timestamp.txt", "submission_secret.txt"):
                    report.skipped.append((relative, "not a notebook (.ipynb)"))
                continue
            placed = _place(course, member.parts, assignment)
            if isinstance(placed, str):
                report.skipped.append((relative, placed))
                continue
            student, target_assignment = placed
            if students is not None and student not in students:
                continue
            if _has_control(member.parts):
                report.refuse(relative, "a control character in its name")
                continue
            if member.size > MAX_FILE_BYTES:
                report.refuse(relative, f"{_mib(member.size)}, more than the "
                              f"{_mib(MAX_FILE_BYTES)} a notebook may be: not read")
                continue
            # The exact id, whatever the case: the real student and a look-alike both claim it.
            claims.setdefault((student.casefold(), target_assignment.name), []).append(
                (member, student, target_assignment))
        chosen = []
        for (_, name), claimants in sorted(claims.items()):
            if len(claimants) > 1:
                names = ", ".join(_shown("/".join(m.parts), 60) for m, _, _ in claimants)
                for member, student, _ in claimants:
                    report.refuse("/".join(member.parts), f"{len(claimants)} uploads claim "
                                  f"{student} for {name} ({names}): none is taken; collect "
                                  "the right one by hand (--student, or a folder of its own)")
                continue
            chosen.append(claimants[0])
        total = sum(m.size for m, _, _ in chosen)
        if total > MAX_TOTAL_BYTES:
            raise ValueError(f"{source} refused: its notebooks hold {_mib(total)}, more than "
                             f"{_mib(MAX_TOTAL_BYTES)} in all; nothing was collected")
        copied = 0
        for member, student, target_assignment in chosen:
            relative = "/".join(member.parts)
            key = (student, target_assignment.name)
            destination = course.root / "submitted" / student / target_assignment.name
            if (destination / target_assignment.notebook_file).exists() and not force:
                report.skipped.append((relative, f"{destination.relative_to(course.root)}/"
                                       f"{target_assignment.notebook_file} exists; pass "
                                       "--force to replace it"))
                continue
            try:
                staged, size = _stage(member, Path(temp), min(
                    MAX_FILE_BYTES, MAX_TOTAL_BYTES - copied))
            except _Refused as error:
                report.refuse(relative, str(error))
                continue
            except _UNREADABLE as error:
                report.refuse(relative, f"could not be read ({error})")
                continue
            copied += size
            if member.time is not None:
                if len(member.parts) == 1 and _CANVAS.match(member.parts[0]):
                    moment, origin = None, "canvas"
                else:
                    moment, origin = member.time, member.origin
            elif folder_timestamps and source.is_dir():
                moment, origin = _folder_time(by_parts, member.parts)
            else:
                moment, origin = None, ""
            canvas_seen = canvas_seen or origin == "canvas"
            marker = ""
            if _is_canvas_late(member.parts):
                marker = f"the LMS marked this submission LATE ({relative})"
            _place_files(destination, staged, target_assignment.notebook_file, moment, marker)
            staged.unlink()
            report.placed.append((student, target_assignment.name, relative))
            due, _ = deadline(course, target_assignment.name, student)
            if moment is not None:
                late = (f"{(moment - due).total_seconds() / 86400:.2f} days LATE"
                        if moment > due else "on time")
                report.times[key] = (f"submitted {moment:%Y-%m-%d %H:%M:%S} UTC ({origin}), "
                                     f"{late}")
                if marker and moment <= due:
                    report.times[key] += ("; the LMS marked it LATE: do its due date and the "
                                          "manifest's agree?")
            elif marker:
                report.times[key] = ("marked LATE by the LMS, but it gave no time: no late "
                                     "penalty can be computed (write a timestamp.txt beside "
                                     "the notebook to apply the policy)")
            elif origin and origin != "canvas":
                report.times[key] = f"no submission time kept: {origin}"
    if canvas_seen:
        report.notes.append("Canvas stamps every file in its zip with the time of the download, "
                            "so no submission times were taken from it; its LATE markers are "
                            f"kept ({LMS_LATE}).")
    if own_stamps:
        report.notes.append(
            f"{len(own_stamps)} upload(s) hold a timestamp.txt of their own (e.g. "
            f"{_shown(own_stamps[0], 60)}): a student's file, not read as the time"
            + (" (pass --folder-timestamps if you wrote them in this folder)"
               if source.is_dir() else ""))
    return report


# --- nbgrader's exchange ------------------------------------------------------------------


def exchange_root(course: Course) -> Path:
    """``Exchange.root`` as nbgrader_config.py sets it (MINIFLOW_EXCHANGE, else its default)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()
    root = config.Exchange.get("root") if "Exchange" in config else None
    return Path(str(root or "/srv/nbgrader/exchange"))


def _exchange_records(inbound: int, report: CollectReport) -> list[tuple[str, str, datetime,
                                                                          str]]:
    """(student, assignment, claimed time, folder name) for every entry of the inbound folder."""
    from nbgrader.utils import parse_utc

    records = []
    for name in sorted(os.listdir(inbound)):
        # nbgrader's own rule (ExchangeCollect): student+assignment+time[+random].
        pieces = name.rsplit("+", 3)
        try:
            seen = os.stat(name, dir_fd=inbound, follow_symlinks=False)
        except OSError:
            continue  # gone since the listing
        if not stat.S_ISDIR(seen.st_mode) or len(pieces) < 3:
            report.skipped.append((name, "not an nbgrader submission "
                                   "(student+assignment+time+random)"))
            continue
        if not _EXCHANGE_STUDENT.match(pieces[0]):
            report.skipped.append((name, f"'{_shown(pieces[0], 40)}' is not a student id"))
            continue
        try:
            moment = parse_utc(pieces[2])
        except (ValueError, OverflowError):
            report.skipped.append((name, f"unreadable time '{_shown(pieces[2], 40)}'"))
            continue
        zone = pieces[2].rsplit(" ", 1)[-1]
        if zone not in ("UTC", "GMT") and not any("Exchange.timezone" in n for n in report.notes):
            # nbgrader reads "CET" back right but "CEST" or "EDT" as UTC.
            report.notes.append(f"{_shown(name)}: written in '{_shown(zone, 20)}', not UTC; "
                                "nbgrader misreads summer-time zones, so keep the students' "
                                "Exchange.timezone at \"UTC\" (the default)")
        records.append((pieces[0], pieces[1], moment, name))
    return records


def _left_out(name: str) -> bool:
    """What copying a submission leaves out: hidden files and caches (links are noted)."""
    return name.startswith(".") or name == "__pycache__"


def _account(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _login_uid(student: str) -> int:
    """The uid of ``student``'s login on this machine; _Refused if there is none, or root."""
    import pwd

    try:
        uid = pwd.getpwnam(student).pw_uid
    except KeyError:
        raise _Refused(f"no login {student!r} on this machine, so who wrote it cannot be "
                       "checked (if your hub's users are not accounts here, see "
                       "--trust-exchange-owners)") from None
    if uid == 0:
        raise _Refused(f"the login {student!r} is root: a submission by root is never taken")
    return uid


@dataclass
class _Tree:
    """What one exchange submission holds, as read through descriptors."""
    ident: tuple[int, int]
    files: tuple[tuple[str, ...], ...]
    links: list[str]
    changed: datetime  # the last change (ctime) of the folder or anything taken from it
    size: int


def _ctime(info: os.stat_result) -> datetime:
    return datetime.fromtimestamp(info.st_ctime_ns / 1e9, UTC).replace(tzinfo=None)


def _read_submission(inbound: int, name: str, uid: int | None, into: Path | None) -> _Tree:
    """Read the submission folder ``name`` (copy it into ``into`` if given).

    Every folder and file must be owned by ``uid`` (None: not checked), a
    regular file of at most ``MAX_FILE_BYTES``; links are left out, never
    followed; files are copied from the descriptor that was checked.
    """
    try:
        top = os.open(name, _DIR_FLAGS, dir_fd=inbound)
    except OSError as error:
        raise _Refused(f"could not be opened as a folder ({error.strerror})") from None
    try:
        info = os.fstat(top)

        def owned(what: str, info: os.stat_result) -> None:
            if uid is not None and info.st_uid != uid:
                whose = "root" if info.st_uid == 0 else _account(info.st_uid)
                raise _Refused(f"{what} is owned by {whose}, not by the student it names "
                               f"(uid {uid}): another account wrote it")

        owned("the folder", info)
        files, links, changed, total = [], [], _ctime(info), 0
        for entry in _walk(top, _left_out):
            shown = "/".join(entry.parts)
            if entry.kind in ("link", "other"):
                links.append(shown)
                continue
            if entry.kind == "deep":
                raise _Refused(f"{_shown(shown, 60)} is more than {MAX_DEPTH} levels deep")
            owned(_shown(shown, 60), entry.info)
            changed = max(changed, _ctime(entry.info))
            if entry.kind == "dir":
                if into is not None:
                    (into / shown).mkdir(parents=True, exist_ok=True)
                continue
            if entry.info.st_size > MAX_FILE_BYTES:
                raise _Refused(f"{_shown(shown, 60)} is {_mib(entry.info.st_size)}, more than "
                               f"the {_mib(MAX_FILE_BYTES)} a file may be")
            total += entry.info.st_size
            if total > MAX_TOTAL_BYTES:
                raise _Refused(f"it holds more than {_mib(MAX_TOTAL_BYTES)}")
            files.append(entry.parts)
            if into is not None:
                (into / shown).parent.mkdir(parents=True, exist_ok=True)
                target = os.open(into / shown, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                 | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
                try:
                    fd = entry.fd
                    _copy_bounded(lambda n, fd=fd: os.read(fd, n), target, MAX_FILE_BYTES)
                finally:
                    os.close(target)
        return _Tree((info.st_dev, info.st_ino), tuple(files), links, changed, total)
    except _TooMany as error:
        raise _Refused(f"it holds {error}") from None
    finally:
        os.close(top)


@dataclass
class _Submission:
    moment: datetime
    name: str
    tree: _Tree
    origin: str


@_held
def collect_exchange(course: Course, root: Path | None = None, *,
                     assignment: Assignment | None = None, students: list[str] | None = None,
                     force: bool = False, trust_owners: bool = False) -> CollectReport:
    """Collect from nbgrader's exchange: per student and assignment, the last submission made
    by the due date (with the student's extension and the grace period), else the last one.

    Only a folder owned (with everything in it) by the Unix account of the
    student it names is a submission of that student; others are refused by
    name (``trust_owners`` skips that check, for hubs whose users are not
    accounts of this machine). Its time is the file system's: the folder's
    name when that agrees with the last change of the folder and its files
    (within ``EXCHANGE_CLOCK_SLACK``), else that last change.

    The chosen folder is copied whole (notebook, ``timestamp.txt``,
    ``submission_secret.txt``, which ``nbgrader release_feedback`` needs)
    into ``submitted/<student>/<assignment>/``, with ``timestamp.txt`` the
    time taken. A folder already holding that same submission is left
    alone; one holding another is replaced only with ``force``.
    """
    root = root if root is not None else exchange_root(course)
    inbound_path = root / course.id / "inbound"
    if not inbound_path.is_dir():
        raise FileNotFoundError(
            f"{inbound_path} does not exist: no student has submitted to the exchange at {root} "
            f"for course {course.id!r} yet, or the exchange is elsewhere (set "
            "MINIFLOW_EXCHANGE, or pass --exchange-root)")
    report = CollectReport()
    wanted = {a.name for a in (course.select(assignment.name) if assignment else
                               course.assignments)}
    inbound = os.open(inbound_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        groups: dict[tuple[str, str], list[_Submission]] = {}
        uids: dict[str, int | _Refused] = {}
        for student, name, claimed, folder in _exchange_records(inbound, report):
            if name not in wanted or (students is not None and student not in students):
                continue
            try:
                uid = None
                if not trust_owners:
                    if student not in uids:
                        try:
                            uids[student] = _login_uid(student)
                        except _Refused as error:
                            uids[student] = error
                    if isinstance(uids[student], _Refused):
                        raise uids[student]
                    uid = uids[student]
                tree = _read_submission(inbound, folder, uid, None)
            except _Refused as error:
                report.refuse(folder, str(error))
                continue
            except OSError as error:
                report.refuse(folder, f"could not be read ({error})")
                continue
            if abs(tree.changed - claimed) <= EXCHANGE_CLOCK_SLACK:
                moment, origin = claimed, ""
            else:
                moment = tree.changed
                origin = (f"; its name says {claimed:%Y-%m-%d %H:%M:%S} UTC but it was last "
                          f"changed {moment:%Y-%m-%d %H:%M:%S} UTC: that time is taken")
            groups.setdefault((student, name), []).append(
                _Submission(moment, folder, tree, origin))
        for (student, name), submissions in sorted(groups.items()):
            _collect_one(course, inbound, student, name, submissions, report, force,
                         None if trust_owners else uids[student])
    finally:
        os.close(inbound)
    return report


def _collect_one(course: Course, inbound: int, student: str, name: str,
                 submissions: list[_Submission], report: CollectReport, force: bool,
                 uid: Any) -> None:
    """Choose ``student``'s submission of ``name`` and copy it into ``submitted/``."""
    from autograder.record.late import deadline, format_timestamp, read_timestamp

    submissions.sort(key=lambda s: (s.moment, s.name))
    target = course.assignment(name)
    due, extension = deadline(course, name, student)
    grace = course.late.policy_for(name).grace_minutes
    on_time = [s for s in submissions if s.moment <= due + timedelta(minutes=grace)]
    chosen = (on_time or submissions)[-1]
    moment, folder = chosen.moment, chosen.name
    why = (f"the last of {len(on_time)} made by the due date "
           f"{due:%Y-%m-%d %H:%M:%S} UTC" + (" (with an extension)" if extension else "")
           if on_time else f"none of {len(submissions)} was made by the due date "
           f"{due:%Y-%m-%d %H:%M:%S} UTC: the last one, LATE")
    if len(submissions) > len(on_time) and on_time:
        why += f"; {len(submissions) - len(on_time)} later one(s) not taken"
    why += chosen.origin
    destination = course.root / "submitted" / student / name
    if destination.exists():
        try:
            held = read_timestamp(destination / "timestamp.txt")
        except ValueError:
            held = None
        if held == moment:
            report.notes.append(f"  {student:16} {name:14} already collected "
                                f"({moment:%Y-%m-%d %H:%M:%S} UTC)")
            return
        if not force:
            report.skipped.append((folder, f"{destination.relative_to(course.root)} "
                                   "holds another submission; pass --force to replace it "
                                   f"with this one ({why})"))
            return
    staging = destination.with_name(destination.name + ".collecting")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    def drop() -> None:
        shutil.rmtree(staging, ignore_errors=True)
        if destination.parent.is_dir() and not any(destination.parent.iterdir()):
            destination.parent.rmdir()

    try:
        # Students write the inbound folder: a link there could point at the instructor's
        # files (a solution, the gradebook), so links are never followed, and a file
        # swapped while it is read is caught by its descriptor, never re-opened by name.
        copied = _read_submission(inbound, folder, uid, staging)
        if copied.ident != chosen.tree.ident or copied.files != chosen.tree.files or \
                copied.changed > chosen.tree.changed:
            raise _Refused("it changed while being collected: run collect again")
    except _Refused as error:
        drop()
        report.refuse(folder, str(error))
        return
    except OSError as error:
        drop()
        report.refuse(folder, f"could not be read ({error})")
        return
    if copied.links:
        report.notes.append(f"  {student:16} {name:14} symbolic links left out: "
                            f"{_shown(', '.join(copied.links))}")
    if not (staging / target.notebook_file).is_file() and not any(staging.glob("*.ipynb")):
        drop()
        report.skipped.append((folder, "holds no notebook"))
        return
    # The time taken, in nbgrader's own file (the student's copy is kept when it agrees).
    stamp = staging / "timestamp.txt"
    try:
        kept = read_timestamp(stamp)
    except ValueError:
        kept = None
    if kept != moment:
        stamp.unlink(missing_ok=True)
        stamp.write_text(format_timestamp(moment), encoding="utf-8")
    shutil.rmtree(destination, ignore_errors=True)
    staging.rename(destination)
    report.placed.append((student, name, f"exchange {folder}"))
    report.times[(student, name)] = f"submitted {moment:%Y-%m-%d %H:%M:%S} UTC: {why}"
