"""Wrong answers students give in "Handwritten digits"."""

from autograder.author.mutants import Mutant

# How these mutants differ from the solution apart from their mistakes: each
# is kept as the self-check has always graded it.

# Mutants of build_network leave their nodes unnamed and make their generator after the graph ...
_UNNAMED_NODES = [
    ('''
    rng = np.random.default_rng(seed)
    X, labels = Input("X"), Input("labels")
    ''', '''
    X, labels = Input("X"), Input("labels")
    '''),
    ('''
    hidden = Sigmoid(Linear(X, W1, b1, name="hidden_linear"), name="hidden")
    logits = Linear(hidden, W2, b2, name="logits")
    cost = CrossEntropyWithSoftmax(logits, labels, name="cost")
    ''', '''
    hidden = Sigmoid(Linear(X, W1, b1))
    logits = Linear(hidden, W2, b2)
    cost = CrossEntropyWithSoftmax(logits, labels)

    rng = np.random.default_rng(seed)
    '''),
]
# ... and leave a blank line before the return.
_BLANK_BEFORE_RETURN = ('''
    b2.value = np.zeros(n_classes)
    return Network(X, labels, [W1, b1, W2, b2], logits, cost)
    ''', '''
    b2.value = np.zeros(n_classes)

    return Network(X, labels, [W1, b1, W2, b2], logits, cost)
    ''')

# Mutants of predict slice the graph in the call.
_SLICE_INLINE = ('''
    up_to_logits = network.graph[:network.graph.index(network.logits) + 1]
    logits_value = mf.forward_pass(network.logits, up_to_logits)
    ''', '''
    logits_value = mf.forward_pass(network.logits,
                                   network.graph[:network.graph.index(network.logits) + 1])
    ''')

# Mutants of train call iterate_minibatches on one line ...
_MINIBATCHES_ON_ONE_LINE = ('''
    for X_batch, y_batch in iterate_minibatches(X_train, y_train, batch_size,
                                                seed=seed + epoch):
    ''', '''
    for X_batch, y_batch in iterate_minibatches(X_train, y_train, batch_size, seed=seed + epoch):
    ''')
# ... and leave a blank line before history.append.
_BLANK_BEFORE_HISTORY = ('''
        sgd_update(network.trainables, learning_rate)
    history.append(float(np.mean(losses)))
    ''', '''
        sgd_update(network.trainables, learning_rate)

    history.append(float(np.mean(losses)))
    ''')

MUTANTS = [
    # -- build_network ------------------------------------------------------------
    Mutant("build_network", "all-zero weights (symmetric units)", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ('''
        rng = np.random.default_rng(seed)
        W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)
        ''', '''
        W1.value = np.zeros((n_inputs, n_hidden))
        '''),
        ("W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)",
         "W2.value = np.zeros((n_hidden, n_classes))"),
    ]),
    Mutant("build_network", "every weight the same small constant", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ('''
        rng = np.random.default_rng(seed)
        W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)
        ''', '''
        W1.value = np.full((n_inputs, n_hidden), 0.01)
        '''),
        ("W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)",
         "W2.value = np.full((n_hidden, n_classes), 0.01)"),
    ]),
    Mutant("build_network", "standard normal weights, not scaled (saturated sigmoids)", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ("W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)",
         "W1.value = rng.normal(size=(n_inputs, n_hidden))"),
        ("W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)",
         "W2.value = rng.normal(size=(n_hidden, n_classes))"),
    ]),
    Mutant("build_network", "divides by n_in instead of sqrt(n_in)", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ("W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)",
         "W1.value = rng.normal(size=(n_inputs, n_hidden)) / n_inputs"),
        ("W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)",
         "W2.value = rng.normal(size=(n_hidden, n_classes)) / n_hidden"),
    ]),
    Mutant("build_network", "uniform weights in [0, 1) / sqrt(n_in): all positive", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ("W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)",
         "W1.value = rng.random(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)"),
        ("W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)",
         "W2.value = rng.random(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)"),
    ]),
    Mutant("build_network", "random biases", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ("b1.value = np.zeros(n_hidden)", "b1.value = rng.normal(size=n_hidden)"),
        ("b2.value = np.zeros(n_classes)", "b2.value = rng.normal(size=n_classes)"),
    ]),
    Mutant("build_network", "ignores the seed (unseeded generator)", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ("rng = np.random.default_rng(seed)", "rng = np.random.default_rng()"),
    ]),
    Mutant("build_network", "forgets the biases in the trainables", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ("return Network(X, labels, [W1, b1, W2, b2], logits, cost)",
         "return Network(X, labels, [W1, W2], logits, cost)"),
    ]),
    Mutant("build_network", "no Sigmoid: two Linear layers in a row", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ('''
        hidden = Sigmoid(Linear(X, W1, b1))
        logits = Linear(hidden, W2, b2)
        ''', '''
        logits = Linear(Linear(X, W1, b1), W2, b2)
        '''),
    ]),
    Mutant("build_network", "a Sigmoid after the output layer too", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ("logits = Linear(hidden, W2, b2)", "logits = Sigmoid(Linear(hidden, W2, b2))"),
    ]),
    Mutant("build_network", "wrong layer order: Sigmoid on the input, then two Linears", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ('''
        hidden = Sigmoid(Linear(X, W1, b1))
        logits = Linear(hidden, W2, b2)
        ''', '''
        logits = Linear(Linear(Sigmoid(X), W1, b1), W2, b2)
        '''),
    ]),
    Mutant("build_network", "the output bias is a fresh Input, not the trainable b2", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ('''
        logits = Linear(hidden, W2, b2)
        ''', '''
        zero_bias = Input("zero_bias")
        zero_bias.value = np.zeros(n_classes)
        logits = Linear(hidden, W2, zero_bias)
        '''),
    ]),
    Mutant("build_network", "the loss is MSE of the logits", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ("cost = CrossEntropyWithSoftmax(logits, labels)", "cost = mf.MSE(labels, logits)"),
    ]),
    Mutant("build_network", "W1 transposed: shape (n_hidden, n_inputs)", [
        *_UNNAMED_NODES,
        _BLANK_BEFORE_RETURN,
        ("W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)",
         "W1.value = rng.normal(size=(n_hidden, n_inputs)) / np.sqrt(n_inputs)"),
    ]),
    Mutant("build_network", "W2 scaled by the first layer's size (1/sqrt(n_inputs))", [
        ("W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)",
         "W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_inputs)"),
    ]),
    # -- predict ----------------------------------------------------------------
    Mutant("predict", "returns the logits, not labels", [
        ('''
    up_to_logits = network.graph[:network.graph.index(network.logits) + 1]
    logits_value = mf.forward_pass(network.logits, up_to_logits)
    return np.argmax(logits_value, axis=1)
    ''', '''
    return mf.forward_pass(network.logits, network.graph[:network.graph.index(network.logits) + 1])
    '''),
    ]),
    Mutant("predict", "argmax over axis 0", [
        _SLICE_INLINE,
        ("return np.argmax(logits_value, axis=1)", "return np.argmax(logits_value, axis=0)"),
    ]),
    Mutant("predict", "runs the whole graph, loss included (needs labels)", [
        ('''
        up_to_logits = network.graph[:network.graph.index(network.logits) + 1]
        logits_value = mf.forward_pass(network.logits, up_to_logits)
        return np.argmax(logits_value, axis=1)
        ''', '''
        mf.forward_pass(network.cost, network.graph)
        return np.argmax(network.logits.value, axis=1)
        '''),
    ]),
    Mutant("predict", "forgets to feed X (predicts the last batch)", [
        _SLICE_INLINE,
        ('''
        network.X.value = X
        ''', ""),
    ]),
    Mutant("predict", "labels as floats", [
        _SLICE_INLINE,
        ('''
        return np.argmax(logits_value, axis=1)
        ''', '''
        predictions = np.zeros(len(X))
        predictions[:] = np.argmax(logits_value, axis=1)
        return predictions
        '''),
    ]),
    Mutant("predict", "argmin instead of argmax", [
        _SLICE_INLINE,
        ("return np.argmax(logits_value, axis=1)", "return np.argmin(logits_value, axis=1)"),
    ]),
    Mutant("predict", "predicts with a training step (forward_and_backward and sgd_update)", [
        ('''
        up_to_logits = network.graph[:network.graph.index(network.logits) + 1]
        logits_value = mf.forward_pass(network.logits, up_to_logits)
        return np.argmax(logits_value, axis=1)
        ''', '''
        network.labels.value = np.zeros(len(X), dtype=int)
        forward_and_backward(network.graph, output=network.cost, trainables=network.trainables)
        sgd_update(network.trainables, 0.01)
        return np.argmax(network.logits.value, axis=1)
        '''),
    ]),
    Mutant("predict", "feeds dummy labels and runs the whole graph, loss included", [
        ('''
        up_to_logits = network.graph[:network.graph.index(network.logits) + 1]
        logits_value = mf.forward_pass(network.logits, up_to_logits)
        return np.argmax(logits_value, axis=1)
        ''', '''
        network.labels.value = np.zeros(len(X), dtype=int)
        mf.forward_pass(network.cost, network.graph)
        return np.argmax(network.logits.value, axis=1)
        '''),
    ]),
    # -- train ------------------------------------------------------------------
    Mutant("train", "never calls sgd_update", [
        _MINIBATCHES_ON_ONE_LINE,
        _BLANK_BEFORE_HISTORY,
        ("sgd_update(network.trainables, learning_rate)", "pass"),
    ]),
    Mutant("train", "steps uphill (+= learning_rate * gradient)", [
        _MINIBATCHES_ON_ONE_LINE,
        _BLANK_BEFORE_HISTORY,
        ('''
        sgd_update(network.trainables, learning_rate)
        ''', '''
        for node in network.trainables:
            node.value = node.value + learning_rate * mf.gradient_of(node)
        '''),
    ]),
    Mutant("train", "ignores learning_rate (sgd_update's default)", [
        _MINIBATCHES_ON_ONE_LINE,
        _BLANK_BEFORE_HISTORY,
        ("sgd_update(network.trainables, learning_rate)", "sgd_update(network.trainables)"),
    ]),
    Mutant("train", "one update per epoch, after the batch loop", [
        _MINIBATCHES_ON_ONE_LINE,
        ('''
            sgd_update(network.trainables, learning_rate)
        ''', '''
            pass
        sgd_update(network.trainables, learning_rate)
        '''),
    ]),
    Mutant("train", "trains on all the digits, test set included (global X, y)", [
        _MINIBATCHES_ON_ONE_LINE,
        _BLANK_BEFORE_HISTORY,
        ("iterate_minibatches(X_train, y_train, batch_size, seed=seed + epoch):",
         "iterate_minibatches(X, y, batch_size, seed=seed + epoch):"),
    ]),
    Mutant("train", "trains on the test set", [
        _MINIBATCHES_ON_ONE_LINE,
        _BLANK_BEFORE_HISTORY,
        ("iterate_minibatches(X_train, y_train, batch_size, seed=seed + epoch):",
         "iterate_minibatches(X_test, y_test, batch_size, seed=seed + epoch):"),
    ]),
    Mutant("train", "history: the sum of the batch losses", [
        _MINIBATCHES_ON_ONE_LINE,
        _BLANK_BEFORE_HISTORY,
        ("history.append(float(np.mean(losses)))", "history.append(float(np.sum(losses)))"),
    ]),
    Mutant("train", "history: one loss per batch, not per epoch", [
        ('''
        bar = progress(range(epochs), description="epoch")
        for epoch in bar:
            losses = []
        ''', '''
        for epoch in progress(range(epochs), description="epoch"):
        '''),
        ('''
        losses.append(forward_and_backward(network.graph, output=network.cost,
                                           trainables=network.trainables))
        ''', '''
        history.append(forward_and_backward(network.graph, output=network.cost,
                                            trainables=network.trainables))
        '''),
        ('''
        history.append(float(np.mean(losses)))
        bar.set(loss=history[-1])
        ''', ""),
    ]),
    Mutant("train", "returns after the first epoch (return inside the loop)", [
        ('''
        bar = progress(range(epochs), description="epoch")
        for epoch in bar:
        ''', '''
        for epoch in progress(range(epochs), description="epoch"):
        '''),
        ('''
            bar.set(loss=history[-1])
        return history
        ''', '''
            return history
        '''),
    ]),
    Mutant("train", "full batch: ignores batch_size", [
        _MINIBATCHES_ON_ONE_LINE,
        _BLANK_BEFORE_HISTORY,
        ("iterate_minibatches(X_train, y_train, batch_size, seed=seed + epoch):",
         "iterate_minibatches(X_train, y_train, len(X_train), seed=seed + epoch):"),
    ]),
]
