"""nbgrader autograde's exporter: the course folder held while an autograde works, and
each submission checked by the grader's rule before nbgrader reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbconvert.exporters import NotebookExporter
from nbgrader.converters import NbGraderException
from traitlets import Bool


class CourseHeldExporter(NotebookExporter):
    """nbgrader autograde's exporter: the autograde holds the course folder while it works,
    and rejects what ``python -m autograder grade`` rejects, as it does.

    nbgrader_config.py sets it (``c.Autograde.exporter_class``). nbgrader's
    converter makes its exporter as an autograde starts, before it removes an
    ``autograded/`` folder (``--force``) or writes a row of the gradebook, and
    then converts every submission (``convert_notebooks``). This one takes the
    lock ``python -m autograder grade`` takes (``autograder.core.lock.hold_course``)
    and gives it back when that conversion returns or fails: formgrader runs
    autograde inside the Jupyter server, which goes on, and nbgrader's objects
    live until a garbage collection. While another run holds the course, the
    autograde stops at once with that run's message and changes nothing.

    Before nbgrader takes a submission (``init_destination``, ahead of any row
    of the gradebook), ``check_submissions`` asks the grader's own rule
    (``autograder.record.submission.check_submission``). A rejected notebook
    (not JSON, not a notebook, too large, not text, missing, several) is
    recorded exactly as ``grade`` records it (status ``rejected``, its reason
    and code in ``autograded/results.json``, no grade in the gradebook, an old
    one removed), a warning says so, and nbgrader goes on with the next
    submission: without this, nbgrader failed on it and left it "graded, 0"
    with empty cells.
    """

    check_submissions = Bool(
        True, config=True,
        help="check each submission with the grader's rule before nbgrader reads it, and "
             "record a rejected one as `python -m autograder grade` does (status rejected, "
             "its reason, no grade). The grading workers turn it off: `grade` checked "
             "their submission already")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._course: Any = None  # the course's manifest, once a submission is checked
        converter = self.parent
        coursedir = getattr(converter, "coursedir", None)
        if coursedir is None or not coursedir.root:
            return
        import weakref

        from autograder.core.lock import CourseBusy, hold_course

        try:
            release = hold_course(coursedir.root)
        except CourseBusy as busy:
            self.log.error("%s", busy)
            raise NbGraderException(str(busy)) from None
        weakref.finalize(self, release)  # made, but never used to convert
        convert = getattr(converter, "convert_notebooks", None)
        if callable(convert):
            def convert_then_release() -> None:
                try:
                    if self.check_submissions:
                        self._reject_without_notebook(coursedir)
                    convert()
                finally:
                    release()

            converter.convert_notebooks = convert_then_release
        take = getattr(converter, "init_destination", None)
        if self.check_submissions and callable(take):
            def take_unless_rejected(assignment_id: str, student_id: str) -> bool:
                # nbgrader's own answer first: a submission it skips is not looked at.
                return bool(take(assignment_id, student_id)) and \
                    not self._rejected(coursedir, assignment_id, student_id)

            converter.init_destination = take_unless_rejected

    def _reject_without_notebook(self, coursedir: Any) -> None:
        """A submission folder with no notebook at all: nbgrader never looks at it (it
        goes by notebooks), ``grade`` rejects it (``missing_notebook``); so here too."""
        base = Path(coursedir.root) / coursedir.submitted_directory
        if not base.is_dir():
            return
        from autograder.core.nbgrader_cli import coursedir_selects

        for student in sorted(p.name for p in base.iterdir() if p.is_dir()):
            for assignment in sorted(p.name for p in (base / student).iterdir()):
                folder = Path(coursedir.format_path(coursedir.submitted_directory, student,
                                                    assignment))
                if (coursedir_selects(coursedir, assignment, student) and folder.is_dir()
                        and not any(folder.glob("*.ipynb"))):
                    self._rejected(coursedir, assignment, student)

    def _rejected(self, coursedir: Any, assignment_id: str, student_id: str) -> bool:
        """Whether the grader's rule rejects this submission; a rejection is recorded."""
        from autograder.core.manifest import ManifestError, load_manifest
        from autograder.core.safe_text import terminal_text
        from autograder.record.gradebook import forget_problem, record_results
        from autograder.record.submission import check_submission, rejected_result

        if self._course is None:  # read once per autograde, not once per submission
            self._course = load_manifest(Path(coursedir.root))
        course = self._course
        try:
            assignment = course.assignment(assignment_id)
        except ManifestError:  # not one of the manifest's: nbgrader grades it as it would
            return False
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student_id,
                                            assignment_id))
        checked = check_submission(folder, assignment.notebook_file)
        if checked.notebook is not None:
            forget_problem(course, assignment.name, student_id)  # an old rejection's record
            return False
        result = rejected_result(course, assignment, student_id, folder, checked,
                                 self._sandbox_mode())
        record_results(course, [result])
        self.log.warning("%s", terminal_text(
            f"{student_id}'s {assignment.name} was rejected, not graded: {checked.reason}. "
            f"Recorded as `python -m autograder grade` records it (status rejected, reason "
            f"{checked.code}, no grade in the gradebook); its feedback page "
            f"(`nbgrader generate_feedback {assignment.name}` or `python -m autograder "
            f"feedback {assignment.name}`) tells the student how to resubmit."))
        return True

    def _sandbox_mode(self) -> str:
        """The sandbox mode this autograde's kernels get, as a result of ``grade`` records it."""
        from autograder.sandbox.bubblewrap import resolve_mode
        from autograder.sandbox.manager import SandboxKernelManager

        requested = SandboxKernelManager(config=self.config).mode
        try:
            return resolve_mode(requested)[0]
        except Exception:  # bwrap asked for but not working: grading would refuse anyway
            return requested
