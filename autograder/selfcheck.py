"""Test the tests: for every assignment, in a temporary course folder,

* the solution notebook, autograded by nbgrader, scores full marks;
* the blank release notebook scores zero, with no grader error or timeout;
* every mutant (a known-wrong implementation) loses points, in one test cell
  only (one mistake costs one exercise) unless it is wrong in several places;
* the visible tests alone catch at least ``VISIBLE_TARGET`` of the mutants
  (a student whose visible tests pass should lose hidden points only for
  what no visible test could reasonably cover);
* every cheat of ``autograder.mutants.cheats``, added to the first mutant's
  notebook, scores no more than that mutant alone, and is flagged.

A mutant that keeps full marks is a hole in the hidden tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.execute import run_notebook
from autograder.grading import copy_course_skeleton, grade
from autograder.manifest import Assignment, Course, load_manifest
from autograder.mutants import Mutant, load_mutants
from autograder.mutants.cheats import CHEATS
from autograder.nbgrader_cli import run_nbgrader

__all__ = ["Check", "selfcheck", "format_table", "VISIBLE_TARGET"]

#: The share of an assignment's mutants its visible tests must catch.
VISIBLE_TARGET = 0.8


@dataclass
class Check:
    assignment: str
    subject: str      # "solution", "blank" or "mutant <cell>: <description>"
    score: float
    max_score: float
    ok: bool
    detail: str = ""


def _fast_path_environment() -> None:
    """Runs in each mutant worker; the kernels it starts inherit the environment.

    Figures are drawn but never rendered to PNG (the Agg backend): only the
    graded cells' results matter here, and rendering is a third of the time.
    The control run of every solution in the same environment proves that
    this changes no grade.
    """
    os.environ["MPLBACKEND"] = "agg"


def _run_mutant(path: str, cell: str | None, source: str | None,
                sandbox: str = "auto") -> tuple[float, float, str, str, list[str]]:
    """Score the notebook at ``path`` with one cell replaced (none for a control run).

    Returns the score, the maximum, the first failure, the first failure a
    student would have seen before submitting ("" if none), and the grade ids
    of the test cells that lost points.
    """
    run = run_notebook(path, {cell: source} if cell is not None else None, sandbox=sandbox)
    caught = [f"{c.grade_id}: {c.message}" for c in run.failed()]
    return (run.score, run.max_score, caught[0][:200] if caught else "",
            run.seen[0][:200] if run.seen else "", [c.grade_id for c in run.failed()])


def _blamed_elsewhere(mutant: Mutant, failed: list[str]) -> list[str]:
    """Test cells a mutant lost points in beyond its one mistake (and its ``also``)."""
    own = [cell for cell in failed if cell not in mutant.also]
    return own[1:]


def _with_cells(notebook: nbformat.NotebookNode, mutant: Mutant,
                cheat: str | None = None) -> nbformat.NotebookNode:
    """The notebook with ``mutant`` in its cell and ``cheat`` added after the setup cell."""
    changed = nbformat.from_dict(notebook)
    for cell in changed.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == mutant.cell:
            cell.source = mutant.source
    if cheat is not None:
        changed.cells.insert(2, nbformat.v4.new_code_cell(cheat))
    return changed


def _grade_solution_and_blank(course: Course, chosen: tuple[Assignment, ...], workers: int,
                              work: Path, sandbox: str, cheats: bool = True) -> list[Check]:
    """Solutions, blanks, and (``cheats``) every cheat of autograder.mutants.cheats on a
    mutant."""
    copy_course_skeleton(course.root, work, chosen)
    checks = []
    for assignment in chosen:
        # The copy's own gradebook, even when MINIFLOW_DB_URL names the course's.
        run_nbgrader(["generate_assignment", assignment.name, "--force",
                      f"--CourseDirectory.db_url=sqlite:///{work / 'gradebook.db'}"], work)
        for student, origin in (("solution", work / "source"), ("blank", work / "release")):
            target = work / "submitted" / student / assignment.name
            target.mkdir(parents=True)
            shutil.copy2(origin / assignment.name / assignment.notebook_file, target)
        mutants = load_mutants(assignment.name)
        if mutants and cheats:
            source = nbformat.read(work / "source" / assignment.name /
                                   assignment.notebook_file, as_version=4)
            cheaters = {"mutant": None, **{f"cheat-{name}": code
                                          for name, code in CHEATS.items()}}
            for student, code in cheaters.items():
                target = work / "submitted" / student / assignment.name
                target.mkdir(parents=True)
                nbformat.write(_with_cells(source, mutants[0], code),
                               target / assignment.notebook_file)
    copy = load_manifest(work)
    results = grade(copy, chosen, students=None, workers=workers, keep_autograded=False,
                    record=False, sandbox=sandbox)
    for r in results:
        if r.student not in ("solution", "blank"):
            continue
        infra = [n for n in r.notes if "could not" in n or "time" in n or "died" in n
                 or "manual" in n]
        if r.student == "solution":
            ok = r.status == "graded" and r.score == r.max_score and not infra and not r.flags
        else:
            ok = r.status == "graded" and r.score == 0 and not infra
        failing = [f"{c.grade_id}: {c.message[:120]}" for c in r.cells
                   if c.score < c.max_score]
        detail = "; ".join(infra + r.flags) or \
            ("; ".join(failing[:2]) if r.student == "solution" else "")
        checks.append(Check(r.assignment, r.student, r.score, r.max_score, ok, detail))
    for assignment in chosen:
        mine = {r.student: r for r in results if r.assignment == assignment.name}
        if "mutant" not in mine:
            continue
        base = mine["mutant"].score
        tried = [r for s, r in mine.items() if s.startswith("cheat-")]
        kept = [r.student[len("cheat-"):] for r in tried if r.score > base]
        unnamed = [r.student[len("cheat-"):] for r in tried if not r.flags]
        ok = not kept and not unnamed
        subject = (f"cheating attempts: {len(tried)} tried, all lost points" if not kept
                   else f"cheating attempts: {len(tried)} tried, {len(kept)} KEPT POINTS")
        detail = "; ".join([*(f"{k} scored more than the wrong code alone" for k in kept),
                            *(f"{u} was not flagged" for u in unnamed)]) or \
            f"each scored at most the mutant's {base:g} and was flagged"
        checks.append(Check(assignment.name, subject, base, mine["mutant"].max_score, ok,
                            detail))
    return checks


def selfcheck(course: Course, chosen: tuple[Assignment, ...], *, workers: int = 2,
              mutants: bool = True, sandbox: str = "auto", cheats: bool = True) -> list[Check]:
    """Every check, in manifest order; kernels run in the grading sandbox.

    ``mutants=False`` skips the mutant library, ``cheats=False`` the cheating
    attempts (``release`` checks only solutions and blanks unless asked).
    """
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as temp:
        checks = _grade_solution_and_blank(course, chosen, workers, Path(temp), sandbox,
                                           cheats)
    if mutants:
        jobs: list[tuple[Assignment, Mutant | None, str]] = []
        for assignment in chosen:
            notebook = str(course.root / "source" / assignment.name / assignment.notebook_file)
            jobs.append((assignment, None, notebook))  # the control run
            jobs.extend((assignment, mutant, notebook) for mutant in load_mutants(assignment.name))
        # A notebook run waits on its kernel part of the time: one process more
        # than the workers keeps the cores busy.
        with ProcessPoolExecutor(max_workers=max(1, workers) + 1,
                                 initializer=_fast_path_environment) as pool:
            futures = [pool.submit(_run_mutant, path, m and m.cell, m and m.source, sandbox)
                       for _, m, path in jobs]
            visible: dict[str, list[Mutant]] = {}
            missed: dict[str, list[Mutant]] = {}
            for (assignment, mutant, _), future in zip(jobs, futures):
                score, max_score, caught, seen, failed = future.result()
                if mutant is None:
                    checks.append(Check(assignment.name, "control: solution in the mutant runner",
                                        score, max_score, score == max_score,
                                        caught and "the solution lost points in the mutant "
                                        f"runner, so its verdicts cannot be trusted: {caught}"))
                    continue
                (visible if seen else missed).setdefault(assignment.name, []).append(mutant)
                extra = _blamed_elsewhere(mutant, failed)
                detail = caught or "KEPT FULL MARKS: strengthen the hidden tests"
                if extra:
                    detail = (f"ONE MISTAKE COST {len(failed)} EXERCISES ({', '.join(failed)}): "
                              "make the tests of the others use the reference for it")
                checks.append(Check(assignment.name, f"mutant {mutant.name}", score, max_score,
                                    score < max_score and not extra, detail))
        for assignment in chosen:
            found = len(visible.get(assignment.name, []))
            total = found + len(missed.get(assignment.name, []))
            if not total:
                continue
            share = found / total
            checks.append(Check(
                assignment.name,
                f"visible tests: catch {found} of {total} mutants ({share:.0%})",
                found, total, share >= VISIBLE_TARGET,
                "only the hidden tests catch: " + "; ".join(
                    m.name for m in missed.get(assignment.name, [])) if found < total else ""))
    order = [a.name for a in course.assignments]
    checks.sort(key=lambda c: (order.index(c.assignment), c.subject != "solution",
                               c.subject != "blank", not c.subject.startswith("control"),
                               c.subject.startswith("visible")))
    return checks


def format_table(checks: list[Check]) -> str:
    lines = [f"{'assignment':12} {'':4} {'score':>7}  subject / detail"]
    for c in checks:
        mark = "ok" if c.ok else "FAIL"
        lines.append(f"{c.assignment:12} {mark:4} {c.score:>3g}/{c.max_score:<3g}  {c.subject}")
        if c.detail and (not c.ok or c.subject.startswith(("mutant", "visible"))):
            lines.append(f"{'':29}-> {' '.join(c.detail.split())[:200]}")
    failed = [c for c in checks if not c.ok]
    lines.append(f"{len(checks) - len(failed)} of {len(checks)} checks passed"
                 + (f"; {len(failed)} FAILED" if failed else ""))
    return "\n".join(lines)
