"""The old path of ``autograder.kernel.figures``, kept for the
nbgrader_config.py files that name it.

A course folder made before the grader moved into layers names
``autograder.figures`` in its nbgrader_config.py; this name is that module,
not a copy (``tests/test_architecture.py`` checks it).
"""

import sys

from autograder.kernel import figures

sys.modules[__name__] = figures
