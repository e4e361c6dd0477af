"""The judge's verdicts, and how a notebook carries them to nbgrader's gradebook.

A graded test cell is scored by nbgrader from its *first* output that is an
error, stderr, or a result (``nbgrader.utils.determine_grade``). The judge's
verdict is put there, ahead of everything the kernel produced, so whatever
student code printed, displayed or raised while the visible tests ran (a
``displayhook("checked")`` included) comes after it and counts for nothing:

- passed: a result whose plain text is the cell's points (nbgrader's partial
  credit rule reads exactly that number);
- failed: an error, ``GraderCheckFailed``, whose message is the grader's own
  words: what was asked and what was wrong, never text from student code.

Both ``python -m autograder grade`` and plain ``nbgrader autograde`` score
these outputs with nbgrader's rule, so both give the judge's grade.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode

from autograder.core.cells import is_test_cell, nbgrader_meta
from autograder.core.mistakes import Mistake

__all__ = ["FAILED", "VERDICT_KEY", "Verdict", "apply_verdicts"]

FAILED = "GraderCheckFailed"
VERDICT_KEY = "miniflow_judge"  # cell metadata: the verdict, as data, for the grader's notes


@dataclass(frozen=True)
class Verdict:
    """One test cell's verdict: ``code`` is "passed", "wrong", "raised", "missing",
    "stopped" (the judge died or overran) or "not_judged"; ``mistake`` says why a
    verdict that is not "passed" lost the points, as a code
    (``autograder.core.mistakes.Mistake``; "" when passed); ``checks``, for a test
    whose probes name checks (``autograder.judge.plans.Probe.checks``), each check's
    outcome: "passed" or its mistake's code."""

    test: str
    code: str
    message: str = ""
    mistake: str = ""
    checks: tuple[tuple[str, str], ...] = ()

    @property
    def passed(self) -> bool:
        return self.code == "passed"


def _points(cell: Any) -> float:
    return float(cell.get("metadata", {}).get("nbgrader", {}).get("points", 0) or 0)


def apply_verdicts(cells: list[Any], verdicts: dict[str, Verdict]) -> None:
    """Put each graded test cell's verdict first among its outputs (see the module's text).

    A graded test cell without a verdict is not judged and scores nothing,
    with a message that says so.
    """
    for cell in cells:
        if not is_test_cell(cell):
            continue
        meta = nbgrader_meta(cell)
        test = str(meta.get("grade_id"))
        verdict = verdicts.get(test) or Verdict(
            test, "not_judged", "the grader has no check declared for this test, so it "
            "scores nothing; tell your instructor", Mistake.NOT_JUDGED)
        points = _points(cell)
        if verdict.passed:
            # Plain text only: nbgrader reads the points from it, and no page an
            # instructor opens renders anything live from a notebook's outputs.
            first = NotebookNode(
                output_type="execute_result", execution_count=cell.get("execution_count"),
                metadata={VERDICT_KEY: True}, data={"text/plain": repr(points)})
        else:
            first = NotebookNode(output_type="error", ename=FAILED, evalue=verdict.message,
                                 traceback=[f"{FAILED}: {verdict.message}"])
        cell["outputs"] = [first, *[o for o in cell.get("outputs", [])
                                    if not _is_verdict(o)]]
        recorded = {"code": verdict.code, "message": verdict.message,
                    "mistake": str(verdict.mistake)}
        if verdict.checks and not verdict.passed:  # what the class report reads of each
            recorded["checks"] = {name: str(outcome) for name, outcome in verdict.checks}
        cell.setdefault("metadata", {})[VERDICT_KEY] = recorded


def _is_verdict(output: Any) -> bool:
    if output.get("output_type") == "error":
        return output.get("ename") == FAILED
    return bool(output.get("metadata", {}).get(VERDICT_KEY))
