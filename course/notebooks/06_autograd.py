"""The notebook "Bonus: define-by-run autograd" (06_autograd).

Its Tensor code (the given cell ``as_tensor``, the solution cells ``tensor`` and
``backpropagation``) is the text of miniflow's reference, ``miniflow/tensor.py``:
one text for the notebook, the checks and the judge.
"""

import miniflow.tensor
from course.authoring import NotebookBuilder, source_of

notebook = NotebookBuilder()
notebook.markdown(r"""
# Bonus: define-by-run autograd

In miniflow you first **define** a graph (nodes wired together, no numbers
yet) and then **run** it: `topological_sort`, `forward`, `backward`. The
first TensorFlow worked like that. PyTorch (and TensorFlow 2, and JAX when you
do not compile) work the other way round: you compute with ordinary Python,
and every operation **records** what it did while it runs. The graph is a
by-product of running your program. This is **define-by-run**.

In this bonus notebook you build the heart of such a framework: a `Tensor`
that remembers where it came from and can backpropagate through whatever your
code did, loops and `if`s included.

**After this notebook you can:**

1. explain define-by-run and how it differs from miniflow's static graph;
2. write a `Tensor` whose operations record their parents and a local backward
   rule (`+`, `*` with broadcasting, `@`, `sum`, `sigmoid`);
3. explain why a tensor used several times needs the **sum** of its gradients,
   and why a naive recursive backward double-counts or takes exponential time;
4. backpropagate in **reverse topological order**, found by depth-first search;
5. train a small network with your `Tensor` and check it against miniflow.

**How the exercises work.** As before: replace `raise NotImplementedError()`
in each `# YOUR CODE HERE`, run the cell, then run the test cell below it.
The grader runs more tests of the same kind (other shapes, other graphs), so
make your code correct in general, not just for the examples.
""")
notebook.given("setup", """
import numpy as np
import matplotlib.pyplot as plt

import miniflow as mf
from miniflow import Node, Input, Linear, Sigmoid, MSE, topological_sort, forward_and_backward
from miniflow.nodes import unbroadcast
from miniflow.datasets import make_xor
from miniflow.plotting import draw_graph, plot_loss, plot_decision_boundary
from miniflow.training import progress

np.set_printoptions(precision=4, suppress=True)
""")
notebook.markdown(r"""
## 1. Define, then run: miniflow's static graph

Here is $f = x\,y + x\,z$ from *Graphs* once more. Building the graph
computes nothing: `f.value` is still `None`. Only when the numbers arrive
through `feed_dict` is the graph sorted, run forward and run backward.
""")
notebook.code("""
x, y, z = Input("x"), Input("y"), Input("z")
f = mf.Add(mf.Mul(x, y), mf.Mul(x, z), name="f")
print("after building: f.value =", f.value)

graph = topological_sort({x: 3.0, y: 4.0, z: -5.0})
forward_and_backward(graph, output=f)
print("after running:  f.value =", f.value, "   df/dx =", x.gradients[x])
""")
notebook.markdown(r"""
Three phases: **build** the graph, **sort** it, **run** it (as often as you
like, with new numbers each time). The graph is fixed before any number is
known, and that has a price. Try to write, as a miniflow graph:

> multiply $x$ by itself until the result reaches 10, then add 1.

How many `Mul` nodes do you need? It depends on $x$: two for $x = 3$
($3 \to 9 \to 27$), five for $x = 1.5$. A static graph cannot look at the
numbers while it is being built, so static frameworks had to add special
graph operations for loops and branches (TensorFlow 1's `tf.while_loop` and
`tf.cond`).

## 2. Define-by-run: record while you compute

The other way round: compute right away, and let every result remember

- its **parents**: the values it was computed from, and
- how to send a gradient back to them: its **local derivatives**.

For plain numbers this fits in a few lines. `Scalar` below is a toy with
`+` and `*` only (you will write the real thing, for numpy arrays, in
Exercise 1). For $c = a \cdot b$ the local derivatives are
$\partial c/\partial a = b$ and $\partial c/\partial b = a$, and `Scalar`
stores exactly those two numbers.
""")
notebook.given("scalar", """
class Scalar:
    \"\"\"A number that records how it was computed (a toy: + and * only).\"\"\"

    def __init__(self, data, parents=(), local=(), op="", name=None):
        self.data = float(data)
        self.grad = 0.0
        self._parents = tuple(parents)   # the values this one was computed from
        self._local = tuple(local)       # d(self) / d(parent), one number per parent
        self._op = op
        self.name = name

    def __add__(self, other):
        other = other if isinstance(other, Scalar) else Scalar(other)
        return Scalar(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other):
        other = other if isinstance(other, Scalar) else Scalar(other)
        return Scalar(self.data * other.data, (self, other), (other.data, self.data), "*")

    __radd__ = __add__
    __rmul__ = __mul__

    def __repr__(self):
        return f"Scalar({self.name})" if self.name else f"Scalar({self.data:g})"
""")
notebook.code("""
a, b = Scalar(3.0, name="a"), Scalar(4.0, name="b")
c = a * b + a
print("c =", c.data)
print("c was made by", repr(c._op), "from", c._parents, "with local derivatives", c._local)
print("its first parent was made by", repr(c._parents[0]._op), "from", c._parents[0]._parents)
""")
notebook.markdown(r"""
Nothing was declared in advance: the recording *is* the graph. Now the loop
that a static graph could not express. It is ordinary Python, and the
`while` looks at the actual number:
""")
notebook.code("""
def grow(x):
    \"\"\"Multiply by x until the result reaches 10, then add 1.\"\"\"
    y = x
    while y.data < 10:      # ordinary control flow, deciding on the value
        y = y * x
    return y + 1


for start in (3.0, 1.5):
    result = grow(Scalar(start, name="x"))
    print(f"grow({start}) = {result.data:.4g}")
""")
notebook.markdown(r"""
To look at what was recorded we translate it into miniflow nodes and let
`draw_graph` draw them. `all_recorded(output)` collects every value the
output depends on (in no particular order: it only finds them).
""")
notebook.given("drawing", """
OPERATION_NAMES = {"+": "Add", "*": "Mul", "@": "MatMul", "sum": "Sum",
                   "sigmoid": "Sigmoid", "exp": "Exp"}


def all_recorded(output):
    \"\"\"Every value output depends on, itself included (any order).\"\"\"
    found, stack = {}, [output]
    while stack:
        value = stack.pop()
        if id(value) not in found:
            found[id(value)] = value
            stack.extend(value._parents)
    return list(found.values())


def constant_name(data):
    \"\"\"'constant 2' for a number, 'constant (2, 3)' for an array: its value, or its shape.\"\"\"
    data = np.asarray(data)
    return f"constant {data.item():g}" if data.size == 1 else f"constant {data.shape}"


def draw_recorded(output, *, show="value", title=None, ax=None):
    \"\"\"Draw what a Scalar or Tensor recorded; show is "value", "grad" or "shape".\"\"\"
    values = all_recorded(output)
    nodes = {}
    for value in values:
        if value._parents:
            kind = OPERATION_NAMES.get(value._op, value._op or "Op")
            node = type(kind, (Node,), {})(name=value.name or kind)
        else:  # a constant (the 2 of h * 2) is named by its value, whatever the box shows
            node = Input(value.name or constant_name(value.data))
        node.value = value.grad if show == "grad" else value.data
        nodes[id(value)] = node
    for value in values:
        node = nodes[id(value)]
        node.inbound_nodes = [nodes[id(parent)] for parent in value._parents]
        for parent in dict.fromkeys(node.inbound_nodes):
            parent.outbound_nodes.append(node)
    return draw_graph(nodes[id(output)], show="shape" if show == "shape" else "value",
                      title=title, ax=ax)
""")
notebook.code("""
fig, axes = plt.subplots(2, 1, figsize=(13, 5))
for ax, start in zip(axes, (3.0, 1.5)):
    draw_recorded(grow(Scalar(start, name="x")), ax=ax,
                  title=f"What grow(x) recorded for x = {start}")
plt.tight_layout()
plt.show()
""")
notebook.markdown(r"""
Same function, two different graphs: the graph is known only **after** the
code ran, and it may change at every call.

## 3. Backward through a recording: the order matters

The chain rule says what each value's gradient is. Write $\bar v$ for
$\partial L/\partial v$, the gradient of the final output $L$ with respect to
a value $v$. If $v$ was used by the values $c_1, \dots, c_k$ (its
**consumers**), every use is a path to $L$, and the paths add up:

$$
\bar v = \sum_{j=1}^{k} \bar c_j \, \frac{\partial c_j}{\partial v} .
$$

So $\bar v$ is complete only once **every consumer** has sent its share.
That is the whole difficulty, and it shows as soon as a value is used twice.

**Worked example: a diamond.** Take $x = 3$, $h = x \cdot x = 9$, then $a = 2h$
and $b = 3h$, and $d = a + b = 45$. By hand: $\bar d = 1$, $\bar a = \bar b =
1$, $\bar h = 2\bar a + 3\bar b = 5$, and $\bar x = \bar h \cdot (x + x) = 5
\cdot 6 = 30$ (in $x \cdot x$, $x$ is used twice, so it gets $\bar h \cdot x$
twice). Indeed $d = 5x^2$ and $d'(3) = 10 \cdot 3 = 30$.
""")
notebook.code("""
def diamond(x_value=3.0):
    x = Scalar(x_value, name="x")
    h = x * x
    h.name = "h"
    d = h * 2 + h * 3
    d.name = "d"
    return x, d


x, d = diamond()
draw_recorded(d, title="The diamond: h = x * x feeds two products that are added")
plt.show()
""")
notebook.markdown(r"""
**Naive idea 1: push at once, recursively.** Each value adds its gradient
times the local derivative to its parents and immediately recurses into them:
""")
notebook.code("""
def eager_backward(value):
    \"\"\"WRONG: passes a gradient on before it is complete.\"\"\"
    for parent, local in zip(value._parents, value._local):
        parent.grad += value.grad * local
        eager_backward(parent)


x, d = diamond()
d.grad = 1.0
eager_backward(d)
print("eager_backward: dd/dx =", x.grad, "  (right answer: 30)")
""")
notebook.markdown(r"""
42 instead of 30. Follow $h$: the first consumer, $a = 2h$, gives it
$\bar h = 2$, and $h$ at once passes $2 \cdot 6 = 12$ on to $x$. Then
$b = 3h$ adds 3, $\bar h = 5$ is now right, and $h$ passes $5 \cdot 6 = 30$ on
**again**: $x$ has $12 + 30 = 42$. The first push used an incomplete
gradient, and then the complete one was counted too.

**Naive idea 2: walk every path.** Never store anything in between: send the
product of the local derivatives along each path separately, and add at the
leaves. This one is right, because the chain rule *is* a sum over paths:
""")
notebook.code("""
def path_backward(value, upstream, calls):
    \"\"\"Right, but visits every path from value to the leaves separately.\"\"\"
    calls[0] += 1
    value.grad += upstream
    for parent, local in zip(value._parents, value._local):
        path_backward(parent, upstream * local, calls)


x, d = diamond()
calls = [0]
path_backward(d, 1.0, calls)
print(f"path_backward: dd/dx = {x.grad}  after {calls[0]} calls; "
      f"the graph has {len(all_recorded(d))} values")
""")
notebook.markdown(r"""
Right, but at what cost? Stack diamonds, $h \leftarrow 0.5\,h + 0.5\,h$, and
each level **doubles** the number of paths: 20 levels give a million paths
through a graph of about a hundred values.
""")
notebook.code("""
def stacked_diamonds(levels):
    x = Scalar(1.0, name="x")
    h = x
    for _ in range(levels):
        h = h * 0.5 + h * 0.5
    return x, h


levels = np.arange(1, 15)
path_calls, recorded = [], []
for level in levels:
    x, h = stacked_diamonds(level)
    calls = [0]
    path_backward(h, 1.0, calls)
    path_calls.append(calls[0])
    recorded.append(len(all_recorded(h)))

fig, ax = plt.subplots(figsize=(6.5, 3.5))
ax.semilogy(levels, path_calls, marker="o", label="walk every path (path_backward)")
ax.semilogy(levels, recorded, marker="s", label="each recorded value once")
ax.set_title("Work of a backward pass through stacked diamonds")
ax.set_xlabel("number of stacked diamonds")
ax.set_ylabel("calls (log scale)")
ax.legend()
plt.show()
""")
notebook.markdown(r"""
On the log scale, walking every path climbs in a straight line (the work
doubles with each diamond), while visiting each recorded value once grows by
a few calls per diamond.

### The fix: reverse topological order

Handle each value **once**, and only **after all of its consumers** have added
their shares. Then its gradient is complete when it is passed on, and the
work is one step per recorded value.

An order in which every value comes after its parents is a **topological
order** (you met one in *Graphs*); backpropagation runs it **in reverse**:
the output first, every value after all the values computed from it.

In *Graphs* you found the order with Kahn's algorithm, which walks forward
from the inputs through `outbound_nodes`. A recorded value knows only its
**parents**, so here we start at the output and walk backwards with a
**depth-first search**, appending each value after all of its parents
(post-order):

```
visit(v):
    if v was visited already: return        # shared values: once only
    mark v as visited
    for each parent p of v: visit(p)
    append v to the order                   # after all of its parents
```

`visit(output)` lists every value the output depends on, parents first,
the output last. Reversed, it is the backward order.

**Recursion has a limit.** Python stops a recursion about 1000 calls deep,
and a recorded graph can be much deeper than that (a recurrent network over a
long sequence, or a loop with many steps). Replace the recursion by your own
stack, a list of `(value, parents_done)` pairs: pop a pair; if its parents are
done, append the value to the order; otherwise, if it is new, mark it, push
it back with `parents_done=True` and push its parents. Recursion is fine for
the tests (up to 500 operations deep); the explicit stack is a bonus.
""")
notebook.markdown(r"""
## 4. From numbers to arrays: a local rule is a function

For a `Scalar` each local derivative is one number. For arrays it would be a
matrix of derivatives of every output element with respect to every input
element: for a $(100, 100)$ matrix product, $10^8$ numbers. Nobody builds
it. Instead every operation keeps a small **function**, `_backward`, which
reads $G$ = `out.grad` (the gradient of the final output with respect to the
result, the same shape as the result) and **adds** each parent's share to
that parent's `.grad`:

| `out =` | `_backward` adds to `a.grad` | `_backward` adds to `b.grad` |
| --- | --- | --- |
| `a + b` | `unbroadcast(G, a.shape)` | `unbroadcast(G, b.shape)` |
| `a * b` | `unbroadcast(G * b.data, a.shape)` | `unbroadcast(G * a.data, b.shape)` |
| `a @ b` | `G @ b.data.T` | `a.data.T @ G` |
| `a.sum()` | $G$ (one number) at every element of `a` | |
| `a.sigmoid()` | `G * s * (1 - s)`, with `s = out.data` | |

The forward values are what you expect: `a.data + b.data`, `a.data * b.data`,
`a.data @ b.data`, the sum of all elements (shape `()`), and
$s = 1/(1 + e^{-a})$ elementwise. The backward rules are those of miniflow's
`Add`, `Mul`, `Linear` and `Sigmoid` from the earlier notebooks. Two habits
carry over: **add** with `+=` (a tensor may be used by several operations, or
twice by one, as in `x * x`), and `unbroadcast` a gradient back to the shape
of an operand that numpy broadcasting stretched.

**The pattern**, on an operation you do not have to write, $e^x$:

```python
def exp(self):
    out = Tensor(np.exp(self.data), parents=(self,), op="exp")   # compute and record
    def _backward():                       # the local rule, to be run later
        self.grad += out.grad * out.data   # d e^x / dx = e^x, which is out.data
    out._backward = _backward
    return out
```

`_backward` is a **closure**: a function defined inside `exp` that remembers
`self` and `out`. When backpropagation calls `out._backward()` long after
`exp` returned, `out.grad` holds the complete upstream gradient by then, and
the rule adds its share to `self.grad`.

Operands may also be plain numbers or arrays (`t * 2.0`): `as_tensor` wraps
them in a `Tensor` (a constant leaf).
""")
notebook.given("as_tensor", source_of(miniflow.tensor.as_tensor))
notebook.markdown(r"""
### Exercise 1 (5 points): the `Tensor` class

Complete the operations of `Tensor`. The constructor and a few methods are
given:

- `Tensor(data, parents=(), op="", name=None)` stores `data` as a float numpy
  array (a copy), `grad` as zeros of the same shape, `_parents` as a tuple,
  `_op` (a label for drawings) and `name`; `_backward` does nothing until an
  operation replaces it.
- `exp` is the worked example above; `-`, `mean` and the reversed operators
  (`2.0 * t`) are built from your operations, so their gradients come for
  free; `backward()` calls `backpropagate`, your Exercise 2.

Write, each returning a **new** `Tensor` with `parents` and `op` set and its
`_backward` closure attached (see the table above):

1. `__add__(other)`: `self + other`, elementwise with numpy broadcasting;
2. `__mul__(other)`: `self * other`, elementwise with broadcasting;
3. `__matmul__(other)`: `self @ other` for two 2-D tensors;
4. `sum()`: the sum of all elements, a tensor of shape `()`;
5. `sigmoid()`: $1/(1+e^{-x})$ elementwise, computed stably as in
   assignment 2 (`np.exp(-np.logaddexp(0.0, -x))` never overflows, where the
   textbook formula warns at $x = -1000$), with the derivative taken from the
   **output**, `out.data`.

In every `_backward`: read the upstream gradient from `out.grad`, **add** to
each parent's `.grad` with `+=` (never `=`), and make every gradient the
shape of its tensor's `data`.
""")
notebook.solution("tensor", source_of(miniflow.tensor.Tensor))
notebook.markdown(r"""
The worked example, run by hand: record $e^t$, pretend the upstream gradient
is ones, and call its `_backward` once. $t$ receives $e^t$:
""")
notebook.code("""
t = Tensor([0.0, 1.0], name="t")
e = t.exp()
e.grad = np.ones(2)
e._backward()
print("e.data =", e.data, "  t.grad =", t.grad)
""")
notebook.test("test_tensor_forward", 2, """
from autograder import checks

# Random arrays with broadcasting, a matrix product, sum and sigmoid; then the
# worked examples with a = [[1, 2], [3, 4]] and b = [10, 20].
checks.test_tensor_forward(Tensor)
""")
notebook.test("test_tensor_backward", 3, """
from autograder import checks

# Every operation on random arrays (broadcasting included), and x * x, x + x; then
# the worked example: out = a * b with an upstream gradient, the local rule run once.
checks.test_tensor_backward(Tensor)
""")

notebook.markdown(r"""
## 5. Backpropagation

### Exercise 2 (3 points): `topological_order` and `backpropagate`

1. `topological_order(output)` returns a **list** of every tensor `output`
   depends on (`output` itself included), **each once**, every tensor **after
   all of its parents**, so `output` comes last. Follow `_parents` with a
   depth-first search (Section 3). A recursive search is fine; one with your
   own stack also handles graphs thousands of operations deep.
2. `backpropagate(output)`:
   - set the `.grad` of **every** tensor in the order to zeros (a fresh start:
     gradients from an earlier backward pass must not pile up);
   - seed `output.grad` with **ones** of `output`'s shape
     ($\partial\,\text{output}/\partial\,\text{output} = 1$; for a non-scalar
     output this gives the gradients of its sum);
   - call every tensor's `_backward()` **once**, in **reverse** topological
     order.

`Tensor.backward()` calls your `backpropagate`, so `loss.backward()` works as
in PyTorch. (One difference: PyTorch *adds* to the gradients of leaves across
backward calls until you reset them; ours starts from zero every time, like
miniflow.) The tests of `backpropagate` use your operations from Exercise 1.
""")
notebook.solution("backpropagation", source_of(miniflow.tensor.topological_order,
                                               miniflow.tensor.backpropagate))
notebook.test("test_topological_order", 1, """
from autograder import checks

# A diamond built with the constructor only: d = f(h, h2), h2 = g(h), h = x * x;
# then random recorded graphs with shared and repeated parents.
checks.test_topological_order(Tensor, topological_order)
""")
notebook.test("test_backpropagate", 2, """
# This test grades backpropagate alone: Tensor is the grader's own (its backward()
# calls your backpropagate) and topological_order a right one while it runs.
from autograder import checks

# Random graphs, the diamond of Section 3 (dd/dx = 30 at x = 3), a chain of 500.
checks.test_backpropagate(globals())
""")

notebook.markdown(r"""
The diamond once more, with your `Tensor`: every value's gradient after one
`backward()`. Check $\bar h = 5$ and $\bar x = 30$.
""")
notebook.code("""
x = Tensor(3.0, name="x")
h = x * x
h.name = "h"
d = h * 2 + h * 3
d.name = "d"
d.backward()
print("d =", d.data, "  dd/dx =", x.grad)
draw_recorded(d, show="grad", title="The diamond after d.backward(): the gradient of each value")
plt.show()
""")
notebook.markdown(r"""
Each box now holds a gradient: 1 at `d` and at both products, 5 at `h`, 30
at `x`; a constant's box holds its gradient too (the box `constant 2` holds
$\bar{2} = h = 9$), though nothing will ever train it.

`step_through` replays such a backward pass one `_backward()` at a time, on
your own `Tensor`. Here it is on $f = (x + y)\,z$ at $x = -2,\ y = 5,\ z = -4$:
press **Next** (or click the widget and use the arrow keys) to watch each
value, then each gradient flow back; a gradient marked ✗ disagrees with a
numerical estimate, at the operation whose `_backward` is wrong.
""")
notebook.code("""
from miniflow.stepper import step_through

x, y, z = Tensor(-2.0, name="x"), Tensor(5.0, name="y"), Tensor(-4.0, name="z")
q = x + y
q.name = "q"
f = q * z
f.name = "f"
step_through(f)
""")
notebook.markdown(r"""
### A gradient checker for tensors

`mf.check_gradients` nudges the inputs of a static graph and compares. A
define-by-run graph exists only while it is computed, so its checker takes a
**function** that builds it: `mf.check_tensor_gradients(lambda: ..., [tensors])`
calls it again for every nudge, compares each tensor's `.grad` after
`backward()` with central differences, and prints the same report. Here it
finds the bug planted in a new operation, `square`, whose backward forgets
the 2 of $\frac{d}{dt} t^2 = 2t$:
""")
notebook.code("""
def broken_square(t):
    \"\"\"t ** 2, with a deliberate bug in its local rule.\"\"\"
    out = Tensor(t.data ** 2, parents=(t,), op="square")

    def _backward():
        t.grad += out.grad * t.data   # the bug: the slope of t ** 2 is 2 * t.data

    out._backward = _backward
    return out


w = Tensor([1.0, -2.0, 3.0], name="w")
print(mf.check_tensor_gradients(lambda: (broken_square(w) * 0.5).sum(), [w]))
""")
notebook.markdown(r"""
**Bonus (not graded).** Does your `topological_order` survive a chain of
5000 operations? A recursive search stops at Python's recursion limit; one
with its own stack does not.
""")
notebook.code("""
start = Tensor(1.0, name="start")
y = start
for _ in range(5000):
    y = y * 1.0001
try:
    y.backward()
    print(f"a chain of 5000 operations: d y / d start = {float(start.grad):.6f} "
          f"(exact: {1.0001 ** 5000:.6f})")
except RecursionError:
    print("RecursionError: this needs a depth-first search with its own stack (Section 3).")
""")
notebook.markdown(r"""
## 6. Train a network with your `Tensor`

Everything is in place for training. The network of *Training*, on the XOR
data: a hidden layer of sigmoids, a sigmoid output, and the mean squared
error against the labels,

$$
H = \sigma(X W_1 + b_1), \qquad p = \sigma(H W_2 + b_2), \qquad
L = \frac{1}{n}\sum_{i=1}^{n} (p_i - y_i)^2 .
$$

Here is the same computation as a **static** miniflow graph: built once,
then fed and run. We will compare your gradients with it.
""")
notebook.given("static_network", """
def static_two_layer(X, y, start):
    \"\"\"Loss and gradients of miniflow's graph Linear, Sigmoid, Linear, Sigmoid, MSE.\"\"\"
    nodes = {name: Input(name) for name in ["X", "y", "W1", "b1", "W2", "b2"]}
    hidden = Sigmoid(Linear(nodes["X"], nodes["W1"], nodes["b1"]))
    prediction = Sigmoid(Linear(hidden, nodes["W2"], nodes["b2"]))
    cost = MSE(nodes["y"], prediction)
    feed = {nodes["X"]: X, nodes["y"]: y}
    feed.update({nodes[name]: value for name, value in start.items()})
    names = ["W1", "b1", "W2", "b2"]
    value, gradients = mf.value_and_grad(cost, feed, [nodes[name] for name in names])
    return value, dict(zip(names, gradients))
""")
notebook.markdown(r"""
### Exercise 3 (2 points): the loss and a training step

1. `two_layer_loss(X, y, params)` returns $L$ as a `Tensor` of shape `()`.
   `X` is a numpy array `(n, d)`, `y` a numpy array of `n` labels 0 or 1,
   shape `(n,)`, and `params` a dict of `Tensor`s: `"W1"` $(d, h)$, `"b1"`
   $(h,)$, `"W2"` $(h, 1)$, `"b2"` $(1,)$. Use your operations only (no
   `.data` arithmetic), so that `loss.backward()` reaches the parameters.
   Two traps: the prediction has shape $(n, 1)$, so reshape `y` to a column
   first (a `(n, 1)` minus a `(n,)` broadcasts to `(n, n)`!); and square the
   error as `error * error`, a tensor used twice, which your `backward`
   handles.
2. `sgd_step(params, learning_rate)` moves every parameter against its
   gradient, in place: each `tensor.data` decreases by `learning_rate` times
   its `tensor.grad`.
""")
notebook.solution("training", """
def two_layer_loss(X, y, params):
    \"\"\"Mean squared error of sigmoid(sigmoid(X @ W1 + b1) @ W2 + b2) against y, a Tensor.\"\"\"
    ### BEGIN SOLUTION
    hidden = (Tensor(X, name="X") @ params["W1"] + params["b1"]).sigmoid()
    prediction = (hidden @ params["W2"] + params["b2"]).sigmoid()
    error = prediction - np.reshape(y, (-1, 1))
    return (error * error).mean()
    ### END SOLUTION


def sgd_step(params, learning_rate):
    \"\"\"One step of gradient descent on every tensor in params, in place.\"\"\"
    ### BEGIN SOLUTION
    for tensor in params.values():
        tensor.data -= learning_rate * tensor.grad
    ### END SOLUTION
""")
notebook.test("test_two_layer_loss", 1, """
# This test grades two_layer_loss alone: Tensor is the grader's own while it runs,
# with right operations and a right backward().
from autograder import checks

# Other sizes, then a batch of 4 XOR points: against miniflow's static graph.
checks.test_two_layer_loss(globals())
""")
notebook.test("test_sgd_step", 1, """
from autograder import checks

# Random parameters of several shapes; then the worked example: w = [1, 2] with
# gradient [0.5, -1] and learning rate 0.1.
checks.test_sgd_step(Tensor, sgd_step)
""")
notebook.markdown(r"""
Two designs, one answer. The same weights through your recorded graph and
through miniflow's static graph:
""")
notebook.code("""
X, y = make_xor(200, noise=0.2, seed=0)
rng = np.random.default_rng(1)
start = {"W1": rng.normal(size=(2, 8)), "b1": np.zeros(8),
         "W2": rng.normal(size=(8, 1)) / np.sqrt(8), "b2": np.zeros(1)}

params = {name: Tensor(value, name=name) for name, value in start.items()}
loss = two_layer_loss(X, y, params)
loss.backward()
static_value, static_gradients = static_two_layer(X, y, start)
print(f"loss: define-by-run {float(loss.data):.10f}   static graph {static_value:.10f}")
for name in start:
    same = np.allclose(params[name].grad, static_gradients[name], rtol=1e-10, atol=1e-14)
    print(f"gradient of {name}, shape {params[name].grad.shape}: the same as miniflow's: {same}")
""")
notebook.markdown(r"""
And the tensor gradient checker agrees with both, on a batch of 20 points:
""")
notebook.code("""
print(mf.check_tensor_gradients(lambda: two_layer_loss(X[:20], y[:20], params),
                                list(params.values())))
""")
notebook.markdown(r"""
Now train. Each step **records a new graph**: `two_layer_loss` runs, the
tensors record themselves, `backward()` sorts and walks them, and the graph
is thrown away. (The static graph was sorted once and reused.)
""")
notebook.code("""
params = {name: Tensor(value, name=name) for name, value in start.items()}
history = []
bar = progress(range(30), description="round of 100 steps")
for round_ in bar:
    for step in range(100):
        loss = two_layer_loss(X, y, params)
        loss.backward()
        sgd_step(params, learning_rate=2.0)
    history.append(float(loss.data))
    bar.set(loss=history[-1])
""")
notebook.code("""
def predict(points):
    hidden = (Tensor(points) @ params["W1"] + params["b1"]).sigmoid()
    return (hidden @ params["W2"] + params["b2"]).sigmoid().data


fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
plot_loss(history, ax=left, title="XOR, trained with your Tensor",
          xlabel="round (100 steps each)", ylabel="mean squared error")
plot_decision_boundary(predict, X, y, ax=right, title="What the network learned")
plt.tight_layout()
plt.show()
print(f"training accuracy: {mf.accuracy(predict(X), y):.1%}")
""")
notebook.markdown(r"""
The loss falls round after round, and the boundary bends so that each of the
four quadrants gets its class.

And here is what a single step recorded, on a batch of 5 points. Every box
is a tensor your code created; the data and the numbers (`X`, `y`, `-1`,
`1/n`) are leaves, constants nobody trains.
""")
notebook.code("""
draw_recorded(two_layer_loss(X[:5], y[:5], params), show="shape",
              title="The graph one call of two_layer_loss recorded (shapes)")
plt.show()
""")
notebook.markdown(r"""
## 7. Static graph or define-by-run?

| | static graph (miniflow, TensorFlow 1) | define-by-run (your `Tensor`, PyTorch) |
| --- | --- | --- |
| the graph is known | before any number | while the code runs |
| phases | build and sort once, run many times | record and sort a new graph every step |
| control flow | graph operations: `tf.cond`, `tf.while_loop` | plain Python `if`, `for`, `while` |
| optimisation | the whole graph, up front | one operation at a time |
| debugging | errors appear at run time, far from the cause | errors at the line that caused them |
| overhead | paid once | Python work at every operation, every step |

- **Control flow.** A Python `if` in code that builds a static graph runs
  once, at build time, on no numbers at all. Define-by-run code branches and
  loops on the actual values, as `grow` did.
- **Optimisation.** A framework that sees the whole graph before running it
  can fuse operations, plan memory, drop nodes nobody needs, place work on
  devices and save the graph without the Python code that built it.
  Define-by-run sees one operation at a time; to optimise, it needs a
  compiler that traces the code into a graph (`torch.compile`,
  `tf.function`, `jax.jit`).
- **Debugging.** In a static graph, a shape error shows up when the graph
  runs, far from the line that built the node, and no value exists while you
  build. Define-by-run fails at the line that caused the error, and you can
  print any intermediate value or step through it with a debugger.
- **Reused values** are the same in both: a gradient sums what every consumer
  sends back (`+=`). Define-by-run adds the rule of this notebook: pass a
  gradient on only once it is complete, in reverse topological order.

Modern frameworks mix the two: you write define-by-run code, and a compiler
records it once into a static graph that is then optimised and reused.

## What you learned

- **Define-by-run**: operations compute at once and record their parents and
  a local backward rule; the graph is a by-product of running Python, so
  loops and branches on actual values just work.
- For arrays, a local rule is a **closure** that reads `out.grad` and
  **adds** (`+=`) each parent's share, unbroadcast to the parent's shape.
- A tensor used several times receives the **sum** of its gradients. It may
  pass its gradient on only when that sum is complete: pushing at once
  double-counts, and walking every path separately takes exponential time.
- **Reverse topological order**, from a depth-first search over `_parents`,
  runs each rule exactly once, after all of its consumers.
- Both designs compute the same gradients: you checked your `Tensor` against
  miniflow's static graph and trained a network with it.
""")
