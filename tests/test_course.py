"""The course as nbgrader sees it: manifest, notebooks, release, hidden tests.

Assignment names come from the manifest, never from this file.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from course.build import SCRIPTS, source_notebook, stale_notebooks

COURSE = load_manifest()
ASSIGNMENTS = COURSE.assignments
IDS = [a.name for a in ASSIGNMENTS]
REFRESH = "python -m course.build"


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _source(assignment):
    return nbformat.read(source_notebook(COURSE, assignment), as_version=4)


def _release_path(assignment):
    return COURSE.root / "release" / assignment.name / assignment.notebook_file


def test_manifest_lists_six_assignments_each_with_a_script_and_a_notebook():
    assert len(ASSIGNMENTS) == 6
    for assignment in ASSIGNMENTS:
        assert (COURSE.root / SCRIPTS / f"{assignment.name}.py").is_file()
        assert source_notebook(COURSE, assignment).is_file(), f"run `{REFRESH}`"
    folders = sorted(p.name for p in (COURSE.root / "source").iterdir() if p.is_dir())
    assert folders == sorted(IDS), "source/ holds folders the manifest does not list"


def test_committed_notebooks_match_their_scripts():
    problems = stale_notebooks(COURSE)
    assert not problems, f"{problems}: run `{REFRESH}` and commit the result"


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_points_add_up_to_the_manifest(assignment):
    notebook = _source(assignment)
    points = sum(_nbgrader(c).get("points", 0) for c in notebook.cells if _nbgrader(c).get("grade"))
    assert points == assignment.points


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_every_exercise_is_followed_by_a_graded_test_with_hidden_tests(assignment):
    cells = _source(assignment).cells
    solutions = [i for i, c in enumerate(cells) if _nbgrader(c).get("solution")]
    assert solutions, "an assignment without exercises"
    for index in solutions:
        following = [c for c in cells[index + 1:] if _nbgrader(c)]
        assert following and _nbgrader(following[0]).get("grade"), (
            f"solution cell {_nbgrader(cells[index])['grade_id']} is not followed by a test cell")
    for cell in cells:
        if _nbgrader(cell).get("grade"):
            # The visible part ends with the judge's own questions; nothing is hidden
            # but the note that the judge grades (autograder/judge).
            grade_id = _nbgrader(cell)["grade_id"]
            visible, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
            assert f"checks.as_graded({grade_id!r}, globals())" in visible, grade_id
            assert "Graded by the judge" in hidden and "checks." not in hidden, grade_id


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_test_cells_end_in_a_statement_so_nbgrader_gives_all_or_nothing(assignment):
    for cell in _source(assignment).cells:
        if _nbgrader(cell).get("grade"):
            tree = ast.parse(cell.source)
            last = tree.body[-1]
            assert not (isinstance(last, ast.Expr) and not isinstance(last.value, ast.Call)), (
                f"{_nbgrader(cell)['grade_id']} ends in an expression: nbgrader would read its "
                "value as partial credit")


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_source_notebooks_were_run_and_raised_nothing(assignment):
    for cell in _source(assignment).cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None, f"run `{REFRESH}`"
            errors = [o for o in cell.outputs if o.output_type == "error"
                      or (o.output_type == "stream" and o.name == "stderr")]
            assert not errors, f"{cell.get('id')}: {errors}"


# -- the release ---------------------------------------------------------------


def _solution_lines(notebook) -> set[str]:
    """Every non-trivial line between the solution and hidden-test markers."""
    lines = set()
    for cell in notebook.cells:
        for begin, end in (("### BEGIN SOLUTION", "### END SOLUTION"),
                           ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")):
            for block in re.findall(re.escape(begin) + r"(.*?)" + re.escape(end), cell.source,
                                    flags=re.DOTALL):
                lines.update(line.strip() for line in block.splitlines()
                             if len(line.strip()) > 12 and not line.strip().startswith("#"))
    return lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_release_contains_no_solution_or_hidden_test(assignment):
    release = nbformat.read(_release_path(assignment), as_version=4)
    secret = _solution_lines(_source(assignment))
    assert secret
    # Lines that also appear outside the secret regions (given code, visible
    # tests) are not secret.
    public = set()
    for cell in _source(assignment).cells:
        text = re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END (SOLUTION|HIDDEN TESTS)", "",
                      cell.source, flags=re.DOTALL)
        public.update(line.strip() for line in text.splitlines())
    secret -= public
    for cell in release.cells:
        assert "BEGIN SOLUTION" not in cell.source and "HIDDEN TESTS" not in cell.source
        assert not cell.get("outputs"), "release notebooks must not carry outputs"
        shown = {line.strip() for line in cell.source.splitlines()}
        leaked = sorted(secret & shown)
        assert not leaked, f"{assignment.name}: release shows solution/hidden lines {leaked}"


def test_committed_release_matches_a_fresh_generate_assignment(tmp_path):
    import warnings

    from autograder.record.nbgrader_api import copy_course_skeleton, nbgrader_api

    copy_course_skeleton(COURSE.root, tmp_path, ASSIGNMENTS)
    api = nbgrader_api(tmp_path)
    stale = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's SQLAlchemy notes
        for assignment in ASSIGNMENTS:
            outcome = api.generate_assignment(assignment.name, force=True, create=True)
            assert outcome["success"], outcome.get("error")
            fresh = (tmp_path / "release" / assignment.name / assignment.notebook_file)
            committed = _release_path(assignment)
            if not committed.is_file() or committed.read_bytes() != fresh.read_bytes():
                stale.append(assignment.name)
    assert not stale, (f"release/ is stale for {', '.join(stale)}: run `{REFRESH} "
                       f"{' '.join(stale)}` (or `python -m autograder release`) and commit")


def _validate(args):
    """nbgrader validate, as the Validate button in JupyterLab runs it, from the course root."""
    result = run_nbgrader(["validate", *args], COURSE.root, check=False)
    text = result.stdout + result.stderr
    verdicts = re.findall(r"Validating '([^']+)'", text)
    return result, text, verdicts


def test_nbgrader_validate_passes_every_solution():
    notebooks = [str(source_notebook(COURSE, a)) for a in ASSIGNMENTS]
    result, text, verdicts = _validate(notebooks)
    assert result.returncode == 0 and len(verdicts) == len(ASSIGNMENTS), text[-2000:]
    assert text.count("Success! Your notebook passes all the tests.") == len(ASSIGNMENTS), (
        text[-3000:])


def test_nbgrader_validate_invert_fails_every_test_of_the_blank_release():
    notebooks = [str(_release_path(a)) for a in ASSIGNMENTS]
    result, text, verdicts = _validate(["--invert", *notebooks])
    assert result.returncode == 0 and len(verdicts) == len(ASSIGNMENTS), text[-2000:]
    assert text.count("Success! The notebook does not pass any tests.") == len(ASSIGNMENTS), (
        text[-3000:])
