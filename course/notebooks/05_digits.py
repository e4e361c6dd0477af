from course.authoring import NotebookBuilder

notebook = NotebookBuilder()
notebook.markdown(r"""
# Assignment 5: Handwritten digits

Everything is in place: nodes that compute and backpropagate (*Graphs*,
*Layers*), losses (*Losses*) and the training loop (*Training*). Now we put
them to work on real data: 1,797 small images of handwritten digits, each to
be read as one of the ten classes 0 to 9. You will assemble a two-layer
network from miniflow's nodes, train it with mini-batch gradient descent,
measure how well it reads digits it has **never seen**, and look at the ones
it gets wrong.

**After this notebook you can:**

1. load a real image data set and say what its arrays hold;
2. explain why a model is judged on a held-out test set, and split data so
   every class appears in both parts (stratified);
3. build, initialise and train a classifier on real images (weights scaled by
   $1/\sqrt{n_\text{in}}$, biases zero, and why);
4. measure its test accuracy and inspect the mistakes it makes.

**How the exercises work.** As before: replace `raise NotImplementedError()`
in each `# YOUR CODE HERE` cell, run it, then run the test cell below it. This
time you write no nodes: use miniflow's (`Input`, `Linear`, `Sigmoid`,
`CrossEntropyWithSoftmax`, ...). The grader tests your functions on other
sizes and seeds; the test of your `train` also checks that the network it
trains reads at least 95% of the test digits correctly.
""")
notebook.given("setup", """
import numpy as np
import matplotlib.pyplot as plt

import miniflow as mf
from miniflow import (Input, Linear, Sigmoid, CrossEntropyWithSoftmax, topological_sort,
                      forward_and_backward, sgd_update, iterate_minibatches)
from miniflow.datasets import load_digits, train_test_split
from miniflow.plotting import draw_graph, plot_loss, show_digits
from miniflow.training import progress

np.set_printoptions(precision=4, suppress=True)
""")
notebook.markdown(r"""
## 1. The digits

`load_digits()` returns the images and their labels. Each image has
$8 \times 8 = 64$ pixels, stored as **one row of 64 numbers**: the network
sees a vector, not a picture. The pixels are ink levels scaled to $[0, 1]$
(0 is white paper, 1 full ink), and each label is the digit the writer meant.
""")
notebook.code("""
X, y = load_digits()
print("images X:", X.shape, X.dtype, f" pixel values from {X.min()} to {X.max()}")
print("labels y:", y.shape, y.dtype, " the first ten:", y[:10])
print("images per digit:", np.bincount(y))
print()
print(f"the first image (a {y[0]}), as ink levels 0..16:")
print((X[0] * 16).astype(int).reshape(8, 8))
""")
notebook.markdown(r"""
Reshaped to $8 \times 8$, the rows become pictures. They are coarse, and some
are hard to read even for people:
""")
notebook.code("""
show_digits(X[:30], y[:30], title="The first 30 digits, with their labels")
plt.show()
""")
notebook.markdown(r"""
## 2. A test set the network never sees

A network with thousands of weights can **memorise** its training images: it
can get every one of them right and still fail on the next digit someone
writes. Accuracy on the training images therefore says little about what we
care about, reading *new* digits. So before training we put a quarter of the
images aside, the **test set**, and never train on it. At the end, accuracy
on the test set estimates accuracy on digits the network has never seen.

The rules that make that estimate honest:

- the split is made **once, before training**, at random (a seed makes it
  repeatable);
- nothing learns from the test set: not the weights, and not your choice of
  learning rate or number of epochs either (tune on the training data, or on
  a third, *validation* part, if you tune a lot);
- every class should appear in both parts in its usual share. That is a
  **stratified** split: `train_test_split(..., stratify=True)` splits each
  digit's images on its own.
""")
notebook.code("""
X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0, stratify=True)
print("training set:", X_train.shape, " test set:", X_test.shape)

fig, ax = plt.subplots(figsize=(7, 3))
digits = np.arange(10)
ax.bar(digits - 0.2, np.bincount(y_train) / len(y_train), width=0.4, label="training set")
ax.bar(digits + 0.2, np.bincount(y_test) / len(y_test), width=0.4, label="test set")
ax.set_title("Each digit's share of the two sets (stratified split)")
ax.set_xlabel("digit")
ax.set_ylabel("fraction of the set")
ax.set_xticks(digits)
ax.legend(loc="lower right")
plt.show()
""")
notebook.markdown(r"""
The two bars of each digit are the same height, about 0.1: every digit has
the same share of the training set and of the test set.

## 3. The network

A batch of $N$ images $X$ of shape $(N, 64)$ goes through a hidden layer of
$h$ sigmoid units and then a layer with one output per class, the
**logits** $Z$:

$$H = \sigma(X W_1 + b_1), \qquad Z = H W_2 + b_2, \qquad
L = \text{CrossEntropyWithSoftmax}(Z, y).$$

| node | shape | what it is |
| --- | --- | --- |
| `X` | $(N, 64)$ | a batch of images, one row each |
| `W1`, `b1` | $(64, h)$, $(h,)$ | the hidden layer's weights and biases |
| `H` | $(N, h)$ | the hidden units' outputs, each in $(0, 1)$ |
| `W2`, `b2` | $(h, 10)$, $(10,)$ | the output layer's weights and biases |
| `Z` (logits) | $(N, 10)$ | one score per class; the largest is the prediction |
| `labels` | $(N,)$ | the true digits, integers 0..9 |
| `L` | scalar | the mean cross-entropy: softmax is inside the loss node |

`W1`, `b1`, `W2` and `b2` are the **trainables**: `Input` nodes whose values
training changes. `X` and `labels` are `Input`s too, fed a new batch at every
step. Here is the graph, wired with miniflow's nodes and run on a batch of 5
images with all weights set to zero (we will see in a moment why that is a
bad start):
""")
notebook.code("""
X_node, labels_node = Input("X"), Input("labels")
W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
hidden = Sigmoid(Linear(X_node, W1, b1, name="hidden layer"), name="H")
logits = Linear(hidden, W2, b2, name="logits")
cost = CrossEntropyWithSoftmax(logits, labels_node, name="cost")

n_hidden = 16
graph = topological_sort({X_node: X_train[:5], labels_node: y_train[:5],
                          W1: np.zeros((64, n_hidden)), b1: np.zeros(n_hidden),
                          W2: np.zeros((n_hidden, 10)), b2: np.zeros(10)})
loss = forward_and_backward(graph, output=cost)
draw_graph(graph, show="shape", title="Two layers and a softmax cross-entropy loss (shapes)")
plt.show()
print(f"loss with all-zero weights: {loss:.4f}; log(10) = {np.log(10):.4f}")
""")
notebook.markdown(r"""
With zero weights every logit is 0, softmax gives each class probability
$\frac{1}{10}$, and the loss is $-\log\frac{1}{10} = \log 10 \approx 2.30$:
the loss of a network that knows nothing. A freshly initialised network
should start near this number; much higher means it starts out confidently
wrong.

## 4. How large should the first weights be?

**Not all zero.** With zero weights, every hidden unit computes the same
number for every image, and backpropagation sends every unit the same
gradient: the units are **symmetric**, and gradient descent can never make
them differ. Sixteen identical units are no better than one. Here even worse,
`W1` gets no gradient at all, because the gradient reaching `H` is
$\frac{\partial L}{\partial Z} W_2^T = 0$:
""")
notebook.code("""
print("every hidden unit has the same output:", np.allclose(hidden.value, hidden.value[:, :1]))
print("the gradient of W1 is all zero:", np.all(W1.gradients[W1] == 0))
""")
notebook.markdown(r"""
So the weights are drawn **at random**, which breaks the symmetry. But at
what scale? A hidden unit adds up $n_\text{in}$ terms,
$z = \sum_{i=1}^{n_\text{in}} x_i w_i$. With independent weights of
standard deviation $s$, the variances add up:

$$\operatorname{Var}(z) = s^2 \sum_{i=1}^{n_\text{in}} x_i^2 ,$$

which grows with the number of inputs. With $s = 1$ and 64 pixels, $z$ is
typically several units large, and the sigmoid **saturates**: its output
sticks near 0 or 1, where its slope $\sigma(z)(1 - \sigma(z))$ is almost 0, so
almost no gradient gets through and learning crawls. Choosing

$$s = \frac{1}{\sqrt{n_\text{in}}}$$

divides the sum of $n_\text{in}$ variances by $n_\text{in}$: $z$ keeps about
the size of a typical input, whatever the layer's width, and the sigmoids
start in their steep middle part. (Variants such as Glorot's
$\sqrt{2/(n_\text{in} + n_\text{out})}$ or He's $\sqrt{2/n_\text{in}}$ follow
the same reasoning.) The biases can start at zero: the random weights
already make the units differ.
""")
notebook.code("""
rng = np.random.default_rng(0)
scales = {"s = 1": 1.0, "s = 1 / sqrt(64)": 1 / np.sqrt(64), "s = 0.01": 0.01}
fig, axes = plt.subplots(1, 3, figsize=(11, 3), sharey=True)
for ax, (label, scale) in zip(axes, scales.items()):
    z = X_train[:200] @ (rng.normal(size=(64, 64)) * scale)
    activations = 1 / (1 + np.exp(-z))
    ax.hist(activations.reshape(-1), bins=40, range=(0, 1))
    ax.set_title(f"{label}: std of z = {z.std():.2f}")
    ax.set_xlabel("hidden unit output sigmoid(z)")
axes[0].set_ylabel("count (200 images x 64 units)")
fig.suptitle("Hidden activations for three scales of random weights")
plt.tight_layout()
plt.show()
""")
notebook.markdown(r"""
With $s = 1$ most outputs are pushed against 0 or 1 (saturated); with
$s = 1/\sqrt{64}$ they spread around the middle, where the sigmoid learns
fastest. With $s = 0.01$ they are all about 0.5: nothing is saturated, but
the units are nearly alike, the signal that reaches the next layer is tiny,
and the gradients flowing back through $W_2$ are tiny too.

### Exercise 1 (3 points): `build_network`

The class `Network` below (given) holds the nodes a training loop needs and
sorts the graph once, when it is created. Write
`build_network(n_inputs, n_hidden, n_classes, seed=0)` that

- creates the `Input`s `X`, `labels`, `W1`, `b1`, `W2`, `b2` and wires
  them as in section 3, with miniflow's nodes;
- gives the trainables their initial values (`W1.value = ...`): weights
  drawn from a normal distribution with standard deviation
  $1/\sqrt{n_\text{in}}$ of **their** layer, by a generator made from the
  seed, `np.random.default_rng(seed)` (the same seed must give the same
  network); biases zero, of shape $(n_\text{out},)$;
- returns `Network(X, labels, [W1, b1, W2, b2], logits, cost)`, with the
  trainables in that order.
""")
notebook.given("network_class", """
class Network:
    \"\"\"The nodes of a classifier, and its graph sorted once for training.\"\"\"

    def __init__(self, X, labels, trainables, logits, cost):
        self.X = X                            # Input: a batch of images, (N, n_inputs)
        self.labels = labels                  # Input: their labels, (N,)
        self.trainables = list(trainables)    # [W1, b1, W2, b2], Inputs holding the weights
        self.logits = logits                  # one score per class, (N, n_classes)
        self.cost = cost                      # the loss node
        for node in self.trainables:
            if node.value is None:
                raise ValueError(f"{node!r} has no value: set its initial value first")
        # topological_sort needs a value for every Input; the data come later, one
        # batch at a time, so an empty batch stands in for now.
        feed = {node: node.value for node in self.trainables}
        feed[X] = np.zeros((0, 0)) if X.value is None else X.value
        feed[labels] = np.zeros(0, dtype=int) if labels.value is None else labels.value
        self.graph = topological_sort(feed)

    def __repr__(self):
        shapes = ", ".join(f"{node.name} {np.shape(node.value)}" for node in self.trainables)
        return f"Network({shapes})"
""")
notebook.solution("build_network", """
def build_network(n_inputs, n_hidden, n_classes, seed=0):
    \"\"\"X -> Linear -> Sigmoid -> Linear -> CrossEntropyWithSoftmax, freshly initialised.\"\"\"
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    X, labels = Input("X"), Input("labels")
    W1, b1, W2, b2 = Input("W1"), Input("b1"), Input("W2"), Input("b2")
    hidden = Sigmoid(Linear(X, W1, b1, name="hidden_linear"), name="hidden")
    logits = Linear(hidden, W2, b2, name="logits")
    cost = CrossEntropyWithSoftmax(logits, labels, name="cost")
    W1.value = rng.normal(size=(n_inputs, n_hidden)) / np.sqrt(n_inputs)
    b1.value = np.zeros(n_hidden)
    W2.value = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)
    b2.value = np.zeros(n_classes)
    return Network(X, labels, [W1, b1, W2, b2], logits, cost)
    ### END SOLUTION
""")
notebook.test("test_build_network", 3, """
from autograder import checks

# A small network with other sizes, then the digits network 64-32-10: its shapes,
# and the loss of a fresh network on 100 images.
checks.test_build_network(build_network, X_train, y_train)
""")
notebook.markdown(r"""
Your network, drawn with the shapes of a batch of 5 images:
""")
notebook.code("""
network = build_network(64, 64, 10, seed=0)
network.X.value, network.labels.value = X_train[:5], y_train[:5]
print(f"loss of the fresh network: {mf.forward_pass(network.cost, network.graph):.4f}")
draw_graph(network.graph, show="shape", title="build_network(64, 64, 10): shapes")
plt.show()
""")
notebook.markdown(r"""
## 5. Predicting

The network's answer for an image is the class with the **largest logit**.
(Softmax would turn the logits into probabilities, but it keeps their order,
so the largest logit is also the most probable class.) Predicting needs only
the forward pass **up to the logits**: the loss node would need labels, and
new images come without them.

`network.graph` is in topological order, so every node the logits depend on
comes before them: running
`network.graph[:network.graph.index(network.logits) + 1]` forward (each
node's `forward()`, or `mf.forward_pass`) computes the logits and nothing
after them.

### Exercise 2 (2 points): `predict`

Write `predict(network, X)` that feeds the images `X` of shape
$(N, n_\text{inputs})$ to `network.X`, runs the graph forward up to the
logits, and returns the predicted labels: an integer array of shape $(N,)$,
the argmax of each row of logits (`np.argmax(..., axis=1)`). It must not
change the weights, nor need the labels.
""")
notebook.solution("predict", """
def predict(network, X):
    \"\"\"The predicted class of each row of X: an integer array of shape (N,).\"\"\"
    ### BEGIN SOLUTION
    network.X.value = X
    up_to_logits = network.graph[:network.graph.index(network.logits) + 1]
    logits_value = mf.forward_pass(network.logits, up_to_logits)
    return np.argmax(logits_value, axis=1)
    ### END SOLUTION
""")
notebook.test("test_predict", 2, """
from autograder import checks

# Random networks of several sizes, then a tiny hand-set network of 2 inputs.
checks.test_predict(predict, Network)
""")
notebook.markdown(r"""
## 6. Training

One **epoch** passes over all the training images once, in shuffled
mini-batches. For each batch: feed it to `network.X` and `network.labels`,
run `forward_and_backward(network.graph, output=network.cost,
trainables=network.trainables)` (it returns the batch's loss), then move
the trainables one step downhill with `sgd_update`. A new shuffle each
epoch helps, and a fixed seed makes the run repeatable:
`iterate_minibatches(X_train, y_train, batch_size, seed=seed + epoch)` yields
`(X_batch, y_batch)` pairs that cover every row once, in an order shuffled by
`seed`, each batch `batch_size` rows long except perhaps the last.

You built each of these pieces yourself in assignments 1 to 4; here, use
miniflow's (`forward_and_backward`, `sgd_update`, `iterate_minibatches`,
imported at the top), so that this exercise is graded on `train` alone.

### Exercise 3 (5 points): `train`

Write `train(network, X_train, y_train, epochs, batch_size, learning_rate,
seed=0)` that trains `network` in place for `epochs` epochs and returns the
**history**: a list with one number per epoch, the mean of that epoch's
mini-batch losses. Show a progress bar over the epochs with the latest loss:

```python
bar = progress(range(epochs), description="epoch")
for epoch in bar:
    ...
    bar.set(loss=epoch_loss)
```

Train only on the data passed in: the test set stays out of it.
""")
notebook.solution("train", """
def train(network, X_train, y_train, epochs, batch_size, learning_rate, seed=0):
    \"\"\"Mini-batch SGD on (X_train, y_train); returns the mean loss of each epoch.\"\"\"
    ### BEGIN SOLUTION
    history = []
    bar = progress(range(epochs), description="epoch")
    for epoch in bar:
        losses = []
        for X_batch, y_batch in iterate_minibatches(X_train, y_train, batch_size,
                                                    seed=seed + epoch):
            network.X.value, network.labels.value = X_batch, y_batch
            losses.append(forward_and_backward(network.graph, output=network.cost,
                                               trainables=network.trainables))
            sgd_update(network.trainables, learning_rate)
        history.append(float(np.mean(losses)))
        bar.set(loss=history[-1])
    return history
    ### END SOLUTION
""")
notebook.markdown(r"""
Now train a 64-64-10 network on the training set. The settings below reach
about 96% test accuracy in a second or two; you may change them, but keep
the run short. The test below runs your `train` with these settings and
checks the trained network on the test digits: at least 95% is the target.
""")
notebook.code("""
epochs, batch_size, learning_rate = 30, 32, 0.5
network = build_network(64, 64, 10, seed=0)
history = train(network, X_train, y_train, epochs, batch_size, learning_rate)
""")
notebook.code("""
plot_loss(history, title="Training loss on the digits", ylabel="mean cross-entropy")
plt.show()

train_accuracy = np.mean(predict(network, X_train) == y_train)
test_accuracy = np.mean(predict(network, X_test) == y_test)
print(f"loss: {history[0]:.3f} in the first epoch, {history[-1]:.3f} in the last")
print(f"training accuracy: {train_accuracy:.1%}")
print(f"test accuracy:     {test_accuracy:.1%}  ({len(X_test)} digits never seen in training)")
""")
notebook.test("test_train", 5, """
# This test grades train alone: with your settings it trains a network miniflow
# builds, and reads it with miniflow's forward pass (not your predict).
from autograder import checks

checks.test_train(train, X_train, y_train, X_test, y_test,
                  epochs, batch_size, learning_rate)
""")
notebook.markdown(r"""
The loss curve falls steeply in the first epochs, from 2.150, then flattens
out near 0.07.

The training accuracy is higher than the test accuracy: the network has
partly memorised its training images. The gap is the reason for the test
set: only the test accuracy tells how the network will do on new digits.

## 7. The mistakes

A single accuracy hides *which* digits go wrong. A **confusion matrix**
counts, for each true digit (row), how often each digit was predicted
(column); a perfect classifier has numbers on the diagonal only.
""")
notebook.code("""
test_predictions = predict(network, X_test)
confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (y_test, test_predictions), 1)

fig, ax = plt.subplots(figsize=(5.5, 5))
ax.imshow(confusion, cmap="Blues")
for (true, predicted), count in np.ndenumerate(confusion):
    if count:
        ax.text(predicted, true, str(count), ha="center", va="center",
                color="white" if count > confusion.max() / 2 else "black", fontsize=8)
ax.set_title("Confusion matrix on the test set")
ax.set_xlabel("predicted digit")
ax.set_ylabel("true digit")
ax.set_xticks(range(10))
ax.set_yticks(range(10))
plt.show()
""")
notebook.markdown(r"""
Nearly all the counts lie on the diagonal, digits read right; the few small
numbers off it are the mistakes, in the row of the true digit and the column
of the prediction.

And here are the test digits it got wrong, each titled with its prediction
and the truth. Many are ones a person would hesitate over too; some are
plain mistakes, often between digits with similar strokes.
""")
notebook.code("""
wrong = np.flatnonzero(test_predictions != y_test)
print(f"{len(wrong)} of {len(y_test)} test digits are misclassified")
show_digits(X_test[wrong], y_test[wrong], test_predictions[wrong],
            title=f"The {len(wrong)} test digits the network got wrong")
plt.show()
""")
notebook.markdown(r"""
## What you learned

- An image is a row of pixels to the network; the digits are 1,797 rows of
  64 ink levels with integer labels 0..9.
- A model is judged on a **test set** split off before training and never
  trained or tuned on; a **stratified** split keeps every class in both parts.
- Random initial weights break the symmetry between units; scaling them by
  $1/\sqrt{n_\text{in}}$ keeps the sigmoids out of saturation; biases start
  at zero. A fresh classifier's loss is then near $\log(\text{classes})$.
- Prediction is the argmax of the logits, from a forward pass that stops at
  the logits.
- A two-layer network trained for a few seconds with mini-batch SGD reads
  about 96% of unseen digits; the confusion matrix and the misclassified
  images show where the rest go wrong.
- Next, in the bonus: build the same machinery the other way round, a
  define-by-run `Tensor` that records its graph as it computes.
""")
