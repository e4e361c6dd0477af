"""``python -m autograder SUBCOMMAND`` (and the ``autograder`` command): run one subcommand.

``main`` parses the command line (``autograder.cli.parser``), runs the
subcommand's function, and turns the errors an instructor can fix into one
line on standard error and exit status 2; ``run`` is ``main`` with a quick
exit. The subcommands live in this package's modules, grouped by what they
act on.
"""

from __future__ import annotations

import os
import sys

# Before anything else is imported: `python -m autograder` puts the current
# folder first on sys.path, so a file such as argparse.py in the course root
# would run inside every command. Take it off (what `python -P` does), and
# have every process we start do the same (PYTHONSAFEPATH).
_here = os.getcwd()
sys.path[:] = [p for p in sys.path if p not in ("", ".", _here)]
os.environ["PYTHONSAFEPATH"] = "1"

import gc  # noqa: E402

from autograder import defer_setuptools  # noqa: E402

defer_setuptools()  # before anything imports nbgrader

from autograder.cli.parser import build_parser  # noqa: E402
from autograder.core.interrupts import stopping  # noqa: E402
from autograder.core.manifest import ManifestError  # noqa: E402
from autograder.core.nbgrader_cli import NbgraderError  # noqa: E402
from autograder.core.safe_text import terminal_lines  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from autograder.record.database import GradebookError
    from autograder.run import workers
    from autograder.run.cluster import ClusterError
    from autograder.sandbox.bubblewrap import SandboxError

    parser = build_parser()
    args = parser.parse_args(argv)
    workers.stop_on_signals()  # SIGTERM unwinds like Ctrl-C: every temporary folder goes
    try:
        return args.handler(args)
    except (ManifestError, NbgraderError, GradebookError, SandboxError, FileNotFoundError,
            ValueError, ClusterError) as error:
        # A message may quote a roster line or a file name: nothing in it is a control.
        print(f"autograder {args.command}: {terminal_lines(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        stopping()
        print(f"\nautograder {args.command}: stopped; nothing half-done was kept",
              file=sys.stderr)
        if args.command == "grade":
            from autograder.core.manifest import find_course_root
            from autograder.run.journal import JOURNAL, kept_count

            try:
                kept = kept_count(find_course_root(None) / JOURNAL)
            except ManifestError:  # stopped before the course was found
                kept = 0
            if kept:
                print(f"the answers of {kept} graded submission(s) are kept in {JOURNAL}: "
                      "run the same grade command again and it goes on from there",
                      file=sys.stderr)
        return 130


def run(argv: list[str] | None = None) -> int:
    """The command line: ``main``, then an exit that skips Python's last collection.

    As it exits, Python collects every object the command ever made in one
    full garbage collection: 0.6-0.7 s after a grading run (nbgrader,
    SQLAlchemy, the class's notebooks), waited for by whoever typed the
    command. By then every file is closed and the gradebook committed, so
    the objects are frozen (``gc.freeze``), which that collection skips.
    """
    code = main(argv)
    gc.freeze()
    return code


if __name__ == "__main__":
    raise SystemExit(run())
