"""A define-by-run tensor: the reference answer to "Autograd" (06_autograd).

Students write their own ``Tensor`` in the notebook; this one is the grader's.
Tests of the exercises built on ``Tensor`` (``backpropagate``, the two-layer
loss, the training step) run on it, so that a slip in a student's ``Tensor``
costs only the ``Tensor`` exercise: ``autograder.checks.reference_tensor`` in
the notebook's tests, and the judge's grader versions
(``autograder.judge.runners.GRADER_VERSIONS``). A tensor is
``Tensor(data, parents=(), op="", name=None)`` with ``data``, ``grad``,
``_parents``, ``_backward`` and ``_op``.

Each operation computes its result and, right beside it, the rule that
passes the result's gradient on to its parents (``_backward``); a parent
that is used twice gets both contributions, because gradients are *added*.

**This file is the notebook's text.** ``course/notebooks/06_autograd.py``
builds three cells of the notebook from it (``course.authoring.source_of``):
the given cell ``as_tensor``, and the solution cells ``tensor`` (the class)
and ``backpropagation`` (``topological_order`` and ``backpropagate``). Hence
the notebook's style here: no type hints; the names the notebook's setup cell
imports (``np``, ``unbroadcast``); ``Tensor``, ``as_tensor`` and
``backpropagate`` looked up in the module when called (in the notebook they
are the student's; ``autograder.checks.reference_tensor`` runs this module
again to give ``backward()`` another ``backpropagate``); and nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION`` comments around what the student
writes (the release keeps the lines outside them and leaves a stub between).
A change here changes the notebook and its release, and the patches of
``autograder/author/mutants/m06_autograd.py`` must still apply: rebuild with
``make notebooks``; ``python -m course.build --check`` and
tests/test_course.py say when the committed notebook no longer matches.
"""

import numpy as np

from miniflow.nodes import unbroadcast

__all__ = ["Tensor", "as_tensor", "backpropagate", "topological_order"]


def as_tensor(value):
    """value itself if it is a Tensor, else a new leaf Tensor holding it."""
    return value if isinstance(value, Tensor) else Tensor(value)


class Tensor:
    """A numpy array that records how it was computed (define-by-run autograd).

    data       the values, a float numpy array
    grad       d(output) / d(data) after a backward pass; the same shape as data
    _parents   the tensors this one was computed from (empty for a leaf)
    _backward  adds this tensor's share of the gradient to its parents' grad
    _op        the operation that made it, for drawings ("+", "*", "@", ...)
    """

    def __init__(self, data, parents=(), op="", name=None):
        self.data = np.array(data, dtype=float)   # a copy: the caller's array is never changed
        self.grad = np.zeros_like(self.data)
        self._parents = tuple(parents)
        self._backward = lambda: None             # a leaf has no parents to pass a gradient to
        self._op = op
        self.name = name

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Tensor({self.name or self._op or 'leaf'}, shape={self.shape})"

    def exp(self):
        """e ** self, elementwise: the worked example."""
        out = Tensor(np.exp(self.data), parents=(self,), op="exp")

        def _backward():
            self.grad += out.grad * out.data

        out._backward = _backward
        return out

    def __add__(self, other):
        """self + other, elementwise, with numpy broadcasting."""
        other = as_tensor(other)
        ### BEGIN SOLUTION
        out = Tensor(self.data + other.data, parents=(self, other), op="+")

        def _backward():
            self.grad += unbroadcast(out.grad, self.shape)
            other.grad += unbroadcast(out.grad, other.shape)

        out._backward = _backward
        return out
        ### END SOLUTION

    def __mul__(self, other):
        """self * other, elementwise, with numpy broadcasting."""
        other = as_tensor(other)
        ### BEGIN SOLUTION
        out = Tensor(self.data * other.data, parents=(self, other), op="*")

        def _backward():
            self.grad += unbroadcast(out.grad * other.data, self.shape)
            other.grad += unbroadcast(out.grad * self.data, other.shape)

        out._backward = _backward
        return out
        ### END SOLUTION

    def __matmul__(self, other):
        """self @ other, the matrix product of two 2-D tensors."""
        other = as_tensor(other)
        ### BEGIN SOLUTION
        out = Tensor(self.data @ other.data, parents=(self, other), op="@")

        def _backward():
            self.grad += out.grad @ other.data.T
            other.grad += self.data.T @ out.grad

        out._backward = _backward
        return out
        ### END SOLUTION

    def sum(self):
        """The sum of all elements, a tensor of shape ()."""
        ### BEGIN SOLUTION
        out = Tensor(self.data.sum(), parents=(self,), op="sum")

        def _backward():
            self.grad += np.broadcast_to(out.grad, self.shape)

        out._backward = _backward
        return out
        ### END SOLUTION

    def sigmoid(self):
        """1 / (1 + e ** -self), elementwise."""
        ### BEGIN SOLUTION
        out = Tensor(np.exp(-np.logaddexp(0.0, -self.data)), parents=(self,), op="sigmoid")

        def _backward():
            self.grad += out.grad * out.data * (1.0 - out.data)

        out._backward = _backward
        return out
        ### END SOLUTION

    # Built from the operations above: their gradients come for free.
    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-as_tensor(other))

    def __rsub__(self, other):
        return as_tensor(other) - self

    def mean(self):
        return self.sum() * (1.0 / self.data.size)

    def backward(self):
        """Fill the .grad of every tensor this one depends on (Exercise 2)."""
        backpropagate(self)


def topological_order(output):
    """Every tensor output depends on, each once, parents before children, output last."""
    ### BEGIN SOLUTION
    order, visited = [], set()
    stack = [(output, False)]
    while stack:
        tensor, parents_done = stack.pop()
        if parents_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        for parent in tensor._parents:
            if id(parent) not in visited:
                stack.append((parent, False))
    return order
    ### END SOLUTION


def backpropagate(output):
    """Fill every .grad in output's graph with d sum(output) / d tensor."""
    ### BEGIN SOLUTION
    order = topological_order(output)
    for tensor in order:
        tensor.grad = np.zeros_like(tensor.data)
    output.grad = np.ones_like(output.data)
    for tensor in reversed(order):
        tensor._backward()
    ### END SOLUTION
