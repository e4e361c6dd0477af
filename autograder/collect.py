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
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.manifest import Assignment, Course

__all__ = ["CollectReport", "collect"]

_STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
_RESUBMISSION = re.compile(r"-\d+$")  # Canvas appends -1, -2 to resubmissions


@dataclass
class CollectReport:
    placed: list[tuple[str, str, str]] = field(default_factory=list)  # student, assignment, from
    skipped: list[tuple[str, str]] = field(default_factory=list)      # file, reason

    def lines(self) -> list[str]:
        out = [f"collected {len(self.placed)} notebook(s)"]
        out += [f"  {s:16} {a:14} <- {origin}" for s, a, origin in self.placed]
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


def collect(course: Course, source: Path, *, assignment: Assignment | None = None,
            students: list[str] | None = None, force: bool = False) -> CollectReport:
    """Copy every notebook under ``source`` (a folder or a .zip) into ``submitted/``."""
    report = CollectReport()
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: give a folder of submissions or "
                                "the zip file your learning-management system exported")
    with tempfile.TemporaryDirectory(prefix="collect-") as temp:
        if source.is_file():
            if not zipfile.is_zipfile(source):
                raise ValueError(f"{source} is neither a folder nor a zip file")
            with zipfile.ZipFile(source) as archive:
                for member in archive.infolist():
                    # Never write outside the temporary folder ("zip slip").
                    if member.filename.startswith("/") or ".." in PurePosixPath(
                            member.filename).parts:
                        report.skipped.append((member.filename, "unsafe path in the zip"))
                        continue
                    archive.extract(member, temp)
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
            destination = (course.root / "submitted" / student / target_assignment.name
                           / target_assignment.notebook_file)
            if destination.exists() and not force:
                report.skipped.append((str(relative), f"{destination.relative_to(course.root)} "
                                       "exists; pass --force to replace it"))
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            claimed[key] = str(relative)
            report.placed.append((student, target_assignment.name, str(relative)))
    return report
