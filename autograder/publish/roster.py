"""The class roster: who is in the course, and what became of each of them.

``python -m autograder roster import FILE.csv`` reads a roster exported from
a learning-management system or a spreadsheet (columns id, first name, last
name, email and, optionally, section; common spellings of each header are
accepted), checks every row before anything is written, puts the students
in nbgrader's gradebook (its ``Student`` table: id, first_name, last_name,
email) in one transaction, and copies the file to ``roster.csv`` in the
course root. nbgrader has no section, so that file is where the section
lives; it holds personal data and is never committed (.gitignore).

The roster then completes what the other commands say: ``collect`` names
submissions from students who are not on it and roster students with
nothing submitted (``collect_lines``), and ``export`` gives every roster
student a row per assignment with their section and a status that tells a
graded zero from a missing, rejected or doubtful submission
(``autograder.publish.export.complete_export``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.core.atomic import copy_atomically
from autograder.core.manifest import Course
from autograder.core.reasons import Reason
from autograder.core.results import GradeResult, Status
from autograder.core.safe_text import terminal_text

__all__ = ["NEEDS_REVIEW", "ROSTER_FILE", "STATUSES", "RosterError", "RosterStudent",
           "collect_lines", "export_status", "import_roster", "load_roster", "read_roster"]

ROSTER_FILE = "roster.csv"
STATUSES = ("graded", "not submitted", "rejected", "needs review")
#: A graded submission with one of these codes needs the instructor's eyes: its
#: grade may not be the whole story (``GradeResult.codes``).
NEEDS_REVIEW = frozenset({Reason.CRASHED, Reason.KERNEL_DIED, Reason.FLAGGED,
                          Reason.MANUAL_GRADING})

# The ids collect can read from a folder or file name (autograder.collect.archives).
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
# canonical header (lower case, letters and digits only) -> field
_HEADERS = {
    "id": ("id", "studentid", "username", "login", "loginid", "netid", "sisuserid",
           "sisloginid"),
    "first_name": ("firstname", "first", "givenname", "forename", "givennames"),
    "last_name": ("lastname", "last", "surname", "familyname"),
    "email": ("email", "emailaddress", "mail", "emailaddr"),
    "section": ("section", "sections", "group", "class", "sectionname"),
    # How the learning-management system names the student in its exports (optional):
    # Canvas's file names carry a login and a user id, Moodle's folders a participant id.
    "lms_login": ("lmslogin", "lmsusername", "canvaslogin", "moodleusername"),
    "lms_user_id": ("lmsuserid", "lmsid", "canvasuserid", "canvasid", "moodleid",
                    "moodleuserid", "participantid"),
}
_REQUIRED = ("id", "first_name", "last_name", "email")


class RosterError(ValueError):
    """The roster cannot be used; the message names the line and the fix."""


@dataclass(frozen=True)
class RosterStudent:
    """One student on the roster."""

    id: str
    first_name: str
    last_name: str
    email: str
    section: str = ""
    lms_login: str = ""
    lms_user_id: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


def _canonical(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _columns(header: list[str], name: str) -> dict[str, int]:
    """field -> column index; a RosterError names a missing or doubled column."""
    found: dict[str, int] = {}
    for position, title in enumerate(header):
        key = _canonical(title)
        for field_name, spellings in _HEADERS.items():
            if key in spellings:
                if field_name in found:
                    raise RosterError(
                        f"{name}: line 1: the columns {header[found[field_name]]!r} and "
                        f"{title!r} both look like the {field_name} column; rename or remove "
                        "one of them")
                found[field_name] = position
    missing = [f for f in _REQUIRED if f not in found]
    if missing:
        accepted = "; ".join(f"{f}: {', '.join(_HEADERS[f][:4])}" for f in missing)
        raise RosterError(
            f"{name}: line 1: no {' or '.join(missing)} column (the header reads "
            f"{', '.join(repr(h) for h in header) or 'nothing'}). The roster needs the columns "
            f"id, first_name, last_name, email and optionally section; accepted spellings "
            f"include {accepted}")
    return found


def read_roster(text: str, name: str = ROSTER_FILE) -> list[RosterStudent]:
    """Parse and check a roster; every problem (up to 20) in one RosterError.

    Rejects duplicate ids, ids that collect could not read from a submission
    (letters, digits, dots and dashes, starting with a letter or digit),
    empty names, malformed emails, and line breaks in any field (a name is
    printed on one line). Commas and quotes are fine: the course's export
    (``CourseExportPlugin``) writes its CSV with the ``csv`` module.
    """
    text = text.lstrip("\ufeff")  # Excel's byte-order mark
    if not text.strip():
        raise RosterError(f"{name} is empty: it needs a header line (id, first_name, "
                          "last_name, email, section, and optionally lms_login and "
                          "lms_user_id) and one line per student")
    # Only the delimiter is guessed (from the header): the rest is Excel's dialect, the
    # one every LMS writes, where "Smith, ""Jr.""" is Smith, "Jr." (a header holds no
    # quote to guess that from).
    try:
        delimiter = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text), csv.excel, delimiter=delimiter)
    rows = _checked_rows(reader, name)
    header = next(rows)
    columns = _columns([h.strip() for h in header], name)
    students: list[RosterStudent] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for row in rows:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines are harmless

        def value(field_name: str) -> str:
            position = columns.get(field_name)
            return row[position].strip() if position is not None and position < len(row) else ""

        student = RosterStudent(*(value(f) for f in ("id", "first_name", "last_name", "email",
                                                     "section", "lms_login", "lms_user_id")))
        where = f"line {line}"
        if not student.id:
            problems.append(f"{where}: no student id")
        elif not _VALID_ID.match(student.id):
            problems.append(f"{where}: the id {student.id!r} is not usable: an id is letters, "
                            "digits, dots and dashes, starting with a letter or digit (it "
                            "names the student's folder in submitted/)")
        elif student.id.lower() in seen:
            problems.append(f"{where}: the id {student.id!r} is already on line "
                            f"{seen[student.id.lower()]}")
        else:
            seen[student.id.lower()] = line
        if not student.first_name and not student.last_name:
            problems.append(f"{where}: no first or last name for {student.id or 'this student'}")
        if student.email and not _EMAIL.match(student.email):
            problems.append(f"{where}: {student.email!r} is not an email address")
        for field_name in ("first_name", "last_name", "email", "section", "lms_login",
                           "lms_user_id"):
            if re.search(r"[\r\n]", getattr(student, field_name)):
                problems.append(f"{where}: the {field_name} {getattr(student, field_name)!r} "
                                "holds a line break; a name is one line: remove it")
        students.append(student)
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"]
                                 if len(problems) > 20 else [])
        raise RosterError(f"{name}: {len(problems)} problem(s), nothing was imported:\n  "
                          + "\n  ".join(shown))
    if not students:
        raise RosterError(f"{name} has a header but no students")
    return students


def _checked_rows(reader: Any, name: str) -> Iterator[list[str]]:
    """The reader's rows; a line the csv module cannot read (a carriage return outside
    quotes) is a RosterError that names it, not a traceback."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise RosterError(f"{name}: line {reader.line_num}: {error}; save the roster "
                              "again as CSV from the spreadsheet or the LMS") from None
        yield row


def load_roster(course: Course) -> list[RosterStudent]:
    """The course's roster (``roster.csv`` in the course root); empty if there is none."""
    path = course.root / ROSTER_FILE
    if not path.is_file():
        return []
    return read_roster(_read_text(path), ROSTER_FILE)


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RosterError(f"{path} is not UTF-8 text: save it as CSV UTF-8 (Excel: File > "
                          "Save As > CSV UTF-8) and import it again") from None


def import_roster(course: Course, source: Path) -> list[RosterStudent]:
    """Check every row of ``source``, then write all students to the gradebook at once.

    Students already in the gradebook get the roster's names and email;
    nobody is removed. The file is copied to ``roster.csv`` in the course
    root (sections live there) only after the gradebook has committed.
    """
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist: give the roster as a CSV file "
                                "(id, first_name, last_name, email, section)")
    students = read_roster(_read_text(source), source.name)

    from autograder.record.database import check_gradebook, db_url, one_transaction, open_gradebook

    check_gradebook(course)
    with open_gradebook(db_url(course), course.id) as gradebook:
        commit = one_transaction(gradebook)
        try:
            for student in students:
                gradebook.update_or_create_student(
                    student.id, first_name=student.first_name or None,
                    last_name=student.last_name or None, email=student.email or None)
            commit()
        except BaseException:
            gradebook.db.rollback()
            raise
    target = course.root / ROSTER_FILE
    if source.resolve() != target.resolve():
        copy_atomically(source, target)
    return students


# --- what the roster adds to collect and export ------------------------------------

def collect_lines(course: Course, placed: list[tuple[str, str, str]],
                  assignments: list[str]) -> list[str]:
    """What collect should say about the roster, for the assignments it collected.

    ``placed`` is CollectReport.placed (student, assignment, origin); the
    roster students with nothing in ``submitted/<student>/<assignment>/``
    are listed for each assignment of ``assignments``. Names and ids are
    printed as plain text (``autograder.core.safe_text.terminal_text``).
    """
    roster = load_roster(course)
    if not roster:
        return []
    known = {s.id for s in roster}
    lines = []
    strangers = sorted({(student, assignment) for student, assignment, _ in placed
                        if student not in known})
    if strangers:
        lines.append(f"not on the roster ({len(strangers)}): check the id, or add the student "
                     "to the roster and run `python -m autograder roster import` again")
        lines += [f"  {terminal_text(student):16} {terminal_text(assignment)}"
                  for student, assignment in strangers]
    for assignment in assignments:
        missing = [s for s in roster
                   if not (course.root / "submitted" / s.id / assignment).is_dir()]
        if missing:
            lines.append(f"nothing submitted for {assignment} by {len(missing)} of "
                         f"{len(roster)} roster student(s):")
            lines += [f"  {terminal_text(s.id):16} {terminal_text(s.first_name)} "
                      f"{terminal_text(s.last_name)}".rstrip() for s in missing]
        else:
            lines.append(f"every roster student has a submission for {assignment}")
    return lines


def export_status(result: GradeResult | None, submitted: bool = False) -> str:
    """The status column of one (student, assignment) row of grades.csv, in words
    made from the result's status and codes.

    ``result`` is what ``gradebook.load_results`` holds for it (None when it
    was never graded); ``submitted`` says whether ``submitted/`` holds it.
    """
    if result is None:
        return "needs review" if submitted else "not submitted"
    if result.status == Status.REJECTED:
        return "rejected"
    if result.status != Status.GRADED or NEEDS_REVIEW.intersection(result.codes()):
        return "needs review"
    return "graded"
