"""Record the golden term: a small class taken through the instructor's commands.

The second half of issue 30's golden class. ``record.py`` keeps what
``grade`` makes of every notebook the self-check tries; this file keeps what
a term looks like from the outside, after the commands an instructor types
(``python -m autograder release``, ``roster import``, ``collect``, ``grade``,
``flags``, ``feedback``, ``export`` and ``report``) have run on a small class
of the first assignment:

* ``ada``: the solution, on time (full marks);
* ``ben``: a wrong ``Mul.forward`` (a mutant written here: loses points);
* ``cal``: the blank release notebook (zero);
* ``dee``: a notebook cut short as it was uploaded (rejected: not valid JSON);
* ``eli``: the solution, a day and two hours late (the late policy added to
  the manifest below takes points off);
* ``fox``: a solution cell ends with ``os._exit(1)`` (the kernel dies; the
  rest is graded in a fresh kernel);
* ``gil``: a cell that makes every numpy comparison pass (flagged by the
  tamper guard; the judge still scores the real code);
* ``hux``: a cell that kills the process grading it (grading crashes:
  status ``error``);
* ``ivy``: on the roster, submitted nothing.

What is kept (``run_term``): each result's status, score, flags, notes, late
record and cells (as ``record.py`` keeps them), the printed output of the
commands, ``grades.csv``, the visible text of each feedback page and of the
class report. Only the commands and the files they write are used: nothing
here imports the grader, so the same test runs before and after its modules
move. Nothing in it may depend on the machine, the time of day or
floating-point rounding, so: decimal numbers in text become ``<n>``
(``record.masked``), the course folder's path becomes ``<course>``, figures
are left out (their PNG bytes depend on matplotlib and its fonts), the
grade command's timing line is not kept, and every submission time is a
fixed ``timestamp.txt``. Kernels run with ``--sandbox none``, the same on
every machine (the report's warning about it is part of the record).

    python tests/golden/record_term.py            # write tests/golden/term.json
    python tests/golden/record_term.py OUT.json   # write elsewhere (to compare two commits)

``tests/test_golden_term.py`` runs the same term and compares it with
``term.json``. Record it again only when a change is meant to change what
students or the instructor see, and say so in the commit.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

# record.py, beside this file: the golden class's judge secret and its masking.
from record import SECRET, masked

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLDEN = HERE / "term.json"

#: The most lines of one text's diff shown in a failure.
DIFF_LINES = 40

ASSIGNMENT = "01_graphs"
NOTEBOOK = "graphs.ipynb"

#: Added to the course's manifest: two points off per started day late, at most five.
LATE_RULES = """
[late]
policy = "per_day"
per_day = 2
unit = "points"
max_penalty = 5
"""

#: The class list given to ``roster import`` (``ivy`` submits nothing).
ROSTER = """id,first_name,last_name,email,section
ada,Ada,Abel,ada@example.edu,A
ben,Ben,Birch,ben@example.edu,A
cal,Cal,Cole,cal@example.edu,B
dee,Dee,Dunn,dee@example.edu,B
eli,Eli,Egan,eli@example.edu,A
fox,Fox,Ford,fox@example.edu,B
gil,Gil,Gray,gil@example.edu,A
hux,Hux,Hale,hux@example.edu,B
ivy,Ivy,Irwin,ivy@example.edu,A
"""

#: Each student's submission time (UTC): the assignment is due 2027-01-18 23:59:00.
SUBMITTED = {
    "ada": "2027-01-17 10:00:00.000000 UTC",
    "ben": "2027-01-18 12:30:00.000000 UTC",
    "cal": "2027-01-18 23:00:00.000000 UTC",
    "dee": "2027-01-18 23:58:00.000000 UTC",
    "eli": "2027-01-20 01:59:00.000000 UTC",
    "fox": "2027-01-16 09:15:00.000000 UTC",
    "gil": "2027-01-18 20:00:00.000000 UTC",
    "hux": "2027-01-18 21:00:00.000000 UTC",
}

#: dee's file: the start of a notebook, cut off (always this text, so the rejection's
#: reason does not move when the course's notebook is edited).
CUT_SHORT = '{\n "cells": [\n  {\n   "cell_type": "markdown",\n   "source": "# Assign'

#: ben's mistake: the product of the first two inputs only.
WRONG_FORWARD = """        product = self.inbound_nodes[0].value * self.inbound_nodes[1].value
        self.value = product
"""

#: gil's extra cell, after the setup cell.
EVERY_COMPARISON_PASSES = """np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
"""

#: hux's extra cell: the kernel kills the process that grades it (possible without a sandbox).
KILLS_THE_GRADER = """import os, signal
os.kill(os.getppid(), signal.SIGKILL)
"""


# -- the class ------------------------------------------------------------------------------


def _cell(notebook: dict, grade_id: str) -> dict:
    return next(c for c in notebook["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _code_cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source}


def _between_solution_markers(source: str, replacement: str, which: int = 0) -> str:
    """``source`` with the ``which``-th solution region's body replaced."""
    parts = source.split("### BEGIN SOLUTION\n")
    head, tail = parts[which + 1].split("### END SOLUTION", 1)
    indent = head[:len(head) - len(head.lstrip(" "))]
    parts[which + 1] = replacement + indent + "### END SOLUTION" + tail
    return "### BEGIN SOLUTION\n".join(parts)


def submissions(course: Path) -> dict[str, str]:
    """Each student's notebook file, as text."""
    solution = json.loads((course / "source" / ASSIGNMENT / NOTEBOOK).read_text("utf-8"))
    blank = (course / "release" / ASSIGNMENT / NOTEBOOK).read_text("utf-8")

    def changed(edit) -> str:
        notebook = json.loads(json.dumps(solution))
        edit(notebook)
        return json.dumps(notebook, indent=1) + "\n"

    def wrong_forward(notebook: dict) -> None:
        mul = _cell(notebook, "mul")
        mul["source"] = _between_solution_markers("".join(mul["source"]), WRONG_FORWARD)

    def dies_in_a_solution_cell(notebook: dict) -> None:
        cell = _cell(notebook, "chain_rule")
        cell["source"] = "".join(cell["source"]) + "\n\nimport os\nos._exit(1)\n"

    def extra_cell(source: str):
        def edit(notebook: dict) -> None:
            setup = notebook["cells"].index(_cell(notebook, "setup"))
            notebook["cells"].insert(setup + 1, _code_cell(source))
        return edit

    text = json.dumps(solution, indent=1) + "\n"
    return {
        "ada": text,
        "ben": changed(wrong_forward),
        "cal": blank,
        "dee": CUT_SHORT,
        "eli": text,
        "fox": changed(dies_in_a_solution_cell),
        "gil": changed(extra_cell(EVERY_COMPARISON_PASSES)),
        "hux": changed(extra_cell(KILLS_THE_GRADER)),
    }


# -- running the commands -----------------------------------------------------------------


def _environment() -> dict[str, str]:
    """This process's environment, with what the term's output depends on fixed: the
    golden secret, the course's own SQLite gradebook (never a database named in
    ``MINIFLOW_DB_URL``), a cell time limit and the static review's default budget."""
    env = dict(os.environ, MINIFLOW_JUDGE_SECRET=SECRET, MINIFLOW_CELL_TIMEOUT="60")
    for name in ("MINIFLOW_DB_URL", "MINIFLOW_REVIEW_SECONDS"):
        env.pop(name, None)
    return env


def command(course: Path, *args: str) -> str:
    """``python -m autograder ARGS`` in ``course``; its standard output (it must succeed)."""
    run = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=course,
                         env=_environment(), capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        raise RuntimeError(f"python -m autograder {' '.join(args)} exited {run.returncode}:\n"
                           f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return run.stdout


def make_course(folder: Path) -> Path:
    """A new course folder with the first assignment and the late rules; returns its root."""
    course = folder / "course"
    (course / "course").mkdir(parents=True)
    shutil.copy2(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copy2(ROOT / "course" / "header.ipynb", course / "course" / "header.ipynb")
    manifest = (ROOT / "course" / "manifest.toml").read_text(encoding="utf-8")
    (course / "course" / "manifest.toml").write_text(manifest + LATE_RULES, encoding="utf-8")
    shutil.copytree(ROOT / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    return course


def run_term(folder: Path) -> dict:
    """Take the class through the commands in ``folder``; what the golden term keeps."""
    course = make_course(folder)
    said = {"release": command(course, "release", ASSIGNMENT, "--skip-selfcheck")}
    (folder / "class.csv").write_text(ROSTER, encoding="utf-8")
    said["roster import"] = command(course, "roster", "import", str(folder / "class.csv"))
    inbox = folder / "inbox"
    for student, text in submissions(course).items():
        (inbox / student).mkdir(parents=True)
        (inbox / student / NOTEBOOK).write_text(text, encoding="utf-8")
        (inbox / student / "timestamp.txt").write_text(SUBMITTED[student], encoding="utf-8")
    said["collect"] = command(course, "collect", str(inbox), "--folder-timestamps")
    said["grade"] = command(course, "grade", "--sandbox", "none", "--workers", "2")
    said["flags"] = command(course, "flags")
    said["feedback"] = command(course, "feedback")
    said["export"] = command(course, "export", "--to", "grades.csv")
    said["report"] = command(course, "report")
    return {
        "commands": {name: _lines(text, course, folder) for name, text in said.items()},
        "results": results(course),
        "grades.csv": _csv(course / "grades.csv"),
        "feedback": {str(page.relative_to(course / "feedback")): _lines(
            visible_text(page.read_text(encoding="utf-8")), course, folder)
            for page in sorted((course / "feedback").rglob("*.html"))},
        "report": _lines(visible_text(
            (course / "reports" / "class-report.html").read_text(encoding="utf-8")),
            course, folder),
    }


# -- what is kept ---------------------------------------------------------------------------


def _lines(text: str, course: Path, folder: Path) -> list[str]:
    """``text`` as lines, with the folders of this run named and decimals masked."""
    text = text.replace(str(course), "<course>").replace(str(folder), "<folder>")
    return [masked(line.rstrip()) for line in text.splitlines() if line.strip()]


def results(course: Path) -> dict[str, dict]:
    """Every result of ``autograded/results.json`` (the grader's record, read as a file, so
    that nothing here imports a module of the grader that may move), kept as
    ``record.projection`` keeps a result, plus its late record and kernel deaths."""
    records = json.loads((course / "autograded" / "results.json").read_text(encoding="utf-8"))
    kept = {}
    for r in sorted(records, key=lambda r: (r["assignment"], r["student"])):
        late = r.get("late") or {}
        kept[f"{r['assignment']}/{r['student']}"] = {
            "status": r["status"],
            "score": r.get("score"),
            "max_score": r.get("max_score"),
            "flags": [masked(flag) for flag in r.get("flags", [])],
            "notes": [masked(note) for note in r.get("notes", [])],
            "reasons": list(r.get("reasons", [])),
            "late": {key: late[key] for key in sorted(late)},
            "kernel_deaths": [masked(json.dumps(death, sort_keys=True))
                              for death in r.get("kernel_deaths", [])],
            "cells": {c["grade_id"]: [c["score"], c["max_score"], masked(c.get("message", "")),
                                      c.get("mistake", "")]
                      for c in r.get("cells", [])},
        }
    return kept


def _csv(path: Path) -> list[str]:
    """grades.csv, one line per row, with the flags column masked."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("flags") if rows and "flags" in rows[0] else None
    lines = []
    for row in rows:
        if column is not None:
            row[column] = masked(row[column])
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(row)
        lines.append(out.getvalue())
    return lines


class _Text(HTMLParser):
    """The text a browser shows: a line per block, a table row as ``cell | cell``,
    a figure as ``[figure: its alt text]`` (never its bytes), no style or title.

    As in a browser, a run of spaces and line breaks outside ``<pre>`` is one
    space, so the indentation of the page's HTML (a template's, say) is not text.
    """

    BLOCKS = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "pre", "table", "ul", "ol",
              "dl", "dt", "dd", "summary", "details", "br"}
    UNSEEN = {"style", "script", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.unseen = 0
        self.first_cell = True
        self.in_row = self.in_cell = False
        self.pre = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.UNSEEN:
            self.unseen += 1
        elif tag == "img":
            self.parts.append(f"[figure: {dict(attrs).get('alt') or ''}]")
        elif tag == "tr":
            self.first_cell, self.in_row = True, True
        elif tag in ("td", "th"):
            if not self.first_cell:
                self.parts[-1] = self.parts[-1].rstrip(" ")
                self.parts.append(" | ")
            self.first_cell, self.in_cell = False, True
        elif tag == "pre":
            self.pre += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.UNSEEN:
            self.unseen -= 1
        elif tag == "tr":
            self.in_row = False
        elif tag in ("td", "th"):
            self.in_cell = False
        elif tag == "pre":
            self.pre -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        # Between the cells of a row there is only the page's own indentation.
        if self.unseen or (self.in_row and not self.in_cell):
            return
        if not self.pre:
            text = " ".join(data.split())
            if data[:1].isspace():
                text = " " + text
            if data[-1:].isspace() and text != " ":
                text += " "
            if not self.parts or self.parts[-1].endswith(("\n", " ")):
                text = text.lstrip()  # a line's start, or a space just written
            data = text
        self.parts.append(data)


def visible_text(page: str) -> str:
    """What a reader sees of ``page``: its text, without markup, style or images' bytes."""
    parser = _Text()
    parser.feed(page)
    parser.close()
    return "".join(parser.parts)


def differences(golden: object, now: object, where: str = "") -> list[str]:
    """Where ``now`` differs from ``golden``, one entry per place: a key missing or new, a
    value that changed (was, now), or a text (a list of lines) as a unified diff."""
    if isinstance(golden, dict) and isinstance(now, dict):
        inside = f"{where} > " if where else ""
        found = [f"{inside}{key}: missing now" for key in sorted(set(golden) - set(now))]
        found += [f"{inside}{key}: new" for key in sorted(set(now) - set(golden))]
        for key in sorted(set(golden) & set(now)):
            found += differences(golden[key], now[key], f"{inside}{key}")
        return found
    if golden == now:
        return []
    lines = (isinstance(golden, list) and isinstance(now, list)
             and all(isinstance(line, str) for line in golden + now))
    if lines and len(golden) + len(now) > 2:
        diff = list(difflib.unified_diff(golden, now, "golden", "now", n=1, lineterm=""))
        shown = diff[:DIFF_LINES] + ([f"... and {len(diff) - DIFF_LINES} more diff lines"]
                                     if len(diff) > DIFF_LINES else [])
        return [f"{where}:\n  " + "\n  ".join(shown)]
    return [f"{where}: was {golden!r}, now {now!r}"]


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else GOLDEN
    with tempfile.TemporaryDirectory(prefix="golden-term-") as folder:
        term = run_term(Path(folder))
    target.write_text(json.dumps(term, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"the golden term ({len(term['results'])} results, {len(term['feedback'])} feedback "
          f"pages) written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
