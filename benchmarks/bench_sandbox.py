"""What does the sandbox cost? Grading time per submission, bubblewrap vs no isolation.

The same class (copies of the solution notebook of one assignment) is graded
with ``--sandbox bwrap`` and ``--sandbox none``, alternating, in a temporary
course; the medians are compared, so machine noise affects both sides alike.
Both runs must give every student the same score, or the script fails.
Usage:

    python benchmarks/bench_sandbox.py [--assignment 02_layers] [--students 6]
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
from autograder.sandbox.bubblewrap import probe_bwrap

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="02_layers")
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    probe = probe_bwrap()
    if not probe.ok:
        raise SystemExit(f"cannot compare: {probe.detail}")
    assignment = load_manifest(ROOT).assignment(args.assignment)
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as temp:
        root = Path(temp)
        copy_course_skeleton(ROOT, root, [assignment])
        run_nbgrader(["generate_assignment", assignment.name, "--force"], root)
        solution = root / "source" / assignment.name / assignment.notebook_file
        for number in range(args.students):
            folder = root / "submitted" / f"student{number:02}" / assignment.name
            folder.mkdir(parents=True)
            shutil.copy2(solution, folder / assignment.notebook_file)
        course = load_manifest(root)
        seconds: dict[str, list[float]] = {"none": [], "bwrap": []}
        scores: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for mode in ("none", "bwrap"):
                started = time.perf_counter()
                results = grade(course, [assignment], students=None, workers=args.workers,
                                keep_autograded=False, record=False, sandbox=mode)
                seconds[mode].append((time.perf_counter() - started) / args.students)
                got = [r.score for r in results]
                if scores.setdefault(mode, got) != got or got != scores["none"]:
                    raise SystemExit(f"scores differ between runs: {scores} vs {mode}: {got}")
    report(f"{assignment.name}: {args.students} submissions, {args.workers} worker(s), "
           f"{args.repeats} runs each", seconds, "none", "bwrap",
           {"none": "--sandbox none", "bwrap": "--sandbox bwrap"}, "sandbox overhead")

if __name__ == "__main__":
    main()
