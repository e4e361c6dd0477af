"""An LMS archive (zip, tar) or a folder into ``submitted/<student>/<assignment>/``.

Accepted inputs, as learning-management systems hand them out:

* a folder, zip or tar with one folder per student: ``alice/graphs.ipynb``
  or ``alice/01_graphs/graphs.ipynb``; Moodle's folders
  (``Ava Abbott_700000_assignsubmission_file_``) name a student by full name;
* a flat folder (or zip) of files named ``<student>_<anything>_<file>``, as
  Canvas names them (``abbottava_1234_5678_graphs-1.ipynb``, a login).

An LMS's name for a student is mapped to the roster's id (``autograder.collect.lms``):
one that maps to nobody stops the collect, staged in ``collect-review/``.

The assignment of each notebook is the one named on the command line, else
the one whose notebook name (or assignment name) the file or folder matches.
Files are copied, never moved; anything that cannot be placed is reported.

Everything in a source was written by students, so it is read as input, not
as instructions, within the caps of ``autograder.collect.files``: an archive
or folder with more than ``MAX_MEMBERS`` entries, or an archive declaring
more than ``MAX_ARCHIVE_BYTES``, is refused whole before anything is
written; a member with a bad name (absolute, ``..``, a control character, a
component over 255 bytes), deeper than ``MAX_DEPTH`` or a notebook over
``MAX_FILE_BYTES`` is refused by name; the notebooks to collect may not hold
more than ``MAX_TOTAL_BYTES`` in all; bytes are counted as they are read,
links are never followed. Two uploads that read as the same student for the
same assignment are both refused (a display name ``bob`` must not take the
real bob's place, whichever sorts first).

The submission time is kept, as nbgrader's ``timestamp.txt`` beside the
collected notebook, whenever the source gives one: the member's modification
time in a zip (read in the course's time zone) or a tar. A ``timestamp.txt``
in a student's upload is the student's own file, never the time, unless the
instructor wrote it in a folder and says so (``folder_timestamps``). Canvas
stamps every file of its zip with the time of the download, so its times are
not used; its ``_LATE_`` marker (``alice_LATE_1234_5678_graphs.ipynb``) is
kept as ``lms_late.txt`` and reported instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from autograder.collect.files import (
    MAX_ARCHIVE_BYTES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    Refused,
    TooMany,
    copy_bounded,
    has_control,
    name_problem,
    open_file,
    walk,
)
from autograder.collect.holding import holding_course
from autograder.collect.lms import REVIEW, LmsName, RosterMap, lms_name
from autograder.collect.report import CollectReport, mib, shown_name
from autograder.core.manifest import Assignment, Course

__all__ = ["LMS_LATE", "REVIEW", "collect"]

LMS_LATE = "lms_late.txt"  # the LMS said "late" but gave no time
_CANVAS = re.compile(r"^[^_]+_(?:LATE_)?\d+_\d+_", re.IGNORECASE)

_STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
_RESUBMISSION = re.compile(r"-\d+$")  # Canvas appends -1, -2 to resubmissions


# --- where a notebook goes: its student, its assignment, its time ----------------------------


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


def _place(course: Course, parts: tuple[str, ...], only: Assignment | None,
           roster: RosterMap | None = None) -> tuple[str, Assignment] | str | LmsName:
    """(student, assignment) for the notebook at ``parts``, or a reason, or the LMS's name
    for the student when it maps to no roster id (never read as an id with a roster)."""
    file_stem = PurePosixPath(parts[-1]).stem
    if len(parts) == 1:  # flat: <student>_..._<file>
        pieces = file_stem.split("_")
        if len(pieces) < 2:
            return "a flat file must be named <student>_..._<notebook>.ipynb"
        student, candidates = pieces[0], ["_".join(pieces[i:]) for i in range(1, len(pieces))]
    else:
        student = _student_of(parts[0])
        candidates = [file_stem, *parts[1:-1]]
    named = lms_name(parts)
    if named is not None and (roster or not _STUDENT.match(named.shown)):
        student = roster.resolve(named) if roster else None
        if student is None:
            return named
    elif not _STUDENT.match(student):
        return f"cannot read a student id from '{shown_name(parts[0], 60)}'"
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


# --- an LMS archive or folder: its members --------------------------------------------------


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
    return parts, name_problem(parts)


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
        raise TooMany(f"its members declare more than {mib(MAX_ARCHIVE_BYTES)} in all")


def _zip_members(archive: zipfile.ZipFile, zone: str, report: CollectReport) -> list[_Member]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise TooMany(f"{len(infos):,} members, more than {MAX_MEMBERS:,}")
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
            raise TooMany(f"more than {MAX_MEMBERS:,} members")
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
    for entry in walk(top, _hidden):
        shown = "/".join(entry.parts)
        problem = name_problem(entry.parts)
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
    fd, info = open_file(top, parts)
    if (info.st_dev, info.st_ino) != (seen.st_dev, seen.st_ino):
        os.close(fd)
        raise Refused("changed while being collected")
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
    except TooMany as error:
        raise ValueError(f"{source} refused: {error}; nothing was collected (limits: "
                         f"{MAX_MEMBERS:,} files, {mib(MAX_FILE_BYTES)} a notebook, "
                         f"{mib(MAX_TOTAL_BYTES)} in all)") from None
    except Refused as error:
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
            size = copy_bounded(stream.read, fd, limit)
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
    except _UNREADABLE + (Refused,) as error:
        return None, f"{'/'.join(stamp.parts)} could not be read ({error})"
    try:
        return (parse_utc(text), "timestamp.txt") if text else (None, "")
    except (ValueError, OverflowError):
        return None, (f"{'/'.join(stamp.parts)} does not hold a time nbgrader can read "
                      f"({text[:60]!r}); write it like 2027-01-18 23:59:00.000000 UTC")


# --- collect: the notebooks of an LMS archive or folder into submitted/ ----------------------


def _stage_for_review(course: Course, unmapped: list[tuple[_Member, LmsName]],
                      roster: RosterMap, report: CollectReport) -> None:
    """Copy each unmapped upload to ``collect-review/<LMS>-<number>.ipynb``; report it."""
    folder = course.root / REVIEW
    folder.mkdir(exist_ok=True)
    left = MAX_TOTAL_BYTES
    for member, named in unmapped:
        relative = "/".join(member.parts)
        target = folder / f"{named.lms}-{named.keys[-1]}.ipynb"
        try:
            staged, size = _stage(member, folder, min(MAX_FILE_BYTES, left))
        except (Refused, *_UNREADABLE) as error:
            report.refuse(relative, f"could not be staged for review ({error})")
            continue
        left -= size
        staged.replace(target)
        report.unmapped.append((relative, named.shown, roster.why_not(named) if roster else
                                f"there is no roster to map the {named.lms} name to",
                                f"{REVIEW}/{target.name}"))


@holding_course
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
    roster = RosterMap(course)
    unmapped: list[tuple[_Member, LmsName]] = []
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
            placed = _place(course, member.parts, assignment, roster)
            if isinstance(placed, LmsName):
                unmapped.append((member, placed))
                continue
            if isinstance(placed, str):
                report.skipped.append((relative, placed))
                continue
            student, target_assignment = placed
            if students is not None and student not in students:
                continue
            if has_control(member.parts):
                report.refuse(relative, "a control character in its name")
                continue
            if member.size > MAX_FILE_BYTES:
                report.refuse(relative, f"{mib(member.size)}, more than the "
                              f"{mib(MAX_FILE_BYTES)} a notebook may be: not read")
                continue
            # The exact id, whatever the case: the real student and a look-alike both claim it.
            claims.setdefault((student.casefold(), target_assignment.name), []).append(
                (member, student, target_assignment))
        if unmapped:
            _stage_for_review(course, unmapped, roster, report)
            return report
        chosen = []
        for (_, name), claimants in sorted(claims.items()):
            if len(claimants) > 1:
                names = ", ".join(shown_name("/".join(m.parts), 60) for m, _, _ in claimants)
                for member, student, _ in claimants:
                    report.refuse("/".join(member.parts), f"{len(claimants)} uploads claim "
                                  f"{student} for {name} ({names}): none is taken; collect "
                                  "the right one by hand (--student, or a folder of its own)")
                continue
            chosen.append(claimants[0])
        total = sum(m.size for m, _, _ in chosen)
        if total > MAX_TOTAL_BYTES:
            raise ValueError(f"{source} refused: its notebooks hold {mib(total)}, more than "
                             f"{mib(MAX_TOTAL_BYTES)} in all; nothing was collected")
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
            except Refused as error:
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
            f"{shown_name(own_stamps[0], 60)}): a student's file, not read as the time"
            + (" (pass --folder-timestamps if you wrote them in this folder)"
               if source.is_dir() else ""))
    return report
