"""Who an LMS export names: Canvas's file names and Moodle's folders, mapped to roster ids.

A learning-management system names each upload after its own idea of the
student: Canvas's flat zip calls it ``abbottava_LATE_12345_67890_graphs.ipynb``
(a login, the LATE marker, a user id, a submission id), Moodle's zip puts it
in a folder ``Ava Abbott_700000_assignsubmission_file_`` (a full name and a
participant id). Neither is the roster's id. ``RosterMap`` maps them, in
this order:

1. the mapping file ``lms-map.csv`` in the course root (``lms_name,student_id``;
   ``python -m autograder roster map LMS_NAME STUDENT_ID`` adds a line);
2. the roster's id itself;
3. the roster's optional ``lms_login`` and ``lms_user_id`` columns;
4. the roster's full name (first and last), when exactly one student has it.

A name that maps to nobody is never given an id made up from it: ``collect``
stages the upload for review and names the command that resolves it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from autograder.core.atomic import write_text_atomically
from autograder.core.manifest import Course
from autograder.publish.roster import RosterError, load_roster

__all__ = ["LMS_MAP", "REVIEW", "LmsName", "RosterMap", "add_to_lms_map", "lms_name"]

LMS_MAP = "lms-map.csv"
#: Where collect copies the uploads it could not map to a roster student (named after
#: the LMS's number for the student, never after a name the student chose).
REVIEW = "collect-review"
#: login, LATE, user id, submission id, file: Canvas's flat zip
_CANVAS = re.compile(r"^(?P<login>[A-Za-z0-9][A-Za-z0-9.\-]*)_(?:LATE_)?(?P<user>\d+)_\d+_.",
                     re.IGNORECASE)
#: full name, participant id, then Moodle's plugin words
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<participant>\d+)_assign(?:submission|feedback)_\w*$",
                     re.IGNORECASE)


@dataclass(frozen=True)
class LmsName:
    """How one upload of an LMS export names its student."""

    lms: str                # "Canvas" or "Moodle"
    shown: str              # the name to map: a login or a full name
    keys: tuple[str, ...]   # what may match: the name, then the LMS's number for them


def lms_name(parts: tuple[str, ...]) -> LmsName | None:
    """The LMS's name for the upload at ``parts`` (relative to the export), or None for
    another layout (a plain folder per student)."""
    if len(parts) == 1:
        match = _CANVAS.match(PurePosixPath(parts[0]).name)
        if match:
            return LmsName("Canvas", match["login"], (match["login"], match["user"]))
        return None
    match = _MOODLE.match(parts[0])
    if match and match["name"].isprintable():  # a name, not escape sequences
        return LmsName("Moodle", match["name"].strip(), (match["name"], match["participant"]))
    return None


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def read_lms_map(course: Course) -> dict[str, str]:
    """``lms-map.csv``: LMS name (as compared: case and spaces folded) -> student id."""
    path = course.root / LMS_MAP
    if not path.is_file():
        return {}
    found = {}
    for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
        if len(row) >= 2 and row[0].strip() and row[0] != "lms_name":
            found[_key(row[0])] = row[1].strip()
    return found


class RosterMap:
    """The roster's ids, keyed by every name an LMS export may use for them."""

    def __init__(self, course: Course) -> None:
        students = load_roster(course)
        self.ids = {s.id for s in students}
        self.known: dict[str, str] = {}
        by_name: dict[str, list[str]] = {}
        for s in students:
            by_name.setdefault(_key(s.full_name), []).append(s.id)
        # Later entries win: full names, then the LMS columns, then ids, then the file.
        self.known.update({name: ids[0] for name, ids in by_name.items() if len(ids) == 1})
        self.shared = {name for name, ids in by_name.items() if len(ids) > 1}
        for s in students:
            for value in (s.lms_user_id, s.lms_login):
                if value:
                    self.known[_key(value)] = s.id
        self.known.update({_key(s.id): s.id for s in students})
        self.known.update(read_lms_map(course))

    def __bool__(self) -> bool:
        return bool(self.known)

    def resolve(self, name: LmsName) -> str | None:
        """The roster id ``name`` maps to, or None."""
        for key in name.keys:
            found = self.known.get(_key(key))
            if found is not None:
                return found
        return None

    def why_not(self, name: LmsName) -> str:
        """Why ``name`` maps to nobody, in words for the instructor."""
        if _key(name.shown) in self.shared:
            return f"two roster students are called {name.shown!r}"
        return (f"no roster student has the {name.lms} name {name.shown!r} (nor its number "
                f"{name.keys[-1]}) as id, lms_login, lms_user_id or full name")


def add_to_lms_map(course: Course, name: str, student: str) -> None:
    """Map the LMS name ``name`` to the roster's ``student`` in ``lms-map.csv``."""
    ids = {s.id for s in load_roster(course)}
    if student not in ids:
        raise RosterError(f"{student!r} is not on the roster: map an LMS name to a roster id "
                          "(python -m autograder roster list)")
    if not name.strip() or re.search(r"[\r\n]", name):
        raise RosterError("give the LMS name as the export shows it, on one line")
    entries = read_lms_map(course)
    entries[_key(name)] = student
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["lms_name", "student_id"])
    writer.writerows(sorted(entries.items()))
    write_text_atomically(course.root / LMS_MAP, out.getvalue())
