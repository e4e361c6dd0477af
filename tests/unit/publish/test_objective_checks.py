"""An objective measured by the checks that isolate it (issue: "a report that teaches").

Without a kernel: synthetic results of 02_layers whose ``test_linear_backward``
lost its points to one check or another, read by ``summarise``; the judge's
verdict carried through the graded notebook into the result
(``apply_verdicts``, ``score_notebook``) and results.json; and the manifest's
``checks`` tables, read and refused.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.core.manifest import ManifestError, load_manifest
from autograder.core.results import CHECK_PASSED, CellGrade, GradeResult
from autograder.pipeline.grading import copy_course_skeleton
from autograder.publish.objectives import measured_by, shortfalls
from autograder.publish.report import summarise

ROOT = Path(__file__).resolve().parents[3]
COURSE = load_manifest(ROOT)
LAYERS = COURSE.assignment("02_layers")
POINTS = {"test_linear_forward": 2.0, "test_linear_backward": 4.0,
          "test_sigmoid_forward": 2.0, "test_sigmoid_backward": 2.0}
BACKWARD = "test_linear_backward"
PASSED = CHECK_PASSED


def _result(student: str, checks: dict[str, str] | None = None, mistake: str = "",
            lost: bool = True) -> GradeResult:
    """A 02_layers result, as results.json holds it, whose linear backward lost its points
    (``mistake``) with the judge's ``checks`` (none: a record plain nbgrader made)."""
    cells = [CellGrade(g, 0.0 if lost and g == BACKWARD else p, p,
                       f"GraderCheckFailed: Linear backward: {mistake}" if lost and g == BACKWARD
                       else "", mistake if lost and g == BACKWARD else "",
                       dict(checks or {}) if lost and g == BACKWARD else {})
             for g, p in POINTS.items()]
    result = GradeResult(student, LAYERS.name, "graded", sum(c.score for c in cells), 10.0,
                         cells)
    return GradeResult.from_dict(json.loads(json.dumps(result.to_dict())))


def _objectives(course, *results: GradeResult) -> dict[int, object]:
    (info,) = summarise(course, {(r.assignment, r.student): r for r in results})
    return {o.number: o for o in info.objectives}


TRANSPOSED_DW = {"X": PASSED, "W": "transposed", "b": PASSED, "b_sum": PASSED}
UNSUMMED_B = {"X": PASSED, "W": PASSED, "b": "kept_batch_axis", "b_sum": "kept_batch_axis"}
OVERWRITES = {"X": "half", "W": "half", "b": "half", "b_sum": PASSED}


def test_a_transpose_in_dw_does_not_count_against_the_bias_objective():
    objectives = _objectives(COURSE, _result("tom", TRANSPOSED_DW, "raised"))
    assert objectives[2].met_by == ["tom"]      # why a bias gradient sums over the batch
    assert objectives[1].met_by == []           # the layer and its three gradients
    assert objectives[3].met_by == ["tom"]      # the sigmoid: other cells
    # the mistake that cost objective 1 is the check's (the transpose), not the cell's
    # first failure (the error a transposed dW raised on other shapes)
    assert [(m.kind, m.label, m.students, m.cells) for m in objectives[1].mistakes] == [
        ("code", "the transpose of the right answer", ["tom"], [BACKWARD])]
    assert objectives[1].mistakes[0].example == ""  # the cell's message is another mistake's
    assert objectives[2].mistakes == []


def test_a_bias_not_summed_over_the_batch_costs_both_objectives_with_its_example():
    objectives = _objectives(COURSE, _result("uma", UNSUMMED_B, "kept_batch_axis"))
    assert objectives[1].met_by == objectives[2].met_by == []
    (mistake,) = objectives[2].mistakes
    assert (mistake.kind, mistake.label) == ("code", "a gradient not summed over the batch")
    assert mistake.example == "GraderCheckFailed: Linear backward: kept_batch_axis"


def test_an_overwrite_over_consumers_is_not_a_bias_sum_mistake():
    objectives = _objectives(COURSE, _result("ola", OVERWRITES, "half"))
    assert objectives[2].met_by == ["ola"] and objectives[1].met_by == []


@pytest.mark.parametrize("checks", [
    None,                                     # plain nbgrader, an earlier grader: no checks
    dict.fromkeys(TRANSPOSED_DW, PASSED),     # lost for a reason no check names
    {"X": PASSED, "W": "transposed"},         # the objective's check not recorded
])
def test_a_cell_whose_checks_do_not_say_counts_whole(checks):
    objectives = _objectives(COURSE, _result("val", checks, "raised"))
    assert objectives[1].met_by == objectives[2].met_by == []
    assert [m.label for m in objectives[2].mistakes] == ["the code raised an error"]


def test_full_marks_meet_every_objective_whatever_the_checks_said():
    # an instructor gave the cell full marks since (formgrader): it lost nothing
    result = _result("wes", TRANSPOSED_DW, "raised", lost=False)
    objectives = _objectives(COURSE, result)
    assert all(objectives[n].met_by == ["wes"] for n in (1, 2, 3))


def test_without_a_checks_table_the_whole_cell_counts_as_before():
    whole = dataclasses.replace(LAYERS, checks=())
    course = dataclasses.replace(COURSE, assignments=(whole,))
    objectives = _objectives(course, _result("tom", TRANSPOSED_DW, "raised"))
    assert objectives[1].met_by == objectives[2].met_by == []
    assert measured_by(whole, 2) == (BACKWARD,)


def test_the_report_says_how_each_objective_is_measured():
    objectives = _objectives(COURSE, _result("tom", TRANSPOSED_DW, "raised"))
    assert objectives[1].measures == ("test_linear_forward",
                                      "test_linear_backward (checks X, W, b)")
    assert objectives[2].measures == ("test_linear_backward (check b_sum)",)
    assert objectives[3].measures == ("test_sigmoid_forward", "test_sigmoid_backward")


def test_a_cell_that_never_ran_meets_nothing_and_names_no_mistake():
    cells = {c.grade_id: c for c in _result("xia", TRANSPOSED_DW, "raised").cells
             if c.grade_id != BACKWARD}
    (absent,) = shortfalls(LAYERS, 2, cells)
    assert (absent.grade_id, absent.cell) == (BACKWARD, None)
    assert shortfalls(LAYERS, 3, cells) == []
    # the other cells of the objective still name their mistakes
    cells["test_linear_forward"] = CellGrade("test_linear_forward", 0.0, 2.0, "", "row_offset")
    result = GradeResult("xia", LAYERS.name, "graded", 4.0, 10.0, list(cells.values()))
    objectives = _objectives(COURSE, result)
    assert objectives[1].met_by == []
    assert [m.label for m in objectives[1].mistakes] == [
        "off by the same amounts in every row: a bias missing or doubled"]


# -- from the judge's verdict to the result --------------------------------------------------


def _executed(verdict) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """A source notebook of one graded test cell, and that cell as the judge left it."""
    from autograder.judge.verdict import apply_verdicts

    test = new_code_cell("checks.as_graded('test_linear_backward', globals())", metadata={
        "nbgrader": {"grade": True, "grade_id": BACKWARD, "points": 4, "solution": False,
                     "locked": True}})
    executed = new_notebook(cells=[nbformat.from_dict(json.loads(json.dumps(test)))])
    apply_verdicts(executed.cells, {BACKWARD: verdict})
    return new_notebook(cells=[test]), executed


def test_the_judge_s_check_outcomes_reach_the_graded_cell_and_results_json():
    from autograder.judge.verdict import Verdict
    from autograder.pipeline.score import score_notebook

    source, executed = _executed(Verdict(BACKWARD, "raised", "Linear backward: raised "
                                         "ValueError", "raised", tuple(TRANSPOSED_DW.items())))
    (cell,), _, _ = score_notebook(executed, source)
    assert (cell.score, cell.mistake, cell.checks) == (0.0, "raised", TRANSPOSED_DW)
    assert cell.to_dict()["checks"] == TRANSPOSED_DW
    assert CellGrade.from_dict(cell.to_dict()) == cell
    # a cell without checks is written as it always was
    assert "checks" not in CellGrade(BACKWARD, 0.0, 4.0, "", "raised").to_dict()
    # a passed verdict records none
    source, executed = _executed(Verdict(BACKWARD, "passed", checks=tuple(
        dict.fromkeys(TRANSPOSED_DW, PASSED).items())))
    (cell,), _, _ = score_notebook(executed, source)
    assert cell.score == 4.0 and cell.checks == {}


def test_a_cell_the_review_zeroed_keeps_no_checks():
    from types import SimpleNamespace

    from autograder.judge.verdict import Verdict
    from autograder.pipeline.score import result_from

    source, executed = _executed(Verdict(BACKWARD, "wrong", "Linear backward: wrong", "half",
                                         tuple(OVERWRITES.items())))
    task = {"assignment": {"name": LAYERS.name, "points": 4.0}, "student": "yan",
            "notes": [], "sandbox": "none"}
    answer = {"executed": nbformat.writes(executed), "success": True}
    kept = result_from(task, answer, source, None)
    assert kept.cells[0].checks == OVERWRITES
    review = SimpleNamespace(zeroed={BACKWARD: "the answer is miniflow's own Linear"},
                             lines=lambda: [])
    (cell,) = result_from(task, answer, source, None, review).cells
    assert (cell.mistake, cell.checks) == ("zeroed_by_review", {})


# -- the manifest's checks tables ------------------------------------------------------------


def _manifest(tmp_path: Path, old: str, new: str):
    copy_course_skeleton(ROOT, tmp_path, [LAYERS])
    manifest = tmp_path / "course" / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    assert old in text
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


LINE = ("test_linear_backward = { objectives = [1, 2], checks = { X = [1], W = [1], b = [1], "
        "b_sum = [2] } }")


def test_the_list_form_still_maps_a_whole_cell(tmp_path):
    course = load_manifest(_manifest(tmp_path, LINE, "test_linear_backward = [1, 2]"))
    layers = course.assignment(LAYERS.name)
    assert layers.objectives_of(BACKWARD) == (1, 2)
    assert layers.checks_of(BACKWARD) == {} and layers.isolating(BACKWARD, 2) == ()


@pytest.mark.parametrize("new, words", [
    ("test_linear_backward = { objectives = [1, 2], checks = { b_sum = [3] } }",
     ["check 'b_sum' = [3]", "isolates some of its cell's objectives ([1, 2])"]),
    ("test_linear_backward = { objectives = [1, 2], checks = {} }", ["checks = {}"]),
    ("test_linear_backward = { objectives = [1, 2], check = { b = [2] } }",
     ["objectives = [1, 3], checks = { b = [3] }"]),
    ("test_linear_backward = { checks = { b = [2] } }", ["counted from 1"]),
])
def test_a_check_map_that_does_not_fit_its_cell_is_refused_with_the_fix(tmp_path, new, words):
    with pytest.raises(ManifestError) as error:
        load_manifest(_manifest(tmp_path, LINE, new))
    for word in ["02_layers", "'test_linear_backward'", *words]:
        assert word in str(error.value)
