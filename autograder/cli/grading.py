"""``grade``: every submission graded, sandboxed, in parallel; its progress on standard
error, then the grade table."""

from __future__ import annotations

import argparse
import os
import sys

from autograder.cli.sandbox import resolve_sandbox
from autograder.core.manifest import load_manifest

__all__ = ["cmd_grade"]


def cmd_grade(args: argparse.Namespace) -> int:
    import time

    from autograder.cli.progress import GradingProgress, terminal_console
    from autograder.pipeline.console import print_results, regrade_changes, throughput_line
    from autograder.pipeline.grading import default_workers, grade
    from autograder.record.database import check_gradebook
    from autograder.record.load import load_results
    from autograder.sandbox.files import ONE_MATHS_THREAD

    # Before this process imports numpy (the review does): see ONE_MATHS_THREAD.
    os.environ.update(ONE_MATHS_THREAD)

    began = time.monotonic()
    course = load_manifest()
    if args.scheduler and args.sandbox != "none":
        # The kernels run on the workers: bubblewrap must work there, not here (the
        # cluster's version check names any worker where it does not).
        mode = "bwrap"
        print(f"grading on the Dask cluster at {args.scheduler} (--workers is not used)",
              file=sys.stderr)
    else:
        mode = resolve_sandbox(args.sandbox)
    print(f"kernels: {'bubblewrap sandbox' if mode == 'bwrap' else 'NO sandbox'}; limits: "
          f"{_limits(course)}", file=sys.stderr)
    # What each submission had before, to say what a regrade changed (old -> new); a
    # gradebook that cannot be read stops here, with the fix, before any work starts.
    check_gradebook(course)
    before = load_results(course)
    with GradingProgress(terminal_console()) as progress:
        results = grade(course, course.select(args.assignment),
                        students=[args.student] if args.student else None,
                        workers=args.workers, on_result=progress.graded,
                        on_start=progress.start, sandbox=mode, scheduler=args.scheduler,
                        journal=True)
    if not results:
        print("nothing to grade: collect submissions into submitted/<student>/<assignment>/ "
              "first (python -m autograder collect SOURCE)")
        return 1
    # A run starts no more workers than it has submissions.
    where = f"the Dask cluster at {args.scheduler}" if args.scheduler else \
        f"{min(args.workers or default_workers(), len(results))} worker(s)"
    print(throughput_line(results, time.monotonic() - began, where).strip(), file=sys.stderr)
    print_results(results)
    for line in regrade_changes(before, results):
        print(line)
    return 0


def _limits(course) -> str:
    from autograder.core.course_config import nbgrader_config
    from autograder.sandbox.manager import SandboxKernelManager, describe_limits

    config = nbgrader_config(course.root)
    return describe_limits(SandboxKernelManager(config=config))

