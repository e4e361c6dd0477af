from course.authoring import NotebookBuilder

notebook = NotebookBuilder()
notebook.markdown(r"""
# Assignment 1: Graphs and the chain rule

A neural network is a function built by composing small functions. Write the
composition as a **graph**, and two things become mechanical: computing the
output (walk the graph forward) and computing every derivative (walk it
backward with the chain rule). That backward walk is **backpropagation**, and
by the end of this course you will have built it yourself.

**After this notebook you can:**

1. compute the gradient of a small expression by hand with the chain rule;
2. explain how a `Node` stores its value, its neighbours and its gradients;
3. implement a node, `Mul`, with its forward and backward passes;
4. order a graph with Kahn's algorithm (`topological_sort`).

**How the exercises work.** Each exercise is a code cell marked
`# YOUR CODE HERE`. Replace `raise NotImplementedError()` with your code, run
the cell, then run the test cell below it. The visible tests are a first
check; the grader runs more tests of the same kind, so make your code correct
in general, not just for the example.
""")
notebook.given("setup", """
import numpy as np
import matplotlib.pyplot as plt

import miniflow as mf
from miniflow import Node, Input, Add, DummyGrad, value_and_grad, forward_and_backward
from miniflow.nodes import unbroadcast
from miniflow.plotting import draw_graph

np.set_printoptions(precision=4, suppress=True)
""")
notebook.markdown(r"""
## 1. An expression as a graph

Take
$$f(x, y, z) = x\,y + x\,z .$$
As a graph it has three **input** nodes ($x$, $y$, $z$), two
**multiplication** nodes and one **addition** node. Values flow along the
edges from left to right. Notice that $x$ feeds *two* nodes: keep that in
mind, it matters on the way back.

Here is the graph built with miniflow's own nodes (`mf.Mul` is the reference
version of the node you will write in section 3), evaluated at
$x = 3,\ y = 4,\ z = -5$:
""")
notebook.code("""
x, y, z = Input("x"), Input("y"), Input("z")
xy, xz = mf.Mul(x, y, name="x*y"), mf.Mul(x, z, name="x*z")
f = Add(xy, xz, name="f")

graph = mf.topological_sort({x: 3.0, y: 4.0, z: -5.0})
mf.forward_pass(f, graph)
print("f(3, 4, -5) =", f.value)
draw_graph(graph, show="value", title="f = x*y + x*z at x=3, y=4, z=-5")
plt.show()
""")
notebook.markdown(r"""
The drawing shows the inputs $x = 3$, $y = 4$ and $z = -5$ on the left, the
products `x*y` $= 12$ and `x*z` $= -15$ in the middle, and their sum $f = -3$
on the right; $x$ sends an arrow to both products.

## 2. The chain rule, by hand

Backpropagation answers: *if I nudge this input, how much does the output
move?* For one path the answer is a product of local derivatives (the chain
rule). When a value reaches the output along **several paths**, the effects
**add up**:

$$
\frac{\partial f}{\partial x}
= \frac{\partial f}{\partial (xy)}\frac{\partial (xy)}{\partial x}
+ \frac{\partial f}{\partial (xz)}\frac{\partial (xz)}{\partial x}
= 1\cdot y + 1\cdot z .
$$

In a real network $f$ is not the end: a later part of the graph (eventually
the loss $L$) sends back an **upstream gradient** $g = \partial L / \partial f$,
and each gradient above is multiplied by it:
$\partial L/\partial x = g\,(y + z)$.

**Worked example.** At $x=3,\ y=4,\ z=-5$ with $g = 0.5$:
$\partial L/\partial y = g\,x = 1.5$.
""")
notebook.markdown(r"""
### Exercise 1 (2 points): the chain rule by hand

Complete `chain_rule_gradients(x, y, z, upstream)` so it returns the tuple
$(\partial L/\partial x,\ \partial L/\partial y,\ \partial L/\partial z)$ for
$f = xy + xz$ and upstream gradient `upstream`. Use the formulas you derive
on paper, not a numerical approximation.
""")
notebook.solution("chain_rule", """
def chain_rule_gradients(x, y, z, upstream):
    \"\"\"Gradients of L with respect to x, y, z, where dL/df = upstream.\"\"\"
    ### BEGIN SOLUTION
    return upstream * (y + z), upstream * x, upstream * x
    ### END SOLUTION
""")
notebook.test("test_chain_rule", 2, """
from autograder import checks

# Random numbers, then the lab's worked example: x=3, y=4, z=-5, upstream gradient 0.5.
checks.test_chain_rule(chain_rule_gradients)
""")
notebook.markdown(r"""
## 3. Nodes: what miniflow gives you

Every operation in miniflow is a subclass of `Node`. A node keeps:

| attribute | meaning |
| --- | --- |
| `inbound_nodes` | the nodes whose values it reads (its inputs) |
| `outbound_nodes` | the nodes that read its value (its consumers), each listed once |
| `value` | its output, set by `forward()` |
| `gradients` | a dict: for each input node `n`, $\partial L/\partial n$ *through this node* |

and implements two methods:

- `forward()`: compute `self.value` from `[n.value for n in self.inbound_nodes]`;
- `backward()`: read the upstream gradient $\partial L/\partial(\text{self})$
  from each consumer (`consumer.gradients[self]`) and fill `self.gradients`
  for every input.

`Input` nodes hold data or parameters. An input has no inputs of its own, so
its `backward` sums what every consumer sends back and stores the total under
the input itself: after a backward pass, `x.gradients[x]` is
$\partial L/\partial x$ (this is where training will read it, in assignment 4).

Backpropagation has to start somewhere: the output's own gradient is
$\partial L/\partial L = 1$. `forward_and_backward` seeds it for you; the
tests below use a `DummyGrad` node instead, which sends back whatever upstream
gradient you feed it (0.5 in the lab's example).

Here is miniflow's `Add`, in full:

```python
class Add(Node):
    def __init__(self, *inputs):
        super().__init__(inputs)

    def forward(self):
        total = self.inbound_nodes[0].value
        for node in self.inbound_nodes[1:]:
            total = total + node.value
        self.value = total

    def backward(self):
        # start every input's gradient at zero ...
        self.gradients = {n: np.zeros_like(n.value, dtype=float)
                          for n in self.inbound_nodes}
        # ... and add what each consumer sends back, times d(sum)/d(input) = 1
        for consumer in self.outbound_nodes:
            upstream = consumer.gradients[self]
            for n in self.inbound_nodes:
                self.gradients[n] += unbroadcast(upstream, np.shape(n.value))
```

Two habits to copy:

- **accumulate with `+=`**: a node can have several consumers, and an input
  can appear twice (`Add(x, x)`); every contribution must be added, none
  overwritten;
- **`unbroadcast(gradient, shape)`** sums a gradient back to an input's own
  shape when numpy broadcasting stretched that input (adding a `(3,)` bias to a
  `(4, 3)` batch, say).

`trace=True` lets you watch backpropagation happen, node by node:
""")
notebook.code("""
upstream = DummyGrad(f)   # a test node: sends the gradient we feed it back into f
graph = mf.topological_sort({x: 3.0, y: 4.0, z: -5.0, upstream: 0.5})
forward_and_backward(graph, output=upstream, trace=True)
""")
notebook.markdown(r"""
The last lines are the chain rule you did by hand: $x$ receives
$0.5 \cdot 4$ from `x*y` and $0.5 \cdot (-5)$ from `x*z`, which add up to
$-0.5$.

### Exercise 2 (5 points): the `Mul` node

Write `Mul`, the elementwise product of **any number** of inputs, with numpy
broadcasting.

- **forward**: `self.value` is the product of all input values.
- **backward**: for input $a_i$, $\dfrac{\partial}{\partial a_i}\prod_j a_j =
  \prod_{j \ne i} a_j$. Multiply by the upstream gradient of each consumer,
  `unbroadcast` to the input's shape, and accumulate. Compute the product of
  the *other* inputs directly: dividing the full product by $a_i$ fails when
  $a_i = 0$.

Watch the case `Mul(x, x)`: the gradient of $x^2$ is $2x$, and it comes from
the two positions of `x` adding up.
""")
notebook.solution("mul", """
class Mul(Node):
    \"\"\"Elementwise product of any number of inputs, with broadcasting.\"\"\"

    def __init__(self, *inputs, name=None):
        super().__init__(inputs, name=name)

    def forward(self):
        ### BEGIN SOLUTION
        product = self.inbound_nodes[0].value
        for node in self.inbound_nodes[1:]:
            product = product * node.value
        self.value = product
        ### END SOLUTION

    def backward(self):
        ### BEGIN SOLUTION
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            upstream = consumer.gradients[self]
            for i, node in enumerate(self.inbound_nodes):
                local = upstream
                for j, other in enumerate(self.inbound_nodes):
                    if j != i:
                        local = local * other.value
                self.gradients[node] += unbroadcast(local, np.shape(node.value))
        ### END SOLUTION
""")
notebook.test("test_mul_forward", 2, """
from autograder import checks

# Random arrays that broadcast, (3, 2) * (2,) * (1, 2); then 3 * 4 * -5.
checks.test_mul_forward(Mul)
""")
notebook.test("test_mul_backward", 3, """
from autograder import checks

# Broadcasting, a Mul feeding two nodes, Mul(x, x), zeros; then the lab's example
# f = x*y + x*z at x=3, y=4, z=-5 with upstream gradient 0.5.
checks.test_mul_backward(Mul)
""")
notebook.markdown(r"""
## 4. Ordering the graph: topological sort

To run a graph forward, every node must run *after* all of its inputs; to
run it backward, in exactly the reverse order. An order with that property is
a **topological order**.

**Kahn's algorithm** finds one:

1. collect every node connected to the inputs you feed;
2. count, for each node, how many *distinct* inputs it waits for;
3. start with the nodes that wait for nothing (the inputs); take them one at a
   time, in first-in first-out order, append each to the result, and tell each
   of its consumers that one input is ready; a consumer whose count reaches
   zero joins the queue.

If nodes are left over with a non-zero count, the graph has a cycle.

### Exercise 3 (3 points): `topological_sort`

Write `topological_sort(feed_dict)`:

- `feed_dict` maps `Input` nodes to values: set each input's `value` from it;
- return a list of **every** node reachable from those inputs through
  `outbound_nodes`, each **once**, each after all of its inputs;
- use lists and dicts, not sets, to decide the order, so the same graph always
  gives the same order.

A node that uses the same input twice (`Mul(x, x)`) waits for it only once.

Your function may assume a well-formed graph: no cycle, and every `Input` the
graph needs is in `feed_dict`. (miniflow's own `topological_sort`, which the
later assignments use, checks both: it raises `ValueError` naming a node on
the cycle, or the input that was never fed.)
""")
notebook.solution("topological_sort", """
from collections import deque


def topological_sort(feed_dict):
    \"\"\"Kahn's algorithm: every node reachable from the fed inputs, inputs first.\"\"\"
    ### BEGIN SOLUTION
    for node, value in feed_dict.items():
        node.value = value

    # 1. every node reachable from the inputs, in the order first met
    nodes, queue = [], deque(feed_dict)
    while queue:
        node = queue.popleft()
        if node not in nodes:
            nodes.append(node)
            queue.extend(node.outbound_nodes)

    # 2. how many distinct inputs (among those nodes) each node waits for
    waiting = {node: len({id(n) for n in node.inbound_nodes if n in nodes})
               for node in nodes}

    # 3. Kahn's algorithm
    ready = deque(node for node in nodes if waiting[node] == 0)
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for consumer in node.outbound_nodes:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                ready.append(consumer)
    return order
    ### END SOLUTION
""")
notebook.test("test_topological_sort", 3, """
from autograder import checks

# Ten random graphs; then s = x + y, p = s + x; then Mul(x, x), one input used twice.
checks.test_topological_sort(topological_sort)
""")
notebook.markdown(r"""
## 5. Putting it together

Your `topological_sort` and your `Mul` with miniflow's `Add` and `Input`: a
complete forward and backward pass of $f = x\,y + x\,z$. `trace=True` shows
each step.
""")
notebook.code("""
x, y, z = Input("x"), Input("y"), Input("z")
f = Add(Mul(x, y), Mul(x, z), name="f")
graph = topological_sort({x: 3.0, y: 4.0, z: -5.0})
forward_and_backward(graph, output=f, trace=True)
print("gradients:", [float(n.gradients[n]) for n in (x, y, z)])
""")
notebook.markdown(r"""
### Step through it

`step_through` runs your nodes' `forward()` and then `backward()` one at a time
and shows the graph after each call. Here it is on $f = (x + y)\,z$ at
$x = -2,\ y = 5,\ z = -4$, with your `Mul`. Press **Next** (or click the widget
and use the arrow keys) to watch each value appear, then each gradient flow back;
a gradient marked ✗ disagrees with a numerical estimate, at the node whose
`backward()` is wrong. (Until your `Mul` works, the stepper stops at the step
where it raised.)
""")
notebook.code("""
from miniflow.stepper import step_through

x, y, z = Input("x"), Input("y"), Input("z")
f = Mul(Add(x, y, name="q"), z, name="f")
step_through(f, feed={x: -2.0, y: 5.0, z: -4.0})
""")
notebook.markdown(r"""
## What you learned

- A computation is a graph; forward walks it in topological order, backward
  walks it in reverse.
- Each node knows only its **local** derivative; the chain rule multiplies
  local derivatives along a path and **adds** over paths. That is why every
  `backward` accumulates.
- Next, in *Layers*, the same recipe on matrices: `Linear` and `Sigmoid`.
""")
