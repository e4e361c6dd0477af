"""Wrong answers students give in "Handwritten digits"."""

from autograder.author.mutants import Mutant

# -- build_network -----------------------------------------------------------------
# The right cell, with the parts a mutant changes as arguments.

_GRAPH = '''
    X, labels = Input("X"), Input("labels")
    W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
    hidden = Sigmoid(Linear(X, W1, b1))
    logits = Linear(hidden, W2, b2)
    cost = CrossEntropyWithSoftmax(logits, labels)
'''

_INIT = '''
    rng = np.random.default_rng(seed)
    W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)
    b1.value = np.zeros(n_hidden)
    W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)
    b2.value = np.zeros(n_classes)
'''

_RETURN = '''
    return Network(X, labels, [W1, b1, W2, b2], logits, cost)
'''


def _build(graph: str = _GRAPH, init: str = _INIT, returned: str = _RETURN) -> str:
    return ("def build_network(n_inputs, n_hidden, n_classes, seed=0):"
            + graph + init + returned)


# -- predict -------------------------------------------------------------------------

_PREDICT_HEAD = "def predict(network, X):"

# -- train ---------------------------------------------------------------------------

_TRAIN_HEAD = "def train(network, X_train, y_train, epochs, batch_size, learning_rate, seed=0):"


def _train(batches: str = "iterate_minibatches(X_train, y_train, batch_size, seed=seed + epoch)",
           step: str = "sgd_update(network.trainables, learning_rate)",
           after_batches: str = "", epoch_loss: str = "float(np.mean(losses))") -> str:
    return _TRAIN_HEAD + f'''
    history = []
    bar = progress(range(epochs), description="epoch")
    for epoch in bar:
        losses = []
        for X_batch, y_batch in {batches}:
            network.X.value, network.labels.value = X_batch, y_batch
            losses.append(forward_and_backward(network.graph, output=network.cost,
                                               trainables=network.trainables))
            {step}
        {after_batches}
        history.append({epoch_loss})
        bar.set(loss=history[-1])
    return history
'''


_UPHILL = '''for node in network.trainables:
                node.value = node.value + learning_rate * mf.gradient_of(node)'''

MUTANTS = [
    # -- build_network ------------------------------------------------------------
    Mutant("build_network", "all-zero weights (symmetric units)", _build(init='''
    W1.value = np.zeros((n_inputs, n_hidden))
    b1.value = np.zeros(n_hidden)
    W2.value = np.zeros((n_hidden, n_classes))
    b2.value = np.zeros(n_classes)
''')),
    Mutant("build_network", "every weight the same small constant", _build(init='''
    W1.value = np.full((n_inputs, n_hidden), 0.01)
    b1.value = np.zeros(n_hidden)
    W2.value = np.full((n_hidden, n_classes), 0.01)
    b2.value = np.zeros(n_classes)
''')),
    Mutant("build_network", "standard normal weights, not scaled (saturated sigmoids)",
           _build(init='''
    rng = np.random.default_rng(seed)
    W1.value = rng.normal(size=(n_inputs, n_hidden))
    b1.value = np.zeros(n_hidden)
    W2.value = rng.normal(size=(n_hidden, n_classes))
    b2.value = np.zeros(n_classes)
''')),
    Mutant("build_network", "divides by n_in instead of sqrt(n_in)", _build(init='''
    rng = np.random.default_rng(seed)
    W1.value = rng.normal(size=(n_inputs, n_hidden)) / n_inputs
    b1.value = np.zeros(n_hidden)
    W2.value = rng.normal(size=(n_hidden, n_classes)) / n_hidden
    b2.value = np.zeros(n_classes)
''')),
    Mutant("build_network", "uniform weights in [0, 1) / sqrt(n_in): all positive", _build(init='''
    rng = np.random.default_rng(seed)
    W1.value = rng.random(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)
    b1.value = np.zeros(n_hidden)
    W2.value = rng.random(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)
    b2.value = np.zeros(n_classes)
''')),
    Mutant("build_network", "random biases", _build(init='''
    rng = np.random.default_rng(seed)
    W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)
    b1.value = rng.normal(size=n_hidden)
    W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)
    b2.value = rng.normal(size=n_classes)
''')),
    Mutant("build_network", "ignores the seed (unseeded generator)", _build(init='''
    rng = np.random.default_rng()
    W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)
    b1.value = np.zeros(n_hidden)
    W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)
    b2.value = np.zeros(n_classes)
''')),
    Mutant("build_network", "forgets the biases in the trainables", _build(returned='''
    return Network(X, labels, [W1, W2], logits, cost)
''')),
    Mutant("build_network", "no Sigmoid: two Linear layers in a row", _build(graph='''
    X, labels = Input("X"), Input("labels")
    W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
    logits = Linear(Linear(X, W1, b1), W2, b2)
    cost = CrossEntropyWithSoftmax(logits, labels)
''')),
    Mutant("build_network", "a Sigmoid after the output layer too", _build(graph='''
    X, labels = Input("X"), Input("labels")
    W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
    hidden = Sigmoid(Linear(X, W1, b1))
    logits = Sigmoid(Linear(hidden, W2, b2))
    cost = CrossEntropyWithSoftmax(logits, labels)
''')),
    Mutant("build_network", "wrong layer order: Sigmoid on the input, then two Linears",
           _build(graph='''
    X, labels = Input("X"), Input("labels")
    W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
    logits = Linear(Linear(Sigmoid(X), W1, b1), W2, b2)
    cost = CrossEntropyWithSoftmax(logits, labels)
''')),
    Mutant("build_network", "the output bias is a fresh Input, not the trainable b2",
           _build(graph='''
    X, labels = Input("X"), Input("labels")
    W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
    hidden = Sigmoid(Linear(X, W1, b1))
    zero_bias = Input("zero_bias")
    zero_bias.value = np.zeros(n_classes)
    logits = Linear(hidden, W2, zero_bias)
    cost = CrossEntropyWithSoftmax(logits, labels)
''')),
    Mutant("build_network", "the loss is MSE of the logits", _build(graph='''
    X, labels = Input("X"), Input("labels")
    W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
    hidden = Sigmoid(Linear(X, W1, b1))
    logits = Linear(hidden, W2, b2)
    cost = mf.MSE(labels, logits)
''')),
    Mutant("build_network", "W1 transposed: shape (n_hidden, n_inputs)", _build(init='''
    rng = np.random.default_rng(seed)
    W1.value = rng.normal(size=(n_hidden, n_inputs)) / np.sqrt(n_inputs)
    b1.value = np.zeros(n_hidden)
    W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)
    b2.value = np.zeros(n_classes)
''')),
    # -- predict ----------------------------------------------------------------
    Mutant("predict", "returns the logits, not labels", _PREDICT_HEAD + '''
    network.X.value = X
    return mf.forward_pass(network.logits, network.graph[:network.graph.index(network.logits) + 1])
'''),
    Mutant("predict", "argmax over axis 0", _PREDICT_HEAD + '''
    network.X.value = X
    logits_value = mf.forward_pass(network.logits,
                                   network.graph[:network.graph.index(network.logits) + 1])
    return np.argmax(logits_value, axis=0)
'''),
    Mutant("predict", "runs the whole graph, loss included (needs labels)", _PREDICT_HEAD + '''
    network.X.value = X
    mf.forward_pass(network.cost, network.graph)
    return np.argmax(network.logits.value, axis=1)
'''),
    Mutant("predict", "forgets to feed X (predicts the last batch)", _PREDICT_HEAD + '''
    logits_value = mf.forward_pass(network.logits,
                                   network.graph[:network.graph.index(network.logits) + 1])
    return np.argmax(logits_value, axis=1)
'''),
    Mutant("predict", "labels as floats", _PREDICT_HEAD + '''
    network.X.value = X
    logits_value = mf.forward_pass(network.logits,
                                   network.graph[:network.graph.index(network.logits) + 1])
    predictions = np.zeros(len(X))
    predictions[:] = np.argmax(logits_value, axis=1)
    return predictions
'''),
    Mutant("predict", "argmin instead of argmax", _PREDICT_HEAD + '''
    network.X.value = X
    logits_value = mf.forward_pass(network.logits,
                                   network.graph[:network.graph.index(network.logits) + 1])
    return np.argmin(logits_value, axis=1)
'''),
    Mutant("predict", "predicts with a training step (forward_and_backward and sgd_update)",
           _PREDICT_HEAD + '''
    network.X.value = X
    network.labels.value = np.zeros(len(X), dtype=int)
    forward_and_backward(network.graph, output=network.cost, trainables=network.trainables)
    sgd_update(network.trainables, 0.01)
    return np.argmax(network.logits.value, axis=1)
'''),
    # -- train ------------------------------------------------------------------
    Mutant("train", "never calls sgd_update", _train(step="pass")),
    Mutant("train", "steps uphill (+= learning_rate * gradient)", _train(step=_UPHILL)),
    Mutant("train", "ignores learning_rate (sgd_update's default)",
           _train(step="sgd_update(network.trainables)")),
    Mutant("train", "one update per epoch, after the batch loop", _train(
        step="pass", after_batches="sgd_update(network.trainables, learning_rate)")),
    Mutant("train", "trains on all the digits, test set included (global X, y)",
           _train(batches="iterate_minibatches(X, y, batch_size, seed=seed + epoch)")),
    Mutant("train", "trains on the test set", _train(
        batches="iterate_minibatches(X_test, y_test, batch_size, seed=seed + epoch)")),
    Mutant("train", "history: the sum of the batch losses",
           _train(epoch_loss="float(np.sum(losses))")),
    Mutant("train", "history: one loss per batch, not per epoch", _TRAIN_HEAD + '''
    history = []
    for epoch in progress(range(epochs), description="epoch"):
        for X_batch, y_batch in iterate_minibatches(X_train, y_train, batch_size,
                                                    seed=seed + epoch):
            network.X.value, network.labels.value = X_batch, y_batch
            history.append(forward_and_backward(network.graph, output=network.cost,
                                                trainables=network.trainables))
            sgd_update(network.trainables, learning_rate)
    return history
'''),
    Mutant("train", "returns after the first epoch (return inside the loop)", _TRAIN_HEAD + '''
    history = []
    for epoch in progress(range(epochs), description="epoch"):
        losses = []
        for X_batch, y_batch in iterate_minibatches(X_train, y_train, batch_size,
                                                    seed=seed + epoch):
            network.X.value, network.labels.value = X_batch, y_batch
            losses.append(forward_and_backward(network.graph, output=network.cost,
                                               trainables=network.trainables))
            sgd_update(network.trainables, learning_rate)
        history.append(float(np.mean(losses)))
        return history
'''),
    Mutant("train", "full batch: ignores batch_size", _train(
        batches="iterate_minibatches(X_train, y_train, len(X_train), seed=seed + epoch)")),
]
