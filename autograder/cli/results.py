"""The commands that read the recorded grades: ``flags``, ``feedback``, ``export`` and
``report``."""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.core.manifest import load_manifest
from autograder.core.safe_text import terminal_text

__all__ = ["cmd_export", "cmd_feedback", "cmd_flags", "cmd_report"]


def cmd_export(args: argparse.Namespace) -> int:
    from autograder.cli.stale import print_stale
    from autograder.publish.export import export_grades
    from autograder.record.database import check_gradebook
    from autograder.record.fingerprints import stale_warnings

    course = load_manifest()
    check_gradebook(course)
    target = Path(args.to).resolve()
    export_grades(course, target)
    print(f"grades written to {target}")
    # The CSV's stale_tests column says it per row; this says it where it is seen.
    print_stale(stale_warnings(course))
    return 0


def cmd_flags(args: argparse.Namespace) -> int:
    from autograder.record.database import check_gradebook
    from autograder.record.load import load_results

    course = load_manifest()
    check_gradebook(course)
    chosen = {a.name for a in course.select(args.assignment)}
    shown = 0
    for (assignment, student), result in sorted(load_results(course).items()):
        if assignment not in chosen or (args.student and student != args.student):
            continue
        if result.flags:
            shown += 1
            print(f"{terminal_text(student)} {terminal_text(assignment)} "
                  f"({result.score:g}/{result.max_score:g})")
            for flag in result.flags:  # each starts with a grade_id the student chose
                print(f"  - {terminal_text(flag)}")
    if not shown:
        print("no flagged submissions")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from autograder.publish.feedback import write_feedback
    from autograder.record.database import check_gradebook

    course = load_manifest()
    check_gradebook(course)
    pages = write_feedback(course, course.select(args.assignment), args.student)
    for page in pages:
        print(terminal_text(page.relative_to(course.root)))
    if not pages:
        print("no graded submissions to write feedback for: run `python -m autograder grade`")
        return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from autograder.cli.stale import print_stale
    from autograder.publish.report import write_report
    from autograder.record.database import check_gradebook
    from autograder.record.fingerprints import stale_warnings
    from autograder.record.load import load_results

    course = load_manifest()
    check_gradebook(course)
    results = load_results(course)  # once, for the report and the warning
    path = write_report(course, Path(args.output).resolve() if args.output else None, results)
    print(f"class report written to {path}")
    print_stale(stale_warnings(course, results=results))  # the report's first lines say it too
    return 0
