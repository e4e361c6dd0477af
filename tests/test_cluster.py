"""Grading on a real Dask cluster (``grade --scheduler``): a scheduler and two workers,
started here as separate processes on 127.0.0.1, grade a small class of 01_graphs.

Every cell's score must equal a local run's; a worker killed while it grades
loses nothing and counts nothing twice; a submission whose worker dies past
the scheduler's allowed failures is an error, not a crash; a worker that is
not the same course version is named and the run refused before any work is
sent.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from conftest import require_bwrap

from autograder.author.mutants import load_mutants
from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.run.cluster import stop_session
from autograder.run.rundir import remove_stale_runs, temp_root

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_manifest(ROOT)
FIRST = COURSE.assignments[0]
CELL_TIMEOUT = "10"


def _distributed():
    try:
        import distributed
    except ImportError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Dask cluster tests, but distributed is missing: {error}")
        pytest.skip(f"distributed is not installed ({error}): pip install -e '.[cluster]'")
    return distributed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker --nthreads 1``, stopped at the end."""
    distributed = _distributed()
    folder = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    environment = dict(os.environ, MINIFLOW_CELL_TIMEOUT=CELL_TIMEOUT)
    processes, logs = [], []

    def start(name: str, arguments: list[str]) -> None:
        log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 (closed below)
        logs.append(log)
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "dask", *arguments], stdout=log, stderr=subprocess.STDOUT,
            env=environment, cwd=folder, start_new_session=True))

    start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                        "--no-dashboard", "--no-show"])
    # No nanny: a killed worker stays dead, like a machine that went away.
    for name in ("w1", "w2"):
        start(name, ["worker", address, "--name", name, "--host", "127.0.0.1",
                     "--nthreads", "1", "--nworkers", "1", "--no-nanny", "--no-dashboard",
                     "--local-directory", str(folder / name)])
    state: dict = {"address": address, "folder": folder}

    def connect(workers: int = 2):
        # Called by the tests once they need the cluster: its start overlaps the local run.
        if "client" not in state:
            state["client"] = distributed.Client(address, timeout="120s", set_as_default=False)
        state["client"].wait_for_workers(workers, timeout=180)
        return state["client"]

    state["connect"] = connect
    try:
        yield state
    finally:
        if "client" in state:
            state["client"].close()
        for process in reversed(processes):
            stop_session(process)
        for log in logs:
            log.close()
        remove_stale_runs(temp_root())  # the killed worker could not remove its folder


def with_mutant(notebook: nbformat.NotebookNode, cell: str, source: str):
    changed = nbformat.from_dict(notebook)
    for c in changed.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == cell:
            c.source = source
    return changed


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """01_graphs with a solution, the blank release, a known mistake and a broken file."""
    root = tmp_path_factory.mktemp("course")
    copy_course_skeleton(ROOT, root, [FIRST])
    run_nbgrader(["generate_assignment", FIRST.name, "--force"], root)
    source = nbformat.read(root / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
    release = nbformat.read(root / "release" / FIRST.name / FIRST.notebook_file, as_version=4)
    mutants = load_mutants(FIRST.name)
    mutant = with_mutant(source, mutants[4].cell, mutants[4].source)
    # It also looks for the course and the cluster's folders from inside its kernel.
    peek = f"import os\nprint('PEEK', os.path.exists({str(tmp_path_factory.getbasetemp())!r}))"
    mutant.cells.insert(2, nbformat.v4.new_code_cell(peek))
    students = {"solution": source, "blank": release, "mutant": mutant}
    for student, notebook in students.items():
        folder = root / "submitted" / student / FIRST.name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / FIRST.notebook_file)
        (folder / "timestamp.txt").write_text("2026-01-10 12:00:00.000000 UTC\n")
    broken = root / "submitted" / "broken" / FIRST.name
    broken.mkdir(parents=True)
    (broken / FIRST.notebook_file).write_text("{oops")
    return load_manifest(root)


@pytest.fixture(scope="module")
def local(course):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIFLOW_CELL_TIMEOUT", CELL_TIMEOUT)
        results = grade(course, [FIRST], students=None, workers=2, record=False,
                        keep_autograded=False)
    return {r.student: r for r in results}


def _cells(result) -> dict[str, tuple[float, float]]:
    return {c.grade_id: (c.score, c.max_score) for c in result.cells}


def test_a_class_graded_on_the_cluster_equals_a_local_run_even_when_a_worker_dies(
        cluster, course, local):
    client = cluster["connect"]()
    seen: list[str] = []
    killed: dict[str, list] = {}

    def on_result(result) -> None:
        seen.append(result.student)
        if result.status == "rejected" or killed:
            return
        # The first graded result is in: kill a worker that is grading another one.
        for _ in range(100):
            busy = {address: keys for address, keys in client.processing().items() if keys}
            if busy:
                break
            time.sleep(0.05)
        assert busy, "no worker was grading when the first result arrived"
        address, keys = max(busy.items(), key=lambda item: len(item[1]))
        pid = client.run(os.getpid, workers=[address])[address]
        os.kill(pid, signal.SIGKILL)
        killed[address] = list(keys)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIFLOW_CELL_TIMEOUT", CELL_TIMEOUT)
        results = grade(course, [FIRST], students=None, on_result=on_result,
                        scheduler=cluster["address"])
    assert killed, "the test did not manage to kill a worker mid-run"
    assert sorted(seen) == sorted(local), "a submission was lost or counted twice"
    by_student = {r.student: r for r in results}
    assert set(by_student) == set(local) and len(results) == len(local)
    for student, mine in local.items():
        theirs = by_student[student]
        assert (theirs.status, theirs.score, theirs.max_score) == \
            (mine.status, mine.score, mine.max_score), student
        assert _cells(theirs) == _cells(mine), student
        assert theirs.sandbox == mine.sandbox
    assert by_student["solution"].score == by_student["solution"].max_score > 0
    assert by_student["blank"].score == 0
    assert 0 < by_student["mutant"].score < by_student["mutant"].max_score
    assert by_student["broken"].status == "rejected"
    # The parent alone wrote the gradebook and autograded/, each submission once.
    from autograder.record.load import load_results

    recorded = load_results(course)
    assert sorted(student for _, student in recorded) == sorted(local)
    for student, mine in local.items():
        if mine.status == "graded":
            assert recorded[(FIRST.name, student)].score == mine.score, student
    autograded = course.root / "autograded"
    for student in ("solution", "blank", "mutant"):
        folder = autograded / student / FIRST.name
        assert (folder / FIRST.notebook_file).is_file()
        assert (folder / "timestamp.txt").read_text().startswith("2026-01-10")
    # The kernel on the Dask worker ran in the sandbox: it saw neither the course nor
    # the cluster's folders (all below pytest's base folder).
    if os.environ.get("CI") or by_student["mutant"].sandbox == "bwrap":
        require_bwrap()
        executed = nbformat.read(autograded / "mutant" / FIRST.name / FIRST.notebook_file,
                                 as_version=4)
        printed = [o.get("text", "") for c in executed.cells for o in c.get("outputs", [])]
        assert "PEEK False\n" in printed, printed[:5]


def test_a_worker_on_another_course_version_is_named_and_nothing_is_graded(
        cluster, course, monkeypatch, capsys):
    """The parent claims another nbgrader: every real worker now differs from it."""
    from autograder.cli.main import main
    from autograder.run import cluster as cluster_module

    honest = cluster_module.fingerprint()
    monkeypatch.setattr(cluster_module, "fingerprint",
                        lambda: {**honest, "nbgrader": "0.0.0-other"})
    before = (course.root / "gradebook.db").stat().st_mtime_ns \
        if (course.root / "gradebook.db").exists() else None
    monkeypatch.chdir(course.root)
    client = cluster["connect"](1)  # one may have been killed
    code = main(["grade", "--scheduler", cluster["address"]])
    error = capsys.readouterr().err
    assert code == 2
    assert "refusing to grade on this cluster" in error
    assert "nbgrader: worker has " + honest["nbgrader"] in error
    assert "this machine has 0.0.0-other" in error
    assert error.count("worker tcp://127.0.0.1:") == len(client.nthreads())
    after = (course.root / "gradebook.db").stat().st_mtime_ns \
        if (course.root / "gradebook.db").exists() else None
    assert after == before


def test_the_cluster_gets_the_first_submission_before_the_next_is_checked(cluster, course,
                                                                          monkeypatch):
    """A class of thousands: the cluster does not wait while every file is checked."""
    from autograder.pipeline import grading
    from autograder.run import cluster as cluster_module

    cluster["connect"](1)  # one may have been killed
    checked: list[str] = []
    sent: list[tuple[str, list[str]]] = []
    prepare, payload = grading.prepare_submission, cluster_module.DaskPool.payload

    def checking(folder, *args, **kwargs):
        checked.append(folder.parent.name)
        return prepare(folder, *args, **kwargs)

    def sending(self, task, courses):
        sent.append((task["student"], list(checked)))
        return payload(self, task, courses)

    monkeypatch.setattr(grading, "prepare_submission", checking)
    monkeypatch.setattr(cluster_module.DaskPool, "payload", sending)
    monkeypatch.setenv("MINIFLOW_CELL_TIMEOUT", CELL_TIMEOUT)
    results = grade(course, [FIRST], students=["blank", "solution"], record=False,
                    keep_autograded=False, scheduler=cluster["address"])
    assert sent == [("blank", ["blank"]), ("solution", ["blank", "solution"])]
    assert sorted((r.student, r.status) for r in results) == [("blank", "graded"),
                                                              ("solution", "graded")]


def test_a_task_checks_the_version_and_the_source_hash_on_the_worker(course):
    """A worker that joined after the check still refuses to grade for another version."""
    from autograder.run.cluster import DaskPool, fingerprint, grade_on_worker

    pool = DaskPool("tcp://127.0.0.1:1", deadline=60, sandbox="none")
    folder = course.root / "submitted" / "solution" / FIRST.name
    task = {"id": 0, "root": str(course.root), "student": "solution",
            "assignment": {"name": FIRST.name, "notebook_file": FIRST.notebook_file,
                           "points": FIRST.points},
            "notebook": str(folder / FIRST.notebook_file), "notes": [],
            "timestamp": str(folder / "timestamp.txt"), "sandbox": "none"}
    payload = pool.payload(task, {})
    assert payload["submission"] == (folder / FIRST.notebook_file).read_bytes()
    assert "root" not in payload["task"] and "notebook" not in payload["task"]
    other = {**payload, "expected": {**payload["expected"], "miniflow": "9.9"}}
    answer = grade_on_worker(other)
    assert "not the same course version" in answer["failure"]
    assert f"miniflow: worker has {fingerprint()['miniflow']}" in answer["failure"]
    name = f"source/{FIRST.name}/{FIRST.notebook_file}"
    damaged = {**payload, "files": {**payload["files"], name: b"{}"}}
    assert "hash differs" in grade_on_worker(damaged)["failure"]


def test_a_task_that_keeps_killing_workers_becomes_an_error_for_its_submission():
    distributed = _distributed()
    from types import SimpleNamespace

    from autograder.pipeline.score import result_from
    from autograder.run.cluster import failure_answer

    last = SimpleNamespace(address="tcp://10.0.0.5:40000")  # the scheduler's WorkerState
    error = distributed.KilledWorker("grade-x-0-ann-01_graphs", last, 3)
    answer = failure_answer(error)
    assert "died 4 times" in answer["failure"] and "tcp://10.0.0.5:40000" in answer["failure"]
    task = {"id": 0, "student": "ann", "notes": [], "sandbox": "bwrap",
            "assignment": {"name": FIRST.name, "notebook_file": FIRST.notebook_file,
                           "points": FIRST.points}}
    result = result_from(task, answer, nbformat.v4.new_notebook(), None)
    assert result.status == "error" and "died 4 times" in result.notes[-1]


def test_without_a_scheduler_dask_is_never_imported(tmp_path):
    program = ("import sys\nfrom autograder.cli.parser import build_parser\n"
               "import autograder.pipeline.grading, autograder.run.cluster\n"
               "build_parser()\n"
               "print(sorted(m for m in sys.modules if m.split('.')[0] in "
               "('dask', 'distributed')))\n")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == "[]"


def test_an_unreachable_scheduler_or_a_missing_dask_is_a_clear_error(monkeypatch):
    _distributed()
    from autograder.run.cluster import ClusterError, DaskPool

    nobody = f"tcp://127.0.0.1:{_free_port()}"
    pool = DaskPool(nobody, deadline=60, sandbox="none", connect_timeout=2)
    with pytest.raises(ClusterError, match=f"cannot reach the Dask scheduler at {nobody}.*"
                                           "dask scheduler"):
        pool.connect()
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    with pytest.raises(ClusterError, match=r"pip install -e \"\.\[cluster\]\""):
        pool.run([{"id": 0}], lambda task, answer: None)


def test_a_worker_without_bubblewrap_is_refused_unless_the_sandbox_is_off():
    from autograder.run.cluster import differences, fingerprint

    mine = fingerprint()
    theirs = {**mine, "bwrap": False, "bwrap_detail": "bubblewrap (bwrap) is not installed"}
    assert differences(mine, theirs, "bwrap") == [
        "bubblewrap cannot sandbox kernels there (bubblewrap (bwrap) is not installed)"]
    assert differences(mine, theirs, "none") == []
    assert differences(mine, {**mine, "bwrap": True}, "bwrap") == []


def test_a_submission_whose_worker_dies_past_allowed_failures_is_an_error_not_a_crash(
        tmp_path, course):
    """A scheduler that allows no failure: killing the one worker once is enough."""
    distributed = _distributed()
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    environment = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0")
    started = [subprocess.Popen(
        [sys.executable, "-m", "dask", *arguments], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=environment, cwd=tmp_path, start_new_session=True)
        for arguments in (
            ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
             "--no-show"],
            ["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
             "--no-dashboard", "--local-directory", str(tmp_path / "w")])]
    try:
        with distributed.Client(address, timeout="120s", set_as_default=False) as client:
            client.wait_for_workers(1, timeout=180)
            pids = client.run(os.getpid)

            def kill_when_busy() -> None:
                give_up = time.monotonic() + 300
                while time.monotonic() < give_up:
                    if any(client.processing().values()):
                        for pid in pids.values():
                            os.kill(pid, signal.SIGKILL)
                        return
                    time.sleep(0.05)

            killer = threading.Thread(target=kill_when_busy, daemon=True)
            killer.start()
            results = grade(course, [FIRST], students=["solution"], record=False,
                            keep_autograded=False, scheduler=address)
            killer.join(timeout=10)
    finally:
        for process in reversed(started):
            stop_session(process)
        remove_stale_runs(temp_root())
    assert [(r.student, r.status) for r in results] == [("solution", "error")]
    assert "died 1 time " in results[0].notes[-1], results[0].notes
