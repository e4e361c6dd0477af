"""The instructor pipeline: ``python -m autograder SUBCOMMAND`` from the course root.

    release   [ASSIGNMENT]          self-check, then student notebooks in release/, assignments
                                    in the gradebook; warns if grades predate changed tests
    collect   SOURCE [ASSIGNMENT]   submissions from a folder or LMS zip into submitted/
    collect   --exchange [ASSIGNMENT]  ... or from nbgrader's exchange (JupyterHub)
    grade     [ASSIGNMENT]          autograde in parallel, sandboxed; one bad notebook never
                                    stops the rest
    flags     [ASSIGNMENT]          what the static review and the tamper guard found
    feedback  [ASSIGNMENT]          HTML feedback without hidden-test source
    export                          grades as CSV, with flags, section and status columns
    roster    import FILE.csv | list  the class roster, in the gradebook and roster.csv
    gradebook check | copy --to URL   is the gradebook usable; copy it to a new database
    report                          class report (HTML, figures)
    selfcheck [ASSIGNMENT]          solutions full marks, blanks zero, every mutant loses points
    demo                            the whole pipeline on a synthetic class

Every subcommand has --help. ASSIGNMENT is optional (all, in manifest order)
and ``--student ID`` narrows to one student where it applies.
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

import argparse  # noqa: E402
import gc  # noqa: E402
from pathlib import Path  # noqa: E402

from autograder import defer_setuptools  # noqa: E402

defer_setuptools()  # before anything imports nbgrader

from autograder.core.manifest import ManifestError, load_manifest  # noqa: E402
from autograder.core.nbgrader_cli import NbgraderError  # noqa: E402
from autograder.core.safe_text import terminal_lines, terminal_text  # noqa: E402


def _workers(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("--workers must be at least 1")
    return number


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def _sandbox(requested: str) -> str:
    """Resolve --sandbox, printing the loud warning when kernels will not be isolated."""
    from autograder.sandbox.bubblewrap import isolation_warning, resolve_mode

    mode, detail = resolve_mode(requested)
    if mode == "none":
        line = "!" * 78
        print(f"{line}\n{isolation_warning(detail)}\n{line}", file=sys.stderr)
    return mode


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.author.release import release
    from autograder.core.manifest import objective_problems
    from autograder.record.fingerprints import format_stale, stale_grades
    from autograder.record.gradebook import check_gradebook

    course = load_manifest()
    chosen = course.select(args.assignment)
    check_gradebook(course)  # before anything reads it or any work starts
    # Read before anything changes; printed last, whatever happens, so it is seen.
    stale = [text for text in (format_stale(stale_grades(course, a)) for a in chosen) if text]
    if args.skip_selfcheck:
        print("self-check skipped (--skip-selfcheck): the tests were not tried on the "
              "solutions", file=sys.stderr)
    else:
        print(f"self-check of {', '.join(a.name for a in chosen)}: solutions must score full "
              "marks, blank notebooks zero" + (", every mutant lose points" if args.mutants
                                                else ""), file=sys.stderr)
    try:
        for assignment in release(course, chosen, selfcheck=not args.skip_selfcheck,
                                  mutants=args.mutants, workers=args.workers,
                                  sandbox=_sandbox(args.sandbox) if not args.skip_selfcheck
                                  else "auto"):
            print(f"released {assignment.name:14} -> release/{assignment.name}/"
                  f"{assignment.notebook_file}  (due {assignment.due})")
        for problem in objective_problems(course, chosen):
            print(f"note: {problem}", file=sys.stderr)
    finally:
        if stale:
            line = "!" * 78
            print(f"{line}\n" + "\n".join(stale) + f"\n{line}", file=sys.stderr)
    return 0


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
    _print_roster_of_collect(course, report, assignment)
    return _collect_status(report)


def _collect_status(report) -> int:
    """1 when something was refused (owner, limit, name), or nothing was placed; else 0."""
    return 1 if report.refused or (report.skipped and not report.placed) else 0


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
    return _collect_status(report)


def cmd_grade(args: argparse.Namespace) -> int:
    import time

    from autograder.core.results import GradeResult
    from autograder.pipeline.grading import (
        default_workers,
        grade,
        print_results,
        throughput_line,
        time_left,
    )
    from autograder.sandbox.files import ONE_MATHS_THREAD

    # Before this process imports numpy (the review does): see ONE_MATHS_THREAD.
    os.environ.update(ONE_MATHS_THREAD)

    began = time.monotonic()
    course = load_manifest()
    done: list[GradeResult] = []
    total = [0]

    def draw(last: str = "") -> None:
        filled = round(30 * len(done) / total[0]) if total[0] else 30
        left = time_left(len(done), total[0], time.monotonic() - began)
        line = (f"  [{'#' * filled}{'.' * (30 - filled)}] {len(done)}/{total[0]} graded"
                + (f", {left}" if left else "") + (f"  last: {last}" if last else ""))
        # Padded, so a shorter line fully covers the one before it.
        print("\r" + line.ljust(100), end="", flush=True, file=sys.stderr)

    def start(count: int) -> None:
        total[0] = count
        draw()

    def progress(result: GradeResult) -> None:
        done.append(result)
        draw(f"{terminal_text(result.student)} {terminal_text(result.assignment)} "
             f"{result.score:g}/{result.max_score:g}")

    if args.scheduler and args.sandbox != "none":
        # The kernels run on the workers: bubblewrap must work there, not here (the
        # cluster's version check names any worker where it does not).
        mode = "bwrap"
        print(f"grading on the Dask cluster at {args.scheduler} (--workers is not used)",
              file=sys.stderr)
    else:
        mode = _sandbox(args.sandbox)
    print(f"kernels: {'bubblewrap sandbox' if mode == 'bwrap' else 'NO sandbox'}; limits: "
          f"{_limits(course)}", file=sys.stderr)
    results = grade(course, course.select(args.assignment),
                    students=[args.student] if args.student else None, workers=args.workers,
                    on_result=progress, on_start=start, sandbox=mode,
                    scheduler=args.scheduler, journal=True)
    print(file=sys.stderr)
    if not results:
        print("nothing to grade: collect submissions into submitted/<student>/<assignment>/ "
              "first (python -m autograder collect SOURCE)")
        return 1
    # A run starts no more workers than it has submissions.
    where = f"the Dask cluster at {args.scheduler}" if args.scheduler else \
        f"{min(args.workers or default_workers(), len(results))} worker(s)"
    print(throughput_line(results, time.monotonic() - began, where).strip(), file=sys.stderr)
    print_results(results)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from autograder.publish.export import export_grades
    from autograder.record.gradebook import check_gradebook

    course = load_manifest()
    check_gradebook(course)
    target = Path(args.to).resolve()
    export_grades(course, target)
    print(f"grades written to {target}")
    return 0


def cmd_flags(args: argparse.Namespace) -> int:
    from autograder.record.gradebook import check_gradebook, load_results

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
    from autograder.record.gradebook import check_gradebook

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
    from autograder.publish.report import write_report
    from autograder.record.gradebook import check_gradebook

    course = load_manifest()
    check_gradebook(course)
    path = write_report(course, Path(args.output).resolve() if args.output else None)
    print(f"class report written to {path}")
    return 0


def cmd_selfcheck(args: argparse.Namespace) -> int:
    from autograder.author.selfcheck import format_table, selfcheck

    course = load_manifest()
    checks = selfcheck(course, course.select(args.assignment), workers=args.workers,
                       mutants=not args.no_mutants, sandbox=_sandbox(args.sandbox))
    print(format_table(checks))
    return 0 if all(c.ok for c in checks) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from autograder.author.demo import run_demo

    course = load_manifest()
    return run_demo(course, Path(args.output) if args.output else None,
                    workers=args.workers, assignments=course.select(args.assignment),
                    sandbox=_sandbox(args.sandbox))


def cmd_roster(args: argparse.Namespace) -> int:
    from autograder.publish.roster import ROSTER_FILE, import_roster, load_roster

    course = load_manifest()
    if args.action == "import":
        if not args.file:
            raise ValueError("roster import needs the CSV file: python -m autograder roster "
                             "import FILE.csv")
        students = import_roster(course, Path(args.file))
        sections = sorted({s.section for s in students if s.section})
        print(f"imported {len(students)} student(s) into the gradebook"
              + (f" in {len(sections)} section(s): {terminal_text(', '.join(sections))}"
                 if sections else "")
              + f"; the roster is kept in {ROSTER_FILE} (personal data: never commit it)")
        return 0
    students = load_roster(course)
    if not students:
        print(f"no roster: python -m autograder roster import FILE.csv (writes {ROSTER_FILE})")
        return 1
    print(f"{'id':16} {'last name':18} {'first name':16} {'section':10} email")
    for s in students:
        id_, last, first, section, email = (terminal_text(v) for v in (
            s.id, s.last_name, s.first_name, s.section, s.email))
        print(f"{id_:16} {last:18} {first:16} {section:10} {email}")
    print(f"{len(students)} student(s)")
    return 0


def cmd_gradebook(args: argparse.Namespace) -> int:
    from autograder.record.gradebook import copy_gradebook, db_url, describe_gradebook, shown_url

    course = load_manifest()
    if args.action == "check" and args.to:
        raise ValueError("gradebook check reads the course gradebook only; to copy it: "
                         f"python -m autograder gradebook copy --to {args.to}")
    if args.action == "copy":
        if not args.to:
            raise ValueError("gradebook copy needs the database to copy to: python -m "
                             "autograder gradebook copy --to postgresql+psycopg://USER@HOST/DB")
        counts = copy_gradebook(course, args.to)
        shown = shown_url(db_url(course))
        print(f"copied the gradebook {shown} to {shown_url(args.to)}: "
              f"{counts['student']} student(s), {counts['assignment']} assignment(s), "
              f"{counts['submitted_assignment']} submission(s), {counts['grade']} grade(s) and "
              f"{counts['comment']} comment(s), manual grades and comments included; every "
              "table was read back and compared before it was committed.")
        print(f"The course still uses {shown}, which is left as it was. To switch, set\n"
              f"    export MINIFLOW_DB_URL='{shown_url(args.to)}'\n"
              "or write that URL as CourseDirectory.db_url in nbgrader_config.py "
              "(docs/running-a-term.md, 'The gradebook on PostgreSQL')"
              + (", with its password where *** stands (better: in ~/.pgpass)."
                 if "***" in shown_url(args.to) else "."))
        return 0
    found = describe_gradebook(course)
    if not found["exists"]:
        print(f"the gradebook {found['url']} does not exist yet (release creates it)")
        return 0
    rows = found["rows"]
    print(f"the gradebook {found['url']}: reachable, schema version {found['version']} "
          "(this nbgrader's), nothing in it that nbgrader did not create")
    print(f"  {rows['student']} student(s), {rows['assignment']} assignment(s), "
          f"{rows['submitted_assignment']} submission(s), {rows['grade']} grade(s), "
          f"{rows['comment']} comment(s)")
    return 0


def _limits(course) -> str:
    from autograder.core.course_config import nbgrader_config
    from autograder.sandbox.manager import SandboxKernelManager, describe_limits

    config = nbgrader_config(course.root)
    return describe_limits(SandboxKernelManager(config=config))


def _sandbox_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--sandbox", choices=("auto", "bwrap", "none"), default=_configured_sandbox(),
        help="how grading kernels are isolated: bwrap (bubblewrap, refuse without it), "
             "auto (bubblewrap where it works, otherwise warn and grade without isolation) "
             "or none (resource limits only). Default: SandboxKernelManager.mode in "
             "nbgrader_config.py, else auto (now: %(default)s)")


def _configured_sandbox() -> str:
    try:
        from autograder.core.course_config import nbgrader_config
        from autograder.core.manifest import find_course_root

        config = nbgrader_config(find_course_root())
        return str(config.SandboxKernelManager.get("mode", "auto"))
    except Exception:  # outside a course, or an unreadable config: the command says so later
        return "auto"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    def add(name: str, handler, help_text: str, *, assignment: bool = True,
            student: bool = True) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        if assignment:
            command.add_argument("assignment", nargs="?", default=None,
                                 help="assignment name from course/manifest.toml (default: all)")
        if student:
            command.add_argument("--student", metavar="ID", help="only this student")
        command.set_defaults(handler=handler)
        return command

    release = add("release", cmd_release, "self-check, then generate the student notebooks in "
                  "release/ and register the assignments, with their due dates, in the "
                  "gradebook; warns when recorded grades were made with tests that changed",
                  student=False)
    release.add_argument("--skip-selfcheck", action="store_true",
                         help="release without grading the solutions (full marks) and the "
                         "blank notebooks (zero) first")
    release.add_argument("--mutants", action="store_true",
                         help="also run the mutant library and the cheats (minutes)")
    release.add_argument("--workers", type=_workers, default=_default_workers(),
                         help="self-check processes (default: %(default)s)")
    _sandbox_option(release)
    collect = sub.add_parser(
        "collect", help="copy submissions from a folder or zip into submitted/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Copy submissions from a folder or an LMS zip into "
        "submitted/<student>/<assignment>/<notebook>.ipynb.\n\nAccepted layouts: one folder "
        "per student (alice/graphs.ipynb, alice/01_graphs/graphs.ipynb,\nMoodle's "
        "alice_123_assignsubmission_file_/graphs.ipynb) or flat files named\n"
        "<student>_..._<notebook>.ipynb as Canvas exports them. Files are copied, never moved."
        "\n\nThe submission time is kept as timestamp.txt (the zip's or tar's time; Canvas's "
        "LATE\nmarker is noted; a student's own timestamp.txt is never the time). Sources are\n"
        "limited: 5,000 files, 64 MiB a notebook, 512 MiB in all, 16 levels, names of 255\n"
        "bytes without control characters; two uploads claiming one student are both\n"
        "refused. With --exchange, collect from nbgrader's exchange: python -m autograder\n"
        "collect --exchange [ASSIGNMENT] (only from folders the named student's account owns).")
    collect.add_argument("source", nargs="?", default=None,
                         help="folder of submissions, or an LMS zip of notebooks")
    collect.add_argument("assignment", nargs="?", default=None,
                         help="put every notebook under this assignment (default: match names)")
    collect.add_argument("--student", metavar="ID", help="only this student")
    collect.add_argument("--force", action="store_true", help="replace collected notebooks")
    collect.add_argument(
        "--exchange", action="store_true",
        help="collect from nbgrader's exchange instead (JupyterHub): `collect --exchange "
             "[ASSIGNMENT]`. Per student, the last submission made by the due date (with any "
             "extension) counts, else the last one; the report says which was taken")
    collect.add_argument("--exchange-root", metavar="DIR",
                         help="the exchange folder (default: Exchange.root in "
                              "nbgrader_config.py, i.e. $MINIFLOW_EXCHANGE or "
                              "/srv/nbgrader/exchange); implies --exchange")
    collect.add_argument(
        "--trust-exchange-owners", action="store_true",
        help="with --exchange: take a folder whoever owns it (for hubs whose users are not "
             "accounts of this machine, e.g. every container runs as jovyan); any student "
             "can then submit in another's name")
    collect.add_argument(
        "--folder-timestamps", action="store_true",
        help="read a timestamp.txt beside each notebook of a folder SOURCE as its time (only "
             "for files you wrote yourself; never from an archive)")
    collect.set_defaults(handler=cmd_collect)
    grade = add("grade", cmd_grade, "autograde submissions with nbgrader, several in parallel, "
                "each kernel in a sandbox")
    grade.add_argument("--workers", type=_workers, default=_default_workers(),
                       help="grading processes (default: the number of cores, %(default)s)")
    _sandbox_option(grade)
    grade.add_argument("--scheduler", metavar="tcp://HOST:8786",
                       help="grade on this Dask cluster instead of local processes (needs "
                            "pip install -e \".[cluster]\"; docs/grading-at-scale.md, "
                            "'Grading on a Dask cluster')")
    feedback = add("feedback", cmd_feedback, "write HTML feedback per student: scores and "
                   "the checks' messages, never the hidden tests' source")
    del feedback
    report = add("report", cmd_report, "write the class report: score distributions, pass "
                 "rate per test cell, most frequent diagnostic messages", assignment=False,
                 student=False)
    report.add_argument("--output", help="HTML file (default: reports/class-report.html)")
    check = add("selfcheck", cmd_selfcheck, "grade the solutions (full marks), the blank "
                "release (zero) and every mutant (must lose points); exit 1 on any failure",
                student=False)
    check.add_argument("--workers", type=_workers, default=_default_workers(),
                       help="processes (default: %(default)s)")
    check.add_argument("--no-mutants", action="store_true", help="skip the mutant library")
    _sandbox_option(check)
    demo = add("demo", cmd_demo, "run the whole pipeline on a synthetic class in a new "
               "course folder (all assignments, or the one named)", student=False)
    demo.add_argument("--output", help="course folder to create (default: a temporary one)")
    demo.add_argument("--workers", type=_workers, default=_default_workers(),
                      help="grading processes (default: %(default)s)")
    _sandbox_option(demo)
    add("flags", cmd_flags, "list what the static review and the tamper guard "
        "found in each submission (evidence for a person to read)")
    export = add("export", cmd_export, "export the gradebook as CSV (with flags, section and "
                 "status columns; every roster student has a row per assignment)",
                 assignment=False, student=False)
    export.add_argument("--to", default="grades.csv", help="CSV file (default: %(default)s)")
    roster = sub.add_parser(
        "roster", help="import the class roster (CSV) into the gradebook, or list it",
        description="roster import FILE.csv: check every row (id, first_name, last_name, email, "
        "section; common header spellings accepted), then put the students in the gradebook "
        "in one go and keep the file as roster.csv in the course root. roster list: show it.")
    roster.add_argument("action", choices=("import", "list"))
    roster.add_argument("file", nargs="?", help="the roster CSV (for import)")
    roster.set_defaults(handler=cmd_roster)
    gradebook = sub.add_parser(
        "gradebook", help="check the gradebook, or copy it into a new database (SQLite to "
        "PostgreSQL)",
        description="gradebook check: is the gradebook (db_url) usable, and what does it "
        "hold. gradebook copy --to URL: copy every row of it (grades, manual grades, "
        "comments, extensions) into a new, empty database, in one transaction, read back "
        "and compared before it is committed; the course keeps its gradebook until db_url "
        "names the new one.")
    gradebook.add_argument("action", choices=("check", "copy"))
    gradebook.add_argument("--to", metavar="URL",
                           help="the empty database to copy to, e.g. "
                                "postgresql+psycopg://grader@db.example.edu/miniflow")
    gradebook.set_defaults(handler=cmd_gradebook)
    return parser


def main(argv: list[str] | None = None) -> int:
    from autograder.record.gradebook import GradebookError
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
