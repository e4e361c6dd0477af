"""Wrong code that tries to talk its way past the hidden tests, as students write it.

The second assignment (layers) is the target. ``WRONG_LINEAR`` forgets the
bias and returns zero gradients; ``WRONG_SIGMOID`` is the identity. Each
cheat is either extra cells (added after the setup cell, or after the
solutions) or a replacement solution cell. Every cheat, graded for real,
must score no more than the wrong code alone, and be named.
"""

from __future__ import annotations

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
    "checks_replaced_in_sys_modules": {"early": ['''
import sys, types
import autograder.checks as real
fake = types.ModuleType("autograder.checks")
for name in dir(real):
    setattr(fake, name, lambda *args, **kwargs: None)
sys.modules["autograder.checks"] = fake
import autograder
autograder.checks = fake
np.testing.assert_allclose = lambda *args, **kwargs: None
''']},
    "import_hook_returns_fake_checks": {"early": ['''
import builtins, types
fake = types.ModuleType("checks")
fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)
real_import = builtins.__import__
def sneaky_import(name, globals=None, locals=None, fromlist=(), level=0):
    module = real_import(name, globals, locals, fromlist, level)
    if name == "autograder" and fromlist and "checks" in fromlist:
        return types.SimpleNamespace(checks=fake)
    return module
builtins.__import__ = sneaky_import
np.testing.assert_allclose = lambda *args, **kwargs: None
''']},
    "input_transformer_empties_tests": {"early": ['''
def skip_tests(lines):
    text = "".join(lines)
    if "assert" in text or "checks" in text:
        return ["pass\\n"]
    return lines
get_ipython().input_transformers_cleanup.append(skip_tests)
''']},
    "custom_exception_handler_swallows_failures": {"early": ['''
def swallow(shell, etype, value, tb, tb_offset=None):
    shell.last_execution_succeeded = True
    return None
get_ipython().set_custom_exc((BaseException,), swallow)
''']},
    "trace_rewrites_the_checks_locals": {"early": ['''
import ctypes, sys
def tracer(frame, event, arg):
    if frame.f_code.co_name in ("assert_close", "assert_allclose", "allclose"):
        if "expected_array" in frame.f_locals and "got_array" in frame.f_locals:
            frame.f_locals["got_array"] = frame.f_locals["expected_array"]
            ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
        return tracer
    return tracer
sys.settrace(tracer)
''']},
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
    "numpy_comparisons_always_pass": {"early": ['''
always = lambda *args, **kwargs: True
nothing = lambda *args, **kwargs: None
np.allclose = np.isclose = np.array_equal = np.array_equiv = always
for name in dir(np.testing):
    if name.startswith("assert"):
        setattr(np.testing, name, nothing)
''']},
    "checks_patched_and_the_guard_blinded": {"early": ['''
import autograder.checks as checks
for name in dir(checks):
    if name.startswith(("check_", "assert_")) or name == "defined_in_notebook":
        setattr(checks, name, lambda *args, **kwargs: None)
checks._allclose = checks._isclose = checks._array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *args, **kwargs: None
import autograder.guard as guard
guard._captured.update(guard._state())  # the guard now takes this as the clean state
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
    "init_subclass_hook_swaps_in_the_reference": {"early": ['''
def borrow(cls, **kwargs):
    reference = getattr(mf, cls.__name__, None)
    if reference is not None and reference is not cls:
        for method in ("forward", "backward"):
            setattr(cls, method, getattr(reference, method))
Node.__init_subclass__ = classmethod(borrow)
''']},
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
