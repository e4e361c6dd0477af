"""What a grading run prints for the instructor: its grade table and its throughput.

``grade`` and ``demo`` print the same lines; names students chose are
printed as plain text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from autograder.core.results import GradeResult, Status

__all__ = ["print_results", "regrade_changes", "throughput_line"]


def throughput_line(results: Sequence[GradeResult], seconds: float, where: str) -> str:
    """What grading cost on this machine: notebooks run per minute, the whole run timed.

    ``where``: what graded them ("2 worker(s)", "the Dask cluster at ...").
    Rejected files never start a kernel, so they are not counted.
    """
    ran = sum(1 for r in results if r.status != Status.REJECTED)
    rate = 60.0 * ran / seconds if seconds > 0 else 0.0
    return (f"   throughput: {ran} notebook(s) graded in {seconds:.1f} s on {where}, "
            f"{rate:.1f} per minute (a run's start-up included)")


def print_results(results: Sequence[GradeResult]) -> None:
    """The grade table of a run, one line per submission (``grade`` and ``demo``).

    Ids, notes and reasons quote what students named (folders, extra files,
    cells): each is printed as plain text (``autograder.core.safe_text.terminal_text``).
    """
    from autograder.core.safe_text import terminal_text as text
    from autograder.record.late import describe

    print(f"{'student':18} {'assignment':14} {'score':>9}  status / notes")
    for r in results:
        score = f"{r.score:g}/{r.max_score:g}"
        notes = text("; ".join(r.notes))
        flagged = f"  [FLAGGED: {len(r.flags)}]" if r.flags else ""
        late_text = f"  [LATE: {describe(r.late)}]" if r.late and r.late.seconds_late else ""
        print(f"{text(r.student):18} {text(r.assignment):14} {score:>9}  {text(r.status)}"
              + (f": {notes}" if notes else "") + late_text + flagged)
    if any(r.flags for r in results):
        print("flagged submissions did something the exercises never need: "
              "python -m autograder flags")


def _grade(result: GradeResult) -> str:
    score = f"{result.score:g}/{result.max_score:g}"
    return score if result.status == Status.GRADED else f"{score} ({result.status})"


def regrade_changes(before: Mapping[tuple[str, str], GradeResult],
                    results: Sequence[GradeResult]) -> list[str]:
    """What a regrade changed, for the instructor: a line per submission graded before
    whose score or status is not what it was (``old -> new``), under a line that says
    how many were regraded. Empty when nothing had a grade before.

    ``before``: ``load_results`` as it was before the run.
    """
    from autograder.core.safe_text import terminal_text as text

    again = [(before[(r.assignment, r.student)], r) for r in results
             if (r.assignment, r.student) in before]
    if not again:
        return []
    changed = [(old, new) for old, new in again
               if (old.status, old.score, old.max_score) != (new.status, new.score,
                                                             new.max_score)]
    lines = [f"regraded: {len(again)} submission(s) had a grade before; "
             + (f"{len(changed)} changed:" if changed else "none changed")]
    lines += [f"  {text(new.student):18} {text(new.assignment):14} changed: {_grade(old)} "
              f"\N{RIGHTWARDS ARROW} {_grade(new)}" for old, new in changed]
    return lines
