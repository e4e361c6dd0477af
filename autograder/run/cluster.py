"""Grade on a Dask cluster: ``python -m autograder grade --scheduler tcp://HOST:8786``.

``DaskPool`` has the interface of ``autograder.run.workers.WorkerPool``
(``run(tasks, on_answer)``), so ``grading.grade`` is the same code either
way: the parent reads the submissions, scores every executed notebook from
its own ``source/``, and alone writes the gradebook and ``autograded/``.

What crosses to a Dask worker is data, never a path: the course files the
assignment needs (``nbgrader_config.py``, ``course/manifest.toml``,
``course/header.ipynb``, ``source/<assignment>/``) as bytes with their hash,
the submission's bytes and its ``timestamp.txt`` text. What comes back is
what a local worker answers: the executed notebook, nbgrader's verdict and
its log.

On the worker, each submission is graded by the same supervised grading
process as on one machine (``python -P -m autograder.run.worker_process``, kept alive
between tasks, one per Dask thread), so the sandbox, its limits and the
deadline apply there too, and a notebook that kills its grading process
costs only its own submission. A Dask worker that dies (its machine, an
out-of-memory kill) loses nothing: the scheduler gives its tasks to another
worker. A task that kills workers again and again ends, after distributed's
``allowed-failures`` (3 by default), as an error result for that submission.
Each task is keyed by its submission and results are counted once.

Before any work is sent, every worker is asked (``Client.run``) for its
versions (miniflow, autograder, nbgrader, a hash of both packages' source)
and whether bubblewrap works there; a worker that differs from this machine
is named and the run refused. Each task checks the same on the worker again
(a worker may join later), and the hash of the course files it carries.

Requires the optional ``cluster`` extra (``pip install -e ".[cluster]"``);
nothing here imports Dask until ``--scheduler`` is given.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from autograder.core.versions import course_files, course_version, files_hash

__all__ = ["ClusterError", "DaskPool", "course_files", "differences", "failure_answer",
           "fingerprint", "grade_on_worker", "report", "stop_session"]

#: what must be the same on every worker as on the machine that runs `grade`
COMPARED = ("miniflow", "autograder", "nbgrader", "source")


class ClusterError(RuntimeError):
    """The cluster cannot be used: not installed, not reachable, or not the same course."""


# --- what both sides compare ------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def fingerprint() -> dict[str, Any]:
    """This machine's course version and sandbox: what the workers must match."""
    from autograder.sandbox.bubblewrap import probe_bwrap

    probe = probe_bwrap()
    return {**course_version(), "bwrap": probe.ok, "bwrap_detail": probe.detail,
            "host": os.uname().nodename, "python": sys.version.split()[0]}


def report() -> dict[str, Any]:
    """What a worker answers ``Client.run``: its own fingerprint (called there by name)."""
    return fingerprint()


def differences(mine: dict[str, Any], theirs: dict[str, Any], sandbox: str) -> list[str]:
    """What makes a worker unfit to grade for this run (empty when it is fit)."""
    found = []
    for key in COMPARED:
        if theirs.get(key) != mine.get(key):
            what = "the autograder and miniflow source (sha256)" if key == "source" else key
            found.append(f"{what}: worker has {str(theirs.get(key))[:16]}, this machine has "
                         f"{str(mine.get(key))[:16]}")
    if sandbox == "bwrap" and not theirs.get("bwrap"):
        found.append(f"bubblewrap cannot sandbox kernels there ({theirs.get('bwrap_detail')})")
    return found


# --- the worker side --------------------------------------------------------------------

class _Grader:
    """One supervised grading process (``autograder.run.workers``), reused across tasks."""

    def __init__(self, run_dir: Path) -> None:
        from autograder.run.workers import WorkerPool

        self.pool = WorkerPool(1, run_dir, deadline=0)
        self.worker: Any = None

    def grade(self, task: dict, deadline: float) -> dict:
        from autograder.core.processes import kill_tree

        if self.worker is None or self.worker.process.poll() is not None:
            if self.worker is not None:
                self.close()
            self.worker = self.pool.start_worker()
        worker, answers = self.worker, []

        def keep(_task: dict, answer: dict) -> None:
            answers.append(answer)

        self.pool.assign(worker, deque([task]))
        started = time.monotonic()
        while worker.task is not None:
            readable, _, _ = select.select([worker.results], [], [], 0.5)
            if not readable:
                alive = True
            else:
                alive, answered = self.pool.read_answers(worker)
                answers.extend(answer for _task, answer in answered)
            if not alive:
                # The answer pipe closed: the grading process died (or was stopped).
                self.pool.retire(worker, keep, self.pool.death_reason(worker))
                self.worker = None
                break
            if worker.task is not None and time.monotonic() - started > deadline \
                    and not worker.answers:
                worker.answers.append(f"grading this submission took longer than {deadline:g} "
                                      "s, so it was stopped")
                kill_tree(worker.process.pid)
        return answers[0] if answers else {"failure": "the grading process gave no answer"}

    def close(self) -> None:
        from autograder.core.processes import kill_tree

        if self.worker is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self.worker.process.stdin.close()
        with contextlib.suppress(Exception):
            self.worker.process.wait(timeout=5)
        if self.worker.process.poll() is None:
            kill_tree(self.worker.process.pid)
            self.worker.process.wait()
        with contextlib.suppress(OSError):
            os.close(self.worker.results)
        self.worker = None


class _WorkerSide:
    """Per Dask worker process: a run folder, the course copies, one grader per thread."""

    def __init__(self) -> None:
        from autograder.run.rundir import RUN_PREFIX, remove_stale_runs, temp_root

        root = temp_root()
        remove_stale_runs(root)
        # Named like a local run's folder, so a later run removes it if we are killed.
        self.folder = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-dask-",
                                            dir=root))
        self.lock = threading.Lock()
        self.local = threading.local()
        self.graders: list[_Grader] = []
        atexit.register(self.close)

    def grader(self) -> _Grader:
        grader = getattr(self.local, "grader", None)
        if grader is None:
            with self.lock:
                folder = self.folder / f"g{len(self.graders)}"
                folder.mkdir()
                grader = _Grader(folder)
                self.graders.append(grader)
            self.local.grader = grader
        return grader

    def course(self, files: dict[str, bytes], key: str) -> Path:
        """The course files of one version, written once (atomically) per worker."""
        target = self.folder / f"course-{key[:16]}"
        with self.lock:
            if not target.is_dir():
                partial = self.folder / f"partial-{uuid.uuid4().hex}"
                for name, data in files.items():
                    path = partial / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                partial.rename(target)
        return target

    def close(self) -> None:
        for grader in self.graders:
            with contextlib.suppress(Exception):
                grader.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_side: _WorkerSide | None = None
_side_lock = threading.Lock()


def _worker_side() -> _WorkerSide:
    global _side
    with _side_lock:
        if _side is None:
            _side = _WorkerSide()
        return _side


def grade_on_worker(payload: dict) -> dict:
    """Dask task: grade one submission carried as data; answer like a local worker.

    Returns ``{"success", "log", "executed"}`` or ``{"failure": reason}``.
    """
    mine = fingerprint()
    problems = differences(payload["expected"], mine, payload["task"]["sandbox"])
    where = f"Dask worker on {mine['host']} (pid {os.getpid()})"
    if problems:
        return {"failure": f"{where} is not the same course version: " + "; ".join(problems)}
    files: dict[str, bytes] = payload["files"]
    if files_hash(files) != payload["files_hash"]:
        return {"failure": f"{where} received course files whose hash differs from the "
                           "parent's; they were damaged on the way"}
    task = dict(payload["task"])
    source = f"source/{task['assignment']['name']}/{task['assignment']['notebook_file']}"
    if hashlib.sha256(files[source]).hexdigest() != payload["source_hash"]:
        return {"failure": f"{where}: the source notebook's hash is not the parent's"}
    side = _worker_side()
    course = side.course(files, payload["files_hash"])
    inbox = side.folder / f"in-{uuid.uuid4().hex}"
    inbox.mkdir()
    try:
        notebook = inbox / task["assignment"]["notebook_file"]
        notebook.write_bytes(payload["submission"])
        stamp = None
        if payload.get("timestamp") is not None:
            stamp = inbox / "timestamp.txt"
            stamp.write_text(payload["timestamp"], encoding="utf-8")
        task.update(root=str(course), notebook=str(notebook),
                    timestamp=str(stamp) if stamp else None,
                    template_key=payload["files_hash"])
        return side.grader().grade(task, float(payload["deadline"]))
    finally:
        shutil.rmtree(inbox, ignore_errors=True)


# --- the parent side --------------------------------------------------------------------

def _distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise ClusterError(
            f"--scheduler needs Dask's distributed package ({error}): install the course "
            "with its cluster extra, `pip install -e \".[cluster]\"`") from error
    return distributed


def failure_answer(error: BaseException) -> dict:
    """The answer for a task that Dask could not run to the end."""
    name = type(error).__name__
    if name == "KilledWorker":
        deaths = getattr(error, "allowed_failures", 3) + 1
        return {"failure": f"the Dask workers grading this submission died {deaths} "
                           f"time{'s' if deaths != 1 else ''} (the machine ran out of memory, "
                           f"or was stopped), so it was given up: {error}"[:600]}
    return {"failure": f"the Dask task failed: {name}: {error}"[:600]}


class DaskPool:
    """Run grading tasks on the Dask cluster at ``scheduler`` (``WorkerPool``'s interface)."""

    def __init__(self, scheduler: str, *, deadline: float, sandbox: str,
                 connect_timeout: float = 30) -> None:
        self.scheduler = scheduler
        self.deadline = deadline
        self.sandbox = sandbox
        self.connect_timeout = connect_timeout
        self.workers: dict[str, dict] = {}

    def connect(self) -> Any:
        distributed = _distributed()
        try:
            return distributed.Client(self.scheduler, timeout=f"{self.connect_timeout}s",
                                      set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {self.scheduler} ({error}); start one "
                "with `dask scheduler` and give its address (tcp://HOST:8786)") from error

    def check_workers(self, client: Any) -> dict[str, dict]:
        """Every worker's fingerprint; ClusterError naming the first that differs."""
        try:
            client.wait_for_workers(1, timeout=self.connect_timeout)
        except TimeoutError as error:
            raise ClusterError(
                f"no Dask worker is connected to {self.scheduler}: start some with "
                f"`dask worker {self.scheduler} --nthreads 1`") from error
        reported = client.run(report)
        mine = fingerprint()
        refused = []
        for address, theirs in sorted(reported.items()):
            problems = differences(mine, theirs, self.sandbox)
            if problems:
                refused.append(f"worker {address} ({theirs.get('host')}): "
                               + "; ".join(problems))
        if refused:
            raise ClusterError(
                "refusing to grade on this cluster: its workers must run the same course "
                "version as this machine (install the same commit of the course there, with "
                "the same nbgrader, and bubblewrap).\n  " + "\n  ".join(refused))
        self.workers = reported
        return reported

    def payload(self, task: dict, courses: dict) -> dict:
        """One task with everything it needs as data (course files read once per run)."""
        assignment = task["assignment"]
        key = (task["root"], assignment["name"])
        if key not in courses:
            files = course_files(Path(task["root"]), assignment["name"],
                                 assignment["notebook_file"])
            source = files[f"source/{assignment['name']}/{assignment['notebook_file']}"]
            courses[key] = (files, files_hash(files), hashlib.sha256(source).hexdigest())
        files, files_digest, source_hash = courses[key]
        stamp = task.get("timestamp")
        mine = fingerprint()
        return {"task": {k: v for k, v in task.items()
                         if k not in ("root", "notebook", "timestamp")},
                "files": files, "files_hash": files_digest, "source_hash": source_hash,
                "submission": Path(task["notebook"]).read_bytes(),
                "timestamp": Path(stamp).read_text(encoding="utf-8") if stamp else None,
                "deadline": self.deadline, "expected": {k: mine[k] for k in COMPARED}}

    def run(self, tasks: Iterable[dict], on_answer: Callable[[dict, dict], None]) -> None:
        """Grade every task on the cluster; ``on_answer(task, answer)`` once for each.

        At most a few tasks per worker thread are in the cluster at a time, so
        a class of thousands never sits whole in the scheduler's memory; and
        ``tasks`` is read only as the window has room (the grader checks each
        submission as it hands it out), so the cluster starts on the first
        submission, not once all of them are checked (about 10 ms each).
        """
        distributed = _distributed()
        client = self.connect()
        submitted: list[Any] = []
        try:
            self.check_workers(client)
            threads = sum(client.nthreads().values()) or 1
            window = max(8, 4 * threads)
            run = uuid.uuid4().hex[:12]
            courses: dict = {}
            pending = iter(tasks)
            owner: dict[str, dict] = {}

            def submit() -> Any | None:
                """The next task sent to the cluster; None once there is none."""
                task = next(pending, None)
                if task is None:
                    return None
                # One key per submission of this run: Dask never runs a key twice at
                # once, and a task rescheduled after a worker died keeps its key.
                key = f"grade-{run}-{task['id']}-{task['student']}-{task['assignment']['name']}"
                future = client.submit(grade_on_worker, self.payload(task, courses), key=key,
                                       pure=False)
                owner[future.key] = task
                submitted.append(future)
                return future

            first: list[Any] = []
            while len(first) < window and (future := submit()) is not None:
                first.append(future)
            completed = distributed.as_completed(first, loop=client.loop)
            answered: set[str] = set()
            for future in completed:
                if (following := submit()) is not None:
                    completed.add(following)
                if future.key in answered:  # never count a submission twice
                    continue
                answered.add(future.key)
                task = owner[future.key]
                error = future.exception()
                answer = failure_answer(error) if error is not None else future.result()
                future.release()
                on_answer(task, {**answer, "id": task["id"]})
        finally:
            with contextlib.suppress(Exception):
                client.cancel(submitted)
            client.close()


def stop_session(process: subprocess.Popen, grace: float = 20.0) -> None:
    """Stop a process started with ``start_new_session`` (a local ``dask scheduler`` or
    ``dask worker``) and everything in its session: SIGTERM, then SIGKILL after
    ``grace`` seconds. The benchmark and the tests start their clusters this way."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
