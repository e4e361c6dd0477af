"""``nbgrader export``'s plugin: the course's grades.csv from plain nbgrader."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from nbgrader.plugins import CsvExportPlugin
from traitlets import Unicode

from autograder.core.safe_text import csv_cell


class CourseExportPlugin(CsvExportPlugin):
    """Plain ``nbgrader export`` writes the course's CSV: ``python -m autograder export``'s.

    nbgrader's columns, then ``flags``, the late columns, ``section`` and
    ``status``, with a row for every roster student
    (``autograder.publish.export.add_course_columns``), within the export's own
    ``--assignment`` and ``--student`` filters. nbgrader_config.py sets it
    (``c.ExportApp.plugin_class``) and the course root.
    """

    course_root = Unicode("", config=True,
                          help="the course root whose roster and results.json fill the columns")

    def export(self, gradebook: Any) -> None:
        # With a course root, the last of the column steps (the roster's) neutralises
        # the names: the steps before it find the students by their ids as they are.
        self.export_nbgrader_columns(gradebook, neutralise=not self.course_root)
        if not self.course_root:
            return
        from autograder.core.manifest import load_manifest
        from autograder.publish.export import add_course_columns

        add_course_columns(load_manifest(self.course_root), Path(self.to or "grades.csv"),
                           assignments=[str(a) for a in self.assignment],
                           students=[str(s) for s in self.student])

    def export_nbgrader_columns(self, gradebook: Any, *, neutralise: bool = True) -> None:
        """nbgrader's ``CsvExportPlugin.export``, the same file character for character,
        with the gradebook read in a few queries.

        Written with the ``csv`` module, so that a comma or a quote in a name is
        quoted and reads back (nbgrader's own plugin writes the text as it is, and
        the row falls apart); every other file is nbgrader's to the byte. With
        ``neutralise``, a name, id or email that a spreadsheet would run as a
        formula gets a quote in front (``autograder.core.safe_text.csv_cell``).

        nbgrader's loop finds each student's submission with a query of its own,
        then reads its score and late penalty with one each, and those two scan
        every submitted notebook (nbgrader's schema has no index there): 31 s for
        5,000 submissions (``benchmarks/bench_gradebook.py``), growing with the
        square of the class. Here the submissions come in one query and the two
        sums in one grouped query each, the same SQL sums over the same rows (a
        sum of scores that are not binary fractions could differ from nbgrader's
        in its last digit, added in another order). ``tests/test_gradebook_scale.py``
        checks the file against nbgrader's own plugin.
        """
        from nbgrader.api import Grade, SubmittedAssignment, SubmittedNotebook
        from sqlalchemy import func, select

        dest = self.to or "grades.csv"
        allstudents = {str(item) for item in self.student}
        allassignments = {str(item) for item in self.assignment}
        self.log.info("Exporting grades to %s", dest)
        if allassignments:
            self.log.info("Exporting only assignments: %s", [str(a) for a in self.assignment])
        if allstudents:
            self.log.info("Exporting only students: %s", [str(s) for s in self.student])

        db = gradebook.db
        submitted = {(s.assignment_id, s.student_id): s for s in db.query(SubmittedAssignment)}
        scores = dict(db.execute(
            select(SubmittedNotebook.assignment_id, func.coalesce(func.sum(Grade.score), 0.0))
            .where(Grade.notebook_id == SubmittedNotebook.id)
            .group_by(SubmittedNotebook.assignment_id)).all())
        penalties = dict(db.execute(
            select(SubmittedNotebook.assignment_id,
                   func.coalesce(func.sum(SubmittedNotebook.late_submission_penalty), 0.0))
            .group_by(SubmittedNotebook.assignment_id)).all())
        keys = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                "email", "raw_score", "late_submission_penalty", "score", "max_score"]
        students = gradebook.students  # nbgrader's order: its own queries
        cell = csv_cell if neutralise else (lambda value: "" if value is None else str(value))
        with open(dest, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            # With "\n" ending rows, the csv module leaves a carriage return unquoted, and
            # a reader would take it for the end of the row: such a row is quoted whole.
            quoted = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_ALL)
            writer.writerow(keys)
            for assignment in gradebook.assignments:
                if allassignments and assignment.name not in allassignments:
                    continue
                for student in students:
                    if allstudents and student.id not in allstudents:
                        continue
                    score: dict[str, Any] = {
                        "assignment": assignment.name, "duedate": assignment.duedate,
                        "student_id": student.id, "last_name": student.last_name,
                        "first_name": student.first_name, "email": student.email,
                        "max_score": assignment.max_score}
                    submission = submitted.get((assignment.id, student.id))
                    if submission is None:  # nothing submitted: a zero
                        score.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0,
                                     score=0.0)
                    else:
                        # A submission without notebooks: nbgrader's sums of no rows.
                        raw = scores.get(submission.id, 0.0)
                        penalty = penalties.get(submission.id, 0.0)
                        score.update(timestamp=submission.timestamp, raw_score=raw,
                                     late_submission_penalty=penalty,
                                     score=max(0.0, raw - penalty))
                    row = [cell(score[key]) for key in keys]
                    (quoted if any("\r" in value for value in row) else writer).writerow(row)

