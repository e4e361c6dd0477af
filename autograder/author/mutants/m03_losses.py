"""Wrong answers students give in "Losses"."""

from autograder.author.mutants import Mutant

# -- MSE ---------------------------------------------------------------------

_MSE_HEAD = '''
class MSE(Node):
    is_loss = True

    def __init__(self, y, a, name=None):
        super().__init__([y, a], name=name)
'''

_MSE_FORWARD = '''
    def forward(self):
        y, a = (np.asarray(node.value, dtype=float) for node in self.inbound_nodes)
        self.diff = y.reshape(-1, 1) - a.reshape(-1, 1)
        self.m = self.diff.shape[0]
        self.value = np.mean(self.diff ** 2)
'''

_MSE_BACKWARD = '''
    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {
            y: (2.0 / self.m * self.diff).reshape(np.shape(y.value)),
            a: (-2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        }
'''


def _mse(forward: str = _MSE_FORWARD, backward: str = _MSE_BACKWARD) -> str:
    return _MSE_HEAD + forward + backward


# -- softmax cross-entropy ---------------------------------------------------------

_SOFTMAX = '''
def _softmax(x):
    x = np.asarray(x, dtype=float)
    exps = np.exp(x - x.max(axis=1, keepdims=True))
    return exps / exps.sum(axis=1, keepdims=True)
'''

_CE_HEAD = '''

class CrossEntropyWithSoftmax(Node):
    is_loss = True

    def __init__(self, logits, labels, name=None):
        super().__init__([logits, labels], name=name)
'''

_CE_FORWARD = '''
    def forward(self):
        logits = np.asarray(self.inbound_nodes[0].value, dtype=float)
        labels = np.asarray(self.inbound_nodes[1].value)
        rows = np.arange(len(labels))
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        self.probabilities = _softmax(logits)
        self.value = np.mean(log_sum_exp - shifted[rows, labels])
'''

_CE_BACKWARD = '''
    def backward(self):
        logits, labels = self.inbound_nodes
        n = len(labels.value)
        onehot = np.zeros_like(self.probabilities)
        onehot[np.arange(n), labels.value] = 1.0
        self.gradients = {logits: (self.probabilities - onehot) / n,
                          labels: np.zeros(np.shape(labels.value))}
'''


def _ce(softmax: str = _SOFTMAX, forward: str = _CE_FORWARD, backward: str = _CE_BACKWARD
        ) -> str:
    return softmax + _CE_HEAD + forward + backward


MUTANTS = [
    # -- MSE ------------------------------------------------------------------
    Mutant("mse", "no reshape: (m,) minus (m, 1) broadcasts to (m, m)", _mse(forward='''
    def forward(self):
        y, a = self.inbound_nodes[0].value, self.inbound_nodes[1].value
        self.diff = y - a
        self.m = len(y)
        self.value = np.mean(self.diff ** 2)
''', backward='''
    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {y: 2.0 / self.m * self.diff, a: -2.0 / self.m * self.diff}
'''), also=("test_mse_backward",)),
    Mutant("mse", "reshapes only a to a column, not y", _mse(forward='''
    def forward(self):
        y, a = (np.asarray(node.value, dtype=float) for node in self.inbound_nodes)
        self.diff = y - a.reshape(-1, 1)
        self.m = len(a.reshape(-1))
        self.value = np.mean(self.diff ** 2)
''', backward='''
    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {
            y: (2.0 / self.m * self.diff).sum(axis=0).reshape(np.shape(y.value)),
            a: (-2.0 / self.m * self.diff).sum(axis=1).reshape(np.shape(a.value)),
        }
'''), also=("test_mse_backward",)),
    # Wrong in the forward only: the backward test must not be blamed for it.
    Mutant("mse", "forward sums the squares (the backward is right)", _mse(forward='''
    def forward(self):
        y, a = (np.asarray(node.value, dtype=float) for node in self.inbound_nodes)
        self.diff = y.reshape(-1, 1) - a.reshape(-1, 1)
        self.m = self.diff.shape[0]
        self.value = np.sum(self.diff ** 2)
''')),
    Mutant("mse", "sum instead of mean", _mse(forward='''
    def forward(self):
        y, a = (np.asarray(node.value, dtype=float) for node in self.inbound_nodes)
        self.diff = y.reshape(-1, 1) - a.reshape(-1, 1)
        self.m = self.diff.shape[0]
        self.value = np.sum(self.diff ** 2)
''', backward='''
    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {
            y: (2.0 * self.diff).reshape(np.shape(y.value)),
            a: (-2.0 * self.diff).reshape(np.shape(a.value)),
        }
'''), also=("test_mse_backward",)),
    Mutant("mse", "wrong sign of a's gradient", _mse(backward='''
    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {
            y: (2.0 / self.m * self.diff).reshape(np.shape(y.value)),
            a: (2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        }
''')),
    Mutant("mse", "both gradients with the wrong sign (diff taken as a - y)", _mse(backward='''
    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {
            y: (-2.0 / self.m * self.diff).reshape(np.shape(y.value)),
            a: (2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        }
''')),
    Mutant("mse", "missing the factor 2", _mse(backward='''
    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {
            y: (self.diff / self.m).reshape(np.shape(y.value)),
            a: (-self.diff / self.m).reshape(np.shape(a.value)),
        }
''')),
    Mutant("mse", "missing the division by m in the gradients", _mse(backward='''
    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {
            y: (2.0 * self.diff).reshape(np.shape(y.value)),
            a: (-2.0 * self.diff).reshape(np.shape(a.value)),
        }
''')),
    Mutant("mse", "gradients left as columns, not reshaped to the inputs' shapes", _mse(
        backward='''
    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {y: 2.0 / self.m * self.diff, a: -2.0 / self.m * self.diff}
''')),
    Mutant("mse", "loops over consumers like a layer: a loss has none, gradients stay zero",
           _mse(backward='''
    def backward(self):
        y, a = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            upstream = consumer.gradients[self]
            self.gradients[y] += (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value))
            self.gradients[a] -= (upstream * 2.0 / self.m * self.diff).reshape(np.shape(a.value))
''')),
    # -- softmax cross-entropy ------------------------------------------------------
    Mutant("cross_entropy", "unstable softmax and log: no shift by the maximum", _ce(softmax='''
def _softmax(x):
    exps = np.exp(x)
    return exps / exps.sum(axis=1, keepdims=True)
''', forward='''
    def forward(self):
        logits = np.asarray(self.inbound_nodes[0].value, dtype=float)
        labels = np.asarray(self.inbound_nodes[1].value)
        self.probabilities = _softmax(logits)
        rows = np.arange(len(labels))
        self.value = -np.mean(np.log(self.probabilities[rows, labels]))
'''), also=("test_cross_entropy_backward",)),
    Mutant("cross_entropy", "stable softmax but -log(softmax): log(0) for a very wrong class",
           _ce(forward='''
    def forward(self):
        logits = np.asarray(self.inbound_nodes[0].value, dtype=float)
        labels = np.asarray(self.inbound_nodes[1].value)
        self.probabilities = _softmax(logits)
        rows = np.arange(len(labels))
        self.value = -np.mean(np.log(self.probabilities[rows, labels]))
''')),
    Mutant("cross_entropy", "shifts by the maximum of the whole batch, not of each row",
           _ce(softmax='''
def _softmax(x):
    x = np.asarray(x, dtype=float)
    exps = np.exp(x - x.max())
    return exps / exps.sum(axis=1, keepdims=True)
''', forward='''
    def forward(self):
        logits = np.asarray(self.inbound_nodes[0].value, dtype=float)
        labels = np.asarray(self.inbound_nodes[1].value)
        rows = np.arange(len(labels))
        shifted = logits - logits.max()
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        self.probabilities = _softmax(logits)
        self.value = np.mean(log_sum_exp - shifted[rows, labels])
'''), also=("test_cross_entropy_backward",)),
    Mutant("cross_entropy", "softmax over the wrong axis (the batch)", _ce(softmax='''
def _softmax(x):
    x = np.asarray(x, dtype=float)
    exps = np.exp(x - x.max(axis=0, keepdims=True))
    return exps / exps.sum(axis=0, keepdims=True)
''', forward='''
    def forward(self):
        logits = np.asarray(self.inbound_nodes[0].value, dtype=float)
        labels = np.asarray(self.inbound_nodes[1].value)
        self.probabilities = _softmax(logits)
        rows = np.arange(len(labels))
        shifted = logits - logits.max(axis=0, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=0, keepdims=True))
        self.value = np.mean(log_sum_exp[0, labels] - shifted[rows, labels])
'''), also=("test_cross_entropy_backward",)),
    Mutant("cross_entropy", "sum over the batch instead of the mean", _ce(forward='''
    def forward(self):
        logits = np.asarray(self.inbound_nodes[0].value, dtype=float)
        labels = np.asarray(self.inbound_nodes[1].value)
        rows = np.arange(len(labels))
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        self.probabilities = _softmax(logits)
        self.value = np.sum(log_sum_exp - shifted[rows, labels])
''', backward='''
    def backward(self):
        logits, labels = self.inbound_nodes
        n = len(labels.value)
        onehot = np.zeros_like(self.probabilities)
        onehot[np.arange(n), labels.value] = 1.0
        self.gradients = {logits: self.probabilities - onehot,
                          labels: np.zeros(np.shape(labels.value))}
'''), also=("test_cross_entropy_backward",)),
    Mutant("cross_entropy", "gradient not divided by the batch size", _ce(backward='''
    def backward(self):
        logits, labels = self.inbound_nodes
        n = len(labels.value)
        onehot = np.zeros_like(self.probabilities)
        onehot[np.arange(n), labels.value] = 1.0
        self.gradients = {logits: self.probabilities - onehot,
                          labels: np.zeros(np.shape(labels.value))}
''')),
    Mutant("cross_entropy", "sign flipped: (onehot - softmax) / N", _ce(backward='''
    def backward(self):
        logits, labels = self.inbound_nodes
        n = len(labels.value)
        onehot = np.zeros_like(self.probabilities)
        onehot[np.arange(n), labels.value] = 1.0
        self.gradients = {logits: (onehot - self.probabilities) / n,
                          labels: np.zeros(np.shape(labels.value))}
''')),
    Mutant("cross_entropy", "subtracts 1 from whole columns: grad[:, labels] -= 1", _ce(
        backward='''
    def backward(self):
        logits, labels = self.inbound_nodes
        n = len(labels.value)
        grad = self.probabilities.copy()
        grad[:, labels.value] -= 1.0
        self.gradients = {logits: grad / n, labels: np.zeros(np.shape(labels.value))}
''')),
    Mutant("cross_entropy", "forgets the one-hot: gradient softmax / N", _ce(backward='''
    def backward(self):
        logits, labels = self.inbound_nodes
        n = len(labels.value)
        self.gradients = {logits: self.probabilities / n,
                          labels: np.zeros(np.shape(labels.value))}
''')),
    Mutant("cross_entropy", "no gradient for the labels", _ce(backward='''
    def backward(self):
        logits, labels = self.inbound_nodes
        n = len(labels.value)
        onehot = np.zeros_like(self.probabilities)
        onehot[np.arange(n), labels.value] = 1.0
        self.gradients = {logits: (self.probabilities - onehot) / n}
''')),
    Mutant("cross_entropy", "labels' gradient shaped like the logits", _ce(backward='''
    def backward(self):
        logits, labels = self.inbound_nodes
        n = len(labels.value)
        onehot = np.zeros_like(self.probabilities)
        onehot[np.arange(n), labels.value] = 1.0
        self.gradients = {logits: (self.probabilities - onehot) / n,
                          labels: np.zeros_like(self.probabilities)}
''')),
    Mutant("cross_entropy", "loops over consumers like a layer: a loss has none, gradients zero",
           _ce(backward='''
    def backward(self):
        logits, labels = self.inbound_nodes
        n = len(labels.value)
        onehot = np.zeros_like(self.probabilities)
        onehot[np.arange(n), labels.value] = 1.0
        self.gradients = {logits: np.zeros_like(self.probabilities),
                          labels: np.zeros(np.shape(labels.value))}
        for consumer in self.outbound_nodes:
            upstream = consumer.gradients[self]
            self.gradients[logits] += upstream * (self.probabilities - onehot) / n
''')),
]
