"""What a grade depends on besides the notebook: the course's files and the code's version.

Compared between the grader and each Dask worker (``autograder.run.cluster``)
and kept with an interrupted run's answers (``autograder.run.journal``), so a
grade is never reused or made on a machine where either differs.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path


def _package_hash(*packages: str) -> str:
    """sha256 over every .py file of ``packages`` (relative path and bytes, in order)."""
    import importlib.util

    digest = hashlib.sha256()
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def course_version() -> dict[str, str]:
    """The versions and source a grade depends on: ``COMPARED``'s values here."""
    from importlib.metadata import PackageNotFoundError, version

    import nbgrader

    import miniflow

    try:
        autograder_version = version("miniflow-course")
    except PackageNotFoundError:
        autograder_version = "not installed as a package"
    return {"miniflow": miniflow.__version__, "autograder": autograder_version,
            "nbgrader": nbgrader.__version__, "source": _package_hash("autograder", "miniflow")}


def course_files(root: Path, assignment_name: str, notebook_file: str) -> dict[str, bytes]:
    """What ``nbgrader_api.copy_course_skeleton`` copies for one assignment, as data."""
    files = {name: (root / name).read_bytes()
             for name in ("nbgrader_config.py", "course/manifest.toml", "course/header.ipynb")}
    folder = root / "source" / assignment_name
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts \
                and ".ipynb_checkpoints" not in path.parts:
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    if f"source/{assignment_name}/{notebook_file}" not in files:
        raise FileNotFoundError(f"no source notebook {folder / notebook_file}")
    return files


def files_hash(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()
