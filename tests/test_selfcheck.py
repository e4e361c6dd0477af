"""The tests of the tests: `python -m autograder selfcheck` is part of the suite.

Every notebook it tries is graded by ``grade``, the judge included, and the
class it grades must be the golden class (tests/golden/selfcheck_class.json),
recorded before the grader's modules were moved (issue 30).

For every assignment of the manifest, the solution notebook autograded by
nbgrader scores full marks, the blank release scores zero without grader
errors, every mutant in the mutant library loses points (in one exercise
only, unless it is wrong in several places), and the visible tests alone
catch at least 80% of the mutants.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.author.mutants import Mutant, load_mutants
from autograder.author.selfcheck import (
    NAMED_TARGET,
    VISIBLE_TARGET,
    blamed_elsewhere,
    format_table,
    message_kind,
    mutant_check,
    seen_by_student,
)
from autograder.core.manifest import load_manifest
from autograder.core.results import CellGrade, GradeResult
from autograder.execute.direct import run_notebook, split_hidden

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
    """And its class is the golden class: grades the moves of issue 30 must not change."""
    sys.path.insert(0, str(Path(__file__).parent / "golden"))
    from record import GOLDEN, differences, graded_class

    checks, graded = graded_class(workers=2)
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    changed = differences(golden, graded)
    assert not changed, (f"{len(changed)} difference(s) from the golden class "
                         "(tests/golden/record.py says when to record it again):\n"
                         + "\n".join(changed[:20]))
    failed = [c for c in checks if not c.ok]
    assert not failed, "\n" + format_table(failed)
    subjects = {(c.assignment, c.kind) for c in checks}
    for name in IDS:
        assert {(name, "solution"), (name, "blank"), (name, "mutant"), (name, "honest"),
                (name, "visible"), (name, "cheats")} <= subjects
    flagged = [c for c in checks if c.kind == "honest"]
    cheating = [c for c in checks if c.kind == "cheats"]
    assert len(cheating) == len(flagged) == len(IDS)
    assert all(c.subject.startswith("honest mistakes flagged: 0/") for c in flagged)
    assert all(c.subject.startswith("cheats that scored: 0/") for c in cheating)
    table = format_table(checks)
    honest = sum(len(load_mutants(name)) for name in IDS)
    assert f"honest mistakes flagged: 0/{honest}; cheats that scored: 0/" in table
    visible = {c.assignment: c for c in checks if c.kind == "visible"}
    assert set(visible) == set(IDS)
    for name, check in visible.items():
        assert check.max_score == len(load_mutants(name))
        assert check.score / check.max_score >= VISIBLE_TARGET, check
    named = {c.assignment: c for c in checks if c.kind == "named"}
    assert set(named) == set(IDS)
    for name, check in named.items():
        assert check.max_score == visible[name].score
        assert check.score / check.max_score >= NAMED_TARGET, check


@pytest.mark.parametrize(("seen", "kind"), [
    ("test_x: AssertionError: Wrong value at element (0,): expected 1, got 2\n  more", "numbers"),
    ("test_x: AssertionError: Wrong shape (2,), expected (3,)\n  x: shape (2,)", "numbers"),
    ("test_x: AssertionError: Exactly half: a second contribution overwrote the first", "named"),
    ("test_x: AssertionError: Mul.backward() raised ValueError:\n  operands could not be "
     "broadcast (inputs: ...). Likely mistake: two arrays of different shapes", "named"),
    ("test_x: AssertionError: Mul.forward() raised TypeError: bad operand", "raised"),
    ("a cell: ValueError: operands could not be broadcast together", "raised"),
    ("test_x: AssertionError: Wrong value at element (1,): expected 1, got 2\n  Likely "
     "mistake: it is exactly 3 times the right value", "named"),
])
def test_a_visible_failure_is_told_apart_by_what_it_tells_the_student(seen, kind):
    assert message_kind(seen) == kind


def _graded(scores: dict[str, float], flags: list[str] | None = None) -> GradeResult:
    cells = [CellGrade(grade_id, score, 2.0, "" if score == 2 else "GraderCheckFailed: x")
             for grade_id, score in scores.items()]
    return GradeResult("m", "03_losses", "graded", score=sum(scores.values()),
                       max_score=2.0 * len(scores), cells=cells, flags=flags or [])


def test_a_mutant_is_judged_caught_in_its_own_exercise_and_unflagged():
    mutant = Mutant("mse", "a forward mistake", [("np.mean", "np.sum")])
    caught = mutant_check("03_losses", mutant, _graded({"test_mse_forward": 0,
                                                        "test_mse_backward": 2}))
    assert caught.ok
    hole = mutant_check("03_losses", mutant, _graded({"test_mse_forward": 2,
                                                      "test_mse_backward": 2}))
    assert not hole.ok and "KEPT FULL MARKS" in hole.detail
    twice = mutant_check("03_losses", mutant, _graded({"test_mse_forward": 0,
                                                       "test_mse_backward": 0}))
    assert not twice.ok and "ONE MISTAKE COST 2 EXERCISES" in twice.detail
    suspected = mutant_check("03_losses", mutant, _graded(
        {"test_mse_forward": 0, "test_mse_backward": 2}, flags=["looks like delegation"]))
    assert not suspected.ok and "HONEST MISTAKE WAS FLAGGED" in suspected.detail


def test_what_a_student_saw_leaves_out_the_grader_s_verdicts():
    notebook = nbformat.v4.new_notebook()
    verdict = nbformat.v4.new_output("error", ename="GraderCheckFailed", evalue="x",
                                     traceback=[])
    test = nbformat.v4.new_code_cell("assert True", outputs=[verdict])
    test.metadata["nbgrader"] = {"grade_id": "t"}
    notebook.cells = [test]
    assert seen_by_student(notebook) == []
    test.outputs.append(nbformat.v4.new_output("error", ename="AssertionError",
                                               evalue="visible", traceback=[]))
    assert seen_by_student(notebook) == ["t: AssertionError: visible"]


def test_a_test_cell_is_split_into_what_students_see_and_what_is_hidden():
    visible, hidden = split_hidden("a = 1\n### BEGIN HIDDEN TESTS\nb = 2\n"
                                   "### END HIDDEN TESTS\nc = 3")
    assert (visible, hidden) == ("a = 1\nc = 3", "b = 2")
    assert split_hidden("x = 1") == ("x = 1", "")


def test_what_only_the_hidden_tests_catch_is_told_apart_from_what_students_see(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}

    def test(grade_id, source):
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True,
                                     "points": 1, "solution": False, "schema_version": 3}
        return cell

    notebook.cells = [
        nbformat.v4.new_code_cell("answer = 41"),
        test("hidden_only", "assert answer > 0\n### BEGIN HIDDEN TESTS\n"
                            "assert answer == 42, 'hidden'\n### END HIDDEN TESTS"),
        test("passes", "assert answer > 1\n### BEGIN HIDDEN TESTS\nassert answer < 100\n"
                       "### END HIDDEN TESTS"),
    ]
    path = tmp_path / "small.ipynb"
    nbformat.write(notebook, path)
    run = run_notebook(path, sandbox="none")
    assert run.score == 1 and run.max_score == 2
    assert run.seen == [], "no visible test failed: a student saw nothing"
    assert [c.grade_id for c in run.failed()] == ["hidden_only"]
    assert run.failed()[0].message == "AssertionError: hidden"
    seen = run_notebook(path, {"hidden_only": "assert answer < 0, 'visible'"}, sandbox="none")
    assert seen.seen == ["hidden_only: AssertionError: visible"]


def test_a_mistake_may_cost_one_exercise_plus_the_places_it_is_also_wrong_in():
    alone = Mutant("mse", "a forward mistake", [("np.mean", "np.sum")])
    both = Mutant("mse", "wrong in both", [("2.0", "1.0")], also=("test_mse_backward",))
    assert blamed_elsewhere(alone, ["test_mse_forward"]) == []
    assert blamed_elsewhere(alone, ["test_mse_forward", "test_mse_backward"]) == \
        ["test_mse_backward"]
    assert blamed_elsewhere(both, ["test_mse_forward", "test_mse_backward"]) == []
    assert blamed_elsewhere(both, ["test_mse_forward", "test_mse_backward", "test_train"]) == \
        ["test_train"]


@pytest.mark.parametrize("command", ["release", "collect", "grade", "flags", "feedback",
                                     "export", "report", "selfcheck", "demo"])
def test_every_subcommand_has_help(command):
    out = subprocess.run([sys.executable, "-m", "autograder", command, "--help"],
                         capture_output=True, text=True, cwd=COURSE.root, check=True).stdout
    assert out.startswith("usage: python -m autograder " + command)
