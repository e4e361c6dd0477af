"""Scoring one worker's answer: the parent's verdict on the notebook a worker ran.

The parent scores that notebook itself, from the instructor's own copy of
``source/``: each graded cell must carry exactly the instructor's test (or
it scores zero), and its points come from ``source/``, not from anything in
the submission. nbgrader's rule decides pass or fail (an error or output on
stderr fails the cell). The kernel deaths, the tamper guard's findings and
the static review's zeros are added to the result here, and the executed
notebook is staged for ``autograded/``.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat

from autograder.core.cells import is_graded
from autograder.core.mistakes import Mistake
from autograder.core.reasons import Reason
from autograder.core.results import CellGrade, GradeResult, KernelDeath, Status
from autograder.execute.direct import error_message
from autograder.judge.review import Review
from autograder.judge.verdict import VERDICT_KEY

__all__ = ["kernel_deaths", "result_from", "score_notebook"]


def _explain_failure(log: str) -> str:
    lowered = log.lower()
    if "kernel died" in lowered or "deadkernelerror" in lowered:
        return "the kernel died while running the notebook (does it call os._exit or exit()?)"
    if "timeout" in lowered or "timed out" in lowered:
        return "the notebook did not finish within the time limit"
    return "nbgrader could not grade it"


def _restored(source: str, grade_id: str) -> str:
    """A test cell's code without the line nbgrader adds when it restores a deleted cell."""
    from nbgrader.preprocessors import OverwriteCells

    notice = "# " + OverwriteCells().missing_cell_notification.format(cell_id=grade_id)
    return source[len(notice):] if source.startswith(notice) else source


def score_notebook(executed: nbformat.NotebookNode, source: nbformat.NotebookNode
                   ) -> tuple[list[CellGrade], list[str], list[Reason]]:
    """Score every graded cell of ``source`` as it ran in ``executed`` (nbgrader's rule).

    Points come from ``source``. A graded cell missing from ``executed``, or
    whose code is not exactly the instructor's test, scores zero. Returns the
    cells, the notes, and the reasons' codes (``Reason.MANUAL_GRADING`` when
    nbgrader could not score a cell).
    """
    from nbgrader.utils import determine_grade

    ran: dict[str, nbformat.NotebookNode] = {}
    for cell in executed.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            ran.setdefault(grade_id, cell)
    cells: list[CellGrade] = []
    notes: list[str] = []
    reasons: list[Reason] = []
    for cell in source.cells:
        if not is_graded(cell):
            continue
        meta = cell.metadata.nbgrader
        grade_id, points = meta["grade_id"], float(meta["points"])
        got = ran.get(grade_id)
        if got is None:
            cells.append(CellGrade(grade_id, 0.0, points, "this graded cell did not run",
                                   Mistake.NOT_RUN))
            continue
        if got.cell_type != cell.cell_type or _restored(got.source, grade_id) != cell.source:
            cells.append(CellGrade(grade_id, 0.0, points, "the code that ran in this test "
                                   "cell was not the instructor's test, so it scores 0",
                                   Mistake.TEST_CHANGED))
            notes.append(f"{grade_id}: the test that ran was not the instructor's")
            continue
        judged = copy.deepcopy(got)
        judged.metadata["nbgrader"] = copy.deepcopy(meta)
        score, _ = determine_grade(judged)
        if score is None:
            notes.append(f"{grade_id} needs manual grading")
            reasons.append(Reason.MANUAL_GRADING)
            score = 0.0
        # A cell the judge passed says nothing: an error the kernel showed after
        # the verdict (a visible test that failed on an earlier exercise's slip)
        # decided nothing.
        lost = score < points
        cells.append(CellGrade(grade_id, float(score), points,
                               error_message(got) if lost else "",
                               _mistake(got) if lost else "", _checks(got) if lost else {}))
    return cells, notes, list(dict.fromkeys(reasons))


def _mistake(cell: nbformat.NotebookNode) -> str:
    """The judge's code for why ``cell`` lost its points ("" when no judge said: a
    notebook graded without one, as plain ``nbgrader autograde`` of an old release)."""
    verdict = cell.get("metadata", {}).get(VERDICT_KEY)
    return str(verdict.get("mistake") or "") if isinstance(verdict, dict) else ""


def _checks(cell: nbformat.NotebookNode) -> dict[str, str]:
    """The outcome of each check the judge named for ``cell`` (empty when it named none)."""
    verdict = cell.get("metadata", {}).get(VERDICT_KEY)
    checks = verdict.get("checks") if isinstance(verdict, dict) else None
    return {str(k): str(v) for k, v in checks.items()} if isinstance(checks, dict) else {}


def kernel_deaths(executed: nbformat.NotebookNode) -> tuple[list[KernelDeath], list[str]]:
    """The kernel deaths SandboxedExecute recorded in ``executed``, and a note for each."""
    from autograder.core.cells import DEATHS_KEY

    deaths = [KernelDeath.from_dict(d) for d in executed.metadata.get(DEATHS_KEY, [])
              if isinstance(d, dict)]
    notes = []
    for death in deaths:
        where = f"cell {death.cell}" + (f" ({death.grade_id})" if death.grade_id else "")
        what = ("while it was re-running " if death.while_replaying else "in ") + where
        after = ("the cells after it were graded in a fresh kernel" if death.restarted
                 else "the cells after it were not run")
        notes.append(f"the kernel died {what}: {death.reason}; {after}")
    return deaths, notes


def _apply_verdicts(result: GradeResult, executed: nbformat.NotebookNode,
                    review: Review | None) -> None:
    """Name what the tamper guard found; apply the static review's zeros.

    Scores are the judge's (``autograder.judge``): its verdict is each test
    cell's first output, which nbgrader's rule reads. What the guard saw
    student code change in its kernel is a flag for the instructor, and
    changes no score.
    """
    tampered: dict[str, str] = {}
    for cell in executed.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") == \
                    "TamperingDetected":
                tampered.setdefault(grade_id, str(output.get("evalue", "")))
    if tampered:
        first = next(iter(tampered.values())).split("changed what the tests rely on: ", 1)[-1]
        result.flags.append(f"changed what the tests rely on ({first[:400]}); seen in "
                            f"{len(tampered)} test cell(s)")
    zeroed = review.zeroed if review is not None else {}
    for cell in result.cells:
        if cell.grade_id in zeroed:  # the review's reason says more than "not defined"
            cell.message = zeroed[cell.grade_id]
            cell.score = 0.0
            cell.mistake = Mistake.ZEROED_BY_REVIEW
            cell.checks = {}  # what the judge's checks said is not the student's work
    result.score = float(sum(c.score for c in result.cells))


def result_from(task: dict, answer: dict, source: nbformat.NotebookNode,
                 staging: Path | None, review: Review | None = None) -> GradeResult:
    """The parent's verdict on one worker answer."""
    assignment = task["assignment"]
    result = GradeResult(task["student"], assignment["name"], Status.GRADED,
                         max_score=float(assignment["points"]), notes=list(task["notes"]),
                         sandbox=task["sandbox"],
                         flags=review.lines() if review is not None else [])
    if task.get("edited_tests"):  # a locked cell changed: not something a student does by chance
        result.flags.append(f"changed the code of test cell(s) "
                            f"{', '.join(task['edited_tests'])} (restored before grading)")
    if "failure" in answer:
        result.status = Status.ERROR
        result.notes.append(answer["failure"])
        result.reasons.append(Reason.WORKER_FAILED)
        return result
    text = answer.get("executed")
    if text is None:
        result.status = Status.ERROR
        result.notes.append(_explain_failure(answer.get("log", "")))
        result.reasons.append(Reason.NOTEBOOK_STOPPED)
        return result
    executed = nbformat.reads(text, as_version=4)
    result.cells, notes, result.reasons = score_notebook(executed, source)
    result.notes += notes
    result.kernel_deaths, notes = kernel_deaths(executed)
    result.notes += notes
    result.score = float(sum(c.score for c in result.cells))
    result.max_score = float(sum(c.max_score for c in result.cells))
    _apply_verdicts(result, executed, review)
    if not answer.get("success"):
        # nbgrader stopped part-way; what ran is scored, and the note says why.
        result.notes.append(_explain_failure(answer.get("log", "")))
        if all(c.score == 0 for c in result.cells):
            result.status = Status.ERROR
            result.reasons.append(Reason.NOTEBOOK_STOPPED)
    if staging is not None:
        folder = staging / result.student / result.assignment
        folder.mkdir(parents=True, exist_ok=True)
        (folder / assignment["notebook_file"]).write_text(text, encoding="utf-8")
        if task.get("timestamp"):
            shutil.copyfile(task["timestamp"], folder / "timestamp.txt")
        secret = Path(task["notebook"]).parent / "submission_secret.txt"
        if secret.is_file():  # nbgrader release_feedback finds the page by it
            shutil.copyfile(secret, folder / "submission_secret.txt")
    return result
