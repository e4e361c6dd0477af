"""Wrong code that cheats, graded for real, must not gain a point, and must be named.

The class: a wrong ``Linear`` and ``Sigmoid`` alone (the baseline), the same
wrong code with each cheat of ``cheating.py`` (replacing the checks, import
hooks, input transformers, custom exception handlers, trace functions,
patched numpy, a blinded guard, subclasses and aliases of the reference,
references replaced by the wrong code, gc, metaclasses, ``__init_subclass__``
hooks, unprintable exceptions), a student whose code quietly delegates to
miniflow inside the kernel, one who prints the hidden tests, and honest
solutions written other ways. All graded in one run with ``grade``; two
cheats again with plain ``nbgrader autograde``.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from cheating import CHEATS, HONEST, READS_IN, VERDICT_ATTACKS, WRONG_LINEAR, WRONG_SIGMOID
from conftest import require_bwrap

from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.publish.feedback import write_feedback
from autograder.publish.hidden import hidden_lines
from autograder.publish.report import write_report

ROOT = Path(__file__).resolve().parents[1]
LAYERS = load_manifest(ROOT).assignment("02_layers")
# Cheats that change nothing (the wrong code fails as usual): nothing to name.
HARMLESS = {"float_and_ndarray_patched", "exception_whose_str_raises"}
PRINTS_HIDDEN = {"late": ['''
import builtins
print(builtins.__dict__.get("seen_tests", "nothing captured"))
'''], "early": ['''
import builtins
builtins.seen_tests = []
def keep(lines):
    builtins.seen_tests.append("".join(lines))
    return lines
get_ipython().input_transformers_post.append(keep)
''']}
PAIRED = "# the instructor's answers: ANSWER-MARKER-7731\n"
READS_FILES = {"late": [
    "import os\n"
    "print(sorted(os.listdir('.')))\n"
    "for name in os.listdir('.'):\n"
    "    if name.endswith('.py'):\n"
    "        print(open(name).read())\n"]}
PLAIN = ("checks_patched_and_the_guard_defeated", "input_transformer_empties_tests",
         "displayhook_puts_a_result_first", "kernel_runs_tests_as_pass")
ATTACKS = {**CHEATS, **VERDICT_ATTACKS}
# Attacks on the kernel's run that the judge makes worthless; nothing in the
# notebook's code says what they did, so nothing names them.
UNNAMED = {"displayhook_puts_a_result_first", "kernel_runs_tests_as_pass",
           "kernel_drops_its_errors"}


def _build(source: nbformat.NotebookNode, spec: dict, wrong: bool = True):
    notebook = nbformat.from_dict(source)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "linear":
            cell.source = spec.get("linear", WRONG_LINEAR if wrong else cell.source)
        if grade_id == "sigmoid":
            cell.source = spec.get("sigmoid", WRONG_SIGMOID if wrong else cell.source)
        if grade_id in spec.get("tests", {}):
            cell.source = spec["tests"][grade_id]
    for code in reversed(spec.get("early", [])):
        notebook.cells.insert(2, nbformat.v4.new_code_cell(code))
    last = max(i for i, c in enumerate(notebook.cells)
               if c.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid")
    for code in reversed(spec.get("late", [])):
        notebook.cells.insert(last + 1, nbformat.v4.new_code_cell(code))
    return notebook


@pytest.fixture(scope="module")
def cheaters(tmp_path_factory):
    require_bwrap()
    root = tmp_path_factory.mktemp("cheating")
    copy_course_skeleton(ROOT, root, [LAYERS])
    # An instructor's file kept beside the source notebook: it must not reach a kernel.
    (root / "source" / LAYERS.name / "layers_answers.py").write_text(PAIRED)
    run_nbgrader(["generate_assignment", LAYERS.name, "--force"], root)
    source = nbformat.read(root / "source" / LAYERS.name / LAYERS.notebook_file, as_version=4)
    students = {"wrong": _build(source, {}), "prints_hidden": _build(source, PRINTS_HIDDEN),
                "reads_in": _build(source, READS_IN),
                "reads_files": _build(source, READS_FILES)}
    students.update({name: _build(source, spec) for name, spec in ATTACKS.items()})
    students.update({f"honest_{name}": _build(source, spec, wrong=False)
                     for name, spec in HONEST.items()})
    students["honest_solution"] = source
    for student, notebook in students.items():
        folder = root / "submitted" / student / LAYERS.name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / LAYERS.notebook_file)
    course = load_manifest(root)
    results = {r.student: r for r in grade(course, [LAYERS], students=None, workers=2)}
    # The same cheats through plain nbgrader, in a course of their own.
    plain = tmp_path_factory.mktemp("plain")
    copy_course_skeleton(ROOT, plain, [LAYERS])
    run_nbgrader(["generate_assignment", LAYERS.name, "--force"], plain)
    for student in ("wrong", *PLAIN):
        folder = plain / "submitted" / student / LAYERS.name
        folder.mkdir(parents=True)
        nbformat.write(students[student], folder / LAYERS.notebook_file)
    run_nbgrader(["autograde", LAYERS.name, "--force"], plain)
    target = plain / "plain.csv"
    run_nbgrader(["export", "--to", str(target)], plain)
    with open(target, newline="", encoding="utf-8") as handle:
        plain_scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(handle)}
    return {"root": root, "course": course, "results": results, "plain": plain_scores,
            "source": source}


def _cells(result) -> dict[str, float]:
    return {c.grade_id: c.score for c in result.cells}


def test_the_wrong_code_alone_scores_zero(cheaters):
    assert cheaters["results"]["wrong"].score == 0


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_no_cheat_gains_a_point(cheaters, name):
    result, wrong = cheaters["results"][name], cheaters["results"]["wrong"]
    assert result.status == "graded"
    for cell, score in _cells(result).items():
        assert score <= _cells(wrong)[cell], (name, cell, [c.message for c in result.cells])


@pytest.mark.parametrize("name", sorted(set(ATTACKS) - HARMLESS - UNNAMED))
def test_every_cheat_is_named_for_the_instructor(cheaters, name):
    assert cheaters["results"][name].flags, name


@pytest.mark.parametrize("name, words", [
    ("subclass_of_the_reference", "inherits miniflow's reference `Linear`"),
    ("reference_renamed_to_look_local", "miniflow's reference `Linear` under another name"),
    ("metaclass_lies_about_the_mro", "has a metaclass"),
    ("numpy_comparisons_always_pass", "replaces np.allclose"),
    ("input_transformer_empties_tests", "an IPython input transformer was added"),
    ("custom_exception_handler_swallows_failures", "custom exception handler"),
    ("trace_rewrites_the_checks_locals", "sys"),
    ("references_replaced_by_the_wrong_code", "replaces mf.Linear"),
    ("init_subclass_hook_swaps_in_the_reference", "__init_subclass__"),
    ("checks_patched_and_the_guard_blinded", "autograder.checks._allclose was replaced"),
    ("guard_answer_forged_in_the_reply", "changed what the tests rely on"),
    ("reference_answers_inside_the_kernel", "calls __import__()"),
    ("test_cell_replaced_by_assert_true",
     "changed the code of test cell(s) test_linear_forward, test_linear_backward"),
])
def test_the_flags_say_what_was_done(cheaters, name, words):
    flags = " ".join(cheaters["results"][name].flags)
    assert words in flags, flags[:800]


def test_delegation_in_the_solution_costs_that_exercise_with_the_reason(cheaters):
    result = cheaters["results"]["subclass_of_the_reference"]
    linear = [c for c in result.cells if c.grade_id.startswith("test_linear")]
    assert all(c.score == 0 and "miniflow's reference" in c.message for c in linear)


@pytest.mark.parametrize("name", ["checks_patched_and_the_guard_defeated",
                                  "displayhook_puts_a_result_first", "kernel_runs_tests_as_pass",
                                  "kernel_drops_its_errors"])
def test_the_judge_decides_what_the_kernel_was_made_to_pass(cheaters, name):
    # These fool the checks, nbgrader's rule or the kernel itself; the judge's
    # verdict, made outside the kernel, is what scores.
    result = cheaters["results"][name]
    linear = [c for c in result.cells if c.grade_id.startswith("test_linear")]
    assert all(c.score == 0 and c.message.startswith("GraderCheckFailed: Linear")
               for c in linear), [c.message for c in linear]


@pytest.mark.parametrize("name", sorted(n for n in VERDICT_ATTACKS if n.startswith("deleg")))
def test_delegation_fails_in_the_judge_whatever_the_route(cheaters, name):
    result = cheaters["results"][name]
    for cell in result.cells:
        if cell.grade_id.startswith("test_linear"):
            assert cell.score == 0 and "GraderCheckFailed" in cell.message, cell


@pytest.mark.parametrize("name", sorted(HONEST) + ["solution"])
def test_honest_solutions_written_other_ways_keep_full_marks_unflagged(cheaters, name):
    result = cheaters["results"][f"honest_{name}"]
    assert result.score == LAYERS.points, [c.message for c in result.cells]
    assert result.flags == [] and result.notes == []


@pytest.mark.parametrize("name", PLAIN)
def test_plain_nbgrader_gets_the_guard_and_the_trusted_check_too(cheaters, name):
    assert cheaters["plain"][name] <= cheaters["plain"]["wrong"] == 0


def test_hidden_tests_never_reach_the_kernel_nor_its_feedback(cheaters):
    result = cheaters["results"]["prints_hidden"]
    assert result.score == 0 and result.flags
    pages = {p.parent.parent.name: p.read_text()
             for p in write_feedback(cheaters["course"], (LAYERS,))}
    secret = hidden_lines(cheaters["source"])
    assert secret
    for student in ("prints_hidden", "reads_in"):
        page = pages[student]
        flat = " ".join(page.split())
        # In any encoding: as written, reversed, or hex-encoded.
        decoded = " ".join(
            " ".join(bytes.fromhex(h[start:][:(len(h) - start) // 2 * 2]).decode(
                "utf-8", "replace").split())
            for h in re.findall(r"[0-9a-f]{200,}", page) for start in (0, 1))
        for text in (flat, flat[::-1], decoded):
            assert not [line for line in secret if line in text], student
    # The decoding works: the smuggled history is readable, and holds no hidden line.
    assert 'print(bytes("\\n".join(In), "utf-8").hex())' in decoded


def test_files_beside_the_source_notebook_never_reach_a_kernel(cheaters):
    root = cheaters["root"]
    executed = root / "autograded" / "reads_files" / LAYERS.name / LAYERS.notebook_file
    assert "ANSWER-MARKER" not in executed.read_text()
    # The listing ran (its cell printed the folder's contents) without the instructor's file.
    notebook = nbformat.read(executed, as_version=4)
    cell = next(c for c in notebook.cells if "os.listdir" in c.source)
    printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    assert printed.startswith("[") and "layers_answers.py" not in printed


def test_flags_reach_the_cli_the_csv_and_the_report(cheaters):
    root = cheaters["root"]
    listing = subprocess.run([sys.executable, "-m", "autograder", "flags"], cwd=root,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0
    assert "subclass_of_the_reference 02_layers" in listing.stdout
    assert "honest_solution" not in listing.stdout
    export = subprocess.run([sys.executable, "-m", "autograder", "export", "--to",
                             str(root / "grades.csv")], cwd=root, capture_output=True,
                            text=True, timeout=120)
    assert export.returncode == 0, export.stderr
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert "inherits miniflow's reference" in rows["subclass_of_the_reference"]["flags"]
    assert rows["honest_solution"]["flags"] == ""
    report = write_report(cheaters["course"]).read_text()
    assert "Flagged submissions" in report and "numpy_comparisons_always_pass" in report
