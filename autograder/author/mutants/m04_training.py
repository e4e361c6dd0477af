"""Wrong answers students give in "Training"."""

from autograder.author.mutants import Mutant


def _sgd(body: str) -> str:
    return '''
def sgd_update(trainables, learning_rate=0.1):
''' + body


_EPOCH_HEAD = '''
def train_epoch(graph, cost, X_node, y_node, trainables, X, y, batch_size=32,
                learning_rate=0.1, seed=0):
'''


def _epoch(body: str) -> str:
    return _EPOCH_HEAD + body


_EPOCH_BODY = '''
    order = np.random.default_rng(seed).permutation(len(X))
    losses = []
    for start in range(0, len(X), batch_size):
        rows = order[start:start + batch_size]
        X_node.value, y_node.value = X[rows], y[rows]
        losses.append(forward_and_backward(graph, output=cost, trainables=trainables))
        sgd_update(trainables, learning_rate)
    return float(np.mean(losses))
'''

# The solution of train_xor; each mutant changes one line of it.
_XOR = '''
def train_xor(X, y, seed=0):
    n_hidden, epochs, batch_size, learning_rate = 8, 100, 20, 1.0
    rng = np.random.default_rng(seed)
    X_node, labels = Input("X"), Input("labels")
    W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
    hidden = Sigmoid(Linear(X_node, W1, b1, name="hidden"), name="sigmoid")
    logits = Linear(hidden, W2, b2, name="logits")
    cost = CrossEntropyWithSoftmax(logits, labels, name="cost")
    trainables = [W1, b1, W2, b2]
    graph = topological_sort({
        X_node: X, labels: y,
        W1: rng.normal(size=(2, n_hidden)), b1: np.zeros(n_hidden),
        W2: rng.normal(size=(n_hidden, 2)) / np.sqrt(n_hidden), b2: np.zeros(2),
    })
    history = [train_epoch(graph, cost, X_node, labels, trainables, X, y, batch_size,
                           learning_rate, seed=seed + epoch) for epoch in range(epochs)]
    up_to_logits = graph[:graph.index(logits) + 1]

    def predict(points):
        X_node.value = points
        return mf.forward_pass(logits, up_to_logits).argmax(axis=1)

    return predict, history
'''


def _xor(old: str, new: str) -> str:
    assert old in _XOR, old
    return _XOR.replace(old, new)


MUTANTS = [
    # -- sgd_update ---------------------------------------------------------
    Mutant("sgd_update", "adds the gradient (walks uphill)", _sgd('''
    for node in trainables:
        node.value = node.value + learning_rate * node.gradients[node]
''')),
    Mutant("sgd_update", "forgets the learning rate", _sgd('''
    for node in trainables:
        node.value = node.value - node.gradients[node]
''')),
    Mutant("sgd_update", "rebinds a local name, so the node never changes", _sgd('''
    for node in trainables:
        value = node.value
        value = value - learning_rate * node.gradients[node]
''')),
    Mutant("sgd_update", "hard-codes the default learning rate", _sgd('''
    for node in trainables:
        node.value = node.value - 0.1 * node.gradients[node]
''')),
    Mutant("sgd_update", "returns inside the loop, after the first node", _sgd('''
    for node in trainables:
        node.value = node.value - learning_rate * node.gradients[node]
        return
''')),
    Mutant("sgd_update", "reads one consumer's gradient instead of the node's total", _sgd('''
    for node in trainables:
        node.value = node.value - learning_rate * node.outbound_nodes[0].gradients[node]
''')),
    # -- train_epoch --------------------------------------------------------
    Mutant("train_epoch", "never shuffles: rows in file order every epoch", _epoch('''
    losses = []
    for start in range(0, len(X), batch_size):
        X_node.value, y_node.value = X[start:start + batch_size], y[start:start + batch_size]
        losses.append(forward_and_backward(graph, output=cost, trainables=trainables))
        sgd_update(trainables, learning_rate)
    return float(np.mean(losses))
''')),
    Mutant("train_epoch", "shuffles X and y with two different permutations", _epoch('''
    rng = np.random.default_rng(seed)
    X, y = X[rng.permutation(len(X))], y[rng.permutation(len(y))]
    losses = []
    for start in range(0, len(X), batch_size):
        X_node.value, y_node.value = X[start:start + batch_size], y[start:start + batch_size]
        losses.append(forward_and_backward(graph, output=cost, trainables=trainables))
        sgd_update(trainables, learning_rate)
    return float(np.mean(losses))
''')),
    Mutant("train_epoch", "drops the last, smaller batch",
           _epoch(_EPOCH_BODY.replace("range(0, len(X), batch_size)",
                                      "range(0, len(X) - batch_size + 1, batch_size)"))),
    Mutant("train_epoch", "overlapping batches: the slice starts at i, not i * batch_size",
           _epoch('''
    order = np.random.default_rng(seed).permutation(len(X))
    losses = []
    for i in range(-(-len(X) // batch_size)):
        rows = order[i:i + batch_size]
        X_node.value, y_node.value = X[rows], y[rows]
        losses.append(forward_and_backward(graph, output=cost, trainables=trainables))
        sgd_update(trainables, learning_rate)
    return float(np.mean(losses))
''')),
    Mutant("train_epoch", "one SGD step after the whole epoch instead of after each batch",
           _epoch('''
    order = np.random.default_rng(seed).permutation(len(X))
    losses = []
    for start in range(0, len(X), batch_size):
        rows = order[start:start + batch_size]
        X_node.value, y_node.value = X[rows], y[rows]
        losses.append(forward_and_backward(graph, output=cost, trainables=trainables))
    sgd_update(trainables, learning_rate)
    return float(np.mean(losses))
''')),
    Mutant("train_epoch", "returns the last batch's loss, not the mean",
           _epoch(_EPOCH_BODY.replace("return float(np.mean(losses))",
                                      "return float(losses[-1])"))),
    Mutant("train_epoch", "shuffles with the global np.random, ignoring the seed",
           _epoch(_EPOCH_BODY.replace("np.random.default_rng(seed).permutation(len(X))",
                                      "np.random.permutation(len(X))"))),
    Mutant("train_epoch", "never calls sgd_update: the weights never move",
           _epoch(_EPOCH_BODY.replace("        sgd_update(trainables, learning_rate)\n", ""))),
    Mutant("train_epoch", "feeds the batch to X_node only; y_node keeps every target",
           _epoch(_EPOCH_BODY.replace("X_node.value, y_node.value = X[rows], y[rows]",
                                      "X_node.value = X[rows]"))),
    # -- train_xor ----------------------------------------------------------
    Mutant("train_xor", "no activation between the layers (the network stays linear)",
           _xor('hidden = Sigmoid(Linear(X_node, W1, b1, name="hidden"), name="sigmoid")',
                'hidden = Linear(X_node, W1, b1, name="hidden")')),
    Mutant("train_xor", "all weights start at zero (every hidden unit stays the same)",
           _xor("W1: rng.normal(size=(2, n_hidden)), b1: np.zeros(n_hidden),\n"
                "        W2: rng.normal(size=(n_hidden, 2)) / np.sqrt(n_hidden),",
                "W1: np.zeros((2, n_hidden)), b1: np.zeros(n_hidden),\n"
                "        W2: np.zeros((n_hidden, 2)),")),
    Mutant("train_xor", "a single hidden unit",
           _xor("n_hidden, epochs, batch_size, learning_rate = 8, 100, 20, 1.0",
                "n_hidden, epochs, batch_size, learning_rate = 1, 100, 20, 1.0")),
    Mutant("train_xor", "stops after 3 epochs",
           _xor("n_hidden, epochs, batch_size, learning_rate = 8, 100, 20, 1.0",
                "n_hidden, epochs, batch_size, learning_rate = 8, 3, 20, 1.0")),
    Mutant("train_xor", "a learning rate far too small (0.001)",
           _xor("n_hidden, epochs, batch_size, learning_rate = 8, 100, 20, 1.0",
                "n_hidden, epochs, batch_size, learning_rate = 8, 100, 20, 0.001")),
    Mutant("train_xor", "predict takes the argmax over the batch (axis 0)",
           _xor("argmax(axis=1)", "argmax(axis=0)")),
]
