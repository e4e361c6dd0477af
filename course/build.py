"""Build the course notebooks from their scripts in ``course/notebooks/``.

From the course root::

    python -m course.build                # every notebook: write, run, release
    python -m course.build 02_layers      # one assignment
    python -m course.build --check        # only report notebooks out of date

For each assignment of the manifest, ``course/notebooks/<assignment>.py``
fills a ``NotebookBuilder``; the notebook is written to
``source/<assignment>/<notebook>.ipynb``, executed top to bottom in its own
folder (the outputs are committed and compared by nbval), and the student
version is regenerated in ``release/`` with ``nbgrader generate_assignment``.
``course/notebooks/header.py`` makes the header notebook nbgrader prepends.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

import nbformat

from autograder.core.manifest import Assignment, Course, load_manifest
from autograder.core.nbgrader_cli import NbgraderError, run_nbgrader
from course.authoring import NotebookBuilder

SCRIPTS = Path("course") / "notebooks"
HEADER = Path("course") / "header.ipynb"
#: Long enough for the digits notebook on a slow machine; each cell is also
#: held to nbgrader's 30-second limit when graded.
EXECUTE_TIMEOUT = 120


def load_script(path: Path) -> NotebookBuilder:
    """Run a notebook script and return the ``notebook`` it filled."""
    builder = runpy.run_path(str(path)).get("notebook")
    if not isinstance(builder, NotebookBuilder):
        raise SystemExit(f"{path} must fill a module-level `notebook = NotebookBuilder()`")
    return builder


def script_for(course: Course, assignment: Assignment) -> Path:
    return course.root / SCRIPTS / f"{assignment.name}.py"


def source_notebook(course: Course, assignment: Assignment) -> Path:
    return course.root / "source" / assignment.name / assignment.notebook_file


def _cells_without_outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [{"cell_type": c.cell_type, "id": c.get("id"), "source": c.source,
             "metadata": dict(c.metadata)} for c in notebook.cells]


def stale_notebooks(course: Course) -> list[str]:
    """Notebooks whose committed cells differ from what their script writes."""
    problems = []
    targets = [(course.root / SCRIPTS / "header.py", course.root / HEADER)]
    targets += [(script_for(course, a), source_notebook(course, a)) for a in course.assignments]
    for script, notebook_path in targets:
        if not script.is_file():
            problems.append(f"{script.relative_to(course.root)} is missing")
            continue
        if not notebook_path.is_file():
            problems.append(f"{notebook_path.relative_to(course.root)} has not been built")
            continue
        expected = _cells_without_outputs(load_script(script).to_notebook())
        committed = _cells_without_outputs(nbformat.read(notebook_path, as_version=4))
        if expected != committed:
            problems.append(f"{notebook_path.relative_to(course.root)} differs from "
                            f"{script.relative_to(course.root)}")
    return problems


#: A live widget's view: a model id, new on every run, of a model only that kernel had.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def without_widget_views(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop live widget views from the outputs, keeping what every widget of the course
    also gives (its table and drawing as text/html, text/plain): the committed
    notebook is then the same on every build, and shows the same everywhere."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and len(data) > 1:
                del data[WIDGET_VIEW]
    return notebook


def execute(notebook: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """Run every cell in ``folder``; a failing cell stops the build."""
    from nbclient import NotebookClient

    from autograder.sandbox.kernels import kernel_config

    # No widget state in the notebook's metadata: its model ids change at every run.
    client = NotebookClient(notebook, config=kernel_config(), timeout=EXECUTE_TIMEOUT,
                            kernel_name="python3", store_widget_state=False,
                            record_timing=False, coalesce_streams=True,
                            resources={"metadata": {"path": str(folder)}})
    client.execute()
    return without_widget_views(notebook)


def generate_release(course: Course, assignment: Assignment) -> None:
    """``nbgrader generate_assignment`` for one assignment, from the course root."""
    try:
        run_nbgrader(["generate_assignment", assignment.name, "--force"], course.root)
    except NbgraderError as error:
        raise SystemExit(str(error)) from None


def build(course: Course, names: list[str], *, run: bool, release: bool) -> None:
    header = load_script(course.root / SCRIPTS / "header.py")
    header.save(course.root / HEADER)
    for assignment in [a for name in names for a in course.select(name)] or course.assignments:
        notebook = load_script(script_for(course, assignment)).to_notebook()
        path = source_notebook(course, assignment)
        path.parent.mkdir(parents=True, exist_ok=True)
        if run:
            print(f"running {path.relative_to(course.root)}", flush=True)
            execute(notebook, path.parent)
        nbformat.write(notebook, path)
        if release:
            generate_release(course, assignment)
            print(f"released {assignment.name}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="only report notebooks that differ from their scripts")
    parser.add_argument("--no-execute", action="store_true", help="write without running")
    parser.add_argument("--no-release", action="store_true", help="leave release/ alone")
    args = parser.parse_args(argv)
    course = load_manifest()
    if args.check:
        problems = stale_notebooks(course)
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    build(course, args.assignments, run=not args.no_execute, release=not args.no_release)
    return 0


if __name__ == "__main__":
    sys.exit(main())
