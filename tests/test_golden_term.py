"""The golden term: a small class taken through the commands gives what it gave before.

``tests/golden/record_term.py`` takes nine students of the first assignment
(a solution, a mistake, a blank notebook, a rejected file, a late
submission, a kernel that dies, a flagged cheat, a grading process that is
killed, and a student who submitted nothing) through ``python -m autograder``
release, roster import, collect, grade, flags, feedback, export and report,
and ``tests/golden/term.json`` holds what that gave before the grader's
modules were moved (issue 30): statuses, scores, flags and notes, the
commands' output, grades.csv, and the text of every feedback page and of the
class report, with what depends on the machine or on rounding masked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "golden"))
from record_term import GOLDEN, differences, run_term  # noqa: E402


def test_the_term_gives_what_the_golden_term_recorded(tmp_path):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    now = run_term(tmp_path)
    changed = differences(golden, now)
    assert not changed, (f"{len(changed)} difference(s) from the golden term (golden first; "
                         "tests/golden/record_term.py says when to record it again):\n"
                         + "\n".join(changed[:30]))
