"""``release``: regenerate ``release/`` from ``source/``, never half-way.

nbgrader's ``generate_assignment --force`` deletes an assignment's release
folder before writing the new one, so a failure part-way (a gradebook
whose driver is missing, a notebook that does not parse) used to leave the
committed student notebooks deleted. Here the gradebook is checked first,
every release folder is copied aside before nbgrader touches it, and on any
failure every one of them is put back exactly as it was.

Before anything is generated, the self-check grades the assignments' solution
notebooks (full marks) and their blank release (zero) in a temporary course
(``selfcheck=True``, the default; add the mutant library and the cheats with
``mutants=True``). A failure refuses the release (``ReleaseRefused``) and
leaves ``release/`` untouched: a broken hidden test never reaches students.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autograder.core.manifest import Assignment, Course

__all__ = ["ReleaseRefused", "release"]


class ReleaseRefused(ValueError):
    """The self-check failed, so nothing was released; the message shows the failures."""


def release(course: Course, chosen: Sequence[Assignment], *, selfcheck: bool = True,
            mutants: bool = False, workers: int = 2, sandbox: str = "auto",
            on_selfcheck: Callable[[list], None] | None = None,
            progress: tuple[Callable[[int], None], Callable[[Any], None]] | None = None,
            ) -> list[Assignment]:
    """Self-check ``chosen``, then generate them into ``release/`` and register them.

    All or nothing: a failed self-check (``ReleaseRefused``) or a failure while
    generating leaves ``release/`` exactly as it was. ``on_selfcheck(checks)``
    receives the self-check's results before the verdict; ``progress``, ``grade``'s
    ``(on_start, on_result)``, sees each notebook the self-check grades.
    """
    from autograder.core.nbgrader_cli import run_nbgrader
    from autograder.record.database import check_gradebook, register_assignments

    check_gradebook(course)
    if selfcheck:
        from autograder.author.selfcheck import format_table, selfcheck as run_selfcheck

        checks = run_selfcheck(course, tuple(chosen), workers=workers, mutants=mutants,
                               cheats=mutants, sandbox=sandbox, progress=progress)
        if on_selfcheck is not None:
            on_selfcheck(checks)
        failed = [c for c in checks if not c.ok]
        if failed:
            raise ReleaseRefused(
                "the self-check failed, so nothing was released and release/ is as it was:\n"
                + format_table(checks) + "\nFix source/ (a solution that loses points usually "
                "means a broken test) and release again; to release anyway, add "
                "--skip-selfcheck.")
    released = course.root / "release"
    existed = released.is_dir()
    with tempfile.TemporaryDirectory(prefix="miniflow-release-") as temp:
        backup = Path(temp)
        for assignment in chosen:
            if (released / assignment.name).exists():
                shutil.copytree(released / assignment.name, backup / assignment.name,
                                symlinks=True)
        try:
            for assignment in chosen:
                run_nbgrader(["generate_assignment", assignment.name, "--force"], course.root)
            register_assignments(course, [a.name for a in chosen])
        except BaseException:
            for assignment in chosen:
                shutil.rmtree(released / assignment.name, ignore_errors=True)
                if (backup / assignment.name).exists():
                    shutil.copytree(backup / assignment.name, released / assignment.name,
                                    symlinks=True)
            if not existed:  # nbgrader made release/ itself: take it away again
                shutil.rmtree(released, ignore_errors=True)
            raise
    return list(chosen)
