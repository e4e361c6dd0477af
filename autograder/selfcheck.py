"""Test the tests: for every assignment, in a temporary course folder,

* the solution notebook, autograded by nbgrader, scores full marks;
* the blank release notebook scores zero, with no grader error or timeout;
* every mutant (a known-wrong implementation) loses points.

A mutant that keeps full marks is a hole in the hidden tests.
"""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from autograder.execute import run_notebook
from autograder.grading import copy_course_skeleton, grade
from autograder.manifest import Assignment, Course, load_manifest
from autograder.mutants import load_mutants
from autograder.nbgrader_cli import run_nbgrader

__all__ = ["Check", "selfcheck", "format_table"]


@dataclass
class Check:
    assignment: str
    subject: str      # "solution", "blank" or "mutant <cell>: <description>"
    score: float
    max_score: float
    ok: bool
    detail: str = ""


def _run_mutant(path: str, cell: str, source: str) -> tuple[float, float, str]:
    run = run_notebook(path, {cell: source})
    caught = [f"{c.grade_id}: {c.message}" for c in run.failed()]
    return run.score, run.max_score, caught[0][:200] if caught else ""


def _grade_solution_and_blank(course: Course, chosen: tuple[Assignment, ...], workers: int,
                              work: Path) -> list[Check]:
    copy_course_skeleton(course.root, work, chosen)
    checks = []
    for assignment in chosen:
        run_nbgrader(["generate_assignment", assignment.name, "--force"], work)
        for student, origin in (("solution", work / "source"), ("blank", work / "release")):
            target = work / "submitted" / student / assignment.name
            target.mkdir(parents=True)
            shutil.copy2(origin / assignment.name / assignment.notebook_file, target)
    copy = load_manifest(work)
    for r in grade(copy, chosen, students=None, workers=workers, keep_autograded=False,
                   record=False):
        infra = [n for n in r.notes if "could not" in n or "time" in n or "died" in n
                 or "manual" in n]
        if r.student == "solution":
            ok = r.status == "graded" and r.score == r.max_score and not infra
        else:
            ok = r.status == "graded" and r.score == 0 and not infra
        failing = [f"{c.grade_id}: {c.message[:120]}" for c in r.cells
                   if c.score < c.max_score]
        detail = "; ".join(infra) or ("; ".join(failing[:2]) if r.student == "solution" else "")
        checks.append(Check(r.assignment, r.student, r.score, r.max_score, ok, detail))
    return checks


def selfcheck(course: Course, chosen: tuple[Assignment, ...], *, workers: int = 2,
              mutants: bool = True) -> list[Check]:
    """Every check, in manifest order."""
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as temp:
        checks = _grade_solution_and_blank(course, chosen, workers, Path(temp))
    if mutants:
        jobs = []
        for assignment in chosen:
            notebook = course.root / "source" / assignment.name / assignment.notebook_file
            for mutant in load_mutants(assignment.name):
                jobs.append((assignment, mutant, str(notebook)))
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(_run_mutant, path, m.cell, m.source) for _, m, path in jobs]
            for (assignment, mutant, _), future in zip(jobs, futures):
                score, max_score, caught = future.result()
                checks.append(Check(assignment.name, f"mutant {mutant.name}", score, max_score,
                                    score < max_score,
                                    caught or "KEPT FULL MARKS: strengthen the hidden tests"))
    order = [a.name for a in course.assignments]
    checks.sort(key=lambda c: (order.index(c.assignment), c.subject != "solution",
                               c.subject != "blank"))
    return checks


def format_table(checks: list[Check]) -> str:
    lines = [f"{'assignment':12} {'':4} {'score':>7}  subject / detail"]
    for c in checks:
        mark = "ok" if c.ok else "FAIL"
        lines.append(f"{c.assignment:12} {mark:4} {c.score:>3g}/{c.max_score:<3g}  {c.subject}")
        if c.detail and (not c.ok or c.subject.startswith("mutant")):
            lines.append(f"{'':29}-> {' '.join(c.detail.split())[:200]}")
    failed = [c for c in checks if not c.ok]
    lines.append(f"{len(checks) - len(failed)} of {len(checks)} checks passed"
                 + (f"; {len(failed)} FAILED" if failed else ""))
    return "\n".join(lines)
