"""What do the guarded verdict's extra steps cost? Grading time with and without them.

The same class (copies of the solution of one assignment) is graded in two
copies of a course that differ in one line of nbgrader_config.py:
``c.SandboxedExecute.trusted`` (the tamper guard after every cell and the
trusted probes after every test cell) on or off. Runs alternate; medians
are compared. Both must give every student the same score. Usage:

    python benchmarks/bench_verdict.py [--assignment 02_layers] [--students 6]
                                       [--repeats 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from timing import report

from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton, grade

ROOT = Path(__file__).resolve().parents[1]


def _course(folder: Path, assignment, students: int, trusted: bool):
    copy_course_skeleton(ROOT, folder, [assignment])
    config = folder / "nbgrader_config.py"
    config.write_text(config.read_text() + f"\nc.SandboxedExecute.trusted = {trusted}\n")
    run_nbgrader(["generate_assignment", assignment.name, "--force"], folder)
    solution = folder / "source" / assignment.name / assignment.notebook_file
    for number in range(students):
        target = folder / "submitted" / f"student{number:02}" / assignment.name
        target.mkdir(parents=True)
        shutil.copy2(solution, target / assignment.notebook_file)
    return load_manifest(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="02_layers")
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    assignment = load_manifest(ROOT).assignment(args.assignment)
    with tempfile.TemporaryDirectory(prefix="bench-verdict-") as temp:
        courses = {mode: _course(Path(temp) / mode, assignment, args.students,
                                 mode == "guarded") for mode in ("plain", "guarded")}
        seconds: dict[str, list[float]] = {mode: [] for mode in courses}
        scores: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for mode, course in courses.items():
                started = time.perf_counter()
                results = grade(course, [assignment], students=None, workers=args.workers,
                                keep_autograded=False, record=False)
                seconds[mode].append((time.perf_counter() - started) / args.students)
                got = [r.score for r in results]
                if scores.setdefault(mode, got) != got:
                    raise SystemExit(f"{mode}: scores changed between runs")
        if scores["plain"] != scores["guarded"]:
            raise SystemExit(f"the guarded verdict changed honest scores: {scores}")
    report(f"{assignment.name}: {args.students} submissions, {args.workers} worker(s), "
           f"{args.repeats} runs each", seconds, "plain", "guarded",
           {"plain": "trusted=False", "guarded": "trusted=True"},
           "guard + trusted verdict, of grading time")

if __name__ == "__main__":
    main()
