"""What does the judge cost? This checkout's grading against another checkout's.

The judge (autograder/judge) replaced the probes that ran inside the student's
kernel: it starts a fresh sandboxed process per submission, while the kernel
no longer runs hidden tests. This script grades the same synthetic class
(solutions and mutants of one assignment) with ``python -m autograder grade``
in two course copies, one made by this checkout and one by a baseline checkout
with its own Python environment (for example the commit before the judge, in
a ``git worktree`` with ``pip install -e`` into a venv of its own), in
alternating rounds, and prints the median seconds per submission of each and
their ratio. Both must give every student the same total score, or it says so.

    git worktree add /tmp/before <commit>
    python -m venv /tmp/before-venv && /tmp/before-venv/bin/pip install -e /tmp/before
    python benchmarks/bench_judge.py --baseline /tmp/before \\
        --baseline-python /tmp/before-venv/bin/python [--assignment 02_layers]
        [--students 8] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env(python: str) -> dict[str, str]:
    """The environment ``python``'s checkout runs in: its own scripts first on PATH
    (``alembic``, ``jupyter``: what nbgrader starts by name), as its venv's activate does."""
    import os

    return {**os.environ, "PATH": f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}"}


def _course(checkout: Path, python: str, folder: Path, assignment: str,
            students: int) -> None:
    """A course folder made by ``checkout``'s own code: its sources, its release."""
    script = (
        "import shutil, sys, nbformat\n"
        "from pathlib import Path\n"
        "try:\n"
        "    from autograder.pipeline.grading import copy_course_skeleton\n"
        "    from autograder.core.manifest import load_manifest\n"
        "    from autograder.author.mutants import load_mutants\n"
        "    from autograder.core.nbgrader_cli import run_nbgrader\n"
        "except ImportError:  # a checkout before the move into layer packages\n"
        "    from autograder.grading import copy_course_skeleton\n"
        "    from autograder.manifest import load_manifest\n"
        "    from autograder.mutants import load_mutants\n"
        "    from autograder.nbgrader_cli import run_nbgrader\n"
        f"root, folder = Path({str(checkout)!r}), Path({str(folder)!r})\n"
        f"chosen = load_manifest(root).assignment({assignment!r})\n"
        "copy_course_skeleton(root, folder, [chosen])\n"
        "run_nbgrader(['generate_assignment', chosen.name, '--force'], folder)\n"
        "source = folder / 'source' / chosen.name / chosen.notebook_file\n"
        "try:  # mutants as patches, bound to the solution they edit\n"
        "    mutants = load_mutants(chosen.name, nbformat.read(source, as_version=4))\n"
        "except TypeError:  # a checkout whose mutants are whole cells\n"
        "    mutants = load_mutants(chosen.name)\n"
        f"for number in range({students}):\n"
        "    target = folder / 'submitted' / f's{number:02}' / chosen.name\n"
        "    target.mkdir(parents=True)\n"
        "    notebook = nbformat.read(source, as_version=4)\n"
        "    if number % 2 and mutants:  # every other student made a known mistake\n"
        "        mutant = mutants[number % len(mutants)]\n"
        "        for cell in notebook.cells:\n"
        "            if cell.metadata.get('nbgrader', {}).get('grade_id') == mutant.cell:\n"
        "                cell.source = mutant.source\n"
        "    nbformat.write(notebook, target / chosen.notebook_file)\n")
    subprocess.run([python, "-c", script], check=True, cwd=folder.parent, env=_env(python),
                   stdout=subprocess.DEVNULL)


def _grade(python: str, folder: Path, assignment: str, workers: int) -> tuple[float, dict]:
    for generated in ("autograded", "feedback", "gradebook.db"):
        path = folder / generated
        if path.is_dir():
            shutil.rmtree(path)
    started = time.perf_counter()
    subprocess.run([python, "-m", "autograder", "release", assignment, "--skip-selfcheck"],
                   cwd=folder, env=_env(python), check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run([python, "-m", "autograder", "grade", assignment, "--workers", str(workers)],
                   cwd=folder, env=_env(python), check=True, capture_output=True)
    seconds = time.perf_counter() - started
    out = folder / "bench.csv"
    subprocess.run([python, "-m", "autograder", "export", "--to", str(out)], cwd=folder,
                   env=_env(python),
                   check=True, capture_output=True)
    with open(out, newline="", encoding="utf-8") as handle:
        scores = {row["student_id"]: row["score"] for row in csv.DictReader(handle)}
    return seconds, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--baseline-python", required=True,
                        help="a Python with the baseline checkout installed")
    parser.add_argument("--assignment", default="02_layers")
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    setups = {"baseline": (args.baseline.resolve(), args.baseline_python),
              "this checkout": (ROOT, sys.executable)}
    with tempfile.TemporaryDirectory(prefix="bench-judge-") as temp:
        folders = {}
        for name, (checkout, python) in setups.items():
            folders[name] = Path(temp) / name.replace(" ", "-") / "course"
            folders[name].parent.mkdir(parents=True)
            _course(checkout, python, folders[name], args.assignment, args.students)
        seconds: dict[str, list[float]] = {name: [] for name in setups}
        scores: dict[str, dict] = {}
        for round_ in range(args.rounds):
            order = list(setups) if round_ % 2 == 0 else list(reversed(setups))
            for name in order:
                took, scores[name] = _grade(setups[name][1], folders[name], args.assignment,
                                            args.workers)
                seconds[name].append(took / args.students)
                print(f"round {round_ + 1}: {name}: {took:.1f} s", flush=True)
    print(f"{args.assignment}, {args.students} submissions (half of them mutants), "
          f"--workers {args.workers}, {args.rounds} rounds:")
    for name in setups:
        print(f"  {name:14} {statistics.median(seconds[name]):.2f} s per submission (median)")
    ratio = statistics.median(seconds["this checkout"]) / statistics.median(seconds["baseline"])
    print(f"  ratio: {ratio:.3f} (this checkout / baseline)")
    if scores["baseline"] != scores["this checkout"]:
        print("  scores differ:", {s: (scores["baseline"].get(s), scores["this checkout"].get(s))
                                   for s in scores["this checkout"]
                                   if scores["baseline"].get(s) != scores["this checkout"][s]})


if __name__ == "__main__":
    main()
