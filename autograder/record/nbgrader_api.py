"""Running nbgrader in this process: its API on a course folder or a copy of one.

What the grader, the gradebook and the self-check share: the files a copy
needs (``copy_course_skeleton``), the course's configuration with this run's
sandbox (``grading_config``), nbgrader's API on it (``nbgrader_api``), and
``nbgrader generate_assignment`` without nbgrader's start-up
(``generate_in_process``).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from autograder.core.course_config import nbgrader_config
from autograder.core.interrupts import interrupted
from autograder.core.manifest import Assignment

__all__ = ["copy_course_skeleton", "generate_in_process", "grading_config", "nbgrader_api",
           "nbgrader_said", "template"]


def copy_course_skeleton(root: Path, destination: Path,
                         assignments: Iterable[Assignment]) -> None:
    """The files nbgrader needs to grade: configuration, header, sources."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "nbgrader_config.py", destination / "nbgrader_config.py")
    (destination / "course").mkdir(exist_ok=True)
    for name in ("manifest.toml", "header.ipynb"):
        shutil.copy2(root / "course" / name, destination / "course" / name)
    for assignment in assignments:
        shutil.copytree(root / "source" / assignment.name,
                        destination / "source" / assignment.name, dirs_exist_ok=True)


def grading_config(folder: Path, sandbox: str | None = None, *, spare: bool = False) -> Any:
    """``folder``'s nbgrader_config.py, with this run's sandbox mode.

    ``spare``: this process grades one notebook after another (a grading
    worker), so each kernel's successor may start while it runs, forked from
    a fork server that imported what kernels import once for the process.
    """
    config = nbgrader_config(folder)
    if sandbox is not None:
        config.SandboxKernelManager.mode = sandbox
    if spare and "spare_kernel" not in config.SandboxedExecute:  # the course may say no
        config.SandboxedExecute.spare_kernel = True
    if spare and "fork_server" not in config.SandboxKernelManager:
        config.SandboxKernelManager.fork_server = True
    return config


def nbgrader_api(workdir: Path, sandbox: str | None = None, *, spare: bool = False,
                  gradebook: Path | str | None = None, course_root: Path | None = None):
    """nbgrader's Python API on ``workdir`` (``grading_config`` applies).

    Its gradebook is ``workdir/gradebook.db`` unless ``gradebook`` is given
    (a SQLite file, or a database URL).
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder.core.nbgrader_cli import nbgrader_in_process

    nbgrader_in_process()  # a new gradebook per template: alembic, PATH
    config = grading_config(workdir, sandbox, spare=spare)
    config.CourseDirectory.root = str(workdir)
    if course_root is not None:  # the judge's secret is the course's, not the copy's
        from autograder.judge import SECRET_FILE

        config.SandboxedExecute.judge_secret_file = str(Path(course_root) / SECRET_FILE)
        # A copy grading one of the course's submissions: `grade` checked it already.
        config.CourseHeldExporter.check_submissions = False
    config.CourseDirectory.db_url = gradebook if isinstance(gradebook, str) \
        else f"sqlite:///{gradebook or workdir / 'gradebook.db'}"
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def template(root: Path, assignment: Assignment, folder: Path, sandbox: str) -> Path:
    """A course folder with the assignment generated: copied fresh for each submission."""
    copy_course_skeleton(root, folder, [assignment])
    generate_in_process(folder, assignment.name, sandbox=sandbox)
    return folder


def generate_in_process(folder: Path, name: str, *, sandbox: str | None = None,
                        gradebook: str | None = None) -> None:
    """``nbgrader generate_assignment NAME`` on the course copy ``folder``, in this process
    (no nbgrader start-up: about 3 s less than the command), into its own gradebook
    or into ``gradebook`` (a database URL). Raises RuntimeError with nbgrader's words."""
    generated = nbgrader_api(folder, sandbox, gradebook=gradebook).generate_assignment(
        name, force=True, create=True)
    if not generated["success"]:
        # nbgrader's API catches everything, Ctrl-C too ("Canceled"): stop as told.
        if interrupted() or (generated.get("error") or "").rstrip().endswith(
                "KeyboardInterrupt"):
            raise KeyboardInterrupt
        raise RuntimeError(f"nbgrader could not generate the assignment {name}: "
                           + nbgrader_said(generated, folder))


def nbgrader_said(result: dict, folder: Path) -> str:
    """What a failed nbgrader API call said: its first error and the errors under it."""
    lines = [line.strip() for line in (result.get("log") or "").splitlines()]
    first = next((line.removeprefix("[ERROR] ") for line in lines
                  if line.startswith("[ERROR]") and "Traceback" not in line), "")
    causes = [line for line in lines
              if re.match(r"[\w.]+(Error|Exception): ", line) and "Please see the" not in line]
    said = "; ".join(dict.fromkeys(filter(None, [first, *causes])))
    said = said.replace(f"{folder}/", "").replace("/./", "/")  # a temporary copy's paths
    return said or (result.get("error") or "no reason given")[-400:]
