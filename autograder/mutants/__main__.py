"""``python -m autograder.mutants [ASSIGNMENT ...]``: does every mutant lose points?"""

from __future__ import annotations

import sys

from autograder.execute import run_notebook
from autograder.manifest import load_manifest
from autograder.mutants import load_mutants


def main(argv: list[str]) -> int:
    course = load_manifest()
    holes = 0
    for assignment in [a for name in argv for a in course.select(name)] or course.assignments:
        notebook = course.root / "source" / assignment.name / assignment.notebook_file
        for mutant in load_mutants(assignment.name):
            run = run_notebook(notebook, {mutant.cell: mutant.source})
            failed = run.failed()
            status = "caught" if failed else "MISSED"
            holes += not failed
            print(f"{assignment.name:12} {status:7} {run.score:g}/{run.max_score:g}  "
                  f"{mutant.name}")
            for cell in failed:
                print(f"{'':21}{cell.grade_id}: {' '.join(cell.message.split())[:160]}")
    return 1 if holes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
