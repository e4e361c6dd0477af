"""Nothing a student wrote is a formula or an escape (issue 29, point 4).

Students choose a cell's ``grade_id`` (notebook metadata: a flag is labelled
with it), the names of the files and folders they hand in, and, through the
learning-management system, the names on the roster. A class does its worst
here, with the real commands: a roster of names a spreadsheet would run
(``=cmd|' /C calc'!A0``, ``@SUM(1+1)``, ``+1``, ``-2``), a name with a comma
and a quote, a name with escape sequences; a notebook cell labelled
``=HYPERLINK(...)`` with escape sequences; submissions, folders and extra
files named with escape sequences, by folder and through nbgrader's exchange.
Then ``roster``, ``collect``, ``grade``, ``flags`` and ``export`` (and plain
``nbgrader export``) must print no control character, and every CSV cell
that came from a student must read back as it was, starting with no formula
character unless behind a quote. An ordinary name goes through unchanged.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import require_bwrap

from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.core.safe_text import (
    FORMULA_START,
    csv_cell,
    csv_row,
    terminal_lines,
    terminal_text,
)
from autograder.pipeline.grading import copy_course_skeleton
from autograder.publish.export import EXPORT_NUMBERS
from autograder.publish.roster import read_roster

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\r\x08\x08\x9b31m\x7f"
IN_A_NAME = ESCAPES.replace("\r", "")  # the roster takes no line break in a name
EVIL_ID = '=HYPERLINK("http://x","y")' + ESCAPES
COMMA_QUOTE = 'Smith, "Jr."'
QUOTED = 'Fay "Fi"'
# id -> (first name, last name, section): what a learning-management system lets
# students set themselves (a display name, a group), exported by the instructor.
CLASS = {
    "ann": ("=cmd|' /C calc'!A0", "Archer", "A"),
    "bob": ("@SUM(1+1)", "Baker", "=1+2"),
    "cy": ("+1", "Cole", "A"),
    "di": ("-2", "  =Dunn", "B"),
    "ed": ("\tTab", "Eames", "B"),
    "fay": (QUOTED, COMMA_QUOTE, "B"),
    "gus": ("Gus", "Grey" + IN_A_NAME, "A"),
    "hal": ("Hal", "Honest", "B"),
}
# The control characters no terminal may be sent: C0 but the newline, DEL, C1.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _controls(text: str) -> list[str]:
    return sorted(set(CONTROL.findall(text)))


def _cli(root: Path, *args: str, code: int | None = 0) -> subprocess.CompletedProcess:
    """The command, run; ``code``: its exit status (None: whatever collect decides)."""
    done = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root,
                          capture_output=True, text=True, timeout=900)
    assert code is None or done.returncode == code, f"{args}:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _safe(cell: str) -> bool:
    """No spreadsheet runs it: no formula character first, nor after leading blanks."""
    return cell[:1] not in FORMULA_START and cell.lstrip()[:1] not in FORMULA_START


# --- the two helpers ----------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=1+1", "+1", "-2", "@SUM(1+1)", "\t=1", "\r=1",
                                  "=cmd|' /C calc'!A0", " =1", "  @x", "\n-1", "\u200b=1",
                                  EVIL_ID])
def test_a_formula_gets_a_quote_in_front_once(text):
    assert csv_cell(text) == "'" + text
    assert csv_cell(csv_cell(text)) == csv_cell(text)


@pytest.mark.parametrize("text", ["Alice", "O'Brien", "Zoë Ünal ✓", COMMA_QUOTE, "3.5", "",
                                  "alice@example.edu", "2026-10-01 09:30:05", "a=b", "x-1"])
def test_honest_text_is_written_as_it_is(text):
    assert csv_cell(text) == text


def test_the_grader_s_numbers_stay_numbers():
    assert csv_cell(-1.5) == "-1.5" and csv_cell(0) == "0" and csv_cell(None) == ""
    row = csv_row({"score": "-1.5", "max_score": "10.0", "first_name": "-2",
                   "raw_score": "=1+1", "days_late": " -1"}, EXPORT_NUMBERS)
    assert row == {"score": "-1.5", "max_score": "10.0", "first_name": "'-2",
                   "raw_score": "'=1+1", "days_late": "' -1"}


def test_a_terminal_gets_no_control_character():
    shown = terminal_text("a" + ESCAPES + "\n\t\x00\x85z\u202e\u2028")
    assert not _controls(shown) and "\n" not in shown
    assert "\u202e" not in shown and "\u2028" not in shown
    assert shown.startswith("a\\x1b]0;pwned\\x07\\x1b[2J\\r\\x08\\x08\\x9b31m\\x7f\\n\\t")
    assert terminal_text("x\udcffy") == "x\\udcffy"  # an undecodable byte of a file name
    for honest in ("Zoë Ünal ✓", "日本語", "O'Brien", "Smith, \"Jr.\"", "a b  c", ""):
        assert terminal_text(honest) == honest
    assert terminal_lines("one\x1b\ntwo") == "one\\x1b\ntwo"


def test_the_roster_takes_a_comma_and_a_quote_but_not_a_line_break():
    students = read_roster('id,first_name,last_name,email\nfay,Fay,"Smith, ""Jr."""'
                           ",fay@example.edu\n")
    assert students[0].last_name == COMMA_QUOTE
    with pytest.raises(ValueError, match="line break"):
        read_roster('id,first_name,last_name,email\nfay,Fay,"Smith\nJr",fay@example.edu\n')


# --- a class that does its worst, with the real commands ---------------------------------

def _roster_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "first_name", "last_name", "email", "section"])
    for student, (first, last, section) in CLASS.items():
        writer.writerow([student, first, last, f"{student}@example.edu", section])
    return out.getvalue()


def _labelled(notebook: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    """A cell of the student's own, labelled with ``grade_id``: the review flags its
    import, and the flag is labelled with the grade_id."""
    marked = nbformat.from_dict(notebook)
    cell = nbformat.v4.new_code_cell("import os\nprint(os.sep)")
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": grade_id, "locked": False,
                                 "schema_version": 3, "solution": False, "task": False}
    marked.cells.insert(3, cell)
    return marked


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    require_bwrap()
    tmp = tmp_path_factory.mktemp("student-text")
    root = tmp / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    source = nbformat.read(root / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
    release = nbformat.read(ROOT / "release" / FIRST.name / FIRST.notebook_file, as_version=4)
    (tmp / "class.csv").write_text(_roster_csv(), encoding="utf-8")
    out = {"import": _cli(root, "roster", "import", str(tmp / "class.csv")),
           "list": _cli(root, "roster", "list")}

    # By folder: ann's and di's labelled notebooks and a note with escapes in its name;
    # a flat file whose "student id" is an escape sequence.
    inbox = tmp / "inbox"
    for student, grade_id in (("ann", EVIL_ID), ("di", "-1")):
        (inbox / student).mkdir(parents=True)
        nbformat.write(_labelled(source, grade_id), inbox / student / FIRST.notebook_file)
    (inbox / "ann" / f"notes{ESCAPES}.txt").write_text("hi", encoding="utf-8")
    nbformat.write(release, inbox / f"\x1b[2J_1_2_{FIRST.notebook_file}")
    out["collect"] = _cli(root, "collect", str(inbox), code=None)

    # A folder in nbgrader's exchange named with escapes: nothing to collect.
    inbound = tmp / "exchange" / "miniflow" / "inbound"
    (inbound / f"{ESCAPES}+{FIRST.name}+2020-01-01 09:00:00.000000 UTC+def").mkdir(
        parents=True)
    out["exchange"] = _cli(root, "collect", "--exchange-root", str(tmp / "exchange"),
                           FIRST.name, code=None)
    # hal's submission as the exchange hands it over: the blank notebook and an extra
    # file named with escapes, which grade names ("ignored extra files").
    handed = root / "submitted" / "hal" / FIRST.name
    handed.mkdir(parents=True)
    nbformat.write(release, handed / FIRST.notebook_file)
    (handed / f"extra{ESCAPES}.txt").write_text("x", encoding="utf-8")

    out["grade"] = _cli(root, "grade", "--workers", "2", "--sandbox", "bwrap")
    out["flags"] = _cli(root, "flags")
    out["export"] = _cli(root, "export", "--to", str(root / "grades.csv"))
    return {"root": root, "out": out, "rows": _rows(root / "grades.csv")}


def test_nothing_the_commands_print_is_a_control_character(term):
    for command, done in term["out"].items():
        assert not _controls(done.stdout), (command, done.stdout)
        # grade's own progress bar redraws its line with a carriage return
        stderr = done.stderr.replace("\r  [", "  [") if command == "grade" else done.stderr
        assert not _controls(stderr), (command, done.stderr)


def test_the_escapes_are_shown_not_run(term):
    out = term["out"]
    shown = terminal_text(ESCAPES)
    assert f"Grey{terminal_text(IN_A_NAME)}" in out["list"].stdout
    assert f"Grey{terminal_text(IN_A_NAME)}" in out["collect"].stdout  # submitted nothing
    # collect names what it did not take, its escapes shown (\r may read \x0d there)
    assert "notes\\x1b]0;pwned\\x07\\x1b[2J" in out["collect"].stdout
    assert "\\x1b[2J_1_2_" in out["collect"].stdout
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out["exchange"].stdout
    assert f"extra{shown}.txt" in out["grade"].stdout
    assert f"  - {terminal_text(EVIL_ID)}, line 1: imports os" in out["flags"].stdout


def test_an_honest_name_prints_as_before(term):
    listed = term["out"]["list"].stdout.splitlines()
    assert f"{'hal':16} {'Honest':18} {'Hal':16} {'B':10} hal@example.edu" in listed
    assert f"{'fay':16} {COMMA_QUOTE:18} {QUOTED:16} {'B':10} fay@example.edu" in listed


def test_every_student_cell_of_the_export_is_safe_and_reads_back(term):
    rows = {r["student_id"]: r for r in term["rows"] if r["assignment"] == FIRST.name}
    assert set(CLASS) <= set(rows)
    for row in rows.values():
        for column, cell in row.items():
            if column in EXPORT_NUMBERS:
                assert cell == "" or float(cell) >= 0, (column, cell)
            else:
                assert _safe(cell), (column, cell)
    for student, (first, last, section) in CLASS.items():
        first = first.strip()  # the roster keeps no blanks around a name
        last = last.strip()
        row = rows[student]
        assert row["first_name"] == csv_cell(first), student
        assert row["last_name"] == csv_cell(last), student
        assert row["section"] == csv_cell(section), student
    assert rows["ann"]["first_name"] == "'=cmd|' /C calc'!A0"
    assert rows["bob"]["first_name"] == "'@SUM(1+1)" and rows["bob"]["section"] == "'=1+2"
    assert (rows["cy"]["first_name"], rows["di"]["first_name"]) == ("'+1", "'-2")
    assert rows["di"]["last_name"] == "'=Dunn"
    # Honest data is exactly as it was: a comma and quotes read back.
    assert rows["fay"]["last_name"] == COMMA_QUOTE and rows["fay"]["first_name"] == QUOTED
    assert (rows["hal"]["first_name"], rows["hal"]["last_name"], rows["hal"]["email"],
            rows["hal"]["section"]) == ("Hal", "Honest", "hal@example.edu", "B")
    assert rows["gus"]["last_name"] == "Grey" + IN_A_NAME  # data, kept: it is only printed safe


def test_a_flag_labelled_with_a_formula_is_text_in_the_export(term):
    rows = {r["student_id"]: r for r in term["rows"] if r["assignment"] == FIRST.name}
    flags = rows["ann"]["flags"]
    assert flags.startswith("'" + EVIL_ID) and "imports os" in flags
    assert rows["di"]["flags"] == "'-1, line 1: imports os"
    # nbgrader's autograde fails on a cell of the student's own with nbgrader metadata
    # (KeyError 'grade_id'): the review's flags are kept all the same, for a person.
    assert rows["ann"]["status"] == rows["di"]["status"] == "needs review"
    assert rows["hal"]["flags"] == ""


def test_plain_nbgrader_export_writes_the_same_safe_file(term):
    root = term["root"]
    plain = root / "plain.csv"
    run_nbgrader(["export", "--to", str(plain)], root)
    assert plain.read_bytes() == (root / "grades.csv").read_bytes()
    # nbgrader's columns alone (the plugin without a course root): safe too.
    run_nbgrader(["export", "--to", str(plain), "--CourseExportPlugin.course_root="], root)
    rows = {r["student_id"]: r for r in _rows(plain) if r["assignment"] == FIRST.name}
    assert "flags" not in next(iter(rows.values()))
    for row in rows.values():
        assert all(_safe(cell) for column, cell in row.items() if column not in EXPORT_NUMBERS)
    assert rows["ann"]["first_name"] == "'=cmd|' /C calc'!A0"
    assert rows["fay"]["last_name"] == COMMA_QUOTE
    assert rows["hal"]["last_name"] == "Honest"
