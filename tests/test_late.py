"""Late work: the manifest's policy and extensions, kept submission times, and the same
penalty on both grading paths.

The rules (``autograder.record.late.lateness``) are checked at their boundaries
without grading; then one small class of solutions of the first assignment,
submitted at chosen times, is graded for real by ``grade`` and, for two of
them, by plain ``nbgrader autograde`` in a second course: the scores, the
penalties and nbgrader's own export must agree.
"""

from __future__ import annotations

import csv
import shutil
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
import pytest

from autograder.collect import collect
from autograder.core.manifest import ManifestError, load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.publish.export import add_late_columns
from autograder.publish.feedback import write_feedback
from autograder.record.late import format_timestamp, lateness, read_timestamp
from autograder.record.load import load_results

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]
DUE = datetime.strptime(FIRST.due, "%Y-%m-%d %H:%M:%S")  # the manifest's zone is UTC
SOURCE = nbformat.read(ROOT / "source" / FIRST.name / FIRST.notebook_file, as_version=4)

POLICY = f"""
[late]
policy = "per_day"
per_day = 2
unit = "points"
max_penalty = 5
cutoff_days = 3

[[extension]]
student = "extended"
assignment = "{FIRST.name}"
days = 2
"""


def _course(root: Path, extra: str = POLICY):
    """A course folder with the real manifest plus ``extra`` TOML and the real config."""
    (root / "course").mkdir(parents=True, exist_ok=True)
    text = (ROOT / "course" / "manifest.toml").read_text()
    (root / "course" / "manifest.toml").write_text(text + extra)
    shutil.copy2(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    return load_manifest(root)


# --- the rules, at their boundaries --------------------------------------------------------


@pytest.fixture
def course(tmp_path):
    return _course(tmp_path)


@pytest.mark.parametrize("student, after, penalty, days", [
    ("alice", timedelta(0), 0.0, 0),                     # exactly at the due time: on time
    ("alice", timedelta(seconds=1), 2.0, 1),             # one second late: one started day
    ("alice", timedelta(days=1, seconds=1), 4.0, 2),     # two started days
    ("alice", timedelta(days=2, hours=12), 5.0, 3),      # 6 points, capped at 5
    ("alice", timedelta(days=3), 5.0, 3),                # exactly at the cutoff: still capped
    ("alice", timedelta(days=3, seconds=1), 10.0, 4),    # past the cutoff: everything
    ("extended", timedelta(days=2), 0.0, 0),             # within the extension
    ("extended", timedelta(days=2, seconds=1), 2.0, 1),  # one second past the extension
])
def test_penalty_at_the_boundaries(course, student, after, penalty, days):
    late = lateness(course, FIRST.name, student, DUE + after, score=10.0)
    assert late.penalty == penalty
    assert late.days_late == days
    assert late.seconds_late == max(0.0, (after - (
        timedelta(days=2) if student == "extended" else timedelta(0))).total_seconds())
    assert late.cutoff == (student == "alice" and after > timedelta(days=3))


def test_a_penalty_never_exceeds_the_score_and_fractions_scale_with_points(tmp_path):
    course = _course(tmp_path, '[late]\npolicy = "per_day"\nper_day = 0.25\nunit = "fraction"\n'
                               'grace_minutes = 10\n')
    assert lateness(course, FIRST.name, "a", DUE + timedelta(hours=1), 10.0).penalty == 2.5
    assert lateness(course, FIRST.name, "a", DUE + timedelta(hours=1), 1.0).penalty == 1.0
    within_grace = lateness(course, FIRST.name, "a", DUE + timedelta(minutes=10), 10.0)
    assert within_grace.penalty == 0 and within_grace.seconds_late == 600


def test_no_policy_records_lateness_without_a_penalty(tmp_path):
    course = _course(tmp_path, "")
    late = lateness(course, FIRST.name, "a", DUE + timedelta(days=9), 10.0)
    assert late.penalty == 0 and late.seconds_late == 9 * 86400
    assert late.due == DUE.isoformat() + "+00:00"


def test_per_assignment_override_and_until_extension(tmp_path):
    _course(tmp_path, f"""
[late]
policy = "per_day"
per_day = 1

[[extension]]
student = "bob"
assignment = "{FIRST.name}"
until = "{(DUE + timedelta(hours=5)):%Y-%m-%d %H:%M:%S}"
""")
    manifest = tmp_path / "course" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace(
        f'name = "{FIRST.name}"\n', f'name = "{FIRST.name}"\nlate = {{ per_day = 3 }}\n', 1))
    course = load_manifest(tmp_path)
    assert lateness(course, FIRST.name, "a", DUE + timedelta(seconds=1), 10.0).penalty == 3
    second = course.assignments[1].name
    assert lateness(course, second, "a", datetime.strptime(
        course.assignments[1].due, "%Y-%m-%d %H:%M:%S") + timedelta(seconds=1),
        10.0).penalty == 1
    assert lateness(course, FIRST.name, "bob", DUE + timedelta(hours=5), 10.0).penalty == 0


@pytest.mark.parametrize("extra, message", [
    ('[late]\npolicy = "weekly"\n', 'must be "none" or "per_day"'),
    ('[late]\npolicy = "per_day"\n', "needs per_day"),
    ('[late]\nper_day = -1\n', "must be a number, 0 or more"),
    ('[late]\npenalty = 1\n', "unknown key(s) penalty"),
    ('[late]\npolicy = "per_day"\nper_day = 10\nunit = "fraction"\n', "write 0.1 for 10%"),
    ('[[extension]]\nstudent = "a"\nassignment = "nope"\ndays = 1\n', "no assignment called"),
    (f'[[extension]]\nstudent = "a"\nassignment = "{FIRST.name}"\n', "needs either until"),
    (f'[[extension]]\nstudent = "a"\nassignment = "{FIRST.name}"\nuntil = "2000-01-01 00:00:00"'
     "\n", "is not after the due date"),
    (f'[[extension]]\nstudent = "a"\nassignment = "{FIRST.name}"\nuntil = "tomorrow"\n',
     "must look like 2027-01-20 23:59:00"),
    (f'[[extension]]\nstudent = "a"\nassignment = "{FIRST.name}"\ndays = 1\n' * 2,
     "already has an extension"),
])
def test_bad_late_rules_are_refused_with_the_fix(tmp_path, extra, message):
    with pytest.raises(ManifestError) as error:
        _course(tmp_path, extra)
    assert message in str(error.value)


def test_due_dates_are_read_in_the_course_time_zone(tmp_path):
    course = _course(tmp_path)
    text = (tmp_path / "course" / "manifest.toml").read_text()
    (tmp_path / "course" / "manifest.toml").write_text(
        text.replace('timezone = "UTC"', 'timezone = "Europe/Berlin"'))
    course = load_manifest(tmp_path)
    # 23:59 in Berlin in January is 22:59 UTC: a submission at 23:30 UTC is late.
    late = lateness(course, FIRST.name, "a", DUE - timedelta(minutes=29), 10.0)
    assert late.seconds_late == 31 * 60
    (tmp_path / "course" / "manifest.toml").write_text(
        text.replace('timezone = "UTC"', 'timezone = "Mars/Olympus"'))
    with pytest.raises(ManifestError, match="is not a time zone"):
        load_manifest(tmp_path)


# --- collect keeps the time it is given -----------------------------------------------------


def _notebook(text: str = "print(1)") -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(text)]
    return nbformat.writes(notebook)


def _submitted(course, student: str) -> Path:
    return course.root / "submitted" / student / FIRST.name


def test_zip_times_become_timestamps_and_canvas_late_markers_are_kept(course, tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        info = zipfile.ZipInfo(f"alice/{FIRST.notebook_file}", date_time=(2027, 1, 19, 8, 0, 0))
        z.writestr(info, _notebook())
        z.writestr(f"carol_LATE_1234_5678_{FIRST.notebook}.ipynb", _notebook())
        z.writestr(f"dave_1234_5679_{FIRST.notebook}.ipynb", _notebook())
    report = collect(course, archive)
    assert sorted(s for s, _, _ in report.placed) == ["alice", "carol", "dave"]
    assert read_timestamp(_submitted(course, "alice") / "timestamp.txt") == datetime(
        2027, 1, 19, 8, 0, 0)
    text = "\n".join(report.lines())
    assert "LATE" in text and "Canvas stamps every file" in text
    # Canvas's zip times are the time of the download: not kept; its LATE marker is.
    assert not (_submitted(course, "carol") / "timestamp.txt").exists()
    assert "LATE" in (_submitted(course, "carol") / "lms_late.txt").read_text()
    assert not (_submitted(course, "dave") / "timestamp.txt").exists()
    assert not (_submitted(course, "dave") / "lms_late.txt").exists()


def test_a_timestamp_beside_the_notebook_is_kept_and_a_stale_one_removed(course, tmp_path):
    inbox = tmp_path / "inbox" / "alice"
    inbox.mkdir(parents=True)
    (inbox / FIRST.notebook_file).write_text(_notebook())
    (inbox / "timestamp.txt").write_text("2027-01-19 01:00:00.000000 UTC")
    report = collect(course, tmp_path / "inbox", folder_timestamps=True)  # the instructor's
    assert not report.skipped, "timestamp.txt is not reported as a stray file"
    stamp = _submitted(course, "alice") / "timestamp.txt"
    assert read_timestamp(stamp) == datetime(2027, 1, 19, 1, 0, 0)
    assert "LATE" in "\n".join(report.lines())
    (inbox / "timestamp.txt").unlink()
    collect(course, tmp_path / "inbox", force=True, folder_timestamps=True)
    assert not stamp.exists(), "a replaced notebook must not keep the old submission time"


def test_an_unreadable_timestamp_is_reported_not_guessed(course, tmp_path):
    inbox = tmp_path / "inbox" / "alice"
    inbox.mkdir(parents=True)
    (inbox / FIRST.notebook_file).write_text(_notebook())
    (inbox / "timestamp.txt").write_text("yesterday-ish")
    report = collect(course, tmp_path / "inbox", folder_timestamps=True)
    assert "does not hold a time nbgrader can read" in "\n".join(report.lines())
    assert not (_submitted(course, "alice") / "timestamp.txt").exists()


# --- graded for real: our path and plain nbgrader agree --------------------------------------

CLASS = {  # student -> submitted this long after the due date
    "ontime": timedelta(0),
    "onesec": timedelta(seconds=1),
    "extended": timedelta(days=1),
    "cutoff": timedelta(days=3, hours=1),
}
EXPECTED = {"ontime": 0.0, "onesec": 2.0, "extended": 0.0, "cutoff": 10.0}


def _submit(root: Path, students) -> None:
    for student in students:
        folder = root / "submitted" / student / FIRST.name
        folder.mkdir(parents=True)
        nbformat.write(SOURCE, folder / FIRST.notebook_file)
        (folder / "timestamp.txt").write_text(format_timestamp(DUE + CLASS[student]))


def _nbgrader_export(root: Path) -> Path:
    """Plain ``nbgrader export``: what a spreadsheet gets without our CLI."""
    target = root / "nbgrader-export.csv"
    run_nbgrader(["export", "--to", str(target)], root)
    return target


def _rows(target: Path) -> dict[str, dict]:
    with open(target, newline="", encoding="utf-8") as handle:
        return {r["student_id"]: r for r in csv.DictReader(handle)
                if r["assignment"] == FIRST.name}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIFLOW_CELL_TIMEOUT", "10")
        ours = tmp_path_factory.mktemp("ours")
        copy_course_skeleton(ROOT, ours, [FIRST])
        (ours / "course" / "manifest.toml").write_text(
            (ROOT / "course" / "manifest.toml").read_text() + POLICY)
        run_nbgrader(["generate_assignment", FIRST.name, "--force"], ours)
        course = load_manifest(ours)
        _submit(ours, CLASS)
        results = {r.student: r for r in grade(course, [FIRST], students=None, workers=2)}
        plain = tmp_path_factory.mktemp("plain")
        copy_course_skeleton(ROOT, plain, [FIRST])
        (plain / "course" / "manifest.toml").write_text(
            (ROOT / "course" / "manifest.toml").read_text() + POLICY)
        run_nbgrader(["generate_assignment", FIRST.name, "--force"], plain)
        _submit(plain, ["onesec", "cutoff"])
        run_nbgrader(["autograde", FIRST.name, "--force"], plain)
        yield {"course": course, "results": results, "plain": plain,
               "exported": _nbgrader_export(ours), "plain_exported": _nbgrader_export(plain)}


def test_grade_takes_the_policy_off_the_score(graded):
    for student, result in graded["results"].items():
        assert result.status == "graded", (student, result.notes)
        assert result.late.penalty == EXPECTED[student], student
        assert result.score == FIRST.points - EXPECTED[student], student
        assert sum(c.score for c in result.cells) == FIRST.points, "cells keep their points"
    assert graded["results"]["ontime"].late.seconds_late == 0
    assert graded["results"]["onesec"].late.seconds_late == 1


def test_the_gradebook_export_and_results_agree_with_grade(graded):
    course = graded["course"]
    exported = _rows(graded["exported"])
    results = load_results(course)
    for student, expected in EXPECTED.items():
        row = exported[student]
        assert float(row["raw_score"]) == FIRST.points
        assert float(row["late_submission_penalty"]) == expected
        assert float(row["score"]) == FIRST.points - expected
        assert row["timestamp"].startswith(str(DUE + CLASS[student])[:19])
        assert results[(FIRST.name, student)].score == FIRST.points - expected
        assert results[(FIRST.name, student)].late.penalty == expected


def test_plain_nbgrader_autograde_charges_the_same_penalty(graded):
    plain = _rows(graded["plain_exported"])
    for student in ("onesec", "cutoff"):
        assert float(plain[student]["late_submission_penalty"]) == EXPECTED[student]
        assert float(plain[student]["score"]) == graded["results"][student].score
    # load_results reads what plain nbgrader recorded, lateness included.
    record = load_results(load_manifest(graded["plain"]))[(FIRST.name, "cutoff")]
    assert record.score == 0 and record.late.penalty == FIRST.points
    assert record.late.seconds_late == CLASS["cutoff"].total_seconds()
    assert record.late.policy == "as nbgrader autograde recorded it"
    assert record.late.days_late is None  # nbgrader does not know it


def test_feedback_and_csv_show_lateness(graded, capsys):
    course = graded["course"]
    pages = {p.parent.parent.name: p.read_text() for p in write_feedback(course, (FIRST,))}
    assert "Submitted 2027-01-22 00:59 UTC, due 2027-01-18 23:59 UTC: 3.0 days late, after " \
           "the cutoff: -10 points" in pages["cutoff"]
    assert "(with your extension)" in pages["extended"] and ": on time" in pages["extended"]
    assert ": on time" in pages["ontime"]
    target = course.root / "grades.csv"
    shutil.copyfile(graded["exported"], target)
    add_late_columns(course, target)
    with open(target, newline="", encoding="utf-8") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert rows["onesec"]["seconds_late"] == "1" and rows["onesec"]["days_late"] == "1"
    assert "per started day" in rows["onesec"]["late_policy"]
    assert rows["ontime"]["seconds_late"] == "0" and rows["ontime"]["late_policy"] == ""
    from autograder.pipeline.console import print_results

    print_results(list(graded["results"].values()))
    table = capsys.readouterr().out
    assert "[LATE: 1 s late: -2 points]" in table
    assert "[LATE" not in next(line for line in table.splitlines() if "ontime" in line)


def test_a_regrade_without_a_time_clears_the_penalty(graded):
    course = graded["course"]
    (course.root / "submitted" / "onesec" / FIRST.name / "timestamp.txt").unlink()
    (result,) = grade(course, [FIRST], students=["onesec"], workers=1)
    assert result.late is None and result.score == FIRST.points
    # The score load_results reads is the gradebook's, minus the gradebook's penalty.
    record = load_results(course)[(FIRST.name, "onesec")]
    assert record.score == FIRST.points and record.late is None
