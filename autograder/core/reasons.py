"""Why a submission went the way it did, as codes: the contract between the parts.

The grader records a code beside each sentence it writes for people
(``GradeResult.reasons``, kept in ``autograded/results.json``); the parts that
act on a reason (feedback's advice on how to resubmit, the export's status)
read the code, never the sentence, so a sentence can be reworded or
translated without breaking them. Words are made from codes at the edges
(the command line, the feedback pages, the report, grades.csv).

Some codes are never recorded: a result's own fields already say them (its
status, its kernel deaths, its flags), and ``GradeResult.codes()``
(``autograder.core.results``) reads them from there, so results.json keeps
the form it has always had.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["Reason", "legacy_reasons"]


class Reason(StrEnum):
    # -- recorded in GradeResult.reasons ---------------------------------------------
    # rejected before nbgrader saw it (record.submission.check_submission)
    NO_FOLDER = "no_folder"
    MISSING_NOTEBOOK = "missing_notebook"
    SEVERAL_NOTEBOOKS = "several_notebooks"
    TOO_LARGE = "too_large"
    NOT_TEXT = "not_text"
    NOT_JSON = "not_json"
    NOT_NOTEBOOK = "not_notebook"
    # graded, but a person must look: a test cell nbgrader could not score
    MANUAL_GRADING = "manual_grading"
    # status "error", and what kind of failure it was
    WORKER_FAILED = "worker_failed"        # the grading process died or gave no answer
    NOTEBOOK_STOPPED = "notebook_stopped"  # nbgrader stopped before any test cell scored
    SCORING_FAILED = "scoring_failed"      # the grader could not score what came back
    NO_GRADE = "no_grade"                  # the gradebook holds no grade for it
    # -- read from a result's fields (GradeResult.codes), never recorded ---------------
    # status "error": grading failed (a worker or the kernel died for good, time ran
    # out, the grader could not score it, the gradebook holds no grade)
    CRASHED = "crashed"
    # graded, but a kernel died on the way (GradeResult.kernel_deaths)
    KERNEL_DIED = "kernel_died"
    # graded, but it did something the exercises never need (GradeResult.flags)
    FLAGGED = "flagged"


# A results.json written before reasons were codes holds only the sentences:
# the words each code's sentence has always had, read for those records alone.
_LEGACY_WORDS = (
    ("no submission folder", Reason.NO_FOLDER),
    ("missing notebook", Reason.MISSING_NOTEBOOK),
    ("several notebooks", Reason.SEVERAL_NOTEBOOKS),
    ("a submitted notebook may be", Reason.TOO_LARGE),
    ("is not a text file", Reason.NOT_TEXT),
    ("is not valid JSON", Reason.NOT_JSON),
    ("not a valid notebook", Reason.NOT_NOTEBOOK),
    ("needs manual grading", Reason.MANUAL_GRADING),
)


def legacy_reasons(notes: Iterable[str]) -> list[Reason]:
    """The codes of a record written before codes (it has no ``reasons``), from its notes.

    Read once, when such a record is loaded (``GradeResult.from_dict``):
    nothing else reads a note's words, and the record is written back with
    its codes.
    """
    found = [code for note in notes for words, code in _LEGACY_WORDS if words in note]
    return list(dict.fromkeys(found))
