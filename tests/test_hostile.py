"""A hostile class, graded for real: bubblewrap, nbgrader, worker processes.

Every attack in ``hostile.py`` is pasted, as a student would, into a copy of
the correct solution of the first assignment, and the whole class (two honest
students and one student per attack) is graded in one run with two workers.
Before that, the two honest students are graded alone: their scores, cells,
messages and feedback pages must come out of the hostile run unchanged.

Then, from outside: the course tree, the reference library and the grading
package are byte-for-byte unchanged, no process of the run is left, no
temporary folder remains, and no connection reached a server on 127.0.0.1.
From inside: each attack prints what it achieved, and the tests read it from
the graded notebook.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
from conftest import require_bwrap
from hostile import ATTACKS

from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.publish.feedback import write_feedback

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]
SECRET = "MINIFLOW_TEST_SECRET_4f1c"
# Attacks that stop their own kernel: the rest of the notebook runs in a fresh kernel.
STOPPED = {"memory_in_many_processes", "fork_storm", "infinite_loop_ignoring_sigint",
           "flood_the_socket_folder"}

# These tests watch the whole machine (every new process, every new folder in /tmp):
# `make test` runs them alone, after the rest (which runs two files at a time).
pytestmark = pytest.mark.alone


def _digest(*folders: Path) -> dict[str, str]:
    digest = {}
    for folder in folders:
        paths = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts:
                digest[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def _processes() -> dict[int, str]:
    """pid -> a description for every process that belongs to a sandbox or an attack."""
    ours = os.readlink("/proc/self/ns/pid")
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            namespace = os.readlink(f"/proc/{entry}/ns/pid")
            uid = os.stat(f"/proc/{entry}").st_uid
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if namespace != ours or uid >= 1_000_000 or "miniflow-attack" in command:
            found[int(entry)] = command[:120]
    return found


def _attack_notebook(source: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(source)
    notebook.cells.insert(2, nbformat.v4.new_code_cell(code))
    return notebook


def _attack_output(root: Path, student: str) -> tuple[str, dict]:
    path = root / "autograded" / student / FIRST.name / FIRST.notebook_file
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.source.startswith("# attack"))
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    errors = " ".join(f"{o.ename}: {o.evalue}" for o in cell.outputs
                      if o.output_type == "error")
    found = [line for line in text.splitlines() if line.startswith("RESULT: ")]
    return text + errors, json.loads(found[-1][len("RESULT: "):]) if found else {}


class _Listener:
    """A server on 127.0.0.1 that counts every connection it accepts."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    require_bwrap()
    # Short private folders: every temporary file of the run must land here.
    temp = Path(tempfile.mkdtemp(prefix="mfh", dir="/tmp"))
    home = Path(tempfile.mkdtemp(prefix="mfh", dir="/tmp"))  # short: sockets live below it
    (home / "grader-secret.txt").write_text("the instructor's own file")
    root = tmp_path_factory.mktemp("course")
    listener = _Listener()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(temp))
        patch.setattr(tempfile, "tempdir", str(temp))
        patch.setenv("HOME", str(home))
        patch.setenv("MINIFLOW_CELL_TIMEOUT", "5")
        patch.setenv(SECRET, "do-not-leak")
        copy_course_skeleton(ROOT, root, [FIRST])
        run_nbgrader(["generate_assignment", FIRST.name, "--force"], root)
        source = nbformat.read(root / "source" / FIRST.name / FIRST.notebook_file,
                               as_version=4)
        release = nbformat.read(root / "release" / FIRST.name / FIRST.notebook_file,
                                as_version=4)
        honest = {"alice": source, "bob": release}
        for student, notebook in honest.items():
            folder = root / "submitted" / student / FIRST.name
            folder.mkdir(parents=True)
            nbformat.write(notebook, folder / FIRST.notebook_file)
        course = load_manifest(root)
        alone = {r.student: r for r in grade(course, [FIRST], students=None, workers=2,
                                             sandbox="bwrap")}
        feedback_alone = {p.parent.parent.name: p.read_bytes()
                          for p in write_feedback(course, (FIRST,))}
        for name, code in ATTACKS.items():
            code = code.replace("PORT", str(listener.port))
            folder = root / "submitted" / name / FIRST.name
            folder.mkdir(parents=True)
            nbformat.write(_attack_notebook(source, f"# attack: {name}\n{code}"),
                           folder / FIRST.notebook_file)
        protected = [root / "source", root / "course", root / "nbgrader_config.py",
                     root / "submitted", ROOT / "autograder", ROOT / "miniflow",
                     ROOT / "source", ROOT / "nbgrader_config.py"]
        before = _digest(*protected)
        processes_before = _processes()
        temp_before = set(os.listdir("/tmp"))
        started = time.monotonic()
        results = {r.student: r for r in grade(course, [FIRST], students=None, workers=2,
                                               sandbox="bwrap")}
        elapsed = time.monotonic() - started
        after_grade = _digest(root / "autograded", root / "gradebook.db")
        time.sleep(2)  # a daemon that survived would be writing by now
        state = {
            "root": root, "course": course, "alone": alone, "results": results,
            "feedback_alone": feedback_alone,
            "feedback": {p.parent.parent.name: p.read_bytes()
                         for p in write_feedback(course, (FIRST,))},
            "changed": {k for k, v in _digest(*protected).items() if before.get(k) != v}
            | (set(before) - set(_digest(*protected))),
            "rewritten_after": after_grade != _digest(root / "autograded",
                                                      root / "gradebook.db"),
            "survivors": {p: c for p, c in _processes().items() if p not in processes_before},
            "temp_left": os.listdir(temp),
            "tmp_new": sorted(set(os.listdir("/tmp")) - temp_before),
            "elapsed": elapsed,
        }
    listener.close()
    state["connections"] = listener.accepted
    shutil.rmtree(temp, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    return state


def test_every_hostile_student_was_graded(hostile):
    results = hostile["results"]
    assert set(ATTACKS) <= set(results)
    for name in ATTACKS:
        assert results[name].status == "graded", (name, results[name].notes)
        assert results[name].sandbox == "bwrap"


def test_honest_students_scores_messages_and_feedback_are_unchanged(hostile):
    for student in ("alice", "bob"):
        alone, together = hostile["alone"][student], hostile["results"][student]
        assert together.score == alone.score
        assert [(c.grade_id, c.score, c.message) for c in together.cells] == \
            [(c.grade_id, c.score, c.message) for c in alone.cells]
        assert hostile["feedback"][student] == hostile["feedback_alone"][student]
    assert hostile["results"]["alice"].score == FIRST.points
    assert hostile["results"]["bob"].score == 0


def test_the_course_library_and_submissions_are_byte_for_byte_unchanged(hostile):
    assert not hostile["changed"]


def test_nothing_is_rewritten_after_grading_ends(hostile):
    assert not hostile["rewritten_after"]


def test_no_process_of_the_run_survives_it(hostile):
    assert not hostile["survivors"]


def test_no_temporary_folder_remains(hostile):
    assert hostile["temp_left"] == []
    leftovers = [n for n in hostile["tmp_new"] if n.startswith(("miniflow-", "k", "mfh"))]
    assert not leftovers


def test_no_connection_reached_the_machine(hostile):
    assert hostile["connections"] == 0
    _, found = _attack_output(hostile["root"], "network_to_localhost")
    assert found == {"reached": []}


def test_attacks_that_leave_the_kernel_running_cost_nothing_and_gain_nothing(hostile):
    for name in set(ATTACKS) - STOPPED - {"allocate_10_gb", "write_2_gb_file",
                                          "thread_storm", "exhaust_open_files",
                                          "fake_answers_on_every_descriptor"}:
        result = hostile["results"][name]
        assert result.score == FIRST.points, (name, [c.message for c in result.cells])


@pytest.mark.parametrize("name, key", [
    ("overwrite_other_students", "changed"), ("edit_source_and_checks", "changed"),
    ("plant_modules", "planted"), ("tamper_with_gradebooks", "tampered"),
    ("read_hidden_tests", "seen"), ("steal_secrets", "secrets"),
    ("reach_the_next_kernel", "files"), ("reach_the_next_kernel", "reached"),
])
def test_the_course_and_the_grader_are_out_of_reach(hostile, name, key):
    text, found = _attack_output(hostile["root"], name)
    assert key in found, text[-500:]
    assert found[key] == [], f"{name} reached {found[key]}"
    assert SECRET not in text and "do-not-leak" not in text


def test_the_sandbox_sees_only_its_own_processes_and_cannot_kill_the_grader(hostile):
    _, found = _attack_output(hostile["root"], "see_other_processes")
    assert 1 <= len(found["processes"]) <= 4, found
    # Its own processes only: a forked kernel (autograder/sandbox/forkserver/server.py) and its
    # init show the fork server's command line, as a fork does; nothing else
    # of the grader's.
    assert not any("pytest" in p
                   or "autograder" in p.replace("-m autograder.sandbox.forkserver.server", "")
                   for p in found["processes"])
    assert hostile["results"]["kill_the_grader"].score == FIRST.points


def test_fake_answers_written_to_every_descriptor_reach_nobody(hostile):
    # The writes land in the kernel's own sockets: it breaks itself, and its
    # grade is still read from its own executed notebook.
    result = hostile["results"]["fake_answers_on_every_descriptor"]
    assert result.status == "graded" and len(result.cells) == 4
    assert not any("forged" in n for n in result.notes)


def test_nobody_becomes_root(hostile):
    _, found = _attack_output(hostile["root"], "become_root")
    assert found["uid"] != 0
    assert "worked" not in found["attempts"].values()


def test_a_hidden_test_printed_by_student_code_never_reaches_feedback(hostile):
    from autograder.publish.hidden import hidden_lines

    source = nbformat.read(ROOT / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
    secret = hidden_lines(source)
    assert secret
    for student, page in hostile["feedback"].items():
        flat = " ".join(page.decode().split())
        assert not [line for line in secret if line in flat], student


def _messages(result) -> str:
    return " ".join([*result.notes, *(c.message for c in result.cells)])


@pytest.mark.parametrize("name, words", [
    ("allocate_10_gb", "grading allows 2 GiB of memory per process"),
    ("write_2_gb_file", "grading allows files of at most 256 MiB"),
    ("exhaust_open_files", "grading allows 1024 open files"),
])
def test_a_limit_hit_inside_a_cell_is_named_in_words(hostile, name, words):
    text, _ = _attack_output(hostile["root"], name)
    assert words in text, text[-400:]
    if name != "exhaust_open_files":  # that one keeps its files open: later imports fail
        # The cell failed, not the notebook: every test after it still passes.
        assert hostile["results"][name].score == FIRST.points


def test_a_thread_storm_is_stopped_at_the_process_limit(hostile):
    result = hostile["results"]["thread_storm"]
    text, _ = _attack_output(hostile["root"], "thread_storm")
    assert "64" in text + _messages(result), text[-300:]


@pytest.mark.parametrize("name, words", [
    ("memory_in_many_processes", "used more than 2 GiB of memory"),
    ("fork_storm", "too many processes"),
    ("infinite_loop_ignoring_sigint", "did not stop when it was interrupted"),
    ("flood_the_socket_folder", "connection folder"),
])
def test_an_attack_that_is_stopped_costs_one_cell_with_a_reason_and_the_rest_runs_afresh(
        hostile, name, words):
    result = hostile["results"][name]
    if name == "memory_in_many_processes" and words not in _messages(result):
        # On a loaded machine the children may fill their memory more slowly than
        # the 5 s cell limit: the kernel, busy, then ignores the interrupt instead.
        words = "did not stop when it was interrupted"
    assert words in _messages(result), _messages(result)[:600]
    assert [d.restarted for d in result.kernel_deaths] == [True]
    path = hostile["root"] / "autograded" / name / FIRST.name / FIRST.notebook_file
    notebook = nbformat.read(path, as_version=4)
    position = result.kernel_deaths[0].cell
    dead = notebook.cells[position - 1]
    assert any(o.output_type == "error" and o.ename == "KernelDied" and words in o.evalue
               for o in dead.get("outputs", [])), dead.get("outputs")
    # Every test after the cell that was running passes in a fresh, guarded kernel.
    later = {c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells[position:]}
    after = [c for c in result.cells if c.grade_id in later]
    assert after and all(c.score == c.max_score for c in after), [c.message for c in after]
    if name != "memory_in_many_processes":
        # (That one's memory adds up after its cell ended: the watchdog stops the
        # kernel in whichever cell is running then.) The others die in their own cell,
        # which is no test: nothing is lost.
        assert dead.source.startswith("# attack")
        assert result.score == FIRST.points, [c.message for c in result.cells]


@pytest.mark.parametrize("name", ["print_a_flood", "print_without_end", "display_without_end",
                                  "one_display_updated_everywhere"])
def test_output_without_end_is_cut_where_it_arrives_and_costs_no_grade(hostile, name):
    path = hostile["root"] / "autograded" / name / FIRST.name / FIRST.notebook_file
    # The cell keeps at most 4 MiB of output (SandboxedExecute.max_cell_output): the
    # graded notebook stays that size, however long the cell ran.
    assert path.stat().st_size < 6 << 20
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.source.startswith("# attack"))
    assert "the rest of this cell's output was dropped" in json.dumps(cell.outputs)
    assert hostile["results"][name].score == FIRST.points, _messages(hostile["results"][name])


def test_files_the_kernel_may_write_are_capped(hostile):
    _, found = _attack_output(hostile["root"], "fill_tmp_and_shm")
    mib = found["mib"]
    assert mib["/dev/shm"] <= 64
    assert mib["/tmp"] + mib["/home/student"] <= 512


def test_the_hostile_class_is_graded_in_reasonable_time(hostile):
    # Not a benchmark: a guard against an attack that stalls the run (the
    # per-notebook limit is 10 minutes; the whole class takes about a minute).
    assert hostile["elapsed"] < 600
