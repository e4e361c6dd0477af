"""Wrong answers students give in "Graphs and the chain rule"."""

from autograder.author.mutants import Mutant

# How these mutants differ from the solution apart from their mistakes: each
# is kept as the self-check has always graded it.

# Most mutants of Mul wrap this line.
_WRAPPED = ('''
    self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
    ''', '''
    self.gradients = {n: np.zeros_like(n.value, dtype=float)
                      for n in self.inbound_nodes}
    ''')

# Mutants of topological_sort leave one blank line after the import, not two ...
_ONE_BLANK_LINE = ('''
    from collections import deque


    def topological_sort(feed_dict):
    ''', '''
    from collections import deque

    def topological_sort(feed_dict):
    ''')
# ... and none between the steps.
_NO_BLANK_LINES = [
    ('''
        node.value = value

    nodes, queue = [], deque(feed_dict)
    ''', '''
        node.value = value
    nodes, queue = [], deque(feed_dict)
    '''),
    ('''
            queue.extend(node.outbound_nodes)

    waiting = {node: len({id(n) for n in node.inbound_nodes if n in nodes})
    ''', '''
            queue.extend(node.outbound_nodes)
    waiting = {node: len({id(n) for n in node.inbound_nodes if n in nodes})
    '''),
    ('''
               for node in nodes}

    ready = deque(node for node in nodes if waiting[node] == 0)
    ''', '''
               for node in nodes}
    ready = deque(node for node in nodes if waiting[node] == 0)
    '''),
]
# Two mutants of topological_sort do without deque.
_NO_DEQUE = ('''
    from collections import deque


    def topological_sort(feed_dict):
    ''', '''
    def topological_sort(feed_dict):
    ''')

MUTANTS = [
    # -- the chain rule by hand --------------------------------------------
    Mutant("chain_rule", "forgets the second path through x (only dx = g*y)", [
        ("return upstream * (y + z), upstream * x, upstream * x",
         "return upstream * y, upstream * x, upstream * x"),
    ]),
    Mutant("chain_rule", "ignores the upstream gradient", [
        ("return upstream * (y + z), upstream * x, upstream * x", "return y + z, x, x"),
    ]),
    Mutant("chain_rule", "swaps the partials of x and y", [
        ("return upstream * (y + z), upstream * x, upstream * x",
         "return upstream * x, upstream * (y + z), upstream * x"),
    ]),
    Mutant("chain_rule", "hard-codes the worked example", [
        ("return upstream * (y + z), upstream * x, upstream * x", "return -0.5, 1.5, 1.5"),
    ]),
    # -- Mul ------------------------------------------------------------------
    Mutant("mul", "overwrites instead of adding over consumers", [
        _WRAPPED,
        ("self.gradients[node] += unbroadcast(local, np.shape(node.value))",
         "self.gradients[node] = unbroadcast(local, np.shape(node.value))"),
    ]),
    Mutant("mul", "divides the product by the input (fails at zero)", [
        _WRAPPED,
        ('''
        for i, node in enumerate(self.inbound_nodes):
            local = upstream
            for j, other in enumerate(self.inbound_nodes):
                if j != i:
                    local = local * other.value
        ''', '''
        for node in self.inbound_nodes:
            with np.errstate(all="ignore"):
                local = upstream * self.value / node.value
        '''),
    ]),
    Mutant("mul", "only handles two inputs", [
        ('''
        product = self.inbound_nodes[0].value
        for node in self.inbound_nodes[1:]:
            product = product * node.value
        self.value = product
        ''', '''
        a, b = self.inbound_nodes[0], self.inbound_nodes[1]
        self.value = a.value * b.value
        '''),
        ('''
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        ''', '''
        a, b = self.inbound_nodes[0], self.inbound_nodes[1]
        self.gradients = {a: np.zeros_like(a.value, dtype=float),
                          b: np.zeros_like(b.value, dtype=float)}
        '''),
        ('''
        for i, node in enumerate(self.inbound_nodes):
        ...
            self.gradients[node] += unbroadcast(local, np.shape(node.value))
        ''', '''
        self.gradients[a] += unbroadcast(upstream * b.value, np.shape(a.value))
        self.gradients[b] += unbroadcast(upstream * a.value, np.shape(b.value))
        '''),
    ], also=("test_mul_backward",)),
    # Wrong in the forward only: the backward test must not be blamed for it.
    Mutant("mul", "forward adds instead of multiplying (the backward is right)", [
        _WRAPPED,
        ("product = self.inbound_nodes[0].value", "total = self.inbound_nodes[0].value"),
        ('''
            product = product * node.value
        self.value = product
        ''', '''
            total = total + node.value
        self.value = total
        '''),
    ]),
    Mutant("mul", "forgets to unbroadcast", [
        _WRAPPED,
        ("self.gradients[node] += unbroadcast(local, np.shape(node.value))",
         "self.gradients[node] = self.gradients[node] + local"),
    ]),
    Mutant("mul", "keys gradients by position, so Mul(x, x) keeps only one use", [
        ('''
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
        for consumer in self.outbound_nodes:
            upstream = consumer.gradients[self]
            for i, node in enumerate(self.inbound_nodes):
                local = upstream
        ''', '''
        self.gradients = {}
        for i, node in enumerate(self.inbound_nodes):
            total = np.zeros_like(node.value, dtype=float)
            for consumer in self.outbound_nodes:
                local = consumer.gradients[self]
        '''),
        ('''
            self.gradients[node] += unbroadcast(local, np.shape(node.value))
        ''', '''
            total = total + unbroadcast(local, np.shape(node.value))
        self.gradients[node] = total
        '''),
    ]),
    Mutant("mul", "ignores the upstream gradient", [
        _WRAPPED,
        ('''
        upstream = consumer.gradients[self]
        ''', ""),
        ("local = upstream", "local = np.ones_like(self.value, dtype=float)"),
    ]),
    # -- topological sort ---------------------------------------------------
    Mutant("topological_sort", "returns only the fed inputs", [
        _NO_DEQUE,
        ('''
            node.value = value
        ...
        return order
        ''', '''
            node.value = value
        return list(feed_dict)
        '''),
    ]),
    Mutant("topological_sort", "breadth-first order, ignoring in-degrees", [
        _ONE_BLANK_LINE,
        *_NO_BLANK_LINES,
        ("nodes, queue = [], deque(feed_dict)", "order, queue = [], deque(feed_dict)"),
        ('''
        if node not in nodes:
            nodes.append(node)
        ''', '''
        if node not in order:
            order.append(node)
        '''),
        ('''
        waiting = {node: len({id(n) for n in node.inbound_nodes if n in nodes})
        ...
                    ready.append(consumer)
        ''', ""),
    ]),
    Mutant("topological_sort", "counts a repeated input twice, so Mul(x, x) never runs", [
        _ONE_BLANK_LINE,
        *_NO_BLANK_LINES,
        ('''
        waiting = {node: len({id(n) for n in node.inbound_nodes if n in nodes})
                   for node in nodes}
        ''', '''
        waiting = {node: len(node.inbound_nodes) for node in nodes}
        '''),
    ]),
    Mutant("topological_sort", "forgets to set the inputs' values", [
        _ONE_BLANK_LINE,
        *_NO_BLANK_LINES,
        ('''
        for node, value in feed_dict.items():
            node.value = value
        ''', ""),
    ]),
    Mutant("topological_sort", "depth-first post-order without reversing (consumers first)", [
        _NO_DEQUE,
        ('''
            node.value = value
        ''', '''
            node.value = value
        order, seen = [], set()
        '''),
        ('''
        nodes, queue = [], deque(feed_dict)
        while queue:
            node = queue.popleft()
            if node not in nodes:
                nodes.append(node)
                queue.extend(node.outbound_nodes)
        ''', '''
        def visit(node):
            if id(node) in seen:
                return
            seen.add(id(node))
            for consumer in node.outbound_nodes:
                visit(consumer)
            order.append(node)
        '''),
        ('''
        waiting = {node: len({id(n) for n in node.inbound_nodes if n in nodes})
        ...
                    ready.append(consumer)
        ''', '''
        for node in feed_dict:
            visit(node)
        '''),
    ]),
]
