"""Wrong answers students give in "Training"."""

from autograder.author.mutants import Mutant

# How these mutants differ from the solution apart from their mistakes: each
# is kept as the self-check has always graded it.

# Mutants of sgd_update start with a blank line.
_BLANK_AFTER_DEF = ('''
    def sgd_update(trainables, learning_rate=0.1):
        for node in trainables:
    ''', '''
    def sgd_update(trainables, learning_rate=0.1):

        for node in trainables:
    ''')

# Mutants of train_epoch start with a blank line.
_BLANK_AFTER_SIGNATURE = ('''
                learning_rate=0.1, seed=0):
    order = np.random.default_rng(seed).permutation(len(X))
    ''', '''
                learning_rate=0.1, seed=0):

    order = np.random.default_rng(seed).permutation(len(X))
    ''')

MUTANTS = [
    # -- sgd_update ---------------------------------------------------------
    Mutant("sgd_update", "adds the gradient (walks uphill)", [
        _BLANK_AFTER_DEF,
        ("node.value = node.value - learning_rate * node.gradients[node]",
         "node.value = node.value + learning_rate * node.gradients[node]"),
    ]),
    Mutant("sgd_update", "forgets the learning rate", [
        _BLANK_AFTER_DEF,
        ("node.value = node.value - learning_rate * node.gradients[node]",
         "node.value = node.value - node.gradients[node]"),
    ]),
    Mutant("sgd_update", "rebinds a local name, so the node never changes", [
        _BLANK_AFTER_DEF,
        ('''
        node.value = node.value - learning_rate * node.gradients[node]
        ''', '''
        value = node.value
        value = value - learning_rate * node.gradients[node]
        '''),
    ]),
    Mutant("sgd_update", "hard-codes the default learning rate", [
        _BLANK_AFTER_DEF,
        ("node.value = node.value - learning_rate * node.gradients[node]",
         "node.value = node.value - 0.1 * node.gradients[node]"),
    ]),
    Mutant("sgd_update", "returns inside the loop, after the first node", [
        _BLANK_AFTER_DEF,
        ('''
        node.value = node.value - learning_rate * node.gradients[node]
        ''', '''
        node.value = node.value - learning_rate * node.gradients[node]
        return
        '''),
    ]),
    Mutant("sgd_update", "reads one consumer's gradient instead of the node's total", [
        _BLANK_AFTER_DEF,
        ("node.value = node.value - learning_rate * node.gradients[node]",
         "node.value = node.value - learning_rate * node.outbound_nodes[0].gradients[node]"),
    ]),
    # -- train_epoch --------------------------------------------------------
    Mutant("train_epoch", "never shuffles: rows in file order every epoch", [
        ('''
                    learning_rate=0.1, seed=0):
        order = np.random.default_rng(seed).permutation(len(X))
        losses = []
        ''', '''
                    learning_rate=0.1, seed=0):

        losses = []
        '''),
        ('''
        rows = order[start:start + batch_size]
        X_node.value, y_node.value = X[rows], y[rows]
        ''', '''
        X_node.value, y_node.value = X[start:start + batch_size], y[start:start + batch_size]
        '''),
    ]),
    Mutant("train_epoch", "shuffles X and y with two different permutations", [
        _BLANK_AFTER_SIGNATURE,
        ('''
        order = np.random.default_rng(seed).permutation(len(X))
        ''', '''
        rng = np.random.default_rng(seed)
        X, y = X[rng.permutation(len(X))], y[rng.permutation(len(y))]
        '''),
        ('''
        rows = order[start:start + batch_size]
        X_node.value, y_node.value = X[rows], y[rows]
        ''', '''
        X_node.value, y_node.value = X[start:start + batch_size], y[start:start + batch_size]
        '''),
    ]),
    Mutant("train_epoch", "drops the last, smaller batch", [
        _BLANK_AFTER_SIGNATURE,
        ("for start in range(0, len(X), batch_size):",
         "for start in range(0, len(X) - batch_size + 1, batch_size):"),
    ]),
    Mutant("train_epoch", "overlapping batches: the slice starts at i, not i * batch_size", [
        _BLANK_AFTER_SIGNATURE,
        ('''
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
        ''', '''
        for i in range(-(-len(X) // batch_size)):
            rows = order[i:i + batch_size]
        '''),
    ]),
    Mutant("train_epoch", "one SGD step after the whole epoch instead of after each batch", [
        _BLANK_AFTER_SIGNATURE,
        ('''
            sgd_update(trainables, learning_rate)
        ''', '''
        sgd_update(trainables, learning_rate)
        '''),
    ]),
    Mutant("train_epoch", "returns the last batch's loss, not the mean", [
        _BLANK_AFTER_SIGNATURE,
        ("return float(np.mean(losses))", "return float(losses[-1])"),
    ]),
    Mutant("train_epoch", "shuffles with the global np.random, ignoring the seed", [
        _BLANK_AFTER_SIGNATURE,
        ("order = np.random.default_rng(seed).permutation(len(X))",
         "order = np.random.permutation(len(X))"),
    ]),
    Mutant("train_epoch", "never calls sgd_update: the weights never move", [
        _BLANK_AFTER_SIGNATURE,
        ('''
        sgd_update(trainables, learning_rate)
        ''', ""),
    ]),
    Mutant("train_epoch", "feeds the batch to X_node only; y_node keeps every target", [
        _BLANK_AFTER_SIGNATURE,
        ("X_node.value, y_node.value = X[rows], y[rows]", "X_node.value = X[rows]"),
    ]),
    # -- train_xor ----------------------------------------------------------
    Mutant("train_xor", "no activation between the layers (the network stays linear)", [
        ('hidden = Sigmoid(Linear(X_node, W1, b1, name="hidden"), name="sigmoid")',
         'hidden = Linear(X_node, W1, b1, name="hidden")'),
    ]),
    Mutant("train_xor", "all weights start at zero (every hidden unit stays the same)", [
        ('''
        W1: rng.normal(size=(2, n_hidden)), b1: np.zeros(n_hidden),
        W2: rng.normal(size=(n_hidden, 2)) / np.sqrt(n_hidden), b2: np.zeros(2),
        ''', '''
        W1: np.zeros((2, n_hidden)), b1: np.zeros(n_hidden),
        W2: np.zeros((n_hidden, 2)), b2: np.zeros(2),
        '''),
    ]),
    Mutant("train_xor", "a single hidden unit", [
        ("n_hidden, epochs, batch_size, learning_rate = 8, 100, 20, 1.0",
         "n_hidden, epochs, batch_size, learning_rate = 1, 100, 20, 1.0"),
    ]),
    Mutant("train_xor", "stops after 3 epochs", [
        ("n_hidden, epochs, batch_size, learning_rate = 8, 100, 20, 1.0",
         "n_hidden, epochs, batch_size, learning_rate = 8, 3, 20, 1.0"),
    ]),
    Mutant("train_xor", "a learning rate far too small (0.001)", [
        ("n_hidden, epochs, batch_size, learning_rate = 8, 100, 20, 1.0",
         "n_hidden, epochs, batch_size, learning_rate = 8, 100, 20, 0.001"),
    ]),
    Mutant("train_xor", "predict takes the argmax over the batch (axis 0)", [
        ("return mf.forward_pass(logits, up_to_logits).argmax(axis=1)",
         "return mf.forward_pass(logits, up_to_logits).argmax(axis=0)"),
    ]),
]
