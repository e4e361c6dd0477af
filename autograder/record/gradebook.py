"""The one writer and the one record: the course gradebook.

Workers and kernels never touch the course gradebook; the parent process
writes every result of a grading run in **one transaction** (all or
nothing), after checking that the database is reachable, that its driver is
installed, that its schema is nbgrader's and that nobody has added triggers
or views to it. The gradebook is the ``db_url`` of nbgrader_config.py
(SQLite in the course root by default, PostgreSQL for a large course), so
``nbgrader export`` and formgrader see the same grades.

The gradebook is the single source of truth for scores. The checks'
messages, notes and the status of submissions that never reached the
gradebook (rejected files, crashed grading) live in
``autograded/results.json``; ``load_results`` reads the details from there
and every score from the gradebook, so ``export``, ``feedback`` and
``report`` always agree with each other and with plain ``nbgrader export``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograder.core.atomic import write_text_atomically
from autograder.core.course_config import nbgrader_config
from autograder.core.manifest import Course
from autograder.core.results import CellGrade, GradeResult, Lateness, Status

__all__ = ["GradebookError", "check_gradebook", "copy_gradebook", "db_url", "describe_gradebook",
           "load_results", "record_results", "register_assignments", "shown_url"]

RESULTS = Path("autograded") / "results.json"


class GradebookError(RuntimeError):
    """The gradebook cannot be used; the message says why and what to do."""


def db_url(course: Course) -> str:
    """The gradebook URL nbgrader_config.py sets (default: gradebook.db in the root)."""
    config = nbgrader_config(course.root)
    url = config.CourseDirectory.get("db_url")
    return str(url) if url else f"sqlite:///{course.root / 'gradebook.db'}"


def shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: show it as given
        return url


def _nbgrader_schema() -> dict[str, str]:
    """name -> SQL of every table and index nbgrader creates, as SQLite writes them."""
    import sqlalchemy as sa
    from nbgrader.api import Base

    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(bind=engine)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")).all()
    engine.dispose()
    return {name: " ".join(sql.split()) for name, sql in rows}


def _foreign_objects(connection: Any, dialect: str) -> list[str]:
    """Objects in the gradebook that nbgrader did not create (triggers, views, edits)."""
    import sqlalchemy as sa

    if dialect == "sqlite":
        expected = _nbgrader_schema()
        found = []
        for kind, name, sql in connection.execute(sa.text(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")).all():
            if kind in ("trigger", "view"):
                found.append(f"{kind} {name!r}")
            elif name in expected and " ".join(sql.split()) != expected[name]:
                found.append(f"{kind} {name!r} (its definition was changed)")
        return found
    if dialect == "postgresql":
        queries = {
            "trigger": "SELECT DISTINCT trigger_name FROM information_schema.triggers "
                       "WHERE trigger_schema = current_schema()",
            "view": "SELECT table_name FROM information_schema.views "
                    "WHERE table_schema = current_schema()",
            "rule": "SELECT rulename FROM pg_rules WHERE schemaname = current_schema()",
            "event trigger": "SELECT evtname FROM pg_event_trigger",
        }
        return [f"{kind} {row[0]!r}" for kind, query in queries.items()
                for row in connection.execute(sa.text(query)).all()]
    return []


def _alembic_revisions() -> list[str]:
    """nbgrader's schema versions, newest (the one it expects) first."""
    import nbgrader
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(os.path.join(os.path.dirname(nbgrader.__file__), "alembic"))
    return [revision.revision for revision in script.walk_revisions()]


POSTGRES_EXTRA = 'pip install -e ".[postgres]"'


def _where(url: str) -> str:
    """The gradebook as a message names it: its URL (no password) and where it is set."""
    source = "CourseDirectory.db_url in nbgrader_config.py"
    if os.environ.get("MINIFLOW_DB_URL"):
        source += ", or MINIFLOW_DB_URL"
    return f"the gradebook {shown_url(url)} ({source})"


def _missing_driver(where: str, url: Any, error: BaseException) -> str:
    if url is not None and url.get_backend_name() == "postgresql":
        return (f"{where} needs the PostgreSQL driver psycopg 3, which is not installed "
                f"({error}): {POSTGRES_EXTRA} (which is pip install 'psycopg[binary]'), and "
                "write the URL as postgresql+psycopg://user@host:port/dbname. Nothing was "
                "changed.")
    return (f"{where} needs a database driver that is not installed ({error}): install the "
            "database's Python driver. Nothing was changed.")


def _cannot_connect(where: str, url: Any, reason: str) -> str:
    """What went wrong connecting, and the fix, for the error text ``reason``."""
    if url.get_backend_name() != "postgresql":
        return (f"cannot use {where}: {reason}. Is the database server running and reachable, "
                "and are the name, user and password in the URL right? Nothing was changed.")
    port = url.port or 5432
    at = f"{url.host}:{port}" if url.host else f"the local Unix socket (port {port})"
    user, database = url.username or "(your login name)", url.database or "(none)"
    lowered = reason.lower()
    if "database" in lowered and "does not exist" in lowered:
        fix = (f"the database {database!r} does not exist on the PostgreSQL server at "
               f"{at}: create it (createdb {f'-h {url.host} ' if url.host else ''}-p {port} "
               f"-U {user} {database}, or CREATE DATABASE as a superuser), then run the "
               "command again")
    elif any(words in lowered for words in ("role", "password", "authentication")):
        fix = (f"the PostgreSQL server at {at} refused the user {user!r}: create the "
               "role (createuser) and grant it the database, or fix the user in the URL "
               "(keep the password in ~/.pgpass)")
    else:
        fix = (f"no PostgreSQL server answers at {at}: start it (sudo systemctl start "
               "postgresql, or pg_ctl start -D DATADIR) or fix the host and port in the URL")
    return f"cannot use {where}: {fix} ({reason}). Nothing was changed."


def check_gradebook(course: Course) -> str:
    """Stop with a GradebookError naming the fix unless the gradebook can be written.

    Checks, before any work starts: the URL parses, its driver is installed,
    the database answers, its schema version is nbgrader's, and nothing was
    added to it (triggers, views, changed tables). Returns the URL.
    """
    url = db_url(course)
    _check_database(url, _where(url))
    return url


def _connect_options(parsed: Any) -> dict[str, Any]:
    """create_engine's options for a URL: PostgreSQL gives up connecting after 10 s."""
    return {"connect_args": {"connect_timeout": 10}} \
        if parsed.get_backend_name() == "postgresql" else {}


def _schema_version(connection: Any, tables: Any) -> str | None:
    """The gradebook's alembic version (``tables``: the names it has), or None."""
    import sqlalchemy as sa

    if "alembic_version" not in tables:
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _row_counts(connection: Any, tables: list[Any], present: Any) -> dict[str, int]:
    """Rows in each of nbgrader's ``tables`` (0 for one not in ``present``)."""
    import sqlalchemy as sa

    return {table.name: connection.execute(
        sa.select(sa.func.count()).select_from(table)).scalar() if table.name in present
        else 0 for table in tables}


def _check_database(url: str, where: str) -> None:
    """``check_gradebook`` for any URL; ``where`` names the database in messages."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    parsed = None
    try:
        parsed = sa.engine.make_url(url)
        engine = sa.create_engine(url, future=True, **_connect_options(parsed))
    except (NoSuchModuleError, ImportError) as error:
        raise GradebookError(_missing_driver(where, parsed, error)) from None
    except ArgumentError as error:
        raise GradebookError(f"{where} is not a database URL ({error}); write it like "
                             "sqlite:////path/to/gradebook.db or "
                             "postgresql+psycopg://user@host:port/dbname") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            raise GradebookError(f"{where}: the folder {folder} does not exist")
        if not Path(parsed.database).exists():
            engine.dispose()
            return  # nothing to check yet, and connecting would create the file
    try:
        with engine.connect() as connection:
            foreign = _foreign_objects(connection, engine.dialect.name)
            version = _schema_version(connection, sa.inspect(connection).get_table_names())
    except SQLAlchemyError as error:
        first = str(getattr(error, "orig", error)).strip().splitlines()
        raise GradebookError(_cannot_connect(where, parsed, first[0] if first else str(error))
                             ) from None
    finally:
        engine.dispose()
    if foreign:
        raise GradebookError(
            f"{where} holds {', '.join(foreign)}, which nbgrader did not create. Something "
            "other than nbgrader changed the database (a submission graded without the "
            "sandbox could have). Grades written now could be altered by it, so nothing was "
            "written. Inspect the database, drop what does not belong (SQLite: "
            "`sqlite3 gradebook.db .schema`; PostgreSQL: `\\d TABLE` and `\\dv` in psql, then "
            "DROP TRIGGER name ON table, DROP VIEW or DROP RULE), and grade again.")
    revisions = _alembic_revisions()
    if version and revisions and version != revisions[0]:
        if version in revisions:
            raise GradebookError(f"{where} has schema version {version}, but this nbgrader "
                                 f"expects {revisions[0]}: run `nbgrader db upgrade` in the "
                                 "course root first (back the database up before; for "
                                 "PostgreSQL, pg_dump). Nothing was changed.")
        raise GradebookError(f"{where} has schema version {version}, which this nbgrader "
                             f"does not know (it expects {revisions[0]}): the database was "
                             "written by a newer nbgrader, or is not an nbgrader gradebook. "
                             "Install the nbgrader that wrote it, or point db_url at the "
                             "course's own database. Nothing was changed.")


def open_gradebook(url: str, course_id: str) -> Any:
    """nbgrader's Gradebook on ``url``.

    When the database is empty (a new PostgreSQL database, a new SQLite file),
    nbgrader creates the tables and runs ``alembic`` from PATH to stamp their
    version: this interpreter's scripts folder goes first on PATH, as for every
    nbgrader command, or an un-activated virtual environment fails here.
    """
    from nbgrader.api import Gradebook

    from autograder.core.nbgrader_cli import nbgrader_in_process

    nbgrader_in_process()
    return Gradebook(url, course_id=course_id)


def register_assignments(course: Course, names: list[str] | None = None) -> None:
    """Create each assignment (with its due date) in the gradebook."""
    from autograder.record.late import due_utc

    with open_gradebook(db_url(course), course.id) as gradebook:
        for assignment in course.assignments:
            if names is None or assignment.name in names:
                # nbgrader keeps times in UTC; the manifest's are in the course's zone.
                gradebook.update_or_create_assignment(
                    assignment.name, duedate=due_utc(course, assignment.name))


def ensure_in_gradebook(course: Course, assignment: str) -> None:
    """The gradebook knows an assignment's cells once generate_assignment ran on it.

    It runs in a temporary copy of the course, writing only the gradebook:
    ``release/`` is never touched by grading.
    """
    from nbgrader.api import MissingEntry

    from autograder.record.nbgrader_api import copy_course_skeleton, generate_in_process

    url = db_url(course)
    with open_gradebook(url, course.id) as gradebook:
        try:
            known = bool(gradebook.find_assignment(assignment).notebooks)
        except MissingEntry:
            known = False
    if not known:
        with tempfile.TemporaryDirectory(prefix="miniflow-register-") as temp:
            copy_course_skeleton(course.root, Path(temp), [course.assignment(assignment)])
            generate_in_process(Path(temp), assignment, gradebook=url)


def one_transaction(gradebook: Any) -> Any:
    """Make nbgrader's many commits one transaction; returns the real commit."""
    session = gradebook.db
    commit = session.commit
    session.commit = session.flush
    return commit


def record_results(course: Course, results: Sequence[GradeResult]) -> None:
    """Write ``results`` to the gradebook, all or nothing.

    Then rewrite ``autograded/results.json`` (messages, notes, status) with
    the scores the gradebook now holds.
    """
    check_gradebook(course)
    for assignment in sorted({r.assignment for r in results}):
        ensure_in_gradebook(course, assignment)
    with open_gradebook(db_url(course), course.id) as gradebook:
        commit = one_transaction(gradebook)
        try:
            # No flush before each query: the queries read what the gradebook
            # held before this run, and the new rows go in at the commit.
            with gradebook.db.no_autoflush, warnings.catch_warnings():
                # nbgrader builds rows before adding them to the session, which
                # SQLAlchemy flags (harmlessly) when it flushes.
                warnings.simplefilter("ignore", RuntimeWarning)
                _write_results(course, gradebook, results)
            commit()
        except BaseException:
            gradebook.db.rollback()
            raise
    stored = _stored_details(course)
    for result in results:  # a copy: the caller's results keep their scores
        stored[(result.assignment, result.student)] = GradeResult.from_dict(result.to_dict())
    try:
        merged = load_results(course, stored)  # the scores as the gradebook has them
    except BaseException:
        _write_details(course, stored)  # the messages and notes are not lost
        raise
    _write_details(course, merged)


def _write_results(course: Course, gradebook: Any, results: Sequence[GradeResult]) -> None:
    """``record_results``' writing: nbgrader's rows (students, submissions, grades),
    with what the loop reads (students, submissions, the cells' names) read first
    in a few queries, and the new rows flushed together at the commit.

    nbgrader's API (``update_or_create_student``, ``find_submission``,
    ``add_submission``, each grade's name through its cell) sends queries and a
    flush for each result: 4.5 s to record 1,000 new submissions, 1.1 s here
    (``benchmarks/bench_gradebook.py``). ``tests/test_gradebook_scale.py``
    checks that the rows are the ones nbgrader's API writes.
    """
    from nbgrader.api import Assignment, Notebook, Student, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy.orm import selectinload

    from autograder.record.late import due_utc

    db = gradebook.db
    names = sorted({r.assignment for r in results})
    assignments = {a.name: a for a in db.query(Assignment).filter(Assignment.name.in_(names))
                   .options(selectinload(Assignment.notebooks)
                            .selectinload(Notebook._base_cells)).all()}
    cell_names = {cell.id: cell.name for assignment in assignments.values()
                  for notebook in assignment.notebooks for cell in notebook._base_cells}
    known = {student_id for (student_id,) in db.query(Student.id)}
    # As nbgrader's add_student (no authenticator here), without a flush for each.
    db.add_all([Student(id=student) for student in dict.fromkeys(r.student for r in results)
                if student not in known])
    named = {a.id: a.name for a in assignments.values()}
    held = {(named[s.assignment_id], s.student_id): s for s in db.query(SubmittedAssignment)
            .join(SubmittedAssignment.assignment).filter(Assignment.name.in_(names))
            .options(selectinload(SubmittedAssignment.notebooks)
                     .selectinload(SubmittedNotebook.grades)).all()}
    due_dates_set: set[str] = set()
    for result in results:
        key = (result.assignment, result.student)
        submission = held.get(key)
        if result.status != Status.GRADED:
            if submission is not None:  # a regrade that now fails: forget the old one
                db.flush()  # nbgrader finds what it removes with a query
                gradebook.remove_submission(result.assignment, result.student)
                del held[key]
            continue  # no submission recorded: export shows a zero
        if submission is None:
            submission = held[key] = _new_submission(db, assignments[result.assignment],
                                                     result.student)
        scores = {c.grade_id: c.score for c in result.cells}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                name = cell_names.get(grade.cell_id)
                if name in scores:
                    grade.auto_score = scores[name]
                    grade.needs_manual_grade = False
        if result.assignment not in due_dates_set:
            due_dates_set.add(result.assignment)
            # The due date nbgrader counts lateness from is the manifest's (release
            # writes it too; a course graded without releasing first would have none).
            submission.assignment.duedate = due_utc(course, result.assignment)
        _record_late(course, submission, result)


def _new_submission(db: Any, assignment: Any, student: str) -> Any:
    """A new submission of ``assignment`` by ``student``, the rows nbgrader's
    ``add_submission`` makes (a notebook per notebook; a grade per grade cell;
    a comment per solution cell; both per task cell), added to the session
    without its queries and flush."""
    from nbgrader.api import Comment, Grade, SubmittedAssignment, SubmittedNotebook

    submission = SubmittedAssignment(assignment=assignment, student_id=student)
    for notebook in assignment.notebooks:
        submitted = SubmittedNotebook(notebook=notebook, assignment=submission)
        for cell in notebook.grade_cells:
            Grade(cell_id=cell.id, notebook=submitted)
        for cell in notebook.solution_cells:
            Comment(cell_id=cell.id, notebook=submitted)
        for cell in notebook.task_cells:
            Comment(cell_id=cell.id, notebook=submitted)
            Grade(cell_id=cell.id, notebook=submitted)
    db.add(submission)
    return submission


def _record_late(course: Course, submission: Any, result: GradeResult) -> None:
    """The submission time, extension and late penalty, where nbgrader keeps them.

    nbgrader's export then shows the same timestamp, penalty and score as
    ours (its score is the notebooks' scores minus their penalties).
    """
    from nbgrader.utils import parse_utc

    from autograder.record.late import deadline

    late = result.late
    submission.timestamp = parse_utc(late.submitted) if late else None
    _, extension = deadline(course, result.assignment, result.student)
    submission.extension = extension if extension else None
    for number, notebook in enumerate(submission.notebooks):
        # One notebook per assignment here; a penalty is charged once.
        penalty = float(late.penalty) if late and number == 0 else 0.0
        notebook.late_submission_penalty = penalty or None


def _stored_details(course: Course) -> dict[tuple[str, str], GradeResult]:
    """The results ``results.json`` holds (this grader's, or an earlier one's)."""
    path = course.root / RESULTS
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    if not isinstance(records, list):
        return {}
    return {(str(r["assignment"]), str(r["student"])): GradeResult.from_dict(r)
            for r in records if isinstance(r, dict) and "assignment" in r and "student" in r}


def _write_details(course: Course, stored: dict[tuple[str, str], GradeResult]) -> None:
    path = course.root / RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = [stored[key].to_dict() for key in sorted(stored)]
    write_text_atomically(path, json.dumps(ordered, indent=1))


def _submitted(gradebook: Any) -> list:
    """``gradebook.assignments``, with what the loop over their submissions reads
    loaded at once: their notebooks (and late penalties) and grades, with each
    grade's cell and maximum score.

    Read lazily, each of those is a query of its own: about 4,000 for 400
    submissions of one assignment, half a second each time. A submission's
    ``late_submission_penalty`` is not read: nbgrader computes it with a
    subquery over every submitted notebook for each submission (no index),
    seconds for a few thousand; ``_penalty`` adds its notebooks' instead.
    """
    from nbgrader.api import Assignment, Grade, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy.orm import selectinload

    submissions = selectinload(Assignment.submissions)
    graded = submissions.selectinload(SubmittedAssignment.notebooks).selectinload(
        SubmittedNotebook.grades)
    return gradebook.db.query(Assignment).order_by(Assignment.duedate, Assignment.name) \
        .options(graded.joinedload(Grade.cell), graded.undefer(Grade.max_score)).all()


def _penalty(submission: Any) -> float:
    """nbgrader's ``late_submission_penalty`` of a submission: its notebooks' summed."""
    return float(sum(notebook.late_submission_penalty or 0.0
                     for notebook in submission.notebooks))


def _gradebook_submissions(course: Course) -> tuple[
        dict[tuple[str, str], dict[str, tuple[float, float]]],
        dict[tuple[str, str], dict[str, Any]]]:
    """Every submission the gradebook holds, by (assignment, student): {cell: (score,
    max score)}, and its time, due date, seconds late and penalty."""
    url = db_url(course)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        return {}, {}
    scores: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    late: dict[tuple[str, str], dict[str, Any]] = {}
    with open_gradebook(url, course.id) as gradebook:
        for assignment in _submitted(gradebook):
            for submission in assignment.submissions:
                key = (assignment.name, submission.student_id)
                cells = scores.setdefault(key, {})
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.max_score:
                            cells[grade.name] = (float(grade.score or 0.0),
                                                 float(grade.max_score))
                due = submission.duedate if assignment.duedate is not None else None
                late[key] = {"timestamp": submission.timestamp, "due": due,
                             "seconds_late": float(submission.total_seconds_late or 0.0),
                             "penalty": _penalty(submission)}
    return scores, late


def load_results(course: Course, stored: dict[tuple[str, str], GradeResult] | None = None
                 ) -> dict[tuple[str, str], GradeResult]:
    """Every result, keyed by (assignment, student): scores from the gradebook.

    Messages and notes come from ``results.json``. A submission the gradebook
    holds but results.json does not (graded with plain ``nbgrader
    autograde``) is included with its scores and no messages; one that
    results.json calls graded but the gradebook does not hold is reported as
    missing from the gradebook, with no score. ``stored``: the details to use
    instead of results.json's (``record_results`` has them in hand); none of
    them is changed.
    """
    stored = _stored_details(course) if stored is None else stored
    gradebook, lateness = _gradebook_submissions(course)
    merged: dict[tuple[str, str], GradeResult] = {}
    for key in sorted(set(stored) | set(gradebook)):
        record = stored.get(key) or GradeResult(key[1], key[0], Status.GRADED)
        cells = gradebook.get(key)
        if cells is not None:
            messages = {c.grade_id: c.message for c in record.cells}
            order = [name for name in messages if name in cells]
            order += [name for name in cells if name not in messages]
            score = float(sum(s for s, _ in cells.values()))
            record = dataclasses.replace(
                record, status=Status.GRADED, score=score,
                max_score=float(sum(t for _, t in cells.values())),
                cells=[CellGrade(name, cells[name][0], cells[name][1], messages.get(name, ""))
                       for name in order])
            record = _merge_late(record, lateness.get(key))
        elif record.status == Status.GRADED:
            record = dataclasses.replace(
                record, status=Status.ERROR, score=0.0, cells=[],
                notes=[*record.notes, "the gradebook holds no grade for this submission; "
                       "grade it again"])
        merged[key] = record
    return merged


def _merge_late(record: GradeResult, held: dict[str, Any] | None) -> GradeResult:
    """Take the gradebook's late penalty off the score; build ``late`` if only nbgrader knew."""
    from datetime import UTC

    if not held:
        return record
    penalty = held["penalty"]
    late = record.late
    if late is not None:
        late = dataclasses.replace(late, penalty=penalty)
    elif held["timestamp"] is not None:  # graded by plain nbgrader autograde
        late = Lateness(
            submitted=held["timestamp"].replace(tzinfo=UTC).isoformat(),
            due=held["due"].replace(tzinfo=UTC).isoformat() if held["due"] else None,
            seconds_late=held["seconds_late"], penalty=penalty,
            policy="as nbgrader autograde recorded it")
    return dataclasses.replace(record, score=max(0.0, record.score - penalty), late=late)


# --- moving a gradebook (SQLite to PostgreSQL, say) --------------------------------------

COPY_BATCH = 500  # rows per INSERT


def _copy_engine(url: str) -> Any:
    """An engine for copying: every transaction, on SQLite too, really is one.

    pysqlite begins a transaction only before it writes: without this, each
    table would be read in a state of its own while a grading run writes, and
    the tables made in a new file would stay after a failed copy. PostgreSQL
    reads in one snapshot (REPEATABLE READ) and undoes CREATE TABLE itself.
    """
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, future=True, isolation_level="REPEATABLE READ",
                                **_connect_options(parsed))
    engine = sa.create_engine(url, future=True)

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def _same_database(first: Any, second: Any) -> bool:
    if first.get_backend_name() == second.get_backend_name() == "sqlite":
        return bool(first.database and second.database) and \
            Path(first.database).resolve() == Path(second.database).resolve()
    keep = ("drivername", "host", "port", "database")
    return all(getattr(first, k) == getattr(second, k) for k in keep) and \
        (first.username or "") == (second.username or "")


def _rows(connection: Any, table: Any) -> list[dict[str, Any]]:
    """Every row of ``table``, in primary-key order (compared as text, as any database sorts)."""
    import sqlalchemy as sa

    rows = [dict(row) for row in connection.execute(sa.select(table)).mappings()]
    keys = [column.name for column in table.primary_key.columns]
    return sorted(rows, key=lambda row: [str(row[k]) for k in keys])


def _comparable(rows: list[dict[str, Any]]) -> list[list[tuple[str, Any]]]:
    """Rows as two databases can compare them: times as ISO text, numbers as floats."""
    import datetime

    def plain(value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            return value.isoformat()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return value

    return [sorted((key, plain(value)) for key, value in row.items()) for row in rows]


def _refuse_unless_empty(connection: Any, there: str, tables: list[Any]) -> None:
    import sqlalchemy as sa

    present = set(sa.inspect(connection).get_table_names())
    strange = sorted(present - {t.name for t in tables} - {"alembic_version"})
    if strange:
        raise GradebookError(
            f"{there} holds tables that are not nbgrader's ({', '.join(strange)}): copy the "
            "gradebook into a new, empty database (createdb NAME). Nothing was changed.")
    filled = {name: count for name, count in _row_counts(connection, tables, present).items()
              if count}
    if filled:
        raise GradebookError(
            f"{there} already holds a gradebook ({filled.get('student', 0)} student(s), "
            f"{filled.get('assignment', 0)} assignment(s), "
            f"{filled.get('submitted_assignment', 0)} submission(s)): the copy goes only "
            "into an empty database, so that nothing in it is overwritten. To replace it, "
            "drop it and create it again (dropdb NAME; createdb NAME), then copy again. "
            "Nothing was changed.")


def copy_gradebook(course: Course, target: str) -> dict[str, int]:
    """Copy the course gradebook, every row, into the empty database ``target``.

    For a course that started on SQLite and moves to PostgreSQL mid-term
    (or a PostgreSQL gradebook kept as a SQLite file). One transaction on the
    target: nbgrader's tables are created and every row copied (students,
    assignments and their cells, submissions, grades and comments, manual
    grades, extensions and late penalties included) with the schema version;
    each table is then read back and compared with the source; only then is
    it committed. On any failure nothing is kept there (a new SQLite file is
    removed). The source is read in one transaction, so in one consistent
    state even while something writes to it, and never written. The course
    keeps using its gradebook until ``db_url`` names the new one. Returns the
    rows copied per table.
    """
    import sqlalchemy as sa
    from nbgrader.api import Base
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    source = check_gradebook(course)
    there = f"the target database {shown_url(target)}"
    try:
        to_url = sa.engine.make_url(target)
    except ArgumentError:
        _check_database(target, there)  # says what a database URL looks like
        raise
    from_url = sa.engine.make_url(source)
    if _same_database(from_url, to_url):
        raise GradebookError(f"{there} is the course gradebook itself: name another, empty "
                             "database to copy it to. Nothing was changed.")
    if from_url.get_backend_name() == "sqlite" and not Path(from_url.database or "").is_file():
        raise GradebookError(f"{_where(source)} does not exist yet, so there is nothing to "
                             "copy (release creates it). Nothing was changed.")
    new_file = None
    if to_url.get_backend_name() == "sqlite":
        if not to_url.database or to_url.database == ":memory:":
            raise GradebookError(f"{there} is not a file: write sqlite:////path/to/new.db")
        new_file = Path(to_url.database)
        if new_file.exists():
            raise GradebookError(f"{there} exists already: the copy goes only into a new "
                                 f"file (move {new_file} away first). Nothing was changed.")
    _check_database(target, there)  # its driver, server, schema version, no triggers
    tables = list(Base.metadata.sorted_tables)  # parents before the rows that name them
    counts: dict[str, int] = {}
    reader, writer = _copy_engine(source), _copy_engine(target)
    kept = False
    try:
        with reader.connect() as reading, writer.connect() as writing, \
                reading.begin(), writing.begin():
            _refuse_unless_empty(writing, there, tables)
            version = _schema_version(reading, sa.inspect(reading).get_table_names())
            Base.metadata.create_all(writing)
            if version is not None:
                if "alembic_version" not in sa.inspect(writing).get_table_names():
                    writing.execute(sa.text("CREATE TABLE alembic_version "
                                            "(version_num VARCHAR(32) NOT NULL)"))
                writing.execute(sa.text("DELETE FROM alembic_version"))
                writing.execute(sa.text("INSERT INTO alembic_version (version_num) "
                                        "VALUES (:version)"), {"version": version})
            copied = {}
            for table in tables:
                rows = copied[table.name] = _rows(reading, table)
                for start in range(0, len(rows), COPY_BATCH):
                    writing.execute(table.insert(), rows[start:start + COPY_BATCH])
                counts[table.name] = len(rows)
            for table in tables:  # read back: what the target holds is what was read
                if _comparable(_rows(writing, table)) != _comparable(copied[table.name]):
                    raise GradebookError(
                        f"the table {table.name} reads back from {there} other than it was "
                        "written, so nothing was kept there; the course gradebook is "
                        "unchanged. Is the target a database nbgrader supports?")
        kept = True
    except SQLAlchemyError as error:
        said = str(getattr(error, "orig", error)).strip().splitlines()
        raise GradebookError(f"copying the gradebook to {there} failed "
                             f"({said[0] if said else type(error).__name__}): nothing was "
                             "kept there, and the course gradebook is unchanged.") from None
    finally:
        reader.dispose()
        writer.dispose()
        if not kept and new_file is not None:
            new_file.unlink(missing_ok=True)
    return counts


def describe_gradebook(course: Course) -> dict[str, Any]:
    """What ``gradebook check`` shows: the URL, its schema version and its rows per table."""
    import sqlalchemy as sa
    from nbgrader.api import Base

    url = check_gradebook(course)
    parsed = sa.engine.make_url(url)
    found: dict[str, Any] = {"url": shown_url(url), "exists": True, "version": None, "rows": {}}
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        found["exists"] = False
        return found
    engine = _copy_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            present = set(sa.inspect(connection).get_table_names())
            found["version"] = _schema_version(connection, present)
            found["rows"] = _row_counts(connection, Base.metadata.sorted_tables, present)
    finally:
        engine.dispose()
    return found
