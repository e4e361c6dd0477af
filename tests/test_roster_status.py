"""The roster and "no silent zeros", for real: a small class of the first assignment.

A roster is imported with the CLI, submissions are collected with the CLI
(one student is not on the roster, one roster student submits nothing), the
class is graded in the bubblewrap sandbox, feedback is written and grades
are exported with the CLI. Then: every roster student has a row with a
status that tells a graded zero from a missing, rejected or crashed
submission; rejected and crashed students get a feedback page that says
what happened; a kernel killed by ``os._exit`` half way keeps the points
already earned and the rest is graded in a fresh kernel, still guarded.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import require_bwrap

from autograder.core.cells import DEATHS_KEY
from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.core.results import GradeResult
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.publish.feedback import problem_html, write_feedback
from autograder.publish.roster import (
    ROSTER_FILE,
    RosterError,
    export_status,
    import_roster,
    load_roster,
    read_roster,
)

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]

ROSTER = """\ufeffStudent ID;First Name;Surname;E-mail;Section
alice;Alice;Archer;alice@example.edu;A
bob;Bob;Baker;bob@example.edu;A
carol;Carol;Cole;carol@example.edu;B
dave;Dave;Dunn;dave@example.edu;B
erin;Erin;Eames;erin@example.edu;B
frank;Frank;Fox;frank@example.edu;A
"""


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root,
                          capture_output=True, text=True, timeout=600)


def _course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    return root


# --- the roster file ------------------------------------------------------------------

def test_common_header_spellings_a_bom_and_semicolons_are_read():
    students = read_roster(ROSTER)
    assert [s.id for s in students] == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert (students[2].first_name, students[2].last_name, students[2].email,
            students[2].section) == ("Carol", "Cole", "carol@example.edu", "B")
    plain = read_roster("id,first_name,last_name,email\nzoe,Zoe,Zed,zoe@example.edu\n")
    assert plain[0].section == ""


def test_a_missing_column_is_named_with_the_accepted_spellings():
    with pytest.raises(RosterError) as error:
        read_roster("id,first_name,email\nzoe,Zoe,zoe@example.edu\n", "class.csv")
    message = str(error.value)
    assert "class.csv: line 1: no last_name column" in message
    assert "surname" in message


def test_every_bad_row_is_named_with_its_line_number():
    text = ("id,first_name,last_name,email,section\n"
            "ann,Ann,Ash,ann@example.edu,A\n"
            "bad id!,Bea,Bird,bea@example.edu,A\n"
            "ann,Another,Ann,ann2@example.edu,B\n"
            ",No,Id,noid@example.edu,B\n"
            "cy,Cy,\"Smith, Jr.\",cy@example.edu,A\n"
            "dot,Dot,Dash,not-an-email,A\n"
            "ed,Ed,\"Eames\nJr.\",ed@example.edu,A\n")
    with pytest.raises(RosterError) as error:
        read_roster(text, "class.csv")
    message = str(error.value)
    assert "nothing was imported" in message
    assert "line 3: the id 'bad id!' is not usable" in message
    assert "line 4: the id 'ann' is already on line 2" in message
    assert "line 5: no student id" in message
    assert "line 6" not in message  # a comma is fine: the export quotes it
    assert "line 7: 'not-an-email' is not an email address" in message
    assert "line 9: the last_name 'Eames\\nJr.' holds a line break" in message


def test_a_bad_roster_imports_nobody(tmp_path):
    from nbgrader.api import Gradebook

    from autograder.record.database import db_url

    root = _course(tmp_path)
    bad = tmp_path / "class.csv"
    bad.write_text("id,first_name,last_name,email\nann,Ann,Ash,ann@example.edu\n"
                   "ann,Ann,Again,ann@example.edu\n", encoding="utf-8")
    course = load_manifest(root)
    with pytest.raises(RosterError, match="line 3"):
        import_roster(course, bad)
    assert not (root / ROSTER_FILE).exists()
    if (root / "gradebook.db").exists():
        with Gradebook(db_url(course)) as gradebook:
            assert gradebook.students == []


def _status(record: dict) -> str:
    """The export's status of a result as results.json holds it."""
    return export_status(GradeResult.from_dict({"student": "ann", "assignment": FIRST.name,
                                                **record}))


def test_export_status_rules():
    assert export_status(None) == "not submitted"
    assert export_status(None, submitted=True) == "needs review"
    assert _status({"status": "rejected"}) == "rejected"
    assert _status({"status": "error"}) == "needs review"
    assert _status({"status": "graded", "score": 0.0, "notes": []}) == "graded"
    assert _status({"status": "graded", "flags": ["imports os"]}) == "needs review"
    assert _status({"status": "graded", "kernel_deaths": [{"cell": 3}]}) == "needs review"
    assert _status({"status": "graded", "notes": [],
                    "reasons": ["manual_grading"]}) == "needs review"
    # the code decides, never a note's words...
    assert _status({"status": "graded", "reasons": [],
                    "notes": ["test_x needs manual grading"]}) == "graded"
    # ...except in a record written before reasons were codes (no "reasons" at all)
    assert _status({"status": "graded",
                    "notes": ["test_x needs manual grading"]}) == "needs review"


def test_a_submission_whose_grading_crashed_gets_a_page_that_says_so():
    page = problem_html(GradeResult("zoe", FIRST.name, "error", notes=[
        "the grading process died while grading this submission (killed by SIGKILL)"]),
        FIRST, "miniflow")
    assert "Grading your submission failed" in page
    assert "killed by SIGKILL" in page and "will look at it" in page


# --- a class, graded for real -------------------------------------------------------------

def _set(notebook: nbformat.NotebookNode, grade_id: str, old: str, new: str) -> None:
    cell = next(c for c in notebook.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)


def _index(notebook: nbformat.NotebookNode, grade_id: str) -> int:
    return next(i for i, c in enumerate(notebook.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    require_bwrap()
    tmp = tmp_path_factory.mktemp("term")
    root = _course(tmp)
    source = nbformat.read(root / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
    (tmp / "class.csv").write_text(ROSTER, encoding="utf-8")
    imported = _cli(root, "roster", "import", str(tmp / "class.csv"))
    assert imported.returncode == 0, imported.stderr

    inbox = tmp / "inbox"
    notebooks = {}
    # A later cell kills the kernel: the tests before it and after it keep their points.
    dave = nbformat.from_dict(source)
    dave.cells.insert(_index(dave, "test_mul_backward"),
                      nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    notebooks["dave"] = dave
    # Mul's backward kills the kernel inside a test; after the crash the student
    # patches numpy so that every comparison passes: the fresh kernel's guard sees it.
    erin = nbformat.from_dict(source)
    _set(erin, "mul", "def backward(self):", "def backward(self):\n        import os\n"
         "        os._exit(3)")
    erin.cells.insert(_index(erin, "test_topological_sort"), nbformat.v4.new_code_cell(
        "import numpy\nnumpy.allclose = lambda *args, **kwargs: True"))
    notebooks["erin"] = erin
    for student, notebook in notebooks.items():
        (inbox / student).mkdir(parents=True)
        nbformat.write(notebook, inbox / student / FIRST.notebook_file)
    (inbox / "bob").mkdir()
    release = nbformat.read(ROOT / "release" / FIRST.name / FIRST.notebook_file, as_version=4)
    nbformat.write(release, inbox / "bob" / FIRST.notebook_file)
    (inbox / "carol").mkdir()
    text = nbformat.writes(source)
    (inbox / "carol" / FIRST.notebook_file).write_text(text[: len(text) // 2], encoding="utf-8")
    (inbox / "mallory").mkdir()
    (inbox / "mallory" / FIRST.notebook_file).write_text("not a notebook", encoding="utf-8")
    collected = _cli(root, "collect", str(inbox))
    assert collected.returncode == 0, collected.stderr

    course = load_manifest(root)
    results = {r.student: r for r in grade(course, [FIRST], students=None, workers=2,
                                           sandbox="bwrap")}
    pages = {p.parent.parent.name: p.read_text(encoding="utf-8")
             for p in write_feedback(course, (FIRST,))}
    exported = _cli(root, "export", "--to", str(root / "grades.csv"))
    assert exported.returncode == 0, exported.stderr
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)
                if r["assignment"] == FIRST.name}
    return {"root": root, "tmp": tmp, "import": imported.stdout, "collect": collected.stdout,
            "results": results, "pages": pages, "rows": rows}


def test_roster_import_and_list_from_the_command_line(term):
    from nbgrader.api import Gradebook

    from autograder.record.database import db_url

    root, source = term["root"], term["tmp"] / "class.csv"
    assert "imported 6 student(s)" in term["import"]
    assert "2 section(s): A, B" in term["import"]
    assert (root / ROSTER_FILE).read_bytes() == source.read_bytes()
    course = load_manifest(root)
    assert [s.section for s in load_roster(course)] == ["A", "A", "B", "B", "B", "A"]
    with Gradebook(db_url(course)) as gradebook:
        carol = gradebook.find_student("carol")
        assert (carol.first_name, carol.last_name, carol.email) == \
            ("Carol", "Cole", "carol@example.edu")
    listed = _cli(root, "roster", "list")
    assert listed.returncode == 0 and "frank" in listed.stdout and "6 student(s)" in listed.stdout
    bad = term["tmp"] / "bad.csv"
    bad.write_text("id,first,email\nx,X,x@example.edu\n", encoding="utf-8")
    refused = _cli(root, "roster", "import", str(bad))
    assert refused.returncode == 2
    assert "no last_name column" in refused.stderr
    assert (root / ROSTER_FILE).read_bytes() == source.read_bytes()


def test_collect_names_strangers_and_roster_students_with_nothing_submitted(term):
    out = term["collect"]
    assert "not on the roster (1)" in out
    strangers = out.split("not on the roster", 1)[1].split("nothing submitted", 1)[0]
    assert "mallory" in strangers and "alice" not in strangers
    missing = out.split(f"nothing submitted for {FIRST.name} by 2 of 6 roster student(s):")[1]
    assert missing.split()[:6] == ["alice", "Alice", "Archer", "frank", "Frank", "Fox"]


def test_every_roster_student_has_a_row_with_a_status_name_and_section(term):
    rows = term["rows"]
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin", "frank", "mallory"}
    status = {s: r["status"] for s, r in rows.items()}
    assert status == {"alice": "not submitted", "bob": "graded", "carol": "rejected",
                      "dave": "needs review", "erin": "needs review",
                      "frank": "not submitted", "mallory": "rejected"}
    assert float(rows["bob"]["score"]) == 0 and float(rows["frank"]["score"]) == 0, \
        "a graded zero and a missing submission score the same: only the status tells them"
    assert (rows["frank"]["first_name"], rows["frank"]["last_name"], rows["frank"]["email"],
            rows["frank"]["section"]) == ("Frank", "Fox", "frank@example.edu", "A")
    assert rows["carol"]["section"] == "B" and rows["mallory"]["section"] == ""


def test_plain_nbgrader_export_writes_the_same_csv_filters_included(term):
    root = term["root"]
    plain = root / "plain.csv"
    run_nbgrader(["export", "--to", str(plain)], root)
    assert plain.read_bytes() == (root / "grades.csv").read_bytes()
    # nbgrader's own filters: rows for those students only, roster students included.
    run_nbgrader(["export", "--to", str(plain), "--student", "frank", "--student", "bob"], root)
    with open(plain, newline="", encoding="utf-8") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"bob", "frank"}
    assert rows["frank"]["status"] == "not submitted" and rows["frank"]["section"] == "A"
    assert rows["bob"] == term["rows"]["bob"]
    run_nbgrader(["export", "--to", str(plain), "--assignment", "no_such_assignment"], root)
    assert plain.read_text(encoding="utf-8").splitlines()[1:] == []
    # A course whose nbgrader_config.py predates the plugin: our export adds the columns.
    config = root / "nbgrader_config.py"
    kept = config.read_text(encoding="utf-8")
    try:
        config.write_text(kept.replace("c.ExportApp.plugin_class", "# c.ExportApp.plugin_class"),
                          encoding="utf-8")
        run_nbgrader(["export", "--to", str(plain)], root)
        assert "status" not in plain.read_text(encoding="utf-8").splitlines()[0]
        exported = _cli(root, "export", "--to", str(plain))
        assert exported.returncode == 0, exported.stderr
        assert plain.read_bytes() == (root / "grades.csv").read_bytes()
    finally:
        config.write_text(kept, encoding="utf-8")


def test_the_export_s_columns_read_the_results_once(term, monkeypatch):
    # Reading every submission's results (load_results) is the export's own cost for
    # a large class: the three column steps (flags, lateness, roster) share one.
    from autograder.publish import export

    root = term["root"]
    plain = root / "nbgrader-only.csv"
    config = root / "nbgrader_config.py"
    kept = config.read_text(encoding="utf-8")
    try:  # nbgrader's own columns only, as a course whose config predates the plugin
        config.write_text(kept.replace("c.ExportApp.plugin_class", "# c.ExportApp.plugin_class"),
                          encoding="utf-8")
        run_nbgrader(["export", "--to", str(plain)], root)
    finally:
        config.write_text(kept, encoding="utf-8")
    read = export.load_results
    calls: list[int] = []
    monkeypatch.setattr(export, "load_results", lambda course: calls.append(1) or read(course))
    export.add_course_columns(load_manifest(root), plain)
    assert len(calls) == 1
    assert plain.read_bytes() == (root / "grades.csv").read_bytes()


def test_a_later_cell_that_kills_the_kernel_costs_nothing_already_earned(term):
    dave = term["results"]["dave"]
    assert dave.status == "graded"
    assert [(c.grade_id, c.score) for c in dave.cells] == [
        ("test_chain_rule", 2.0), ("test_mul_forward", 2.0), ("test_mul_backward", 3.0),
        ("test_topological_sort", 3.0)], [c.message for c in dave.cells]
    assert len(dave.kernel_deaths) == 1 and dave.kernel_deaths[0].restarted
    assert "os._exit()" in dave.kernel_deaths[0].reason
    assert any("graded in a fresh kernel" in n for n in dave.notes)
    executed = nbformat.read(term["root"] / "autograded" / "dave" / FIRST.name
                             / FIRST.notebook_file, as_version=4)
    dead = next(c for c in executed.cells if c.source.startswith("import os\nos._exit(1)"))
    assert any(o.output_type == "error" and o.ename == "KernelDied"
               and "the kernel died while running this cell" in o.evalue for o in dead.outputs)
    assert executed.metadata[DEATHS_KEY][0]["first_line"] == "import os"


def test_a_test_that_kills_the_kernel_scores_zero_and_the_fresh_kernel_is_still_watched(term):
    erin = term["results"]["erin"]
    scores = {c.grade_id: (c.score, c.message) for c in erin.cells}
    assert scores["test_chain_rule"][0] == 2 and scores["test_mul_forward"][0] == 2
    assert scores["test_mul_backward"][0] == 0
    # The judge's verdict: its own process stopped too, on the same exit.
    assert scores["test_mul_backward"][1].startswith("GraderCheckFailed: Mul backward")
    assert "stopped the grader's check" in scores["test_mul_backward"][1]
    assert erin.kernel_deaths[0].grade_id == "test_mul_backward"
    # What the student patched in the fresh kernel is flagged; it changes no score:
    # the judge, outside the kernel, finds topological_sort right.
    assert scores["test_topological_sort"][0] == 3
    assert any("numpy.allclose" in flag for flag in erin.flags)


def test_a_rejected_submission_gets_a_page_saying_why_and_how_to_resubmit(term):
    page = term["pages"]["carol"]
    assert "Your submission could not be graded" in page
    assert "is not valid JSON" in page and ": line " in page
    assert "File &gt; Download" in page and "resubmit" in page
    assert "HIDDEN" not in page


def test_a_crashed_kernel_page_names_the_cell_that_killed_it(term):
    page = term["pages"]["dave"]
    assert "Your notebook stopped the kernel" in page
    death = term["results"]["dave"].kernel_deaths[0]
    assert f"died while running cell {death.cell}" in page
    assert "<code>import os</code>" in page and "os._exit()" in page
    assert "graded in a fresh kernel" in page
    assert f"Score: <b>{FIRST.points:g} / {FIRST.points:g}</b>" in page
    assert "the one named test_mul_backward" in term["pages"]["erin"]


def test_only_students_who_submitted_something_get_a_page(term):
    assert set(term["pages"]) == {"bob", "carol", "dave", "erin", "mallory"}


def test_after_a_test_changes_export_and_report_warn_and_a_regrade_says_what_changed(term):
    """Issue 32: grades made with tests that have changed since are named by ``export``
    (on standard error, and per row in the CSV's stale_tests column) and by ``report``
    (on standard error and at the top of the page); a regrade prints old -> new for
    each submission whose grade changed, and its grade is current again."""
    import shutil

    root = term["tmp"] / "changed-tests"
    shutil.copytree(term["root"], root)
    source_path = root / "source" / FIRST.name / FIRST.notebook_file
    source = nbformat.read(source_path, as_version=4)
    test = source.cells[_index(source, "test_mul_forward")]
    test.source = test.source.replace("from autograder import checks",
                                      "from autograder import checks  # now with a comment")
    nbformat.write(source, source_path)

    exported = _cli(root, "export", "--to", str(root / "grades.csv"))
    assert exported.returncode == 0, exported.stderr
    assert "were made with tests that have changed since" in exported.stderr
    assert "test_mul_forward (edited)" in exported.stderr
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)
                if r["assignment"] == FIRST.name}
    assert rows["bob"]["stale_tests"] == "test_mul_forward (edited)"
    assert rows["carol"]["stale_tests"] == "", "a rejected notebook holds no grade"
    assert all(r["stale_tests"] == "" for r in term["rows"].values()), "current before"

    reported = _cli(root, "report")
    assert reported.returncode == 0, reported.stderr
    assert "test_mul_forward (edited)" in reported.stderr
    page = (root / "reports" / "class-report.html").read_text(encoding="utf-8")
    assert ("<b>Warning: 3 grade(s) of 01_graphs were made with tests that have changed "
            "since</b> (test_mul_forward (edited)): bob, dave, erin.") in page

    # bob submits the solution and is regraded: 0 -> full marks, and current again.
    shutil.copy(source_path, root / "submitted" / "bob" / FIRST.name / FIRST.notebook_file)
    regraded = _cli(root, "grade", FIRST.name, "--student", "bob", "--sandbox", "bwrap")
    assert regraded.returncode == 0, regraded.stderr
    assert "regraded: 1 submission(s) had a grade before; 1 changed:" in regraded.stdout
    assert (f"changed: 0/{FIRST.points:g} \N{RIGHTWARDS ARROW} {FIRST.points:g}/"
            f"{FIRST.points:g}") in regraded.stdout
    _cli(root, "export", "--to", str(root / "grades.csv"))
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)
                if r["assignment"] == FIRST.name}
    assert rows["bob"]["stale_tests"] == ""
    assert rows["dave"]["stale_tests"] == "test_mul_forward (edited)"
