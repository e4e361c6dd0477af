"""The old path of ``autograder.sandbox.kernels``, kept for the
nbgrader_config.py files that name it.

A course folder made before the grader moved into layers names
``autograder.kernels`` in its nbgrader_config.py; this name is that module,
not a copy (``tests/test_architecture.py`` checks it).
"""

import sys

from autograder.sandbox import kernels

sys.modules[__name__] = kernels
