"""The nodes of a miniflow graph.

Every node reads top to bottom as two things side by side: what it computes
from its inputs (``forward``) and how the gradient of the loss with respect to
each input follows from the gradient with respect to its own output
(``backward``).

Conventions shared by every node:

* ``node.gradients[x]`` is d(loss)/d(x) *through this node only*. An input's
  full gradient is the sum over all the nodes that consume it; this is why
  ``backward`` accumulates with ``+=`` and never overwrites.
* The same node may be given twice (``Mul(x, x)``); ``outbound_nodes`` lists
  each consumer once and ``gradients[x]`` holds the sum of both uses.
* ``requires_grad`` is set by the graph functions: when it is False nobody
  needs this node's gradient, so consumers may skip computing it (that is how
  training skips the large gradient with respect to the data ``X``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "Node",
    "Input",
    "Add",
    "Mul",
    "Linear",
    "Sigmoid",
    "ReLU",
    "Tanh",
    "MSE",
    "CrossEntropyWithSoftmax",
    "DummyGrad",
    "unbroadcast",
]


def unbroadcast(gradient: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``gradient`` over the axes numpy broadcasting added or stretched.

    If an input of shape ``shape`` was broadcast to a larger output, each of
    its elements was used several times, so its gradient is the sum of the
    gradients of every output element it produced.
    """
    gradient = np.asarray(gradient)
    if gradient.shape == tuple(shape):
        return gradient
    extra = gradient.ndim - len(shape)
    if extra > 0:
        gradient = gradient.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and gradient.shape[i] != 1)
    if stretched:
        gradient = gradient.sum(axis=stretched, keepdims=True)
    return gradient.reshape(shape)


class Node:
    """Base class of every node: holds the wiring, the value and the gradients."""

    #: Loss nodes start backpropagation: with no consumer, d(loss)/d(self) = 1.
    is_loss: bool = False

    def __init__(self, inbound_nodes: Iterable[Node] | None = None, name: str | None = None):
        self.inbound_nodes: list[Node] = list(inbound_nodes) if inbound_nodes is not None else []
        self.outbound_nodes: list[Node] = []
        self.name: str = name if name is not None else type(self).__name__
        self.value: Any = None
        self.gradients: dict[Node, Any] = {}
        self.requires_grad: bool = True
        for node in self.inbound_nodes:
            if not isinstance(node, Node):
                raise TypeError(
                    f"{type(self).__name__} expects miniflow nodes as inputs, got "
                    f"{type(node).__name__} {node!r}; wrap plain values in an Input "
                    "and give them through feed_dict."
                )
            # A consumer is listed once even when it uses the node twice
            # (Mul(x, x)); its gradients[x] already holds both contributions.
            if self not in node.outbound_nodes:
                node.outbound_nodes.append(self)

    def forward(self) -> None:
        """Compute ``self.value`` from the inbound nodes' values."""
        raise NotImplementedError(f"{type(self).__name__}.forward() is not implemented yet")

    def backward(self) -> None:
        """Fill ``self.gradients`` from the consumers' gradients."""
        raise NotImplementedError(f"{type(self).__name__}.backward() is not implemented yet")

    def upstream_gradient(self) -> Any:
        """d(loss)/d(self.value): the sum of what every consumer sends back.

        Returns None when no consumer sends anything (nothing depends on this
        node in the current backward pass).
        """
        total = None
        for consumer in self.outbound_nodes:
            contribution = consumer.gradients.get(self)
            if contribution is None:
                continue
            # The first contribution is used as is (no copy); the sum of
            # several is a new array, so no consumer's array is changed.
            total = contribution if total is None else total + contribution
        return total

    def _zero_gradients(self) -> None:
        self.gradients = {node: np.zeros_like(node.value, dtype=_float_dtype(node.value))
                          for node in self.inbound_nodes}

    def __repr__(self) -> str:
        if self.name == type(self).__name__:
            return f"<{self.name}>"
        return f"<{type(self).__name__} {self.name!r}>"


def _float_dtype(value: Any) -> np.dtype:
    """The dtype a gradient of ``value`` should have: its own if it is floating."""
    dtype = np.asarray(value).dtype
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


class Input(Node):
    """A value given from outside: data, labels or trainable parameters."""

    def __init__(self, name: str | None = None):
        super().__init__(name=name)

    def forward(self, value: Any = None) -> None:
        # `is not None`, not truthiness: 0 and empty arrays are real values.
        if value is not None:
            self.value = value

    def backward(self) -> None:
        gradient = self.upstream_gradient()
        if gradient is None:
            gradient = np.zeros_like(self.value, dtype=_float_dtype(self.value))
        self.gradients = {self: gradient}


class Add(Node):
    """Elementwise sum of any number of inputs, with numpy broadcasting."""

    def __init__(self, *inputs: Node, name: str | None = None):
        super().__init__(inputs, name=name)

    def forward(self) -> None:
        total = self.inbound_nodes[0].value
        for node in self.inbound_nodes[1:]:
            total = total + node.value
        self.value = total

    def backward(self) -> None:
        # d(a + b + ...)/da = 1, so each input gets the upstream gradient,
        # summed back to its own shape if broadcasting stretched it.
        self._zero_gradients()
        upstream = self.upstream_gradient()
        if upstream is None:
            return
        for node in self.inbound_nodes:
            if node.requires_grad:
                self.gradients[node] += unbroadcast(upstream, np.shape(node.value))


class Mul(Node):
    """Elementwise product of any number of inputs, with numpy broadcasting."""

    def __init__(self, *inputs: Node, name: str | None = None):
        super().__init__(inputs, name=name)

    def forward(self) -> None:
        product = self.inbound_nodes[0].value
        for node in self.inbound_nodes[1:]:
            product = product * node.value
        self.value = product

    def backward(self) -> None:
        # d(a * b * c)/da = b * c: the product of every *other* input. It is
        # computed directly rather than as value / a, which fails when a == 0.
        self._zero_gradients()
        upstream = self.upstream_gradient()
        if upstream is None:
            return
        for i, node in enumerate(self.inbound_nodes):
            if not node.requires_grad:
                continue
            local = upstream
            for j, other in enumerate(self.inbound_nodes):
                if j != i:
                    local = local * other.value
            self.gradients[node] += unbroadcast(local, np.shape(node.value))


class Linear(Node):
    """A fully connected layer on a batch: ``X @ W + b``.

    Shapes: X is (batch, n_in), W is (n_in, n_out), b is (n_out,).
    """

    def __init__(self, X: Node, W: Node, b: Node, name: str | None = None):
        super().__init__([X, W, b], name=name)

    def forward(self) -> None:
        X, W, b = (node.value for node in self.inbound_nodes)
        self.value = X @ W + b

    def backward(self) -> None:
        X, W, b = self.inbound_nodes
        upstream = self.upstream_gradient()
        if upstream is None:
            self._zero_gradients()
            return
        gradients: dict[Node, Any] = {}
        # Only the inputs somebody needs: in training, X is data, and its
        # gradient would be a third large matrix product nobody uses.
        if X.requires_grad:
            gradients[X] = upstream @ np.asarray(W.value).T
        if W.requires_grad:
            gradients[W] = np.asarray(X.value).T @ upstream
        if b.requires_grad:
            # b was added to every row of the batch: sum over the batch.
            gradients[b] = unbroadcast(upstream, np.shape(b.value))
        self.gradients = gradients


def _sigmoid(x: Any) -> np.ndarray:
    """1 / (1 + exp(-x)), without overflow warnings for large negative x."""
    x = np.asarray(x)
    # exp(-x) overflows to inf for x < -709; 1 / (1 + inf) is exactly the
    # right limit, 0, so the overflow is expected and silenced.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


class Sigmoid(Node):
    """Elementwise logistic function, 1 / (1 + e^-x)."""

    def __init__(self, node: Node, name: str | None = None):
        super().__init__([node], name=name)

    _sigmoid = staticmethod(_sigmoid)

    def forward(self) -> None:
        self.value = _sigmoid(self.inbound_nodes[0].value)

    def backward(self) -> None:
        (node,) = self.inbound_nodes
        upstream = self.upstream_gradient()
        if upstream is None:
            self._zero_gradients()
            return
        s = self.value
        # The derivative comes from the *output*: sigma'(x) = s (1 - s).
        self.gradients = {node: upstream * s * (1.0 - s)}


class ReLU(Node):
    """Elementwise max(0, x)."""

    def __init__(self, node: Node, name: str | None = None):
        super().__init__([node], name=name)

    def forward(self) -> None:
        self.value = np.maximum(self.inbound_nodes[0].value, 0)

    def backward(self) -> None:
        (node,) = self.inbound_nodes
        upstream = self.upstream_gradient()
        if upstream is None:
            self._zero_gradients()
            return
        # Slope 1 where the input was positive, 0 elsewhere (0 at x = 0 too).
        self.gradients = {node: upstream * (np.asarray(node.value) > 0)}


class Tanh(Node):
    """Elementwise hyperbolic tangent."""

    def __init__(self, node: Node, name: str | None = None):
        super().__init__([node], name=name)

    def forward(self) -> None:
        self.value = np.tanh(self.inbound_nodes[0].value)

    def backward(self) -> None:
        (node,) = self.inbound_nodes
        upstream = self.upstream_gradient()
        if upstream is None:
            self._zero_gradients()
            return
        self.gradients = {node: upstream * (1.0 - self.value**2)}


def _loss_upstream(node: Node) -> Any:
    """A loss's own upstream gradient: 1 when it ends the graph."""
    upstream = node.upstream_gradient()
    return 1.0 if upstream is None else upstream


class MSE(Node):
    """Mean squared error between targets ``y`` and predictions ``a``.

    Both are flattened to column vectors first: subtracting a (3,) array from
    a (3, 1) array would silently broadcast to a (3, 3) matrix.
    """

    is_loss = True

    def __init__(self, y: Node, a: Node, name: str | None = None):
        super().__init__([y, a], name=name)
        self.diff: np.ndarray | None = None

    def forward(self) -> None:
        y, a = (np.asarray(node.value) for node in self.inbound_nodes)
        if y.size != a.size:
            raise ValueError(
                f"MSE needs as many predictions as targets: y has shape {y.shape} "
                f"({y.size} values) but a has shape {a.shape} ({a.size} values)."
            )
        self.diff = y.reshape(-1, 1) - a.reshape(-1, 1)
        self.value = np.mean(self.diff**2)

    def backward(self) -> None:
        y, a = self.inbound_nodes
        assert self.diff is not None, "MSE.backward() called before forward()"
        m = self.diff.shape[0]
        scale = _loss_upstream(self) * (2.0 / m)
        gradients: dict[Node, Any] = {}
        if y.requires_grad:
            gradients[y] = (scale * self.diff).reshape(np.shape(y.value))
        if a.requires_grad:
            gradients[a] = (-scale * self.diff).reshape(np.shape(a.value))
        self.gradients = gradients


def _softmax(x: Any) -> np.ndarray:
    """Row-wise softmax, shifted by each row's maximum so exp never overflows."""
    x = np.asarray(x)
    shifted = x - x.max(axis=-1, keepdims=True)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=-1, keepdims=True)


class CrossEntropyWithSoftmax(Node):
    """Mean cross-entropy of softmax(logits) against integer class labels.

    logits: (batch, n_classes) floats; labels: (batch,) integers in
    [0, n_classes). Computed with log-sum-exp, so logits of +-1000 give a
    finite loss and finite gradients.
    """

    is_loss = True

    def __init__(self, logits: Node, labels: Node, name: str | None = None):
        super().__init__([logits, labels], name=name)
        self.probabilities: np.ndarray | None = None

    _softmax = staticmethod(_softmax)

    def forward(self) -> None:
        logits = np.asarray(self.inbound_nodes[0].value)
        labels = _check_labels(self.inbound_nodes[1].value, logits)
        # log-sum-exp: shifting each row by its maximum keeps exp() in range
        # and changes neither the softmax nor the loss.
        shifted = logits - logits.max(axis=1, keepdims=True)
        exps = np.exp(shifted)
        sums = exps.sum(axis=1, keepdims=True)
        self.probabilities = exps / sums
        rows = np.arange(logits.shape[0])
        # -log softmax(x)[label] = log(sum(exp(shifted))) - shifted[label]
        self.value = np.mean(np.log(sums[:, 0]) - shifted[rows, labels])

    def backward(self) -> None:
        logits, labels = self.inbound_nodes
        assert self.probabilities is not None, "backward() called before forward()"
        gradients: dict[Node, Any] = {}
        if logits.requires_grad:
            n = self.probabilities.shape[0]
            grad = self.probabilities.copy()
            grad[np.arange(n), np.asarray(labels.value)] -= 1.0
            grad *= _loss_upstream(self) / n
            gradients[logits] = grad
        if labels.requires_grad:
            # Class indices are not differentiable: their gradient is zero.
            gradients[labels] = np.zeros(np.shape(labels.value))
        self.gradients = gradients


def _check_labels(labels: Any, logits: np.ndarray) -> np.ndarray:
    """Validate integer class labels against (batch, n_classes) logits."""
    if logits.ndim != 2:
        raise ValueError(
            f"logits must be a (batch, n_classes) array, got shape {logits.shape}; "
            "for a single example use logits.reshape(1, -1)."
        )
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape == logits.shape:
        raise ValueError(
            f"labels look one-hot encoded (shape {labels.shape}); "
            "CrossEntropyWithSoftmax takes integer class indices of shape (batch,): "
            "use labels.argmax(axis=1)."
        )
    if labels.shape != (logits.shape[0],):
        raise ValueError(
            f"labels must have shape ({logits.shape[0]},) to match logits {logits.shape}, "
            f"got {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        if labels.size and np.all(np.mod(labels, 1) == 0):
            labels = labels.astype(np.int64)
        else:
            raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}.")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(
            f"labels must lie in [0, {logits.shape[1]}) for {logits.shape[1]} classes, "
            f"got values from {labels.min()} to {labels.max()}."
        )
    return labels


class DummyGrad(Node):
    """A test node that injects a chosen upstream gradient into ``node``.

    Forward passes ``node``'s value through unchanged. The value fed to the
    DummyGrad itself in ``feed_dict`` is the gradient it sends back into
    ``node`` (ones when nothing is fed), so one node's backward can be checked
    on its own.
    """

    def __init__(self, node: Node, name: str | None = None):
        super().__init__([node], name=name)
        self.upstream: Any = None

    def forward(self) -> None:
        self.value = self.inbound_nodes[0].value

    def backward(self) -> None:
        (node,) = self.inbound_nodes
        seed = self.seed_gradient()
        self.gradients = {node: seed}

    def seed_gradient(self) -> np.ndarray:
        """The gradient this node sends back, at the shape of its value."""
        value = np.asarray(self.value)
        dtype = _float_dtype(value)
        if self.upstream is None:
            return np.ones(value.shape, dtype=dtype)
        return np.broadcast_to(np.asarray(self.upstream, dtype=dtype), value.shape).copy()
