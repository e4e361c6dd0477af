"""Where does the time go when one submission is graded?

Grades ``--submissions`` copies of an assignment's solution one after the
other, in this process, exactly as a grading worker does
(``autograder.pipeline.grading.grade_in_worker``: a fresh course folder, nbgrader's
``autograde``, a fresh sandboxed kernel per notebook), and times each phase.
The first submission, which also generates the assignment and starts its
kernel cold, is reported apart; the table is the mean of the others.
``--without`` turns speed-ups off, to compare: ``preload`` (the kernel
imports the usual modules as it starts), ``spare`` (the next notebook's
kernel starts while this one runs), ``figures`` (figures are built but
never drawn), ``fonts`` (each kernel is given the font list instead of
scanning the fonts), ``guard`` (the guard is asked in each cell's own
request, not in one after it) and ``history`` (no IPython history database);
``--without all`` turns off the six.

    python benchmarks/profile_grading.py [--assignment 02_layers] [--submissions 6]
                                         [--without preload spare figures fonts guard
                                          history | all]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nbclient import NotebookClient

from autograder.core.manifest import load_manifest
from autograder.execute import preprocessor as nbgrader_plugins, spare
from autograder.pipeline import grading

ROOT = Path(__file__).resolve().parents[1]
OFF = {"preload": "c.SandboxedExecute.preload = []\n",
       "spare": "c.SandboxedExecute.spare_kernel = False\n",
       "figures": "c.SandboxKernelManager.mpl_backend = ''\n",
       "fonts": "c.SandboxKernelManager.mpl_font_list = False\n",
       "guard": "c.SandboxedExecute.guard_in_request = False\n",
       "history": "c.SandboxedExecute.ipython_history = True\n"}
SPENT: dict[str, float] = collections.defaultdict(float)
PHASES = [
    ("start the kernel (launch the sandbox)", "launch"),
    ("wait until the kernel answers", "ready"),
    ("start the next notebook's spare kernel", "spare"),
    ("run the notebook's teaching and solution cells", "cells"),
    ("run the test cells", "tests"),
    ("guard checks and trusted probes", "probes"),
    ("nbgrader's own work (database, preprocessors, files)", "nbgrader"),
    ("copy the generated assignment for this submission", "copy"),
]


def _timed(owner: Any, name: str, label: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - started

    setattr(owner, name, timed)


def _instrument() -> None:
    execute = nbgrader_plugins.SandboxedExecute
    _timed(execute, "async_start_new_kernel", "launch")
    _timed(NotebookClient, "async_start_new_kernel_client", "ready")
    _timed(execute, "start_spare", "spare")
    _timed(execute, "claim_spare", "ready")
    ask = execute.ask_kernel

    async def probing(self: Any, code: str, index: int) -> str:
        self._profiling_probe = True
        started = time.perf_counter()
        try:
            return await ask(self, code, index)
        finally:
            self._profiling_probe = False
            SPENT["probes"] += time.perf_counter() - started

    execute.ask_kernel = probing
    run_cell = NotebookClient.async_execute_cell

    async def cell(self: Any, cell: Any, index: int, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await run_cell(self, cell, index, **kwargs)
        finally:
            if not getattr(self, "_profiling_probe", False):
                graded = cell.get("metadata", {}).get("nbgrader", {}).get("grade")
                SPENT["tests" if graded else "cells"] += time.perf_counter() - started

    NotebookClient.async_execute_cell = cell
    preprocess = execute.preprocess

    def whole(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return preprocess(self, *args, **kwargs)
        finally:
            SPENT["execute"] += time.perf_counter() - started

    execute.preprocess = whole
    copytree = shutil.copytree

    def copying(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return copytree(*args, **kwargs)
        finally:
            SPENT["copy"] += time.perf_counter() - started

    grading.shutil.copytree = copying  # type: ignore[attr-defined]


@contextlib.contextmanager
def _course(without: set[str]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="mfp", dir="/tmp") as folder:
        root = Path(folder) / "course"
        assignments = load_manifest(ROOT).assignments
        grading.copy_course_skeleton(ROOT, root, assignments)
        with open(root / "nbgrader_config.py", "a", encoding="utf-8") as config:
            config.write("\n" + "".join(OFF[name] for name in sorted(without)))
        yield root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="02_layers")
    parser.add_argument("--submissions", type=int, default=6)
    parser.add_argument("--without", nargs="*", default=[], choices=[*OFF, "all"])
    args = parser.parse_args()
    without = set(OFF) if "all" in args.without else set(args.without)
    if args.submissions < 2:
        parser.error("--submissions must be 2 or more (the first one is reported apart)")
    _instrument()
    assignment = load_manifest(ROOT).assignment(args.assignment)
    totals: list[float] = []
    with _course(without) as root:
        notebook = root / "source" / assignment.name / assignment.notebook_file
        task = {"root": str(root), "student": "s1", "notebook": str(notebook), "notes": [],
                "assignment": {**asdict(assignment), "notebook_file": assignment.notebook_file},
                "timestamp": None, "sandbox": "bwrap"}
        templates: dict[str, Path] = {}
        work = root.parent / "work"
        try:
            for number in range(args.submissions):
                if number == 1:
                    SPENT.clear()
                started = time.perf_counter()
                answer = grading.grade_in_worker({**task, "id": number}, work, templates)
                totals.append(time.perf_counter() - started)
                if not answer["success"]:
                    raise SystemExit("grading failed:\n" + answer["log"][-2000:])
        finally:
            spare.discard_spare()
    count = args.submissions - 1
    mean = sum(totals[1:]) / count
    spent = {k: v / count for k, v in SPENT.items()}
    inside = sum(spent.get(k, 0.0) for k in ("launch", "ready", "spare", "cells", "tests",
                                             "probes"))
    spent["nbgrader"] = mean - inside - spent.get("copy", 0.0)
    off = ", ".join(sorted(without)) or "nothing"
    print(f"{assignment.name}: {count} submissions after the first, speed-ups off: {off}; "
          f"the first (assignment generated, cold kernel) took {totals[0]:.2f} s")
    print(f"  {'phase':56} {'s':>6} {'share':>6}")
    for title, key in PHASES:
        value = spent.get(key, 0.0)
        print(f"  {title:56} {value:6.2f} {value / mean:6.0%}")
    print(f"  {'one submission, in all':56} {mean:6.2f}")


if __name__ == "__main__":
    main()
