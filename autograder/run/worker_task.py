"""What a grading worker does: ready itself once, then grade one submission at a time.

Runs in the worker processes (``autograder.run.worker_process``), never in the grader
that hands out the tasks (``autograder.pipeline.grading``): each task is graded by
nbgrader's API in a fresh copy of the assignment's generated template, and
the answer (the autograded notebook's path, the log, the kernel's fate) goes
back to the grader, which scores and records it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat

from autograder.core.manifest import Assignment
from autograder.record.nbgrader_api import grading_config, nbgrader_api, template

__all__ = ["grade_in_worker", "start_first_kernel", "warm_up"]


def warm_up(first: dict | None = None) -> None:
    """Worker side, before the first task: import and build what every submission needs.

    nbgrader and nbclient (about a second of imports), the nbgrader plugins,
    the font list every kernel is given (``autograder.sandbox.manager.font_list``),
    the first notebook's kernel (``first``: ``{"root", "assignment",
    "notebook", "sandbox"}``, see ``start_first_kernel``) and what the first
    task would do once (``_first_task_ahead``). The grader starts its workers
    before it checks the gradebook and reviews the submissions, so this
    overlaps with that work. No font list when ``first["fonts"]`` is false
    (the course turned ``mpl_font_list`` off).

    Without ``first`` (a Dask worker's pool), also the gradebook's schema
    version: such a worker generates each assignment itself. A local worker
    is given the grader's generated assignment, gradebook included, and never
    needs it (0.12 s).
    """
    import nbclient  # noqa: F401
    import nbgrader.apps  # noqa: F401

    import autograder.execute.preprocessor  # noqa: F401
    from autograder.core.nbgrader_cli import alembic_head, nbgrader_in_process
    from autograder.sandbox.launch import launched
    from autograder.sandbox.manager import font_list

    nbgrader_in_process()
    if first is None or first.get("fonts", True):
        font_list()
    if first:
        # Beside the kernel's start, most of which is waiting for the fork server's
        # imports: once its process (or the kernel's) is launched.
        ahead = threading.Thread(target=_first_task_ahead,
                                 args=(first["assignment"], launched),
                                 name="first-task-ahead", daemon=True)
        ahead.start()
        try:
            start_first_kernel(Path(first["root"]), first["assignment"], first["notebook"],
                               first["sandbox"])
        except Exception as error:  # the first notebook starts its own kernel, as usual
            print(f"no kernel started ahead: {type(error).__name__}: {error}", file=sys.stderr)
        finally:
            launched.set()  # none was, or none will be
        ahead.join()
    else:
        with contextlib.suppress(Exception):  # nbgrader's own way answers later, if it must
            alembic_head()


def _first_task_ahead(assignment: str, launched: threading.Event) -> None:
    """What the first task would do once: the judge's plan, program and library
    (importing autograder.judge.plans and numpy) and SQLAlchemy's mapping of nbgrader's tables.
    About 0.07 s, once ``launched`` is set, at a lower priority than the process
    launched (whose start is on the way to the first notebook); whatever fails
    here, the first task meets and reports itself."""
    launched.wait()
    if sys.platform.startswith("linux"):  # where a thread has a priority of its own
        with contextlib.suppress(OSError):  # behind the launched process, not beside it
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    with contextlib.suppress(Exception):
        import nbgrader.api  # noqa: F401
        from sqlalchemy.orm import configure_mappers

        from autograder import judge

        judge.warm_up(assignment)
        configure_mappers()


def start_first_kernel(root: Path, name: str, notebook: str, sandbox: str) -> None:
    """Worker side: start the first notebook's kernel now, before its task arrives.

    Every later notebook's kernel starts while the one before it runs (the
    spare kernel); the first one would start only once its task is here.
    This one is started as that notebook's own preprocessor would start its
    spare (the course's configuration, the source notebook's kernel, the
    assignment's data files) and is used only if all of that matches what
    the first notebook needs (``SandboxedExecute.claim_spare``); otherwise it
    is stopped and the notebook starts its own. It runs no student code
    until a notebook claims it.
    """
    from nbgrader.utils import setenv

    from autograder.execute.preprocessor import SandboxedExecute

    config = grading_config(root, sandbox, spare=True)  # as each submission's own
    folder = root / "source" / name
    with setenv(NBGRADER_EXECUTION="autograde"):  # as nbgrader's autograde runs kernels
        SandboxedExecute(config=config).start_spare_for(
            nbformat.read(folder / notebook, as_version=4), str(folder))


_ENGINES: dict[str, Any] = {}  # a grading worker's gradebook URL -> its engine


@contextlib.contextmanager
def _shared_engines() -> Iterator[None]:
    """Meanwhile every nbgrader Gradebook on one file shares one SQLAlchemy engine.

    nbgrader opens a ``Gradebook``, so a new engine, about ten times per
    submission it autogrades, and an engine starts with no compiled SQL:
    each query was compiled again every time. An engine is meant to be
    shared; ``Gradebook.close`` still closes its connections (``dispose``).
    Only a grading worker's ``autograde`` runs this way.
    """
    import nbgrader.api
    from sqlalchemy import create_engine

    def shared(url: Any, **options: Any) -> Any:
        key = json.dumps([str(url), options], sort_keys=True, default=repr)
        if key not in _ENGINES:
            _ENGINES[key] = create_engine(url, **options)
        return _ENGINES[key]

    nbgrader.api.create_engine = shared
    try:
        yield
    finally:
        nbgrader.api.create_engine = create_engine


def grade_in_worker(task: dict, base: Path, templates: dict[str, Path]) -> dict:
    """Worker side: autograde one submission in a fresh course folder; return the notebook.

    The folder is a fresh copy of the assignment's template but for its
    gradebook: a worker's submissions of one assignment share one, copied
    from the template's (nbgrader keeps a row per student; nothing of it
    leaves the worker, whose answer is the executed notebook), so that the
    worker's engine for it (``_shared_engines``) keeps its compiled SQL.
    """
    fields = {k: v for k, v in task["assignment"].items() if k != "notebook_file"}
    assignment = Assignment(**{**fields, "objectives": tuple(fields["objectives"])})
    with warnings.catch_warnings():
        # nbgrader's own warnings (SQLAlchemy's autoflush notes, say) are not the
        # student's business and must never turn into errors here.
        warnings.simplefilter("ignore")
        # A Dask worker grades several course versions over time: it names each one.
        key = task.get("template_key") or assignment.name
        if task.get("template"):  # generated once for the whole run, by the grader
            templates[key] = Path(task["template"])
        if key not in templates:
            suffix = f"-{key[:16]}" if task.get("template_key") else ""
            templates[key] = template(
                Path(task["root"]), assignment, base / f"template-{assignment.name}{suffix}",
                task["sandbox"])
        gradebook = base / f"gradebook-{hashlib.sha256(key.encode()).hexdigest()[:16]}.db"
        if not gradebook.is_file():
            shutil.copyfile(templates[key] / "gradebook.db", gradebook)
        work = base / f"s{task['id']}"
        shutil.copytree(templates[key], work, ignore=shutil.ignore_patterns("gradebook.db"))
        try:
            student = task["student"]
            target = work / "submitted" / student / assignment.name
            target.mkdir(parents=True)
            shutil.copyfile(task["notebook"], target / assignment.notebook_file)
            if task.get("timestamp"):
                shutil.copyfile(task["timestamp"], target / "timestamp.txt")
            api = nbgrader_api(work, task["sandbox"], spare=True, gradebook=gradebook,
                                course_root=Path(task["root"]))
            with _shared_engines():
                outcome = api.autograde(assignment.name, student, force=True, create=True)
            executed = work / "autograded" / student / assignment.name / assignment.notebook_file
            return {"success": bool(outcome["success"]),
                    "log": (outcome.get("log", "") + outcome.get("error", ""))[-20000:],
                    "executed": executed.read_text(encoding="utf-8")
                    if executed.is_file() else None}
        finally:
            shutil.rmtree(work, ignore_errors=True)
