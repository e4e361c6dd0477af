"""miniflow: a small graph-based neural-network library, built to be read.

The map:

- ``miniflow.nodes``: ``Node`` and the operations: ``Input``, ``Add``, ``Mul``,
  ``Linear``, ``Sigmoid``, ``ReLU``, ``Tanh``, ``MSE``,
  ``CrossEntropyWithSoftmax``, ``DummyGrad``.
- ``miniflow.graph``: ``topological_sort``, ``forward_pass``,
  ``forward_and_backward`` (with a trace mode), ``value_and_grad``.
- ``miniflow.training``: ``sgd_update``, ``iterate_minibatches``, ``train_epoch``,
  ``accuracy``, ``progress``.
- ``miniflow.gradcheck``: numerical gradients, ``check_gradients`` (static graphs)
  and ``check_tensor_gradients`` (define-by-run tensors).
- ``miniflow.datasets``: bundled digits and diabetes data, synthetic 2-D sets,
  ``load_mnist`` for MNIST files you already have. Nothing is downloaded.
- ``miniflow.plotting``: graph drawings, loss curves, digit grids (needs
  matplotlib; imported only when you import it).

``import miniflow`` needs numpy and nothing else.
"""

from miniflow import datasets, gradcheck
from miniflow.gradcheck import check_gradients, check_tensor_gradients
from miniflow.graph import (
    GraphError,
    backward_pass,
    forward_and_backward,
    forward_pass,
    gradient_of,
    topological_sort,
    value_and_grad,
)
from miniflow.nodes import (
    MSE,
    Add,
    CrossEntropyWithSoftmax,
    DummyGrad,
    Input,
    Linear,
    Mul,
    Node,
    ReLU,
    Sigmoid,
    Tanh,
)
from miniflow.training import (
    accuracy,
    iterate_minibatches,
    predict_classes,
    progress,
    sgd_update,
    train_epoch,
)

__version__ = "1.0.0"

__all__ = [
    "Node", "Input", "Add", "Mul", "Linear", "Sigmoid", "ReLU", "Tanh", "MSE",
    "CrossEntropyWithSoftmax", "DummyGrad",
    "GraphError", "topological_sort", "forward_pass", "backward_pass",
    "forward_and_backward", "value_and_grad", "gradient_of",
    "sgd_update", "iterate_minibatches", "train_epoch", "accuracy", "predict_classes",
    "check_gradients", "check_tensor_gradients", "gradcheck", "datasets", "progress",
]
