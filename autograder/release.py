"""``release``: regenerate ``release/`` from ``source/``, never half-way.

nbgrader's ``generate_assignment --force`` deletes an assignment's release
folder before writing the new one, so a failure part-way (a gradebook
whose driver is missing, a notebook that does not parse) used to leave the
committed student notebooks deleted. Here the gradebook is checked first,
every release folder is copied aside before nbgrader touches it, and on any
failure every one of them is put back exactly as it was.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from autograder.manifest import Assignment, Course

__all__ = ["release"]


def release(course: Course, chosen: Sequence[Assignment]) -> list[Assignment]:
    """Generate ``chosen`` into ``release/`` and register them; all or nothing."""
    from autograder.gradebook import check_gradebook, register_assignments
    from autograder.nbgrader_cli import run_nbgrader

    check_gradebook(course)
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
