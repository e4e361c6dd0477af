"""The gradebook on a real PostgreSQL server, which these tests start themselves.

A throw-away cluster (``initdb`` + ``pg_ctl``) in a temporary folder, listening
on 127.0.0.1 and a free port, stopped at the end even when a test fails.
PostgreSQL refuses to run as root, so under root (CI containers) it runs as
Debian's ``postgres`` user. Without PostgreSQL the tests skip on a laptop
and fail when ``CI`` is set (``.ci/run`` installs Debian's ``postgresql``).

What they prove: the whole pipeline (release, collect, grade, feedback,
export, report, and plain ``nbgrader export``) works on PostgreSQL and gives
every cell the score a SQLite gradebook gives it; a missing driver, a server
that does not answer, an old schema or a trigger nobody expected stop every
command that touches the gradebook with exit code 2, a message naming the
fix, and nothing written. And a release that fails leaves ``release/``
exactly as it was.
"""

from __future__ import annotations

import csv
import hashlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import hand_graded_gradebook, sqlite_tables

from autograder.author.demo import build_class
from autograder.author.release import release
from autograder.collect import collect
from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.record.load import load_results

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_manifest(ROOT)
FIRST = COURSE.assignments[0]
USER = "grader"  # the cluster's superuser, trusted on 127.0.0.1 only (initdb -A trust)


def _unavailable(reason: str) -> None:
    """Skip on a laptop; fail on CI, where .ci/run installs PostgreSQL."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the PostgreSQL tests, but {reason}")
    pytest.skip(reason)


def _binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest version."""
    folders = []
    if shutil.which("pg_ctl"):
        folders.append(Path(shutil.which("pg_ctl")).resolve().parent)
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    folders += sorted(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit()
                      else 0, reverse=True)
    for folder in folders:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A running throw-away PostgreSQL cluster."""

    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, database: str, port: int | None = None) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{port or self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname=database,
                               autocommit=True, connect_timeout=10)

    def create_database(self, name: str, template: str | None = None) -> str:
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"'
                               + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def execute(self, database: str, statement: str) -> None:
        with self.connect(database) as connection:
            connection.execute(statement)

    def snapshot(self, database: str) -> dict[str, object]:
        """Every row of every table, and every trigger: what "nothing touched" compares."""
        with self.connect(database) as connection:
            tables = [row[0] for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
            rows = {table: sorted(repr(row) for row in connection.execute(
                f'SELECT * FROM "{table}"')) for table in tables}
            rows["(triggers)"] = sorted(row[0] for row in connection.execute(
                "SELECT trigger_name FROM information_schema.triggers"))
        return rows


@pytest.fixture(scope="module")
def postgres() -> Iterator[Server]:
    """Start PostgreSQL in a temporary folder; stop it and remove the folder at the end."""
    try:
        import psycopg  # noqa: F401 (the driver of the postgres extra, in dev too)
    except ImportError:
        _unavailable('psycopg is not installed (pip install -e ".[dev]")')
    binaries = _binaries()
    if binaries is None:
        _unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="miniflow-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            _unavailable("running as root and there is no 'postgres' user to run PostgreSQL as")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else [
            "setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
            "--clear-groups", "--"]

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *argv], cwd=folder, capture_output=True, text=True,
                              timeout=120, check=False)

    data, sockets = folder / "data", folder / "sockets"
    started = False
    try:
        done = run(str(binaries / "initdb"), "-D", str(data), "-U", USER, "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync")
        if done.returncode:
            _unavailable(f"initdb failed: {done.stderr.strip()[-800:]}")
        run("mkdir", str(sockets))
        for _attempt in range(3):  # a port taken between probing and starting: try another
            port = _free_port()
            done = run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"),
                       "-w", "-t", "60", "-o", f"-k {sockets} -p {port} -h 127.0.0.1 -F",
                       "start")
            if done.returncode == 0:
                started = True
                break
        if not started:
            log = (folder / "log").read_text(errors="replace")[-1500:] \
                if (folder / "log").exists() else ""
            _unavailable(f"pg_ctl could not start PostgreSQL: {done.stderr.strip()}\n{log}")
        yield Server(port)
    finally:
        if started:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


# --- helpers ---------------------------------------------------------------------------

def _tree(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder``: kind, mode and content hash."""
    if not folder.exists():
        return {}
    found = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        found[str(path.relative_to(folder))] = (stat.S_IFMT(info.st_mode),
                                                stat.S_IMODE(info.st_mode), content)
    return found


def _cli(root: Path, *args: str, env: dict[str, str] | None = None,
         no_driver: bool = False) -> subprocess.CompletedProcess:
    """``python -m autograder ARGS`` in ``root``; ``no_driver``: psycopg cannot be imported."""
    command = [sys.executable, "-m", "autograder", *args]
    if no_driver:
        command = [sys.executable, "-c",
                   "import sys; sys.modules['psycopg'] = None\n"
                   "from autograder.cli.main import main\n"
                   "raise SystemExit(main(sys.argv[1:]))", *args]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def _course(root: Path, url: str | None, monkeypatch: pytest.MonkeyPatch,
            assignments=(FIRST,)) -> Path:
    """A course folder whose gradebook is ``url`` (SQLite in the folder when None)."""
    if url:
        monkeypatch.setenv("MINIFLOW_DB_URL", url)
    else:
        monkeypatch.delenv("MINIFLOW_DB_URL", raising=False)
    copy_course_skeleton(ROOT, root, assignments)
    for assignment in assignments:
        shutil.copytree(ROOT / "release" / assignment.name, root / "release" / assignment.name)
    return root


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _cell_scores(course) -> dict[tuple[str, str], object]:
    """(student, grade id or "status") -> score, for every submission of FIRST."""
    scores: dict[tuple[str, str], object] = {}
    for (assignment, student), record in load_results(course).items():
        assert assignment == FIRST.name
        scores[(student, "status")] = record.status
        for cell in record.cells:
            scores[(student, cell.grade_id)] = (cell.score, cell.max_score)
    return scores


@pytest.fixture(scope="module")
def autograder_main():
    """The CLI's main(), run in this process (a command costs no interpreter start)."""
    path, safe = list(sys.path), os.environ.get("PYTHONSAFEPATH")
    handler = signal.getsignal(signal.SIGTERM)
    from autograder.cli.main import main  # its import takes the cwd off sys.path: put it back

    sys.path[:] = path
    if safe is None:
        os.environ.pop("PYTHONSAFEPATH", None)
    yield main
    signal.signal(signal.SIGTERM, handler)


def _in_process(main, capsys):
    def run(command: list[str]) -> tuple[int, str]:
        capsys.readouterr()
        code = main(command)
        return code, capsys.readouterr().err
    return run


# --- the pipeline ------------------------------------------------------------------------

def test_the_whole_pipeline_on_postgresql_gives_every_cell_the_score_sqlite_gives(
        postgres, autograder_main, tmp_path, monkeypatch, capsys):
    # The reference: the same class graded with the default SQLite gradebook.
    reference = _course(tmp_path / "sqlite", None, monkeypatch)
    course = load_manifest(reference)
    release(course, [FIRST], selfcheck=False)  # the self-check has tests of its own
    inbox = tmp_path / "inbox"
    expected = build_class(course, inbox, (FIRST,))
    # Two notebooks to grade (the solution and a known mistake) and one rejected: the
    # blank notebook costs a kernel and proves nothing more about the gradebook.
    shutil.rmtree(inbox / "blank")
    del expected["blank"]
    collect(course, inbox)
    grade(course, [FIRST], students=None, workers=2)
    on_sqlite = _cell_scores(course)

    # The same course on PostgreSQL, every step that touches the gradebook through the
    # CLI's main(), as an instructor runs it (collect only copies files); in this
    # process, to spare an interpreter start per step.
    url = postgres.create_database("pipeline")
    root = _course(tmp_path / "postgres", url, monkeypatch)
    monkeypatch.chdir(root)
    run = _in_process(autograder_main, capsys)
    collect(load_manifest(root), inbox)
    for step in (["release", FIRST.name, "--skip-selfcheck"],
                 ["grade", FIRST.name, "--workers", "2"],
                 ["feedback", FIRST.name], ["export", "--to", "grades.csv"], ["report"],
                 ["flags"]):
        code, message = run(step)
        assert code == 0, f"{step}: {message}"
    run_nbgrader(["export", "--to", str(root / "plain.csv")], root)  # plain nbgrader
    assert not (root / "gradebook.db").exists(), "the SQLite default was used, not PostgreSQL"
    with postgres.connect("pipeline") as connection:
        graded = connection.execute(
            "SELECT count(*) FROM submitted_assignment").fetchone()[0]
    assert graded == 2  # solution and mutant; the broken notebook is rejected

    on_postgres = _cell_scores(load_manifest(root))
    assert on_postgres == on_sqlite
    students = {student for student, _ in on_postgres}
    assert students == set(expected)
    full = FIRST.points
    total = {s: sum(v[0] for (who, cell), v in on_postgres.items() if who == s and
                    cell != "status") for s in students}
    assert total["solution"] == full and 0 < total["mutant01"] < full
    assert on_postgres[("broken", "status")] == "rejected"

    ours, plain = _csv(root / "grades.csv"), _csv(root / "plain.csv")
    # Plain nbgrader's export is ours (its plugin adds our columns after its own).
    assert list(plain[0])[-7:] == ["flags", "seconds_late", "days_late", "late_policy",
                                   "stale_tests", "section", "status"]
    assert ours == plain
    assert {r["student_id"]: float(r["score"]) for r in plain} == {**total, "broken": 0.0}
    for student in ("solution", "mutant01"):
        assert (root / "feedback" / student / FIRST.name /
                FIRST.notebook_file.replace(".ipynb", ".html")).is_file()
    assert (root / "reports" / "class-report.html").is_file()


# --- a gradebook that cannot be used stops every command, and nothing is written ----------

GENERATED = ("autograded", "feedback", "reports", "grades.csv")
ALL = [["release", FIRST.name], ["grade", FIRST.name], ["feedback", FIRST.name],
       ["export", "--to", "grades.csv"], ["report"], ["flags"]]


@pytest.fixture(scope="module")
def released(postgres, tmp_path_factory) -> Path:
    """A course released on PostgreSQL (database "released") with one collected submission.

    Each test copies it: the folder with copytree, the database with CREATE DATABASE ...
    TEMPLATE released (one release for all the tests below).
    """
    root = tmp_path_factory.mktemp("released") / "course"
    with pytest.MonkeyPatch.context() as patch:
        _course(root, postgres.create_database("released"), patch)
        release(load_manifest(root), [FIRST], selfcheck=False)
    submitted = root / "submitted" / "ann" / FIRST.name
    submitted.mkdir(parents=True)
    shutil.copy2(ROOT / "source" / FIRST.name / FIRST.notebook_file, submitted)
    return root


def _copy(postgres: Server, released: Path, tmp_path: Path, monkeypatch, name: str) -> Path:
    """This test's own copy of the released course and its database."""
    monkeypatch.setenv("MINIFLOW_DB_URL", postgres.create_database(name, template="released"))
    root = tmp_path / name
    shutil.copytree(released, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def _assert_refused(run, root: Path, commands: list[list[str]], words: list[str], *,
                    snapshot=None) -> None:
    """Each command exits 2 naming ``words``; release/, the outputs and the database stay.

    ``run(command)`` returns (exit code, stderr).
    """
    release_before = _tree(root / "release")
    database_before = snapshot() if snapshot else None
    for command in commands:
        code, message = run(command)
        assert code == 2, f"{command}: exit {code}\n{message}"
        assert "Traceback" not in message, message
        for word in words:
            assert word in message, f"{command}: {word!r} not in {message}"
        assert _tree(root / "release") == release_before, command
        for generated in GENERATED:
            assert not (root / generated).exists(), f"{command} wrote {generated}"
        if snapshot:
            assert snapshot() == database_before, f"{command} changed the database"


def _in_subprocess(root: Path, *, no_driver: bool = False):
    def run(command: list[str]) -> tuple[int, str]:
        done = _cli(root, *command, no_driver=no_driver)
        return done.returncode, done.stderr
    return run


def test_without_the_driver_each_command_says_to_install_the_postgres_extra(
        postgres, released, autograder_main, tmp_path, monkeypatch, capsys):
    root = _copy(postgres, released, tmp_path, monkeypatch, "nodriver")
    words = ['pip install -e ".[postgres]"', "psycopg", "Nothing was changed"]
    snapshot = lambda: postgres.snapshot("nodriver")  # noqa: E731
    # Once as an instructor meets it: a fresh interpreter where psycopg cannot be imported.
    _assert_refused(_in_subprocess(root, no_driver=True), root, [["grade", FIRST.name]],
                    words, snapshot=snapshot)
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails here too
        _assert_refused(_in_process(autograder_main, capsys), root, ALL, words)
    assert postgres.snapshot("nodriver") == postgres.snapshot("released")


def test_a_server_that_does_not_answer_is_named_with_host_port_and_the_fix(
        postgres, released, autograder_main, tmp_path, monkeypatch, capsys):
    root = _copy(postgres, released, tmp_path, monkeypatch, "nobodyhome")
    port = _free_port()  # nobody listens there
    monkeypatch.setenv("MINIFLOW_DB_URL", postgres.url("nobodyhome", port=port))
    run = _in_process(autograder_main, capsys)
    _assert_refused(run, root, ALL,
                    [f"no PostgreSQL server answers at 127.0.0.1:{port}", "pg_ctl start",
                     "MINIFLOW_DB_URL", "Nothing was changed"],
                    snapshot=lambda: postgres.snapshot("nobodyhome"))
    # A database that does not exist on a running server: how to create it.
    monkeypatch.setenv("MINIFLOW_DB_URL", postgres.url("nosuchdb"))
    _assert_refused(run, root, [["grade", FIRST.name]],
                    ["database 'nosuchdb' does not exist", f"createdb -h 127.0.0.1 -p "
                     f"{postgres.port} -U {USER} nosuchdb"])


def test_an_old_schema_stops_every_command_and_names_nbgrader_db_upgrade(
        postgres, released, autograder_main, tmp_path, monkeypatch, capsys):
    root = _copy(postgres, released, tmp_path, monkeypatch, "oldschema")
    postgres.execute("oldschema", "UPDATE alembic_version SET version_num = '282d30a0218e'")
    _assert_refused(_in_process(autograder_main, capsys), root, ALL,
                    ["schema version 282d30a0218e", "nbgrader db upgrade"],
                    snapshot=lambda: postgres.snapshot("oldschema"))


def test_nbgrader_db_upgrade_is_the_fix_the_old_schema_message_names(
        postgres, autograder_main, tmp_path, monkeypatch, capsys):
    """A gradebook as nbgrader 0.6 left it (no course table) is refused, then upgraded."""
    from autograder.record.database import check_gradebook

    url = postgres.create_database("upgrade")
    root = _course(tmp_path / "course", url, monkeypatch)
    monkeypatch.chdir(root)
    # A new, empty database is usable at once, even from an un-activated virtual
    # environment: nbgrader creates its tables and stamps them by running `alembic`.
    scripts = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if p != scripts))
    run = _in_process(autograder_main, capsys)
    assert run(["flags"]) == (0, "")
    # Today's schema; undo nbgrader's last migration by hand.
    postgres.execute("upgrade", "ALTER TABLE assignment DROP COLUMN course_id; "
                     "DROP TABLE course; UPDATE alembic_version SET version_num = "
                     "'282d30a0218e'")
    _assert_refused(run, root, [["grade", FIRST.name], ["flags"]],
                    ["schema version 282d30a0218e", "nbgrader db upgrade"],
                    snapshot=lambda: postgres.snapshot("upgrade"))
    run_nbgrader(["db", "upgrade"], root)  # the fix, as the message gives it
    assert check_gradebook(load_manifest(root)) == url
    assert run(["flags"]) == (0, "")


def test_a_trigger_in_the_postgresql_gradebook_is_refused_and_left_alone(
        postgres, released, autograder_main, tmp_path, monkeypatch, capsys):
    root = _copy(postgres, released, tmp_path, monkeypatch, "forged")
    postgres.execute("forged", """
        CREATE FUNCTION full_marks() RETURNS trigger AS $$
        BEGIN NEW.auto_score := NEW.max_score; RETURN NEW; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER forge BEFORE INSERT OR UPDATE ON grade
            FOR EACH ROW EXECUTE FUNCTION full_marks();
    """)
    _assert_refused(_in_process(autograder_main, capsys), root, ALL,
                    ["trigger 'forge'", "nbgrader did not create"],
                    snapshot=lambda: postgres.snapshot("forged"))


# --- a term that started on SQLite moves to PostgreSQL -----------------------------------

@pytest.fixture(scope="module")
def on_sqlite(tmp_path_factory) -> Path:
    """A course on SQLite whose gradebook holds manual scores, comments and an extension."""
    root = tmp_path_factory.mktemp("on_sqlite") / "course"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MINIFLOW_DB_URL", raising=False)
        _course(root, None, patch)
        hand_graded_gradebook(root, FIRST)
    return root


def test_a_sqlite_gradebook_moves_to_postgresql_with_every_row(
        postgres, on_sqlite, autograder_main, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MINIFLOW_DB_URL", raising=False)
    monkeypatch.chdir(on_sqlite)
    before = hashlib.sha256((on_sqlite / "gradebook.db").read_bytes()).hexdigest()
    on_sqlite_rows = sqlite_tables(on_sqlite / "gradebook.db")
    url = postgres.create_database("moved")
    run = _in_process(autograder_main, capsys)
    assert run(["gradebook", "copy", "--to", url]) == (0, "")
    assert hashlib.sha256((on_sqlite / "gradebook.db").read_bytes()).hexdigest() == before

    # Every table holds as many rows, and what only a person made is there as it was.
    with postgres.connect("moved") as connection:
        counts = {table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                  for table in on_sqlite_rows}
        manual = connection.execute("SELECT manual_score FROM grade WHERE manual_score "
                                    "IS NOT NULL").fetchall()
        comment = connection.execute("SELECT manual_comment FROM comment WHERE "
                                     "manual_comment IS NOT NULL").fetchall()
        extension = connection.execute("SELECT student_id, extension FROM "
                                       "submitted_assignment WHERE extension IS NOT NULL"
                                       ).fetchall()
    assert counts == {table: len(rows) for table, rows in on_sqlite_rows.items()}
    assert manual == [(0.75,)] and comment == [("Good: but name the shapes (ü, ✓).",)]
    assert [student for student, _ in extension] == ["bo"]

    # nbgrader reads the same grades from either; and every command runs on the copy.
    run_nbgrader(["export", "--to", str(tmp_path / "sqlite.csv")], on_sqlite)
    monkeypatch.setenv("MINIFLOW_DB_URL", url)
    run_nbgrader(["export", "--to", str(tmp_path / "postgres.csv")], on_sqlite)
    assert _csv(tmp_path / "postgres.csv") == _csv(tmp_path / "sqlite.csv")
    # The course's plugin reads PostgreSQL in a few grouped queries, and writes
    # the file nbgrader's own row-by-row plugin writes, character for character.
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    from autograder.publish.export_plugin import CourseExportPlugin

    with Gradebook(url, course_id="miniflow") as book:
        CsvExportPlugin(to=str(tmp_path / "stock.csv")).export(book)
        CourseExportPlugin(to=str(tmp_path / "ours.csv")).export_nbgrader_columns(book)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "stock.csv").read_bytes()
    assert len((tmp_path / "ours.csv").read_text().splitlines()) == 3  # header, ann, bo
    capsys.readouterr()
    assert autograder_main(["gradebook", "check"]) == 0
    said = capsys.readouterr().out
    assert f"the gradebook {url}: reachable" in said
    assert "2 student(s), 1 assignment(s), 2 submission(s)" in said
    assert run(["flags"]) == (0, "")

    # Again into the same database: refused, and the copy made before is untouched.
    monkeypatch.delenv("MINIFLOW_DB_URL")
    moved = postgres.snapshot("moved")
    code, said = run(["gradebook", "copy", "--to", url])
    assert code == 2 and "already holds a gradebook (2 student(s)" in said
    assert "dropdb NAME; createdb NAME" in said
    assert postgres.snapshot("moved") == moved


def test_a_copy_to_postgresql_that_fails_part_way_leaves_the_database_empty(
        postgres, on_sqlite, autograder_main, monkeypatch, capsys):
    from sqlalchemy.exc import OperationalError

    from autograder.record import gradebook_copy

    monkeypatch.delenv("MINIFLOW_DB_URL", raising=False)
    monkeypatch.chdir(on_sqlite)
    url = postgres.create_database("halfway")
    real = gradebook_copy.table_rows

    def failing(connection, table):
        if table.name == "comment":  # once the tables are made and most rows are in
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real(connection, table)

    monkeypatch.setattr(gradebook_copy, "table_rows", failing)
    code, said = _in_process(autograder_main, capsys)(["gradebook", "copy", "--to", url])
    assert code == 2 and "nothing was kept there" in said
    assert postgres.snapshot("halfway") == {"(triggers)": []}  # not even a table


# --- release: all or nothing ---------------------------------------------------------------

def test_a_failed_release_leaves_release_exactly_as_it_was(tmp_path, monkeypatch):
    """nbgrader's --force deletes release/<assignment> first; a failure must undo that."""
    root = _course(tmp_path / "course", None, monkeypatch)
    # A committed release with a hand fix and an extra file nbgrader would not write again.
    notebook = root / "release" / FIRST.name / FIRST.notebook_file
    notebook.write_bytes(notebook.read_bytes().replace(b"graph", b"Graph", 1))
    (root / "release" / FIRST.name / "errata.md").write_text("p. 3: read Graph\n")
    (root / "release" / FIRST.name / "errata.md").chmod(0o640)
    before = _tree(root / "release")
    course = load_manifest(root)

    def the_database_went_away(*args, **kwargs):
        raise RuntimeError("the gradebook's server went away")

    monkeypatch.setattr("autograder.record.database.register_assignments", the_database_went_away)
    with pytest.raises(RuntimeError, match="went away"):
        # nbgrader rewrote release/, then registering failed
        release(course, [FIRST], selfcheck=False)
    assert _tree(root / "release") == before

    # A course with no release/ yet gets none from a failed run (nbgrader made one).
    shutil.rmtree(root / "release")
    with pytest.raises(RuntimeError, match="went away"):
        release(course, [FIRST])
    assert not (root / "release").exists()
