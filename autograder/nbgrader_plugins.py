"""The old path of the nbgrader plugins, kept for the nbgrader_config.py files that name it.

A course folder made before the grader moved into layers names
``autograder.nbgrader_plugins.SandboxedExecute``, ``.HideTests``,
``.CourseHeldExporter`` and ``.CourseExportPlugin`` in its nbgrader_config.py;
these are the same classes (``tests/test_architecture.py`` checks it).
"""

from autograder.execute.exporter import CourseHeldExporter
from autograder.execute.preprocessor import SandboxedExecute
from autograder.publish.export_plugin import CourseExportPlugin
from autograder.publish.hidden import HideTests

__all__ = ["CourseExportPlugin", "CourseHeldExporter", "HideTests", "SandboxedExecute"]
