"""Why a submission went the way it did, as codes: the contract between the parts.

The grader records a code beside each sentence it writes for people
(``GradeResult.reasons``, kept in ``autograded/results.json``); the parts that
act on a reason (feedback's advice on how to resubmit, the export's status)
read the code, never the sentence, so a sentence can be reworded or
translated without breaking them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason", "reasons_of"]


class Reason(StrEnum):
    # rejected before nbgrader saw it (grading.prepare_submission)
    NO_FOLDER = "no_folder"
    MISSING_NOTEBOOK = "missing_notebook"
    SEVERAL_NOTEBOOKS = "several_notebooks"
    TOO_LARGE = "too_large"
    NOT_TEXT = "not_text"
    NOT_JSON = "not_json"
    NOT_NOTEBOOK = "not_notebook"
    # graded, but a person must look: a test cell nbgrader could not score
    MANUAL_GRADING = "manual_grading"


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


def reasons_of(result: dict) -> list[str]:
    """The reasons' codes of a recorded result (``gradebook.load_results``).

    A record made before codes (no ``reasons`` key) gets them from its notes,
    once, here: nothing else reads a note's words.
    """
    if "reasons" in result:
        return list(result["reasons"] or [])
    found = [code for note in result.get("notes") or [] for words, code in _LEGACY_WORDS
             if words in note]
    return list(dict.fromkeys(found))
