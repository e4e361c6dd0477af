"""The whole instructor pipeline, end to end, on a synthetic class.

In a fresh course folder (a temporary one unless ``--output`` names one):
release every assignment, import the class roster, build the class's
submissions as Canvas exports them (one flat zip, each file named after the
student's Canvas login and user id), collect it (each login mapped to its
roster id through the roster's ``lms_login`` column), grade it in parallel,
write feedback, export grades and write the class report, which ranks the
objectives to re-teach first. The class:

* ``solution``: the instructor's solutions (must get full marks);
* ``blank``: the untouched release notebooks (must get zero);
* one student per assignment who made a known mistake (a mutant from the
  mutant library; each must lose points);
* ``broken``: a submission that is not a notebook (rejected with a reason).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

from autograder.author.mutants import load_mutants
from autograder.collect import collect
from autograder.core.manifest import Assignment, Course, load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.core.results import GradeResult, Status
from autograder.pipeline.console import print_results, throughput_line
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.publish.export import export_grades
from autograder.publish.feedback import write_feedback
from autograder.publish.report import rank_objectives, summarise, write_report
from autograder.publish.roster import import_roster
from autograder.record.database import register_assignments
from autograder.record.load import load_results

__all__ = ["build_class", "run_demo"]


def with_mutant(source_notebook: Path, cell: str, replacement: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(source_notebook, as_version=4)
    for c in notebook.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == cell:
            c.source = replacement
    return notebook


def build_class(course: Course, inbox: Path,
                chosen: tuple[Assignment, ...] | None = None) -> dict[str, str]:
    """Write the synthetic class's submissions as an LMS would hand them out.

    Returns what each student is expected to show (for the final verdict).
    """
    chosen = course.assignments if chosen is None else chosen
    expected = {"solution": "full marks", "blank": "zero", "broken": "rejected"}
    for assignment in chosen:
        name, file = assignment.name, assignment.notebook_file
        for student, origin in (("solution", "source"), ("blank", "release")):
            target = inbox / student / name
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(course.root / origin / name / file, target / file)
        mutants = load_mutants(name)
        if mutants:
            mutant = mutants[len(expected) % len(mutants)]
            student = f"mutant{assignment.name.split('_')[0]}"
            notebook = with_mutant(course.root / "source" / name / file, mutant.cell,
                                    mutant.source)
            (inbox / student / name).mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, inbox / student / name / file)
            expected[student] = f"loses points ({mutant.name})"
    first = chosen[0]
    (inbox / "broken" / first.name).mkdir(parents=True, exist_ok=True)
    (inbox / "broken" / first.name / first.notebook_file).write_text(
        '{"cells": [ this is not JSON', encoding="utf-8")
    return expected


def canvas_export(inbox: Path, target: Path) -> dict[str, tuple[str, str]]:
    """The class's submissions under ``inbox`` (a folder per student and assignment) as
    Canvas exports them: one flat zip of ``<login>_<user id>_<submission id>_<file>``.
    Returns student -> (Canvas login, Canvas user id)."""
    students = sorted(p.name for p in inbox.iterdir() if p.is_dir())
    canvas = {student: (f"lms{student}", str(10001 + i)) for i, student in enumerate(students)}
    with zipfile.ZipFile(target, "w") as archive:
        for number, path in enumerate(sorted(inbox.rglob("*.ipynb")), start=20001):
            login, user = canvas[path.relative_to(inbox).parts[0]]
            archive.write(path, f"{login}_{user}_{number}_{path.name}")
    return canvas


def class_roster(canvas: dict[str, tuple[str, str]], target: Path) -> Path:
    """The roster of the class, two sections, with each student's Canvas login and id."""
    lines = ["id,first_name,last_name,email,section,lms_login,lms_user_id"]
    lines += [f"{student},{student.title()},Demo,{student}@example.edu,{'AB'[i % 2]},"
              f"{login},{user}" for i, (student, (login, user)) in enumerate(canvas.items())]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def verdict(results: list[GradeResult], expected: dict[str, str]) -> list[str]:
    """What went against expectation (empty when the demo is as it should be)."""
    problems = []
    for r in results:
        want = expected.get(r.student, "")
        if want == "full marks" and not (r.status == Status.GRADED and r.score == r.max_score):
            problems.append(f"{r.student} {r.assignment}: expected full marks, got "
                            f"{r.score:g}/{r.max_score:g} ({r.status})")
        if want == "zero" and not (r.status == Status.GRADED and r.score == 0):
            problems.append(f"{r.student} {r.assignment}: expected 0, got {r.score:g}")
        if want.startswith("loses") and not (r.status == Status.GRADED and r.score < r.max_score):
            problems.append(f"{r.student} {r.assignment}: the mutant kept full marks")
        if want == "rejected" and r.status != Status.REJECTED:
            problems.append(f"{r.student} {r.assignment}: expected a rejection")
    return problems


def run_demo(source_course: Course, output: Path | None = None, *, workers: int = 2,
             assignments: tuple[Assignment, ...] | None = None, sandbox: str = "auto") -> int:
    """The whole term on a synthetic class; 0 when every grade is as expected."""
    root = Path(output) if output else Path(tempfile.mkdtemp(prefix="miniflow-demo-"))
    if root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} is not empty; give --output a new or empty folder")
    print(f"demo course folder: {root}")
    # The synthetic class goes in the demo folder's own SQLite gradebook, never in the
    # course database MINIFLOW_DB_URL may name (nbgrader_config.py reads it).
    os.environ.pop("MINIFLOW_DB_URL", None)
    names = [a.name for a in (assignments or source_course.assignments)]
    copy_course_skeleton(source_course.root, root,
                         [source_course.assignment(name) for name in names])
    course = load_manifest(root)
    chosen = tuple(course.assignment(name) for name in names)
    print("1. release: generating the student notebooks")
    for assignment in chosen:
        run_nbgrader(["generate_assignment", assignment.name, "--force"], root)
    register_assignments(course)
    print("2. collect: the synthetic class's Canvas zip, mapped to the roster")
    inbox = root / "inbox"
    expected = build_class(course, inbox, chosen)
    canvas = canvas_export(inbox, root / "canvas-export.zip")
    import_roster(course, class_roster(canvas, root / "class.csv"))
    report = collect(course, root / "canvas-export.zip")
    students = sorted({student for student, _, _ in report.placed})
    example = next(iter(canvas.items()))
    print(f"   roster: {len(canvas)} students in 2 sections, with their Canvas logins "
          f"(lms_login)")
    print(f"   collected {len(report.placed)} notebook(s) from {len(students)} students "
          f"({', '.join(students)}); Canvas's names mapped to roster ids (e.g. "
          f"{example[1][0]}_{example[1][1]}_..._{chosen[0].notebook_file} -> {example[0]}); "
          f"could not place {len(report.skipped)} file(s)")
    print(f"3. grade: {len(report.placed)} submission(s) on {workers} worker(s)")
    started = time.perf_counter()
    results = grade(course, chosen, students=None, workers=workers, sandbox=sandbox)
    elapsed = time.perf_counter() - started
    print_results(results)
    print(throughput_line(results, elapsed, f"{workers} worker(s)"))
    print("4. feedback")
    pages = write_feedback(course, chosen)
    print("5. export")
    export_grades(course, root / "grades.csv")
    print("6. report")
    graded = load_results(course)  # once, for the report and its first line here
    page = write_report(course, results=graded)
    ranked = rank_objectives(summarise(course, graded))
    if ranked:
        first = ranked[0]
        print(f"   re-teach first: objective {first.objective.number} of {first.assignment}: "
              f"\"{first.objective.text}\" ({first.objective.met} of "
              f"{first.objective.graded} graded submissions met it)")
    (root / "expected.json").write_text(json.dumps(expected, indent=1), encoding="utf-8")
    problems = verdict(results, expected)
    print()
    print(f"feedback pages: {len(pages)} under {root / 'feedback'}")
    print(f"grades:         {root / 'grades.csv'}")
    print(f"class report:   {page}")
    if problems:
        print("UNEXPECTED:\n  " + "\n  ".join(problems))
        return 1
    print("as expected: solution full marks, blank zero, every mutant lost points, "
          "the broken notebook was rejected with a reason")
    return 0
