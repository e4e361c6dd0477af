"""Run nbgrader's own commands the way the course needs them.

nbgrader stays the engine; this is the one place that starts it, so every
caller gets the same environment: the Python running us, with its scripts
folder first on PATH (nbgrader shells out to ``alembic`` to set up the
gradebook, and inside an un-activated virtual environment that script is
not on PATH otherwise).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path

__all__ = ["NbgraderError", "alembic_head", "coursedir_selects", "nbgrader_environment",
           "nbgrader_in_process", "run_nbgrader", "stamp_gradebooks_in_process"]


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries its output."""


def nbgrader_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ with this interpreter's scripts folder first on PATH."""
    env = dict(os.environ)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "")])
    # Figures in executed notebooks never need a screen.
    env.setdefault("MPLBACKEND", "Agg")
    # No file in the folder nbgrader runs in can shadow a module (python -P).
    env["PYTHONSAFEPATH"] = "1"
    env.update(extra or {})
    return env


#: ``python -m nbgrader``, but with ``import autograder`` first: that keeps jsonschema
#: from building the IRI grammars (``autograder._skip_iri_grammars``), 1.2 s of CPU
#: that every nbgrader command would otherwise spend before it starts.
NBGRADER_MAIN = ("import sys, autograder; from nbgrader.apps.nbgraderapp import main; "
                 "sys.argv[0] = 'nbgrader'; main()")


def run_nbgrader(args: Sequence[str], cwd: str | Path, *, check: bool = True,
                 timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """nbgrader ARGS in ``cwd`` (``NBGRADER_MAIN``); raise NbgraderError on failure if
    ``check``."""
    result = subprocess.run([sys.executable, "-P", "-c", NBGRADER_MAIN, *args], cwd=cwd,
                            env=nbgrader_environment(), capture_output=True, text=True,
                            timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise NbgraderError(f"nbgrader {' '.join(args)} failed (exit {result.returncode}) in "
                            f"{cwd}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


@functools.lru_cache(maxsize=1)
def alembic_head() -> str:
    """The schema version nbgrader stamps a new gradebook with, read in this process.

    nbgrader's ``get_alembic_version`` asks for it by running ``alembic heads``
    in a subprocess every time it creates a gradebook: a Python start-up and
    alembic's imports, about 3 s, which every grading run paid once per
    worker before its first notebook. The answer is a constant of the
    installed nbgrader: its migration scripts' head.
    """
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
    if not head:
        raise RuntimeError(f"no alembic head in {ALEMBIC_DIR}")
    return head


def stamp_gradebooks_in_process() -> None:
    """Make nbgrader read the gradebook schema version in process (see alembic_head).

    If alembic's script directory cannot be read here, nbgrader's own
    subprocess answers, as before.
    """
    import nbgrader.api

    original = nbgrader.api.get_alembic_version
    if getattr(original, "in_process", False):
        return

    def get_alembic_version() -> str:
        try:
            return alembic_head()
        except Exception:  # a layout this code does not know: nbgrader's own way
            return original()

    get_alembic_version.in_process = True  # type: ignore[attr-defined]
    nbgrader.api.get_alembic_version = get_alembic_version


def nbgrader_in_process() -> None:
    """Prepare this process for nbgrader's Python API (the Gradebook, NbGraderAPI).

    This interpreter's scripts folder goes first on PATH (once), for the
    ``alembic`` nbgrader may still run; the schema version of a new
    gradebook is read in process (``stamp_gradebooks_in_process``).
    """
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != scripts:
        os.environ["PATH"] = os.pathsep.join([scripts, path])
    stamp_gradebooks_in_process()


def coursedir_selects(coursedir: object, assignment: str, student: str) -> bool:
    """Whether an nbgrader command's course directory takes ``student``'s ``assignment``:
    its assignment and student patterns (``*`` when unset) and its excluded students."""
    excluded = {s for s in (getattr(coursedir, "student_id_exclude", "") or "").split(",")
                if s}
    return (student not in excluded
            and fnmatchcase(student, getattr(coursedir, "student_id", "") or "*")
            and fnmatchcase(assignment, getattr(coursedir, "assignment_id", "") or "*"))
