"""A define-by-run tensor: the reference answer to "Autograd" (06_autograd).

Students write their own ``Tensor`` in the notebook; this one is the grader's.
Tests of the exercises built on ``Tensor`` (``backpropagate``, the two-layer
loss, the training step) run on it, so that a slip in a student's ``Tensor``
costs only the ``Tensor`` exercise. It has the notebook's interface:
``Tensor(data, parents=(), op="", name=None)`` with ``data``, ``grad``,
``_parents``, ``_backward`` and ``_op``.

Each operation computes its result and, right beside it, the rule that
passes the result's gradient on to its parents (``_backward``); a parent
that is used twice gets both contributions, because gradients are *added*.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from miniflow.nodes import _sigmoid, unbroadcast

__all__ = ["Tensor", "backpropagate", "topological_order"]


class Tensor:
    """A numpy array that records how it was computed."""

    def __init__(self, data: Any, parents: Sequence[Tensor] = (), op: str = "",
                 name: str | None = None) -> None:
        self.data = np.array(data, dtype=float)
        self.grad = np.zeros_like(self.data)
        self._parents = tuple(parents)
        self._backward: Callable[[], None] = lambda: None
        self._op = op
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Tensor({self.name or self._op or 'leaf'}, shape={self.shape})"

    def _as_tensor(self, value: Any) -> Tensor:
        return value if isinstance(value, Tensor) else type(self)(value)

    def _result(self, data: Any, parents: tuple[Tensor, ...], op: str,
                shares: Callable[[np.ndarray], tuple[Any, ...]]) -> Tensor:
        """A new tensor from ``parents``; ``shares(out.grad)`` is each parent's part."""
        out = type(self)(data, parents=parents, op=op)

        def _backward() -> None:
            for parent, share in zip(parents, shares(out.grad)):
                parent.grad = parent.grad + unbroadcast(share, parent.shape)

        out._backward = _backward
        return out

    def __add__(self, other: Any) -> Tensor:
        other = self._as_tensor(other)
        return self._result(self.data + other.data, (self, other), "+", lambda g: (g, g))

    def __mul__(self, other: Any) -> Tensor:
        other = self._as_tensor(other)
        return self._result(self.data * other.data, (self, other), "*",
                            lambda g: (g * other.data, g * self.data))

    def __matmul__(self, other: Any) -> Tensor:
        other = self._as_tensor(other)
        return self._result(self.data @ other.data, (self, other), "@",
                            lambda g: (g @ other.data.T, self.data.T @ g))

    def sum(self) -> Tensor:
        return self._result(self.data.sum(), (self,), "sum",
                            lambda g: (np.broadcast_to(g, self.shape),))

    def exp(self) -> Tensor:
        value = np.exp(self.data)
        return self._result(value, (self,), "exp", lambda g: (g * value,))

    def sigmoid(self) -> Tensor:
        s = _sigmoid(self.data)  # stable at any size of input
        return self._result(s, (self,), "sigmoid", lambda g: (g * s * (1.0 - s),))

    def __radd__(self, other: Any) -> Tensor:
        return self + other

    def __rmul__(self, other: Any) -> Tensor:
        return self * other

    def __neg__(self) -> Tensor:
        return self * -1.0

    def __sub__(self, other: Any) -> Tensor:
        return self + (-self._as_tensor(other))

    def __rsub__(self, other: Any) -> Tensor:
        return self._as_tensor(other) - self

    def mean(self) -> Tensor:
        return self.sum() * (1.0 / self.data.size)

    def backward(self) -> None:
        backpropagate(self)


def topological_order(output: Any) -> list[Any]:
    """Every tensor ``output`` depends on, each once, parents first, ``output`` last."""
    order: list[Any] = []
    done: set[int] = set()
    stack: list[tuple[Any, bool]] = [(output, False)]
    while stack:  # a stack of our own: a long chain needs no deep recursion
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in done:
            continue
        done.add(id(tensor))
        stack.append((tensor, True))
        stack.extend((parent, False) for parent in tensor._parents if id(parent) not in done)
    return order


def backpropagate(output: Any) -> None:
    """Zero every gradient of ``output``'s graph, seed ``output.grad`` with ones,
    then run each local rule once, children before parents."""
    order = topological_order(output)
    for tensor in order:
        tensor.grad = np.zeros(np.shape(tensor.data))
    output.grad = np.ones(np.shape(output.data))
    for tensor in reversed(order):
        tensor._backward()
