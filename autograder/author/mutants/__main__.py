"""``python -m autograder.author.mutants [ASSIGNMENT ...]``: does every mutant lose points?

Each line says whether the hidden tests caught the mutant and whether a
student would have seen it before submitting (``visible``: a visible test or
another cell failed) or only in the grade (``hidden``).
"""

from __future__ import annotations

import sys

from autograder.author.mutants import load_mutants
from autograder.core.manifest import load_manifest
from autograder.execute.direct import run_notebook


def main(argv: list[str]) -> int:
    course = load_manifest()
    holes = 0
    for assignment in [a for name in argv for a in course.select(name)] or course.assignments:
        notebook = course.root / "source" / assignment.name / assignment.notebook_file
        for mutant in load_mutants(assignment.name, notebook):
            run = run_notebook(notebook, {mutant.cell: mutant.source})
            failed = run.failed()
            status = "caught" if failed else "MISSED"
            seen = "visible" if run.seen else "hidden"
            holes += not failed
            print(f"{assignment.name:12} {status:7} {seen:7} {run.score:g}/{run.max_score:g}  "
                  f"{mutant.name}")
            for cell in failed:
                print(f"{'':29}{cell.grade_id}: {' '.join(cell.message.split())[:160]}")
    return 1 if holes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
