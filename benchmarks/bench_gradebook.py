"""How long the gradebook's steps take for a large class: record, read, export.

Builds a course in a temporary folder whose gradebook gets one graded
submission of 02_layers for each of N students (no notebook is run: the
results are made up, as a grading run would hand them over), then times:

* ``record``: ``record_results`` for the N results, the first time (new
  students and submissions), then again (a regrade of every one);
* ``read``: ``load_results`` (behind export, report and feedback);
* ``export``: nbgrader's CSV columns, with the course's plugin
  (``CourseExportPlugin``) and with nbgrader's own ``CsvExportPlugin``
  (which grows with the square of the class; skipped above ``--stock-up-to``).

Usage:

    python benchmarks/bench_gradebook.py [--students 1000 5000] [--stock-up-to 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.core.manifest import load_manifest
from autograder.core.results import CellGrade, GradeResult
from autograder.pipeline.grading import copy_course_skeleton
from autograder.publish.export_plugin import CourseExportPlugin
from autograder.record import gradebook
from autograder.record.database import db_url, ensure_in_gradebook, open_gradebook
from autograder.record.load import load_results

ROOT = Path(__file__).resolve().parents[1]


def _results(assignment, students: int) -> list[GradeResult]:
    source = nbformat.read(ROOT / "source" / assignment.name / assignment.notebook_file,
                           as_version=4)
    points = {c.metadata.nbgrader.grade_id: float(c.metadata.nbgrader.points)
              for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}
    results = []
    for number in range(students):
        fraction = min(1.0, (number % 5) / 4)  # 0, 1/4, 1/2, 3/4, 1, 0, ...
        cells = [CellGrade(name, fraction * top, top) for name, top in points.items()]
        results.append(GradeResult(f"s{number:05d}", assignment.name, "graded",
                                   sum(c.score for c in cells), sum(points.values()), cells))
    return results


def _timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def _export(course, plugin) -> None:
    with open_gradebook(db_url(course), course.id) as book:
        exporter = plugin(to=str(course.root / "grades.csv"))
        (exporter.export_nbgrader_columns if plugin is CourseExportPlugin
         else exporter.export)(book)


def main() -> None:
    from nbgrader.plugins import CsvExportPlugin

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--stock-up-to", type=int, default=5000,
                        help="time nbgrader's own export only up to this many students")
    args = parser.parse_args()
    assignment = load_manifest(ROOT).assignment("02_layers")
    print(f"{'students':>8} {'record':>8} {'again':>8} {'read':>8} {'export':>8} "
          f"{'nbgrader export':>16}  (seconds)")
    for students in args.students:
        with tempfile.TemporaryDirectory(prefix="bench-gradebook-") as temp:
            copy_course_skeleton(ROOT, Path(temp), [assignment])
            course = load_manifest(Path(temp))
            results = _results(assignment, students)
            ensure_in_gradebook(course, assignment.name)  # its cells, once
            row = [_timed(lambda: gradebook.record_results(course, results)),
                   _timed(lambda: gradebook.record_results(course, results)),
                   _timed(lambda: load_results(course)),
                   _timed(lambda: _export(course, CourseExportPlugin))]
            stock = (f"{_timed(lambda: _export(course, CsvExportPlugin)):16.2f}"
                     if students <= args.stock_up_to else f"{'(skipped)':>16}")
            print(f"{students:8d} " + " ".join(f"{s:8.2f}" for s in row) + " " + stock,
                  flush=True)


if __name__ == "__main__":
    main()
