"""The course manifest (``course/manifest.toml``): the one list of assignments.

Every tool and test reads assignment order, titles, due dates and points from
here; nothing else hard-codes assignment names.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

__all__ = ["Assignment", "Course", "ManifestError", "find_course_root", "load_manifest"]

MANIFEST = Path("course") / "manifest.toml"


class ManifestError(ValueError):
    """The manifest is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Assignment:
    """One assignment: a folder ``source/<name>/`` holding ``<notebook>.ipynb``."""

    name: str
    notebook: str
    title: str
    due: str
    points: float
    objectives: tuple[str, ...]

    @property
    def notebook_file(self) -> str:
        return f"{self.notebook}.ipynb"


@dataclass(frozen=True)
class Course:
    """The course id, its title and its assignments in teaching order."""

    id: str
    title: str
    timezone: str
    assignments: tuple[Assignment, ...]
    root: Path

    def assignment(self, name: str) -> Assignment:
        """The assignment called ``name``; a clear error lists the real names."""
        for assignment in self.assignments:
            if assignment.name == name:
                return assignment
        known = ", ".join(a.name for a in self.assignments)
        raise ManifestError(f"no assignment called {name!r} in {self.root / MANIFEST}; "
                            f"the assignments are: {known}")

    def select(self, name: str | None) -> tuple[Assignment, ...]:
        """All assignments when ``name`` is None, else just that one."""
        return self.assignments if name is None else (self.assignment(name),)

    @property
    def total_points(self) -> float:
        return sum(a.points for a in self.assignments)


def find_course_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding the course manifest."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MANIFEST).is_file() and (folder / "nbgrader_config.py").is_file():
            return folder
    raise ManifestError(f"{here} is not inside a course: no folder at or above it holds both "
                        f"{MANIFEST} and nbgrader_config.py. Run this from the course root.")


def load_manifest(root: str | Path | None = None) -> Course:
    """Read and validate ``course/manifest.toml`` under ``root`` (found if omitted)."""
    root = find_course_root(root)
    path = root / MANIFEST
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path} is not valid TOML: {error}") from None
    course = data.get("course", {})
    entries = data.get("assignment", [])
    if not entries:
        raise ManifestError(f"{path} lists no [[assignment]] tables")
    assignments = []
    for number, entry in enumerate(entries, start=1):
        missing = [key for key in ("name", "notebook", "title", "due", "points")
                   if key not in entry]
        if missing:
            raise ManifestError(f"assignment #{number} in {path} lacks {', '.join(missing)}")
        try:
            datetime.strptime(entry["due"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise ManifestError(f"assignment {entry['name']!r}: due date {entry['due']!r} "
                                "must look like 2027-01-18 23:59:00") from None
        assignments.append(Assignment(
            name=entry["name"], notebook=entry["notebook"], title=entry["title"],
            due=entry["due"], points=float(entry["points"]),
            objectives=tuple(entry.get("objectives", ())),
        ))
    names = [a.name for a in assignments]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ManifestError(f"{path} lists these assignments twice: {', '.join(duplicated)}")
    return Course(id=course.get("id", "course"), title=course.get("title", ""),
                  timezone=course.get("timezone", "UTC"), assignments=tuple(assignments),
                  root=root)
