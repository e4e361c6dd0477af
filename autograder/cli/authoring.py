"""The author's commands: ``release`` (after the self-check), ``selfcheck`` and ``demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from autograder.cli.sandbox import resolve_sandbox
from autograder.cli.stale import print_stale
from autograder.core.manifest import load_manifest

__all__ = ["cmd_demo", "cmd_release", "cmd_selfcheck"]


def _counted(start: Callable[[int], None]) -> Callable[[int], None]:
    """``start``, after saying how many notebooks the self-check grades (a progress bar
    follows on a terminal; elsewhere this line is all there is until the end)."""

    def counted(total: int) -> None:
        print(f"self-check: grading {total} notebook(s)...", file=sys.stderr, flush=True)
        start(total)

    return counted


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.author.release import release
    from autograder.cli.progress import GradingProgress, terminal_console
    from autograder.core.manifest import objective_problems
    from autograder.record.database import check_gradebook
    from autograder.record.fingerprints import stale_warnings

    course = load_manifest()
    chosen = course.select(args.assignment)
    check_gradebook(course)  # before anything reads it or any work starts
    # Read before anything changes; printed last, whatever happens, so it is seen.
    stale = stale_warnings(course, chosen)
    if args.skip_selfcheck:
        print("self-check skipped (--skip-selfcheck): the tests were not tried on the "
              "solutions", file=sys.stderr)
    else:
        print(f"self-check of {', '.join(a.name for a in chosen)}: solutions must score full "
              "marks, blank notebooks zero" + (", every mutant lose points" if args.mutants
                                                else ""), file=sys.stderr)
    try:
        with GradingProgress(terminal_console()) as progress:
            released = release(course, chosen, selfcheck=not args.skip_selfcheck,
                               mutants=args.mutants, workers=args.workers,
                               sandbox=resolve_sandbox(args.sandbox)
                               if not args.skip_selfcheck else "auto",
                               progress=(_counted(progress.start), progress.graded))
        for assignment in released:
            print(f"released {assignment.name:14} -> release/{assignment.name}/"
                  f"{assignment.notebook_file}  (due {assignment.due})")
        for problem in objective_problems(course, chosen):
            print(f"note: {problem}", file=sys.stderr)
    finally:
        print_stale(stale)
    return 0


def cmd_selfcheck(args: argparse.Namespace) -> int:
    from autograder.author.selfcheck import format_table, selfcheck
    from autograder.cli.progress import GradingProgress, terminal_console

    course = load_manifest()
    with GradingProgress(terminal_console()) as progress:
        checks = selfcheck(course, course.select(args.assignment), workers=args.workers,
                           mutants=not args.no_mutants, sandbox=resolve_sandbox(args.sandbox),
                           progress=(_counted(progress.start), progress.graded))
    print(format_table(checks))
    return 0 if all(c.ok for c in checks) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from autograder.author.demo import run_demo

    course = load_manifest()
    return run_demo(course, Path(args.output) if args.output else None,
                    workers=args.workers, assignments=course.select(args.assignment),
                    sandbox=resolve_sandbox(args.sandbox))
