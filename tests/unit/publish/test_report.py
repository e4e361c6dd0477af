"""The class report and the objective map it is built on.

Results are built without running a kernel: the checks' real messages (made
by calling ``autograder.checks`` on wrong answers) in synthetic results, read
by ``summarise``, by ``write_report`` through ``load_results`` (patched), and
once through a real gradebook written by ``record_results``. The demo's test
(tests/test_demo.py) reads the report of a class graded for real.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from autograder import checks
from autograder.core.manifest import ManifestError, load_manifest, objective_problems
from autograder.core.results import CellGrade, GradeResult
from autograder.pipeline.grading import copy_course_skeleton
from autograder.publish import report as report_module
from autograder.publish.report import mistake_key, summarise, write_report

ROOT = Path(__file__).resolve().parents[3]
COURSE = load_manifest(ROOT)
GRAPHS = COURSE.assignment("01_graphs")
POINTS = {"test_chain_rule": 2.0, "test_mul_forward": 2.0, "test_mul_backward": 3.0,
          "test_topological_sort": 3.0}


# -- the objective map ---------------------------------------------------------------


def test_every_graded_test_cell_of_every_source_notebook_assesses_a_known_objective():
    from autograder.judge.plans import checks_for

    assert objective_problems(COURSE) == []
    for assignment in COURSE.assignments:
        for grade_id, numbers in assignment.tests:
            assert numbers, f"{assignment.name}/{grade_id} assesses no objective"
            assert all(1 <= n <= len(assignment.objectives) for n in numbers)
        # A cell's checks table maps exactly the checks the judge's plan names for it,
        # each to some of the cell's own objectives.
        named = checks_for(assignment.name)
        for grade_id, mapped in assignment.checks:
            where = f"{assignment.name}/{grade_id}"
            assert set(dict(mapped)) == set(named.get(grade_id, ())), where
            assert all(set(n) <= set(assignment.objectives_of(grade_id)) for _, n in mapped)
    # where a cell mixes objectives, its checks isolate them
    assert COURSE.assignment("02_layers").isolating("test_linear_backward", 2) == ("b_sum",)
    assert COURSE.assignment("01_graphs").isolating("test_mul_backward", 2) == (
        "two_inputs", "same_input_twice")


def _course_with_manifest(tmp_path: Path, edit) -> Path:
    copy_course_skeleton(ROOT, tmp_path, [GRAPHS])
    manifest = tmp_path / "course" / "manifest.toml"
    manifest.write_text(edit(manifest.read_text(encoding="utf-8")), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("mapping, words", [
    ("test_topological_sort = [5]", ["'test_topological_sort'", "objective 5",
                                     "has 4 objective(s)", "4: order a graph"]),
    ("test_topological_sort = [0, 4]", ["objective 0", "has 4 objective(s)"]),
    ('test_topological_sort = "Kahn"', ["'test_topological_sort' = 'Kahn'",
                                        "counted from 1", "test_topological_sort = [1]"]),
    ("test_topological_sort = []", ["'test_topological_sort' = []", "counted from 1"]),
])
def test_an_objective_the_assignment_does_not_have_is_refused_with_the_fix(
        tmp_path, mapping, words):
    root = _course_with_manifest(
        tmp_path, lambda text: text.replace("test_topological_sort = [4]", mapping, 1))
    with pytest.raises(ManifestError) as error:
        load_manifest(root)
    for word in ["01_graphs", *words]:
        assert word in str(error.value)


def test_unmapped_and_unknown_test_cells_are_named_against_the_source_notebook(tmp_path):
    root = _course_with_manifest(tmp_path, lambda text: text.replace(
        "test_topological_sort = [4]", "test_topological_sorting = [4]", 1))
    course = load_manifest(root)
    problems = objective_problems(course, (course.assignment(GRAPHS.name),))
    assert len(problems) == 2, problems
    assert "test_topological_sort assess no objective" in problems[0]
    assert "test_topological_sort = [1]" in problems[0]
    assert "names test_topological_sorting" in problems[1]
    assert "source/01_graphs/graphs.ipynb has no graded cell" in problems[1]


# -- messages as the checks write them -----------------------------------------------


def _message(check, *args) -> str:
    """What a failed test cell records: ``AssertionError: <the check's message>``."""
    try:
        check(*args)
    except AssertionError as error:
        return f"AssertionError: {error}"
    raise AssertionError("the check passed a wrong answer")


def _chain_rule_message(wrong, seed: int) -> str:
    return _message(checks.check_chain_rule, wrong,
                    *np.random.default_rng(seed).normal(size=4))


def _twice(x, y, z, upstream):
    return 2 * upstream * (y + z), 2 * upstream * x, 2 * upstream * x


def _constant(x, y, z, upstream):
    return 1.5, 1.5, 1.5


def _cell(message: str, mistake: str = "") -> CellGrade:
    return CellGrade("test_chain_rule", 0.0, 2.0, message, mistake)


def test_the_same_mistake_on_other_numbers_is_one_group_by_its_code():
    first, second = _chain_rule_message(_twice, 1), _chain_rule_message(_twice, 2)
    assert first != second
    # The judge's verdict names the mistake as a code; the words are the code's.
    assert mistake_key(_cell(first, "double")) == mistake_key(_cell(second, "double")) == (
        "code", "exactly twice: a contribution counted twice")
    # A code no words were written for (a newer grader's) is shown as itself.
    assert mistake_key(_cell(first, "brand_new")) == ("code", "brand_new")
    # A cell without a code (plain nbgrader, an earlier grader): its first line, numbers
    # masked, and its words are never read for a meaning ("Likely mistake" included).
    plain = [_chain_rule_message(_constant, seed) for seed in (3, 4)]
    assert plain[0] != plain[1]
    kind, words = mistake_key(_cell(plain[0]))
    assert kind == "message" and mistake_key(_cell(plain[1])) == (kind, words)
    assert words.startswith("AssertionError: Wrong value at element (#): expected #, got #")
    assert mistake_key(_cell(first))[0] == "message"
    # numpy.testing's boilerplate line is skipped: the test's own words lead.
    numpy_failure = _message(np.testing.assert_allclose, [1.0, 2.0], [1.0, 3.0], 1e-7, 0,
                             True, "check each partial derivative")
    assert mistake_key(_cell(numpy_failure)) == (
        "message", "AssertionError: check each partial derivative")


# -- a synthetic class of 01_graphs --------------------------------------------------


def _result(student: str, lost: dict[str, str] | None = None, status: str = "graded",
            **extra) -> GradeResult:
    """A result as results.json holds it, read as load_results reads it."""
    lost = lost or {}
    cells = [{"grade_id": g, "score": 0.0 if g in lost else p, "max_score": p,
              "message": lost.get(g, "")} for g, p in POINTS.items()]
    for cell in cells:  # a message given as (words, code): the verdict named the mistake
        if isinstance(cell["message"], tuple):
            cell["message"], cell["mistake"] = cell["message"]
    if status != "graded":
        cells = []
    return GradeResult.from_dict({
        "assignment": GRAPHS.name, "student": student, "status": status,
        "score": sum(c["score"] for c in cells), "max_score": 10.0, "cells": cells,
        "notes": extra.pop("notes", []), "flags": extra.pop("flags", []),
        "sandbox": "bwrap", **extra})


@pytest.fixture(scope="module")
def klass():
    with_path = (_chain_rule_message(_twice, 1)
                 + '\n  File "/srv/submitted/bob/01_graphs/graphs.ipynb", cell 4')
    rows = [
        _result("ann"),
        _result("bob", {"test_chain_rule": (with_path, "double")}),
        _result("cid", {"test_chain_rule": (_chain_rule_message(_twice, 2), "double")}),
        _result("dan", {"test_chain_rule": _chain_rule_message(_constant, 3),
                        "test_mul_backward": ("GraderCheckFailed: Mul backward on inputs of "
                                              "shapes [(3, 2), (3, 2)]: raised "
                                              "NotImplementedError in cell 13",
                                              "not_attempted")}),
        _result("eli", {"test_chain_rule": _chain_rule_message(_constant, 4)},
                kernel_deaths=[{"cell": 9, "grade_id": "test_mul_forward", "first_line": "",
                                "reason": "the kernel exited with status 1",
                                "while_replaying": False, "restarted": True}]),
        # load_results gives the score after the late penalty (10 points, 2 off)
        _result("gus", flags=["imports socket, which the exercises never need (cell 3)"],
                score=8.0, late={"submitted": "2027-01-20 10:00:00", "due": "2027-01-18 23:59:00",
                      "seconds_late": 122460.0, "penalty": 2.0,
                      "policy": "1 point per day late, at most 5"}),
        _result("eve", status="rejected",
                notes=["graphs.ipynb is not valid JSON (Expecting value at line 1)"]),
        _result("fay", status="error",
                notes=["the kernel died while running the notebook (does it call os._exit "
                       "or exit()?)"]),
    ]
    return {(r.assignment, r.student): r for r in rows}


def test_share_of_the_class_meeting_each_objective(klass):
    (info,) = summarise(COURSE, klass)
    shares = {o.number: (o.met, o.graded) for o in info.objectives}
    # chain rule lost by bob, cid, dan, eli; Mul's backward by dan; sorting by nobody
    assert shares == {1: (2, 6), 2: (5, 6), 3: (5, 6), 4: (6, 6)}
    assert info.graded == ["ann", "bob", "cid", "dan", "eli", "gus"]


def test_mistakes_are_grouped_by_their_code_and_counted_in_students(klass):
    (info,) = summarise(COURSE, klass)
    chain = info.objectives[0]
    assert [(m.kind, m.count, m.students) for m in chain.mistakes] == [
        ("code", 2, ["bob", "cid"]), ("message", 2, ["dan", "eli"])]
    assert chain.mistakes[0].label == "exactly twice: a contribution counted twice"
    assert chain.mistakes[0].cells == ["test_chain_rule"]
    # One example each, with the student's id taken out (numbers stay).
    example = chain.mistakes[0].example
    assert "bob" not in example and "/srv/submitted/<student>/01_graphs" in example
    assert re.search(r"expected -?\d", example)
    for objective in info.objectives[1:3]:  # Mul's backward assesses objectives 2 and 3
        assert [(m.label, m.count) for m in objective.mistakes] == [
            ("not attempted: the stub's NotImplementedError is still there", 1)]
    assert info.objectives[3].mistakes == []


SECTIONS = {"ann": "A", "bob": "A", "gus": "A", "cid": "B", "dan": "B", "eli": "B"}


def test_objectives_are_ranked_weakest_first_with_their_figures_per_section(klass):
    """Issue 32: what to re-teach first, across the assignments, and for which section."""
    from autograder.publish.report import rank_objectives

    ranked = rank_objectives(summarise(COURSE, klass), SECTIONS)
    assert [(r.assignment, r.objective.number) for r in ranked] == [
        ("01_graphs", 1), ("01_graphs", 2), ("01_graphs", 3), ("01_graphs", 4)]
    weakest = ranked[0]
    assert (weakest.objective.met, weakest.objective.graded) == (2, 6)
    # the chain rule: ann and gus met it (section A), bob did not; nobody in section B did
    assert weakest.sections == [("A", 2, 3), ("B", 0, 3)]
    assert weakest.top_mistake.label == "exactly twice: a contribution counted twice"
    assert ranked[-1].top_mistake is None and ranked[-1].share == 1.0
    # one section (or no roster): no figures per section
    assert rank_objectives(summarise(COURSE, klass), {s: "A" for s in SECTIONS})[0].sections \
        == []
    assert rank_objectives(summarise(COURSE, klass))[0].sections == []


def test_the_page_ranks_the_objectives_at_the_top(klass, tmp_path, monkeypatch):
    from autograder.publish.roster import RosterStudent

    monkeypatch.setattr(report_module, "load_results", lambda course: klass)
    monkeypatch.setattr(report_module, "load_roster", lambda course: [
        RosterStudent(student, student.title(), "X", f"{student}@example.edu", section)
        for student, section in SECTIONS.items()])
    page = _without_images(write_report(COURSE, tmp_path / "report.html").read_text(
        encoding="utf-8"))
    ranking = page[page.index('<h2 id="re-teach">'):page.index("<details")]
    assert "<th>section A</th><th>section B</th>" in ranking
    rows = ranking.split("<tr>")[2:]
    assert len(rows) == 4
    assert rows[0].startswith("<td>1</td>") and "compute a gradient by hand" in rows[0]
    assert "<td>2 of 6 (33%)</td><td>2 of 3 (67%)</td><td>0 of 3 (0%)</td>" in rows[0]
    assert "exactly twice: a contribution counted twice (2 student(s))" in rows[0]
    assert "Kahn" in rows[3] and "<td>none</td>" in rows[3]


def test_statistics_say_what_they_include(klass):
    (info,) = summarise(COURSE, klass)
    assert info.statistics_text() == (
        "6 graded, mean 8.17 / 10, median 8; 1 rejected and 1 crashed not included (no "
        "score). As grades.csv counts them (1 rejected and 1 crashed as 0; late penalties "
        "taken off): mean 5.88 / 10 over 8 submissions.")


def _without_images(page: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)


def test_the_page_has_objectives_figures_and_a_section_for_each_problem(
        klass, tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "load_results", lambda course: klass)
    page = write_report(COURSE, tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1  # one figure per assignment with grades
    text = _without_images(page)
    assert "http" not in text and "<script" not in text  # offline, self-contained
    assert "6 graded, mean 8.17 / 10, median 8; 1 rejected and 1 crashed not included" in text
    for objective in GRAPHS.objectives:
        assert objective.replace("'", "&#x27;") in text
    assert "2 of 6 (33%)" in text and "6 of 6 (100%)" in text
    assert "earned every point of every test cell mapped to that objective" in text
    assert "<b>Mistake:</b> exactly twice: a contribution counted twice" in text

    def section(title: str) -> str:
        start = text.index(f"<h3>{title}")
        return text[start:text.index("<h3>", start + 1) if "<h3>" in text[start + 1:]
                    else len(text)]

    rejected = section("Rejected submissions (1)")
    assert "eve" in rejected and "not valid JSON" in rejected
    crashed = section("Crashed submissions (1)")
    assert "fay" in crashed and "kernel died" in crashed
    late = section("Late submissions (1)")
    assert "gus" in late and "1 d 10 h" in late and "1 point per day late" in late
    assert "<td>2</td>" in late
    died = section("Kernels that died in graded submissions (1)")
    assert "eli" in died and "test_mul_forward" in died and "exited with status 1" in died
    flagged = section("Flagged submissions (1)")
    assert "gus" in flagged and "imports socket" in flagged
    # The students with nothing to report appear only as counts.
    for student in ("ann", "bob", "cid", "dan"):
        assert not re.search(rf"\b{student}\b", text), student


# -- through the real gradebook -------------------------------------------------------


def _recorded(tmp_path, monkeypatch, results: list):
    """A new course (01_graphs only) whose real gradebook holds ``results``."""
    from autograder.core.nbgrader_cli import nbgrader_environment
    from autograder.record.gradebook import record_results

    # nbgrader creates a new gradebook with `alembic`, from this interpreter's scripts.
    monkeypatch.setenv("PATH", nbgrader_environment()["PATH"])
    copy_course_skeleton(ROOT, tmp_path, [GRAPHS])
    course = load_manifest(tmp_path)
    record_results(course, results)
    return course


FULL = [CellGrade(g, p, p) for g, p in POINTS.items()]


def test_the_report_reads_the_results_once_and_warns_of_unsandboxed_grading(
        tmp_path, monkeypatch):
    # Reading every submission (load_results) is the report's own cost for a large
    # class: 1 s of 2 s for 5,000 submissions; the summaries and the warning share it.
    from autograder.publish import report

    course = _recorded(tmp_path, monkeypatch, [
        GradeResult("ann", GRAPHS.name, "graded", 10.0, 10.0, FULL, sandbox="bwrap"),
        GradeResult("bob", GRAPHS.name, "graded", 10.0, 10.0, FULL, sandbox="none")])
    read = report.load_results
    calls: list[int] = []
    monkeypatch.setattr(report, "load_results", lambda c: calls.append(1) or read(c))
    page = write_report(course).read_text(encoding="utf-8")
    assert len(calls) == 1
    assert "1 submission(s) were graded WITHOUT isolation" in page and "bob/01_graphs" in page
    shutil.rmtree(course.root / "reports")


def test_the_report_reads_the_gradebook_and_tolerates_results_without_late_or_flags(
        tmp_path, monkeypatch):
    half = [CellGrade(g, 0.0 if g == "test_topological_sort" else p, p,
                      "AssertionError: expected 4 nodes (x, y, s, p), got []" if
                      g == "test_topological_sort" else "") for g, p in POINTS.items()]
    course = _recorded(tmp_path, monkeypatch, [
        GradeResult("ann", GRAPHS.name, "graded", 10.0, 10.0, FULL),
        GradeResult("bob", GRAPHS.name, "graded", 7.0, 10.0, half),
        GradeResult("eve", GRAPHS.name, "rejected", max_score=10.0,
                    notes=["graphs.ipynb is not valid JSON"]),
        GradeResult("fay", GRAPHS.name, "error", max_score=10.0,
                    notes=["the notebook did not finish within the time limit"]),
    ])
    page = _without_images(write_report(course).read_text(encoding="utf-8"))
    assert (course.root / "reports" / "class-report.html").is_file()
    assert "2 graded, mean 8.50 / 10" in page
    assert "Rejected submissions (1)" in page and "Crashed submissions (1)" in page
    assert "Late submissions (0)" in page and "Flagged submissions (0)" in page
    assert "Kernels that died in graded submissions (0)" in page
    assert "1 of 2 (50%)" in page  # objective 4: Kahn's algorithm
    assert "AssertionError: expected # nodes (x, y, s, p), got []" in page
    shutil.rmtree(course.root / "reports")


def test_the_report_reads_codes_never_a_message_s_words():
    """A student's own error text that imitates the grader's words is grouped as text:
    only the verdict's code says "not attempted"."""
    from autograder.publish.report import mistake_key

    imitation = _cell("AssertionError: raised NotImplementedError; Likely mistake: it is "
                      "exactly twice the right value")
    assert mistake_key(imitation) == ("message", " ".join(imitation.message.split()))
    judged = _cell("GraderCheckFailed: Linear forward on inputs of shapes [(4, 3), (3, 2), "
                   "(2,)]: raised NotImplementedError in cell 15", "not_attempted")
    assert mistake_key(judged) == ("code",
                                   "not attempted: the stub's NotImplementedError is still there")


def test_student_and_roster_text_is_text_in_the_report(tmp_path, monkeypatch):
    """The report's template escapes every value it prints (autoescape): a student's
    id, notes, flags, messages and kernel deaths, late records, the course's title."""
    hostile = '<script>alert(1)</script>" onerror="alert(1)'
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot; onerror=&quot;alert(1)"
    said = '<script>alert(x)</script>" onerror="alert(y)'  # no number: it groups as it is
    said_escaped = "&lt;script&gt;alert(x)&lt;/script&gt;&quot; onerror=&quot;alert(y)"
    rows = [
        _result(hostile, {"test_chain_rule": f"AssertionError: {said}",
                          # a hand-edited results.json's code is shown as itself
                          "test_mul_forward": (f"AssertionError: {said}", said)},
                flags=[hostile], sandbox="none",
                kernel_deaths=[{"cell": 3, "grade_id": hostile, "reason": hostile}],
                late={"submitted": hostile, "due": hostile, "seconds_late": 60.0,
                      "penalty": 1.0, "policy": hostile}),
        _result("eve", status="rejected", notes=[hostile]),
        # a status that is not one (a hand-edited results.json) is read as an error
        _result("fay", status=hostile, notes=[hostile]),
    ]
    assert rows[-1].status == "error"
    results = {(r.assignment, r.student): r for r in rows}
    monkeypatch.setattr(report_module, "load_results", lambda course: results)
    course = dataclasses.replace(COURSE, title=hostile)
    page = _without_images(write_report(course, tmp_path / "report.html").read_text(
        encoding="utf-8"))
    assert "<script" not in page and '" onerror=' not in page
    assert "&amp;lt;" not in page  # nothing escaped twice
    # the title twice; the unisolated warning; the rejected note; the crash's note; the
    # died row's id, cell and reason; the late row's id, submitted, due and policy; the
    # flagged row's id and flag
    assert page.count(escaped) == 2 + 1 + 1 + 1 + 3 + 4 + 2, page
    # each message as a mistake's label and its example, in objectives 1, 2 and 3, and
    # as the most frequent mistake of each in the ranking
    assert page.count(said_escaped) == 2 * 3 + 3, page
    assert "<b>Mistake:</b> " + said_escaped in page  # the HTML made on purpose stays


@pytest.mark.parametrize(("message", "masked"), [
    ("expected -0.5, got 1.5e-3", "expected #, got #"),               # computed values
    ("wrong at element (0, 1) (shape (3, 2))", "wrong at element (#) (shape (#))"),
    ("cell 13 raised", "cell # raised"),
    ("the slope s * (1 - s) is missing", "the slope s * (1 - s) is missing"),  # a formula
    ("x-1 and x - 2", "x-1 and x - 2"),                                # operators stay
    ("W1 @ x_1 + b2", "W1 @ x_1 + b2"),                                # names stay
])
def test_numbers_are_masked_without_eating_a_formula_s_operators_or_names(message, masked):
    from autograder.publish.report import normalise_message

    assert normalise_message(message) == masked
