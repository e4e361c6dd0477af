"""The class report measures an objective by the checks that isolate it, graded for real.

Three submissions of "Layers" (the solution, and two of the self-check's mutants:
a transposed weight gradient and a bias gradient not summed over the batch) are
graded with ``grade`` (kernels, the judge, the gradebook, results.json); the
report's objectives are read back through ``load_results``. The transposed
weight gradient costs "implement a batched fully connected layer and its three
gradients" and not "explain why a bias gradient sums over the batch"; the bias
mistake costs both.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from autograder.author.demo import with_mutant
from autograder.author.mutants import load_mutants
from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.core.results import CHECK_PASSED
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.publish.report import summarise, write_report

ROOT = Path(__file__).resolve().parents[1]
LAYERS = load_manifest(ROOT).assignment("02_layers")
MUTANTS = {"transposed": "dW = G^T X (transposed, shape (n_out, n_in))",
           "unsummed": "bias gradient not summed over the batch"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    copy_course_skeleton(ROOT, root, [LAYERS])
    run_nbgrader(["generate_assignment", LAYERS.name, "--force"], root)
    solution = root / "source" / LAYERS.name / LAYERS.notebook_file
    mutants = {m.description: m for m in load_mutants(LAYERS.name)}
    class_ = {"solved": nbformat.read(solution, as_version=4)}
    for student, description in MUTANTS.items():
        class_[student] = with_mutant(solution, mutants[description].cell,
                                      mutants[description].source)
    for student, notebook in class_.items():
        folder = root / "submitted" / student / LAYERS.name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / LAYERS.notebook_file)
    course = load_manifest(root)
    results = {r.student: r for r in grade(course, [LAYERS], students=None, workers=2)}
    return course, results


def test_a_transposed_weight_gradient_does_not_cost_the_bias_objective(graded):
    course, results = graded
    assert results["solved"].score == 10
    (info,) = summarise(course)  # through the gradebook and results.json
    met = {o.number: sorted(o.met_by) for o in info.objectives if o.number}
    assert met[1] == ["solved"]                 # the layer and its three gradients
    assert met[2] == ["solved", "transposed"]   # why a bias gradient sums over the batch
    assert met[3] == ["solved", "transposed", "unsummed"]  # the sigmoid
    # the grade is the cell's, whole: the transposed dW lost test_linear_backward
    cells = {c.grade_id: c for c in results["transposed"].cells}
    backward = cells["test_linear_backward"]
    assert backward.score == 0 and backward.checks["b_sum"] == CHECK_PASSED
    assert backward.checks["W"] != CHECK_PASSED
    unsummed = {c.grade_id: c for c in results["unsummed"].cells}["test_linear_backward"]
    assert unsummed.checks["b_sum"] == unsummed.checks["b"] == "kept_batch_axis"
    stored = json.loads((course.root / "autograded" / "results.json").read_text())
    assert any(c.get("checks") for r in stored for c in r["cells"])


def test_the_page_says_how_each_objective_is_measured(graded):
    course, _ = graded
    page = write_report(course).read_text(encoding="utf-8")
    assert "<th>measured by</th>" in page
    assert "test_linear_backward (check b_sum)" in page
    assert "test_linear_forward, test_linear_backward (checks X, W, b)" in page
    assert "1 of 3 (33%)" in page and "2 of 3 (67%)" in page
