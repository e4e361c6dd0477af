"""The class's records apart from its grades: ``roster`` (import the class list, or show
it) and ``gradebook`` (check the database, or copy it whole into a new one)."""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.core.manifest import load_manifest
from autograder.core.safe_text import terminal_text

__all__ = ["cmd_gradebook", "cmd_roster"]


def cmd_roster(args: argparse.Namespace) -> int:
    from autograder.publish.roster import ROSTER_FILE, import_roster, load_roster

    course = load_manifest()
    if args.action == "map":
        from autograder.collect.lms import LMS_MAP, add_to_lms_map

        if not args.file or not args.student:
            raise ValueError("roster map needs the LMS's name and the roster id: python -m "
                             "autograder roster map 'Ava Abbott' ava")
        add_to_lms_map(course, args.file, args.student)
        print(f"{terminal_text(args.file)} -> {terminal_text(args.student)} (kept in {LMS_MAP}, "
              "personal data: never commit it); collect again to take the upload in")
        return 0
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
    from autograder.record.database import db_url, shown_url
    from autograder.record.gradebook_copy import copy_gradebook, describe_gradebook

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
