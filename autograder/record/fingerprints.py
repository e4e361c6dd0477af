"""Which version of the tests graded each submission, so re-releasing cannot go unnoticed.

When ``grade`` records its results it also writes, per graded submission, a
fingerprint (SHA-256) of the source of every graded test cell it graded with,
to ``autograded/test-fingerprints.json``. ``release`` compares them with the
source notebooks as they are now: a grade made with a test that has since
changed (edited, added or removed) is named, with the command that regrades
it. Grades recorded without a fingerprint (by plain ``nbgrader autograde``,
or before fingerprints were kept) are named as "cannot tell".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autograder.core.atomic import write_text_atomically
from autograder.core.manifest import Assignment, Course, graded_cells
from autograder.core.results import GradeResult, Status

__all__ = ["FINGERPRINTS", "UNKNOWN", "StaleGrades", "cell_fingerprints", "format_stale",
           "record_fingerprints", "stale_by_submission", "stale_grades", "stale_warnings"]

#: What a grade recorded without a fingerprint of its tests is, for the CSV.
UNKNOWN = "cannot tell (graded without a fingerprint of the tests)"

FINGERPRINTS = Path("autograded") / "test-fingerprints.json"


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def cell_fingerprints(cells: dict[str, str]) -> dict[str, str]:
    """grade_id -> fingerprint of that graded cell's source."""
    return {grade_id: _digest(source) for grade_id, source in cells.items()}


def _notebook_cells(notebook: Any) -> dict[str, str]:
    """grade_id -> source of the graded cells of an nbformat notebook."""
    found = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id"):
            found[meta["grade_id"]] = cell.source
    return found


def _load(course: Course) -> dict[str, dict[str, dict]]:
    path = course.root / FINGERPRINTS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_fingerprints(course: Course, results: Sequence[GradeResult],
                        sources: dict[str, Any]) -> None:
    """Remember the tests each graded result of ``results`` was graded with.

    ``sources`` maps an assignment name to the source notebook (nbformat) the
    grading run read its tests from. A result that is not graded loses its
    fingerprint: it holds no grade made with any test.
    """
    stored = _load(course)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    tests = {name: cell_fingerprints(_notebook_cells(source))  # once per assignment
             for name, source in sources.items()}
    for result in results:
        students = stored.setdefault(result.assignment, {})
        if result.status != Status.GRADED or result.assignment not in tests:
            students.pop(result.student, None)
            continue
        students[result.student] = {"graded": now, "cells": dict(tests[result.assignment])}
    path = course.root / FINGERPRINTS
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(stored, indent=1, sort_keys=True))


@dataclass
class StaleGrades:
    """An assignment whose recorded grades were (or may have been) made with other tests."""

    assignment: str
    changed: dict[str, list[str]] = field(default_factory=dict)  # student -> what changed
    unknown: list[str] = field(default_factory=list)  # graded, but no fingerprint kept

    @property
    def students(self) -> list[str]:
        return sorted(self.changed)


def _differences(then: dict[str, str], now: dict[str, str]) -> list[str]:
    edited = [g for g in now if g in then and then[g] != now[g]]
    added = [g for g in now if g not in then]
    removed = [g for g in then if g not in now]
    return ([f"{g} (edited)" for g in edited] + [f"{g} (new)" for g in added]
            + [f"{g} (removed)" for g in removed])


def stale_grades(course: Course, assignment: Assignment,
                 results: Mapping[tuple[str, str], GradeResult] | None = None) -> StaleGrades:
    """The students whose recorded grade of ``assignment`` predates its current tests.

    ``results``: what ``load_results`` returned, if the caller has it.
    """
    from autograder.record.load import load_results

    source = course.root / "source" / assignment.name / assignment.notebook_file
    stale = StaleGrades(assignment.name)
    if not source.is_file():
        return stale
    now = cell_fingerprints(graded_cells(source))
    kept = _load(course).get(assignment.name, {})
    results = load_results(course) if results is None else results
    for (name, student), result in sorted(results.items()):
        if name != assignment.name or result.status != Status.GRADED:
            continue
        then = kept.get(student, {}).get("cells")
        if not isinstance(then, dict):
            stale.unknown.append(student)
            continue
        changed = _differences(then, now)
        if changed:
            stale.changed[student] = changed
    return stale


def stale_by_submission(course: Course,
                        results: Mapping[tuple[str, str], GradeResult] | None = None,
                        ) -> dict[tuple[str, str], str]:
    """(assignment, student) -> the tests changed since that grade was made ("test_x
    (edited); ..."), or ``UNKNOWN``; current grades are left out. ``results``: what
    ``load_results`` returned, if the caller has it."""
    from autograder.record.load import load_results

    results = load_results(course) if results is None else results
    found: dict[tuple[str, str], str] = {}
    for assignment in course.assignments:
        stale = stale_grades(course, assignment, results)
        for student, changed in stale.changed.items():
            found[(assignment.name, student)] = "; ".join(changed)
        for student in stale.unknown:
            found[(assignment.name, student)] = UNKNOWN
    return found


def stale_warnings(course: Course, assignments: Sequence[Assignment] | None = None,
                   results: Mapping[tuple[str, str], GradeResult] | None = None) -> list[str]:
    """``format_stale`` of each assignment (default: all) whose grades are not current.
    ``results``: what ``load_results`` returned, if the caller has it."""
    from autograder.record.load import load_results

    chosen = course.assignments if assignments is None else assignments
    results = load_results(course) if results is None else results
    return [text for text in (format_stale(stale_grades(course, a, results)) for a in chosen)
            if text]


def format_stale(stale: StaleGrades) -> str:
    """The loud warning ``release`` prints (empty when every grade is current)."""
    lines = []
    name = stale.assignment
    if stale.changed:
        tests = sorted({item for items in stale.changed.values() for item in items})
        students = stale.students
        lines += [
            f"WARNING: {len(students)} grade(s) of {name} were made with tests that have "
            "changed since.",
            f"  changed test cells: {', '.join(tests)}",
            f"  students graded with the old tests: {', '.join(students)}",
            "  Their grades, feedback and the class report still show the old tests' "
            "verdicts. Regrade them with",
            f"      python -m autograder grade {name}",
            "  (or --student ID for one), then run feedback, export and report again."]
    if stale.unknown:
        lines += [
            f"NOTE: {len(stale.unknown)} grade(s) of {name} were recorded without a "
            "fingerprint of their tests (plain nbgrader autograde, or an older autograder), "
            "so it cannot tell whether the tests changed since: "
            f"{', '.join(stale.unknown[:20])}{' ...' if len(stale.unknown) > 20 else ''}. "
            f"Regrade with `python -m autograder grade {name}` to be sure."]
    return "\n".join(lines)
