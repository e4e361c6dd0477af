"""The static review sees delegation to miniflow however a student spells it.

Each cheat is a ``Linear`` solution cell written as a cheating student would:
its forward and backward hand the work to miniflow's own ``Linear``, reached by
a name cut into pieces, a module's ``__dict__``, ``sys.modules``, ``importlib``,
``operator``, ``functools.reduce``, code run from strings, functions built by
hand, or a pickle read back. Each is flagged in that cell, at the line of the
trick, with words that name it. Honest solutions (the course's own, the
cheating suite's, and idioms students write) get no flag, code the instructor
gave may use anything, and the review's cost grows with the code, not faster.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from pathlib import Path

import nbformat
import pytest
from cheating import HONEST

from autograder.judge.review import review_submission

ROOT = Path(__file__).resolve().parents[1]
SOURCE = nbformat.read(ROOT / "source" / "02_layers" / "layers.ipynb", as_version=4)
RELEASE = nbformat.read(ROOT / "release" / "02_layers" / "layers.ipynb", as_version=4)
LINEAR_TESTS = {"test_linear_forward", "test_linear_backward"}

# forward and backward through an inner miniflow Linear: what every cheat below shares.
DELEGATE = '''
class Linear(Node):
    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name=name)
        self._inner = {make}

    def forward(self):
        self._inner.forward()
        self.value = self._inner.value

    def backward(self):
        self._inner.outbound_nodes = self.outbound_nodes
        for consumer in self.outbound_nodes:
            consumer.gradients[self._inner] = consumer.gradients[self]
        self._inner.backward()
        self.gradients = {{n: self._inner.gradients[n] for n in self.inbound_nodes}}
'''


def _delegating(make: str, before: str = "") -> str:
    return before + DELEGATE.format(make=make)


# name -> (the solution cell, text on the trick's line, words its flag must hold)
CHEATS: dict[str, tuple[str, str, str]] = {
    "module_dict_subscript": (
        _delegating('mf.__dict__["Lin" + "ear"](X, W, b)'),
        "mf.__dict__", "reads the namespace of the module miniflow as a dict"),
    "vars_of_the_module": (
        _delegating('vars(mf)["Linear"](X, W, b)'),
        "vars(mf)", "calls vars() on the module mf"),
    "submodule_dict_get": (
        _delegating('mf.nodes.__dict__.get("Lin" "ear")(X, W, b)'),
        "__dict__.get", "reads the namespace of the module miniflow.nodes as a dict"),
    "attrgetter": (
        _delegating('operator.attrgetter("nodes.Linear")(mf)(X, W, b)', "import operator\n"),
        "attrgetter(", "operator.attrgetter"),
    "attrgetter_kept_then_applied": (
        _delegating('find(mf)(X, W, b)',
                    "from operator import attrgetter\n"
                    "find = attrgetter('.'.join(['nodes', 'Linear']))\n"),
        "find(mf)", "applies operator.attrgetter to the module mf"),
    "methodcaller": (
        _delegating('operator.methodcaller("__getattribute__", "Linear")(mf.nodes)(X, W, b)',
                    "import operator\n"),
        "methodcaller(", "operator.methodcaller"),
    "methodcaller_calls_the_reference": (
        _delegating('methodcaller("Linear", X, W, b)(mf)', "from operator import methodcaller\n"),
        "methodcaller(", "operator.methodcaller"),
    "reduce_getattr": (
        _delegating('functools.reduce(getattr, ["nodes", "Linear"], mf)(X, W, b)',
                    "import functools\n"),
        "reduce(", "walks attribute names with functools.reduce"),
    "reduce_lambda": (
        _delegating('reduce(lambda o, n: getattr(o, n), "nodes/Linear".split("/"), mf)(X, W, b)',
                    "from functools import reduce\n"),
        "reduce(", "walks attribute names with functools.reduce"),
    "getattr_computed_name": (
        _delegating('getattr(mf, "".join(reversed("raeniL")))(X, W, b)'),
        "getattr(mf", "getattr() on the module mf with a computed name"),
    "getattr_of_getattr": (
        _delegating('getattr(getattr(mf, "nodes"), "Lin" + "ear")(X, W, b)'),
        "getattr(getattr", "getattr() on the module getattr(mf, 'nodes') with a computed name"),
    "getattr_renamed": (
        _delegating('look(mf, "Lin" + "ear")(X, W, b)', "look = getattr\n"),
        "look(mf", "getattr() on the module mf with a computed name"),
    "getattribute_of_object": (
        _delegating('object.__getattribute__(mf, "Lin" + "ear")(X, W, b)'),
        "__getattribute__", "calls __getattribute__ on the module mf"),
    "import_module": (
        _delegating('importlib.import_module("mini" + "flow").Linear(X, W, b)',
                    "import importlib\n"),
        "import_module", "imports a module by name at run time: `importlib.import_module("),
    "import_module_through_builtins": (
        _delegating('load("mini" + "flow").Linear(X, W, b)',
                    'load = getattr(__builtins__, "__imp" + "ort__")\n'),
        "load = ", "getattr() on the module __builtins__ with a computed name"),
    "dunder_import": (
        _delegating('__import__("mini" + "flow.nodes", fromlist=["Linear"]).Linear(X, W, b)'),
        "__import__(", "calls __import__()"),
    "sys_modules_subscript": (
        _delegating('sys.modules["mini" + "flow"].Linear(X, W, b)', "import sys\n"),
        "sys.modules", "reads sys.modules, which holds every imported module"),
    "sys_modules_get": (
        _delegating('sys.modules.get("miniflow.nodes").Linear(X, W, b)', "import sys\n"),
        "sys.modules", "reads sys.modules"),
    "sys_reached_through_numpy": (
        _delegating('np._core._add_newdocs_scalars.sys.modules["miniflow"].Linear(X, W, b)'),
        "sys.modules", "reaches the module sys without importing it"),
    "exec_a_string": (
        'exec("from miniflow import Line" + "ar as _Reference")\n\n\n'
        "class Linear(_Reference):\n    pass\n",
        "exec(", "calls exec()"),
    "eval_a_string": (
        _delegating('eval("mf." + "Linear")(X, W, b)'), "eval(", "calls eval()"),
    "compile_then_exec": (
        'code = compile("from miniflow import Linear as _R", "<linear>", "exec")\n'
        "exec(code)\n\n\nclass Linear(_R):\n    pass\n",
        "compile(", "calls compile()"),
    "exec_reached_through_builtins": (
        'run = getattr(__builtins__, "ex" + "ec")\n'
        'run("from miniflow import Linear as _R")\n\n\nclass Linear(_R):\n    pass\n',
        "run(", "runs code from a string: `run("),
    "exec_from_the_builtins_dict": (
        'import builtins\nbuiltins.__dict__["ex" + "ec"]("from miniflow import Linear as _R")\n'
        "\n\nclass Linear(_R):\n    pass\n",
        "builtins.__dict__", "runs code from a string"),
    "eval_through_globals": (
        _delegating('globals()["__builtins__"].eval("mf.Linear")(X, W, b)'),
        "globals()", "calls eval()"),
    "function_built_from_the_references_code": (
        "import types\n\n\nclass Linear(Node):\n"
        "    def __init__(self, X, W, b, name=None):\n"
        "        super().__init__([X, W, b], name=name)\n\n"
        "    forward = types.FunctionType(mf.Linear.forward.__code__, globals())\n"
        "    backward = types.FunctionType(mf.Linear.backward.__code__, globals())\n",
        "forward = types", "builds a function by hand"),
    "marshal": (
        "import marshal\n\nBLOB = b'\\xe3\\x00\\x00\\x00'\n\n\nclass Linear(Node):\n"
        "    def __init__(self, X, W, b, name=None):\n"
        "        super().__init__([X, W, b], name=name)\n\n"
        "    forward = type(lambda: 0)(marshal.loads(BLOB), globals())\n",
        "marshal.loads", "loads code from bytes with marshal"),
    "pickle_of_the_class": (
        _delegating('pickle.loads(b"cminiflow.nodes\\nLinear\\n.")(X, W, b)', "import pickle\n"),
        "pickle.loads", "uses pickle: a pickle read back can bring any object"),
    "pickle_reached_through_numpy": (
        _delegating('np._core._methods.pickle.loads(b"cminiflow.nodes\\nLinear\\n.")(X, W, b)'),
        "pickle.loads", "uses pickle"),
    "np_load_allow_pickle": (
        _delegating('np.load("linear.npy", allow_pickle=True).item()(X, W, b)'),
        "np.load", "np.load with allow_pickle reads a pickle back"),
    "numpy_load_allow_pickle_by_position": (
        _delegating('numpy.load("linear.npy", None, True).item()(X, W, b)', "import numpy\n"),
        "numpy.load", "np.load with allow_pickle"),
    "joblib": (
        _delegating('joblib.load("linear.joblib")(X, W, b)', "import joblib\n"),
        "joblib.load", "uses joblib"),
    "dill": (
        _delegating('dill.loads(BLOB)(X, W, b)', "import dill\nBLOB = b'...'\n"),
        "dill.loads", "uses dill"),
    "copyreg": (
        _delegating('pickle.loads(b"\\x82\\xf0.")(X, W, b)',
                    'import copyreg\nimport pickle\n'
                    'copyreg.add_extension("miniflow.nodes", "Linear", 240)\n'),
        "copyreg.add_extension", "uses copyreg"),
    "locals_by_name": (
        _delegating('locals()["m" + "f"].Linear(X, W, b)'),
        "locals()", "reaches variables by name"),
}

# Cheats whose name the review can work out: named as delegation to the
# reference. Reached by reflection, they cost nothing by the review's rule: the
# judge's verdict on what the code does scores them (tests/test_cheating.py).
RESOLVED = ["module_dict_subscript", "vars_of_the_module", "submodule_dict_get", "attrgetter",
            "attrgetter_kept_then_applied", "methodcaller", "methodcaller_calls_the_reference",
            "reduce_getattr", "getattr_of_getattr", "getattr_renamed", "getattribute_of_object",
            "import_module", "import_module_through_builtins", "dunder_import",
            "sys_modules_subscript", "sys_modules_get", "sys_reached_through_numpy",
            "locals_by_name"]


def with_linear(code: str, source: nbformat.NotebookNode = SOURCE) -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(source)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "linear":
            cell.source = code
    return notebook


def _line(code: str, needle: str) -> int:
    return next(n for n, text in enumerate(code.splitlines(), start=1) if needle in text)


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_each_trick_is_flagged_where_it_is_with_its_name(name):
    code, needle, words = CHEATS[name]
    review = review_submission(with_linear(code), SOURCE, RELEASE)
    there = [f for f in review.flags if f.cell == "linear" and f.line == _line(code, needle)]
    assert any(words in f.text for f in there), (name, review.lines())
    assert all(f.cell == "linear" for f in review.flags), review.lines()


@pytest.mark.parametrize("name", RESOLVED)
def test_a_trick_the_review_can_follow_is_named_as_delegation(name):
    review = review_submission(with_linear(CHEATS[name][0]), SOURCE, RELEASE)
    assert any(f.rule == "delegation" and "miniflow's reference" in f.text
               and "reached by a name the review worked out" in f.text
               for f in review.flags), review.lines()
    assert review.zeroed == {}, review.zeroed


def test_plain_delegation_still_costs_the_exercise_and_reflection_does_not_carry_over():
    plain = _delegating("mf.Linear(X, W, b)")
    assert set(review_submission(with_linear(plain), SOURCE).zeroed) == LINEAR_TESTS
    # Bound by reflection in one cell, called plainly in the solution: shown, not zeroed.
    hidden = nbformat.from_dict(SOURCE)
    hidden.cells.insert(2, nbformat.v4.new_code_cell('_R = mf.__dict__["Lin" + "ear"]'))
    hidden = with_linear(_delegating("_R(X, W, b)"), hidden)
    review = review_submission(hidden, SOURCE)
    assert review.zeroed == {} and any("`_R`, the very code under test, reached by" in f.text
                                       for f in review.flags), review.lines()
    # Bound plainly again: plain delegation once more.
    again = with_linear(_delegating("_R(X, W, b)", "_R = mf.Linear\n"), hidden)
    assert set(review_submission(again, SOURCE).zeroed) == LINEAR_TESTS


def test_the_flag_reads_as_cell_line_and_trick():
    review = review_submission(with_linear(CHEATS["sys_modules_subscript"][0]), SOURCE)
    assert ("linear, line 6: reads sys.modules, which holds every imported module, miniflow "
            "too: `sys.modules['mini' + 'flow']`") in review.lines()
    assert {f.rule for f in review.flags} >= {"obfuscation", "dangerous", "delegation"}


def test_a_flag_names_the_cells_own_line_after_leading_blank_lines():
    # IPython drops leading blank lines before the review parses a cell.
    code = "\n\n   \n# my layer\nimport os\n\nclass Linear(mf.Linear):\n    pass\n"
    lines = review_submission(with_linear(code), SOURCE).lines()
    assert "linear, line 5: imports os" in lines, lines
    assert "linear, line 7: `Linear` inherits miniflow's reference `Linear`" in lines, lines
    broken = review_submission(with_linear("\n\nclass Linear(:\n"), SOURCE)
    assert [(f.rule, f.line) for f in broken.flags] == [("syntax", 3)]


def test_a_long_trick_is_quoted_short():
    code = _delegating("getattr(mf, " + " + ".join(['"x"'] * 400) + ")(X, W, b)")
    review = review_submission(with_linear(code), SOURCE)
    assert review.flags and all(len(f.text) < 400 for f in review.flags), review.lines()


# --- honest code --------------------------------------------------------------------------

NOTEBOOKS = sorted((ROOT / "source").glob("*/*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def test_the_courses_own_solutions_are_not_flagged(path):
    source = nbformat.read(path, as_version=4)
    release = nbformat.read(ROOT / "release" / path.parent.name / path.name, as_version=4)
    assert review_submission(source, source).lines() == []
    assert review_submission(source, source, release).lines() == []


@pytest.mark.parametrize("name", sorted(HONEST))
def test_the_cheating_suites_honest_solutions_are_not_flagged(name):
    notebook = nbformat.from_dict(SOURCE)
    spec = HONEST[name]
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "linear" and "linear" in spec:
            cell.source = spec["linear"]
    last = max(i for i, c in enumerate(notebook.cells)
               if c.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid")
    for code in reversed(spec.get("late", [])):
        notebook.cells.insert(last + 1, nbformat.v4.new_code_cell(code))
    assert review_submission(notebook, SOURCE, RELEASE).lines() == []


HONEST_LINEAR = '''
import functools
import math
import operator
from collections import defaultdict


def _accumulate(grads):
    """Sum a list of gradient arrays."""
    return functools.reduce(operator.add, grads)


class Linear(Node):
    """X @ W + b."""

    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name=name)
        self.label = f"{type(self).__name__}({name or ''})".lower()
        self.cache = self.__dict__.setdefault("cache", {})

    def forward(self):
        X, W, b = (getattr(node, "value") for node in self.inbound_nodes)
        self.value = np.dot(X, W) + b

    def backward(self):
        X, W, b = self.inbound_nodes
        parts = defaultdict(list)
        for consumer in sorted(self.outbound_nodes, key=operator.attrgetter("name")):
            G = getattr(consumer, "gradients", {})[self]
            parts[X].append(G @ W.value.T)
            parts[W].append(X.value.T @ G)
            parts[b].append(G.sum(axis=0))
        self.gradients = {n: _accumulate(parts[n]) if parts[n] else
                          np.zeros_like(getattr(n, "value", None), dtype=float)
                          for n in (X, W, b)}
        for attr in ("value", "gradients"):
            assert getattr(self, attr, None) is not None, attr
        assert math.isfinite(float(np.sum(self.value)))
'''

HONEST_CELLS = [
    '# my saved weights, to compare\nW_saved = np.load("weights.npy")\n'
    'b_saved = np.load("bias.npy", allow_pickle=False)\nprint(W_saved.shape, b_saved.shape)',
    'names = ["X", "W", "b"]\nnodes = {n: Input(n) for n in names}\n'
    'layer = Linear(*nodes.values())\nprint(getattr(layer, "value", None), mf.Input)',
    'import functools\nproduct = functools.reduce(np.matmul, [np.eye(2), np.ones((2, 2))])\n'
    'total = functools.reduce(lambda a, b: a + b, [1, 2, 3], 0)\nprint(product, total)',
    'key = "W"\nprint(nodes[key].name.upper(), "".join(reversed(key)), f"{key}!")',
    # builtin names used as a student's own names
    'vars = ["X", "W", "b"]\nshown = [v.lower() for v in vars]\n\n\n'
    'def describe(nodes, locals=None, compile=False):\n    found = locals or {}\n'
    '    pick = lambda globals: globals.get("name")\n'
    '    return [pick(found) for n in nodes] if compile else nodes\n\n\n'
    'print(describe(vars, locals={"name": 1}))',
]


def test_honest_idioms_are_not_flagged():
    notebook = with_linear(HONEST_LINEAR)
    last = max(i for i, c in enumerate(notebook.cells)
               if c.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid")
    for code in reversed(HONEST_CELLS):
        notebook.cells.insert(last + 1, nbformat.v4.new_code_cell(code))
    assert review_submission(notebook, SOURCE, RELEASE).lines() == []


GIVEN = '''
import importlib, operator, pickle, sys
nodes = importlib.import_module("miniflow" + ".nodes")
assert sys.modules["miniflow"].__dict__["Linear"] is getattr(nodes, "Lin" + "ear")
assert operator.attrgetter("nodes.Linear")(mf) is vars(mf)["Linear"]
exec("x = 1")
_saved = pickle.loads(pickle.dumps(np.load.__name__))
'''


def test_what_the_instructor_gave_may_use_anything():
    source = nbformat.from_dict(SOURCE)
    setup = next(c for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    setup.source += "\n" + GIVEN                      # a locked cell
    source.cells.insert(3, nbformat.v4.new_code_cell("import marshal\n" + GIVEN))  # a plain one
    submitted = nbformat.from_dict(source)
    assert review_submission(submitted, source).lines() == []
    # The same text in a cell the student wrote is flagged.
    submitted.cells.insert(4, nbformat.v4.new_code_cell(GIVEN.replace("x = 1", "y = 2")))
    assert {f.cell for f in review_submission(submitted, source).flags} == {"cell 5"}


def test_a_given_alias_used_by_the_student_is_still_seen():
    # The instructor's cell imports what the student's cell then misuses.
    source = nbformat.from_dict(SOURCE)
    setup = next(c for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    setup.source += "\nimport sys\nfrom pickle import loads\n"
    code = _delegating('sys.modules["miniflow"].Linear(X, W, b)\n        loads(b"")')
    review = review_submission(with_linear(code, source), source)
    texts = " ".join(review.lines())
    assert "reads sys.modules" in texts and "uses pickle" in texts, texts


# --- cost ---------------------------------------------------------------------------------

def _calls(code: str) -> int:
    """Python calls the review makes on a notebook with ``code`` as its solution: a
    measure of its work that a busy machine does not blur, as it does seconds."""
    notebook = with_linear(code)
    profile = cProfile.Profile()
    profile.runcall(review_submission, notebook, SOURCE)
    return pstats.Stats(profile).total_calls  # type: ignore[attr-defined]


@pytest.mark.parametrize("make, small", [
    # many tricks, one a line
    (lambda n: "\n".join(f'x{i} = getattr(__builtins__, "ex" + "ec")(vars(mf)["L"])'
                         for i in range(n)), 1_000),
    # one name folded from many pieces
    (lambda n: "x = getattr(mf, " + " + ".join(['"ab"'] * n) + ")", 1_000),
    # a chain of look-ups, each on what the one before found
    (lambda n: "x = sys.modules" + '.get("miniflow").__dict__.get("nodes")' * (n // 2), 500),
    # a chain of calls, each foldable
    (lambda n: "x = 'a'" + ".lower().upper()" * n, 400),
    # getattr in getattr, as deep as the parser takes brackets, line after line
    (lambda n: "\n".join("x = " + "getattr(" * 150 + "mf" + ', "nodes")' * 150
                         for _ in range(n // 100)), 1_000),
], ids=["lines", "folded", "chain", "methods", "nested"])
def test_the_review_costs_the_code_not_its_square(make, small):
    large = 4 * small
    for size in (small, large):  # imports, caches, IPython's translation of each text
        review = review_submission(with_linear(make(size)), SOURCE)
        assert "unreadable" not in {f.rule for f in review.flags}  # read to the end
    ratio = _calls(make(large)) / _calls(make(small))
    assert ratio < 6, ratio  # linear: 4 at most; a square: about 16
    notebook = with_linear(make(large))
    start = time.perf_counter()
    review_submission(notebook, SOURCE)
    assert time.perf_counter() - start < 60


def test_following_the_tricks_reads_as_deep_as_before():
    # Each subscript and attribute here is looked at for reflection; that must not
    # cost the visitor a frame more per level (READ_DEPTH: 5 frames a pair, as before).
    deep = "x = vars(mf)" + "['nodes'].__dict__" * 3_600
    assert "unreadable" not in {f.rule for f in review_submission(with_linear(deep),
                                                                  SOURCE).flags}
