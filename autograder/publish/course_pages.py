"""Plain ``nbgrader generate_feedback`` beside the course's own feedback pages.

``python -m autograder feedback`` and plain ``nbgrader generate_feedback``
write to the same path, ``feedback/<student>/<assignment>/<notebook>.html``.
``FeedbackExporter`` (``c.GenerateFeedback.exporter_class`` in
nbgrader_config.py) puts two rules into the ``generate_feedback`` that makes it
(``install``):

* a submission the course did not grade (rejected by the grader's rule,
  ``autograder.record.submission``, or one whose grading failed) gets the page
  ``python -m autograder feedback`` writes for it, the same bytes
  (``autograder.publish.feedback.course_page``): why, and how to resubmit.
  nbgrader alone has no notebook of it in ``autograded/`` and writes nothing
  (or its page of an older graded notebook);
* a page ``python -m autograder feedback`` wrote (``is_course_page``: it is
  marked) is kept: nbgrader's page never replaces it, not even with
  ``--force`` (which would delete the folder first), and a warning names the
  page and the commands to use instead.

Everything else is nbgrader's, as it always was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder.core.nbgrader_cli import coursedir_selects
from autograder.core.results import GradeResult, Status

__all__ = ["install"]

#: How much of a page is read to tell whether it is the course's (its head starts it).
_HEAD_BYTES = 4096


def install(converter: Any, log: Any) -> None:
    """Put the course's rules into nbgrader's ``GenerateFeedback`` ``converter``."""
    coursedir = getattr(converter, "coursedir", None)
    take = getattr(converter, "init_destination", None)
    convert = getattr(converter, "convert_notebooks", None)
    if coursedir is None or not coursedir.root or not callable(take) or not callable(convert):
        return
    pages = _CoursePages(converter, log, take)
    converter.init_destination = pages.init_destination

    def problem_pages_then_convert() -> None:
        pages.write_problem_pages()
        convert()

    converter.convert_notebooks = problem_pages_then_convert


class _CoursePages:
    """One ``generate_feedback`` run's view of the course's results and pages."""

    def __init__(self, converter: Any, log: Any, take: Callable[[str, str], bool]) -> None:
        self.converter, self.log, self.take = converter, log, take
        self.coursedir = converter.coursedir
        self.root = Path(self.coursedir.root)
        self.results: dict[tuple[str, str], GradeResult] = {}

    def write_problem_pages(self) -> None:
        """The course's page of every submission of this run that was not graded."""
        from autograder.core.manifest import ManifestError, load_manifest
        from autograder.core.safe_text import terminal_text
        from autograder.publish.feedback import course_page, write_page
        from autograder.record.load import load_results

        try:
            course = load_manifest(self.root)
        except ManifestError as error:  # not a course of this grader: nbgrader's pages only
            self.log.warning("%s", terminal_text(f"{error}; only nbgrader's own feedback "
                                                 "pages are written"))
            return
        self.results = load_results(course)
        for (name, student), result in sorted(self.results.items()):
            if result.status == Status.GRADED or not coursedir_selects(self.coursedir, name,
                                                                       student):
                continue
            try:
                assignment = course.assignment(name)
            except ManifestError:
                continue
            page = course_page(course, assignment, result)
            if page is None:
                continue
            target = write_page(course, assignment, student, page)
            what = "was rejected" if result.status == Status.REJECTED else "could not be graded"
            self.log.info("%s", terminal_text(
                f"Wrote {target.relative_to(self.root)}: {student}'s {name} {what}; the page "
                "says why and what to do, as `python -m autograder feedback` writes it"))

    def init_destination(self, assignment_id: str, student_id: str) -> bool:
        """nbgrader's ``init_destination``, unless the page is the course's: then False."""
        from autograder.core.safe_text import terminal_text

        result = self.results.get((assignment_id, student_id))
        if result is not None and result.status != Status.GRADED:
            return False  # its page is the course's, written before nbgrader's loop
        folder = Path(self.coursedir.format_path(self.coursedir.feedback_directory,
                                                 student_id, assignment_id))
        for notebook in self.converter.notebooks:
            page = folder / f"{Path(notebook).stem}.html"
            if _is_course_page(page):
                shown = page.relative_to(self.root) if page.is_relative_to(self.root) else page
                self.log.warning("%s", terminal_text(
                    f"{shown} was written by `python -m autograder feedback` and is kept: "
                    f"nbgrader generate_feedback does not replace the course's pages (not "
                    f"even with --force), so nothing was written for {student_id}'s "
                    f"{assignment_id}. `python -m autograder feedback {assignment_id} "
                    f"--student {student_id}` writes that page again from the gradebook; "
                    "to have nbgrader's page there instead, delete that file first."))
                return False
        return self.take(assignment_id, student_id)


def _is_course_page(page: Path) -> bool:
    from autograder.publish.feedback import is_course_page

    if not page.is_file():
        return False
    with open(page, encoding="utf-8", errors="replace") as handle:
        return is_course_page(handle.read(_HEAD_BYTES))
