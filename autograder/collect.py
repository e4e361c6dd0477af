"""Bring submissions into ``submitted/<student>/<assignment>/<notebook>.ipynb``.

Accepted inputs, as learning-management systems hand them out:

* a folder (or zip) with one folder per student: ``alice/graphs.ipynb`` or
  ``alice/01_graphs/graphs.ipynb``; LMS folder names such as
  ``alice_12345_assignsubmission_file_`` are read as student ``alice``;
* a flat folder (or zip) of files named ``<student>_<anything>_<file>``, as
  Canvas names them (``alice_1234_5678_graphs-1.ipynb``).

The assignment of each notebook is the one named on the command line, else
the one whose notebook name (or assignment name) the file or folder matches.
Files are copied, never moved; anything that cannot be placed is reported.

The submission time is kept, as nbgrader's ``timestamp.txt`` beside the
collected notebook, whenever the source gives one: a ``timestamp.txt``
beside the notebook, else the member's modification time in a zip (read in
the course's time zone). Canvas stamps every file of its zip with the time
of the download, so its times are not used; its ``_LATE_`` marker
(``alice_LATE_1234_5678_graphs.ipynb``) is kept as ``lms_late.txt`` and
reported instead. ``collect_exchange`` reads nbgrader's exchange
(``<root>/<course>/inbound/<student>+<assignment>+<time>+<random>/``).
"""

from __future__ import annotations

import functools
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from autograder.manifest import Assignment, Course

__all__ = ["CollectReport", "collect", "collect_exchange", "exchange_root"]

LMS_LATE = "lms_late.txt"  # the LMS said "late" but gave no time
# A hub login name (JupyterHub allows e-mail addresses): never a path.
_EXCHANGE_STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@\-]*$")
_CANVAS = re.compile(r"^[^_]+_(?:LATE_)?\d+_\d+_", re.IGNORECASE)

_STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
_RESUBMISSION = re.compile(r"-\d+$")  # Canvas appends -1, -2 to resubmissions


@dataclass
class CollectReport:
    placed: list[tuple[str, str, str]] = field(default_factory=list)  # student, assignment, from
    skipped: list[tuple[str, str]] = field(default_factory=list)      # file, reason
    times: dict[tuple[str, str], str] = field(default_factory=dict)   # what was kept, and why
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"collected {len(self.placed)} notebook(s)"]
        out += [f"  {s:16} {a:14} <- {origin}"
                + (f"\n  {'':16} {'':14}    {self.times[(s, a)]}" if (s, a) in self.times else "")
                for s, a, origin in self.placed]
        out += self.notes
        if self.skipped:
            out.append(f"could not place {len(self.skipped)} file(s):")
            out += [f"  {name}: {reason}" for name, reason in self.skipped]
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
        return f"cannot read a student id from {parts[0]!r}"
    assignment = only or _match_assignment(candidates, course.assignments)
    if assignment is None:
        known = ", ".join(a.notebook_file for a in course.assignments)
        return f"matches no assignment (expected one of {known}, or name the assignment)"
    return student, assignment


def _zip_time(date_time: tuple, zone: str) -> datetime:
    """A zip member's time (local, no zone: read in the course's zone) in naive UTC."""
    from autograder.late import course_zone

    local = datetime(*date_time).replace(tzinfo=course_zone(zone))
    return local.astimezone(UTC).replace(tzinfo=None)


def _submission_time(path: Path, relative: tuple[str, ...], zip_times: dict[str, tuple] | None,
                     zone: str) -> tuple[datetime | None, str]:
    """(time in UTC, where it came from) for a notebook; (None, why not) if there is none."""
    from autograder.late import read_timestamp

    if len(relative) > 1:
        stamp = path.parent / "timestamp.txt"
        try:
            moment = read_timestamp(stamp)
        except ValueError as error:
            return None, str(error)
        if moment is not None:
            return moment, "timestamp.txt"
    if zip_times is not None:
        if len(relative) == 1 and _CANVAS.match(relative[0]):
            return None, "canvas"
        date_time = zip_times.get("/".join(relative))
        if date_time is not None and date_time[0] > 1980:  # 1980-01-01: "no time" in a zip
            return _zip_time(date_time, zone), f"the zip's time for it ({zone})"
    return None, ""


def _is_canvas_late(relative: tuple[str, ...]) -> bool:
    pieces = PurePosixPath(relative[-1]).stem.split("_")
    return len(relative) == 1 and len(pieces) > 2 and pieces[1].upper() == "LATE"


def _place_files(destination: Path, notebook: Path, target_name: str,
                 moment: datetime | None, late_marker: str) -> None:
    """The notebook, its timestamp.txt and LMS marker; stale ones from before are removed."""
    from autograder.late import format_timestamp

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
        from autograder.grading import hold_course

        release = hold_course(course.root)
        try:
            return collecting(course, *args, **kwargs)
        finally:
            release()

    return held


@_held
def collect(course: Course, source: Path, *, assignment: Assignment | None = None,
            students: list[str] | None = None, force: bool = False) -> CollectReport:
    """Copy every notebook under ``source`` (a folder or a .zip) into ``submitted/``.

    The submission time, where the source gives one, is kept as
    ``timestamp.txt`` beside the notebook (see the module's docstring).
    """
    from autograder.late import deadline

    report = CollectReport()
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: give a folder of submissions or "
                                "the zip file your learning-management system exported")
    zip_times: dict[str, tuple] | None = None
    canvas_seen = False
    with tempfile.TemporaryDirectory(prefix="collect-") as temp:
        if source.is_file():
            if not zipfile.is_zipfile(source):
                raise ValueError(f"{source} is neither a folder nor a zip file")
            zip_times = {}
            with zipfile.ZipFile(source) as archive:
                for member in archive.infolist():
                    # Never write outside the temporary folder ("zip slip").
                    if member.filename.startswith("/") or ".." in PurePosixPath(
                            member.filename).parts:
                        report.skipped.append((member.filename, "unsafe path in the zip"))
                        continue
                    archive.extract(member, temp)
                    zip_times[member.filename.rstrip("/")] = member.date_time
            base = Path(temp)
        else:
            base = source
        files = sorted(p for p in base.rglob("*") if p.is_file())
        claimed: dict[tuple[str, str], str] = {}
        for path in files:
            relative = path.relative_to(base)
            if any(part.startswith((".", "__MACOSX")) for part in relative.parts):
                continue
            if path.suffix != ".ipynb":
                if path.name not in ("timestamp.txt", "submission_secret.txt"):
                    report.skipped.append((str(relative), "not a notebook (.ipynb)"))
                continue
            placed = _place(course, relative.parts, assignment)
            if isinstance(placed, str):
                report.skipped.append((str(relative), placed))
                continue
            student, target_assignment = placed
            if students is not None and student not in students:
                continue
            key = (student, target_assignment.name)
            if key in claimed:
                report.skipped.append((str(relative), f"{student} already has a notebook for "
                                       f"{target_assignment.name} in this batch "
                                       f"({claimed[key]})"))
                continue
            destination = course.root / "submitted" / student / target_assignment.name
            if (destination / target_assignment.notebook_file).exists() and not force:
                report.skipped.append((str(relative), f"{destination.relative_to(course.root)}/"
                                       f"{target_assignment.notebook_file} exists; pass "
                                       "--force to replace it"))
                continue
            moment, origin = _submission_time(path, relative.parts, zip_times, course.timezone)
            canvas_seen = canvas_seen or origin == "canvas"
            marker = ""
            if _is_canvas_late(relative.parts):
                marker = f"the LMS marked this submission LATE ({relative})"
            _place_files(destination, path, target_assignment.notebook_file, moment, marker)
            claimed[key] = str(relative)
            report.placed.append((student, target_assignment.name, str(relative)))
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
    return report


# --- nbgrader's exchange ------------------------------------------------------------------


def exchange_root(course: Course) -> Path:
    """``Exchange.root`` as nbgrader_config.py sets it (MINIFLOW_EXCHANGE, else its default)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()
    root = config.Exchange.get("root") if "Exchange" in config else None
    return Path(str(root or "/srv/nbgrader/exchange"))


def _exchange_records(inbound: Path, report: CollectReport) -> list[tuple[str, str, datetime,
                                                                           Path]]:
    """(student, assignment, time, folder) for every submission in the inbound folder."""
    from nbgrader.utils import parse_utc

    records = []
    for folder in sorted(inbound.iterdir()):
        # nbgrader's own rule (ExchangeCollect): student+assignment+time[+random].
        pieces = folder.name.rsplit("+", 3)
        if folder.is_symlink() or not folder.is_dir() or len(pieces) < 3:
            report.skipped.append((folder.name, "not an nbgrader submission "
                                   "(student+assignment+time+random)"))
            continue
        if not _EXCHANGE_STUDENT.match(pieces[0]):
            report.skipped.append((folder.name, f"{pieces[0]!r} is not a student id"))
            continue
        try:
            moment = parse_utc(pieces[2])
        except (ValueError, OverflowError):
            report.skipped.append((folder.name, f"unreadable time {pieces[2]!r}"))
            continue
        zone = pieces[2].rsplit(" ", 1)[-1]
        if zone not in ("UTC", "GMT") and not any("Exchange.timezone" in n for n in report.notes):
            # nbgrader reads "CET" back right but "CEST" or "EDT" as UTC.
            report.notes.append(f"{folder.name}: written in {zone!r}, not UTC; nbgrader misreads "
                                "summer-time zones, so keep the students' Exchange.timezone "
                                "at \"UTC\" (the default)")
        records.append((pieces[0], pieces[1], moment, folder))
    return records


def _not_submitted(folder: str, names: list[str]) -> set[str]:
    """What copying a submission leaves out: hidden files, caches and symbolic links."""
    return {n for n in names if n.startswith(".") or n == "__pycache__"
            or Path(folder, n).is_symlink()}


@_held
def collect_exchange(course: Course, root: Path | None = None, *,
                     assignment: Assignment | None = None, students: list[str] | None = None,
                     force: bool = False) -> CollectReport:
    """Collect from nbgrader's exchange: per student and assignment, the last submission made
    by the due date (with the student's extension and the grace period), else the last one.

    The chosen folder is copied whole (notebook, ``timestamp.txt``,
    ``submission_secret.txt``, which ``nbgrader release_feedback`` needs)
    into ``submitted/<student>/<assignment>/``. A folder already holding
    that same submission is left alone; one holding another is replaced
    only with ``force``.
    """
    from autograder.late import deadline, read_timestamp

    root = root if root is not None else exchange_root(course)
    inbound = root / course.id / "inbound"
    if not inbound.is_dir():
        raise FileNotFoundError(
            f"{inbound} does not exist: no student has submitted to the exchange at {root} for "
            f"course {course.id!r} yet, or the exchange is elsewhere (set MINIFLOW_EXCHANGE, "
            "or pass --exchange-root)")
    report = CollectReport()
    wanted = {a.name for a in (course.select(assignment.name) if assignment else
                               course.assignments)}
    groups: dict[tuple[str, str], list[tuple[datetime, Path]]] = {}
    for student, name, moment, folder in _exchange_records(inbound, report):
        if name not in wanted or (students is not None and student not in students):
            continue
        groups.setdefault((student, name), []).append((moment, folder))
    for (student, name), submissions in sorted(groups.items()):
        submissions.sort()
        target = course.assignment(name)
        due, extension = deadline(course, name, student)
        grace = course.late.policy_for(name).grace_minutes
        on_time = [s for s in submissions if s[0] <= due + timedelta(minutes=grace)]
        moment, folder = (on_time or submissions)[-1]
        why = (f"the last of {len(on_time)} made by the due date "
               f"{due:%Y-%m-%d %H:%M:%S} UTC" + (" (with an extension)" if extension else "")
               if on_time else f"none of {len(submissions)} was made by the due date "
               f"{due:%Y-%m-%d %H:%M:%S} UTC: the last one, LATE")
        if len(submissions) > len(on_time) and on_time:
            why += f"; {len(submissions) - len(on_time)} later one(s) not taken"
        destination = course.root / "submitted" / student / name
        if destination.exists():
            try:
                held = read_timestamp(destination / "timestamp.txt")
            except ValueError:
                held = None
            if held == moment:
                report.notes.append(f"  {student:16} {name:14} already collected "
                                    f"({moment:%Y-%m-%d %H:%M:%S} UTC)")
                continue
            if not force:
                report.skipped.append((folder.name, f"{destination.relative_to(course.root)} "
                                       "holds another submission; pass --force to replace it "
                                       f"with this one ({why})"))
                continue
        staging = destination.with_name(destination.name + ".collecting")
        shutil.rmtree(staging, ignore_errors=True)
        # Students write the inbound folder: a symbolic link there could point at the
        # instructor's files (a solution, the gradebook), so links are never followed.
        shutil.copytree(folder, staging, symlinks=True, ignore=_not_submitted)
        links = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_symlink())
        if links:
            report.notes.append(f"  {student:16} {name:14} symbolic links left out: "
                                f"{', '.join(links)}")
        if not (staging / target.notebook_file).is_file() and not any(
                staging.glob("*.ipynb")):
            shutil.rmtree(staging)
            if not any(destination.parent.iterdir()):
                destination.parent.rmdir()
            report.skipped.append((folder.name, "holds no notebook"))
            continue
        shutil.rmtree(destination, ignore_errors=True)
        staging.rename(destination)
        report.placed.append((student, name, f"exchange {folder.name}"))
        report.times[(student, name)] = f"submitted {moment:%Y-%m-%d %H:%M:%S} UTC: {why}"
    return report
