"""The visible test cells' checks: one named check per graded test cell (issue 31).

A visible test cell is a few lines: it calls ``checks.test_<exercise>(...)`` with
the student's code, then ``checks.as_graded``. The body of each test lives here,
one module per assignment, so nbgrader's Validate dialog shows a short cell and
the failure's first line (a sentence from ``autograder.checks``) says what to fix.
A student can read what a test asks with ``checks.test_mul_backward?`` in the
notebook, or in these files.

==============  ==================
module          assignment
==============  ==================
``graphs``      01_graphs
``layers``      02_layers
``losses``      03_losses
``training``    04_training
``digits``      05_digits
``autograd``    06_autograd
==============  ==================
"""

from __future__ import annotations

from autograder.checks.cells.autograd import *  # noqa: F403
from autograder.checks.cells.autograd import __all__ as _autograd
from autograder.checks.cells.digits import *  # noqa: F403
from autograder.checks.cells.digits import __all__ as _digits
from autograder.checks.cells.graphs import *  # noqa: F403
from autograder.checks.cells.graphs import __all__ as _graphs
from autograder.checks.cells.layers import *  # noqa: F403
from autograder.checks.cells.layers import __all__ as _layers
from autograder.checks.cells.losses import *  # noqa: F403
from autograder.checks.cells.losses import __all__ as _losses
from autograder.checks.cells.training import *  # noqa: F403
from autograder.checks.cells.training import __all__ as _training

__all__ = [*_graphs, *_layers, *_losses, *_training, *_digits, *_autograd]
