"""Real grading with nbgrader in a temporary course folder.

One class of awkward submissions to the first assignment is graded once (in
parallel, as instructors run it) and every test below reads that run:
solutions get full marks, blanks zero, edited and deleted test cells are
handled, a hanging cell and a dying kernel are contained, submitted files
are never modified, regrading gives the same score, and feedback never
shows hidden tests.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import nbformat
import pytest

from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.publish.feedback import write_feedback
from autograder.publish.report import write_report

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_manifest(ROOT)
FIRST = COURSE.assignments[0]
CELL_TIMEOUT = "5"


def _grade_ids(notebook, *, solution=None, grade=None):
    return [c.metadata.nbgrader["grade_id"] for c in notebook.cells
            if "nbgrader" in c.metadata
            and (solution is None or c.metadata.nbgrader.get("solution") == solution)
            and (grade is None or c.metadata.nbgrader.get("grade") == grade)]


def _edit(notebook, grade_id, source):
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return
    raise KeyError(grade_id)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def short_cell_timeout():
    """A short per-cell timeout for these tests only (the hanging cell waits for it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIFLOW_CELL_TIMEOUT", CELL_TIMEOUT)
        yield


@pytest.fixture(scope="module")
def graded(tmp_path_factory, short_cell_timeout):
    root = tmp_path_factory.mktemp("course")
    copy_course_skeleton(ROOT, root, [FIRST])
    run_nbgrader(["generate_assignment", FIRST.name, "--force"], root)
    source = nbformat.read(root / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
    release = nbformat.read(root / "release" / FIRST.name / FIRST.notebook_file, as_version=4)
    tests = _grade_ids(source, grade=True)
    solutions = _grade_ids(source, solution=True)

    class_ = {"solution": source, "blank": release}
    # Edits a test cell to pass, with a wrong answer above it: nbgrader restores the test.
    cheat = nbformat.from_dict(source)
    _edit(cheat, solutions[0], "def chain_rule_gradients(x, y, z, upstream):\n"
                               "    return 0.0, 0.0, 0.0")
    _edit(cheat, tests[0], "pass")
    class_["cheater"] = cheat
    # Deletes a graded test cell.
    deleter = nbformat.from_dict(source)
    deleter.cells = [c for c in deleter.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") != tests[-1]]
    class_["deleter"] = deleter
    # A cell that never finishes, early in the notebook; a cell printing megabytes.
    hang = nbformat.from_dict(source)
    hang.cells.insert(3, nbformat.v4.new_code_cell("while True:\n    pass"))
    hang.cells.insert(4, nbformat.v4.new_code_cell("print('x' * 3_000_000)"))
    class_["hanger"] = hang
    # An answer that never returns, called from a test cell.
    looper = nbformat.from_dict(source)
    _edit(looper, "topological_sort", "def topological_sort(feed_dict):\n"
                                      "    order = []\n    while len(order) < 1:\n"
                                      "        pass\n    return order")
    class_["looper"] = looper
    # A kernel that dies half way.
    dies = nbformat.from_dict(source)
    dies.cells.insert(len(dies.cells) // 2, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    class_["exiter"] = dies
    for student, notebook in class_.items():
        folder = root / "submitted" / student / FIRST.name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / FIRST.notebook_file)
    (root / "submitted" / "garbage" / FIRST.name).mkdir(parents=True)
    (root / "submitted" / "garbage" / FIRST.name / FIRST.notebook_file).write_text("{oops")

    before = _digest(root / "submitted")
    course = load_manifest(root)
    results = {r.student: r for r in grade(course, [FIRST], students=None, workers=2)}
    after = _digest(root / "submitted")
    regrade = grade(course, [FIRST], students=["solution", "cheater"], workers=1)
    return {"root": root, "course": course, "results": results, "before": before,
            "after": after, "regrade": {r.student: r for r in regrade}, "tests": tests,
            "source": source}


def test_solution_scores_full_marks(graded):
    result = graded["results"]["solution"]
    assert result.status == "graded"
    assert result.score == result.max_score == FIRST.points


def test_blank_release_scores_zero_without_grader_errors(graded):
    result = graded["results"]["blank"]
    assert result.status == "graded" and result.score == 0
    assert not result.notes
    assert all(c.message for c in result.cells), "each failing cell says why"


def test_edited_test_cell_is_restored_by_nbgrader(graded):
    result = graded["results"]["cheater"]
    first_test = next(c for c in result.cells if c.grade_id == graded["tests"][0])
    assert first_test.score == 0, "the edited test cell must run as written by the instructor"
    assert result.score == FIRST.points - first_test.max_score


def test_deleted_test_cell_is_restored_and_graded_as_usual_with_a_note(graded):
    # One policy on both paths: plain nbgrader grades the restored test, and so do we.
    result = graded["results"]["deleter"]
    assert result.status == "graded"
    restored = next(c for c in result.cells if c.grade_id == graded["tests"][-1])
    assert restored.score == restored.max_score, "the restored test runs against the answer"
    assert any("deleted" in n and "restored" in n for n in result.notes)
    assert result.score == FIRST.points


def test_hanging_cell_is_interrupted_and_the_rest_still_runs(graded):
    result = graded["results"]["hanger"]
    assert result.status == "graded"
    assert result.score == FIRST.points, "tests after the hanging cell still pass"


def test_a_test_cell_that_times_out_is_named_with_the_likely_cause(graded):
    result = graded["results"]["looper"]
    stopped = next(c for c in result.cells if c.grade_id == "test_topological_sort")
    assert stopped.score == 0
    assert stopped.message.startswith("TimeoutError: this cell (test_topological_sort) ran for "
                                      f"more than {CELL_TIMEOUT} s")
    assert "loop that never ends" in stopped.message
    assert result.score == FIRST.points - stopped.max_score, "only that exercise is lost"


def test_dying_kernel_keeps_what_ran_and_grades_the_rest_in_a_fresh_kernel(graded):
    result = graded["results"]["exiter"]
    assert result.status == "graded"
    # The os._exit cell is no test: the tests before it passed in the first kernel,
    # the tests after it in a fresh one that re-ran the cells before it.
    assert result.score == FIRST.points, [c.message for c in result.cells]
    assert len(result.kernel_deaths) == 1 and result.kernel_deaths[0].restarted
    assert "os._exit()" in result.kernel_deaths[0].reason
    assert any("graded in a fresh kernel" in n for n in result.notes)
    assert graded["results"]["solution"].score == FIRST.points, "the others are graded"


def test_unreadable_notebook_is_rejected_with_a_reason(graded):
    result = graded["results"]["garbage"]
    assert result.status == "rejected" and "not valid JSON" in result.notes[-1]


def test_submitted_files_are_never_modified(graded):
    assert graded["before"] == graded["after"]


def test_regrading_gives_the_same_scores(graded):
    for student, again in graded["regrade"].items():
        first = graded["results"][student]
        assert (again.score, [c.score for c in again.cells]) == \
            (first.score, [c.score for c in first.cells])


def test_grades_reach_the_course_gradebook_and_export(graded):
    root = graded["root"]
    run_nbgrader(["export", "--to", str(root / "grades.csv")], root)
    rows = (root / "grades.csv").read_text().splitlines()
    solution_row = next(r for r in rows if ",solution," in r)
    assert f",{FIRST.points:g}," in solution_row or f",{FIRST.points}," in solution_row


def _hidden_lines(source) -> set[str]:
    """Lines of the hidden tests that students cannot read in their own notebook."""
    lines = set()
    public = "\n".join(re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", cell.source,
                              flags=re.DOTALL) for cell in source.cells)
    for cell in source.cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source,
                                flags=re.DOTALL):
            lines.update(line.strip() for line in block.splitlines()
                         if len(line.strip()) > 8 and line.strip() not in public)
    return lines


def test_feedback_shows_scores_and_messages_but_no_hidden_test(graded):
    course = graded["course"]
    pages = write_feedback(course, (FIRST,))
    by_student = {p.parent.parent.name: p.read_text() for p in pages}
    assert {"solution", "blank", "cheater"} <= set(by_student)
    hidden = _hidden_lines(graded["source"])
    assert hidden
    for student, page in by_student.items():
        assert "HIDDEN TESTS" not in page
        leaked = [line for line in hidden if line in page]
        assert not leaked, f"feedback for {student} shows hidden test lines: {leaked}"
        assert "Traceback" not in page
    blank = by_student["blank"]
    assert f"Score: <b>0 / {FIRST.points:g}</b>" in blank
    assert "NotImplementedError" in blank


def test_class_report_summarises_scores_cells_and_messages(graded):
    page = write_report(graded["course"]).read_text()
    assert "data:image/png;base64," in page
    assert "Most frequent diagnostic messages" in page
    assert "garbage" in page and "not valid JSON" in page


def test_the_course_gradebook_holds_exactly_the_graded_submissions(graded):
    from nbgrader.api import Gradebook

    from autograder.record.database import db_url

    course = graded["course"]
    graded_students = sorted(s for s, r in graded["results"].items() if r.status == "graded")
    assert "garbage" not in graded_students
    with Gradebook(db_url(course)) as gradebook:
        recorded = sorted(s.student.id for s in gradebook.assignment_submissions(FIRST.name))
        solution = gradebook.find_submission(FIRST.name, "solution").score
    assert recorded == graded_students
    assert solution == FIRST.points


def test_feedback_shows_student_html_as_text_never_as_markup():
    from autograder.publish.feedback import markdown_html, outputs_html

    page = markdown_html("# My answer <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>")
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "<h1>" in page
    cell = nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": 'x" onerror="alert(1)'}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0K\nGgo="}),
    ])
    shown = outputs_html(cell)
    assert "onerror" not in shown
    assert shown.count("<img") == 1 and "base64,iVBORw0KGgo=" in shown


def test_grading_reports_the_total_first_then_each_result(tmp_path):
    copy_course_skeleton(ROOT, tmp_path, [FIRST])
    for student in ("ann", "bob"):
        folder = tmp_path / "submitted" / student / FIRST.name
        folder.mkdir(parents=True)
        (folder / FIRST.notebook_file).write_text("not a notebook", encoding="utf-8")
    events = []
    results = grade(load_manifest(tmp_path), [FIRST], students=None, workers=1, record=False,
                    on_start=lambda total: events.append(("start", total)),
                    on_result=lambda result: events.append(("result", result.student)))
    assert events == [("start", 2), ("result", "ann"), ("result", "bob")]
    assert [r.status for r in results] == ["rejected", "rejected"]


def test_an_assignment_the_gradebook_does_not_know_is_registered_in_process(tmp_path,
                                                                           monkeypatch):
    """Grading before `release` (or after the gradebook was deleted): the assignment is
    generated into the course's gradebook in this process, without a 3 s nbgrader run."""
    from nbgrader.api import Gradebook

    from autograder.core import nbgrader_cli
    from autograder.record import database

    root = tmp_path / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    course = load_manifest(root)

    def no_command(*args, **kwargs):
        raise AssertionError(f"nbgrader was run as a command: {args}")

    monkeypatch.setattr(nbgrader_cli, "run_nbgrader", no_command)
    assert not hasattr(database, "run_nbgrader")  # the gradebook runs no command at all
    database.ensure_in_gradebook(course, FIRST.name)
    source = nbformat.read(root / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
    with Gradebook(database.db_url(course)) as book:
        notebooks = book.find_assignment(FIRST.name).notebooks
        tests = sorted(cell.name for notebook in notebooks for cell in notebook.grade_cells)
    assert tests == sorted(_grade_ids(source, grade=True))
    assert sorted(p.name for p in root.iterdir()) == [
        "course", "gradebook.db", "nbgrader_config.py", "source"]  # nothing else written
    # A source nbgrader cannot generate: an error in its own words.
    broken = load_manifest(root).assignments[1]
    (root / "source" / broken.name).mkdir(parents=True)
    (root / "source" / broken.name / broken.notebook_file).write_text("{oops")
    with pytest.raises(RuntimeError) as refused:
        database.ensure_in_gradebook(course, broken.name)
    said = str(refused.value)
    assert said.startswith(f"nbgrader could not generate the assignment {broken.name}: "
                           f"There was an error processing assignment: source/{broken.name}")
    assert "Notebook does not appear to be JSON: '{oops'" in said and str(tmp_path) not in said
