"""Wrong answers students give in "Layers"."""

from autograder.author.mutants import Mutant

# The parts of each cell a mutant does not change, written out in full: a
# mutant is the whole cell as a student would have written it.
_LINEAR_HEAD = '''
class Linear(Node):
    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name=name)

    def forward(self):
        X, W, b = (node.value for node in self.inbound_nodes)
        self.value = X @ W + b
'''


def _linear(backward: str, forward: str = "") -> str:
    head = _LINEAR_HEAD
    if forward:
        head = head.split("    def forward")[0].rstrip("\n") + "\n" + forward
    return head + backward


def _sigmoid(function: str, backward: str = "", forward: str = "") -> str:
    forward = forward or '''
    def forward(self):
        self.value = _sigmoid(self.inbound_nodes[0].value)
'''
    backward = backward or '''
    def backward(self):
        (x,) = self.inbound_nodes
        s = self.value
        self.gradients = {x: np.zeros_like(x.value, dtype=float)}
        for consumer in self.outbound_nodes:
            self.gradients[x] += consumer.gradients[self] * s * (1.0 - s)
'''
    return function + '''

class Sigmoid(Node):
    def __init__(self, node, name=None):
        super().__init__([node], name=name)
''' + forward + backward


_STABLE_SIGMOID = '''
def _sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))
'''

MUTANTS = [
    # -- Linear -------------------------------------------------------------
    Mutant("linear", "forward forgets the bias", _linear('''
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            G = consumer.gradients[self]
            self.gradients[X] += G @ W.value.T
            self.gradients[W] += X.value.T @ G
            self.gradients[b] += G.sum(axis=0)
''', forward='''
    def forward(self):
        X, W, b = (node.value for node in self.inbound_nodes)
        self.value = X @ W
''')),
    Mutant("linear", "forward multiplies in the wrong order (W.T @ X.T, transposed output)",
           _linear('''
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            G = consumer.gradients[self].T
            self.gradients[X] += G @ W.value.T
            self.gradients[W] += X.value.T @ G
            self.gradients[b] += G.sum(axis=0)
''', forward='''
    def forward(self):
        X, W, b = (node.value for node in self.inbound_nodes)
        self.value = W.T @ X.T + b[:, None]
'''), also=("test_linear_backward",)),
    Mutant("linear", "bias gradient not summed over the batch", _linear('''
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            G = consumer.gradients[self]
            self.gradients[X] += G @ W.value.T
            self.gradients[W] += X.value.T @ G
            self.gradients[b] = self.gradients[b] + G
''')),
    Mutant("linear", "bias gradient averaged over the batch instead of summed", _linear('''
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            G = consumer.gradients[self]
            self.gradients[X] += G @ W.value.T
            self.gradients[W] += X.value.T @ G
            self.gradients[b] += G.mean(axis=0)
''')),
    Mutant("linear", "dW = G^T X (transposed, shape (n_out, n_in))", _linear('''
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            G = consumer.gradients[self]
            self.gradients[X] += G @ W.value.T
            self.gradients[W] = self.gradients[W] + G.T @ X.value
            self.gradients[b] += G.sum(axis=0)
''')),
    Mutant("linear", "dX = G @ W (missing transpose)", _linear('''
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            G = consumer.gradients[self]
            self.gradients[X] += G @ W.value
            self.gradients[W] += X.value.T @ G
            self.gradients[b] += G.sum(axis=0)
''')),
    Mutant("linear", "dX = W^T-shaped: W @ G.T (wrong order, transposed)", _linear('''
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            G = consumer.gradients[self]
            self.gradients[X] = self.gradients[X] + W.value @ G.T
            self.gradients[W] += X.value.T @ G
            self.gradients[b] += G.sum(axis=0)
''')),
    Mutant("linear", "overwrites instead of adding over consumers", _linear('''
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            G = consumer.gradients[self]
            self.gradients[X] = G @ W.value.T
            self.gradients[W] = X.value.T @ G
            self.gradients[b] = G.sum(axis=0)
''')),
    Mutant("linear", "uses only the first consumer's gradient", _linear('''
    def backward(self):
        X, W, b = self.inbound_nodes
        G = self.outbound_nodes[0].gradients[self]
        self.gradients = {X: G @ W.value.T, W: X.value.T @ G, b: G.sum(axis=0)}
''')),
    Mutant("linear", "ignores the upstream gradient", _linear('''
    def backward(self):
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            G = np.ones_like(self.value)
            self.gradients[X] += G @ W.value.T
            self.gradients[W] += X.value.T @ G
            self.gradients[b] += G.sum(axis=0)
''')),
    # -- Sigmoid ------------------------------------------------------------
    Mutant("sigmoid", "naive 1 / (1 + exp(-x)): overflow warning at -1000", _sigmoid('''
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))
''')),
    Mutant("sigmoid", "exp(x) / (1 + exp(x)): nan at +1000", _sigmoid('''
def _sigmoid(x):
    return np.exp(x) / (1 + np.exp(x))
''')),
    Mutant("sigmoid", "splits by sign with np.where, which evaluates both branches",
           _sigmoid('''
def _sigmoid(x):
    x = np.asarray(x, dtype=float)
    return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))
''')),
    Mutant("sigmoid", "silences the warnings instead of fixing exp(x) / (1 + exp(x))",
           _sigmoid('''
def _sigmoid(x):
    with np.errstate(all="ignore"):
        return np.exp(x) / (1 + np.exp(x))
''')),
    Mutant("sigmoid", "forward stores the input instead of its sigmoid", _sigmoid(
        _STABLE_SIGMOID, forward='''
    def forward(self):
        self.value = self.inbound_nodes[0].value
        self.output = _sigmoid(self.value)
''', backward='''
    def backward(self):
        (x,) = self.inbound_nodes
        s = self.output
        self.gradients = {x: np.zeros_like(x.value, dtype=float)}
        for consumer in self.outbound_nodes:
            self.gradients[x] += consumer.gradients[self] * s * (1.0 - s)
''')),
    Mutant("sigmoid", "derivative from the input: x * (1 - x)", _sigmoid(_STABLE_SIGMOID, '''
    def backward(self):
        (x,) = self.inbound_nodes
        self.gradients = {x: np.zeros_like(x.value, dtype=float)}
        for consumer in self.outbound_nodes:
            self.gradients[x] += consumer.gradients[self] * x.value * (1.0 - x.value)
''')),
    Mutant("sigmoid", "derivative s * (1 - x) mixes output and input", _sigmoid(
        _STABLE_SIGMOID, '''
    def backward(self):
        (x,) = self.inbound_nodes
        s = self.value
        self.gradients = {x: np.zeros_like(x.value, dtype=float)}
        for consumer in self.outbound_nodes:
            self.gradients[x] += consumer.gradients[self] * s * (1.0 - x.value)
''')),
    Mutant("sigmoid", "overwrites instead of adding over consumers", _sigmoid(_STABLE_SIGMOID, '''
    def backward(self):
        (x,) = self.inbound_nodes
        s = self.value
        for consumer in self.outbound_nodes:
            self.gradients = {x: consumer.gradients[self] * s * (1.0 - s)}
''')),
    Mutant("sigmoid", "ignores the upstream gradient", _sigmoid(_STABLE_SIGMOID, '''
    def backward(self):
        (x,) = self.inbound_nodes
        s = self.value
        self.gradients = {x: np.zeros_like(x.value, dtype=float)}
        for consumer in self.outbound_nodes:
            self.gradients[x] += s * (1.0 - s)
''')),
    Mutant("sigmoid", "forgets the (1 - s) factor", _sigmoid(_STABLE_SIGMOID, '''
    def backward(self):
        (x,) = self.inbound_nodes
        s = self.value
        self.gradients = {x: np.zeros_like(x.value, dtype=float)}
        for consumer in self.outbound_nodes:
            self.gradients[x] += consumer.gradients[self] * s
''')),
]
