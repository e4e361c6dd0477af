from course.authoring import NotebookBuilder

notebook = NotebookBuilder()
notebook.markdown(r"""
# Assignment 4: Training

You can now compute a loss and every gradient of it. This notebook turns
gradients into **learning**: step the weights a little against their
gradient, again and again, and the loss goes down. You will write that step
(**stochastic gradient descent**), the loop that feeds a data set through a
network in **mini-batches**, and then train a network with a hidden layer on
a problem no straight line can solve.

**After this notebook you can:**

1. explain gradient descent and what the learning rate does;
2. implement the SGD update for a list of trainable nodes;
3. train in shuffled mini-batches, one epoch at a time, and read a loss curve;
4. train a two-layer network on XOR and draw its decision boundary.

**How the exercises work.** As before: replace `raise NotImplementedError()`
in each `# YOUR CODE HERE` cell, run it, then run the test cell below it. The
grader runs more tests of the same kind (other data, other batch sizes,
other seeds), so make your code correct in general.
""")
notebook.given("setup", """
import numpy as np
import matplotlib.pyplot as plt

import miniflow as mf
from miniflow import (Input, Linear, Sigmoid, CrossEntropyWithSoftmax, topological_sort,
                      forward_and_backward, value_and_grad)
from miniflow.datasets import load_diabetes, make_xor, train_test_split
from miniflow.plotting import draw_graph, plot_loss, plot_decision_boundary

np.set_printoptions(precision=4, suppress=True)
""")
notebook.markdown(r"""
## 1. Downhill, one step at a time

The gradient $\partial L/\partial w$ points in the direction in which the
loss grows fastest. To make the loss *smaller*, move every weight a little
the other way:

$$w \leftarrow w - \eta\,\frac{\partial L}{\partial w}.$$

The step size $\eta$ (eta) is the **learning rate**. Repeat the step and the
weights slide downhill. How fast, and whether they arrive at all, depends on
$\eta$.

**Worked example.** $L(w) = (w - 3)^2$ has its minimum at $w = 3$ and
gradient $2(w - 3)$. From $w = -1$ with $\eta = 0.1$ the first step is
$w = -1 - 0.1 \cdot 2(-1 - 3) = -0.2$, the next
$-0.2 - 0.1 \cdot 2(-0.2 - 3) = 0.44$: each step closes 20% of the remaining
gap. The plot runs 12 steps with four learning rates.
""")
notebook.code("""
def descend(learning_rate, start=-1.0, steps=12):
    path = [start]
    for _ in range(steps):
        w = path[-1]
        path.append(w - learning_rate * 2 * (w - 3))   # gradient of (w - 3)^2
    return np.array(path)


print("eta = 0.1:", descend(0.1)[:4])

rates = {0.1: "too small: slow", 0.45: "about right", 0.95: "too large: overshoots",
         1.02: "far too large: diverges"}
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
w_grid = np.linspace(-4, 10, 200)
left.plot(w_grid, (w_grid - 3) ** 2, color="gray", linewidth=1)
for rate, meaning in rates.items():
    path = descend(rate)
    left.plot(path[:6], (path[:6] - 3) ** 2, marker="o", label=f"eta = {rate} ({meaning})")
    right.plot(path, marker=".", label=f"eta = {rate}")
left.set_title("The first 5 steps on L(w) = (w - 3)^2")
left.set_xlabel("w")
left.set_ylabel("L(w)")
left.set_ylim(-2, 60)
left.legend(fontsize=8)
right.axhline(3, color="gray", linestyle=":")
right.set_title("w after each step (the minimum is w = 3)")
right.set_xlabel("step")
right.set_ylabel("w")
right.set_ylim(-4, 10)
right.legend(fontsize=8)
plt.show()
""")
notebook.markdown(r"""
Read the curves: a small $\eta$ creeps, a good $\eta$ arrives in a few
steps, a large one jumps across the valley and back, and a too-large one
lands higher each time and runs away. A loss that *grows* during training
nearly always means a learning rate that is too large.

## 2. The SGD update

In miniflow the trainable values (weights and biases) live in `Input`
nodes. After `forward_and_backward`, an `Input` holds the gradient of the
loss with respect to itself in `node.gradients[node]` (its `backward` adds
up what its consumers sent back). The update for one node is then

```python
node.value = node.value - learning_rate * node.gradients[node]
```

Two traps:

- the step must change **the node**: `value = node.value` followed by
  `value = value - ...` only rebinds a local name, and the node keeps its old
  value;
- the sign: `+` walks uphill and the loss grows.

### Exercise 1 (3 points): `sgd_update`

Write `sgd_update(trainables, learning_rate=0.1)`: move every node in the
list `trainables` one step against its gradient. It returns nothing.
""")
notebook.solution("sgd_update", """
def sgd_update(trainables, learning_rate=0.1):
    \"\"\"Move each trainable node's value one step against its gradient.\"\"\"
    ### BEGIN SOLUTION
    for node in trainables:
        node.value = node.value - learning_rate * node.gradients[node]
    ### END SOLUTION
""")
notebook.test("test_sgd_update", 3, """
from autograder import checks

# Random values, three nodes, two learning rates; then the worked example:
# w = [1, 2] with gradient [0.5, -1] and learning rate 0.1.
checks.test_sgd_update(sgd_update)
""")
notebook.markdown(r"""
## 3. Mini-batches

The loss of a data set is the **mean** over its $m$ examples, so its
gradient is the mean of $m$ per-example gradients. Computing all of them for
every single step is slow when $m$ is large. **Stochastic** gradient descent
estimates the gradient from a small random **mini-batch** of $B$ rows
instead:

$$\frac{\partial L}{\partial w} \approx \frac{1}{B}\sum_{i \in \text{batch}}
\frac{\partial L_i}{\partial w}.$$

The estimate is noisy, but it costs $B/m$ of a full step, so in the time of
one careful step we can take many rough ones. One pass through the whole
data set is an **epoch**; with batches of $B$ rows it takes
$\lceil m / B\rceil$ steps. Three rules make an epoch correct:

1. **shuffle** the row order at the start of each epoch (a new order from
   `np.random.default_rng(seed).permutation(len(X))`), so batches differ
   from epoch to epoch and do not follow however the file was sorted;
2. keep each **row of `X` with its target in `y`**: index both with the
   same row numbers;
3. use **every row once**: the last batch may be smaller than $B$; keep it.

### The data: diabetes progression

The bundled diabetes data (Efron et al., 2004) has 442 patients, 10 measurements
each (age, sex, body mass index, blood pressure and six blood serum
values, already standardised to mean 0 and standard deviation 1), and a
measure of how far the disease progressed one year later. We standardise
the target too, so that predicting the mean gives a loss of exactly 1, and
fit a linear model $\hat y = XW + b$ with mean squared error.
""")
notebook.code("""
X_all, progression = load_diabetes()
target = (progression - progression.mean()) / progression.std()
X_train, X_test, y_train, y_test = train_test_split(X_all, target, seed=0)
print(f"training: X {X_train.shape}, y {y_train.shape};  test: X {X_test.shape}")

X_node, y_node, W, b = Input("X"), Input("y"), Input("W"), Input("b")
prediction = Linear(X_node, W, b, name="prediction")
cost = mf.MSE(y_node, prediction, name="MSE")
graph = topological_sort({X_node: X_train[:8], y_node: y_train[:8],
                          W: np.zeros((10, 1)), b: np.zeros(1)})
mf.forward_pass(cost, graph)
draw_graph(graph, show="shape", title="Linear regression on a batch of 8 patients")
plt.show()
""")
notebook.markdown(r"""
The graph is sorted **once**. Training then only feeds new values into
`X_node` and `y_node` for each batch and runs the same sorted list forward
and backward: `forward_and_backward(graph, output=cost,
trainables=trainables)` returns the batch's loss and leaves the gradients in
the trainable nodes, ready for your `sgd_update`.

### Exercise 2 (4 points): `train_epoch`

Write `train_epoch(graph, cost, X_node, y_node, trainables, X, y,
batch_size, learning_rate, seed)`: one epoch of mini-batch SGD.

- draw one permutation of the row numbers from `np.random.default_rng(seed)`;
- for each slice of `batch_size` row numbers (the last may be shorter), set
  `X_node.value` and `y_node.value` to those rows of `X` and `y`, call
  `forward_and_backward(graph, output=cost, trainables=trainables)`, then
  `sgd_update(trainables, learning_rate)`;
- return the **mean** of the batch losses (one number).
""")
notebook.solution("train_epoch", """
def train_epoch(graph, cost, X_node, y_node, trainables, X, y, batch_size=32,
                learning_rate=0.1, seed=0):
    \"\"\"One epoch of mini-batch SGD over (X, y); returns the mean batch loss.\"\"\"
    ### BEGIN SOLUTION
    order = np.random.default_rng(seed).permutation(len(X))
    losses = []
    for start in range(0, len(X), batch_size):
        rows = order[start:start + batch_size]
        X_node.value, y_node.value = X[rows], y[rows]
        losses.append(forward_and_backward(graph, output=cost, trainables=trainables))
        sgd_update(trainables, learning_rate)
    return float(np.mean(losses))
    ### END SOLUTION
""")
notebook.test("test_train_epoch", 4, """
# This test grades train_epoch alone: sgd_update is miniflow's while it runs
# (exercise 1 has its own test).
from autograder import checks

# Random data in batches of 4; a small linear model: one full batch is one SGD step.
checks.test_train_epoch(globals())
""")
notebook.markdown(r"""
### Batch size: many rough steps or few careful ones

Train the same model for 20 epochs three ways: with the whole training set
as one batch (331 rows: 1 step per epoch), with batches of 32 (11 steps)
and with batches of 4 (83 steps). Each starts from zero weights with the same
learning rate.
""")
notebook.code("""
def fit_linear(batch_size, epochs=20, learning_rate=0.01):
    W.value, b.value = np.zeros((10, 1)), np.zeros(1)
    return [train_epoch(graph, cost, X_node, y_node, [W, b], X_train, y_train,
                        batch_size=batch_size, learning_rate=learning_rate, seed=epoch)
            for epoch in range(epochs)]


fig, (by_epoch, by_step) = plt.subplots(1, 2, figsize=(11, 3.8))
for batch_size in (len(X_train), 32, 4):
    history = fit_linear(batch_size)
    steps_per_epoch = -(-len(X_train) // batch_size)
    plot_loss(history, ax=by_epoch, label=f"batch {batch_size}",
              title="Training loss per epoch")
    by_step.plot(steps_per_epoch * np.arange(1, len(history) + 1), history,
                 label=f"batch {batch_size}")
    print(f"batch {batch_size:3d}: {steps_per_epoch:2d} SGD step(s) per epoch, "
          f"loss in epoch 20: {history[-1]:.4f}")
by_step.set_xscale("log")
by_step.set_title("The same curves against the number of SGD steps")
by_step.set_xlabel("SGD steps (log scale)")
by_step.set_ylabel("loss")
by_step.grid(alpha=0.3)
by_step.legend()
plt.show()
""")
notebook.markdown(r"""
Per epoch, small batches win: they take many more steps for the same pass
over the data, and the full batch is still far from the minimum after 20
epochs. Per step (right), the full batch is the smoothest, but each of its
steps costs 331 rows of work. The batch-4 curve drops fastest, then
flattens above the batch-32 one and wobbles: its gradient estimates are so
noisy that near the minimum they keep pushing it around. In practice
batches of 32 to 256 rows balance the two.

How good is the model? The last run used batches of 4; the test patients
were never used in training:
""")
notebook.code("""
X_node.value, y_node.value = X_test, y_test
test_loss = mf.forward_pass(cost, graph)
scale = progression.std()
print(f"test MSE {test_loss:.3f} (predicting the mean scores 1.0); "
      f"typical error {np.sqrt(test_loss) * scale:.0f} points of disease progression")

predicted = (prediction.value.reshape(-1) * scale) + progression.mean()
measured = y_test * scale + progression.mean()
fig, ax = plt.subplots(figsize=(4.5, 4.2))
ax.scatter(measured, predicted, s=12, alpha=0.7)
ax.plot([25, 346], [25, 346], color="gray", linestyle=":", label="perfect prediction")
ax.set_title("Test patients: predicted vs measured")
ax.set_xlabel("measured progression")
ax.set_ylabel("predicted progression")
ax.legend()
plt.show()
""")
notebook.markdown(r"""
The test patients scatter widely around the dotted diagonal of perfect
prediction. A straight line through ten measurements explains about half of
the variation: useful, far from perfect, and the best a linear model can do
here. For some problems a linear model is not even that.

### Try the settings yourself

`explore_training` runs your `train_epoch` with the learning rates and batch
sizes you pick and draws the loss curves side by side (each run starts from
zero weights; the three curves below are learning rates 0.001, 0.01 and 0.1
with batches of 32). Pick a learning rate and a batch size and press
**Add curve**: try 1.0, or 0.1 with batches of 4, and watch the loss grow
instead of shrinking.
""")
notebook.code("""
from miniflow.stepper import explore_training


def train(learning_rate, batch_size, epochs, seed):
    \"\"\"Your train_epoch on the diabetes data, from zero weights: one mean loss per epoch.\"\"\"
    W.value, b.value = np.zeros((10, 1)), np.zeros(1)
    return [train_epoch(graph, cost, X_node, y_node, [W, b], X_train, y_train,
                        batch_size=batch_size, learning_rate=learning_rate, seed=seed + epoch)
            for epoch in range(epochs)]


explore_training(train, learning_rates=(0.001, 0.01, 0.1, 1.0),
                 batch_sizes=(4, 32, len(X_train)), epochs=20,
                 curves=[(0.001, 32), (0.01, 32), (0.1, 32)])
""")
notebook.markdown(r"""
## 4. XOR: why networks need a hidden layer

Points near $(1, 1)$ and $(-1, -1)$ are class 0; points near $(-1, 1)$ and
$(1, -1)$ are class 1: the **exclusive or** of the two signs. No single
straight line separates the classes. A linear classifier (one `Linear` layer
and softmax cross-entropy) trained on it does no better than chance:
""")
notebook.code("""
X_xor, y_xor = make_xor(200, noise=0.2, seed=0)

rng = np.random.default_rng(0)
X_in, labels_in, W_lin, b_lin = Input("X"), Input("labels"), Input("W"), Input("b")
linear_logits = Linear(X_in, W_lin, b_lin, name="logits")
linear_cost = CrossEntropyWithSoftmax(linear_logits, labels_in, name="cost")
linear_graph = topological_sort({X_in: X_xor, labels_in: y_xor,
                                 W_lin: rng.normal(size=(2, 2)), b_lin: np.zeros(2)})
for epoch in range(100):
    train_epoch(linear_graph, linear_cost, X_in, labels_in, [W_lin, b_lin], X_xor, y_xor,
                batch_size=20, learning_rate=1.0, seed=epoch)


def linear_predict(points):
    X_in.value = points
    return mf.forward_pass(linear_logits, [X_in, W_lin, b_lin, linear_logits]).argmax(axis=1)


print(f"linear classifier, training accuracy: {np.mean(linear_predict(X_xor) == y_xor):.0%}")
plot_decision_boundary(linear_predict, X_xor, y_xor, title="One Linear layer on XOR")
plt.show()
""")
notebook.markdown(r"""
The boundary is one straight line, with points of both classes on each side.

A **hidden layer** fixes this. The first layer maps each point to $h$ new
features, $H = \sigma(X W_1 + b_1)$, and the second layer draws its straight
line in that new space: $Z = H W_2 + b_2$. With a few sigmoid features (for
example "is $x_1 + x_2$ large?" and "is $x_1 + x_2$ small?") XOR becomes
separable. The sigmoid matters: without it, $(XW_1 + b_1)W_2 + b_2$ is again
one linear map.

$$X \xrightarrow{\text{Linear}(W_1, b_1)} \xrightarrow{\ \sigma\ } H
\xrightarrow{\text{Linear}(W_2, b_2)} Z \xrightarrow{\text{softmax
cross-entropy}} L$$

**Initial weights.** Start $W_1$ and $W_2$ **random**, not zero: with equal
weights every hidden unit computes the same feature and receives the same
gradient, so they stay identical forever (the *symmetry* problem) and the
network behaves as if it had one hidden unit. Draw $W_1$ from
`rng.normal(size=(2, n_hidden))` and $W_2$ from
`rng.normal(size=(n_hidden, 2)) / np.sqrt(n_hidden)` (scaled so the logits
start small); biases may start at zero.

**Predicting** needs only the nodes up to the logits, not the loss (which
would also want labels). In topological order those come first:
`graph[:graph.index(logits) + 1]` is everything the logits depend on (and
perhaps an input they do not), and `mf.forward_pass(logits, that_list)`
returns the logits; the predicted class of a row is its largest logit,
`argmax(axis=1)`.

### Exercise 3 (3 points): a network that learns XOR

Write `train_xor(X, y, seed=0)`: build the two-layer network above (your
choice of the hidden size), train it on `(X, y)` with your `train_epoch` (your
choice of batch size, learning rate and number of epochs: a few seconds at
most), and return `(predict, history)`: a function `predict(points)` that
gives one label (0 or 1) per row of `points`, and the list of epoch losses.
Use `seed` for the initial weights and the shuffling. The test below trains
your network on the sample above and measures its accuracy on 400 fresh points
it never saw; the grader does the same with samples of its own. 95% is the
target.
""")
notebook.solution("train_xor", """
def train_xor(X, y, seed=0):
    \"\"\"Train X -> Linear -> Sigmoid -> Linear -> softmax cross-entropy on (X, y).

    Returns (predict, history): predict(points) gives a label per row,
    history is the mean loss of each epoch.
    \"\"\"
    ### BEGIN SOLUTION
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
    ### END SOLUTION
""")
notebook.code("""
xor_predict, xor_history = train_xor(X_xor, y_xor)
print(f"loss: {xor_history[0]:.3f} in the first epoch, {xor_history[-1]:.4f} in the last")
print(f"training accuracy: {np.mean(xor_predict(X_xor) == y_xor):.0%}")

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
plot_loss(xor_history, ax=left, title="Training loss on XOR")
plot_decision_boundary(xor_predict, X_xor, y_xor, ax=right,
                       title="The two-layer network's decision boundary")
plt.show()
""")
notebook.test("test_xor", 3, """
# Train on the sample above. This test grades train_xor alone: sgd_update and
# train_epoch are miniflow's while it runs (exercises 1 and 2 have their own tests).
from autograder import checks

checks.test_xor(globals(), X_xor, y_xor)
""")
notebook.markdown(r"""
The boundary bends: the hidden layer's sigmoid features let the last layer
cut the plane into the four quadrants. Try it yourself in a scratch cell:
remove the `Sigmoid`, or start every weight at zero, and watch the boundary
become one straight line again.

## What you learned

- Gradient descent steps every weight against its gradient,
  $w \leftarrow w - \eta\,\partial L/\partial w$; the learning rate $\eta$
  decides between crawling, converging and diverging.
- An epoch feeds every row once, in shuffled mini-batches, with one SGD step
  per batch; rows of `X` and `y` stay together.
- Small batches take many noisy steps per epoch; large ones take few smooth
  ones.
- A linear model cannot learn XOR; one hidden layer with a nonlinearity, and
  random initial weights, can.
- Next, in *Handwritten digits*: the same network on real images, with
  `miniflow.sgd_update` and `miniflow.train_epoch` (the library's versions of
  what you wrote here).
""")
