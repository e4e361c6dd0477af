"""LMS exports as they come (issue 32, point 1): Canvas's and Moodle's names mapped to the
roster's ids, through its lms_login / lms_user_id columns, full names or lms-map.csv; an
upload that maps to nobody is staged for review, never filed under a made-up id."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.collect import collect
from autograder.collect.lms import LMS_MAP, add_to_lms_map
from autograder.core.manifest import load_manifest
from autograder.publish.roster import RosterError

ROOT = Path(__file__).resolve().parents[3]
ROSTER = """id,first_name,last_name,email,section,lms_login,lms_user_id
ava,Ava,Abbott,ava@example.edu,A,abbottava,
ben,Ben,Birch,ben@example.edu,A,,12346
cal,Cal,Cole,cal@example.edu,B,,
dee,Dee,Dunn,dee@example.edu,B,,
zed,Zedekiah,Zimmer,zed@example.edu,B,,
"""


@pytest.fixture
def course(tmp_path):
    (tmp_path / "course").mkdir()
    shutil.copy2(ROOT / "course" / "manifest.toml", tmp_path / "course" / "manifest.toml")
    shutil.copy2(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    return load_manifest(tmp_path)


def _notebook(text: str = "print(1)") -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(text)]
    return nbformat.writes(notebook)


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_a_canvas_zip_is_filed_under_roster_ids_by_login_user_id_or_id(course, tmp_path):
    first = course.assignments[0]
    export = _zip(tmp_path / "canvas.zip", {
        # Canvas: login[_LATE]_userid_submissionid_file
        f"abbottava_LATE_12345_67890_{first.notebook}.ipynb": _notebook("'ava'"),
        f"birchben_12346_67891_{first.notebook}-1.ipynb": _notebook("'ben'"),
        f"cal_12347_67892_{first.notebook}.ipynb": _notebook("'cal'"),
    })
    report = collect(course, export)
    assert report.unmapped == []
    assert sorted(s for s, _, _ in report.placed) == ["ava", "ben", "cal"]
    submitted = course.root / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == ["ava", "ben", "cal"]
    assert "'ben'" in (submitted / "ben" / first.name / first.notebook_file).read_text()
    assert (submitted / "ava" / first.name / "lms_late.txt").is_file(), "LATE is kept"


def test_a_moodle_zip_is_filed_under_roster_ids_by_full_name(course, tmp_path):
    first = course.assignments[0]
    export = _zip(tmp_path / "moodle.zip", {
        # Moodle: Full Name_participantid_assignsubmission_file_/file
        f"Ava Abbott_700000_assignsubmission_file_/{first.notebook_file}": _notebook(),
        f"Dee  DUNN_700003_assignsubmission_file_/{first.notebook_file}": _notebook(),
    })
    report = collect(course, export)
    assert sorted(s for s, _, _ in report.placed) == ["ava", "dee"]
    assert report.unmapped == []


def test_an_upload_that_maps_to_nobody_is_staged_and_nothing_is_collected(course, tmp_path):
    first = course.assignments[0]
    export = _zip(tmp_path / "moodle.zip", {
        f"Ava Abbott_700000_assignsubmission_file_/{first.notebook_file}": _notebook(),
        f"Zed Zimmer_700009_assignsubmission_file_/{first.notebook_file}": _notebook("'zed'"),
    })
    report = collect(course, export)
    assert report.placed == []
    assert not (course.root / "submitted").exists(), "nothing is written under any id"
    assert [(u[1], u[3]) for u in report.unmapped] == [
        ("Zed Zimmer", "collect-review/Moodle-700009.ipynb")]
    staged = course.root / "collect-review" / "Moodle-700009.ipynb"
    assert "'zed'" in staged.read_text(encoding="utf-8")
    text = "\n".join(report.lines())
    assert "could not map 1 upload(s) to a roster student, so nothing was collected" in text
    assert "no roster student has the Moodle name 'Zed Zimmer'" in text
    assert "python -m autograder roster map 'Zed Zimmer' STUDENT_ID" in text

    # The instructor maps the name, and collects again: now everyone is taken in.
    add_to_lms_map(course, "Zed Zimmer", "zed")
    assert "zed zimmer,zed" in (course.root / LMS_MAP).read_text(encoding="utf-8")
    again = collect(course, export)
    assert again.unmapped == []
    assert sorted(s for s, _, _ in again.placed) == ["ava", "zed"]


def test_a_name_two_roster_students_share_is_not_guessed(course, tmp_path):
    (course.root / "roster.csv").write_text(
        ROSTER + "ava2,Ava,Abbott,ava2@example.edu,B,,\n", encoding="utf-8")
    course = load_manifest(course.root)
    export = _zip(tmp_path / "moodle.zip", {
        f"Ava Abbott_700000_assignsubmission_file_/{course.assignments[0].notebook_file}":
            _notebook()})
    report = collect(course, export)
    assert report.placed == [] and "two roster students are called 'Ava Abbott'" in \
        report.unmapped[0][2]


def test_a_moodle_full_name_without_a_roster_is_staged_not_dropped(course, tmp_path):
    (course.root / "roster.csv").unlink()
    export = _zip(tmp_path / "moodle.zip", {
        f"Ava Abbott_700000_assignsubmission_file_/{course.assignments[0].notebook_file}":
            _notebook()})
    report = collect(course, export)
    assert report.placed == []
    assert "there is no roster to map the Moodle name to" in report.unmapped[0][2]


def test_only_a_roster_student_can_be_mapped_to(course):
    with pytest.raises(RosterError, match="'nobody' is not on the roster"):
        add_to_lms_map(course, "Zed Zimmer", "nobody")
    assert not (course.root / LMS_MAP).exists()


def test_the_command_line_exits_non_zero_and_roster_map_resolves_it(course, tmp_path):
    first = course.assignments[0]
    export = _zip(tmp_path / "canvas.zip", {
        f"zimmerz_12399_67899_{first.notebook}.ipynb": _notebook()})

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=course.root,
                              capture_output=True, text=True, timeout=120)

    refused = cli("collect", str(export))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "roster map zimmerz STUDENT_ID" in refused.stdout
    mapped = cli("roster", "map", "zimmerz", "zed")
    assert mapped.returncode == 0, mapped.stderr
    collected = cli("collect", str(export))
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert (course.root / "submitted" / "zed" / first.name / first.notebook_file).is_file()


def test_a_name_that_is_no_login_or_name_is_skipped_as_before_not_staged(course, tmp_path):
    """Escape sequences are not an LMS's name for anyone: such a file is skipped with its
    reason (as before), and does not hold up the rest of the class."""
    first = course.assignments[0]
    export = _zip(tmp_path / "canvas.zip", {
        f"\x1b[2J_1_2_{first.notebook}.ipynb": _notebook(),
        f"Eve\x1b]0;x\x07_7_assignsubmission_file_/{first.notebook_file}": _notebook(),
        f"abbottava_12345_67890_{first.notebook}.ipynb": _notebook(),
    })
    report = collect(course, export)
    assert report.unmapped == []
    assert [s for s, _, _ in report.placed] == ["ava"]
    assert len(report.skipped) == 2
    assert all("cannot read a student id" in reason for _, reason in report.skipped)
