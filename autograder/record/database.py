"""Where the gradebook is and whether it can be used: nbgrader's database, checked and opened.

The gradebook is the ``db_url`` of nbgrader_config.py (SQLite in the course
root by default, PostgreSQL for a large course), so ``nbgrader export`` and
formgrader see the same grades. Before anything writes it, ``check_gradebook``
makes sure that the database is reachable, that its driver is installed, that
its schema is nbgrader's and that nobody has added triggers or views to it;
a ``GradebookError`` names the fix otherwise.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from autograder.core.course_config import nbgrader_config
from autograder.core.manifest import Course

__all__ = ["POSTGRES_EXTRA", "GradebookError", "check_database", "check_gradebook",
           "connect_options", "db_url", "ensure_in_gradebook", "gradebook_at", "one_transaction",
           "open_gradebook", "register_assignments", "row_counts", "schema_version", "shown_url"]


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


def gradebook_at(url: str) -> str:
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
    check_database(url, gradebook_at(url))
    return url


def connect_options(parsed: Any) -> dict[str, Any]:
    """create_engine's options for a URL: PostgreSQL gives up connecting after 10 s."""
    return {"connect_args": {"connect_timeout": 10}} \
        if parsed.get_backend_name() == "postgresql" else {}


def schema_version(connection: Any, tables: Any) -> str | None:
    """The gradebook's alembic version (``tables``: the names it has), or None."""
    import sqlalchemy as sa

    if "alembic_version" not in tables:
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def row_counts(connection: Any, tables: list[Any], present: Any) -> dict[str, int]:
    """Rows in each of nbgrader's ``tables`` (0 for one not in ``present``)."""
    import sqlalchemy as sa

    return {table.name: connection.execute(
        sa.select(sa.func.count()).select_from(table)).scalar() if table.name in present
        else 0 for table in tables}


def check_database(url: str, where: str) -> None:
    """``check_gradebook`` for any URL; ``where`` names the database in messages."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    parsed = None
    try:
        parsed = sa.engine.make_url(url)
        engine = sa.create_engine(url, future=True, **connect_options(parsed))
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
            version = schema_version(connection, sa.inspect(connection).get_table_names())
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
