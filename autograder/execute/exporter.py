"""nbgrader autograde's exporter: the course folder held while an autograde works."""

from __future__ import annotations

from typing import Any

from nbconvert.exporters import NotebookExporter
from nbgrader.converters import NbGraderException


class CourseHeldExporter(NotebookExporter):
    """nbgrader autograde's exporter: the autograde holds the course folder while it works.

    nbgrader_config.py sets it (``c.Autograde.exporter_class``). nbgrader's
    converter makes its exporter as an autograde starts, before it removes an
    ``autograded/`` folder (``--force``) or writes a row of the gradebook, and
    then converts every submission (``convert_notebooks``). This one takes the
    lock ``python -m autograder grade`` takes (``autograder.core.lock.hold_course``)
    and gives it back when that conversion returns or fails: formgrader runs
    autograde inside the Jupyter server, which goes on, and nbgrader's objects
    live until a garbage collection. While another run holds the course, the
    autograde stops at once with that run's message and changes nothing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
                    convert()
                finally:
                    release()

            converter.convert_notebooks = convert_then_release

