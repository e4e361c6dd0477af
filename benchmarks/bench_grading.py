"""How many submissions a minute? ``grade --workers 1``, ``--workers 2``, a local Dask
cluster of two workers (``grade --scheduler``) and plain sequential ``nbgrader autograde``.

One synthetic class (solutions, blank release notebooks and known mistakes from
the mutant library, in turn) is graded by each setup in a course copy of its
own, interleaved in rounds (the order rotates every round), so the machine's
noise spreads over all setups alike. Every setup must give every student the
same total score, or the script fails. The Dask cluster (``dask scheduler``
and two ``dask worker --nthreads 1``) is started once, before the first round;
its workers keep their grading process between rounds, as a real cluster does,
and it is frozen (SIGSTOP) while the other setups are timed, as a cluster on
other machines would take nothing from them.
Each setup is the instructor's command (``python -m autograder grade ...``,
``nbgrader autograde``) in a process of its own, so start-up, reading the
submissions and writing the gradebook count for all alike. The script ends with
this machine's ceiling for two processes (``parallel_ceiling``), which no
``--workers 2`` can beat. Usage:

    python benchmarks/bench_grading.py [--assignment 02_layers] [--students 6]
                                       [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat

from autograder.author.mutants import load_mutants
from autograder.core.manifest import Assignment, load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.core.processes import descendants
from autograder.pipeline.grading import copy_course_skeleton
from autograder.run.cluster import stop_session

ROOT = Path(__file__).resolve().parents[1]
SETUPS = ("workers1", "workers2", "dask2", "nbgrader")
LABELS = {"workers1": "grade --workers 1", "workers2": "grade --workers 2",
          "dask2": "grade --scheduler (2 Dask workers)",
          "nbgrader": "nbgrader autograde (sequential)"}


def _class(root: Path, assignment: Assignment, students: int) -> None:
    """solution, blank, mistake, solution, blank, another mistake, ..."""
    source = nbformat.read(root / "source" / assignment.name / assignment.notebook_file,
                           as_version=4)
    release = nbformat.read(root / "release" / assignment.name / assignment.notebook_file,
                            as_version=4)
    mutants = load_mutants(assignment.name)
    for number in range(students):
        kind = number % 3
        if kind == 0 or not mutants:
            notebook = source
        elif kind == 1:
            notebook = release
        else:
            mutant = mutants[(number // 3) % len(mutants)]
            notebook = nbformat.from_dict(source)
            for cell in notebook.cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") == mutant.cell:
                    cell.source = mutant.source
        folder = root / "submitted" / f"student{number:02}" / assignment.name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / assignment.notebook_file)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """A local Dask cluster's address, and a way to freeze it while others are timed."""

    def __init__(self, address: str, processes: list[subprocess.Popen]) -> None:
        self.address = address
        self.processes = processes

    def _signal(self, number: int) -> None:
        for process in self.processes:
            for pid in [process.pid, *descendants(process.pid)]:
                with contextlib.suppress(OSError):
                    os.kill(pid, number)

    def freeze(self) -> None:
        """Stop every process of the cluster (measured: an idle cluster that has graded
        takes about a quarter of a core here: heartbeats, and each worker's spare kernel
        watched); a real cluster runs on other machines and takes nothing from ours."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)


@contextlib.contextmanager
def local_cluster(folder: Path, workers: int = 2) -> Iterator[Cluster]:
    """A scheduler and ``workers`` single-threaded workers on 127.0.0.1, stopped on exit."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = []

    # Frozen between its rounds (Cluster.freeze), no worker may be given up for
    # missing heartbeats when the cluster wakes.
    environment = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL="1 day")

    def start(*arguments: str) -> None:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "dask", *arguments], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=folder, start_new_session=True, env=environment))

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
              "--no-show")
        for number in range(workers):
            start("worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                  "--nworkers", "1", "--no-dashboard",
                  "--local-directory", str(folder / f"w{number}"))
        with Client(address, timeout="120s", set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=180)
        yield Cluster(address, processes)
    finally:
        Cluster(address, processes).thaw()  # a frozen process cannot stop
        for process in reversed(processes):
            stop_session(process)


SPIN = "n = 0\nfor i in range(12_000_000):\n    n += i\n"


def parallel_ceiling(rounds: int = 3) -> float:
    """How much faster two CPU-bound processes finish than one after the other, here.

    A pure-Python loop, run alone and then two copies at once (best of
    ``rounds``). On two idle, independent cores this is 2.0; shared caches,
    memory bandwidth and neighbours on a virtual machine take it lower, and
    no two grading workers can beat it.
    """
    def timed(copies: int) -> float:
        started = time.perf_counter()
        running = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(copies)]
        for process in running:
            process.wait()
        return time.perf_counter() - started

    alone = min(timed(1) for _ in range(rounds))
    together = min(timed(2) for _ in range(rounds))
    return 2 * alone / together


def _plain_scores(root: Path, assignment: Assignment) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {s.student.id: float(s.score)
                for s in gradebook.find_assignment(assignment.name).submissions}


def _run(setup: str, root: Path, assignment: Assignment, scheduler: str) -> None:
    """Grade the whole class once with ``setup``'s command.

    Each setup is the command an instructor types, in a process of its own:
    its start-up, reading the submissions and writing the gradebook count.
    """
    if setup == "nbgrader":
        run_nbgrader(["autograde", assignment.name, "--force"], root)
    else:
        options = ["--scheduler", scheduler] if setup == "dask2" else \
            ["--workers", "1" if setup == "workers1" else "2"]
        run = subprocess.run(
            [sys.executable, "-m", "autograder", "grade", assignment.name, *options],
            cwd=root, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise SystemExit(f"{setup} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="02_layers")
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    assignment = load_manifest(ROOT).assignment(args.assignment)
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as temp:
        base = Path(temp)
        roots = {}
        for setup in SETUPS:
            root = roots[setup] = base / setup
            copy_course_skeleton(ROOT, root, [assignment])
            run_nbgrader(["generate_assignment", assignment.name, "--force"], root)
            _class(root, assignment, args.students)
        (base / "dask").mkdir()
        seconds: dict[str, list[float]] = {s: [] for s in SETUPS}
        scores: dict[str, dict[str, float]] = {}
        with local_cluster(base / "dask") as cluster:
            cluster.freeze()
            for number in range(args.rounds):
                order = SETUPS[number % len(SETUPS):] + SETUPS[:number % len(SETUPS)]
                for setup in order:
                    if setup == "dask2":
                        cluster.thaw()
                    started = time.perf_counter()
                    _run(setup, roots[setup], assignment, cluster.address)
                    seconds[setup].append((time.perf_counter() - started) / args.students)
                    got = _plain_scores(roots[setup], assignment)  # not timed: ours, not theirs
                    if setup == "dask2":
                        cluster.freeze()
                    print(f"  round {number + 1} {LABELS[setup]:36} "
                          f"{seconds[setup][-1]:.2f} s per submission", flush=True)
                    if len(got) != args.students:
                        raise SystemExit(f"{setup} graded {len(got)} of {args.students}")
                    reference = scores.setdefault("first", got)
                    if got != reference:
                        raise SystemExit(f"{setup} gave other scores: {got} vs {reference}")
        shutil.rmtree(base, ignore_errors=True)
    median = {s: statistics.median(v) for s, v in seconds.items()}
    ceiling = parallel_ceiling()
    print(f"\n{args.students} submissions of {assignment.name} ({args.students // 3} solutions, "
          f"blanks and mistakes each, about), {args.rounds} rounds, interleaved; "
          f"{os.cpu_count()} cores")
    print(f"  {'setup':36} {'s per submission':>16} {'submissions/min':>16}")
    for setup in SETUPS:
        print(f"  {LABELS[setup]:36} {median[setup]:16.2f} {60 / median[setup]:16.1f}")
    print(f"  --workers 2 vs --workers 1:        {median['workers1'] / median['workers2']:.2f}x "
          f"(aim: 1.7x or more; two CPU-bound processes on this machine: {ceiling:.2f}x)")
    print(f"  --workers 1 vs plain nbgrader:     {median['nbgrader'] / median['workers1']:.2f}x "
          "(aim: 2x or more)")
    print(f"  2 Dask workers vs --workers 2:     {median['workers2'] / median['dask2']:.2f}x")


if __name__ == "__main__":
    main()
