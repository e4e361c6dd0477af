"""Wrong answers students give in "Layers"."""

from autograder.author.mutants import Mutant

MUTANTS = [
    # -- Linear -------------------------------------------------------------
    Mutant("linear", "forward forgets the bias", [
        ("self.value = X @ W + b", "self.value = X @ W"),
    ]),
    Mutant("linear", "forward multiplies in the wrong order (W.T @ X.T, transposed output)", [
        ("self.value = X @ W + b", "self.value = W.T @ X.T + b[:, None]"),
        ("G = consumer.gradients[self]", "G = consumer.gradients[self].T"),
    ], also=("test_linear_backward",)),
    Mutant("linear", "bias gradient not summed over the batch", [
        ("self.gradients[b] += G.sum(axis=0)", "self.gradients[b] = self.gradients[b] + G"),
    ]),
    Mutant("linear", "bias gradient averaged over the batch instead of summed", [
        ("self.gradients[b] += G.sum(axis=0)", "self.gradients[b] += G.mean(axis=0)"),
    ]),
    Mutant("linear", "dW = G^T X (transposed, shape (n_out, n_in))", [
        ("self.gradients[W] += X.value.T @ G",
         "self.gradients[W] = self.gradients[W] + G.T @ X.value"),
    ]),
    Mutant("linear", "dX = G @ W (missing transpose)", [
        ("self.gradients[X] += G @ W.value.T", "self.gradients[X] += G @ W.value"),
    ]),
    Mutant("linear", "dX = W^T-shaped: W @ G.T (wrong order, transposed)", [
        ("self.gradients[X] += G @ W.value.T",
         "self.gradients[X] = self.gradients[X] + W.value @ G.T"),
    ]),
    Mutant("linear", "overwrites instead of adding over consumers", [
        ('''
        self.gradients[X] += G @ W.value.T
        self.gradients[W] += X.value.T @ G
        self.gradients[b] += G.sum(axis=0)
        ''', '''
        self.gradients[X] = G @ W.value.T
        self.gradients[W] = X.value.T @ G
        self.gradients[b] = G.sum(axis=0)
        '''),
    ]),
    Mutant("linear", "uses only the first consumer's gradient", [
        ('''
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        ...
            self.gradients[b] += G.sum(axis=0)
        ''', '''
        G = self.outbound_nodes[0].gradients[self]
        self.gradients = {X: G @ W.value.T, W: X.value.T @ G, b: G.sum(axis=0)}
        '''),
    ]),
    Mutant("linear", "ignores the upstream gradient", [
        ("G = consumer.gradients[self]", "G = np.ones_like(self.value)"),
    ]),
    # -- Sigmoid ------------------------------------------------------------
    Mutant("sigmoid", "naive 1 / (1 + exp(-x)): overflow warning at -1000", [
        ("return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))",
         "return 1 / (1 + np.exp(-x))"),
    ]),
    Mutant("sigmoid", "exp(x) / (1 + exp(x)): nan at +1000", [
        ("return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))",
         "return np.exp(x) / (1 + np.exp(x))"),
    ]),
    Mutant("sigmoid", "splits by sign with np.where, which evaluates both branches", [
        ('''
        return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))
        ''', '''
        x = np.asarray(x, dtype=float)
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))
        '''),
    ]),
    Mutant("sigmoid", "silences the warnings instead of fixing exp(x) / (1 + exp(x))", [
        ('''
        return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))
        ''', '''
        with np.errstate(all="ignore"):
            return np.exp(x) / (1 + np.exp(x))
        '''),
    ]),
    Mutant("sigmoid", "forward stores the input instead of its sigmoid", [
        ('''
        self.value = _sigmoid(self.inbound_nodes[0].value)
        ''', '''
        self.value = self.inbound_nodes[0].value
        self.output = _sigmoid(self.value)
        '''),
        ("s = self.value", "s = self.output"),
    ]),
    Mutant("sigmoid", "derivative from the input: x * (1 - x)", [
        ('''
        s = self.value
        ''', ""),
        ("self.gradients[x] += consumer.gradients[self] * s * (1.0 - s)",
         "self.gradients[x] += consumer.gradients[self] * x.value * (1.0 - x.value)"),
    ]),
    Mutant("sigmoid", "derivative s * (1 - x) mixes output and input", [
        ("self.gradients[x] += consumer.gradients[self] * s * (1.0 - s)",
         "self.gradients[x] += consumer.gradients[self] * s * (1.0 - x.value)"),
    ]),
    Mutant("sigmoid", "overwrites instead of adding over consumers", [
        ('''
        self.gradients = {x: np.zeros_like(x.value, dtype=float)}
        ''', ""),
        ("self.gradients[x] += consumer.gradients[self] * s * (1.0 - s)",
         "self.gradients = {x: consumer.gradients[self] * s * (1.0 - s)}"),
    ]),
    Mutant("sigmoid", "ignores the upstream gradient", [
        ("self.gradients[x] += consumer.gradients[self] * s * (1.0 - s)",
         "self.gradients[x] += s * (1.0 - s)"),
    ]),
    Mutant("sigmoid", "forgets the (1 - s) factor", [
        ("self.gradients[x] += consumer.gradients[self] * s * (1.0 - s)",
         "self.gradients[x] += consumer.gradients[self] * s"),
    ]),
]
