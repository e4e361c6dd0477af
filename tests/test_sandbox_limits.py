"""Limits a grading kernel cannot step around (issue 29, point 5).

* System V IPC: a detached shared memory segment is in no process's address
  space, so the watchdog (which adds up the kernel's processes' memory) never
  counted it: 3 GiB held under a 2 GiB limit. Inside the sandbox shmget, msgget
  and semget now fail; honest code does not notice.
* Sessions: the scheduler shares the CPU between sessions (autogroups), so 24
  busy processes in sessions of their own slowed other kernels 12 to 15 times;
  every session a kernel starts now gets the lowest weight.
* Files in the sandbox's memory-backed folders (/dev/shm, the home, /tmp) are
  memory no process holds: the watchdog adds them to the processes' memory.
* The static review: a huge notebook's review stalled the grader's own process
  for minutes. It now runs with a time and size budget; a submission whose
  review ran out is graded as usual and flagged for the instructor.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest
from conftest import require_bwrap
from traitlets.config import Config

from autograder.core.processes import descendants
from autograder.sandbox import measure
from autograder.sandbox.forkserver import registry
from autograder.sandbox.manager import SandboxKernelManager

ROOT = Path(__file__).resolve().parents[1]

# A student cell: a 1 GiB segment, attached, touched, detached and left behind.
HOARD_SHM = '''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_PRIVATE, IPC_CREAT = 0, 0o1000
segment = libc.shmget(IPC_PRIVATE, 1 << 30, IPC_CREAT | 0o600)
if segment < 0:
    print("SHMGET FAILED:", os.strerror(ctypes.get_errno()))
else:
    address = libc.shmat(segment, None, 0)
    ctypes.memset(address, 1, 1 << 30)
    libc.shmdt(ctypes.c_void_p(address))
    print("SHMGET WORKED", segment)
for name, call in (("msgget", lambda: libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)),
                   ("semget", lambda: libc.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600))):
    print(name.upper(), "FAILED" if call() < 0 else "WORKED")
'''

HONEST = '''
import multiprocessing, numpy as np
x = np.arange(12.0).reshape(3, 4)
lock = multiprocessing.Lock()  # POSIX semaphores live in /dev/shm: still there
with lock:
    print("HONEST", float((x @ x.T).sum()))
'''


def _manager(fork: bool) -> SandboxKernelManager:
    config = Config()
    config.SandboxKernelManager.mode = "bwrap"
    config.SandboxKernelManager.fork_server = fork
    config.SandboxKernelManager.mpl_font_list = False
    config.CourseDirectory.root = str(ROOT)
    return SandboxKernelManager(config=config)


@contextlib.asynccontextmanager
async def _kernel(fork: bool, cwd: Path, **traits: str):
    """A started kernel (``traits`` set on its manager first) and its client; then stopped."""
    manager = _manager(fork)
    for name, value in traits.items():
        setattr(manager, name, value)
    await manager.start_kernel(cwd=str(cwd), extra_arguments=[
        "--HistoryManager.hist_file=:memory:"])
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        yield manager, client
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


def _needs(fork: bool, mode: str = "bwrap") -> None:
    """Skip (fail under CI) where this machine cannot run the kernel asked for."""
    if mode == "bwrap":
        require_bwrap()
    if fork and os.geteuid() != 0:
        pytest.skip("the fork server is used only where the grader is root")


async def _run_in_kernel(fork: bool, cwd: Path, *codes: str) -> tuple[list[str], bool]:
    async with _kernel(fork, cwd) as (manager, client):
        said: list[str] = []
        for code in codes:
            parts: list[str] = []

            def hook(message: dict, parts: list[str] = parts) -> None:
                if message["msg_type"] == "stream":
                    parts.append(message["content"]["text"])
                elif message["msg_type"] == "error":
                    parts.append("ERROR " + message["content"]["evalue"])

            await client.execute_interactive(code, timeout=60, output_hook=hook)
            said.append("".join(parts))
        from autograder.sandbox.forkserver.client import ForkedProcess

        return said, isinstance(manager.provisioner.process, ForkedProcess)


@pytest.mark.parametrize("fork", [False, True], ids=["bwrap", "forked"])
def test_system_v_ipc_is_refused_in_the_sandbox_and_honest_code_runs(tmp_path, fork):
    _needs(fork)
    before = {name: Path(f"/proc/sys/kernel/{name}").read_text()
              for name in ("shmmni", "shmall", "msgmni", "sem")}
    try:
        said, forked = asyncio.run(_run_in_kernel(fork, tmp_path, HOARD_SHM, HONEST))
    finally:
        registry.stop_fork_server()
        registry.UNAVAILABLE.clear()
    assert forked == fork
    hoard, honest = said
    assert "SHMGET FAILED: No space left on device" in hoard, hoard
    assert "MSGGET FAILED" in hoard and "SEMGET FAILED" in hoard, hoard
    assert "HONEST 1134.0" in honest, honest
    # only the sandbox's namespace was closed, never the machine's
    assert before == {name: Path(f"/proc/sys/kernel/{name}").read_text() for name in before}


def test_ipc_is_closed_only_in_a_namespace_of_the_sandbox_s_own(monkeypatch):
    from autograder.sandbox import child as sandbox_child

    closed: list[bool] = []
    monkeypatch.setattr(sandbox_child, "close_ipc", lambda: closed.append(True) or [])
    monkeypatch.setattr(sandbox_child, "_set_limits", lambda *a: None)
    monkeypatch.setattr(sandbox_child, "prctl", lambda *a: None)
    monkeypatch.setattr(sandbox_child.signal, "signal", lambda *a: None)
    sandbox_child.confine({}, None, None, False)
    assert closed == []
    sandbox_child.confine({}, None, None, False, private_ipc=True)
    assert closed == [True]


# --- the static review's budget --------------------------------------------------------

def _course_with(root: Path, students: dict):
    import nbformat

    from autograder.core.manifest import load_manifest
    from autograder.core.nbgrader_cli import run_nbgrader
    from autograder.pipeline.grading import copy_course_skeleton

    first = load_manifest(ROOT).assignments[0]
    copy_course_skeleton(ROOT, root, [first])
    run_nbgrader(["generate_assignment", first.name, "--force"], root)
    for student, notebook in students.items():
        folder = root / "submitted" / student / first.name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / first.notebook_file)
    return load_manifest(root), first


def _source_and_huge():
    import nbformat

    from autograder.core.manifest import load_manifest

    first = load_manifest(ROOT).assignments[0]
    source = nbformat.read(ROOT / "source" / first.name / first.notebook_file, as_version=4)
    huge = nbformat.from_dict(source)
    # harmless code, but a lot of it: what a generated 12 MB notebook is, smaller
    code = "\n".join(f"unused_{i} = [{i}, {i} + 1, ({i} * 2, 'x')]" for i in range(20_000))
    huge.cells.insert(2, nbformat.v4.new_code_cell(code))
    return source, huge


def test_a_review_over_its_budget_is_graded_as_usual_and_flagged(tmp_path, monkeypatch):
    require_bwrap()
    from autograder.judge.review import budget as review_budget, review_submission
    from autograder.pipeline.grading import grade

    source, huge = _source_and_huge()
    course, first = _course_with(tmp_path / "course", {"honest": source, "huge": huge})
    monkeypatch.setattr(review_budget, "REVIEW_SECONDS", 1.0)
    results = {r.student: r for r in grade(course, [first], students=None, workers=1)}
    honest, big = results["honest"], results["huge"]
    assert honest.status == big.status == "graded"
    assert big.score == honest.score == honest.max_score > 0
    # Stopped by the clock or by the size cap, whichever comes first on this machine.
    assert any("the static review stopped" in flag and "review it by hand" in flag
               for flag in big.flags), big.flags
    # the honest notebook's review is what it was without a budget
    assert honest.flags == review_submission(source, source).lines()
    assert not any("review stopped" in flag for flag in honest.flags)


def test_the_budgeted_review_of_a_normal_notebook_is_the_review():
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_review_obfuscation import CHEATS, RELEASE, SOURCE, with_linear

    from autograder.judge.review import review_submission, review_within

    for code, _, _ in list(CHEATS.values())[:8]:
        notebook = with_linear(code)
        plain = review_submission(notebook, SOURCE, RELEASE)
        assert plain.flags  # each cheat is flagged: the flags must come back whole
        budgeted = review_within(notebook, SOURCE, RELEASE)
        assert budgeted.flags == plain.flags and budgeted.zeroed == plain.zeroed


def test_the_review_reads_at_most_its_size_cap_and_says_where_it_stopped():
    from autograder.judge.review import review_within

    source, huge = _source_and_huge()
    review = review_within(huge, source, max_chars=100_000, seconds=60)
    assert review.lines()[-1].endswith(
        "line 1: the static review stopped at this cell, after 100,000 characters of code "
        "(the notebook's code is unusually large): review it by hand")
    assert review.flags[-1].rule == "unreviewed" and review.zeroed == {}


@pytest.fixture
def another_thread():
    """A thread running beside the review, as in a Dask worker (where forking is unsafe)."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def test_beside_other_threads_the_review_still_has_its_clock(another_thread):
    """A Dask client's review runs in a review server: same flags, reused, stopped on time."""
    import sys
    import time

    sys.path.insert(0, str(Path(__file__).parent))
    from test_review_obfuscation import CHEATS, RELEASE, SOURCE, with_linear

    from autograder.judge.review import review_submission, review_within
    from autograder.judge.review.budget import ReviewServer

    servers = []
    for code, _, _ in list(CHEATS.values())[:2]:
        notebook = with_linear(code)
        plain = review_submission(notebook, SOURCE, RELEASE)
        budgeted = review_within(notebook, SOURCE, RELEASE)
        assert budgeted.flags == plain.flags and budgeted.zeroed == plain.zeroed
        servers.append(ReviewServer.current.process.pid)
    assert servers[0] == servers[1] != os.getpid()  # one server, kept for the next review
    # a review that would take long is stopped by the clock, the grader's thread free
    source, huge = _source_and_huge()
    started = time.monotonic()
    review = review_within(huge, source, seconds=0.5)
    assert time.monotonic() - started < 10
    assert review.flags[-1].rule == "unreviewed", review.flags
    assert "the static review stopped" in review.lines()[-1]
    assert ReviewServer.current is None  # killed; the next review starts another
    assert review_within(notebook, SOURCE, RELEASE).flags == plain.flags
    assert ReviewServer.current.process.pid not in servers
    ReviewServer.current.close()


# A student cell: files in the sandbox's memory-backed folders, held by no process.
FILL_FOLDERS = '''
import os
chunk = b"x" * (64 << 20)
with open("/dev/shm/hoard", "wb") as handle:
    handle.write(chunk[: 48 << 20])
for number in range({chunks}):  # a file per chunk: each is under the file size limit
    with open(os.path.expanduser(f"~/hoard{{number}}"), "wb") as handle:
        handle.write(chunk)
del chunk
print("WROTE")
'''


async def _fill_and_measure(fork: bool, cwd: Path, chunks: int, **traits: str) -> tuple:
    """Fill the kernel's tmpfs; what the watchdog's folder count says, and why it stopped."""
    async with _kernel(fork, cwd, **traits) as (manager, client):
        process = manager.provisioner.process
        cell = asyncio.ensure_future(client.execute_interactive(
            FILL_FOLDERS.format(chunks=chunks), timeout=60, output_hook=lambda message: None))
        # the watchdog may stop the kernel mid-cell: then no reply ever comes
        while not (cell.done() or manager.stop_reason):
            await asyncio.sleep(0.1)
        counted = measure.memory_folders_bytes(descendants(process.pid))
        cell.cancel()
        for _ in range(50):  # the files stay: the watchdog's next rounds see them
            if manager.stop_reason:
                break
            await asyncio.sleep(0.1)
        return counted, manager.stop_reason


@pytest.mark.parametrize("fork", [False, True], ids=["bwrap", "forked"])
def test_files_in_the_sandbox_s_memory_folders_count_toward_its_memory(tmp_path, fork):
    """/dev/shm, home and /tmp are tmpfs: memory no process holds, counted all the same."""
    _needs(fork)
    try:
        # 48 MiB in /dev/shm and 64 MiB in the home: counted, and well under the limit
        counted, reason = asyncio.run(_fill_and_measure(fork, tmp_path, 1))
        assert counted >= (48 + 64) << 20, counted
        assert reason is None
        # 48 MiB + 17 x 64 MiB of files with a 1 GiB limit (the processes hold
        # about 60 MiB): stopped, though no process holds a tenth of it
        counted, reason = asyncio.run(_fill_and_measure(
            fork, tmp_path, 17, memory_limit="1 GiB", scratch_size="2 GiB"))
    finally:
        registry.stop_fork_server()
        registry.UNAVAILABLE.clear()
    assert reason is not None and reason.startswith("used more than 1 GiB of memory"), reason
    assert "in files in memory (/dev/shm, home, /tmp)" in reason, reason


def test_a_kernel_without_a_sandbox_is_not_charged_for_the_machine_s_folders(tmp_path):
    """mode "none" shares the grader's mount namespace: /dev/shm there is not the kernel's."""
    assert measure.memory_folders_bytes([os.getpid()]) == 0


# A student cell: three busy processes, each in a session of its own, and one
# ordinary child; prints each one's pid.
NEW_SESSIONS = '''
import subprocess, sys
busy = [sys.executable, "-c", "while True: pass"]
own = [subprocess.Popen(busy, start_new_session=True) for _ in range(3)]
plain = subprocess.Popen(busy)
print("PIDS", plain.pid, *(process.pid for process in own))
'''


async def _sessions(fork: bool, cwd: Path, mode: str) -> dict[str, list[str]]:
    """Each process of the kernel's tree by what the scheduler shows of its group."""
    tree: list[int] = []
    try:
        async with _kernel(fork, cwd, mode=mode) as (manager, client):
            await client.execute_interactive(NEW_SESSIONS, timeout=60,
                                             output_hook=lambda message: None)
            kernel = manager.kernel_pid()
            for _ in range(50):  # the watchdog looks five times a second
                await asyncio.sleep(0.1)
                tree = descendants(kernel)
                groups = {pid: Path(f"/proc/{pid}/autogroup").read_text().split()
                          for pid in tree}
                if len(tree) == 4 and sum(group[-1] == "19" for group in groups.values()) == 3:
                    break
            return {"kernel": Path(f"/proc/{kernel}/autogroup").read_text().split(),
                    "children": sorted(groups.values(), key=lambda group: group[-1])}
    finally:
        # Without a sandbox (mode "none") a process in a session of its own
        # outlives its kernel: never leave busy loops behind for the next test.
        for pid in tree:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("mode,fork", [("none", False), ("bwrap", False), ("bwrap", True)],
                         ids=["none", "bwrap", "forked"])
def test_sessions_a_kernel_starts_get_the_lowest_cpu_weight(tmp_path, mode, fork):
    """Without a cgroup the CPU is shared by session: new sessions must not multiply a share."""
    if not Path("/proc/self/autogroup").exists():
        pytest.skip("this kernel schedules without autogroups (nothing to game)")
    _needs(fork, mode)
    try:
        shown = asyncio.run(_sessions(fork, tmp_path, mode))
    finally:
        registry.stop_fork_server()
        registry.UNAVAILABLE.clear()
    kernel_group = shown["kernel"][0]
    assert shown["kernel"][-1] == "0", shown
    # the ordinary child shares the kernel's group, at the kernel's weight
    assert shown["children"][0] == [kernel_group, "nice", "0"], shown
    # each session of its own: a group of its own, at the lowest weight
    others = shown["children"][1:]
    assert [group[-1] for group in others] == ["19"] * 3, shown
    assert len({group[0] for group in others} | {kernel_group}) == 4, shown
    # The grader's own group keeps its weight. A process in the boot session's
    # group (as under a CI runner that never calls setsid) reads an empty file:
    # that group is the root one, which has no weight of its own to change.
    own = Path("/proc/self/autogroup").read_text().split()
    assert own == [] or own[-1] == "0", own
