"""The visible test cells (issue 31): every comparison goes through a named check, so a
failure is diagnosed, never a bare table of numbers; and a cell stays short, so that
nbgrader's Validate dialog shows little code."""

from __future__ import annotations

import runpy

import pytest

from autograder.core.manifest import load_manifest

COURSE = load_manifest()
#: The visible part of a test cell, without the lines the builder adds (the judge's call):
#: a comment or two, the import, and the call of the cell's named check.
MOST_LINES = 6
#: What nbgrader validate shows of a line on the command line, and Validate's dialog.
MOST_CHARACTERS = 90


def _test_cells(assignment: str) -> list[tuple[str, str]]:
    script = COURSE.root / "course" / "notebooks" / f"{assignment}.py"
    builder = runpy.run_path(str(script))["notebook"]
    cells = []
    for cell in builder.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            visible = cell.source.split("# The grader's own questions")[0]
            cells.append((meta["grade_id"], visible))
    return cells


@pytest.mark.parametrize("assignment", [a.name for a in COURSE.assignments])
def test_no_test_cell_compares_with_a_bare_numpy_assertion(assignment):
    for grade_id, visible in _test_cells(assignment):
        for bare in ("np.testing.assert_allclose", "np.testing.assert_array_equal"):
            assert bare not in visible, (f"{assignment}/{grade_id} calls {bare}: use "
                                         "checks.check_close, whose failure is diagnosed")


@pytest.mark.parametrize("assignment", [a.name for a in COURSE.assignments])
def test_test_cells_are_short(assignment):
    for grade_id, visible in _test_cells(assignment):
        lines = [line for line in visible.splitlines() if line.strip()]
        assert len(lines) <= MOST_LINES, (
            f"{assignment}/{grade_id} has {len(lines)} lines: move its checks into "
            f"autograder/checks/cells/ as checks.{grade_id}")
        wide = [line for line in lines if len(line) > MOST_CHARACTERS]
        assert not wide, f"{assignment}/{grade_id}: lines over {MOST_CHARACTERS}: {wide}"


@pytest.mark.parametrize("assignment", [a.name for a in COURSE.assignments])
def test_each_test_cell_calls_the_named_check_of_its_exercise(assignment):
    """The cell's work is ``checks.<grade_id>(...)``, whose docstring says what it asks
    (a student reads it with ``checks.test_x?``)."""
    from autograder import checks

    for grade_id, visible in _test_cells(assignment):
        assert f"checks.{grade_id}(" in visible, f"{assignment}/{grade_id}"
        named = getattr(checks, grade_id)
        assert named.__module__.startswith("autograder.checks.cells."), named.__module__
        assert len((named.__doc__ or "").split()) >= 10, f"checks.{grade_id} says too little"
