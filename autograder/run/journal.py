"""An interrupted grading run is not lost: its answers are kept, and reused.

A run records its grades at the end, in one transaction: a run that stops
half way (Ctrl-C, a crash, the machine going down) writes nothing, which
keeps the gradebook whole, but hours of a large class's grading went with
it. So ``python -m autograder grade`` keeps each answer (the executed
notebook and nbgrader's log, as a worker returned it) as it arrives, a line
each (its key, assignment and student, tab-separated, then the answer as
JSON), in ``autograded/interrupted-run.tsv``. The next ``grade``
reuses an answer instead of running the notebook again when everything it
was made from is the same:

* the student, the assignment and the submitted notebook's bytes, and its
  ``timestamp.txt``;
* the course files a worker grades with (``nbgrader_config.py``, the
  manifest, the header, ``source/<assignment>/``: ``versions.course_files``);
* the code (miniflow's, the autograder's and nbgrader's versions and a
  hash of the autograder and miniflow source: ``versions.course_version``),
  the sandbox mode and every ``MINIFLOW_*`` setting of the environment.

The grader scores a reused answer exactly as a new one (its review, the
trusted verdict, the late penalty), so the grades are those of the
uninterrupted run. A run that ends well removes its submissions' lines, and
the file once it holds none. Delete the file to grade everything again.
Only the grader writes it, in the course folder, which no kernel can reach.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["JOURNAL", "Journal", "kept_count"]

JOURNAL = Path("autograded") / "interrupted-run.tsv"


class Journal:
    """The answers of the runs that did not finish, and this run's as they arrive."""

    def __init__(self, path: Path, root: Path, sandbox: str) -> None:
        self.path = path
        self.root = root
        self.sandbox = sandbox
        self.reused = 0
        self._courses: dict[str, str] = {}
        # key -> where its line starts, in the answers of runs that did not finish
        # (answers are read only when reused: a large class's are gigabytes).
        self._kept: dict[str, int] = {}
        self._handle: Any = None
        if path.is_file():
            with open(path, "rb") as lines:
                offset = 0
                for line in lines:
                    key = line.split(b"\t", 1)[0]
                    if len(key) == 64:
                        self._kept[key.decode("ascii", "replace")] = offset
                    offset += len(line)

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
        offset = self._kept.get(self.key(task))
        if offset is None:
            return None
        with open(self.path, "rb") as lines:
            lines.seek(offset)
            parts = lines.readline().decode("utf-8", "replace").split("\t", 3)
        try:
            answer = json.loads(parts[3])
        except (IndexError, json.JSONDecodeError):
            return None  # a line cut short when the run stopped
        if not isinstance(answer, dict):
            return None
        self.reused += 1
        return answer

    def add(self, task: dict, answer: dict) -> None:
        """Keep ``answer`` at once (flushed: a crash right after it loses nothing)."""
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_file():
                _drop_cut_line(self.path)
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        kept = json.dumps({k: v for k, v in answer.items() if k != "id"})
        self._handle.write(f"{self.key(task)}\t{task['assignment']['name']}\t"
                           f"{task['student']}\t{kept}\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def finish(self, graded: set[tuple[str, str]]) -> None:
        """The run ended well: forget the lines of its (assignment, student) pairs."""
        self.close()
        if not self.path.is_file():
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        left = 0
        with open(self.path, "rb") as lines, open(temporary, "wb") as rest:
            for line in lines:
                parts = line.split(b"\t", 3)
                if len(parts) == 4 and line.endswith(b"\n") and \
                        (parts[1].decode(errors="replace"),
                         parts[2].decode(errors="replace")) not in graded:
                    rest.write(line)
                    left += 1
        if left:
            temporary.replace(self.path)
        else:
            temporary.unlink()
            self.path.unlink()


def _drop_cut_line(path: Path) -> None:
    """Cut the file after its last whole line: a run stopped while writing one."""
    with open(path, "r+b") as kept:
        end = kept.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            start = max(0, position - 65536)
            kept.seek(start)
            found = kept.read(position - start).rfind(b"\n")
            if found >= 0:
                whole = start + found + 1
                break
            position = start
        else:
            whole = 0
        if whole < end:
            kept.truncate(whole)


def kept_count(path: Path) -> int:
    """How many whole answers the file at ``path`` keeps (0 if there is none)."""
    if not path.is_file():
        return 0
    with open(path, "rb") as lines:
        return sum(1 for line in lines if line.endswith(b"\n") and line.count(b"\t") >= 3)
