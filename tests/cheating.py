"""Wrong code that tries to talk its way past the hidden tests, as students write it.

The second assignment (layers) is the target. ``WRONG_LINEAR`` forgets the
bias and returns zero gradients; ``WRONG_SIGMOID`` is the identity. Each
cheat is either extra cells (added after the setup cell, or after the
solutions) or a replacement solution cell. Every cheat, graded for real,
must score no more than the wrong code alone, and be named.
"""

from __future__ import annotations

from autograder.author.mutants.cheats import CHEATS as ANY_ASSIGNMENT

WRONG_LINEAR = '''
class Linear(Node):
    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name=name)

    def forward(self):
        X, W, b = (node.value for node in self.inbound_nodes)
        self.value = X @ W  # forgot the bias

    def backward(self):
        self.gradients = {n: np.zeros_like(n.value, dtype=float) for n in self.inbound_nodes}
'''

WRONG_SIGMOID = '''
def _sigmoid(x):
    return np.asarray(x, dtype=float)  # not a sigmoid at all


class Sigmoid(Node):
    def __init__(self, node, name=None):
        super().__init__([node], name=name)

    def forward(self):
        self.value = _sigmoid(self.inbound_nodes[0].value)

    def backward(self):
        (x,) = self.inbound_nodes
        self.gradients = {x: sum(c.gradients[self] for c in self.outbound_nodes)}
'''

# Cheats: name -> {"early": cells after setup, "late": cells after the solutions,
# "linear"/"sigmoid": replacement solution cells}.
CHEATS: dict[str, dict[str, list[str] | str]] = {
    **{name: {"early": [code]} for name, code in ANY_ASSIGNMENT.items()},
    "subclass_of_the_reference": {"linear": '''
class Linear(mf.Linear):
    pass
'''},
    "reference_renamed_to_look_local": {"linear": '''
Linear = mf.Linear
Linear.__module__ = "__main__"
'''},
    "references_replaced_by_the_wrong_code": {"late": ['''
import miniflow
import miniflow.nodes
mf.Linear = miniflow.nodes.Linear = Linear
mf.Sigmoid = miniflow.nodes.Sigmoid = Sigmoid
miniflow.nodes._sigmoid = _sigmoid
''']},
    "checks_patched_and_the_guard_defeated": {"early": ['''
import builtins
import sys
import autograder.checks as checks
for name in dir(checks):
    if name.startswith(("check_", "assert_")) or name == "defined_in_notebook":
        setattr(checks, name, lambda *args, **kwargs: None)
for module in [m for n, m in sys.modules.items() if n.startswith("autograder.checks")]:
    for name in ("_allclose", "_isclose", "_array_equal"):  # in every checks module
        if hasattr(module, name):
            setattr(module, name, lambda *a, **k: True)
np.testing.assert_allclose = lambda *args, **kwargs: None
# The guard keeps its clean state in a closure: reach it and rewrite it.
for name in dir(builtins):
    if name.startswith("_miniflow_guard_"):
        inside = [c.cell_contents for c in getattr(builtins, name).__closure__]
        clean = next(x for x in inside if isinstance(x, dict))
        now = next(x for x in inside if callable(x) and x.__name__ == "_state")
        clean.update(now())
''']},
    # The guard is asked in each cell's own request, as a user expression:
    # answer for it, clean, and patch the checks.
    "guard_answer_forged_in_the_reply": {"early": ['''
import autograder.checks as checks
for name in dir(checks):
    if name.startswith(("check_", "assert_")):
        setattr(checks, name, lambda *args, **kwargs: None)
shell = get_ipython()
shell.user_expressions = lambda asked: {
    key: {"status": "ok", "data": {"text/plain": "'[]'"}, "metadata": {}} for key in asked}
''']},
    "gc_reaches_the_captured_references": {"late": ['''
import gc
import miniflow.nodes
for holder in gc.get_referrers(miniflow.nodes.Linear):
    if isinstance(holder, dict):
        for key, value in list(holder.items()):
            if value is miniflow.nodes.Linear:
                holder[key] = Linear
''']},
    "float_and_ndarray_patched": {"early": ['''
for target in (float, np.ndarray, np.float64):
    try:
        target.__eq__ = lambda self, other: True
    except TypeError:
        pass
try:
    np.ndarray.__sub__ = lambda self, other: np.zeros(np.shape(self))
except TypeError:
    pass
''']},
    "metaclass_lies_about_the_mro": {"linear": '''
class Liar(type):
    def mro(cls):
        return [cls, Node, object]

class Linear(mf.Linear, metaclass=Liar):
    pass
'''},
    "exception_whose_str_raises": {"linear": WRONG_LINEAR.replace(
        "self.value = X @ W  # forgot the bias",
        "class Unprintable(Exception):\n"
        "            def __str__(self):\n"
        "                raise RuntimeError('no')\n"
        "        raise Unprintable()")},
    "reference_answers_inside_the_kernel": {"linear": '''
class Linear(Node):
    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name=name)
        helper = getattr(__import__("mini" + "flow"), "Lin" + "ear")
        self._inner = helper(X, W, b)

    def forward(self):
        self._inner.forward()
        self.value = self._inner.value

    def backward(self):
        self._inner.outbound_nodes = self.outbound_nodes
        for consumer in self.outbound_nodes:
            consumer.gradients[self._inner] = consumer.gradients[self]
        self._inner.backward()
        self.gradients = {n: self._inner.gradients[n] for n in self.inbound_nodes}
'''},
}

# Honest solutions, written other ways: full marks, no flags.
HONEST: dict[str, dict[str, list[str] | str]] = {
    "helpers_and_aliases": {"linear": '''
import numpy as np_

def _with_bias(product, bias):
    """Add the bias to every row (numpy broadcasts it)."""
    return product + bias


class Linear(Node):
    # X @ W + b, gradients accumulated over every consumer
    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name=name)

    def forward(self):
        X, W, b = [node.value for node in self.inbound_nodes]
        self.value = _with_bias(np_.dot(X, W), b)

    def backward(self):
        X, W, b = self.inbound_nodes
        grads = {node: np_.zeros_like(node.value, dtype=float) for node in (X, W, b)}
        for consumer in self.outbound_nodes:
            upstream = consumer.gradients[self]
            grads[X] = grads[X] + np_.dot(upstream, W.value.T)
            grads[W] = grads[W] + np_.dot(X.value.T, upstream)
            grads[b] = grads[b] + upstream.sum(axis=0)
        self.gradients = grads
'''},
    "extra_cells_to_debug": {"late": ['''
# checking my layer against a numerical gradient before submitting
from miniflow import check_gradients
X_dbg, W_dbg, b_dbg, t_dbg = Input("X"), Input("W"), Input("b"), Input("t")
layer_dbg = Linear(X_dbg, W_dbg, b_dbg)
rng_dbg = np.random.default_rng(3)
report = check_gradients(mf.MSE(t_dbg, layer_dbg),
                         {X_dbg: rng_dbg.normal(size=(4, 3)), W_dbg: rng_dbg.normal(size=(3, 1)),
                          b_dbg: rng_dbg.normal(size=1), t_dbg: rng_dbg.normal(size=4)},
                         [W_dbg, b_dbg])
print(report.passed)
''', '''
print(Linear(Input(), Input(), Input()).__class__.__name__, "defined, shapes look right")
''']},
}


def delegating_linear(reach: str) -> str:
    """A ``Linear`` whose methods hand the work to miniflow's, reached by ``reach``
    (code that binds ``_Reference``)."""
    return reach.strip() + """


class Linear(Node):
    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name=name)
        self._inner = _Reference(X, W, b)

    def forward(self):
        self._inner.forward()
        self.value = self._inner.value

    def backward(self):
        self._inner.outbound_nodes = self.outbound_nodes
        for consumer in self.outbound_nodes:
            consumer.gradients[self._inner] = consumer.gradients[self]
        self._inner.backward()
        self.gradients = {n: self._inner.gradients[n] for n in self.inbound_nodes}
"""


# The attacks on the verdict itself (the judge outside the student's kernel).
VERDICT_ATTACKS: dict[str, dict[str, list[str] | str]] = {
    # nbgrader scores a test cell by its first output: put a result there.
    "displayhook_puts_a_result_first": {"linear": WRONG_LINEAR.replace(
        "self.value = X @ W  # forgot the bias",
        "self.value = X @ W  # forgot the bias\n"
        "        import warnings\n"
        "        warnings.sys.displayhook(\"checked\")")},
    # The kernel runs every test cell as `pass`.
    "kernel_runs_tests_as_pass": {"early": ['''
import warnings
_kernel = warnings.sys.modules["IPython"].get_ipython().kernel
_real_execute = _kernel.do_execute

async def _do_execute(code, *args, **kwargs):
    if "assert" in code or "checks" in code:
        code = "pass"
    return await _real_execute(code, *args, **kwargs)

_kernel.do_execute = _do_execute
''']},
    # The kernel drops its error messages and reports every cell as ok.
    "kernel_drops_its_errors": {"early": ['''
import warnings
_session = warnings.sys.modules["IPython"].get_ipython().kernel.session
_real_send = _session.send

def _send(stream, msg_or_type, content=None, *args, **kwargs):
    kind = (msg_or_type if isinstance(msg_or_type, str)
            else msg_or_type.get("header", {}).get("msg_type"))
    if kind == "error":
        return None
    if kind == "execute_reply" and isinstance(content, dict) and content.get("status") != "ok":
        content = {"status": "ok", "execution_count": content.get("execution_count"),
                   "user_expressions": {}, "payload": []}
    return _real_send(stream, msg_or_type, content, *args, **kwargs)

_session.send = _send
''']},
    # The locked test cell itself, edited in the file: nbgrader restores it.
    "test_cell_replaced_by_assert_true": {"tests": {"test_linear_forward": "assert True",
                                                    "test_linear_backward": "assert True"}},
    "delegation_through_the_module_dict": {"linear": delegating_linear(
        '_Reference = mf.__dict__["Lin" + "ear"]')},
    "delegation_through_attrgetter": {"linear": delegating_linear(
        'import operator\n_Reference = operator.attrgetter("nodes.Lin" + "ear")(mf)')},
    "delegation_through_reduce_getattr": {"linear": delegating_linear(
        'import functools\n'
        '_Reference = functools.reduce(getattr, ["nodes", "Lin" + "ear"], mf)')},
    "delegation_through_a_pickle": {"linear": delegating_linear('''
import os
import tempfile
_path = os.path.join(tempfile.gettempdir(), "layer.npy")
np.save(_path, np.array([mf.nodes.Linear], dtype=object), allow_pickle=True)
_Reference = np.load(_path, allow_pickle=True)[0]
''')},
    "delegation_through_exec": {"linear": delegating_linear(
        'exec("from miniflow.nodes import Lin" + "ear as _Reference")')},
    "delegation_through_importlib_and_compile": {"linear": delegating_linear('''
import importlib
_nodes = importlib.import_module("mini" + "flow.nodes")
exec(compile("_Reference = _nodes.Lin" + "ear", "<mine>", "exec"))
''')},
}

# Read what ran in the kernel (IPython keeps every cell in In) and smuggle it out.
READS_IN = {"late": ['''
print(bytes("\\n".join(In), "utf-8").hex())
''', '''
raise AssertionError("\\n".join(In)[::-1])
''']}
