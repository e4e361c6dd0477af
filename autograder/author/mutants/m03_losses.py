"""Wrong answers students give in "Losses"."""

from autograder.author.mutants import Mutant

# How these mutants differ from the solution apart from their mistakes: each
# is kept as the self-check has always graded it.

# Mutants of MSE.backward do without `upstream` (a loss ends the graph) ...
_NO_UPSTREAM = ('''
    y, a = self.inbound_nodes
    upstream = 1.0
    ''', '''
    y, a = self.inbound_nodes
    ''')
# ... most of them in the gradients too.
_NO_UPSTREAM_FACTOR = [
    ("(upstream * 2.0 / self.m", "(2.0 / self.m"),
    ("(upstream * -2.0 / self.m", "(-2.0 / self.m"),
]

# Mutants of the cross-entropy take the softmax over axis 1 (the solution: axis -1, the same on a
# batch) ...
_SOFTMAX_AXIS_1 = ('''
    exps = np.exp(x - x.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)
    ''', '''
    exps = np.exp(x - x.max(axis=1, keepdims=True))
    return exps / exps.sum(axis=1, keepdims=True)
    ''')
# ... take the labels as given (no .astype(int)) and count the rows from them ...
_LABELS_AS_GIVEN = ('''
    labels = np.asarray(self.inbound_nodes[1].value).astype(int)
    rows = np.arange(logits.shape[0])
    ''', '''
    labels = np.asarray(self.inbound_nodes[1].value)
    rows = np.arange(len(labels))
    ''')
# ... and subtract a one-hot matrix in the backward (the solution subtracts 1 in place).
_ONE_HOT = ('''
    n = self.probabilities.shape[0]
    grad = self.probabilities.copy()
    grad[np.arange(n), np.asarray(labels.value).astype(int)] -= 1.0
    self.gradients = {logits: grad / n, labels: np.zeros(np.shape(labels.value))}
    ''', '''
    n = len(labels.value)
    onehot = np.zeros_like(self.probabilities)
    onehot[np.arange(n), labels.value] = 1.0
    self.gradients = {logits: (self.probabilities - onehot) / n,
                      labels: np.zeros(np.shape(labels.value))}
    ''')

MUTANTS = [
    # -- MSE ------------------------------------------------------------------
    Mutant("mse", "no reshape: (m,) minus (m, 1) broadcasts to (m, m)", [
        _NO_UPSTREAM,
        ('''
        y, a = (np.asarray(node.value, dtype=float) for node in self.inbound_nodes)
        self.diff = y.reshape(-1, 1) - a.reshape(-1, 1)
        self.m = self.diff.shape[0]
        ''', '''
        y, a = self.inbound_nodes[0].value, self.inbound_nodes[1].value
        self.diff = y - a
        self.m = len(y)
        '''),
        ('''
        self.gradients = {
            y: (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value)),
            a: (upstream * -2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        }
        ''', '''
        self.gradients = {y: 2.0 / self.m * self.diff, a: -2.0 / self.m * self.diff}
        '''),
    ], also=("test_mse_backward",)),
    Mutant("mse", "reshapes only a to a column, not y", [
        _NO_UPSTREAM,
        ('''
        self.diff = y.reshape(-1, 1) - a.reshape(-1, 1)
        self.m = self.diff.shape[0]
        ''', '''
        self.diff = y - a.reshape(-1, 1)
        self.m = len(a.reshape(-1))
        '''),
        ('''
        y: (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value)),
        a: (upstream * -2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        ''', '''
        y: (2.0 / self.m * self.diff).sum(axis=0).reshape(np.shape(y.value)),
        a: (-2.0 / self.m * self.diff).sum(axis=1).reshape(np.shape(a.value)),
        '''),
    ], also=("test_mse_backward",)),
    # Wrong in the forward only: the backward test must not be blamed for it.
    Mutant("mse", "forward sums the squares (the backward is right)", [
        _NO_UPSTREAM,
        *_NO_UPSTREAM_FACTOR,
        ("self.value = np.mean(self.diff ** 2)", "self.value = np.sum(self.diff ** 2)"),
    ]),
    Mutant("mse", "sum instead of mean", [
        _NO_UPSTREAM,
        ("self.value = np.mean(self.diff ** 2)", "self.value = np.sum(self.diff ** 2)"),
        ('''
        y: (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value)),
        a: (upstream * -2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        ''', '''
        y: (2.0 * self.diff).reshape(np.shape(y.value)),
        a: (-2.0 * self.diff).reshape(np.shape(a.value)),
        '''),
    ], also=("test_mse_backward",)),
    Mutant("mse", "wrong sign of a's gradient", [
        _NO_UPSTREAM,
        *_NO_UPSTREAM_FACTOR,
        ("a: (-2.0 / self.m * self.diff).reshape(np.shape(a.value)),",
         "a: (2.0 / self.m * self.diff).reshape(np.shape(a.value)),"),
    ]),
    Mutant("mse", "both gradients with the wrong sign (diff taken as a - y)", [
        _NO_UPSTREAM,
        ('''
        y: (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value)),
        a: (upstream * -2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        ''', '''
        y: (-2.0 / self.m * self.diff).reshape(np.shape(y.value)),
        a: (2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        '''),
    ]),
    Mutant("mse", "missing the factor 2", [
        _NO_UPSTREAM,
        ('''
        y: (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value)),
        a: (upstream * -2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        ''', '''
        y: (self.diff / self.m).reshape(np.shape(y.value)),
        a: (-self.diff / self.m).reshape(np.shape(a.value)),
        '''),
    ]),
    Mutant("mse", "missing the division by m in the gradients", [
        _NO_UPSTREAM,
        ('''
        y: (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value)),
        a: (upstream * -2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        ''', '''
        y: (2.0 * self.diff).reshape(np.shape(y.value)),
        a: (-2.0 * self.diff).reshape(np.shape(a.value)),
        '''),
    ]),
    Mutant("mse", "gradients left as columns, not reshaped to the inputs' shapes", [
        _NO_UPSTREAM,
        ('''
        self.gradients = {
            y: (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value)),
            a: (upstream * -2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        }
        ''', '''
        self.gradients = {y: 2.0 / self.m * self.diff, a: -2.0 / self.m * self.diff}
        '''),
    ]),
    Mutant("mse", "loops over consumers like a layer: a loss has none, gradients stay zero", [
        ('''
        upstream = 1.0
        self.gradients = {
            y: (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value)),
            a: (upstream * -2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        }
        ''', '''
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            upstream = consumer.gradients[self]
            self.gradients[y] += (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value))
            self.gradients[a] -= (upstream * 2.0 / self.m * self.diff).reshape(np.shape(a.value))
        '''),
    ]),
    # -- softmax cross-entropy ------------------------------------------------------
    Mutant("cross_entropy", "unstable softmax and log: no shift by the maximum", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ('''
        x = np.asarray(x, dtype=float)
        exps = np.exp(x - x.max(axis=1, keepdims=True))
        ''', '''
        exps = np.exp(x)
        '''),
        ('''
        rows = np.arange(len(labels))
        ''', '''
        self.probabilities = _softmax(logits)
        rows = np.arange(len(labels))
        '''),
        ('''
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        self.probabilities = _softmax(logits)
        self.value = np.mean(log_sum_exp - shifted[rows, labels])
        ''', '''
        self.value = -np.mean(np.log(self.probabilities[rows, labels]))
        '''),
    ], also=("test_cross_entropy_backward",)),
    Mutant("cross_entropy", "stable softmax but -log(softmax): log(0) for a very wrong class", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ('''
        rows = np.arange(len(labels))
        ''', '''
        self.probabilities = _softmax(logits)
        rows = np.arange(len(labels))
        '''),
        ('''
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        self.probabilities = _softmax(logits)
        self.value = np.mean(log_sum_exp - shifted[rows, labels])
        ''', '''
        self.value = -np.mean(np.log(self.probabilities[rows, labels]))
        '''),
    ]),
    Mutant("cross_entropy", "shifts by the maximum of the whole batch, not of each row", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ("exps = np.exp(x - x.max(axis=1, keepdims=True))", "exps = np.exp(x - x.max())"),
        ("shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits - logits.max()"),
    ], also=("test_cross_entropy_backward",)),
    Mutant("cross_entropy", "softmax over the wrong axis (the batch)", [
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ('''
        exps = np.exp(x - x.max(axis=-1, keepdims=True))
        return exps / exps.sum(axis=-1, keepdims=True)
        ''', '''
        exps = np.exp(x - x.max(axis=0, keepdims=True))
        return exps / exps.sum(axis=0, keepdims=True)
        '''),
        ('''
        rows = np.arange(len(labels))
        ''', '''
        self.probabilities = _softmax(logits)
        rows = np.arange(len(labels))
        '''),
        ('''
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        self.probabilities = _softmax(logits)
        self.value = np.mean(log_sum_exp - shifted[rows, labels])
        ''', '''
        shifted = logits - logits.max(axis=0, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=0, keepdims=True))
        self.value = np.mean(log_sum_exp[0, labels] - shifted[rows, labels])
        '''),
    ], also=("test_cross_entropy_backward",)),
    Mutant("cross_entropy", "sum over the batch instead of the mean", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ("self.value = np.mean(log_sum_exp - shifted[rows, labels])",
         "self.value = np.sum(log_sum_exp - shifted[rows, labels])"),
        ("self.gradients = {logits: (self.probabilities - onehot) / n,",
         "self.gradients = {logits: self.probabilities - onehot,"),
    ], also=("test_cross_entropy_backward",)),
    Mutant("cross_entropy", "gradient not divided by the batch size", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ("self.gradients = {logits: (self.probabilities - onehot) / n,",
         "self.gradients = {logits: self.probabilities - onehot,"),
    ]),
    Mutant("cross_entropy", "sign flipped: (onehot - softmax) / N", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ("self.gradients = {logits: (self.probabilities - onehot) / n,",
         "self.gradients = {logits: (onehot - self.probabilities) / n,"),
    ]),
    Mutant("cross_entropy", "subtracts 1 from whole columns: grad[:, labels] -= 1", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        ("n = self.probabilities.shape[0]", "n = len(labels.value)"),
        ("grad[np.arange(n), np.asarray(labels.value).astype(int)] -= 1.0",
         "grad[:, labels.value] -= 1.0"),
    ]),
    Mutant("cross_entropy", "forgets the one-hot: gradient softmax / N", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ('''
        onehot = np.zeros_like(self.probabilities)
        onehot[np.arange(n), labels.value] = 1.0
        self.gradients = {logits: (self.probabilities - onehot) / n,
        ''', '''
        self.gradients = {logits: self.probabilities / n,
        '''),
    ]),
    Mutant("cross_entropy", "no gradient for the labels", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ('''
        self.gradients = {logits: (self.probabilities - onehot) / n,
                          labels: np.zeros(np.shape(labels.value))}
        ''', '''
        self.gradients = {logits: (self.probabilities - onehot) / n}
        '''),
    ]),
    Mutant("cross_entropy", "labels' gradient shaped like the logits", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ("labels: np.zeros(np.shape(labels.value))}", "labels: np.zeros_like(self.probabilities)}"),
    ]),
    Mutant("cross_entropy", "loops over consumers like a layer: a loss has none, gradients zero", [
        _SOFTMAX_AXIS_1,
        _LABELS_AS_GIVEN,
        _ONE_HOT,
        ("self.gradients = {logits: (self.probabilities - onehot) / n,",
         "self.gradients = {logits: np.zeros_like(self.probabilities),"),
        ('''
                          labels: np.zeros(np.shape(labels.value))}
        ''', '''
                          labels: np.zeros(np.shape(labels.value))}
        for consumer in self.outbound_nodes:
            upstream = consumer.gradients[self]
            self.gradients[logits] += upstream * (self.probabilities - onehot) / n
        '''),
    ]),
    Mutant("cross_entropy", "gradient divided by every entry (N * classes), not by N", [
        ("self.gradients = {logits: grad / n,", "self.gradients = {logits: grad / grad.size,"),
    ]),
]
