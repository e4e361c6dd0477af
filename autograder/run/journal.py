"""An interrupted grading run is not lost: its answers are kept, and reused.

A run records its grades at the end, in one transaction: a run that stops
half way (Ctrl-C, a crash, the machine going down) writes nothing, which
keeps the gradebook whole, but hours of a large class's grading went with
it. So ``python -m autograder grade`` keeps each answer (the executed
notebook and nbgrader's log, as a worker returned it) as it arrives, a row
each (its key, assignment and student, then the answer as JSON text) of
the table ``answers`` of an SQLite database,
``autograded/interrupted-run.sqlite``. The next ``grade`` reuses an answer
instead of running the notebook again when everything it was made from is
the same:

* the student, the assignment and the submitted notebook's bytes, and its
  ``timestamp.txt``;
* the course files a worker grades with (``nbgrader_config.py``, the
  manifest, the header, ``source/<assignment>/``: ``versions.course_files``);
* the code (miniflow's, the autograder's and nbgrader's versions and a
  hash of the autograder and miniflow source: ``versions.course_version``),
  the sandbox mode and every ``MINIFLOW_*`` setting of the environment.

The grader scores a reused answer exactly as a new one (its review, the
trusted verdict, the late penalty), so the grades are those of the
uninterrupted run. A run that ends well removes its submissions' rows, and
the file (with its ``-wal`` and ``-shm``) once it holds none. Delete the
file to grade everything again. Only the grader writes it, in the course
folder, which no kernel can reach.

Why SQLite (the standard library's ``sqlite3``), and not a file of lines:

* Atomic commits. Each answer is one transaction, committed before the
  next is asked for, in write-ahead-log mode (``-wal`` beside the file)
  with ``synchronous=FULL``: a process killed the instant after (SIGKILL,
  Ctrl-C, the machine going down) keeps it, and one killed while writing
  leaves the file as it was before that answer, never half a row. The
  next connection finishes or drops what the log holds by itself: there
  is no cut line to find and trim.
* No byte offsets. An answer is found by its key (the table's primary
  key), read only when it is reused: a large class's answers are
  gigabytes, and only the keys are read when a run starts. Removing a
  run's rows is a ``DELETE``, not the file copied line by line.
* Concurrent readers. ``kept_count`` (how many answers are kept: what
  ``grade`` says after Ctrl-C) or an instructor's ``sqlite3`` shell may
  read the file while a run writes it; the write-ahead log lets them see
  the last committed answer without blocking the grader.

A journal file that cannot be read or written (damaged, not a database,
a disk full, a network file system without the locks or shared memory
SQLite needs) never stops ``grade``: it says so once, naming the file and
the fix (delete it), and grades without it, reusing and keeping nothing;
the file is left as it was. Forked workers inherit the
connection but never use or close it (they close every descriptor and
leave with ``os._exit``: ``autograder.run.worker_process``).

The previous autograder kept its answers as tab-separated lines in
``autograded/interrupted-run.tsv``. That file is not migrated but ignored,
with a note saying it is no longer used and can be deleted: an answer is
reused only when the code that made it is the same, and the code's hash
covers every file of the autograder, this one included, so none of the old
file's answers could ever be reused; copying them would only keep dead
rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import sys
from pathlib import Path

__all__ = ["JOURNAL", "OLD_JOURNAL", "Journal", "kept_count"]

JOURNAL = Path("autograded") / "interrupted-run.sqlite"
# Where the previous autograder kept its lines: ignored, with a note (see above).
OLD_JOURNAL = Path("autograded") / "interrupted-run.tsv"

_TABLE = ("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY NOT NULL, "
          "assignment TEXT NOT NULL, student TEXT NOT NULL, answer TEXT NOT NULL)")


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (each statement its own transaction)."""
    mode = "rwc" if create else "rw"  # never make a file only to read it
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True,
                           isolation_level=None, timeout=30)


def _companions(path: Path) -> list[Path]:
    """The write-ahead log and its index, beside ``path``."""
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


class Journal:
    """The answers of the runs that did not finish, and this run's as they arrive."""

    def __init__(self, path: Path, root: Path, sandbox: str) -> None:
        self.path = path
        self.root = root
        self.sandbox = sandbox
        self.reused = 0
        self.broken = False  # the file cannot be used: nothing is reused or kept
        self._courses: dict[str, str] = {}
        # The keys of the answers of runs that did not finish (their answers are
        # read only when reused: a large class's are gigabytes).
        self._kept: set[str] = set()
        self._db: sqlite3.Connection | None = None
        old = path.with_name(OLD_JOURNAL.name)
        if old.is_file():
            print(f"note: {old} was written by an earlier version of the autograder and is "
                  f"no longer used (interrupted runs are now kept in {path.name}); none of "
                  "its answers could be reused by this version, so you can delete it",
                  file=sys.stderr)
        if path.is_file():
            try:
                db = self._open(create=False)
                self._kept = {key for (key,) in db.execute("SELECT key FROM answers")}
            except sqlite3.Error as error:
                self._unusable(error)

    def _open(self, *, create: bool) -> sqlite3.Connection:
        db = _connect(self.path, create=create)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # stays as it was where WAL cannot be
            db.execute("PRAGMA synchronous=FULL")
            db.execute(_TABLE)
        except BaseException:
            db.close()
            raise
        self._db = db
        return db

    def _unusable(self, error: sqlite3.Error) -> None:
        """Say that the file cannot be used, and go on without it."""
        self.close()
        self._kept = set()
        if self.broken:
            return
        self.broken = True
        print(f"\nautograder grade: the journal of interrupted runs, {self.path}, cannot be "
              f"used ({type(error).__name__}: {error}). Grading goes on without it: no "
              "answer is reused from it and none of this run's is kept. To fix it, delete "
              f"the file (and {self.path.name}-wal and {self.path.name}-shm beside it, if "
              "any): the next grade then runs every notebook again and keeps its answers "
              "in a new one.", file=sys.stderr)

    def _course(self, assignment: dict) -> str:
        """What every task of ``assignment`` in this course and run shares, hashed."""
        name = assignment["name"]
        if name not in self._courses:
            from autograder.core.versions import course_files, course_version, files_hash

            settings = {k: v for k, v in sorted(os.environ.items()) if k.startswith("MINIFLOW_")}
            made_of = {"files": files_hash(course_files(self.root, name,
                                                         assignment["notebook_file"])),
                       "code": course_version(), "sandbox": self.sandbox,
                       "settings": settings, "python": sys.version.split()[0]}
            self._courses[name] = hashlib.sha256(
                json.dumps(made_of, sort_keys=True).encode()).hexdigest()
        return self._courses[name]

    def key(self, task: dict) -> str:
        """The hash of everything ``task``'s answer is made from."""
        digest = hashlib.sha256()
        for part in (self._course(task["assignment"]), task["student"],
                     task["assignment"]["name"]):
            digest.update(part.encode() + b"\0")
        digest.update(hashlib.sha256(Path(task["notebook"]).read_bytes()).digest())
        stamp = task.get("timestamp")
        digest.update(Path(stamp).read_bytes() if stamp else b"\0no timestamp")
        return digest.hexdigest()

    def kept_answer(self, task: dict) -> dict | None:
        """The answer an unfinished run got for this very task, if any."""
        if not self._kept:
            return None
        key = self.key(task)
        if key not in self._kept or self._db is None:
            return None
        try:
            row = self._db.execute("SELECT answer FROM answers WHERE key = ?",
                                   (key,)).fetchone()
        except sqlite3.Error as error:
            self._unusable(error)
            return None
        try:
            answer = json.loads(row[0]) if row is not None else None
        except (TypeError, json.JSONDecodeError):
            return None
        if not isinstance(answer, dict):
            return None
        self.reused += 1
        return answer

    def add(self, task: dict, answer: dict) -> None:
        """Keep ``answer`` at once (committed: a crash right after it loses nothing)."""
        if self.broken:
            return
        kept = json.dumps({k: v for k, v in answer.items() if k != "id"})
        try:
            db = self._db
            if db is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = self._open(create=True)
            db.execute("INSERT OR REPLACE INTO answers (key, assignment, student, answer)"
                       " VALUES (?, ?, ?, ?)",
                       (self.key(task), task["assignment"]["name"], task["student"], kept))
        except sqlite3.Error as error:
            self._unusable(error)

    def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            with contextlib.suppress(sqlite3.Error):
                db.close()  # the last connection: the log goes back into the file

    def finish(self, graded: set[tuple[str, str]]) -> None:
        """The run ended well: forget the rows of its (assignment, student) pairs."""
        self.close()
        if self.broken or not self.path.is_file():
            return
        try:
            db = self._open(create=False)
            db.execute("BEGIN IMMEDIATE")
            db.executemany("DELETE FROM answers WHERE assignment = ? AND student = ?",
                           sorted(graded))
            db.execute("COMMIT")
            (left,) = db.execute("SELECT count(*) FROM answers").fetchone()
        except sqlite3.Error as error:
            self._unusable(error)
            return
        self.close()
        if not left:
            # The log first: a database file without its log is whole (the
            # last close wrote the log back into it), a log without its file
            # would be stale.
            for companion in _companions(self.path):
                companion.unlink(missing_ok=True)
            self.path.unlink(missing_ok=True)


def kept_count(path: Path) -> int:
    """How many answers the file at ``path`` keeps (0 if there is none, or it is unreadable)."""
    if not path.is_file():
        return 0
    try:
        with contextlib.closing(_connect(path, create=False)) as db:
            (count,) = db.execute("SELECT count(*) FROM answers").fetchone()
    except sqlite3.Error:
        return 0
    return int(count)
