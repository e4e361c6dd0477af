"""`release` never ships a broken hidden test silently, and never re-releases silently.

* It runs the self-check (solutions full marks, blank release zero) first and
  refuses, leaving ``release/`` as it was, when a hidden test is broken.
* It warns, naming the students and the command, when grades were recorded
  with tests that have changed since (the fingerprints ``grade`` keeps; the
  demo's test checks that a real grading run keeps them).

The grades are recorded in a real gradebook from synthetic results (no
kernel); the self-check runs real kernels, on 01_graphs only, without mutants.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import nbgrader_environment, run_nbgrader
from autograder.core.results import CellGrade, GradeResult
from autograder.pipeline.grading import copy_course_skeleton
from autograder.record.fingerprints import FINGERPRINTS, record_fingerprints, stale_grades

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = load_manifest(ROOT).assignment("01_graphs")


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _source(root: Path) -> Path:
    return root / "source" / GRAPHS.name / GRAPHS.notebook_file


def _edit_test(root: Path, grade_id: str, old: str, new: str) -> None:
    notebook = nbformat.read(_source(root), as_version=4)
    cell = next(c for c in notebook.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    nbformat.write(notebook, _source(root))


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root,
                          capture_output=True, text=True, timeout=600)


def _results() -> list[GradeResult]:
    cells = [CellGrade(g, 1.0, 1.0) for g, _ in GRAPHS.tests]
    results = [GradeResult(s, GRAPHS.name, "graded", 4.0, 4.0, cells)
               for s in ("ann", "bob", "cat")]
    return [*results, GradeResult("eve", GRAPHS.name, "rejected", notes=["not a notebook"])]


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """01_graphs released; ann and bob graded with its tests, cat by plain nbgrader."""
    from autograder.record.gradebook import record_results

    root = tmp_path_factory.mktemp("released") / "course"
    with pytest.MonkeyPatch.context() as patch:
        # nbgrader creates a new gradebook with `alembic`, from this interpreter's scripts.
        patch.setenv("PATH", nbgrader_environment()["PATH"])
        copy_course_skeleton(ROOT, root, [GRAPHS])
        run_nbgrader(["generate_assignment", GRAPHS.name, "--force"], root)
        course = load_manifest(root)
        record_results(course, _results())
        record_fingerprints(course, [r for r in _results() if r.student != "cat"],
                            {GRAPHS.name: nbformat.read(_source(root), as_version=4)})
    return root


@pytest.fixture
def course_root(released, tmp_path):
    """A copy of the released course (its gradebook moves with it) for one test to change."""
    return Path(shutil.copytree(released, tmp_path / "course", symlinks=True))


def test_a_broken_test_stops_release_and_release_stays_as_it_was(course_root):
    assert stale_grades(load_manifest(course_root), GRAPHS).changed == {}
    # The instructor's typo in a check added to a test: a sign. The solution now fails it
    # in the kernel (the judge would still pass it: a student would see a failure for a
    # right answer).
    call = "checks.test_chain_rule(chain_rule_gradients)"
    _edit_test(course_root, "test_chain_rule", call,
               f"{call}\nchecks.check_close('dL/dz for the worked example', "
               "chain_rule_gradients(3.0, 4.0, -5.0, 0.5)[2], -1.5)")
    before = _digest(course_root / "release")
    run = _cli(course_root, "release", GRAPHS.name, "--workers", "2")
    assert run.returncode == 2, run.stdout + run.stderr
    # While it grades, release says how much there is to do (a bar follows on a terminal).
    assert "self-check: grading 2 notebook(s)..." in run.stderr
    assert "the self-check failed, so nothing was released" in run.stderr
    assert "FAIL" in run.stderr and "solution" in run.stderr
    assert "test_chain_rule" in run.stderr and "--skip-selfcheck" in run.stderr
    assert "released" not in run.stdout
    assert _digest(course_root / "release") == before
    # Grades were made with the test as it was: said even when the release is refused.
    assert "test_chain_rule (edited)" in run.stderr
    assert "students graded with the old tests: ann, bob" in run.stderr


def test_release_names_the_students_graded_with_tests_that_changed_since(course_root):
    course = load_manifest(course_root)
    unchanged = stale_grades(course, GRAPHS)
    assert unchanged.changed == {} and unchanged.unknown == ["cat"]

    call = "checks.test_topological_sort(topological_sort)"
    _edit_test(course_root, "test_topological_sort", call, f"{call}  # and one more graph")
    run = _cli(course_root, "release", GRAPHS.name, "--skip-selfcheck")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "released 01_graphs" in run.stdout
    assert "self-check skipped (--skip-selfcheck)" in run.stderr
    warning = run.stderr
    assert "!" * 78 in warning
    assert "WARNING: 2 grade(s) of 01_graphs were made with tests that have changed" in warning
    assert "changed test cells: test_topological_sort (edited)" in warning
    assert "students graded with the old tests: ann, bob" in warning
    assert "python -m autograder grade 01_graphs" in warning
    assert "cannot tell whether the tests changed since: cat" in warning
    assert "eve" not in warning  # rejected: no grade was made with any test
    # Regraded with the new tests: nothing to warn about any more.
    record_fingerprints(course, _results()[:2],
                        {GRAPHS.name: nbformat.read(_source(course_root), as_version=4)})
    assert stale_grades(course, GRAPHS).changed == {}
    # A regrade that is rejected holds no grade made with any test: its fingerprint goes.
    record_fingerprints(course, [GradeResult("bob", GRAPHS.name, "rejected")], {})
    kept = json.loads((course_root / FINGERPRINTS).read_text(encoding="utf-8"))
    assert sorted(kept[GRAPHS.name]) == ["ann"]
