"""Record the golden class: every notebook the self-check grades, as ``grade`` graded it.

The golden class is what must not change while the grader's code is moved
(issue 30): for all six assignments the solution, the blank, every mutant
and every cheat, graded by ``grade`` with a fixed judge secret. Each result
is kept as its status, score, maximum, flags, notes and each graded cell's
score and message. ``tests/test_selfcheck.py`` grades the same class and
compares it with ``selfcheck_class.json``.

    python tests/golden/record.py            # write tests/golden/selfcheck_class.json
    python tests/golden/record.py OUT.json   # write elsewhere (to compare two commits)

Record it again only when a change is meant to change grades, and say so
in the commit.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "selfcheck_class.json"
#: The judge's secret for the golden class: fixed, so its questions are the same each run.
SECRET = "676f6c64656e2d636c6173732d6f662d6d696e69666c6f772d636f7572736521"


#: A decimal number in a message (a value the judge computed on its inputs): kept as
#: ``<n>``, so the golden class holds no digit that floating-point rounding could move.
DECIMAL = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def masked(text: str) -> str:
    return DECIMAL.sub("<n>", text)


def projection(results: list) -> dict[str, dict]:
    """What the golden class keeps of each result (no times, no temporary paths, no
    computed decimals in messages: ``masked``)."""
    kept = {}
    for result in sorted(results, key=lambda r: (r.assignment, r.student)):
        kept[f"{result.assignment}/{result.student}"] = {
            "status": result.status,
            "score": result.score,
            "max_score": result.max_score,
            "flags": [masked(flag) for flag in result.flags],
            "notes": [masked(note) for note in result.notes],
            "cells": {cell.grade_id: [cell.score, cell.max_score, masked(cell.message),
                                      str(cell.mistake)]
                      for cell in result.cells},
        }
    return kept


def graded_class(workers: int = 2) -> tuple[list, dict[str, dict]]:
    """The self-check's checks, and its class as graded (``projection``)."""
    from autograder.author import selfcheck as module
    from autograder.core.manifest import load_manifest

    graded: list = []
    grade = module.grade
    secret = os.environ.get("MINIFLOW_JUDGE_SECRET")

    def keeping(*args, **kwargs):
        results = grade(*args, **kwargs)
        graded.extend(results)
        return results

    module.grade = keeping
    os.environ["MINIFLOW_JUDGE_SECRET"] = SECRET
    try:
        course = load_manifest()
        checks = module.selfcheck(course, course.assignments, workers=workers)
    finally:
        module.grade = grade
        if secret is None:
            os.environ.pop("MINIFLOW_JUDGE_SECRET", None)
        else:
            os.environ["MINIFLOW_JUDGE_SECRET"] = secret
    return checks, projection(graded)


def differences(golden: dict[str, dict], now: dict[str, dict]) -> list[str]:
    """Where ``now`` differs from ``golden``, one line per notebook and field."""
    found = [f"{key}: missing now" for key in sorted(set(golden) - set(now))]
    found += [f"{key}: new" for key in sorted(set(now) - set(golden))]
    for key in sorted(set(golden) & set(now)):
        for field in sorted(set(golden[key]) | set(now[key])):
            if golden[key].get(field) != now[key].get(field):
                found.append(f"{key} {field}: was {golden[key].get(field)!r}, "
                             f"now {now[key].get(field)!r}")
    return found


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else GOLDEN
    _, golden = graded_class()
    target.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(golden)} graded notebooks written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
