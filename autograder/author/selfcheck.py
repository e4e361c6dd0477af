"""Test the tests: for every assignment, in a temporary course folder, graded by
``grade`` exactly as a class is (the kernel for what students see, the judge
for the scores):

* the solution notebook scores full marks, unflagged;
* the blank release notebook scores zero, with no grader error or timeout;
* every mutant (a known-wrong implementation, an honest student's mistake)
  loses points, in its own exercise only (one mistake costs one exercise)
  unless it is wrong in several places, and is never flagged;
* the visible tests alone catch at least ``VISIBLE_TARGET`` of the mutants
  (a student whose visible tests pass should lose points only for what no
  visible test could reasonably cover), and the first failure a student sees
  names the mistake (``message_kind``: not only numbers, not only an error
  raised somewhere) for at least ``NAMED_TARGET`` of the mutants they catch;
* every cheat of ``autograder.author.mutants.cheats``, added to the first mutant's
  notebook, scores no more than that mutant alone, and is flagged.

The summary says it both ways: "honest mistakes flagged: 0/N; cheats that
scored: 0/M". A mutant that keeps full marks is a hole in the judge's questions.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.author.mutants import Mutant, load_mutants
from autograder.author.mutants.cheats import CHEATS
from autograder.core.manifest import Assignment, Course, load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.core.results import GradeResult, Status
from autograder.judge import FAILED
from autograder.pipeline.grading import copy_course_skeleton, grade

__all__ = ["Check", "selfcheck", "format_table", "message_kind", "NAMED_TARGET",
           "VISIBLE_TARGET"]

#: ``grade``'s ``on_start(total)`` and ``on_result(result)``, for a progress display.
Progress = tuple[Callable[[int], None], Callable[[GradeResult], None]]
#: The share of an assignment's mutants its visible tests must catch.
VISIBLE_TARGET = 0.8
#: The share of the caught mutants whose first visible failure must name the mistake.
NAMED_TARGET = 0.8
# Outputs that are the grader's, not the kernel's: not what a student saw.
GRADER_OUTPUTS = {FAILED, "TamperingDetected"}


@dataclass
class Check:
    assignment: str
    subject: str      # in words: "solution", "blank", "mutant <cell>: <description>", ...
    score: float
    max_score: float
    ok: bool
    detail: str = ""
    # what was checked, as a code: "solution", "blank", "mutant", "honest" (mutants
    # flagged: score of max_score), "visible" (mutants the visible tests catch) or
    # "cheats" (``cheated`` of ``tried`` scored more than the wrong code alone)
    kind: str = ""
    cheated: int = 0
    tried: int = 0


def seen_by_student(executed: nbformat.NotebookNode, *, limit: int | None = 200) -> list[str]:
    """The failures the kernel showed (what a student sees before submitting):
    each code cell's first error or stderr, the grader's own verdicts left out; each
    cut to ``limit`` characters (None: whole)."""
    seen = []
    for cell in executed.cells:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") not in \
                    GRADER_OUTPUTS:
                where = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or "a cell"
                seen.append(f"{where}: {output.get('ename')}: {output.get('evalue', '')}"[:limit])
                break
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                where = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or "a cell"
                seen.append(f"{where}: wrote to stderr")
                break
    return seen

UNNAMED, SEPARATOR = "no likely mistake named: ", " | "
#: The first line of a comparison no known pattern explains: the numbers, not the mistake.
NUMBERS_ONLY = ("Wrong value at element", "Wrong shape")
#: The first line of an error the student's code raised inside a check ("Mul.forward()
#: raised TypeError"): where it happened, not why.
RAISED = re.compile(r"\braised [A-Z]\w*(?:Error|Exception)\b")


def message_kind(seen: str) -> str:
    """What a visible failure (``seen_by_student``'s "cell: Error: message") tells the
    student: "named" (a sentence that names the mistake or what to fix), "numbers"
    (which element is wrong, and by how much, but no likely mistake) or "raised" (an
    error their code raised, and where, but not why)."""
    _, _, rest = seen.partition(": ")
    error, _, message = rest.partition(": ")
    first = message.split("\n")[0].strip()
    if "Likely mistake:" in message:
        return "named"
    if error != "AssertionError" or RAISED.search(first):
        return "raised"
    if first.startswith(NUMBERS_ONLY):
        return "numbers"
    return "named"


def blamed_elsewhere(mutant: Mutant, failed: list[str]) -> list[str]:
    """Test cells a mutant lost points in beyond its one mistake (and its ``also``)."""
    own = [cell for cell in failed if cell not in mutant.also]
    return own[1:]


def mutant_check(assignment: str, mutant: Mutant, result: GradeResult) -> Check:
    """The verdict on one mutant, graded: caught, in its own exercise only, unflagged."""
    failed = [c.grade_id for c in result.cells if c.score < c.max_score]
    caught = [f"{c.grade_id}: {c.message}" for c in result.cells if c.score < c.max_score]
    extra = blamed_elsewhere(mutant, failed)
    ok = result.status == Status.GRADED and result.score < result.max_score and not extra \
        and not result.flags
    detail = caught[0][:200] if caught else "KEPT FULL MARKS: the judge asks nothing it gets wrong"
    if result.status != Status.GRADED:
        detail = f"NOT GRADED ({result.status}): {'; '.join(result.notes)[:200]}"
    elif extra:
        detail = (f"ONE MISTAKE COST {len(failed)} EXERCISES ({', '.join(failed)}): make the "
                  "tests of the others use the grader's version of it")
    elif result.flags:
        detail = f"AN HONEST MISTAKE WAS FLAGGED: {'; '.join(result.flags)[:200]}"
    return Check(assignment, f"mutant {mutant.name}", result.score, result.max_score, ok,
                 detail, kind="mutant")


def _with_cells(notebook: nbformat.NotebookNode, mutant: Mutant | None,
                cheat: str | None = None) -> nbformat.NotebookNode:
    """The notebook with ``mutant`` in its cell and ``cheat`` added after the setup cell."""
    changed = nbformat.from_dict(notebook)
    for cell in changed.cells:
        if mutant is not None and cell.metadata.get("nbgrader", {}).get("grade_id") == \
                mutant.cell:
            cell.source = mutant.source
    if cheat is not None:
        changed.cells.insert(2, nbformat.v4.new_code_cell(cheat))
    return changed


def _class(course: Course, chosen: tuple[Assignment, ...], work: Path, *, mutants: bool,
           cheats: bool) -> dict[str, dict[str, Mutant | None]]:
    """The temporary course's submissions: assignment -> student -> the mutant in it."""
    copy_course_skeleton(course.root, work, chosen)
    who: dict[str, dict[str, Mutant | None]] = {}
    for assignment in chosen:
        # The copy's own gradebook, even when MINIFLOW_DB_URL names the course's.
        run_nbgrader(["generate_assignment", assignment.name, "--force",
                      f"--CourseDirectory.db_url=sqlite:///{work / 'gradebook.db'}"], work)
        for student, origin in (("solution", work / "source"), ("blank", work / "release")):
            target = work / "submitted" / student / assignment.name
            target.mkdir(parents=True)
            shutil.copy2(origin / assignment.name / assignment.notebook_file, target)
        mine: dict[str, Mutant | None] = {"solution": None, "blank": None}
        source = nbformat.read(work / "source" / assignment.name / assignment.notebook_file,
                               as_version=4)
        library = load_mutants(assignment.name, source)
        notebooks: dict[str, nbformat.NotebookNode] = {}
        if mutants:
            for number, mutant in enumerate(library):
                notebooks[f"mutant-{number:03d}"] = _with_cells(source, mutant)
                mine[f"mutant-{number:03d}"] = mutant
        if library and cheats:
            notebooks["cheat-base"] = _with_cells(source, library[0])
            mine["cheat-base"] = library[0]
            for name, code in CHEATS.items():
                notebooks[f"cheat-{name}"] = _with_cells(source, library[0], code)
                mine[f"cheat-{name}"] = library[0]
        for student, notebook in notebooks.items():
            target = work / "submitted" / student / assignment.name
            target.mkdir(parents=True)
            nbformat.write(notebook, target / assignment.notebook_file)
        who[assignment.name] = mine
    return who


def _checks(course: Course, chosen: tuple[Assignment, ...], workers: int, work: Path,
            sandbox: str, *, mutants: bool, cheats: bool,
            progress: Progress | None = None) -> list[Check]:
    who = _class(course, chosen, work, mutants=mutants, cheats=cheats)
    copy = load_manifest(work)
    on_start, on_result = progress if progress is not None else (None, None)
    results = grade(copy, chosen, students=None, workers=workers, keep_autograded=True,
                    record=False, sandbox=sandbox, on_start=on_start, on_result=on_result)
    checks = []
    by = {(r.assignment, r.student): r for r in results}
    for assignment in chosen:
        for student in ("solution", "blank"):
            r = by[(assignment.name, student)]
            infra = list(r.notes)
            if student == "solution":
                # A right answer must look right to the student too: no visible failure.
                executed = work / "autograded" / student / assignment.name / \
                    assignment.notebook_file
                infra += [f"a student with the solution would see {seen}" for seen in (
                    seen_by_student(nbformat.read(executed, as_version=4))
                    if executed.is_file() else ["no graded notebook"])]
                ok = r.status == Status.GRADED and r.score == r.max_score and not infra \
                    and not r.flags
            else:
                ok = r.status == Status.GRADED and r.score == 0 and not infra
            failing = [f"{c.grade_id}: {c.message[:120]}" for c in r.cells
                       if c.score < c.max_score]
            detail = "; ".join(infra + r.flags) or \
                ("; ".join(failing[:2]) if student == "solution" else "")
            checks.append(Check(r.assignment, student, r.score, r.max_score, ok, detail,
                                kind=student))
        mine = who[assignment.name]
        visible, missed, flagged, honest = [], [], 0, 0
        unnamed: list[str] = []
        for student, mutant in mine.items():
            if not student.startswith("mutant-") or mutant is None:
                continue
            result = by[(assignment.name, student)]
            check = mutant_check(assignment.name, mutant, result)
            checks.append(check)
            honest += 1
            flagged += bool(result.flags)
            executed = work / "autograded" / student / assignment.name / \
                assignment.notebook_file
            seen = seen_by_student(nbformat.read(executed, as_version=4), limit=None) \
                if executed.is_file() else []
            (visible if seen else missed).append(mutant)
            if seen and message_kind(seen[0]) != "named":
                unnamed.append(f"{mutant.name} ({message_kind(seen[0])}: "
                               f"{seen[0].splitlines()[0][:90]})")
        if honest:
            checks.append(Check(assignment.name, f"honest mistakes flagged: {flagged}/{honest}",
                                flagged, honest, flagged == 0, kind="honest"))
            share = len(visible) / honest
            checks.append(Check(
                assignment.name,
                f"visible tests: catch {len(visible)} of {honest} mutants ({share:.0%})",
                len(visible), honest, share >= VISIBLE_TARGET,
                "only the judge catches: " + "; ".join(m.name for m in missed)
                if missed else "", kind="visible"))
            named = len(visible) - len(unnamed)
            checks.append(Check(
                assignment.name,
                f"visible failures that name the mistake: {named} of {len(visible)}",
                named, len(visible), not visible or named / len(visible) >= NAMED_TARGET,
                UNNAMED + SEPARATOR.join(unnamed) if unnamed else "",
                kind="named"))
        if "cheat-base" in mine:
            base = by[(assignment.name, "cheat-base")].score
            tried = [by[(assignment.name, s)] for s in mine if s.startswith("cheat-")
                     and s != "cheat-base"]
            kept = [r.student[len("cheat-"):] for r in tried if r.score > base]
            unnamed = [r.student[len("cheat-"):] for r in tried if not r.flags]
            subject = f"cheats that scored: {len(kept)}/{len(tried)}"
            detail = "; ".join([*(f"{k} scored more than the wrong code alone" for k in kept),
                                *(f"{u} was not flagged" for u in unnamed)]) or \
                f"each scored at most the mutant's {base:g} and was flagged"
            checks.append(Check(assignment.name, subject, base,
                                by[(assignment.name, "cheat-base")].max_score,
                                not kept and not unnamed, detail, kind="cheats",
                                cheated=len(kept), tried=len(tried)))
    return checks


def selfcheck(course: Course, chosen: tuple[Assignment, ...], *, workers: int = 2,
              mutants: bool = True, sandbox: str = "auto", cheats: bool = True,
              progress: Progress | None = None) -> list[Check]:
    """Every check, in manifest order; every notebook graded by ``grade``.

    ``progress``: ``grade``'s ``(on_start, on_result)``, to show the grading as it goes
    (``release`` draws a progress bar).

    ``mutants=False`` skips the mutant library, ``cheats=False`` the cheating
    attempts (``release`` checks only solutions and blanks unless asked).
    """
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as temp:
        checks = _checks(course, chosen, workers, Path(temp), sandbox, mutants=mutants,
                         cheats=cheats, progress=progress)
    order = [a.name for a in course.assignments]

    def rank(c: Check) -> tuple:
        kinds = ("solution", "blank", "mutant", "honest", "visible", "named", "cheats")
        return (order.index(c.assignment),
                kinds.index(c.kind) if c.kind in kinds else len(kinds))

    checks.sort(key=rank)
    return checks


def format_table(checks: list[Check]) -> str:
    lines = [f"{'assignment':12} {'':4} {'score':>7}  subject / detail"]
    for c in checks:
        mark = "ok" if c.ok else "FAIL"
        lines.append(f"{c.assignment:12} {mark:4} {c.score:>3g}/{c.max_score:<3g}  {c.subject}")
        if c.kind == "named" and c.detail:
            lines.extend(f"{'':29}-> {' '.join(item.split())[:200]}"
                         for item in c.detail.removeprefix(UNNAMED).split(SEPARATOR))
        elif c.detail and (not c.ok or c.kind in ("mutant", "visible")):
            lines.append(f"{'':29}-> {' '.join(c.detail.split())[:200]}")
    flagged = [c for c in checks if c.kind == "honest"]
    scored = [c for c in checks if c.kind == "cheats"]
    if flagged or scored:
        cheated = sum(c.cheated for c in scored)
        tried = sum(c.tried for c in scored)
        lines.append(f"honest mistakes flagged: {sum(int(c.score) for c in flagged)}/"
                     f"{sum(int(c.max_score) for c in flagged)}; "
                     f"cheats that scored: {cheated}/{tried}")
    failed = [c for c in checks if not c.ok]
    lines.append(f"{len(checks) - len(failed)} of {len(checks)} checks passed"
                 + (f"; {len(failed)} FAILED" if failed else ""))
    return "\n".join(lines)
