"""Wrong answers students give in "Bonus: define-by-run autograd"."""

from autograder.author.mutants import Mutant

# The whole Tensor cell, right; each mutant changes one part of it (a mutant
# is the whole cell as a student would have written it).
_TENSOR = '''
class Tensor:
    def __init__(self, data, parents=(), op="", name=None):
        self.data = np.array(data, dtype=float)
        self.grad = np.zeros_like(self.data)
        self._parents = tuple(parents)
        self._backward = lambda: None
        self._op = op
        self.name = name

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Tensor({self.name or self._op or 'leaf'}, shape={self.shape})"

    def exp(self):
        out = Tensor(np.exp(self.data), parents=(self,), op="exp")

        def _backward():
            self.grad += out.grad * out.data

        out._backward = _backward
        return out

    def __add__(self, other):
        other = as_tensor(other)
        out = Tensor(self.data + other.data, parents=(self, other), op="+")

        def _backward():
            self.grad += unbroadcast(out.grad, self.shape)
            other.grad += unbroadcast(out.grad, other.shape)

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = as_tensor(other)
        out = Tensor(self.data * other.data, parents=(self, other), op="*")

        def _backward():
            self.grad += unbroadcast(out.grad * other.data, self.shape)
            other.grad += unbroadcast(out.grad * self.data, other.shape)

        out._backward = _backward
        return out

    def __matmul__(self, other):
        other = as_tensor(other)
        out = Tensor(self.data @ other.data, parents=(self, other), op="@")

        def _backward():
            self.grad += out.grad @ other.data.T
            other.grad += self.data.T @ out.grad

        out._backward = _backward
        return out

    def sum(self):
        out = Tensor(self.data.sum(), parents=(self,), op="sum")

        def _backward():
            self.grad += np.broadcast_to(out.grad, self.shape)

        out._backward = _backward
        return out

    def sigmoid(self):
        out = Tensor(np.exp(-np.logaddexp(0.0, -self.data)), parents=(self,), op="sigmoid")

        def _backward():
            self.grad += out.grad * out.data * (1.0 - out.data)

        out._backward = _backward
        return out

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
        backpropagate(self)
'''


def _tensor(*changes: tuple[str, str]) -> str:
    source = _TENSOR
    for old, new in changes:
        if source.count(old) != 1:
            raise ValueError(f"a mutant's change must match exactly once: {old!r}")
        source = source.replace(old, new)
    return source


_TOPOLOGICAL_ORDER = '''
def topological_order(output):
    order, visited = [], set()

    def visit(tensor):
        if id(tensor) in visited:
            return
        visited.add(id(tensor))
        for parent in tensor._parents:
            visit(parent)
        order.append(tensor)

    visit(output)
    return order
'''

_BACKPROPAGATE = '''
def backpropagate(output):
    order = topological_order(output)
    for tensor in order:
        tensor.grad = np.zeros_like(tensor.data)
    output.grad = np.ones_like(output.data)
    for tensor in reversed(order):
        tensor._backward()
'''

_TWO_LAYER_LOSS = '''
def two_layer_loss(X, y, params):
    hidden = (Tensor(X) @ params["W1"] + params["b1"]).sigmoid()
    prediction = (hidden @ params["W2"] + params["b2"]).sigmoid()
    error = prediction - np.reshape(y, (-1, 1))
    return (error * error).mean()
'''

_SGD_STEP = '''
def sgd_step(params, learning_rate):
    for tensor in params.values():
        tensor.data -= learning_rate * tensor.grad
'''

MUTANTS = [
    # -- Exercise 1: the operations, forward --------------------------------------
    Mutant("tensor", "a + b does not record its parents", _tensor(
        ('out = Tensor(self.data + other.data, parents=(self, other), op="+")',
         'out = Tensor(self.data + other.data, op="+")'))),
    Mutant("tensor", "a @ b multiplies elementwise", _tensor(
        ("out = Tensor(self.data @ other.data,", "out = Tensor(self.data * other.data,")),
        also=("test_tensor_backward",)),
    Mutant("tensor", "sum() returns a plain number, not a Tensor", _tensor(
        ('''        out = Tensor(self.data.sum(), parents=(self,), op="sum")

        def _backward():
            self.grad += np.broadcast_to(out.grad, self.shape)

        out._backward = _backward
        return out''', "        return self.data.sum()")), also=("test_tensor_backward",)),
    # Its backward multiplies by the (wrong) forward value: wrong in both tests.
    Mutant("tensor", "sigmoid with the wrong sign, 1 / (1 + e^x)", _tensor(
        ("out = Tensor(np.exp(-np.logaddexp(0.0, -self.data)),",
         "out = Tensor(1.0 / (1.0 + np.exp(self.data)),")), also=("test_tensor_backward",)),
    Mutant("tensor", "sigmoid as 1 / (1 + e^-x): overflows at large negative inputs", _tensor(
        ("out = Tensor(np.exp(-np.logaddexp(0.0, -self.data)),",
         "out = Tensor(1.0 / (1.0 + np.exp(-self.data)),"))),
    Mutant("tensor", "a * b returns the operand instead of a new Tensor", _tensor(
        ('''        out = Tensor(self.data * other.data, parents=(self, other), op="*")''',
         '''        self.data = self.data * other.data
        out = self''')), also=("test_tensor_backward",)),
    # -- Exercise 1: the local backward rules --------------------------------------
    Mutant("tensor", "mul overwrites .grad instead of accumulating (x * x gives x, not 2x)",
           _tensor(("self.grad += unbroadcast(out.grad * other.data, self.shape)",
                    "self.grad = unbroadcast(out.grad * other.data, self.shape)"),
                   ("other.grad += unbroadcast(out.grad * self.data, other.shape)",
                    "other.grad = unbroadcast(out.grad * self.data, other.shape)"))),
    Mutant("tensor", "add overwrites .grad instead of accumulating", _tensor(
        ("self.grad += unbroadcast(out.grad, self.shape)",
         "self.grad = unbroadcast(out.grad, self.shape)"),
        ("other.grad += unbroadcast(out.grad, other.shape)",
         "other.grad = unbroadcast(out.grad, other.shape)"))),
    Mutant("tensor", "add does not unbroadcast (rebinds .grad to the result's shape)", _tensor(
        ("self.grad += unbroadcast(out.grad, self.shape)",
         "self.grad = self.grad + out.grad"),
        ("other.grad += unbroadcast(out.grad, other.shape)",
         "other.grad = other.grad + out.grad"))),
    Mutant("tensor", "mul unbroadcasts only the first operand", _tensor(
        ("other.grad += unbroadcast(out.grad * self.data, other.shape)",
         "other.grad += out.grad * self.data"))),
    Mutant("tensor", "mul gradient uses the tensor's own value, not the other operand's",
           _tensor(("self.grad += unbroadcast(out.grad * other.data, self.shape)",
                    "self.grad += unbroadcast(out.grad * self.data, self.shape)"),
                   ("other.grad += unbroadcast(out.grad * self.data, other.shape)",
                    "other.grad += unbroadcast(out.grad * other.data, other.shape)"))),
    Mutant("tensor", "matmul gradient without the transposes", _tensor(
        ("self.grad += out.grad @ other.data.T", "self.grad += out.grad @ other.data"),
        ("other.grad += self.data.T @ out.grad", "other.grad += self.data @ out.grad"))),
    Mutant("tensor", "matmul gradient with the factors swapped", _tensor(
        ("self.grad += out.grad @ other.data.T", "self.grad += other.data.T @ out.grad"),
        ("other.grad += self.data.T @ out.grad", "other.grad += out.grad @ self.data.T"))),
    Mutant("tensor", "sum() gradient is the upstream number itself (wrong shape)", _tensor(
        ("self.grad += np.broadcast_to(out.grad, self.shape)", "self.grad = out.grad"))),
    Mutant("tensor", "sum() gradient ignores the upstream gradient", _tensor(
        ("self.grad += np.broadcast_to(out.grad, self.shape)",
         "self.grad += np.ones_like(self.data)"))),
    Mutant("tensor", "sigmoid derivative from the input instead of the output", _tensor(
        ("self.grad += out.grad * out.data * (1.0 - out.data)",
         "self.grad += out.grad * self.data * (1.0 - self.data)"))),
    Mutant("tensor", "sigmoid backward ignores the upstream gradient", _tensor(
        ("self.grad += out.grad * out.data * (1.0 - out.data)",
         "self.grad += out.data * (1.0 - out.data)"))),
    # -- Exercise 2: topological_order and backpropagate --------------------------
    Mutant("backpropagation", "backward in forward order (not reversed)",
           _TOPOLOGICAL_ORDER + _BACKPROPAGATE.replace("reversed(order)", "order")),
    Mutant("backpropagation", "forgets to seed the output's gradient with ones",
           _TOPOLOGICAL_ORDER + _BACKPROPAGATE.replace(
               "    output.grad = np.ones_like(output.data)\n", "")),
    Mutant("backpropagation", "does not zero the gradients first (stale gradients pile up)",
           _TOPOLOGICAL_ORDER + _BACKPROPAGATE.replace(
               "    for tensor in order:\n        tensor.grad = np.zeros_like(tensor.data)\n",
               "")),
    Mutant("backpropagation", "recursive backward that visits a shared parent twice",
           _TOPOLOGICAL_ORDER + '''
def backpropagate(output):
    for tensor in topological_order(output):
        tensor.grad = np.zeros_like(tensor.data)
    output.grad = np.ones_like(output.data)

    def visit(tensor):
        tensor._backward()
        for parent in tensor._parents:
            visit(parent)

    visit(output)
'''),
    Mutant("backpropagation", "depth-first search without a visited set (duplicates)", '''
def topological_order(output):
    order = []

    def visit(tensor):
        for parent in tensor._parents:
            visit(parent)
        order.append(tensor)

    visit(output)
    return order
''' + _BACKPROPAGATE),
    Mutant("backpropagation", "appends before visiting the parents, then reverses (pre-order)",
           '''
def topological_order(output):
    order, visited = [], set()

    def visit(tensor):
        if id(tensor) in visited:
            return
        visited.add(id(tensor))
        order.append(tensor)
        for parent in tensor._parents:
            visit(parent)

    visit(output)
    return order[::-1]
''' + _BACKPROPAGATE),
    Mutant("backpropagation", "breadth-first walk back from the output, reversed", '''
from collections import deque


def topological_order(output):
    order, seen, queue = [], {id(output)}, deque([output])
    while queue:
        tensor = queue.popleft()
        order.append(tensor)
        for parent in tensor._parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                queue.append(parent)
    return order[::-1]
''' + _BACKPROPAGATE),
    Mutant("backpropagation", "the order leaves out the leaves (only computed tensors)",
           _TOPOLOGICAL_ORDER.replace("        order.append(tensor)",
                                      "        if tensor._parents:\n"
                                      "            order.append(tensor)") + _BACKPROPAGATE),
    # -- Exercise 3: the loss and a training step ----------------------------------
    Mutant("training", "y not reshaped to a column: (n, 1) - (n,) broadcasts to (n, n)",
           _TWO_LAYER_LOSS.replace("np.reshape(y, (-1, 1))", "y") + _SGD_STEP),
    Mutant("training", "no sigmoid on the output layer", _TWO_LAYER_LOSS.replace(
        '(hidden @ params["W2"] + params["b2"]).sigmoid()',
        'hidden @ params["W2"] + params["b2"]') + _SGD_STEP),
    Mutant("training", "sum of the squared errors instead of the mean",
           _TWO_LAYER_LOSS.replace("(error * error).mean()", "(error * error).sum()")
           + _SGD_STEP),
    Mutant("training", "the hidden layer forgets its bias", _TWO_LAYER_LOSS.replace(
        '(Tensor(X) @ params["W1"] + params["b1"]).sigmoid()',
        '(Tensor(X) @ params["W1"]).sigmoid()') + _SGD_STEP),
    Mutant("training", "the loss is computed on .data (numpy), so nothing is recorded",
           _TWO_LAYER_LOSS.replace("error = prediction - np.reshape(y, (-1, 1))",
                                   "error = prediction.data - np.reshape(y, (-1, 1))")
           + _SGD_STEP),
    Mutant("training", "sgd_step adds the gradient (moves uphill)",
           _TWO_LAYER_LOSS + _SGD_STEP.replace("-=", "+=")),
    Mutant("training", "sgd_step forgets the learning rate",
           _TWO_LAYER_LOSS + _SGD_STEP.replace("learning_rate * tensor.grad", "tensor.grad")),
    Mutant("training", "sgd_step rebinds the loop variable, so nothing moves",
           _TWO_LAYER_LOSS + _SGD_STEP.replace(
               "tensor.data -= learning_rate * tensor.grad",
               "tensor = Tensor(tensor.data - learning_rate * tensor.grad)")),
]
