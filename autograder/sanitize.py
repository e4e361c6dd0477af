"""The old path of ``autograder.publish.sanitize``, kept for the
nbgrader_config.py files that name it.

A course folder made before the grader moved into layers names
``autograder.sanitize`` in its nbgrader_config.py; this name is that module,
not a copy (``tests/test_architecture.py`` checks it).
"""

import sys

from autograder.publish import sanitize

sys.modules[__name__] = sanitize
