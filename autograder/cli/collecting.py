"""``collect``: submissions from a folder, an LMS archive or nbgrader's exchange into
``submitted/``, with what it refused and who on the roster handed nothing in."""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.core.manifest import load_manifest

__all__ = ["cmd_collect"]


def cmd_collect(args: argparse.Namespace) -> int:
    from autograder.collect import collect

    if args.exchange or args.exchange_root:
        return _collect_exchange(args)
    if not args.source:
        raise ValueError("give a SOURCE (a folder or an LMS zip), or --exchange to collect "
                         "from nbgrader's exchange")
    course = load_manifest()
    assignment = course.assignment(args.assignment) if args.assignment else None
    report = collect(course, Path(args.source), assignment=assignment,
                     students=[args.student] if args.student else None, force=args.force,
                     folder_timestamps=args.folder_timestamps)
    print("\n".join(report.lines()))
    if not report.unmapped:  # nothing was collected: nothing to say of the roster yet
        _print_roster_of_collect(course, report, assignment)
    return _collect_status(report)


def _collect_status(report) -> int:
    """1 when something was refused (owner, limit, name), an upload named nobody on the
    roster (nothing was collected), or nothing was placed; else 0."""
    return 1 if report.refused or report.unmapped or (report.skipped and not report.placed) \
        else 0


def _print_roster_of_collect(course, report, assignment) -> None:
    """Who is not on the roster, and who on it submitted nothing (when there is a roster)."""
    from autograder.publish.roster import collect_lines

    names = [assignment.name] if assignment else sorted(
        {a for _, a, _ in report.placed}, key=[x.name for x in course.assignments].index)
    lines = collect_lines(course, report.placed, names)
    if lines:
        print("\n".join(lines))


def _collect_exchange(args: argparse.Namespace) -> int:
    """collect --exchange [ASSIGNMENT]: the submissions in nbgrader's exchange."""
    from autograder.collect import collect_exchange

    if args.source and args.assignment:
        raise ValueError("with --exchange, give at most one argument: the ASSIGNMENT")
    course = load_manifest()
    name = args.assignment or args.source
    report = collect_exchange(course, Path(args.exchange_root) if args.exchange_root else None,
                              assignment=course.assignment(name) if name else None,
                              students=[args.student] if args.student else None,
                              force=args.force, trust_owners=args.trust_exchange_owners)
    print("\n".join(report.lines()))
    _print_roster_of_collect(course, report, course.assignment(name) if name else None)
    return _collect_status(report)
