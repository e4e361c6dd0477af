"""The command line's grammar: every subcommand, its arguments and options, and the
function that runs it (``build_parser``)."""

from __future__ import annotations

import argparse
import os

from autograder.cli.authoring import cmd_demo, cmd_release, cmd_selfcheck
from autograder.cli.collecting import cmd_collect
from autograder.cli.gradebook import cmd_gradebook, cmd_roster
from autograder.cli.grading import cmd_grade
from autograder.cli.results import cmd_export, cmd_feedback, cmd_flags, cmd_report
from autograder.cli.sandbox import sandbox_option

__all__ = ["DESCRIPTION", "build_parser"]

#: What ``python -m autograder --help`` says before the list of subcommands.
DESCRIPTION = """The instructor pipeline: ``python -m autograder SUBCOMMAND`` from the course root.

    release   [ASSIGNMENT]          self-check, then student notebooks in release/, assignments
                                    in the gradebook; warns if grades predate changed tests
    collect   SOURCE [ASSIGNMENT]   submissions from a folder or LMS zip into submitted/
    collect   --exchange [ASSIGNMENT]  ... or from nbgrader's exchange (JupyterHub)
    grade     [ASSIGNMENT]          autograde in parallel, sandboxed; one bad notebook never
                                    stops the rest
    flags     [ASSIGNMENT]          what the static review and the tamper guard found
    feedback  [ASSIGNMENT]          HTML feedback without hidden-test source
    export                          grades as CSV, with flags, section and status columns
    roster    import FILE.csv | list | map NAME ID  the class roster; map an LMS's name to an id
    gradebook check | copy --to URL   is the gradebook usable; copy it to a new database
    report                          class report (HTML, figures)
    selfcheck [ASSIGNMENT]          solutions full marks, blanks zero, every mutant loses points
    demo                            the whole pipeline on a synthetic class

Every subcommand has --help. ASSIGNMENT is optional (all, in manifest order)
and ``--student ID`` narrows to one student where it applies.
"""


def _workers(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("--workers must be at least 1")
    return number


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder", description=DESCRIPTION,
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
    sandbox_option(release)
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
    sandbox_option(grade)
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
    sandbox_option(check)
    demo = add("demo", cmd_demo, "run the whole pipeline on a synthetic class in a new "
               "course folder (all assignments, or the one named)", student=False)
    demo.add_argument("--output", help="course folder to create (default: a temporary one)")
    demo.add_argument("--workers", type=_workers, default=_default_workers(),
                      help="grading processes (default: %(default)s)")
    sandbox_option(demo)
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
        "in one go and keep the file as roster.csv in the course root (optional columns "
        "lms_login and lms_user_id say how the LMS names each student). roster list: show "
        "it. roster map NAME ID: collect reads the LMS name NAME (a Canvas login, a Moodle "
        "full name) as the roster id ID (kept in lms-map.csv).")
    roster.add_argument("action", choices=("import", "list", "map"))
    roster.add_argument("file", nargs="?", help="the roster CSV (for import); the LMS's "
                        "name for a student, as collect showed it (for map)")
    roster.add_argument("student", nargs="?", help="the roster id the LMS name maps to "
                        "(for map)")
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
