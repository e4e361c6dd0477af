"""Copying the gradebook whole into a new database (SQLite to PostgreSQL, say), and
describing what it holds: the ``gradebook`` command's ``copy`` and ``check``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autograder.core.manifest import Course
from autograder.record.database import (
    GradebookError,
    check_database,
    check_gradebook,
    connect_options,
    gradebook_at,
    row_counts,
    schema_version,
    shown_url,
)

__all__ = ["COPY_BATCH", "comparable_rows", "copy_gradebook", "describe_gradebook", "table_rows"]

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
                                **connect_options(parsed))
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


def table_rows(connection: Any, table: Any) -> list[dict[str, Any]]:
    """Every row of ``table``, in primary-key order (compared as text, as any database sorts)."""
    import sqlalchemy as sa

    rows = [dict(row) for row in connection.execute(sa.select(table)).mappings()]
    keys = [column.name for column in table.primary_key.columns]
    return sorted(rows, key=lambda row: [str(row[k]) for k in keys])


def comparable_rows(rows: list[dict[str, Any]]) -> list[list[tuple[str, Any]]]:
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
    filled = {name: count for name, count in row_counts(connection, tables, present).items()
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
        check_database(target, there)  # says what a database URL looks like
        raise
    from_url = sa.engine.make_url(source)
    if _same_database(from_url, to_url):
        raise GradebookError(f"{there} is the course gradebook itself: name another, empty "
                             "database to copy it to. Nothing was changed.")
    if from_url.get_backend_name() == "sqlite" and not Path(from_url.database or "").is_file():
        raise GradebookError(f"{gradebook_at(source)} does not exist yet, so there is nothing to "
                             "copy (release creates it). Nothing was changed.")
    new_file = None
    if to_url.get_backend_name() == "sqlite":
        if not to_url.database or to_url.database == ":memory:":
            raise GradebookError(f"{there} is not a file: write sqlite:////path/to/new.db")
        new_file = Path(to_url.database)
        if new_file.exists():
            raise GradebookError(f"{there} exists already: the copy goes only into a new "
                                 f"file (move {new_file} away first). Nothing was changed.")
    check_database(target, there)  # its driver, server, schema version, no triggers
    tables = list(Base.metadata.sorted_tables)  # parents before the rows that name them
    counts: dict[str, int] = {}
    reader, writer = _copy_engine(source), _copy_engine(target)
    kept = False
    try:
        with reader.connect() as reading, writer.connect() as writing, \
                reading.begin(), writing.begin():
            _refuse_unless_empty(writing, there, tables)
            version = schema_version(reading, sa.inspect(reading).get_table_names())
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
                rows = copied[table.name] = table_rows(reading, table)
                for start in range(0, len(rows), COPY_BATCH):
                    writing.execute(table.insert(), rows[start:start + COPY_BATCH])
                counts[table.name] = len(rows)
            for table in tables:  # read back: what the target holds is what was read
                written = comparable_rows(table_rows(writing, table))
                if written != comparable_rows(copied[table.name]):
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
            found["version"] = schema_version(connection, present)
            found["rows"] = row_counts(connection, Base.metadata.sorted_tables, present)
    finally:
        engine.dispose()
    return found
