"""A JupyterHub term on one machine, through nbgrader's exchange, with real commands.

The instructor releases the first assignment to an exchange folder; two
students, each with a home, a Jupyter configuration and a working folder of
their own (what a hub gives every user), fetch it, work and submit (alice
three times: a blank notebook, then one exercise done, then, after the due
date, everything; bob once, late). The instructor collects from the
exchange with ``python -m autograder collect --exchange`` (alice's last
submission made by the due date counts, bob's late one is taken as late),
grades, writes feedback and releases it with ``nbgrader
release_feedback``; each student's ``nbgrader fetch_feedback`` finds their
page. This is the proof behind docs/jupyterhub.md.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from autograder.core.manifest import load_manifest
from autograder.pipeline.grading import copy_course_skeleton
from autograder.record.late import read_timestamp

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]
SOURCE = nbformat.read(ROOT / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
EXERCISE = "mul"  # the exercise alice finishes before the due date
STUDENT_CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = "miniflow"
c.Exchange.root = {root!r}
# On a hub the student is the logged-in user; here one account plays both.
c.CourseDirectory.student_id = {student!r}
"""


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600
         ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


class Student:
    """One hub user: a home, a Jupyter config dir and a working folder of their own."""

    def __init__(self, base: Path, name: str, exchange: Path) -> None:
        self.name, self.home = name, base / name
        self.work = self.home / "work"
        config = self.home / ".jupyter"
        for folder in (self.work, config):
            folder.mkdir(parents=True)
        (config / "nbgrader_config.py").write_text(
            STUDENT_CONFIG.format(root=str(exchange), student=name))
        self.env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
                    "HOME": str(self.home), "JUPYTER_CONFIG_DIR": str(config),
                    "LANG": "C.UTF-8"}

    def nbgrader(self, *args: str) -> str:
        done = _run(["-m", "nbgrader", *args], self.work, self.env, timeout=120)
        return done.stdout + done.stderr

    @property
    def notebook(self) -> Path:
        return self.work / FIRST.name / FIRST.notebook_file

    def answer(self, exercises: list[str]) -> None:
        """Paste the solution of ``exercises`` into the fetched notebook, as a student types."""
        solutions = {c.metadata.nbgrader["grade_id"]: c.source for c in SOURCE.cells
                     if c.metadata.get("nbgrader", {}).get("solution")}
        notebook = nbformat.read(self.notebook, as_version=4)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in exercises:
                cell.source = solutions[grade_id]
        nbformat.write(notebook, self.notebook)


def _set_due(root: Path, due: datetime) -> None:
    manifest = root / "course" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace(
        f'due = "{FIRST.due}"', f'due = "{due:%Y-%m-%d %H:%M:%S}"', 1))


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    base = tmp_path_factory.mktemp("hub")
    root, exchange = base / "course", base / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # what the guide asks of the hub's exchange folder
    copy_course_skeleton(ROOT, root, [FIRST])
    manifest = root / "course" / "manifest.toml"
    manifest.write_text(manifest.read_text() + '\n[late]\npolicy = "per_day"\nper_day = 1\n')
    instructor = {**os.environ, "MINIFLOW_EXCHANGE": str(exchange),
                  "MINIFLOW_CELL_TIMEOUT": "10",
                  "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    _run(["-m", "autograder", "release", FIRST.name, "--skip-selfcheck"], root, instructor)
    released = _run(["-m", "nbgrader", "release_assignment", FIRST.name], root, instructor)
    alice, bob = Student(base, "alice", exchange), Student(base, "bob", exchange)
    for student in (alice, bob):
        student.nbgrader("fetch_assignment", FIRST.name)
    alice.nbgrader("submit", FIRST.name)           # the blank notebook, by mistake
    alice.answer([EXERCISE])
    alice.nbgrader("submit", FIRST.name)           # one exercise done: on time
    # The due date falls here: the next whole second.
    due = datetime.fromtimestamp(math.ceil(time.time()), UTC).replace(tzinfo=None)
    _set_due(root, due)
    time.sleep(max(0.0, due.replace(tzinfo=UTC).timestamp() - time.time()) + 0.2)
    alice.answer(sorted({c.metadata.nbgrader["grade_id"] for c in SOURCE.cells
                         if c.metadata.get("nbgrader", {}).get("solution")}))
    alice.nbgrader("submit", FIRST.name)           # everything, but after the due date
    bob.answer(sorted({c.metadata.nbgrader["grade_id"] for c in SOURCE.cells
                       if c.metadata.get("nbgrader", {}).get("solution")}))
    bob.nbgrader("submit", FIRST.name)             # everything, late
    # One Unix account plays every student here, so the exchange's owners cannot tell them
    # apart: the escape hatch a hub of containers needs (tests/test_collect_boundary.py
    # collects with the check, from real accounts).
    trusting = ["-m", "autograder", "collect", "--exchange", "--trust-exchange-owners"]
    collected = _run(trusting, root, instructor).stdout
    again = _run(trusting, root, instructor).stdout
    graded = _run(["-m", "autograder", "grade", FIRST.name, "--workers", "2"], root,
                  instructor).stdout
    _run(["-m", "autograder", "feedback", FIRST.name], root, instructor)
    release_feedback = _run(["-m", "nbgrader", "release_feedback", FIRST.name], root,
                            instructor)
    fetched = {s.name: s.nbgrader("fetch_feedback", FIRST.name) for s in (alice, bob)}
    return {"root": root, "exchange": exchange, "due": due, "alice": alice, "bob": bob,
            "released": released.stdout + released.stderr, "collected": collected,
            "again": again, "graded": graded, "fetched": fetched,
            "release_feedback": release_feedback.stdout + release_feedback.stderr}


def _inbound(term, student: str) -> list[Path]:
    inbound = term["exchange"] / "miniflow" / "inbound"
    return sorted((p for p in inbound.iterdir() if p.name.startswith(f"{student}+")),
                  key=lambda p: read_timestamp(p / "timestamp.txt"))


def test_release_goes_to_the_configured_exchange(term):
    assert (term["exchange"] / "miniflow" / "outbound" / FIRST.name /
            FIRST.notebook_file).is_file()
    assert term["alice"].notebook.is_file()


def test_collect_takes_the_last_submission_made_by_the_due_date(term):
    alice = _inbound(term, "alice")
    assert len(alice) == 3
    submitted = term["root"] / "submitted" / "alice" / FIRST.name
    chosen = alice[1]
    assert read_timestamp(submitted / "timestamp.txt") == read_timestamp(
        chosen / "timestamp.txt")
    assert (submitted / "timestamp.txt").read_text() == (chosen / "timestamp.txt").read_text()
    assert (submitted / "submission_secret.txt").read_text() == \
        (chosen / "submission_secret.txt").read_text()
    assert (submitted / FIRST.notebook_file).read_bytes() == \
        (chosen / FIRST.notebook_file).read_bytes()
    assert "the last of 2 made by the due date" in term["collected"]
    assert "1 later one(s) not taken" in term["collected"]
    assert "none of 1 was made by the due date" in term["collected"]
    assert "already collected" in term["again"] and "collected 0 notebook(s)" in term["again"]


def test_grades_count_the_exercise_done_in_time_and_charge_the_late_one(term):
    root = term["root"]
    results = {r["student"]: r for r in __import__("json").loads(
        (root / "autograded" / "results.json").read_text())}
    exercise = sum(float(c.metadata.nbgrader["points"]) for c in SOURCE.cells
                   if c.metadata.get("nbgrader", {}).get("grade")
                   and c.metadata.nbgrader["grade_id"].startswith(f"test_{EXERCISE}"))
    assert results["alice"]["score"] == exercise
    assert results["alice"]["late"]["seconds_late"] == 0
    assert results["bob"]["late"]["seconds_late"] > 0
    assert results["bob"]["late"]["penalty"] == 1
    assert results["bob"]["score"] == FIRST.points - 1
    assert "[LATE:" in next(line for line in term["graded"].splitlines() if "bob" in line)


def test_students_fetch_their_own_feedback_page(term):
    for name, score in (("alice", None), ("bob", FIRST.points - 1)):
        student = term[name]
        pages = list((student.work / FIRST.name / "feedback").rglob("*.html"))
        assert len(pages) == 1, (term["fetched"][name], term["release_feedback"])
        page = pages[0].read_text()
        assert f"student {name}" in page
        if score is not None:
            assert f"Score: <b>{score:g} / {FIRST.points:g}</b>" in page
            assert "late: -1 points" in page
        else:
            assert ": on time" in page
        # fetch_feedback files the page under the time of the submission it answers.
        stamp = (term["root"] / "submitted" / name / FIRST.name / "timestamp.txt").read_text()
        assert pages[0].parent.name == stamp


def test_the_inbound_folder_is_read_as_student_written_input(tmp_path):
    """Students write the inbound folder: no path, link or odd name reaches the course."""
    from autograder.collect import collect_exchange

    root = tmp_path / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    course = load_manifest(root)
    inbound = tmp_path / "exchange" / "miniflow" / "inbound"
    secret = tmp_path / "instructor-only.ipynb"
    nbformat.write(SOURCE, secret)
    when = "2027-01-10 10:00:00.000000 UTC"
    linker = inbound / f"mallory+{FIRST.name}+{when}+abc"
    linker.mkdir(parents=True)
    (linker / FIRST.notebook_file).symlink_to(secret)
    (linker / "timestamp.txt").write_text(when)
    climber = inbound / f"..+{FIRST.name}+{when}+abc"
    climber.mkdir()
    (climber / FIRST.notebook_file).write_text("{}")
    (inbound / "not-a-submission").mkdir()
    # mallory is no account here: links and names are what this test is about.
    report = collect_exchange(course, tmp_path / "exchange", trust_owners=True)
    reasons = dict(report.skipped)
    assert "holds no notebook" in reasons[linker.name]
    assert "is not a student id" in reasons[climber.name]
    assert "not an nbgrader submission" in reasons["not-a-submission"]
    assert "symbolic links left out: graphs.ipynb" in "\n".join(report.lines())
    assert not report.placed
    assert not [p for p in (root / "submitted").rglob("*")], "nothing is left behind"
    assert not (root / "01_graphs").exists() and not (tmp_path / FIRST.name).exists()
