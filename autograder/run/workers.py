"""Grading processes, supervised one submission at a time.

The parent starts ``--workers`` processes, each in a session of its own, and
hands each one submission at a time as a JSON line on its stdin. A worker
is forked from the parent once the parent has imported nbgrader (about a
second of CPU a worker then does not spend again), when the parent runs no
other thread; otherwise (a Dask worker, a test runner's threads) it is a
new ``python -P -m autograder.run.worker_process``. Either way it runs the same
code (``autograder.run.worker_process``) from ``main`` on. A worker grades
each submission with nbgrader's API in a fresh temporary course folder and
answers with one JSON line on a pipe of its own (never stdout, which nbgrader
and anything it starts may write to): the executed notebook, nbgrader's
verdict and its log. Nothing else crosses.

A worker that dies, or takes longer than the deadline, costs only the
submission it was grading: that submission is recorded as an error with the
reason, a new worker takes its place, and the rest of the class is graded.
A submission that runs long (``LONG_TASK`` seconds: a notebook that waits
out just under the per-cell limit in cell after cell, say) keeps its worker
until its own time limit, but not the class: while it runs, one more worker
takes the next submissions (at most ``size`` more), and is let go once no
submission runs that long.
Both the parent and each worker are Linux "child subreapers", so a process
that a kernel detached from its parent (double fork, ``setsid``) is adopted
by us instead of by init, and is killed when its submission is done. Every
temporary folder lives under one run folder that the parent removes on
every way out, Ctrl-C included (``autograder.run.rundir``); the
process-tree tools are ``autograder.run.processes``'.

Why a pool of its own, not a library's: ``concurrent.futures``'
``ProcessPoolExecutor`` marks the whole pool broken when one worker dies
(``BrokenProcessPool``), so one student's ``os.kill`` would stop the class;
neither it nor ``multiprocessing.Pool`` can stop a task that overruns, let
alone the kernel and everything it started, and neither adopts the
processes a kernel detaches. Dask's local cluster has the same gaps on one
machine; Dask is used where a class spans machines (``autograder.run.cluster``).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from autograder.core.interrupts import interrupt, interrupted, stop_on_signals  # noqa: F401 - the CLI's and tests' names
from autograder.core.processes import kill_tree
from autograder.run.processes import (
    PR_GET_CHILD_SUBREAPER,
    PR_SET_CHILD_SUBREAPER,
    children_of,
    prctl,
    single_threaded,
)
from autograder.run.worker_process import become_worker, import_for_workers
from autograder.sandbox.bubblewrap import format_size
from autograder.sandbox.child import wait_polling

__all__ = ["Worker", "WorkerPool"]

# The largest answer (a graded notebook and nbgrader's log, as JSON) the grader
# reads from a worker. A notebook's outputs are capped as they arrive
# (SandboxedExecute.max_notebook_output, 32 MiB of characters); this is the
# wall behind that one, far above any notebook the exercises produce.
MAX_ANSWER_BYTES = 512 << 20
# A task running longer than this (seconds) no longer holds up the others: the
# pool starts a worker more for them (WorkerPool.run). The course's notebooks
# grade in about a second; None turns it off.
LONG_TASK: float | None = 60.0


@dataclass
class Worker:
    """One supervised worker process: its pipe, its log, the task it runs."""

    number: int
    process: subprocess.Popen | _Forked
    results: int  # read end of the answer pipe
    log: Path
    buffer: list[bytes] = field(default_factory=list)  # pieces of an answer not ended yet
    buffered: int = 0  # their bytes
    task: dict | None = None
    started: float = 0.0
    answers: deque = field(default_factory=deque)


class _Forked:
    """A worker forked from this process: what the pool uses of ``subprocess.Popen``."""

    def __init__(self, pid: int, stdin: IO[bytes]) -> None:
        self.pid = pid
        self.stdin = stdin
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped already: its status is lost
                self.returncode = -signal.SIGKILL
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        return wait_polling(self, timeout, "autograder worker", 0.005)


class _Pending:
    """Tasks from an iterable, made one at a time; true while one is left."""

    def __init__(self, tasks: Iterable[dict]) -> None:
        self._tasks = iter(tasks)
        self._next: dict | None = None

    def __bool__(self) -> bool:
        if self._next is None:
            self._next = next(self._tasks, None)
        return self._next is not None

    def popleft(self) -> dict:
        if not self:
            raise IndexError("no task left")
        task, self._next = self._next, None
        return task  # type: ignore[return-value]


class WorkerPool:
    """Run ``tasks`` (JSON-able dicts with an ``id``) on ``size`` supervised workers."""

    def __init__(self, size: int, run_dir: Path, *, deadline: float,
                 environment: dict[str, str] | None = None, warm: dict | None = None,
                 fork: bool = True, ready: Callable[[], None] | None = None) -> None:
        self.size = max(1, size)
        # Fork workers from this process when it runs no other thread (``_start``),
        # once ``ready()`` has returned (what forked workers will find made).
        self.fork = fork
        self.ready = ready
        self.run_dir = run_dir
        self.deadline = deadline
        # What each worker readies before its first task (``worker_task.warm_up``).
        self.warm = warm
        self.environment = dict(os.environ if environment is None else environment)
        self.environment["PYTHONSAFEPATH"] = "1"
        self._started = 0
        self._workers: list[Worker] = []
        self._selector: selectors.BaseSelector | None = None
        self._before: set[int] = set()
        self._was_subreaper = 0

    @property
    def workers(self) -> tuple[Worker, ...]:
        """The workers running now."""
        return tuple(self._workers)

    @property
    def started(self) -> int:
        """How many workers this pool has started, those that ended included."""
        return self._started

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, count: int) -> None:
        """Start workers for ``count`` tasks now (at most ``size``); ``run`` uses them.

        A worker imports nbgrader and readies what every submission needs as
        soon as it starts, so starting them before the tasks are ready (while
        the grader reviews the submissions) takes that time off the run.
        Whoever calls ``start`` must ``close`` (or use the pool as a ``with``).
        """
        if self._selector is None:
            self._before = set(children_of(os.getpid()))
            self._was_subreaper = prctl(PR_GET_CHILD_SUBREAPER, 0)
            prctl(PR_SET_CHILD_SUBREAPER, 1)
            self._selector = selectors.DefaultSelector()
        while len(self._workers) < min(self.size, count):
            self._add()

    def _add(self) -> Worker:
        worker = self.start_worker()
        self._workers.append(worker)
        self._selector.register(worker.results, selectors.EVENT_READ, worker)  # type: ignore
        return worker

    def start_worker(self) -> Worker:
        number = self._started
        self._started += 1
        folder = self.run_dir / f"w{number}"
        folder.mkdir()
        read, write = os.pipe()
        log = folder.with_suffix(".log")
        environment = dict(self.environment, MINIFLOW_SANDBOX_TMPDIR=str(folder),
                           MINIFLOW_GRADER_PID=str(os.getpid()))
        process: subprocess.Popen | _Forked | None = None
        if self.fork and single_threaded():  # or the imports would be for nothing
            import_for_workers()  # then look again: an import may start a thread
            if single_threaded():
                if self.ready is not None:
                    self.ready, ready = None, self.ready
                    ready()
                process = self._fork(write, folder, log, environment)
        if process is None:
            with open(log, "wb") as handle:
                process = subprocess.Popen(
                    [sys.executable, "-P", "-m", "autograder.run.worker_process", str(write),
                     str(folder), json.dumps(self.warm)],
                    stdin=subprocess.PIPE, stdout=handle, stderr=subprocess.STDOUT,
                    pass_fds=(write,), env=environment, start_new_session=True)
        os.close(write)
        os.set_blocking(read, False)
        return Worker(number, process, read, log)

    def _fork(self, answers: int, folder: Path, log: Path,
              environment: dict[str, str]) -> _Forked:
        """A worker forked from this process, which has imported what workers import."""
        tasks, feed = os.pipe()
        output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        sys.stdout.flush()  # or the child would write what is buffered here again
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            become_worker(tasks, answers, output, folder, self.warm, environment)
        os.close(tasks)
        os.close(output)
        return _Forked(pid, os.fdopen(feed, "wb"))

    def run(self, tasks: Iterable[dict], on_answer: Callable[[dict, dict], None],
            prepare: Callable[[], None] | None = None, at_most: int | None = None,
            idle: Callable[[], bool] | None = None) -> None:
        """Grade every task; ``on_answer(task, answer)`` for each, in completion order.

        A task whose worker died or ran out of time is answered with
        ``{"failure": reason}``. ``tasks`` may be a generator: each task is
        made when a worker is about to need it (one is kept ready ahead), so
        the first ones are graded while later ones are still being made.
        ``at_most`` bounds a generator's length (the submissions, some of
        which may be rejected before they become tasks): no more workers
        start than there can be tasks, so that one submission regraded does
        not pay for a second worker, fork server and kernel starting beside it.
        ``prepare()``, if given, runs once the workers are starting and before
        any task is handed out (not at all when there is none), so that what
        the tasks need (the generated assignment) is made while they start up.
        A worker that answers gets its next task before ``on_answer`` runs.
        ``idle()``, if given, is called whenever no answer is waiting (so
        every worker has a task, or none is left): a small piece of the
        grader's own work (a review) each time, True while some is left, so
        that it never keeps a worker waiting for a task.
        """
        pending = _Pending(tasks)
        try:
            if isinstance(tasks, Sized):
                count = len(tasks)
            else:  # as many workers as allowed, if any task, and no more than there can be
                count = (self.size if at_most is None else at_most) if pending else 0
            self.start(count)
            selector, workers = self._selector, self._workers
            assert selector is not None
            if prepare is not None and pending:
                prepare()
            for worker in workers:
                self.assign(worker, pending)
            while any(w.task is not None for w in workers):
                if interrupted():  # told to stop, and Python dropped the KeyboardInterrupt
                    raise KeyboardInterrupt
                ready = selector.select(timeout=0)
                if not ready and not (idle is not None and idle()):
                    ready = selector.select(timeout=0.5)  # nothing of ours left to do: wait
                for key, _ in ready:
                    worker = key.data
                    alive, answered = self.read_answers(worker)
                    # Started beside a long task that has ended: let it go once idle.
                    surplus = alive and worker.task is None and \
                        len(workers) > self.allowed(workers)
                    if alive and worker.task is None and not surplus:
                        self.assign(worker, pending)  # first: it works while we record
                    for task, answer in answered:
                        on_answer(task, answer)
                    if alive and not surplus:
                        continue
                    # The answer pipe closed (the worker is gone), or it is surplus.
                    selector.unregister(worker.results)
                    self.retire(worker, on_answer, "" if surplus else self.death_reason(worker))
                    workers.remove(worker)
                    self._sweep(workers)
                    if pending and not surplus:
                        self.assign(self._add(), pending)
                now = time.monotonic()
                for worker in workers:
                    if worker.task is not None and now - worker.started > self.deadline:
                        worker.answers.append("grading this submission took longer than "
                                              f"{self.deadline:g} s, so it was stopped")
                        kill_tree(worker.process.pid)
                if pending and all(w.task is not None for w in workers) and \
                        len(workers) < self.allowed(workers):
                    self.assign(self._add(), pending)  # the long ones hold up no one
        finally:
            self.close()

    def allowed(self, workers: list[Worker]) -> int:
        """How many workers may run: ``size``, and one more for each task of ``workers``
        running longer than ``LONG_TASK``, ``size`` more at most."""
        if LONG_TASK is None:
            return self.size
        now = time.monotonic()
        long = sum(1 for w in workers if w.task is not None and now - w.started > LONG_TASK)
        return self.size + min(long, self.size)

    def close(self) -> None:
        """Stop every worker and whatever they left; the pool may not be used again."""
        if self._selector is None:
            return
        workers, self._workers = self._workers, []
        # No goodbye: a worker holds nothing worth keeping between tasks, and
        # everything it made (its spare kernel's files included) is in the run
        # folder, which goes next.
        for worker in workers:
            kill_tree(worker.process.pid)
        for worker in workers:
            worker.process.wait()
            with contextlib.suppress(OSError, ValueError):
                worker.process.stdin.close()  # type: ignore[union-attr]
            with contextlib.suppress(OSError):
                os.close(worker.results)
        self._sweep([])
        self._selector.close()
        self._selector = None
        prctl(PR_SET_CHILD_SUBREAPER, self._was_subreaper)

    def assign(self, worker: Worker, pending: _Pending) -> None:
        worker.task = pending.popleft() if pending else None
        if worker.task is None:
            return
        worker.started = time.monotonic()
        try:
            worker.process.stdin.write((json.dumps(worker.task) + "\n").encode())  # type: ignore
            worker.process.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass  # the pipe closing will report it
        bool(pending)  # make the next task now, while this one is graded

    def read_answers(self, worker: Worker) -> tuple[bool, list[tuple[dict, dict]]]:
        """Read what the worker sent: (its pipe is still open, the (task, answer)s)."""
        try:
            chunk = os.read(worker.results, 1 << 20)
        except BlockingIOError:
            return True, []
        if not chunk:
            return False, []
        if worker.buffered < 0:  # an answer too large to keep: dropped until the worker is gone
            return True, []
        answered = []
        # Only the new piece is searched and nothing is copied until a line ends: an
        # answer of many megabytes costs its size, not its size times its pieces.
        while (end := chunk.find(b"\n")) >= 0:
            worker.buffer.append(chunk[:end])
            line, chunk = b"".join(worker.buffer), chunk[end + 1:]
            worker.buffer, worker.buffered = [], 0
            answer = json.loads(line)
            task = worker.task
            worker.task = None
            if task is not None and answer.get("id") == task["id"]:
                answered.append((task, answer))
        if chunk:
            worker.buffer.append(chunk)
            worker.buffered += len(chunk)
            if worker.buffered > MAX_ANSWER_BYTES:
                worker.buffer, worker.buffered = [], -1
                worker.answers.append(
                    f"the graded notebook was larger than {format_size(MAX_ANSWER_BYTES)}, "
                    "too large to keep; its outputs are far larger than any exercise needs")
                kill_tree(worker.process.pid)
        return True, answered

    def death_reason(self, worker: Worker) -> str:
        if worker.answers:
            return worker.answers.popleft()
        try:
            code = worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            kill_tree(worker.process.pid)
            code = worker.process.wait()
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return (f"the grading process died while grading this submission ({how}); the "
                "notebook may have killed it")

    def retire(self, worker: Worker, on_answer: Callable[[dict, dict], None],
                reason: str) -> None:
        kill_tree(worker.process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.process.wait(timeout=5)
        with contextlib.suppress(OSError):
            os.close(worker.results)
        if worker.task is not None:
            task, worker.task = worker.task, None
            on_answer(task, {"id": task["id"], "failure": reason})

    def _sweep(self, workers: list[Worker]) -> None:
        """Kill what dead workers and their kernels left behind (adopted by us).

        Again until none is left: a process killed here may have forked
        after its tree was listed (a sandbox starting as its worker was
        killed), and what it forked is ours only once it is dead.
        """
        keep = self._before | {w.process.pid for w in workers}
        for _ in range(50):
            strays = [child for child in children_of(os.getpid()) if child not in keep]
            if not strays:
                return
            for child in strays:
                kill_tree(child)
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(child, 0)
