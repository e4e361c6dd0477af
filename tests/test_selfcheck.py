"""The tests of the tests: `python -m autograder selfcheck` is part of the suite.

For every assignment of the manifest, the solution notebook autograded by
nbgrader scores full marks, the blank release scores zero without grader
errors, and every mutant in the mutant library loses points.
"""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from autograder.manifest import load_manifest
from autograder.mutants import load_mutants
from autograder.selfcheck import _run_mutant, format_table, selfcheck

COURSE = load_manifest()
IDS = [a.name for a in COURSE.assignments]


def _solution_cells(assignment) -> list[str]:
    notebook = nbformat.read(COURSE.root / "source" / assignment.name / assignment.notebook_file,
                             as_version=4)
    return [c.metadata.nbgrader["grade_id"] for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("solution")]


@pytest.mark.parametrize("assignment", COURSE.assignments, ids=IDS)
def test_every_exercise_has_at_least_four_mutants(assignment):
    cells = _solution_cells(assignment)
    mutants = load_mutants(assignment.name)
    unknown = sorted({m.cell for m in mutants} - set(cells))
    assert not unknown, f"mutants replace cells that do not exist: {unknown}"
    for cell in cells:
        count = sum(m.cell == cell for m in mutants)
        assert count >= 4, f"{assignment.name}/{cell} has {count} mutant(s); write at least 4"
    descriptions = [m.name for m in mutants]
    assert len(descriptions) == len(set(descriptions)), "two mutants share a description"


def test_selfcheck_passes_for_the_whole_course():
    checks = selfcheck(COURSE, COURSE.assignments, workers=2)
    failed = [c for c in checks if not c.ok]
    assert not failed, "\n" + format_table(failed)
    subjects = {(c.assignment, c.subject.split(" ")[0]) for c in checks}
    for name in IDS:
        assert {(name, "solution"), (name, "blank"), (name, "control:"),
                (name, "mutant"), (name, "cheating")} <= subjects
    cheating = [c.subject for c in checks if c.subject.startswith("cheating")]
    assert len(cheating) == len(IDS)
    assert all(s.endswith("tried, all lost points") for s in cheating), cheating


def test_a_mutant_that_keeps_full_marks_is_reported_as_a_hole():
    first = COURSE.assignments[0]
    notebook = nbformat.read(COURSE.root / "source" / first.name / first.notebook_file,
                             as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution"))
    # The solution itself, disguised as a mutant, must be flagged as kept-full-marks.
    score, max_score, caught = _run_mutant(
        str(COURSE.root / "source" / first.name / first.notebook_file),
        cell.metadata.nbgrader["grade_id"], cell.source)
    assert score == max_score and caught == ""


@pytest.mark.parametrize("command", ["release", "collect", "grade", "flags", "feedback",
                                     "export", "report", "selfcheck", "demo"])
def test_every_subcommand_has_help(command):
    out = subprocess.run([sys.executable, "-m", "autograder", command, "--help"],
                         capture_output=True, text=True, cwd=COURSE.root, check=True).stdout
    assert out.startswith("usage: python -m autograder " + command)
