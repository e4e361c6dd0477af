"""Checks that test cells call, with messages a student can act on.

Every check compares the student's code with miniflow's reference on seeded
random inputs. A failure raises ``AssertionError`` whose message says which
node, which input, which element, expected vs got and the shapes (shape and
dtype are compared before values), and, where a mistake has a recognisable
signature, names the likely mistake.

Checks return None, never a number: nbgrader reads a test cell whose last
line shows a number as partial credit. Checks never trust objects the
student controls: values are converted with
``np.asarray(..., dtype=float)`` before comparing, never compared with the
student's own ``==``.

The checks follow the course, one module per topic; the manifest's
assignment names lead to them:

==============  ==========================================================
module          checks for
==============  ==========================================================
``core``        comparing and diagnosing: ``check_close`` (a test cell's
                comparison), ``assert_close``, ``diagnose``,
                ``random_inputs``, ``defined_in_notebook``, ``in_place_of``
``graphs``      01_graphs: ``check_chain_rule``, ``check_topological_sort``
``nodes``       01_graphs ``Mul``, 02_layers, 03_losses: a node's forward,
                backward, consumers, stability, shapes, known mistakes
``training``    04_training: ``check_sgd_update``, ``check_train_epoch``,
                ``check_accuracy``
``digits``      05_digits: ``check_network_graph``, ``check_initial_weights``,
                ``check_predict``, ``check_training``
``tensors``     06_autograd: ``Tensor`` operations, ``topological_order``,
                ``backpropagate``, the network, ``reference_tensor``
``judged``      ``as_graded``: the judge's own questions for a test (public
                seeds), the last line of every visible test cell
``cells``       ``test_<exercise>``: what each visible test cell checks, one
                named check per cell, so a cell is a few lines
==============  ==========================================================

Notebooks use them as one namespace: ``from autograder import checks``, then
``checks.check_backward(...)``.
"""

from __future__ import annotations

from autograder.checks.cells import *  # noqa: F403
from autograder.checks.cells import __all__ as _cells
from autograder.checks.core import *  # noqa: F403

# numpy's comparisons as captured before any student code ran (see core)
from autograder.checks.core import (
    __all__ as _core,
    allclose as _allclose,  # noqa: F401
    array_equal as _array_equal,  # noqa: F401
    isclose as _isclose,  # noqa: F401
)
from autograder.checks.digits import *  # noqa: F403
from autograder.checks.digits import __all__ as _digits
from autograder.checks.graphs import *  # noqa: F403
from autograder.checks.graphs import __all__ as _graphs
from autograder.checks.judged import as_graded
from autograder.checks.nodes import *  # noqa: F403
from autograder.checks.nodes import __all__ as _nodes
from autograder.checks.tensors import *  # noqa: F403
from autograder.checks.tensors import __all__ as _tensors
from autograder.checks.training import *  # noqa: F403
from autograder.checks.training import __all__ as _training

__all__ = [*_core, *_graphs, *_nodes, *_training, *_digits, *_tensors, *_cells, "as_graded"]
