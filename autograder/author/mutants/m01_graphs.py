"""Wrong answers students give in "Graphs and the chain rule"."""

from autograder.author.mutants import Mutant

MUTANTS = [
    # -- the chain rule by hand --------------------------------------------
    Mutant("chain_rule", "forgets the second path through x (only dx = g*y)", '''
        def chain_rule_gradients(x, y, z, upstream):
            return upstream * y, upstream * x, upstream * x
    '''),
    Mutant("chain_rule", "ignores the upstream gradient", '''
        def chain_rule_gradients(x, y, z, upstream):
            return y + z, x, x
    '''),
    Mutant("chain_rule", "swaps the partials of x and y", '''
        def chain_rule_gradients(x, y, z, upstream):
            return upstream * x, upstream * (y + z), upstream * x
    '''),
    Mutant("chain_rule", "hard-codes the worked example", '''
        def chain_rule_gradients(x, y, z, upstream):
            return -0.5, 1.5, 1.5
    '''),
    # -- Mul ------------------------------------------------------------------
    Mutant("mul", "overwrites instead of adding over consumers", '''
        class Mul(Node):
            def __init__(self, *inputs, name=None):
                super().__init__(inputs, name=name)

            def forward(self):
                product = self.inbound_nodes[0].value
                for node in self.inbound_nodes[1:]:
                    product = product * node.value
                self.value = product

            def backward(self):
                self.gradients = {n: np.zeros_like(n.value, dtype=float)
                                  for n in self.inbound_nodes}
                for consumer in self.outbound_nodes:
                    upstream = consumer.gradients[self]
                    for i, node in enumerate(self.inbound_nodes):
                        local = upstream
                        for j, other in enumerate(self.inbound_nodes):
                            if j != i:
                                local = local * other.value
                        self.gradients[node] = unbroadcast(local, np.shape(node.value))
    '''),
    Mutant("mul", "divides the product by the input (fails at zero)", '''
        class Mul(Node):
            def __init__(self, *inputs, name=None):
                super().__init__(inputs, name=name)

            def forward(self):
                product = self.inbound_nodes[0].value
                for node in self.inbound_nodes[1:]:
                    product = product * node.value
                self.value = product

            def backward(self):
                self.gradients = {n: np.zeros_like(n.value, dtype=float)
                                  for n in self.inbound_nodes}
                for consumer in self.outbound_nodes:
                    upstream = consumer.gradients[self]
                    for node in self.inbound_nodes:
                        with np.errstate(all="ignore"):
                            local = upstream * self.value / node.value
                        self.gradients[node] += unbroadcast(local, np.shape(node.value))
    '''),
    Mutant("mul", "only handles two inputs", '''
        class Mul(Node):
            def __init__(self, *inputs, name=None):
                super().__init__(inputs, name=name)

            def forward(self):
                a, b = self.inbound_nodes[0], self.inbound_nodes[1]
                self.value = a.value * b.value

            def backward(self):
                a, b = self.inbound_nodes[0], self.inbound_nodes[1]
                self.gradients = {a: np.zeros_like(a.value, dtype=float),
                                  b: np.zeros_like(b.value, dtype=float)}
                for consumer in self.outbound_nodes:
                    upstream = consumer.gradients[self]
                    self.gradients[a] += unbroadcast(upstream * b.value, np.shape(a.value))
                    self.gradients[b] += unbroadcast(upstream * a.value, np.shape(b.value))
    ''', also=("test_mul_backward",)),
    # Wrong in the forward only: the backward test must not be blamed for it.
    Mutant("mul", "forward adds instead of multiplying (the backward is right)", '''
        class Mul(Node):
            def __init__(self, *inputs, name=None):
                super().__init__(inputs, name=name)

            def forward(self):
                total = self.inbound_nodes[0].value
                for node in self.inbound_nodes[1:]:
                    total = total + node.value
                self.value = total

            def backward(self):
                self.gradients = {n: np.zeros_like(n.value, dtype=float)
                                  for n in self.inbound_nodes}
                for consumer in self.outbound_nodes:
                    upstream = consumer.gradients[self]
                    for i, node in enumerate(self.inbound_nodes):
                        local = upstream
                        for j, other in enumerate(self.inbound_nodes):
                            if j != i:
                                local = local * other.value
                        self.gradients[node] += unbroadcast(local, np.shape(node.value))
    '''),
    Mutant("mul", "forgets to unbroadcast", '''
        class Mul(Node):
            def __init__(self, *inputs, name=None):
                super().__init__(inputs, name=name)

            def forward(self):
                product = self.inbound_nodes[0].value
                for node in self.inbound_nodes[1:]:
                    product = product * node.value
                self.value = product

            def backward(self):
                self.gradients = {n: np.zeros_like(n.value, dtype=float)
                                  for n in self.inbound_nodes}
                for consumer in self.outbound_nodes:
                    upstream = consumer.gradients[self]
                    for i, node in enumerate(self.inbound_nodes):
                        local = upstream
                        for j, other in enumerate(self.inbound_nodes):
                            if j != i:
                                local = local * other.value
                        self.gradients[node] = self.gradients[node] + local
    '''),
    Mutant("mul", "keys gradients by position, so Mul(x, x) keeps only one use", '''
        class Mul(Node):
            def __init__(self, *inputs, name=None):
                super().__init__(inputs, name=name)

            def forward(self):
                product = self.inbound_nodes[0].value
                for node in self.inbound_nodes[1:]:
                    product = product * node.value
                self.value = product

            def backward(self):
                self.gradients = {}
                for i, node in enumerate(self.inbound_nodes):
                    total = np.zeros_like(node.value, dtype=float)
                    for consumer in self.outbound_nodes:
                        local = consumer.gradients[self]
                        for j, other in enumerate(self.inbound_nodes):
                            if j != i:
                                local = local * other.value
                        total = total + unbroadcast(local, np.shape(node.value))
                    self.gradients[node] = total
    '''),
    Mutant("mul", "ignores the upstream gradient", '''
        class Mul(Node):
            def __init__(self, *inputs, name=None):
                super().__init__(inputs, name=name)

            def forward(self):
                product = self.inbound_nodes[0].value
                for node in self.inbound_nodes[1:]:
                    product = product * node.value
                self.value = product

            def backward(self):
                self.gradients = {n: np.zeros_like(n.value, dtype=float)
                                  for n in self.inbound_nodes}
                for consumer in self.outbound_nodes:
                    for i, node in enumerate(self.inbound_nodes):
                        local = np.ones_like(self.value, dtype=float)
                        for j, other in enumerate(self.inbound_nodes):
                            if j != i:
                                local = local * other.value
                        self.gradients[node] += unbroadcast(local, np.shape(node.value))
    '''),
    # -- topological sort ---------------------------------------------------
    Mutant("topological_sort", "returns only the fed inputs", '''
        def topological_sort(feed_dict):
            for node, value in feed_dict.items():
                node.value = value
            return list(feed_dict)
    '''),
    Mutant("topological_sort", "breadth-first order, ignoring in-degrees", '''
        from collections import deque

        def topological_sort(feed_dict):
            for node, value in feed_dict.items():
                node.value = value
            order, queue = [], deque(feed_dict)
            while queue:
                node = queue.popleft()
                if node not in order:
                    order.append(node)
                    queue.extend(node.outbound_nodes)
            return order
    '''),
    Mutant("topological_sort", "counts a repeated input twice, so Mul(x, x) never runs", '''
        from collections import deque

        def topological_sort(feed_dict):
            for node, value in feed_dict.items():
                node.value = value
            nodes, queue = [], deque(feed_dict)
            while queue:
                node = queue.popleft()
                if node not in nodes:
                    nodes.append(node)
                    queue.extend(node.outbound_nodes)
            waiting = {node: len(node.inbound_nodes) for node in nodes}
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
    '''),
    Mutant("topological_sort", "forgets to set the inputs' values", '''
        from collections import deque

        def topological_sort(feed_dict):
            nodes, queue = [], deque(feed_dict)
            while queue:
                node = queue.popleft()
                if node not in nodes:
                    nodes.append(node)
                    queue.extend(node.outbound_nodes)
            waiting = {node: len({id(n) for n in node.inbound_nodes if n in nodes})
                       for node in nodes}
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
    '''),
    Mutant("topological_sort", "depth-first post-order without reversing (consumers first)", '''
        def topological_sort(feed_dict):
            for node, value in feed_dict.items():
                node.value = value
            order, seen = [], set()

            def visit(node):
                if id(node) in seen:
                    return
                seen.add(id(node))
                for consumer in node.outbound_nodes:
                    visit(consumer)
                order.append(node)

            for node in feed_dict:
                visit(node)
            return order
    '''),
]
