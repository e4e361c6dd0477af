from course.authoring import NotebookBuilder

notebook = NotebookBuilder()
notebook.markdown(r"""
# Assignment 2: Layers

In *Graphs* every node held a number. A neural network pushes a whole
**batch** of examples through matrices at once, and it is built from two kinds
of layer that alternate: a **fully connected layer** mixes its inputs with
learned weights, and an **activation** such as the sigmoid bends the result,
so that stacking layers gives more than one big matrix product. In this
notebook you write both as miniflow nodes, forward and backward.

**After this notebook you can:**

1. compute a fully connected layer on a whole batch with one matrix product;
2. derive its three gradients and check them by their shapes;
3. explain why the bias gradient sums over the batch;
4. implement the sigmoid without overflow and take its derivative from its output.

**How the exercises work.** As before: replace `raise NotImplementedError()`
in each `# YOUR CODE HERE` cell, run it, then run the test cell below it. The
grader runs more tests of the same kind (other shapes, other batch sizes), so
make your code correct in general, not just for the example.
""")
notebook.given("setup", """
import warnings

import numpy as np
import matplotlib.pyplot as plt

import miniflow as mf
from miniflow import Node, Input, DummyGrad, value_and_grad, topological_sort
from miniflow.plotting import draw_graph

np.set_printoptions(precision=4, suppress=True)
""")
notebook.markdown(r"""
## 1. From one neuron to a layer to a batch

One **neuron** with inputs $x_1, \dots, x_{n}$ computes a weighted sum plus a
bias: $z = \sum_k x_k w_k + b$.

A **layer** is $n_\text{out}$ neurons reading the same inputs. Put the weights
of neuron $j$ in column $j$ of a matrix $W$ of shape $(n_\text{in},
n_\text{out})$ and the biases in a vector $b$ of shape $(n_\text{out},)$:

$$z_j = \sum_k x_k W_{kj} + b_j, \qquad\text{that is}\qquad z = x\,W + b .$$

A **batch** stacks examples as the rows of $X$, shape $(\text{batch},
n_\text{in})$. One matrix product handles them all:

$$Z = X W + b, \qquad Z_{ij} = \sum_k X_{ik} W_{kj} + b_j ,$$

with shapes $(\text{batch}, n_\text{in}) \times (n_\text{in}, n_\text{out})
\to (\text{batch}, n_\text{out})$. The bias has no batch dimension: numpy
**broadcasts** it, adding the same $b$ to every row.
""")
notebook.markdown(r"""
**Worked example** (the numbers of the original MiniFlow lab): two examples
with two inputs each, two neurons.
""")
notebook.code("""
X = np.array([[-1., -2.], [-1., -2.]])   # (batch=2, n_in=2)
W = np.array([[2., -3.], [2., -3.]])     # (n_in=2, n_out=2)
b = np.array([-3., -5.])                 # (n_out=2,)

print("X @ W =\\n", X @ W)
print("X @ W + b =\\n", X @ W + b)
""")
notebook.markdown(r"""
Check the first row by hand: $(-1)(2) + (-2)(2) - 3 = -9$ and
$(-1)(-3) + (-2)(-3) - 5 = 4$.

Here is a layer followed by a sigmoid, built with miniflow's reference nodes
on a batch of 4 examples with 3 features and 2 neurons. The drawing shows the
**shape** each node produces: follow them from $X$ to the output.
""")
notebook.code("""
X_node, W_node, b_node = Input("X"), Input("W"), Input("b")
layer = mf.Linear(X_node, W_node, b_node, name="Linear")
activation = mf.Sigmoid(layer, name="Sigmoid")

rng = np.random.default_rng(0)
graph = topological_sort({X_node: rng.normal(size=(4, 3)), W_node: rng.normal(size=(3, 2)),
                          b_node: np.zeros(2)})
mf.forward_pass(activation, graph)
draw_graph(graph, show="shape", title="Linear then Sigmoid on a batch of 4")
plt.show()
""")
notebook.markdown(r"""
## 2. The three gradients of a layer

Backward, the layer receives the upstream gradient
$G = \partial L / \partial Z$, one number per output, so $G$ has the shape of
$Z$: $(\text{batch}, n_\text{out})$. From $Z_{ij} = \sum_k X_{ik} W_{kj} + b_j$:

- $X_{ik}$ appears in every output $Z_{ij}$ of its row, with factor $W_{kj}$:
  $$\frac{\partial L}{\partial X_{ik}} = \sum_j G_{ij} W_{kj}
  \quad\Rightarrow\quad \frac{\partial L}{\partial X} = G\,W^\top ;$$
- $W_{kj}$ appears in $Z_{ij}$ of every example $i$, with factor $X_{ik}$:
  $$\frac{\partial L}{\partial W_{kj}} = \sum_i X_{ik} G_{ij}
  \quad\Rightarrow\quad \frac{\partial L}{\partial W} = X^\top G ;$$
- $b_j$ appears in $Z_{ij}$ of every example $i$, with factor 1:
  $$\frac{\partial L}{\partial b_j} = \sum_i G_{ij}
  \quad\Rightarrow\quad \frac{\partial L}{\partial b} = G \text{ summed over the batch.}$$

**Let the shapes check you.** A gradient always has the shape of its input,
and there is only one way to multiply the pieces to get it (write $B$ for the
batch size):

| gradient of | shape it must have | how to get it |
| --- | --- | --- |
| $X$ | $(B, n_\text{in})$ | $(B, n_\text{out}) \times (n_\text{out}, n_\text{in})$ |
| $W$ | $(n_\text{in}, n_\text{out})$ | $(n_\text{in}, B) \times (B, n_\text{out})$ |
| $b$ | $(n_\text{out},)$ | $(B, n_\text{out})$ summed over axis 0 |
""")
notebook.markdown(r"""
### Why the bias gradient sums over the batch

Remember $f = xy + xz$ from *Graphs*: $x$ fed two nodes, and its gradient was
the **sum** of what came back along both paths. The bias is the same story:
broadcasting uses the *same* $b_j$ in every row of the batch, so it reaches
the loss along one path per example, and the contributions add up.

With the lab's upstream gradient $G = \begin{pmatrix}1 & 2\\ 3 & 4\end{pmatrix}$,
$\partial L/\partial b = (1 + 3,\ 2 + 4) = (4,\ 6)$:
""")
notebook.code("""
G = np.array([[1., 2.], [3., 4.]])
db = G.sum(axis=0)

fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.6), gridspec_kw={"width_ratios": [1, 1]})
for ax, table, title in [(left, G, "upstream G: one row per example"),
                         (right, db[None, :], "dL/db: each column summed")]:
    ax.imshow(table, cmap="Blues", vmin=0, vmax=7)
    for (i, j), number in np.ndenumerate(table):
        ax.text(j, i, f"{number:g}", ha="center", va="center", fontsize=14)
    ax.set_title(title)
    ax.set_xlabel("output unit j")
    ax.set_xticks(range(table.shape[1]))
    ax.set_yticks(range(table.shape[0]))
left.set_ylabel("example i")
right.set_ylabel("(no batch axis)")
plt.tight_layout()
plt.show()
""")
notebook.markdown(r"""
Left, the upstream gradient $G$, one row per example; right, $\partial
L/\partial b = (4, 6)$, each column of $G$ summed into one number.

A numerical check agrees. The loss $L = \sum_{ij} G_{ij} Z_{ij}$ has
upstream gradient exactly $G$; nudge $b_0$ by a tiny $\varepsilon$ and every
row's $Z_{i0}$ moves by $\varepsilon$:
""")
notebook.code("""
def loss_of_bias(bias):
    return np.sum(G * (X @ W + bias))

eps = 1e-6
nudge = np.array([eps, 0.0])
slope = (loss_of_bias(b + nudge) - loss_of_bias(b - nudge)) / (2 * eps)
print(f"numerical dL/db_0 = {slope:.4f};  G summed over the batch: {db}")
""")
notebook.markdown(r"""
### Exercise 1 (5 points): the `Linear` node

Write `Linear(X, W, b)`, the batched fully connected layer.

- **forward**: the value is `X @ W + b`, with the three values read from
  `self.inbound_nodes` (in that order).
- **backward**: start the three gradients at zero; for **every** consumer,
  read its upstream gradient $G$ from `consumer.gradients[self]` and **add**
  $G W^\top$ to $X$'s gradient, $X^\top G$ to $W$'s, and $G$ summed over the
  batch to $b$'s.

Keep the habit from *Graphs*: accumulate with `+=` over `self.outbound_nodes`
(a layer's output can feed several nodes), and make every gradient the shape
of its input.
""")
notebook.solution("linear", """
class Linear(Node):
    \"\"\"A fully connected layer on a batch: X @ W + b.

    Shapes: X is (batch, n_in), W is (n_in, n_out), b is (n_out,).
    \"\"\"

    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name=name)

    def forward(self):
        ### BEGIN SOLUTION
        X, W, b = (node.value for node in self.inbound_nodes)
        self.value = X @ W + b
        ### END SOLUTION

    def backward(self):
        ### BEGIN SOLUTION
        X, W, b = self.inbound_nodes
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            G = consumer.gradients[self]
            self.gradients[X] += G @ W.value.T
            self.gradients[W] += X.value.T @ G
            self.gradients[b] += G.sum(axis=0)
        ### END SOLUTION
""")
notebook.test("test_linear_forward", 2, """
from autograder import checks

# A random batch of 5 rows, 3 features in, 2 out; then the lab's example.
checks.test_linear_forward(Linear)
""")
notebook.test("test_linear_backward", 3, """
from autograder import checks

# First, is it a mistake students often make? Then a random batch of 5, a layer
# feeding two nodes, and the lab's example with upstream gradient [[1, 2], [3, 4]].
checks.test_linear_backward(Linear)
""")
notebook.markdown(r"""
## 3. The sigmoid

Without an activation, two layers collapse into one: $(XW_1 + b_1)W_2 + b_2$
is again $X$ times a matrix plus a vector. The **sigmoid** bends each number
into $(0, 1)$:

$$\sigma(x) = \frac{1}{1 + e^{-x}} .$$

Its derivative has a famous shortcut:

$$\sigma'(x) = \frac{e^{-x}}{(1 + e^{-x})^2}
= \frac{1}{1 + e^{-x}}\cdot\frac{e^{-x}}{1 + e^{-x}}
= \sigma(x)\,\bigl(1 - \sigma(x)\bigr).$$

So the backward pass needs only the **output** $s = \sigma(x)$, which
`forward` already stored in `self.value`: the slope is $s(1 - s)$, no
exponential needed. It is at most $0.25$ (at $x = 0$) and nearly $0$ when
$|x|$ is large: a saturated sigmoid passes almost no gradient back.
""")
notebook.code("""
x = np.linspace(-8, 8, 401)
s = 1 / (1 + np.exp(-x))

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(x, s, label="sigmoid s(x)")
ax.plot(x, s * (1 - s), label="slope s(1 - s)")
ax.set_title("The sigmoid and its derivative")
ax.set_xlabel("x")
ax.set_ylabel("value")
ax.legend()
plt.show()
""")
notebook.markdown(r"""
The sigmoid rises in an S from 0 to 1; its slope is a bump that peaks at 0.25
at $x = 0$ and is nearly 0 beyond $|x| > 5$.

### Large inputs: overflow

For $x = -1000$ the formula computes $e^{1000}$, far beyond the largest
float64 ($\approx 1.8\times 10^{308}$): numpy returns `inf` and prints a
`RuntimeWarning: overflow encountered in exp`. Here $1/(1+\infty) = 0$
happens to be the right limit, but the equivalent $e^{x}/(1 + e^{x})$ gives
$\infty/\infty$ = `nan` at $x = 1000$. (We silence the warnings here only to
show the results.)
""")
notebook.code("""
extreme = np.array([-1000., 0., 1000.])
with np.errstate(over="ignore", invalid="ignore"):
    print("1 / (1 + exp(-x))   :", 1 / (1 + np.exp(-extreme)))
    print("exp(x) / (1 + exp(x)):", np.exp(extreme) / (1 + np.exp(extreme)))
""")
notebook.markdown(r"""
Two ways to never overflow:

- **Through the log.** $\log(1 + e^{-x})$ is `np.logaddexp(0, -x)`, which
  numpy computes stably for any $x$; then
  $\sigma(x) = \exp\bigl(-\log(1 + e^{-x})\bigr)$, and `np.exp` only ever
  sees numbers $\le 0$.
- **Split by sign.** For $x \ge 0$ use $1/(1 + e^{-x})$; for $x < 0$ use
  $e^{x}/(1 + e^{x})$. Each branch only exponentiates non-positive numbers.
  Careful: `np.where(cond, a, b)` computes *both* `a` and `b` on every
  element before choosing, so it still overflows; select the elements first
  (`x[x >= 0]`) and compute each formula only on its own part.

### Exercise 2 (5 points): `_sigmoid` and the `Sigmoid` node

1. `_sigmoid(x)`: the elementwise sigmoid of an array, with **no warning and
   no `nan`** for any input, $\pm 1000$ included.
2. `Sigmoid(node)`:
   - **forward**: `self.value` is `_sigmoid` of the input's value;
   - **backward**: for every consumer, add
     `consumer.gradients[self] * s * (1 - s)` to the input's gradient, where
     `s` is the sigmoid's output `self.value` (not its input).
""")
notebook.solution("sigmoid", """
def _sigmoid(x):
    \"\"\"The logistic function 1 / (1 + e^-x), elementwise, without overflow.\"\"\"
    ### BEGIN SOLUTION
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))
    ### END SOLUTION


class Sigmoid(Node):
    \"\"\"Elementwise logistic function.\"\"\"

    def __init__(self, node, name=None):
        super().__init__([node], name=name)

    def forward(self):
        ### BEGIN SOLUTION
        self.value = _sigmoid(self.inbound_nodes[0].value)
        ### END SOLUTION

    def backward(self):
        ### BEGIN SOLUTION
        (x,) = self.inbound_nodes
        s = self.value
        self.gradients = {x: np.zeros_like(x.value, dtype=float)}
        for consumer in self.outbound_nodes:
            self.gradients[x] += consumer.gradients[self] * s * (1.0 - s)
        ### END SOLUTION
""")
notebook.test("test_sigmoid_forward", 2, """
from autograder import checks

# _sigmoid on [-10, 0, 10] and +-1000 (no RuntimeWarning: see 'Large inputs');
# then Sigmoid on random values and on extreme ones.
checks.test_sigmoid_forward(_sigmoid, Sigmoid)
""")
notebook.test("test_sigmoid_backward", 3, """
from autograder import checks

# First, is it a mistake students often make? Then random values, a Sigmoid feeding
# two nodes, and [-10, 0, 10] with upstream gradient 0.5.
checks.test_sigmoid_backward(Sigmoid)
""")
notebook.markdown(r"""
## 4. Stacking layers: a network that computes XOR

Your `Linear` and `Sigmoid` are all it takes to build a network. Here are two
layers with weights chosen by hand: the two hidden neurons compute OR and
NAND of the inputs, and the output neuron computes AND of those, which is XOR,
a function no single layer can compute. (In *Training* you will let gradient
descent find such weights by itself.)
""")
notebook.code("""
X, W1, b1, W2, b2 = (Input(name) for name in ["X", "W1", "b1", "W2", "b2"])
hidden = Sigmoid(Linear(X, W1, b1, name="Linear 1"), name="Sigmoid 1")
output = Sigmoid(Linear(hidden, W2, b2, name="Linear 2"), name="Sigmoid 2")

feed = {X: np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]]),
        W1: np.array([[20., -20.], [20., -20.]]), b1: np.array([-10., 30.]),
        W2: np.array([[20.], [20.]]), b2: np.array([-30.])}
graph = topological_sort(feed)
mf.forward_pass(output, graph)
for inputs, result in zip(feed[X], output.value):
    print(f"XOR{tuple(int(v) for v in inputs)} ~ {result[0]:.4f}")
draw_graph(graph, show="shape", title="Two layers: Linear, Sigmoid, Linear, Sigmoid")
plt.show()
""")
notebook.markdown(r"""
The same stack, with random weights this time, passes miniflow's numerical
gradient check: your backward passes chain together correctly through both
layers.
""")
notebook.code("""
rng = np.random.default_rng(1)
random_feed = {X: rng.normal(size=(5, 2)), W1: rng.normal(size=(2, 3)), b1: rng.normal(size=3),
               W2: rng.normal(size=(3, 1)), b2: rng.normal(size=1)}
report = mf.check_gradients(output, random_feed, [X, W1, b1, W2, b2])
print(report)
""")
notebook.markdown(r"""
To see how it passes, step through the same stack on the first two of those
examples: `step_through` runs your `forward()` and `backward()` one node at a
time. Press **Next** (or click the widget and use the arrow keys) to watch each
value appear, then each gradient flow back, through `Sigmoid 2`, `Linear 2`,
`Sigmoid 1` and `Linear 1`; a gradient marked ✗ disagrees with a numerical
estimate, at the node whose `backward()` is wrong.
""")
notebook.code("""
from miniflow.stepper import step_through

two_examples = {**random_feed, X: random_feed[X][:2]}
step_through(output, feed=two_examples)
""")
notebook.markdown(r"""
A gradient check earns its keep when something is wrong. Here is a node you
have not met, `tanh`, with the trap of the sigmoid section planted in its
backward: the slope $1 - \tanh(x)^2$ is computed from the *input*, as
$1 - x^2$. The check finds it, names the input and the worst element, and
shows both numbers; run it on your own nodes whenever a test disagrees with
you.
""")
notebook.code("""
class BrokenTanh(Node):
    \"\"\"tanh, with a deliberate bug: the slope is taken from the input.\"\"\"

    def __init__(self, node, name=None):
        super().__init__([node], name=name)

    def forward(self):
        self.value = np.tanh(self.inbound_nodes[0].value)

    def backward(self):
        (x,) = self.inbound_nodes
        self.gradients = {x: np.zeros_like(x.value, dtype=float)}
        for consumer in self.outbound_nodes:
            # the bug: 1 - x**2 should be 1 - self.value**2, the slope at the output
            self.gradients[x] += consumer.gradients[self] * (1 - x.value ** 2)


x = Input("x")
print(mf.check_gradients(BrokenTanh(x), {x: np.array([[-1.0, 0.0, 0.5, 2.0]])}, [x]))
""")
notebook.markdown(r"""
## What you learned

- A layer is one matrix product on the whole batch, $Z = XW + b$; its
  gradients are $G W^\top$, $X^\top G$ and $G$ summed over the batch, and the
  shapes tell you which is which.
- A value used many times (the bias, once per example) gets the **sum** of
  the gradients from all its uses: the chain rule adds over paths.
- The sigmoid's slope comes from its output, $s(1-s)$, and a formula that is
  right on paper can still overflow: compute it so `np.exp` never sees a large
  positive number.
- Next, in *Losses*: the node at the end of every graph, which says how wrong
  the network is and where backpropagation starts.
""")
