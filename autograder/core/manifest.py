"""The course manifest (``course/manifest.toml``): the one list of assignments.

Every tool and test reads assignment order, titles, due dates and points from
here; nothing else hard-codes assignment names. Each assignment also maps its
graded test cells to the learning objectives they assess (its ``tests``
table), which the class report reads; ``objective_problems`` checks that map
against the source notebooks. A test cell that checks several things may say
which of its checks (named by the judge's plan, ``autograder.judge.plans``)
isolate which of its objectives: ``test_linear_backward = { objectives = [1, 2],
checks = { X = [1], W = [1], b = [1, 2] } }``; the report then measures those
objectives from those checks, not from the whole cell.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["Assignment", "Course", "Extension", "LatePolicy", "LateRules", "ManifestError",
           "find_course_root", "graded_cells", "load_manifest", "objective_problems"]

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
    #: (grade_id, objective numbers counted from 1) for each graded test cell
    tests: tuple[tuple[str, tuple[int, ...]], ...] = field(default=(), compare=False,
                                                          hash=False)
    #: (grade_id, ((check, objective numbers), ...)) for each test cell whose checks
    #: isolate its objectives (a ``checks`` table in ``[assignment.tests]``)
    checks: tuple[tuple[str, tuple[tuple[str, tuple[int, ...]], ...]], ...] = field(
        default=(), compare=False, hash=False)
    #: files of ``source/<name>/`` (relative paths) a grading kernel may read; no other
    #: file an instructor keeps beside the notebook reaches student code
    data: tuple[str, ...] = field(default=(), compare=False, hash=False)

    @property
    def notebook_file(self) -> str:
        return f"{self.notebook}.ipynb"

    def objectives_of(self, grade_id: str) -> tuple[int, ...]:
        """The objective numbers (from 1) the test cell ``grade_id`` assesses; () if unmapped."""
        return next((tuple(numbers) for name, numbers in self.tests if name == grade_id), ())

    def tests_of(self, number: int) -> tuple[str, ...]:
        """The test cells (grade ids, in manifest order) that assess objective ``number``."""
        return tuple(name for name, numbers in self.tests if number in numbers)

    def checks_of(self, grade_id: str) -> dict[str, tuple[int, ...]]:
        """Check name -> the objective numbers it isolates, for the test cell ``grade_id``;
        empty when the cell is measured whole."""
        return dict(next((checks for name, checks in self.checks if name == grade_id), ()))

    def isolating(self, grade_id: str, number: int) -> tuple[str, ...]:
        """The checks of ``grade_id`` that measure objective ``number``; () when the whole
        cell does (no check of the cell is mapped to it)."""
        return tuple(check for check, numbers in self.checks_of(grade_id).items()
                     if number in numbers)


@dataclass(frozen=True)
class LatePolicy:
    """What a late submission costs (the manifest's ``[late]`` table).

    ``policy`` is "none" (lateness is recorded, never charged) or "per_day"
    (``per_day`` off for every started day late, in ``unit`` "points" or
    "fraction" of the assignment's points, at most ``max_penalty`` in the same
    unit). Whatever the policy, a submission within ``grace_minutes`` of the
    due date is on time, and one more than ``cutoff_days`` late scores 0.
    """

    policy: str = "none"
    per_day: float = 0.0
    unit: str = "points"
    max_penalty: float | None = None
    grace_minutes: float = 0.0
    cutoff_days: float | None = None


@dataclass(frozen=True)
class Extension:
    """More time for one student on one assignment (an ``[[extension]]`` table)."""

    student: str
    assignment: str
    until: str | None = None  # a new due date, in the course's time zone
    days: float = 0.0         # or this much more time (days and hours add up)
    reason: str = ""


@dataclass(frozen=True)
class LateRules:
    """The course's late policy, its per-assignment overrides and the extensions."""

    default: LatePolicy = LatePolicy()
    overrides: tuple[tuple[str, LatePolicy], ...] = ()
    extensions: tuple[Extension, ...] = ()

    def policy_for(self, assignment: str) -> LatePolicy:
        return dict(self.overrides).get(assignment, self.default)

    def extension_for(self, assignment: str, student: str) -> Extension | None:
        for extension in self.extensions:
            if extension.assignment == assignment and extension.student == student:
                return extension
        return None


@dataclass(frozen=True)
class Course:
    """The course id, its title and its assignments in teaching order."""

    id: str
    title: str
    timezone: str
    assignments: tuple[Assignment, ...]
    root: Path
    late: LateRules = field(default_factory=LateRules)

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


def _data_files(entry: dict, path: Path) -> tuple[str, ...]:
    """An assignment's ``data = [...]``: relative paths inside its source folder."""
    data = entry.get("data", [])
    if not isinstance(data, list) or not all(isinstance(d, str) and d for d in data):
        raise ManifestError(f"assignment {entry['name']!r} in {path}: data must be a list of "
                            "file names, e.g. data = [\"points.csv\"]")
    for name in data:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts:
            raise ManifestError(f"assignment {entry['name']!r} in {path}: data file {name!r} "
                                "must be a path inside source/" + entry["name"] + "/")
    return tuple(data)


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
        objectives = tuple(entry.get("objectives", ()))
        tests, checks = _objective_map(entry, objectives, path)
        assignments.append(Assignment(
            name=entry["name"], notebook=entry["notebook"], title=entry["title"],
            due=entry["due"], points=float(entry["points"]), objectives=objectives,
            tests=tests, checks=checks, data=_data_files(entry, path),
        ))
    names = [a.name for a in assignments]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ManifestError(f"{path} lists these assignments twice: {', '.join(duplicated)}")
    timezone = course.get("timezone", "UTC")
    try:
        from zoneinfo import ZoneInfo

        if timezone not in ("UTC", "Etc/UTC"):  # UTC needs no time-zone database
            ZoneInfo(timezone)
    except Exception:
        raise ManifestError(f"{path}: [course] timezone {timezone!r} is not a time zone; write "
                            "one like \"UTC\" or \"Europe/Berlin\"") from None
    late = _late_rules(path, data, entries, assignments)
    return Course(id=course.get("id", "course"), title=course.get("title", ""),
                  timezone=timezone, assignments=tuple(assignments), root=root, late=late)


_Numbers = tuple[int, ...]


def _numbers(value: Any) -> list[int] | None:
    """Objective numbers as written (``3`` or ``[1, 3]``); None when they are not."""
    numbers = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(numbers, list) or not numbers or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        return None
    return numbers


def _objective_map(entry: dict, objectives: tuple[str, ...], path: Path
                   ) -> tuple[tuple[tuple[str, _Numbers], ...],
                              tuple[tuple[str, tuple[tuple[str, _Numbers], ...]], ...]]:
    """An assignment's ``[assignment.tests]`` table, checked: grade_id -> objective
    numbers, and grade_id -> (check -> objective numbers) for the cells that have a
    ``checks`` table."""
    table = entry.get("tests", {})
    where = f"assignment {entry['name']!r} in {path}"
    if not isinstance(table, dict):
        raise ManifestError(f"{where}: `tests` must be a table of test cell = [objective "
                            "numbers], e.g. [assignment.tests] with test_mul_forward = [3]")
    mapped, isolated = [], []
    for grade_id, value in table.items():
        given = value.get("objectives") if isinstance(value, dict) else value
        numbers = _numbers(given)
        if numbers is None or (isinstance(value, dict)
                               and not set(value) <= {"objectives", "checks"}):
            raise ManifestError(
                f"{where}: test cell {grade_id!r} = {value!r}; write the numbers of the "
                f"objectives it assesses, counted from 1 in the `objectives` list, e.g. "
                f"{grade_id} = [1] or {grade_id} = [1, 3], or with the judge's checks that "
                f"isolate them, {grade_id} = {{ objectives = [1, 3], checks = {{ b = [3] }} }}")
        unknown = [n for n in numbers if not 1 <= n <= len(objectives)]
        if unknown:
            listed = "; ".join(f"{i}: {text}" for i, text in enumerate(objectives, start=1))
            raise ManifestError(
                f"{where}: test cell {grade_id!r} names objective "
                f"{', '.join(map(str, unknown))}, but the assignment has "
                f"{len(objectives)} objective(s)" + (f" ({listed})" if listed else "")
                + ". Use one of those numbers, or add the objective to `objectives`.")
        mapped.append((grade_id, tuple(dict.fromkeys(numbers))))
        if isinstance(value, dict) and "checks" in value:
            isolated.append((grade_id, _check_map(value["checks"], grade_id, numbers, where)))
    return tuple(mapped), tuple(isolated)


def _check_map(checks: Any, grade_id: str, numbers: list[int], where: str
               ) -> tuple[tuple[str, _Numbers], ...]:
    """A test cell's ``checks`` table: each check -> some of the cell's own objectives."""
    if not isinstance(checks, dict) or not checks:
        raise ManifestError(f"{where}: test cell {grade_id!r}: checks = {checks!r} must be a "
                            "table of the judge's checks of the cell = [objective numbers], "
                            "e.g. checks = { b = [2], W = [1] }")
    found = []
    for check, value in checks.items():
        own = _numbers(value)
        if own is None or not set(own) <= set(numbers):
            raise ManifestError(
                f"{where}: test cell {grade_id!r}, check {check!r} = {value!r}: a check "
                f"isolates some of its cell's objectives ({numbers}); write them as a list, "
                f"e.g. {check} = [{numbers[0]}]")
        found.append((str(check), tuple(dict.fromkeys(own))))
    return tuple(found)


def graded_cells(notebook: Path) -> dict[str, str]:
    """grade_id -> source of every graded cell (nbgrader ``grade: true``) of a notebook."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError) as error:
        raise ManifestError(f"cannot read the notebook {notebook}: {error}") from None
    found = {}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id"):
            source = cell.get("source", "")
            found[meta["grade_id"]] = "".join(source) if isinstance(source, list) else source
    return found


def objective_problems(course: Course, assignments: tuple[Assignment, ...] | None = None
                       ) -> list[str]:
    """What is wrong with the objective map, checked against the source notebooks.

    Every graded test cell of ``source/<assignment>/<notebook>.ipynb`` must be
    mapped to at least one objective, and the map must name only graded cells
    that exist. Returns one sentence per problem (empty when all is well).
    """
    problems = []
    for assignment in course.assignments if assignments is None else assignments:
        notebook = course.root / "source" / assignment.name / assignment.notebook_file
        if not notebook.is_file():
            problems.append(f"{assignment.name}: no source notebook {notebook}")
            continue
        cells = list(graded_cells(notebook))
        mapped = [name for name, _ in assignment.tests]
        missing = [g for g in cells if g not in mapped]
        unknown = [g for g in mapped if g not in cells]
        if missing:
            problems.append(
                f"{assignment.name}: the test cell(s) {', '.join(missing)} assess no objective; "
                f"add them to [assignment.tests] of {assignment.name} in {MANIFEST}, e.g. "
                f"{missing[0]} = [1]")
        if unknown:
            problems.append(
                f"{assignment.name}: [assignment.tests] names {', '.join(unknown)}, which "
                f"{notebook.relative_to(course.root)} has no graded cell called; its graded "
                f"cells are {', '.join(cells) or 'none'}")
    return problems


# --- late work: [late], [[assignment]] late = {...}, [[extension]] -----------------------

_DATE = "%Y-%m-%d %H:%M:%S"
_LATE_KEYS = {"policy", "per_day", "unit", "max_penalty", "grace_minutes", "cutoff_days"}
_EXTENSION_KEYS = {"student", "assignment", "until", "days", "hours", "reason"}


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ManifestError(f"{where}: {key} = {value!r} must be a number, 0 or more")
    return float(value)


def _late_policy(where: str, table: Any, base: LatePolicy) -> LatePolicy:
    """A LatePolicy from a TOML table, keys not given taken from ``base``."""
    if not isinstance(table, dict):
        raise ManifestError(f"{where} must be a table such as {{ policy = \"per_day\", "
                            "per_day = 1 }}")
    unknown = sorted(set(table) - _LATE_KEYS)
    if unknown:
        raise ManifestError(f"{where}: unknown key(s) {', '.join(unknown)}; the keys are "
                            f"{', '.join(sorted(_LATE_KEYS))}")
    values = dict(base.__dict__)
    for key, value in table.items():
        if key == "policy":
            if value not in ("none", "per_day"):
                raise ManifestError(f"{where}: policy = {value!r} must be \"none\" or "
                                    "\"per_day\"")
        elif key == "unit":
            if value not in ("points", "fraction"):
                raise ManifestError(f"{where}: unit = {value!r} must be \"points\" or "
                                    "\"fraction\" (of the assignment's points)")
        else:
            value = _number(where, key, value)
        values[key] = value
    policy = LatePolicy(**values)
    if policy.unit == "fraction":
        for key in ("per_day", "max_penalty"):
            if (getattr(policy, key) or 0.0) > 1:
                raise ManifestError(f"{where}: {key} = {getattr(policy, key)} is a fraction of "
                                    "the points with unit = \"fraction\", so at most 1 "
                                    "(write 0.1 for 10%)")
    if policy.policy == "per_day" and policy.per_day == 0:
        raise ManifestError(f"{where}: policy = \"per_day\" needs per_day (the penalty for "
                            "each started day late)")
    return policy


def _late_rules(path: Path, data: dict, entries: list, assignments: list[Assignment]
                ) -> LateRules:
    """Read and check [late], the assignments' ``late`` overrides and [[extension]]."""
    default = _late_policy(f"{path} [late]", data.get("late", {}), LatePolicy())
    overrides = []
    for entry in entries:
        if "late" in entry:
            overrides.append((entry["name"], _late_policy(
                f"{path} assignment {entry['name']!r} late", entry["late"], default)))
    known = {a.name: a for a in assignments}
    extensions: list[Extension] = []
    for number, entry in enumerate(data.get("extension", []), start=1):
        where = f"{path} [[extension]] #{number}"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where} must be a table")
        unknown = sorted(set(entry) - _EXTENSION_KEYS)
        if unknown:
            raise ManifestError(f"{where}: unknown key(s) {', '.join(unknown)}; the keys are "
                                f"{', '.join(sorted(_EXTENSION_KEYS))}")
        missing = [k for k in ("student", "assignment") if not entry.get(k)]
        if missing:
            raise ManifestError(f"{where} lacks {', '.join(missing)}")
        if entry["assignment"] not in known:
            raise ManifestError(f"{where}: no assignment called {entry['assignment']!r}; the "
                                f"assignments are: {', '.join(known)}")
        days = _number(where, "days", entry.get("days", 0)) + _number(
            where, "hours", entry.get("hours", 0)) / 24
        until = entry.get("until")
        if (until is None) == (days == 0):
            raise ManifestError(f"{where} ({entry['student']}, {entry['assignment']}) needs "
                                "either until = \"2027-01-20 23:59:00\" or days = N (or "
                                "hours = N), not both and not neither")
        if until is not None:
            try:
                new_due = datetime.strptime(str(until), _DATE)
            except ValueError:
                raise ManifestError(f"{where}: until = {until!r} must look like "
                                    "2027-01-20 23:59:00") from None
            if new_due <= datetime.strptime(known[entry["assignment"]].due, _DATE):
                raise ManifestError(f"{where}: until = {until!r} is not after the due date "
                                    f"of {entry['assignment']} "
                                    f"({known[entry['assignment']].due})")
        extension = Extension(student=str(entry["student"]), assignment=entry["assignment"],
                              until=None if until is None else str(until), days=days,
                              reason=str(entry.get("reason", "")))
        if any((e.student, e.assignment) == (extension.student, extension.assignment)
               for e in extensions):
            raise ManifestError(f"{where}: {extension.student} already has an extension for "
                                f"{extension.assignment}; give one per student and assignment")
        extensions.append(extension)
    return LateRules(default=default, overrides=tuple(overrides), extensions=tuple(extensions))
