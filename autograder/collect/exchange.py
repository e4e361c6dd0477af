"""nbgrader's exchange into ``submitted/``: ``collect_exchange`` and ``exchange_root``.

``collect_exchange`` reads nbgrader's exchange
(``<root>/<course>/inbound/<student>+<assignment>+<time>+<random>/``),
where any student can write a folder with any name: a submission is taken
only from a folder (and files) owned by the Unix account of the student it
names, its time is the file system's (the last change of anything in it,
which no student can set back), and every file is opened without following
links and copied from the descriptor that was checked, within the caps of
``autograder.collect.files`` (``MAX_MEMBERS`` entries, ``MAX_DEPTH``
levels, ``MAX_FILE_BYTES`` a file, ``MAX_TOTAL_BYTES`` a submission).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from autograder.collect.files import (
    DIR_FLAGS,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_TOTAL_BYTES,
    Refused,
    TooMany,
    copy_bounded,
    walk,
)
from autograder.collect.holding import holding_course
from autograder.collect.report import CollectReport, mib, shown_name
from autograder.core.course_config import nbgrader_config
from autograder.core.manifest import Assignment, Course

__all__ = ["EXCHANGE_CLOCK_SLACK", "collect_exchange", "exchange_root"]

# A hub login name (JupyterHub allows e-mail addresses): never a path.
_EXCHANGE_STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@\-]*$")
# How far the time in an exchange folder's name may be from the file system's time
# and still be kept as it is (nbgrader names the folder as it starts copying).
EXCHANGE_CLOCK_SLACK = timedelta(seconds=120)


def exchange_root(course: Course) -> Path:
    """``Exchange.root`` as nbgrader_config.py sets it (MINIFLOW_EXCHANGE, else its default)."""
    config = nbgrader_config(course.root)
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
            report.skipped.append((name, f"'{shown_name(pieces[0], 40)}' is not a student id"))
            continue
        try:
            moment = parse_utc(pieces[2])
        except (ValueError, OverflowError):
            report.skipped.append((name, f"unreadable time '{shown_name(pieces[2], 40)}'"))
            continue
        zone = pieces[2].rsplit(" ", 1)[-1]
        if zone not in ("UTC", "GMT") and not any("Exchange.timezone" in n for n in report.notes):
            # nbgrader reads "CET" back right but "CEST" or "EDT" as UTC.
            report.notes.append(f"{shown_name(name)}: written in '{shown_name(zone, 20)}', "
                                "not UTC; nbgrader misreads summer-time zones, so keep the "
                                "students' Exchange.timezone at \"UTC\" (the default)")
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


def _is_root(student: str) -> bool:
    """Is ``student`` root's login (by name, or a login of uid 0 on this machine)?"""
    import pwd

    if student == "root":
        return True
    try:
        return pwd.getpwnam(student).pw_uid == 0
    except KeyError:
        return False


def _login_uid(student: str) -> int:
    """The uid of ``student``'s login on this machine; Refused if there is none (root's
    submissions are refused before this is asked: ``_is_root``)."""
    import pwd

    try:
        uid = pwd.getpwnam(student).pw_uid
    except KeyError:
        raise Refused(f"no login {student!r} on this machine, so who wrote it cannot be "
                       "checked (if your hub's users are not accounts here, see "
                       "--trust-exchange-owners)") from None
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
        top = os.open(name, DIR_FLAGS, dir_fd=inbound)
    except OSError as error:
        raise Refused(f"could not be opened as a folder ({error.strerror})") from None
    try:
        info = os.fstat(top)

        def owned(what: str, info: os.stat_result) -> None:
            if uid is not None and info.st_uid != uid:
                whose = "root" if info.st_uid == 0 else _account(info.st_uid)
                raise Refused(f"{what} is owned by {whose}, not by the student it names "
                               f"(uid {uid}): another account wrote it")

        owned("the folder", info)
        files, links, changed, total = [], [], _ctime(info), 0
        for entry in walk(top, _left_out):
            shown = "/".join(entry.parts)
            if entry.kind in ("link", "other"):
                links.append(shown)
                continue
            if entry.kind == "deep":
                raise Refused(f"{shown_name(shown, 60)} is more than {MAX_DEPTH} levels deep")
            owned(shown_name(shown, 60), entry.info)
            changed = max(changed, _ctime(entry.info))
            if entry.kind == "dir":
                if into is not None:
                    (into / shown).mkdir(parents=True, exist_ok=True)
                continue
            if entry.info.st_size > MAX_FILE_BYTES:
                raise Refused(f"{shown_name(shown, 60)} is {mib(entry.info.st_size)}, more than "
                               f"the {mib(MAX_FILE_BYTES)} a file may be")
            total += entry.info.st_size
            if total > MAX_TOTAL_BYTES:
                raise Refused(f"it holds more than {mib(MAX_TOTAL_BYTES)}")
            files.append(entry.parts)
            if into is not None:
                (into / shown).parent.mkdir(parents=True, exist_ok=True)
                target = os.open(into / shown, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                 | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
                try:
                    fd = entry.fd
                    copy_bounded(lambda n, fd=fd: os.read(fd, n), target, MAX_FILE_BYTES)
                finally:
                    os.close(target)
        return _Tree((info.st_dev, info.st_ino), tuple(files), links, changed, total)
    except TooMany as error:
        raise Refused(f"it holds {error}") from None
    finally:
        os.close(top)


@dataclass
class _Submission:
    moment: datetime
    name: str
    tree: _Tree
    origin: str


@holding_course
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
        uids: dict[str, int | Refused] = {}
        for student, name, claimed, folder in _exchange_records(inbound, report):
            if name not in wanted or (students is not None and student not in students):
                continue
            try:
                uid = None
                if _is_root(student):
                    # nbgrader names a submission after the account that ran `submit`:
                    # root's is an administrator's slip, never a student's, trusted or not.
                    raise Refused(f"submitted as {student!r}, an administrator's account: "
                                  "a submission by root is never taken; the student submits "
                                  "from their own login")
                if not trust_owners:
                    if student not in uids:
                        try:
                            uids[student] = _login_uid(student)
                        except Refused as error:
                            uids[student] = error
                    if isinstance(uids[student], Refused):
                        raise uids[student]
                    uid = uids[student]
                tree = _read_submission(inbound, folder, uid, None)
            except Refused as error:
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
            raise Refused("it changed while being collected: run collect again")
    except Refused as error:
        drop()
        report.refuse(folder, str(error))
        return
    except OSError as error:
        drop()
        report.refuse(folder, f"could not be read ({error})")
        return
    if copied.links:
        report.notes.append(f"  {student:16} {name:14} symbolic links left out: "
                            f"{shown_name(', '.join(copied.links))}")
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
