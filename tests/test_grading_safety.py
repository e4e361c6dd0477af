"""What the instructor's side must guarantee whatever a submission does.

Real nbgrader, real worker processes, temporary courses: plain nbgrader
commands get the same sandbox and the same hidden-test-free feedback as the
CLI; export, feedback and report agree with the gradebook; a broken or
tampered gradebook stops a run before any work; a run that fails part-way
changes nothing; a module planted in the course root never runs; a killed
worker, a detached process or Ctrl-C cost at most the submission involved.
"""

from __future__ import annotations

import atexit
import csv
import hashlib
import html
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from conftest import require_bwrap

from autograder.author.release import release
from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import NbgraderError, run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.publish.feedback import write_feedback
from autograder.publish.hidden import hidden_lines
from autograder.publish.report import write_report
from autograder.record.database import GradebookError
from autograder.record.load import load_results
from autograder.run import workers

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_manifest(ROOT)
FIRST, SECOND = COURSE.assignments[0], COURSE.assignments[1]
SOURCE = nbformat.read(ROOT / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
TESTS = [c.metadata.nbgrader["grade_id"] for c in SOURCE.cells
         if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]


def _digest(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _with_cell(code: str, at: int = 2) -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(SOURCE)
    notebook.cells.insert(at, nbformat.v4.new_code_cell(code))
    return notebook


def _without_last_test() -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(SOURCE)
    notebook.cells = [c for c in notebook.cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") != TESTS[-1]]
    return notebook


#: Courses with their assignments generated, one per set of assignments, made once
#: per test process: each test copies one (``_course``) instead of running
#: nbgrader's generate_assignment again (a Python start-up and nbgrader's imports).
_GENERATED: dict[tuple[str, ...], Path] = {}


def _generated(assignments) -> Path:
    names = tuple(a.name for a in assignments)
    if names not in _GENERATED:
        template = Path(tempfile.mkdtemp(prefix="miniflow-course-")) / "course"
        atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
        copy_course_skeleton(ROOT, template, assignments)
        for name in names:
            run_nbgrader(["generate_assignment", name, "--force"], template)
        _GENERATED[names] = template
    return _GENERATED[names]


def _course(root: Path, students: dict[str, nbformat.NotebookNode],
            assignments=(FIRST,)) -> Path:
    """A course with ``assignments`` released (its gradebook and release/) and the
    students' notebooks submitted. nbgrader_config.py finds its gradebook beside it."""
    shutil.copytree(_generated(assignments), root, symlinks=True, dirs_exist_ok=True)
    for student, notebook in students.items():
        folder = root / "submitted" / student / FIRST.name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / FIRST.notebook_file)
    return root


def _cli(root: Path, *args: str, env: dict | None = None, timeout: float = 600):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _export(root: Path) -> dict[str, float]:
    target = root / "export.csv"
    run_nbgrader(["export", "--to", str(target)], root)
    with open(target, newline="", encoding="utf-8") as handle:
        return {r["student_id"]: float(r["score"]) for r in csv.DictReader(handle)
                if r["assignment"] == FIRST.name}


# --- one course graded by the CLI, one by plain nbgrader ------------------------------

PEEK = ("import json, os\nprint('PEEK ' + json.dumps({{'root': os.path.exists({root!r}), "
        "'config': os.path.exists({config!r})}}))")


@pytest.fixture(scope="module")
def both_paths(tmp_path_factory):
    """The same class graded by `grade` in one course and plain nbgrader in another."""
    require_bwrap()
    results = {}
    for path in ("cli", "plain"):
        root = tmp_path_factory.mktemp(path)
        peek = _with_cell(PEEK.format(root=str(root), config=str(root / "nbgrader_config.py")))
        _course(root, {"solution": SOURCE, "deleter": _without_last_test(), "peeker": peek})
        course = load_manifest(root)
        if path == "cli":
            grade(course, [FIRST], students=None, workers=2)
        else:
            done = run_nbgrader(["autograde", FIRST.name, "--force"], root)
            assert "sandbox" not in done.stderr.lower() or "WITHOUT" not in done.stderr
        results[path] = (root, course)
    return results


def _peek(root: Path) -> dict:
    notebook = nbformat.read(root / "autograded" / "peeker" / FIRST.name /
                             FIRST.notebook_file, as_version=4)
    import json

    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("PEEK "):
                    return json.loads(line[5:])
    raise AssertionError("the peeking cell printed nothing")


@pytest.mark.parametrize("path", ["cli", "plain"])
def test_kernels_of_both_paths_cannot_see_the_course(both_paths, path):
    root, _ = both_paths[path]
    assert _peek(root) == {"root": False, "config": False}


def test_both_paths_give_the_same_scores_including_a_restored_test(both_paths):
    cli, plain = (_export(both_paths[p][0]) for p in ("cli", "plain"))
    assert cli == plain
    assert cli["deleter"] == cli["solution"] == FIRST.points


def test_export_feedback_and_report_agree_with_the_gradebook(both_paths):
    root, course = both_paths["cli"]
    exported = _export(root)
    results = load_results(course)
    assert {s: r.score for (a, s), r in results.items() if a == FIRST.name} == exported
    for page in write_feedback(course, (FIRST,)):
        student = page.parent.parent.name
        assert f"Score: <b>{exported[student]:g} / {FIRST.points:g}</b>" in page.read_text()
    report = write_report(course).read_text()
    mean = sum(exported.values()) / len(exported)
    assert f"{len(exported)} graded, mean {mean:.2f}" in report


def test_results_graded_by_plain_nbgrader_are_read_from_the_gradebook(both_paths):
    root, course = both_paths["plain"]
    results = load_results(course)
    assert results[(FIRST.name, "solution")].score == FIRST.points
    assert results[(FIRST.name, "solution")].status == "graded"


def test_plain_generate_feedback_never_shows_a_hidden_test(both_paths):
    root, _ = both_paths["plain"]
    run_nbgrader(["generate_feedback", FIRST.name, "--force"], root)
    pages = list((root / "feedback").rglob("*.html"))
    assert len(pages) == 3
    secret = hidden_lines(SOURCE)
    for page in pages:
        text = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page.read_text()).split()))
        assert not [line for line in secret if line in text], page
        assert "most recent call last" not in text and "---->" not in text


# --- the gradebook: checked first, written all at once ------------------------------

def _set_db_url(root: Path, url: str) -> None:
    config = root / "nbgrader_config.py"
    config.write_text(config.read_text() + f"\nc.CourseDirectory.db_url = {url!r}\n")


@pytest.mark.parametrize("url, words", [
    ("postgresql+psycopg://grader@127.0.0.1:1/course", "no PostgreSQL server answers at "
     "127.0.0.1:1"),
    ("sqlite:////no/such/folder/gradebook.db", "does not exist"),
])
def test_a_gradebook_that_cannot_work_stops_release_and_grade_before_any_work(
        tmp_path, url, words):
    root = _course(tmp_path / "course", {"solution": SOURCE})
    _set_db_url(root, url)
    release_before = _digest(root / "release")
    run = _cli(root, "release", FIRST.name)
    assert run.returncode == 2 and words in run.stderr, run.stderr
    assert _digest(root / "release") == release_before
    run = _cli(root, "grade", FIRST.name)
    assert run.returncode == 2 and words in run.stderr, run.stderr
    assert not (root / "autograded").exists()


def test_a_gradebook_with_a_trigger_is_refused_and_left_alone(tmp_path):
    require_bwrap()
    root = _course(tmp_path / "course", {"solution": SOURCE})
    course = load_manifest(root)
    grade(course, [FIRST], students=None, workers=1)
    database = root / "gradebook.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TRIGGER forge AFTER UPDATE ON grade BEGIN "
                   "UPDATE grade SET auto_score = 100; END")
    before = (_digest(root / "autograded"), database.read_bytes())
    with pytest.raises(GradebookError, match="trigger 'forge'"):
        grade(course, [FIRST], students=None, workers=1)
    assert (_digest(root / "autograded"), database.read_bytes()) == before


def test_a_recording_that_fails_part_way_changes_neither_gradebook_nor_autograded(
        tmp_path, monkeypatch):
    require_bwrap()
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    root = _course(tmp_path / "course", {"ann": SOURCE, "bob": SOURCE})
    course = load_manifest(root)
    grade(course, [FIRST], students=["ann"], workers=1)
    before = (_export(root), _digest(root / "autograded"))
    assert before[0]["ann"] == FIRST.points
    # Ann resubmits a blank notebook: a half-written run would leave her a zero.
    blank = root / "release" / FIRST.name / FIRST.notebook_file
    (root / "submitted" / "ann" / FIRST.name / FIRST.notebook_file).write_bytes(
        blank.read_bytes())
    # The course's database goes away after the run's first rows were written to it
    # (the assignment generated for the run has a gradebook of its own).
    written = []
    gradebook = str(root / "gradebook.db")

    def fail_on_the_second_write(connection, cursor, statement, *args):
        if connection.engine.url.database == gradebook and \
                statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            written.append(statement)
            if len(written) == 2:
                raise RuntimeError("the database went away")

    event.listen(Engine, "before_cursor_execute", fail_on_the_second_write)
    try:
        with pytest.raises(RuntimeError, match="went away"):
            grade(course, [FIRST], students=None, workers=2)
    finally:
        event.remove(Engine, "before_cursor_execute", fail_on_the_second_write)
    assert len(written) == 2 and "submitted_assignment" in written[1]  # the run's own rows
    assert (_export(root), _digest(root / "autograded")) == before


def test_a_second_grading_run_in_the_same_course_stops_at_once(tmp_path):
    from autograder.core.lock import course_held

    root = _course(tmp_path / "course", {"ann": SOURCE})
    gradebook = (root / "gradebook.db").read_bytes()
    with course_held(root):  # a run already working here
        second = subprocess.run([sys.executable, "-m", "autograder", "grade"], cwd=root,
                                capture_output=True, text=True, timeout=120)
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"another command is working in {root}" in second.stderr
    assert "Nothing was changed" in second.stderr
    assert not (root / "autograded").exists()
    assert (root / "gradebook.db").read_bytes() == gradebook
    # Once the first run has ended, the same command grades.
    again = subprocess.run([sys.executable, "-m", "autograder", "grade"], cwd=root,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (root / "autograded" / "ann" / FIRST.name / FIRST.notebook_file).is_file()


def test_plain_nbgrader_autograde_and_grade_never_work_in_one_course_at_once(tmp_path):
    """Plain `nbgrader autograde` holds the course as `grade` does, in both directions."""
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from autograder.core.lock import course_held
    from autograder.execute.exporter import CourseHeldExporter

    root = _course(tmp_path / "course", {"ann": SOURCE})
    run_nbgrader(["autograde", FIRST.name], root)  # graded once: rows and a folder to keep
    before = (_digest(root / "autograded"), (root / "gradebook.db").read_bytes())
    with course_held(root):  # a `grade` working here
        plain = run_nbgrader(["autograde", FIRST.name, "--force"], root, check=False,
                             timeout=300)
    assert plain.returncode != 0, plain.stdout[-2000:] + plain.stderr[-2000:]
    assert f"another command is working in {root}" in plain.stderr
    assert "Nothing was changed" in plain.stderr
    # --force would have removed the graded folder before it wrote anything.
    assert (_digest(root / "autograded"), (root / "gradebook.db").read_bytes()) == before

    converter = Autograde(coursedir=CourseDirectory(
        config=Config({"CourseDirectory": {"root": str(root)}})))
    converter.exporter = CourseHeldExporter(parent=converter)  # as nbgrader's autograde starts
    second = _cli(root, "grade", timeout=120)
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"another command is working in {root}" in second.stderr
    assert (_digest(root / "autograded"), (root / "gradebook.db").read_bytes()) == before
    # The conversion ends (nothing to convert here); the process goes on, as
    # formgrader's Jupyter server does, and the exporter is still alive.
    converter.assignments = {}
    converter.convert_notebooks()
    with course_held(root):
        pass
    again = run_nbgrader(["autograde", FIRST.name, "--force"], root, timeout=300)
    assert again.returncode == 0


def test_a_release_that_fails_part_way_puts_release_back_as_it_was(tmp_path):
    root = _course(tmp_path / "course", {}, assignments=(FIRST, SECOND))
    before = _digest(root / "release")
    broken = root / "source" / SECOND.name / SECOND.notebook_file
    broken.write_text('{"cells": [ this is not a notebook', encoding="utf-8")
    course = load_manifest(root)
    with pytest.raises(NbgraderError):
        release(course, (FIRST, SECOND), selfcheck=False)  # fail in nbgrader, not before
    assert _digest(root / "release") == before


# --- the instructor's own commands ---------------------------------------------------

def test_a_module_planted_in_the_course_root_never_runs(tmp_path):
    root = _course(tmp_path / "course", {})
    marker = tmp_path / "planted-module-ran"
    for name in ("argparse.py", "csv.py", "nbformat.py"):
        (root / name).write_text(f"open({str(marker)!r}, 'a').write({name!r})\n")
    run = _cli(root, "export", "--to", str(tmp_path / "grades.csv"))
    assert run.returncode == 0, run.stderr
    assert not marker.exists(), marker.read_text()


def test_without_bubblewrap_bwrap_mode_refuses_and_says_how_to_install_it(tmp_path):
    root = _course(tmp_path / "course", {"solution": SOURCE})
    # A PATH without bwrap, as on a machine that does not have it.
    env = {"PATH": str(Path(sys.executable).parent)}
    run = _cli(root, "grade", "--sandbox", "bwrap", env=env)
    assert run.returncode == 2
    assert "apt-get install bubblewrap" in run.stderr
    assert not (root / "autograded").exists()


# --- without isolation: limits and supervision still hold -----------------------------

KILL_WORKER = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"
DAEMON = '''
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c",
                 "import time  # miniflow-attack-daemon\\nwhile True: time.sleep(1)"])
    os._exit(0)
'''
MEMORY = "hoard = bytearray(10 * 1024 ** 3)"


def _marked() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if b"miniflow-attack" in handle.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_without_isolation_a_killed_worker_or_a_daemon_costs_only_its_own_submission(
        tmp_path, monkeypatch, capsys):
    temp = Path(tempfile.mkdtemp(prefix="mfs", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    root = _course(tmp_path / "course", {
        "alice": SOURCE, "killer": _with_cell(KILL_WORKER), "daemon": _with_cell(DAEMON),
        "hoarder": _with_cell(MEMORY)})
    course = load_manifest(root)
    results = {r.student: r for r in grade(course, [FIRST], students=None, workers=2,
                                           sandbox="none")}
    assert results["alice"].score == FIRST.points and results["alice"].sandbox == "none"
    killer = results["killer"]
    assert killer.status == "error"
    assert any("grading process died" in n for n in killer.notes), killer.notes
    assert results["daemon"].score == FIRST.points
    hoarder = results["hoarder"]
    assert hoarder.score == FIRST.points  # the cell failed; the notebook went on
    time.sleep(1)
    assert _marked() == []
    assert os.listdir(temp) == []
    os.rmdir(temp)
    report = write_report(course).read_text()
    assert "graded WITHOUT isolation" in report


def test_what_the_sweep_adopts_while_it_kills_is_killed_too(tmp_path, monkeypatch):
    # A worker killed as it starts a sandbox can leave a process that forked
    # after its tree was listed; that process becomes the grader's child only
    # once its parent is dead, so the sweep looks again until none is left.
    first, late = (subprocess.Popen(["sleep", "60"]) for _ in range(2))
    scans = iter([[first.pid], [late.pid]])
    monkeypatch.setattr(workers, "children_of", lambda pid: next(scans, []))
    workers.WorkerPool(1, tmp_path, deadline=10)._sweep([])
    for process in (first, late):
        with pytest.raises(ProcessLookupError):  # killed and reaped
            os.kill(process.pid, 0)


def _answers_through_a_pipe(worker: workers.Worker, pool: workers.WorkerPool,
                            data: bytes) -> list[tuple[dict, dict]]:
    """What ``_read`` makes of ``data``, written to the worker's answer pipe by a thread."""
    import threading

    write = worker.log  # the pipe's write end, kept where the test can find it
    sender = threading.Thread(target=lambda: os.write(write, data) and None)
    sender.start()
    got, sent = [], False
    while not sent or got == []:
        sent = not sender.is_alive()
        _, answered = pool.read_answers(worker)
        got += answered
        if sent and not answered:
            break
    sender.join()
    return got


def test_the_grader_reads_an_answer_of_many_pieces_and_refuses_one_too_large(tmp_path,
                                                                            monkeypatch):
    # A notebook's outputs are capped where they arrive; behind that, the grader
    # reads an answer in one pass (it once joined every piece to the ones before:
    # a 2 GB answer stalled the class) and will not read one past MAX_ANSWER_BYTES.
    pool = workers.WorkerPool(1, tmp_path, deadline=10)
    sleeper = subprocess.Popen(["sleep", "60"])
    read, write = os.pipe()
    os.set_blocking(read, False)
    worker = workers.Worker(0, sleeper, read, write)  # type: ignore[arg-type]
    try:
        worker.task = {"id": 7}
        answer = {"id": 7, "success": True, "executed": "x" * 3_000_000}
        got = _answers_through_a_pipe(worker, pool, (json.dumps(answer) + "\n").encode())
        assert got == [({"id": 7}, answer)] and worker.task is None
        assert worker.buffer == [] and worker.buffered == 0
        monkeypatch.setattr(workers, "MAX_ANSWER_BYTES", 1_000_000)
        worker.task = {"id": 8}
        too_large = (json.dumps({"id": 8, "executed": "y" * 3_000_000}) + "\n").encode()
        assert _answers_through_a_pipe(worker, pool, too_large) == []
        assert sleeper.wait(timeout=10) == -signal.SIGKILL  # the worker is stopped...
        assert "larger than 977 KiB, too large to keep" in worker.answers[0]  # ...with why
        assert worker.buffer == [] and worker.task == {"id": 8}
    finally:
        sleeper.kill()
        os.close(read)
        os.close(write)


def test_the_cli_warns_loudly_when_grading_without_isolation(tmp_path):
    root = _course(tmp_path / "course", {"solution": SOURCE})
    run = _cli(root, "grade", "--sandbox", "none")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "WITHOUT ISOLATION" in run.stderr
    assert "solution" in run.stdout and "10/10" in run.stdout


def test_ctrl_c_during_grading_leaves_nothing_behind(tmp_path):
    temp = Path(tempfile.mkdtemp(prefix="mfc", dir="/tmp"))
    slow = _with_cell("import time  # miniflow-attack-slow\ntime.sleep(60)")
    root = _course(tmp_path / "course", {"ann": slow, "bob": slow})
    process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "--workers", "2"],
                               cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "TMPDIR": str(temp)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
            (temp / d).is_dir() and list((temp / d).glob("w*/k*")) for d in os.listdir(temp)):
        time.sleep(0.2)  # until a kernel is running
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-2000:]
    assert "stopped" in err
    time.sleep(1)
    assert os.listdir(temp) == []
    os.rmdir(temp)
    assert not (root / "autograded").exists()
    assert not [pid for pid in _processes_in(root)]


def test_ctrl_c_while_the_assignment_is_generated_stops_the_run_as_ctrl_c(tmp_path,
                                                                         monkeypatch):
    # nbgrader's API catches every exception, Ctrl-C too, and answers "Canceled": the
    # run then ended with a traceback and status 1, not "stopped" and 130 (seen on CI,
    # where the signal came while the grader generated the assignment).
    from nbgrader.apps.api import NbGraderAPI

    from autograder.record.nbgrader_api import generate_in_process

    def cancelled(self, *args, **kwargs):
        return {"success": False, "log": "[ERROR] Canceled\n",
                "error": "Traceback (most recent call last):\n  ...\nKeyboardInterrupt\n"}

    copy_course_skeleton(ROOT, tmp_path, [FIRST])
    monkeypatch.setattr(NbGraderAPI, "generate_assignment", cancelled)
    with pytest.raises(KeyboardInterrupt):
        generate_in_process(tmp_path, FIRST.name)
    monkeypatch.setattr(NbGraderAPI, "generate_assignment", lambda self, *a, **k: {
        "success": False, "log": "[ERROR] no such assignment\n", "error": "ValueError\n"})
    with pytest.raises(RuntimeError, match="no such assignment"):
        generate_in_process(tmp_path, FIRST.name)


def _processes_in(root: Path) -> list[int]:
    """Processes whose command line or folder mentions ``root`` (none may be left)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read()
                folder = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if str(root).encode() in command or folder.startswith(str(root)):
                found.append(int(entry))
    return found


def test_a_page_does_not_depend_on_when_the_kernel_flushed_what_a_cell_printed():
    from autograder.publish.feedback import outputs_html

    def cell(*texts):
        return nbformat.v4.new_code_cell("print(...)", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text=t) for t in texts])

    once, split = outputs_html(cell("a\nb\n")), outputs_html(cell("a\n", "b\n"))
    assert once == split == "<pre>a\nb\n</pre>"
    mixed = nbformat.v4.new_code_cell("", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="out\n"),
        nbformat.v4.new_output("stream", name="stderr", text="err\n")])
    assert outputs_html(mixed).count("<pre>") == 2  # stdout and stderr stay apart


# --- one student's content never stops the class's run --------------------------------

def test_deep_code_is_read_or_costs_every_test_and_never_stops_the_review():
    from autograder.judge.review import review_submission

    limit = sys.getrecursionlimit()
    # As deep as Python itself compiles in a cell (3.11: about 2,000 terms): read.
    readable = review_submission(_with_cell("x = " + " + ".join(["1"] * 2500)), SOURCE)
    assert [f for f in readable.flags if f.rule == "unreadable"] == []
    # Deeper than the review reads: whatever the cell hides (an import of the
    # reference, an alias) is unread, so no test counts; the reason says what to do.
    hiding = _with_cell("from miniflow import topological_sort as sort\n"
                        "x = " + "+".join(["1"] * 100_000))
    review = review_submission(hiding, SOURCE)
    assert [f.rule for f in review.flags] == ["unreadable"]
    assert set(review.zeroed) == set(TESTS)
    assert all("nested too deeply" in m and "Split it into shorter statements" in m
               for m in review.zeroed.values())
    assert sys.getrecursionlimit() == limit


def test_a_notebook_that_waits_out_its_time_costs_its_own_limit_and_no_more(tmp_path):
    # Each cell under the per-cell limit, the notebook far over its own: without the
    # notebook's limit it would hold its worker for the sum of its cells.
    sleeper = nbformat.from_dict(SOURCE)
    for n in range(4):
        sleeper.cells.insert(2, nbformat.v4.new_code_cell(f"import time\ntime.sleep(20)  # {n}"))
    root = _course(tmp_path / "course", {"honest": SOURCE, "sleeper": sleeper})
    with open(root / "nbgrader_config.py", "a", encoding="utf-8") as config:
        # 10 s: a tenth of what the sleeper would take, and room for the honest
        # notebook (about a second) on a machine busy with other tests
        config.write("\nc.SandboxKernelManager.notebook_timeout = 10\n")
    run = _cli(root, "grade", "--workers", "1", timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if line.strip()}
    assert "10/10" in rows["honest"]
    assert "0/10" in rows["sleeper"]
    # The run ends with what it cost, the stopped notebook included.
    assert re.search(r"throughput: 2 notebook\(s\) graded in [\d.]+ s on 1 worker\(s\), "
                     r"[\d.]+ per minute", run.stderr), run.stderr[-2000:]
    assert "ran for more than 10 s in all; the cells after it were not run" in rows["sleeper"]
    graded = nbformat.read(root / "autograded" / "sleeper" / FIRST.name / FIRST.notebook_file,
                           as_version=4)
    errors = [[o.get("ename") for o in c.outputs if o.output_type == "error"]
              for c in graded.cells if c.cell_type == "code"]
    # The first waiting cell was stopped at the limit; none after it ran.
    assert errors[1] == ["KernelStopped"]
    assert all(e == ["NotRun"] for e in errors[2:])


def test_a_long_notebook_holds_up_no_other_submission(tmp_path, monkeypatch):
    # Graded first, on the only worker, it waits 25 s in cells under every limit.
    waiting = nbformat.from_dict(SOURCE)
    for n in range(5):
        waiting.cells.insert(2, nbformat.v4.new_code_cell(f"import time\ntime.sleep(5)  # {n}"))
    honest = {f"honest{n}": SOURCE for n in range(4)}
    root = _course(tmp_path / "course", {"aaa_waits": waiting, **honest})
    monkeypatch.setattr(workers, "LONG_TASK", 2.0)
    order: list[str] = []
    results = grade(load_manifest(root), [FIRST], students=None, workers=1,
                    on_result=lambda r: order.append(r.student))
    # A worker more took the others while it waited; its grade is its own.
    assert order[-1] == "aaa_waits" and sorted(order[:-1]) == sorted(honest), order
    assert {r.student: r.score for r in results} == {s: FIRST.points for s in order}


def test_workers_started_beside_long_tasks_are_bounded_and_let_go():
    pool = workers.WorkerPool(2, Path(tempfile.gettempdir()), deadline=60)

    def busy(seconds):
        return workers.Worker(0, None, -1, Path("log"), task={"id": 1},
                              started=time.monotonic() - seconds)

    idle = workers.Worker(0, None, -1, Path("log"))
    assert pool.allowed([busy(1), busy(1)]) == 2
    assert pool.allowed([busy(1), busy(999), idle]) == 3
    # One long task: three workers are allowed, a fourth is surplus.
    assert pool.allowed([busy(999), busy(1), idle]) == 3
    assert pool.allowed([busy(999), busy(1), busy(1), idle]) == 3
    # However many run long, at most twice the size.
    assert pool.allowed([busy(999)] * 3 + [idle]) == 4
    assert pool.allowed([busy(999)] * 4 + [idle]) == 4
    # Once the long one has ended, the worker started for it is surplus.
    assert pool.allowed([busy(1), busy(1), idle]) == 2


def test_a_cell_that_burns_the_cpu_costs_its_kernel_and_the_rest_is_graded(tmp_path):
    burner = nbformat.from_dict(SOURCE)
    burner.cells.insert(2, nbformat.v4.new_code_cell("while True:\n    pass"))
    root = _course(tmp_path / "course", {"burner": burner})
    with open(root / "nbgrader_config.py", "a", encoding="utf-8") as config:
        config.write("\nc.SandboxKernelManager.cpu_limit = 2\n")
    run = _cli(root, "grade", "--workers", "1", timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "CPU 2 s per process" in run.stderr
    row = next(line for line in run.stdout.splitlines() if line.startswith("burner"))
    assert "10/10" in row  # the loop is not a test; every test ran in a fresh kernel
    assert ("the kernel died in cell 3: the grader stopped the notebook: it used more than "
            "2 s of CPU time; the cells after it were graded in a fresh kernel") in row


def test_a_notebook_that_kills_every_kernel_gets_two_fresh_ones_and_no_more(tmp_path):
    # Each fresh kernel re-runs the cells before: without the bound, a notebook of
    # exits would cost the square of its length.
    exiter = nbformat.from_dict(SOURCE)
    for n in range(5):
        exiter.cells.insert(2, nbformat.v4.new_code_cell(f"import os\nos._exit(1)  # {n}"))
    root = _course(tmp_path / "course", {"exiter": exiter})
    run = _cli(root, "grade", "--workers", "1", timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    row = next(line for line in run.stdout.splitlines() if line.startswith("exiter"))
    assert "0/10" in row
    assert row.count("the kernel died in cell") == 3  # the first kernel, then two fresh ones
    assert row.count("graded in a fresh kernel") == 2
    assert "the kernel died in cell 5: the kernel exited with status 1" in row
    assert row.split("[FLAGGED")[0].rstrip().endswith("the cells after it were not run")
    graded = nbformat.read(root / "autograded" / "exiter" / FIRST.name / FIRST.notebook_file,
                           as_version=4)
    errors = [[o.get("ename") for o in c.outputs if o.output_type == "error"]
              for c in graded.cells if c.cell_type == "code"]
    assert errors[1:4] == [["KernelDied"], ["KernelDied"], ["KernelStopped"]]
    assert all(e == ["NotRun"] for e in errors[4:])  # the last two exits never ran


def test_a_class_with_deep_code_and_deep_json_is_graded_to_the_end(tmp_path):
    # A sum of 1,000 terms in one cell stopped the whole run with a RecursionError
    # in the grader's review; a file of nested brackets did in its check of the JSON.
    root = _course(tmp_path / "course", {
        "deep_code": _with_cell("x = " + "+".join(["1"] * 1000)),
        "hidden_in_deep_code": _with_cell("from miniflow import topological_sort as sort\n"
                                          "x = " + "+".join(["1"] * 100_000)),
        "honest": SOURCE})
    folder = root / "submitted" / "deep_json" / FIRST.name
    folder.mkdir(parents=True)
    (folder / FIRST.notebook_file).write_text("[" * 5000 + "]" * 5000)
    # The kernel may spend the cell's whole time reading 100,000 terms: 10 s, not 30.
    run = _cli(root, "grade", "--workers", "1", env={"MINIFLOW_CELL_TIMEOUT": "10"})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    results = {s: r for (_, s), r in load_results(load_manifest(root)).items()}
    assert results["deep_code"].score == results["honest"].score == FIRST.points
    assert results["hidden_in_deep_code"].status == "graded"
    assert results["hidden_in_deep_code"].score == 0
    assert results["deep_json"].status == "rejected"
    assert results["deep_json"].reasons == ["not_notebook"]
    assert "nested thousands of levels deep" in results["deep_json"].notes[-1]
    # Its tests ran clean in the notebook; the feedback page still says why each scores 0.
    assert _cli(root, "feedback").returncode == 0
    page = " ".join((root / "feedback" / "hidden_in_deep_code" / FIRST.name /
                     f"{FIRST.notebook}.html").read_text().split())
    for test in TESTS:
        shown = page.split(f"{test}: 0 / ", 1)[1].split('<div class="cell', 1)[0]
        assert "nested too deeply for the grader to read" in shown, shown[-500:]
