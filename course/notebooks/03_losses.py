from course.authoring import NotebookBuilder

notebook = NotebookBuilder()
notebook.markdown(r"""
# Assignment 3: Losses

To learn, a network needs one number that says how wrong it is: the
**loss**. The loss is the last node of the graph, and backpropagation starts
there. This notebook builds the two losses you will train with: **mean
squared error** for predicting numbers (regression) and **softmax
cross-entropy** for predicting classes (classification). Both are short;
both hide a numerical trap that silently gives wrong answers, and you will
learn to avoid each one.

**After this notebook you can:**

1. explain why backpropagation starts at the loss with gradient 1;
2. implement mean squared error without the `(3,)` vs `(3, 1)` broadcasting trap;
3. compute softmax and cross-entropy stably, with log-sum-exp;
4. derive the softmax cross-entropy gradient $(\text{softmax} - \text{onehot})/N$.

**How the exercises work.** As before: replace `raise NotImplementedError()`
in each `# YOUR CODE HERE` cell, run it, then run the test cell below it. The
grader runs more tests of the same kind (other batch sizes, other numbers of
classes, extreme values), so make your code correct in general.
""")
notebook.given("setup", """
import warnings

import numpy as np
import matplotlib.pyplot as plt

import miniflow as mf
from miniflow import Node, Input, Linear, value_and_grad, topological_sort
from miniflow.datasets import make_blobs
from miniflow.plotting import draw_graph, plot_loss

np.set_printoptions(precision=4, suppress=True)
""")
notebook.markdown(r"""
## 1. The loss ends the graph

Every gradient we compute is a gradient *of the loss* $L$:
$\partial L/\partial W$, $\partial L/\partial b$, ... In *Layers* each node
read its upstream gradient from its consumers. The loss node has **no
consumers**: nothing comes after it. Its upstream gradient is the derivative
of the loss with respect to itself,

$$\frac{\partial L}{\partial L} = 1 ,$$

so a loss's `backward` uses **1** where other nodes read
`consumer.gradients[self]`. Loss classes also set `is_loss = True`, which
tells `forward_and_backward` and `value_and_grad` where backpropagation
starts.

Here is a prediction by a `Linear` layer (miniflow's, from *Layers*) scored
by mean squared error against targets `y`, on a batch of 5:
""")
notebook.code("""
X, W, b, y = Input("X"), Input("W"), Input("b"), Input("y")
prediction = Linear(X, W, b, name="Linear")
cost = mf.MSE(y, prediction, name="MSE")

rng = np.random.default_rng(0)
graph = topological_sort({X: rng.normal(size=(5, 3)), W: rng.normal(size=(3, 1)),
                          b: np.zeros(1), y: rng.normal(size=5)})
mf.forward_pass(cost, graph)
draw_graph(graph, show="shape", title="A Linear layer scored by MSE: the loss is the last node")
plt.show()
""")
notebook.markdown(r"""
## 2. Mean squared error

For $m$ targets $y_i$ and predictions $a_i$:

$$L = \frac{1}{m}\sum_{i=1}^{m} (y_i - a_i)^2 .$$

**Worked example.** $y = (1, 2, 3)$, $a = (4.5, 5, 10)$: the differences
are $(-3.5, -3, -7)$, their squares $(12.25, 9, 49)$, and the mean is
$70.25 / 3 = 23.41667$.
""")
notebook.code("""
y_example = np.array([1., 2., 3.])
a_example = np.array([4.5, 5., 10.])
print("differences:", y_example - a_example)
print("MSE:", np.mean((y_example - a_example) ** 2))
""")
notebook.markdown(r"""
### The broadcasting trap

Targets usually come as a vector of shape `(m,)`, but a `Linear` layer with
one output neuron predicts a **column** of shape `(m, 1)`. Subtract the two
and numpy does not complain: it broadcasts them to an `(m, m)` matrix of
*every target minus every prediction*. The mean of that is a number, just the
wrong one:
""")
notebook.code("""
a_column = a_example.reshape(-1, 1)       # what Linear(..., n_out=1) produces: shape (3, 1)
wrong = y_example - a_column
print("y has shape", y_example.shape, "and a has shape", a_column.shape)
print("y - a has shape", wrong.shape, ":\\n", wrong)
print("mean of its squares:", np.mean(wrong ** 2), "  <- 9 differences instead of 3")
""")
notebook.markdown(r"""
Only the diagonal holds the differences we meant. The fix: make **both**
sides columns before subtracting (`reshape(-1, 1)`), whatever shapes they
came in; then the difference has shape `(m, 1)` and the mean is right again.
""")
notebook.code("""
fig, ax = plt.subplots(figsize=(4, 3.4))
ax.imshow(np.abs(wrong), cmap="Oranges")
for (i, j), number in np.ndenumerate(wrong):
    ax.text(j, i, f"{number:g}", ha="center", va="center",
            fontweight="bold" if i == j else "normal")
ax.set_title("y - a for shapes (3,) and (3, 1)\\n(only the diagonal was meant)")
ax.set_xlabel("target index j (from y)")
ax.set_ylabel("prediction index i (from a)")
ax.set_xticks(range(3))
ax.set_yticks(range(3))
plt.show()

columns = y_example.reshape(-1, 1) - a_column.reshape(-1, 1)
print("as columns: difference shape", columns.shape, " MSE =", np.mean(columns ** 2))
""")
notebook.markdown(r"""
### The gradients of MSE

Differentiate one term, $(y_i - a_i)^2$, and keep the $\frac{1}{m}$:

$$\frac{\partial L}{\partial y_i} = \frac{2}{m}(y_i - a_i), \qquad
\frac{\partial L}{\partial a_i} = -\frac{2}{m}(y_i - a_i).$$

The minus sign for $a$ comes from the inner derivative
$\partial (y_i - a_i)/\partial a_i = -1$. Computed on the column of
differences, each gradient must then be **reshaped back** to its own input's
shape: `(m,)` for a vector target, `(m, 1)` for a column prediction.

In the worked example $\partial L / \partial a = -\frac{2}{3}(-3.5, -3, -7)
= (2.3333, 2, 4.6667)$: every prediction is too large, so the gradient says
"decrease it", most of all the worst one.

### Exercise 1 (4 points): the `MSE` node

Write `MSE(y, a)`:

- **forward**: reshape both values to columns, store what `backward` needs
  (the difference and $m$) on `self`, and set `self.value` to the mean of the
  squared differences (a single number);
- **backward**: with upstream gradient 1 (the loss has no consumers), set
  `self.gradients` for `y` and `a` from the formulas above, each reshaped to
  the shape of that input's value.
""")
notebook.solution("mse", """
class MSE(Node):
    \"\"\"Mean squared error between targets y and predictions a (equal sizes, any shapes).\"\"\"

    is_loss = True  # a loss ends the graph: backpropagation starts here, with dL/dL = 1

    def __init__(self, y, a, name=None):
        super().__init__([y, a], name=name)

    def forward(self):
        ### BEGIN SOLUTION
        y, a = (np.asarray(node.value, dtype=float) for node in self.inbound_nodes)
        self.diff = y.reshape(-1, 1) - a.reshape(-1, 1)
        self.m = self.diff.shape[0]
        self.value = np.mean(self.diff ** 2)
        ### END SOLUTION

    def backward(self):
        ### BEGIN SOLUTION
        y, a = self.inbound_nodes
        upstream = 1.0  # no consumers: dL/dL = 1
        self.gradients = {
            y: (upstream * 2.0 / self.m * self.diff).reshape(np.shape(y.value)),
            a: (upstream * -2.0 / self.m * self.diff).reshape(np.shape(a.value)),
        }
        ### END SOLUTION
""")
notebook.test("test_mse_forward", 2, """
from autograder import checks

# First, is it a mistake students often make? Then random values, m = 5, in every
# mix of (m,) and (m, 1); then the worked example, a as a vector and as a column.
checks.test_mse_forward(MSE)
""")
notebook.test("test_mse_backward", 2, """
from autograder import checks

# First, is it a mistake students often make? Then random values, m = 5, in every
# mix of (m,) and (m, 1); then the worked example, a as a vector and as a column.
checks.test_mse_backward(MSE)
""")
notebook.markdown(r"""
## 3. Softmax: scores to probabilities

A classifier with $C$ classes ends in a `Linear` layer with $C$ outputs: one
score per class, called the **logits** $z$. Softmax turns a row of logits
into probabilities, positive and summing to 1:

$$p_k = \frac{e^{z_k}}{\sum_{j=1}^{C} e^{z_j}} .$$

**Worked example.** $z = (0.5, 1, 1.5)$ gives
$p = (0.1863, 0.3072, 0.5065)$: the largest logit gets the largest
probability, but the others are not zero.
""")
notebook.code("""
z = np.array([0.5, 1.0, 1.5])
p = np.exp(z) / np.exp(z).sum()
print("softmax:", p, f" sum: {p.sum():.4f}")

fig, ax = plt.subplots(figsize=(5, 3))
bars = ax.bar(["class 0", "class 1", "class 2"], p, color=["C0", "C1", "C0"])
ax.bar_label(bars, fmt="%.4f")
ax.set_ylim(0, 0.65)
ax.set_title("softmax([0.5, 1, 1.5]); the true class is 1 (orange)")
ax.set_xlabel("class")
ax.set_ylabel("probability")
plt.show()
""")
notebook.markdown(r"""
The three bars are the probabilities 0.1863, 0.3072 and 0.5065: the larger
the logit, the taller the bar, and together they make 1.

### Stability: subtract the maximum

Adding the same constant $c$ to every logit of a row changes nothing:

$$\frac{e^{z_k - c}}{\sum_j e^{z_j - c}} = \frac{e^{-c}\,e^{z_k}}{e^{-c}\sum_j e^{z_j}}
= \frac{e^{z_k}}{\sum_j e^{z_j}} .$$

Choose $c = \max_j z_j$: the largest exponent becomes $e^0 = 1$, every other
one lies in $[0, 1]$, nothing overflows, and the denominator is at least 1.
Without the shift, a logit of 1000 gives $e^{1000} = \infty$ and
$\infty / \infty$ = `nan` (warnings silenced here only to show it):
""")
notebook.code("""
z_large = np.array([1000., -1000., 0.])
with np.errstate(over="ignore", invalid="ignore"):
    print("naive:  ", np.exp(z_large) / np.exp(z_large).sum())
z_shifted = z_large - z_large.max()
print("shifted:", np.exp(z_shifted) / np.exp(z_shifted).sum())
""")
notebook.markdown(r"""
In a batch, the logits are a matrix of shape $(N, C)$: one row per example.
Softmax works on each **row** separately (over axis 1, the classes), and the
maximum to subtract is each row's own: `max(axis=1, keepdims=True)`, so it
broadcasts back over the row.

## 4. Cross-entropy

The loss of one example is the negative log of the probability the network
gave to the **true** class $y$ (an integer label):

$$L_i = -\log p_{y_i}, \qquad L = \frac{1}{N}\sum_{i=1}^{N} L_i .$$

A confident right answer ($p_{y} \to 1$) costs almost nothing; a confident
wrong one ($p_{y} \to 0$) costs a lot. In the worked example the true class
is 1: $L = -\log 0.3072 = 1.1802$.

### Log-sum-exp

Even with a stable softmax, `-np.log(p[y])` can fail: for logits
$(1000, -1000, 0)$ with true class 1, $p_1 = e^{-2000}$ underflows to exactly
0 and $-\log 0 = \infty$. Take the log by hand instead:

$$-\log p_{y} = -\log\frac{e^{z_y}}{\sum_j e^{z_j}}
= \log\sum_j e^{z_j} \;-\; z_y
= \Bigl(m + \log\sum_j e^{z_j - m}\Bigr) - z_y, \quad m = \max_j z_j .$$

This is the **log-sum-exp** trick: with the shifted logits
$\tilde z = z - m$, the loss is $\log\sum_j e^{\tilde z_j} - \tilde z_y$, and
no step overflows or takes the log of 0.
""")
notebook.code("""
label = 1
with np.errstate(divide="ignore", under="ignore"):
    p_large = np.exp(z_shifted) / np.exp(z_shifted).sum()
    print("-log(softmax)[label]:", -np.log(p_large[label]))
print("log-sum-exp:         ", np.log(np.exp(z_shifted).sum()) - z_shifted[label])
""")
notebook.markdown(r"""
### The gradient: softmax minus one-hot

For one example, write $L_i = -z_{y} + \log\sum_k e^{z_k}$ and differentiate
with respect to logit $z_j$:

$$\frac{\partial L_i}{\partial z_j}
= -[\,j = y\,] + \frac{e^{z_j}}{\sum_k e^{z_k}}
= p_j - [\,j = y\,] ,$$

where $[\,j = y\,]$ is 1 for the true class and 0 otherwise: the **one-hot**
encoding of the label. The loss is the *mean* over the batch, so each row
gets a factor $\frac{1}{N}$:

$$\frac{\partial L}{\partial Z} = \frac{P - Y_\text{onehot}}{N},$$

with $P$ the $(N, C)$ softmax probabilities. Read it as a tug: the true
class's logit is pushed up (its gradient $p_y - 1 < 0$), every other logit
down in proportion to its probability, and each row of the gradient sums to
0. The labels are class numbers, not measurements: nudging "class 1" to
"class 1.001" means nothing, so their gradient is **zero** (an array of
zeros with the labels' shape).

Worked example: $(0.1863,\ 0.3072 - 1,\ 0.5065) = (0.1863, -0.6928, 0.5065)$.
The plot moves one logit, $z_1$ (the true class's), with the others fixed at
0.5 and 1.5: the slope $p_1 - 1$ is steep while the answer is wrong and
flattens as the network becomes confident and right.
""")
notebook.code("""
z1 = np.linspace(-4, 8, 241)
logits_grid = np.stack([np.full_like(z1, 0.5), z1, np.full_like(z1, 1.5)], axis=1)
shifted_grid = logits_grid - logits_grid.max(axis=1, keepdims=True)
loss_curve = np.log(np.exp(shifted_grid).sum(axis=1)) - shifted_grid[:, 1]
slope_curve = np.exp(shifted_grid[:, 1]) / np.exp(shifted_grid).sum(axis=1) - 1

fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(z1, loss_curve, label="loss  -log p_1")
ax.plot(z1, slope_curve, label="gradient  p_1 - 1")
ax.axvline(1.0, color="gray", linestyle=":", label="worked example (z_1 = 1)")
ax.axhline(0.0, color="black", linewidth=0.5)
ax.set_title("Cross-entropy as the true class's logit moves")
ax.set_xlabel("logit z_1 of the true class")
ax.set_ylabel("value")
ax.legend()
plt.show()
""")
notebook.markdown(r"""
As $z_1$ grows, the loss falls towards 0 and the gradient rises from $-1$
towards 0: a confident right answer is barely pushed any more.

### Exercise 2 (6 points): `_softmax` and `CrossEntropyWithSoftmax`

1. `_softmax(x)`: the row-wise softmax of a `(batch, n_classes)` array,
   shifted by each row's maximum, with no warning and no `nan` for any
   logits.
2. `CrossEntropyWithSoftmax(logits, labels)`, with `logits` of shape
   `(N, C)` and `labels` integers of shape `(N,)`:
   - **forward**: store the probabilities in `self.probabilities` (backward
     needs them) and set `self.value` to the **mean** cross-entropy, computed
     with log-sum-exp so logits of $\pm 1000$ give a finite loss and no
     warning. Pick each row's true-class entry with
     `array[np.arange(N), labels]`.
   - **backward**: upstream gradient 1; the logits' gradient is
     $(P - Y_\text{onehot})/N$ (subtract 1 at each row's label, then divide by
     $N$), and the labels' gradient is zeros of the labels' shape.
""")
notebook.solution("cross_entropy", """
def _softmax(x):
    \"\"\"Row-wise softmax of a (batch, n_classes) array, stable for any logits.\"\"\"
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=float)
    exps = np.exp(x - x.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)
    ### END SOLUTION


class CrossEntropyWithSoftmax(Node):
    \"\"\"Mean cross-entropy of softmax(logits) against integer class labels.

    logits: (N, C) floats; labels: (N,) integers in [0, C).
    \"\"\"

    is_loss = True  # a loss ends the graph: backpropagation starts here, with dL/dL = 1

    def __init__(self, logits, labels, name=None):
        super().__init__([logits, labels], name=name)

    def forward(self):
        ### BEGIN SOLUTION
        logits = np.asarray(self.inbound_nodes[0].value, dtype=float)
        labels = np.asarray(self.inbound_nodes[1].value).astype(int)
        rows = np.arange(logits.shape[0])
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        self.probabilities = _softmax(logits)
        self.value = np.mean(log_sum_exp - shifted[rows, labels])
        ### END SOLUTION

    def backward(self):
        ### BEGIN SOLUTION
        logits, labels = self.inbound_nodes
        n = self.probabilities.shape[0]
        grad = self.probabilities.copy()
        grad[np.arange(n), np.asarray(labels.value).astype(int)] -= 1.0
        self.gradients = {logits: grad / n, labels: np.zeros(np.shape(labels.value))}
        ### END SOLUTION
""")
notebook.test("test_cross_entropy_forward", 3, """
from autograder import checks

# A random batch of 4 rows; large logits ([1000, -1000, 0] with class 1 costs 2000);
# then the worked example: logits [[0.5, 1, 1.5]], true class 1.
checks.test_cross_entropy_forward(_softmax, CrossEntropyWithSoftmax)
""")
notebook.test("test_cross_entropy_backward", 3, """
from autograder import checks

# First, is it a mistake students often make? Then a random batch of 4 rows, 3
# classes; then the worked example: logits [[0.5, 1, 1.5]], true class 1.
checks.test_cross_entropy_backward(CrossEntropyWithSoftmax)
""")
notebook.markdown(r"""
## 5. A loss after a layer

A `Linear` layer followed by your cross-entropy is already a classifier:
3 clouds of 2-D points, 3 logits per point. The gradients flow from your
loss back through the layer, and miniflow's numerical gradient check agrees
with them:
""")
notebook.code("""
points, classes = make_blobs(60, n_classes=3, seed=0)
X, W, b, labels = Input("X"), Input("W"), Input("b"), Input("labels")
cost = CrossEntropyWithSoftmax(Linear(X, W, b, name="Linear"), labels, name="cost")
feed = {X: points, W: np.zeros((2, 3)), b: np.zeros(3), labels: classes}

loss = value_and_grad(cost, feed, [W, b])[0]
# With all-zero weights every class gets probability 1/3, so the loss is -log(1/3).
print(f"loss with all-zero weights: {loss:.4f} (log 3 = {np.log(3):.4f})")
print(mf.check_gradients(cost, feed, [W, b]))
""")
notebook.markdown(r"""
And when a loss is wrong, the check says where. This node computes the mean
of the squares of its input, $L = \frac{1}{m}\sum_i x_i^2$, with the most
common loss mistake planted in its backward: the $\frac{1}{m}$ of the mean is
missing from the gradient. Every element is off by the same factor $m = 4$,
which the report shows as analytic vs numerical.
""")
notebook.code("""
class BrokenMeanSquare(Node):
    \"\"\"mean(x ** 2), with a deliberate bug: the gradient forgets the 1/m.\"\"\"

    def __init__(self, node, name=None):
        super().__init__([node], name=name)

    def forward(self):
        self.value = np.mean(self.inbound_nodes[0].value ** 2)

    def backward(self):
        (x,) = self.inbound_nodes
        self.gradients = {x: 2 * x.value}   # the bug: should be 2 * x.value / x.value.size


x = Input("x")
print(mf.check_gradients(BrokenMeanSquare(x), {x: np.array([1.0, -2.0, 0.5, 3.0])}, [x]))
""")
notebook.markdown(r"""
A gradient says which way is downhill, so stepping the weights a little
against it, again and again, lowers the loss. That loop is the subject of
*Training*; here is a preview with miniflow's `sgd_update`:
""")
notebook.code("""
graph = topological_sort(feed)
history = []
for step in range(40):
    history.append(mf.forward_and_backward(graph, output=cost, trainables=[W, b]))
    mf.sgd_update([W, b], learning_rate=0.5)
print(f"loss: {history[0]:.4f} at the start, {history[-1]:.4f} after 40 steps")
plot_loss(history, title="Your cross-entropy, minimised by gradient descent", xlabel="step")
plt.show()
""")
notebook.markdown(r"""
The curve falls from 1.0986 ($\log 3$, three classes equally likely) to
0.0462 in 40 steps, steeply at first and then more slowly.

## What you learned

- The loss is the last node; backpropagation starts there with
  $\partial L/\partial L = 1$.
- MSE is $\frac{1}{m}\sum (y - a)^2$ with gradients $\pm\frac{2}{m}(y - a)$;
  reshape both sides to columns first, or `(m,)` minus `(m, 1)` silently
  becomes an `(m, m)` matrix.
- Softmax is unchanged by shifting a row, so subtract its maximum; the
  cross-entropy is computed as log-sum-exp minus the true logit, never as the
  log of a probability that may be 0.
- The softmax cross-entropy gradient is $(P - Y_\text{onehot})/N$: simple,
  because the exponentials of softmax and the log of cross-entropy cancel.
- Next, in *Training*: use these gradients to fit a network with stochastic
  gradient descent.
""")
