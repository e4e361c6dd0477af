"""Wrong answers students give in "Bonus: define-by-run autograd"."""

from autograder.author.mutants import Mutant

# How these mutants differ from the solution apart from their mistakes: each
# is kept as the self-check has always graded it.

# Mutants of backpropagation visit the parents recursively (the solution keeps a stack) ...
_RECURSIVE = ('''
    order, visited = [], set()
    stack = [(output, False)]
    ...
    return order
    ''', '''
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
    ''')
# ... and leave one blank line between the functions, not two.
_ONE_BLANK_BEFORE_BACKPROPAGATE = ('''
        return order


    def backpropagate(output):
    ''', '''
        return order

    def backpropagate(output):
    ''')

# Mutants of two_layer_loss leave the input Tensor unnamed ...
_X_UNNAMED = ('hidden = (Tensor(X, name="X") @ params["W1"] + params["b1"]).sigmoid()',
              'hidden = (Tensor(X) @ params["W1"] + params["b1"]).sigmoid()')
# ... and leave one blank line between the functions, not two.
_ONE_BLANK_BEFORE_SGD_STEP = ('''
        return (error * error).mean()


    def sgd_step(params, learning_rate):
    ''', '''
        return (error * error).mean()

    def sgd_step(params, learning_rate):
    ''')

MUTANTS = [
    # -- Exercise 1: the operations, forward --------------------------------------
    Mutant("tensor", "a + b does not record its parents", [
        ('out = Tensor(self.data + other.data, parents=(self, other), op="+")',
         'out = Tensor(self.data + other.data, op="+")'),
    ]),
    Mutant("tensor", "a @ b multiplies elementwise", [
        ('out = Tensor(self.data @ other.data, parents=(self, other), op="@")',
         'out = Tensor(self.data * other.data, parents=(self, other), op="@")'),
    ], also=("test_tensor_backward",)),
    Mutant("tensor", "sum() returns a plain number, not a Tensor", [
        ('''
        out = Tensor(self.data.sum(), parents=(self,), op="sum")
        ...
        return out
        ''', '''
        return self.data.sum()
        '''),
    ], also=("test_tensor_backward",)),
    # Its backward multiplies by the (wrong) forward value: wrong in both tests.
    Mutant("tensor", "sigmoid with the wrong sign, 1 / (1 + e^x)", [
        ('out = Tensor(np.exp(-np.logaddexp(0.0, -self.data)), parents=(self,), op="sigmoid")',
         'out = Tensor(1.0 / (1.0 + np.exp(self.data)), parents=(self,), op="sigmoid")'),
    ], also=("test_tensor_backward",)),
    Mutant("tensor", "sigmoid as 1 / (1 + e^-x): overflows at large negative inputs", [
        ('out = Tensor(np.exp(-np.logaddexp(0.0, -self.data)), parents=(self,), op="sigmoid")',
         'out = Tensor(1.0 / (1.0 + np.exp(-self.data)), parents=(self,), op="sigmoid")'),
    ]),
    Mutant("tensor", "a * b returns the operand instead of a new Tensor", [
        ('''
        out = Tensor(self.data * other.data, parents=(self, other), op="*")
        ''', '''
        self.data = self.data * other.data
        out = self
        '''),
    ], also=("test_tensor_backward",)),
    # -- Exercise 1: the local backward rules --------------------------------------
    Mutant("tensor", "mul overwrites .grad instead of accumulating (x * x gives x, not 2x)", [
        ('''
        self.grad += unbroadcast(out.grad * other.data, self.shape)
        other.grad += unbroadcast(out.grad * self.data, other.shape)
        ''', '''
        self.grad = unbroadcast(out.grad * other.data, self.shape)
        other.grad = unbroadcast(out.grad * self.data, other.shape)
        '''),
    ]),
    Mutant("tensor", "add overwrites .grad instead of accumulating", [
        ('''
        self.grad += unbroadcast(out.grad, self.shape)
        other.grad += unbroadcast(out.grad, other.shape)
        ''', '''
        self.grad = unbroadcast(out.grad, self.shape)
        other.grad = unbroadcast(out.grad, other.shape)
        '''),
    ]),
    Mutant("tensor", "add does not unbroadcast (rebinds .grad to the result's shape)", [
        ('''
        self.grad += unbroadcast(out.grad, self.shape)
        other.grad += unbroadcast(out.grad, other.shape)
        ''', '''
        self.grad = self.grad + out.grad
        other.grad = other.grad + out.grad
        '''),
    ]),
    Mutant("tensor", "mul unbroadcasts only the first operand", [
        ("other.grad += unbroadcast(out.grad * self.data, other.shape)",
         "other.grad += out.grad * self.data"),
    ]),
    Mutant("tensor", "mul gradient uses the tensor's own value, not the other operand's", [
        ('''
        self.grad += unbroadcast(out.grad * other.data, self.shape)
        other.grad += unbroadcast(out.grad * self.data, other.shape)
        ''', '''
        self.grad += unbroadcast(out.grad * self.data, self.shape)
        other.grad += unbroadcast(out.grad * other.data, other.shape)
        '''),
    ]),
    Mutant("tensor", "matmul gradient without the transposes", [
        ('''
        self.grad += out.grad @ other.data.T
        other.grad += self.data.T @ out.grad
        ''', '''
        self.grad += out.grad @ other.data
        other.grad += self.data @ out.grad
        '''),
    ]),
    Mutant("tensor", "matmul gradient with the factors swapped", [
        ('''
        self.grad += out.grad @ other.data.T
        other.grad += self.data.T @ out.grad
        ''', '''
        self.grad += other.data.T @ out.grad
        other.grad += out.grad @ self.data.T
        '''),
    ]),
    Mutant("tensor", "sum() gradient is the upstream number itself (wrong shape)", [
        ("self.grad += np.broadcast_to(out.grad, self.shape)", "self.grad = out.grad"),
    ]),
    Mutant("tensor", "sum() gradient ignores the upstream gradient", [
        ("self.grad += np.broadcast_to(out.grad, self.shape)",
         "self.grad += np.ones_like(self.data)"),
    ]),
    Mutant("tensor", "sigmoid derivative from the input instead of the output", [
        ("self.grad += out.grad * out.data * (1.0 - out.data)",
         "self.grad += out.grad * self.data * (1.0 - self.data)"),
    ]),
    Mutant("tensor", "sigmoid backward ignores the upstream gradient", [
        ("self.grad += out.grad * out.data * (1.0 - out.data)",
         "self.grad += out.data * (1.0 - out.data)"),
    ]),
    # -- Exercise 2: topological_order and backpropagate --------------------------
    Mutant("backpropagation", "backward in forward order (not reversed)", [
        _RECURSIVE,
        _ONE_BLANK_BEFORE_BACKPROPAGATE,
        ("for tensor in reversed(order):", "for tensor in order:"),
    ]),
    Mutant("backpropagation", "forgets to seed the output's gradient with ones", [
        _RECURSIVE,
        _ONE_BLANK_BEFORE_BACKPROPAGATE,
        ('''
        output.grad = np.ones_like(output.data)
        ''', ""),
    ]),
    Mutant("backpropagation", "does not zero the gradients first (stale gradients pile up)", [
        _RECURSIVE,
        _ONE_BLANK_BEFORE_BACKPROPAGATE,
        ('''
        for tensor in order:
            tensor.grad = np.zeros_like(tensor.data)
        ''', ""),
    ]),
    Mutant("backpropagation", "recursive backward that visits a shared parent twice", [
        _RECURSIVE,
        _ONE_BLANK_BEFORE_BACKPROPAGATE,
        ('''
        order = topological_order(output)
        for tensor in order:
        ''', '''
        for tensor in topological_order(output):
        '''),
        ('''
        output.grad = np.ones_like(output.data)
        for tensor in reversed(order):
        ''', '''
        output.grad = np.ones_like(output.data)

        def visit(tensor):
        '''),
        ('''
            tensor._backward()
        ''', '''
            tensor._backward()
            for parent in tensor._parents:
                visit(parent)

        visit(output)
        '''),
    ]),
    Mutant("backpropagation", "depth-first search without a visited set (duplicates)", [
        _RECURSIVE,
        _ONE_BLANK_BEFORE_BACKPROPAGATE,
        ("order, visited = [], set()", "order = []"),
        ('''
        if id(tensor) in visited:
            return
        visited.add(id(tensor))
        ''', ""),
    ]),
    Mutant("backpropagation", "appends before visiting the parents, then reverses (pre-order)", [
        _RECURSIVE,
        _ONE_BLANK_BEFORE_BACKPROPAGATE,
        ('''
        for parent in tensor._parents:
        ''', '''
        order.append(tensor)
        for parent in tensor._parents:
        '''),
        ('''
            visit(parent)
        order.append(tensor)
        ''', '''
            visit(parent)
        '''),
        ("return order", "return order[::-1]"),
    ]),
    Mutant("backpropagation", "breadth-first walk back from the output, reversed", [
        ('''
        def topological_order(output):
        ''', '''
        from collections import deque


        def topological_order(output):
        '''),
        ('''
        order, visited = [], set()
        ...
            stack.append((tensor, True))
        ''', '''
        order, seen, queue = [], {id(output)}, deque([output])
        while queue:
            tensor = queue.popleft()
            order.append(tensor)
        '''),
        ('''
                    if id(parent) not in visited:
                        stack.append((parent, False))
            return order


        def backpropagate(output):
        ''', '''
                    if id(parent) not in seen:
                        seen.add(id(parent))
                        queue.append(parent)
            return order[::-1]

        def backpropagate(output):
        '''),
    ]),
    Mutant("backpropagation", "the order leaves out the leaves (only computed tensors)", [
        _RECURSIVE,
        _ONE_BLANK_BEFORE_BACKPROPAGATE,
        ('''
        order.append(tensor)
        ''', '''
        if tensor._parents:
            order.append(tensor)
        '''),
    ]),
    # -- Exercise 3: the loss and a training step ----------------------------------
    Mutant("training", "y not reshaped to a column: (n, 1) - (n,) broadcasts to (n, n)", [
        _X_UNNAMED,
        _ONE_BLANK_BEFORE_SGD_STEP,
        ("error = prediction - np.reshape(y, (-1, 1))", "error = prediction - y"),
    ]),
    Mutant("training", "no sigmoid on the output layer", [
        _X_UNNAMED,
        _ONE_BLANK_BEFORE_SGD_STEP,
        ('prediction = (hidden @ params["W2"] + params["b2"]).sigmoid()',
         'prediction = hidden @ params["W2"] + params["b2"]'),
    ]),
    Mutant("training", "sum of the squared errors instead of the mean", [
        _X_UNNAMED,
        _ONE_BLANK_BEFORE_SGD_STEP,
        ("return (error * error).mean()", "return (error * error).sum()"),
    ]),
    Mutant("training", "the hidden layer forgets its bias", [
        _ONE_BLANK_BEFORE_SGD_STEP,
        ('hidden = (Tensor(X, name="X") @ params["W1"] + params["b1"]).sigmoid()',
         'hidden = (Tensor(X) @ params["W1"]).sigmoid()'),
    ]),
    Mutant("training", "the loss is computed on .data (numpy), so nothing is recorded", [
        _X_UNNAMED,
        _ONE_BLANK_BEFORE_SGD_STEP,
        ("error = prediction - np.reshape(y, (-1, 1))",
         "error = prediction.data - np.reshape(y, (-1, 1))"),
    ]),
    Mutant("training", "sgd_step adds the gradient (moves uphill)", [
        _X_UNNAMED,
        _ONE_BLANK_BEFORE_SGD_STEP,
        ("tensor.data -= learning_rate * tensor.grad",
         "tensor.data += learning_rate * tensor.grad"),
    ]),
    Mutant("training", "sgd_step forgets the learning rate", [
        _X_UNNAMED,
        _ONE_BLANK_BEFORE_SGD_STEP,
        ("tensor.data -= learning_rate * tensor.grad", "tensor.data -= tensor.grad"),
    ]),
    Mutant("training", "sgd_step rebinds the loop variable, so nothing moves", [
        _X_UNNAMED,
        _ONE_BLANK_BEFORE_SGD_STEP,
        ("tensor.data -= learning_rate * tensor.grad",
         "tensor = Tensor(tensor.data - learning_rate * tensor.grad)"),
    ]),
    Mutant("training", "the hidden layer computed on .data (numpy) cuts the graph", [
        ('hidden = (Tensor(X, name="X") @ params["W1"] + params["b1"]).sigmoid()',
         'hidden = Tensor(1 / (1 + np.exp(-(X @ params["W1"].data + params["b1"].data))))'),
    ]),
]
