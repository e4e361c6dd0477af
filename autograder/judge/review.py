"""Static review: read the code a student controls, in the parent, before it runs.

The submitted file cannot change after submission, so what it says is
evidence no kernel can rewrite. Every cell the student controls (solution
cells, and any cell they added or edited, except the locked cells nbgrader
puts back) is parsed, and what a backpropagation exercise never needs is
flagged with its line:

* imports other than numpy, math, miniflow and a few harmless helpers;
* the modules and names that reach into the interpreter or the machine
  (``sys``, ``builtins``, ``gc``, ``ctypes``, ``inspect``, ``importlib``,
  ``os``, ``subprocess``, ``signal``, ``threading``, ``get_ipython``,
  ``exec``, ``eval``, ``compile``, ``__import__``, ``settrace``...);
* changing an imported module (``np.allclose = ...``, ``mf.Linear = ...``)
  or an object's identity (``__module__``, ``__class__``, ``__code__``...);
* **delegation to the reference**: subclassing, aliasing, importing under its
  own name, or calling miniflow's implementation of the exercise under test,
  also when it is reached by a name the review can work out from pieces
  (``getattr(mf, "Lin" + "ear")``, ``mf.__dict__["Linear"]``,
  ``sys.modules["miniflow"]``, ``operator.attrgetter("nodes.Linear")(mf)``,
  ``functools.reduce(getattr, ...)``, ``importlib.import_module("mini" +
  "flow")``...);
* **obfuscated reach** (rule ``obfuscation``): the machinery that reaches
  miniflow, or any code, by names or bytes the review cannot read: a module's
  ``__dict__``, ``vars()`` of a module, ``sys.modules``, ``importlib``,
  ``__import__``, ``getattr`` with a computed name on a module,
  ``operator.attrgetter``/``methodcaller`` aimed at a module or at miniflow's
  names, ``functools.reduce(getattr, ...)``, code run from strings (``exec``,
  ``eval``, ``compile``, however reached), functions built by hand
  (``types.FunctionType``), ``marshal``, and pickles read back (``pickle``,
  ``dill``, ``joblib``, ``copyreg``, ``np.load(..., allow_pickle=True)``);
  a module such as ``sys`` reached through another one's attributes (``warnings.sys``);
* a solution whose code is (nearly) miniflow's own, with how similar.

The review has a budget (``review_within``, what grading uses): it reads at
most ``REVIEW_CHARS`` characters of code, in a process forked for it that is
stopped after ``REVIEW_SECONDS``. A 12 MB notebook once held the grader's own
process for minutes. A review that runs out keeps what it found so far and
adds a flag (rule ``unreviewed``) asking the instructor to read the notebook
by hand; the submission is graded as usual. A normal notebook's review is the
same as without a budget.

Only delegation inside the exercise's own solution cell, naming the
reference plainly (a name, or attributes of one), costs points (its test
cells score zero): there the rule cannot misfire, since a class that
inherits the reference or a function that calls it is the reference.
Delegation reached by reflection is named, and the judge's verdict on what
the code does scores it. The rest is evidence for the instructor: the grade
table, ``grades.csv``, the class report and ``python -m autograder flags``
show it.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import difflib
import functools
import inspect
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import nbformat

__all__ = ["Flag", "Review", "review_submission", "review_within"]

ALLOWED_IMPORTS = {"numpy", "math", "miniflow", "matplotlib", "collections", "itertools",
                   "functools", "typing", "dataclasses", "random", "time", "warnings",
                   "statistics", "fractions", "operator", "__future__"}
DANGEROUS_MODULES = {"sys", "builtins", "gc", "ctypes", "inspect", "importlib", "os",
                     "subprocess", "signal", "threading", "multiprocessing", "socket",
                     "pickle", "_pickle", "marshal", "dill", "joblib", "cloudpickle",
                     "copyreg", "shelve", "shutil", "sqlite3", "types", "code", "codeop",
                     "pty", "resource", "IPython", "ipykernel", "traceback", "weakref",
                     "autograder", "nbgrader", "pathlib", "io", "tempfile", "atexit",
                     "faulthandler", "tracemalloc", "sysconfig", "site", "runpy", "pdb"}
DANGEROUS_CALLS = {"get_ipython", "exec", "eval", "compile", "__import__", "globals",
                   "breakpoint", "settrace", "setprofile", "open", "vars", "delattr"}
IDENTITY = {"__module__", "__class__", "__code__", "__globals__", "__dict__", "__bases__",
            "__qualname__", "__name__", "__builtins__", "__defaults__", "__closure__",
            "__mro__", "__subclasshook__", "__init_subclass__", "__instancecheck__",
            "__subclasscheck__", "__getattribute__"}
SIMILAR = 0.9
# How deep the review may read a cell's syntax tree, in Python frames (a sum of
# 1,000 terms is 1,000 levels; Python's own limit of 1,000 frames stopped the
# whole class's grading at that). A cell deeper than this, or than Python's
# parser takes, cannot be reviewed: it costs every test of the notebook.
READ_DEPTH = 20_000
# Modules the review imports to know what their names stand for (numpy, miniflow,
# and the standard library's harmless ones, where ``warnings.sys`` is found);
# any other module a cell names is only a name (``_Unloaded``).
IMPORTED = frozenset(ALLOWED_IMPORTS)
# Builtins that reach names, modules or code by strings: a bare name not bound
# by the notebook stands for the builtin.
REACHING_BUILTINS = {"getattr", "setattr", "delattr", "vars", "globals", "locals", "exec",
                     "eval", "compile", "__import__", "open", "breakpoint"}
SHADOWABLE = REACHING_BUILTINS | {"__builtins__"}
# What reaches miniflow, or any code, where the review cannot read it (dotted
# name -> the flag's kind and words). Prefixes end with a dot.
MACHINERY = {
    "importlib.": ("import", "imports a module by name at run time"),
    "builtins.__import__": ("import", "imports a module by name at run time"),
    "builtins.exec": ("exec", "runs code from a string"),
    "builtins.eval": ("exec", "runs code from a string"),
    "builtins.compile": ("exec", "compiles code from a string"),
    "builtins.globals": ("names", "reaches variables by name"),
    "builtins.locals": ("names", "reaches variables by name"),
    "builtins.vars": ("names", "reaches variables by name"),
    "types.FunctionType": ("function", "builds a function by hand"),
    "types.LambdaType": ("function", "builds a function by hand"),
    "types.MethodType": ("function", "binds a function by hand"),
    "types.CodeType": ("function", "builds a code object by hand"),
    "builtins.function": ("function", "builds a function by hand"),
    "builtins.code": ("function", "builds a code object by hand"),
    "marshal.": ("marshal", "loads code from bytes with marshal"),
    **{f"{module}.": ("pickle", f"uses {module}: a pickle read back can bring any object, "
                                "miniflow's code included")
       for module in ("pickle", "dill", "joblib", "cloudpickle", "copyreg", "shelve")},
}
# Real modules whose objects carry another module's name (``_pickle.loads``).
SPELT = {"_pickle": "pickle", "_functools": "functools", "_operator": "operator",
         "_imp": "importlib", "_frozen_importlib": "importlib",
         "_frozen_importlib_external": "importlib", "_io": "io"}
LONGEST_NAME = 200  # a folded string longer than this is no attribute name: not folded
FOLD_BUDGET = 64    # syntax nodes one name may be folded from
SHORT = 80          # characters of code quoted in a flag
REACHED = ", reached by a name the review worked out"


# The review's budget per notebook (``review_within``): seconds of wall-clock
# time, and characters of code read (a course notebook has a few tens of
# thousands). $MINIFLOW_REVIEW_SECONDS overrides the time.
REVIEW_SECONDS = float(os.environ.get("MINIFLOW_REVIEW_SECONDS") or 10)
REVIEW_CHARS = 1_000_000


@dataclass(frozen=True)
class Flag:
    cell: str        # grade id of the cell, or "cell N" for a cell without one
    line: int
    rule: str        # import, dangerous, tamper, identity, delegation, obfuscation, copy,
    #                  syntax, unreadable, unreviewed
    text: str
    zero: tuple[str, ...] = ()  # test cells that score 0 because of it

    def __str__(self) -> str:
        return f"{self.cell}, line {self.line}: {self.text}"


@dataclass
class Review:
    flags: list[Flag] = field(default_factory=list)

    @property
    def zeroed(self) -> dict[str, str]:
        """test cell -> why it scores 0."""
        found: dict[str, str] = {}
        for flag in self.flags:
            fix = "Split it into shorter statements." if flag.rule == "unreadable" else \
                "Write it yourself in the solution cell."
            for test in flag.zero:
                found.setdefault(test, f"{flag.text} ({flag.cell}, line {flag.line}); it "
                                       f"scores 0. {fix}")
        return found

    def lines(self) -> list[str]:
        return [str(f) for f in self.flags]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self.flags]


@dataclass(frozen=True)
class _Unloaded:
    """What a name stands for when the review does not import it: ``sys``, ``pickle.loads``."""

    name: str
    module: bool = False  # bound by ``import name``: the module itself


class _Namespace:
    """A mapping from names to what they stand for: ``mf.__dict__``, ``vars(mf)``,
    ``globals()`` (``GLOBALS``), ``sys.modules`` (``MODULES``)."""

    GLOBALS, MODULES = object(), object()

    def __init__(self, owner: Any) -> None:
        self.owner = owner


@dataclass(frozen=True)
class _Getter:
    """``operator.attrgetter(names)`` or ``operator.methodcaller(name, ...)``."""

    kind: str
    names: tuple[str | None, ...]  # the names, or the method's and its arguments (folded)


@dataclass(frozen=True)
class _Text:
    """A string the review could work out, such as ``"Lin" + "ear"``."""

    value: str


def _dotted(obj: Any) -> str:
    """``obj``'s dotted name, ``pickle.loads`` for ``_pickle.loads``; "" when it has none."""
    if isinstance(obj, _Unloaded):
        return obj.name
    if obj is None or isinstance(obj, (_Namespace, _Getter, _Text)):
        return ""
    known = _DOTTED.get(id(obj))
    if known is not None and known[0] is obj:
        return known[1]
    name = _dotted_name(obj)
    if len(_DOTTED) < 4096:  # objects of numpy's, miniflow's...: they live as long as we do
        _DOTTED[id(obj)] = (obj, name)
    return name


_DOTTED: dict[int, tuple[Any, str]] = {}


def _dotted_name(obj: Any) -> str:
    try:
        if inspect.ismodule(obj):
            name = obj.__name__
        else:
            module = getattr(obj, "__module__", None)
            qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
            if not isinstance(module, str) or not isinstance(qualname, str):
                return ""
            name = f"{module}.{qualname}"
    except Exception:  # an object of numpy's or miniflow's that will not say
        return ""
    top, _, rest = name.partition(".")
    return f"{SPELT.get(top, top)}.{rest}" if rest else SPELT.get(top, top)


def _machinery(dotted: str) -> tuple[str, str] | None:
    """(kind, words) when ``dotted`` names machinery of ``MACHINERY``."""
    if dotted in MACHINERY:
        return MACHINERY[dotted]
    top = dotted.split(".")[0]
    found = MACHINERY.get(f"{top}.")
    return found if found is not None and dotted != top else None


def _short(node: ast.AST) -> str:
    """The code of ``node`` to quote in a flag: ``SHORT`` characters at most, read from
    a few dozen syntax nodes at most (nested flags must not cost a square)."""
    for count, _ in enumerate(ast.walk(node)):
        if count > 40:
            return f"{type(node).__name__.lower()} of {count}+ parts"
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= SHORT else text[:SHORT - 1] + "…"


@functools.lru_cache(maxsize=1)
def _miniflow_names() -> frozenset[str]:
    """The names miniflow's modules hold (``Linear``, ``nodes``...)."""
    import miniflow

    names: set[str] = set()
    for module in (miniflow, miniflow.nodes, miniflow.graph, miniflow.training):
        names.update(n for n in vars(module) if not n.startswith("__"))
    return frozenset(names)


@functools.lru_cache(maxsize=1)
def _pickle_loaders() -> dict[int, int]:
    """id(numpy function that can unpickle) -> where ``allow_pickle`` goes by position."""
    import numpy

    return {id(numpy.load): 2, id(numpy.lib.format.read_array): 1}


def _nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@functools.lru_cache(maxsize=4096)
def _python(source: str) -> str:
    """Cell source as plain Python (IPython's %magics and !commands translated).

    Remembered: most cells of a class's submissions are the same text.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _reference(name: str) -> Any:
    """miniflow's own object called ``name`` (in the package or a submodule), or None."""
    # Imported here, not with this module: miniflow imports numpy, whose maths
    # library starts threads, and the grader forks its workers before any review
    # (autograder.run.workers).
    import miniflow

    for module in (miniflow, miniflow.nodes, miniflow.graph, miniflow.training):
        if hasattr(module, name):
            return getattr(module, name)
    return None


def _exercises(source: nbformat.NotebookNode) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """solution grade id -> (reference objects it must not use, the test cells after it)."""
    exercises: dict[str, tuple[dict[str, Any], list[str]]] = {}
    current = None
    for cell in source.cells:
        meta = _nbgrader(cell)
        if meta.get("solution") and cell.cell_type == "code":
            current = meta["grade_id"]
            names = {}
            for node in ast.parse(_python(cell.source)).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    reference = _reference(node.name)
                    if reference is not None:
                        names[node.name] = reference
            exercises[current] = (names, [])
        elif meta.get("grade") and current is not None:
            exercises[current][1].append(meta["grade_id"])
    return exercises


class _Reader(ast.NodeVisitor):
    """Walks one cell, knowing what every imported name stands for."""

    def __init__(self, aliases: dict[str, Any], reached: set[str], label: str, student: bool,
                 exercise: tuple[dict[str, Any], list[str]] | None,
                 all_references: dict[int, tuple[str, list[str]]]) -> None:
        self.aliases = aliases          # name -> module or object (shared across cells)
        self.reached = reached          # names bound by reflection (shared across cells)
        self.label = label
        self.student = student          # only student cells are flagged
        self.exercise = exercise        # set in an exercise's own solution cell
        self.references = all_references  # id(reference) -> (name, its tests)
        self.flags: list[Flag] = []
        # id(node) -> what it stands for: each node is worked out once, so that
        # nested expressions cost their size, not its square. The tree outlives
        # the reader, so no id is reused while it reads.
        self._resolved: dict[int, Any] = {}
        self._named: set[int] = set()  # names already flagged as the call they make
        self._seen: set[tuple[int, str]] = set()  # (line, kind) of obfuscation flags

    def flag(self, node: ast.AST, rule: str, text: str, zero: tuple[str, ...] = ()) -> None:
        if self.student:
            self.flags.append(Flag(self.label, getattr(node, "lineno", 0), rule, text, zero))

    def obfuscation(self, node: ast.AST, kind: str, text: str,
                    quote: ast.AST | None = None) -> None:
        """One flag per kind and line: nested or repeated parts of a trick are one trick.
        ``quote``: the code to show after the text (worked out only for a flag)."""
        key = (getattr(node, "lineno", 0), kind)
        if self.student and key not in self._seen:
            self._seen.add(key)
            self.flag(node, "obfuscation", text + (f": `{_short(quote)}`" if quote else ""))

    # -- what names stand for ------------------------------------------------------

    def resolve(self, node: ast.AST) -> Any:
        """What ``node`` stands for: a module or object the review imported, an
        ``_Unloaded`` name, a ``_Namespace``, a ``_Getter``, a ``_Text``, or None."""
        if type(node) is ast.Name:  # the commonest, and a look-up already
            return self._name(node.id)  # type: ignore[attr-defined]
        key = id(node)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(node)
        return self._resolved[key]

    def _resolve(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Attribute):
            return self._attribute(self.resolve(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            owner = self.resolve(node.value)
            if isinstance(owner, _Namespace):
                return self._entry(owner, self._fold(node.slice))
            text = self._fold(node) if isinstance(owner, _Text) else None
            return _Text(text) if text is not None else None
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, (ast.Constant, ast.BinOp, ast.JoinedStr)):
            text = self._fold(node)
            return _Text(text) if text is not None else None
        return None

    def _name(self, name: str | None) -> Any:
        if name is None or name in self.aliases:  # bound by the notebook (None: to what?)
            return self.aliases.get(name) if name is not None else None
        if name == "__builtins__":
            return _Unloaded("builtins", module=True)
        if name in REACHING_BUILTINS:
            return _Unloaded(f"builtins.{name}")
        return None

    def _attribute(self, owner: Any, name: str | None) -> Any:
        """``getattr(owner, name)`` as far as the review can tell without running anything."""
        if owner is None or name is None:
            return None
        if name == "__dict__" and (self._module_like(owner) or inspect.isclass(owner)):
            return _Namespace(owner)
        if name == "__builtins__" and self._module_like(owner):
            return _Unloaded("builtins", module=True)
        if isinstance(owner, _Unloaded):
            if owner.name == "sys" and name == "modules":
                return _Namespace(_Namespace.MODULES)
            return _Unloaded(f"{owner.name}.{name}")
        if inspect.ismodule(owner) or inspect.isclass(owner):
            found = getattr(owner, name, None)
            return _Namespace(_Namespace.MODULES) if found is sys.modules else found
        return None

    def _entry(self, space: _Namespace, key: str | None) -> Any:
        """``space[key]``."""
        if key is None:
            return None
        if space.owner is _Namespace.GLOBALS:
            return self._name(key)
        if space.owner is _Namespace.MODULES:
            return _module(key)
        if isinstance(space.owner, _Unloaded):
            return _Unloaded(f"{space.owner.name}.{key}")
        try:
            return vars(space.owner).get(key)
        except TypeError:
            return None

    def _call(self, node: ast.Call) -> Any:
        """What a call returns, for the calls that reach names: ``getattr(mf, "Linear")``,
        ``vars(mf)``, ``importlib.import_module("miniflow")``, ``"".join(...)``..."""
        func = self.resolve(node.func)
        args = node.args
        if isinstance(func, _Getter):
            return self._got(func, self.resolve(args[0])) if len(args) == 1 else None
        dotted = _dotted(func)
        if dotted == "builtins.getattr" and len(args) >= 2:
            return self._attribute(self.resolve(args[0]), self._fold(args[1]))
        if dotted in ("builtins.globals", "builtins.locals") or (
                dotted == "builtins.vars" and not args):
            return _Namespace(_Namespace.GLOBALS)
        if dotted == "builtins.vars" and args:
            owner = self.resolve(args[0])
            return _Namespace(owner) if self._module_like(owner) or inspect.isclass(
                owner) else None
        if dotted in ("builtins.__import__", "importlib.__import__") and args:
            name = self._fold(args[0])
            listed = len(args) >= 4 or any(k.arg == "fromlist" for k in node.keywords)
            return _module(name if listed or name is None else name.split(".")[0])
        if dotted == "importlib.import_module" and args:
            return _module(self._fold(args[0]))
        if dotted in ("operator.attrgetter", "operator.methodcaller") and args:
            kind = dotted.split(".")[1]
            return _Getter(kind, tuple(self._fold(a) for a in args[:16]))
        if dotted == "functools.reduce" and len(args) == 3 and _dotted(
                self.resolve(args[0])) == "builtins.getattr" and isinstance(
                args[1], (ast.List, ast.Tuple)) and len(args[1].elts) <= 16:
            found = self.resolve(args[2])
            for element in args[1].elts:
                found = self._attribute(found, self._fold(element))
            return found
        if isinstance(node.func, ast.Attribute) and args:
            owner = self.resolve(node.func.value)
            method = node.func.attr
            if method in ("get", "__getitem__", "setdefault", "pop") and isinstance(
                    owner, _Namespace):
                return self._entry(owner, self._fold(args[0]))
            if method == "__getattribute__":
                if self._module_like(owner):
                    return self._attribute(owner, self._fold(args[0]))
                if len(args) >= 2:
                    return self._attribute(self.resolve(args[0]), self._fold(args[1]))
        text = self._fold(node)
        return _Text(text) if text is not None else None

    def _got(self, getter: _Getter, owner: Any) -> Any:
        """``attrgetter(names)(owner)``, ``methodcaller("__getattribute__", name)(owner)``."""
        names = getter.names
        if getter.kind == "attrgetter" and len(names) == 1 and names[0]:
            for part in names[0].split("."):
                owner = self._attribute(owner, part)
            return owner
        if getter.kind == "methodcaller" and len(names) == 2:
            if names[0] in ("__getattribute__", "__getattr__"):
                return self._attribute(owner, names[1])
            if names[0] in ("get", "__getitem__") and isinstance(owner, _Namespace):
                return self._entry(owner, names[1])
        return None

    def _fold(self, node: ast.AST, budget: list[int] | None = None) -> str | None:
        """The string ``node`` always makes (``"Lin" + "ear"``, ``"".join([...])``,
        ``f"{a}{b}"`` of such strings, a name bound to one), or None: ``FOLD_BUDGET``
        syntax nodes at most, ``LONGEST_NAME`` characters at most."""
        budget = [FOLD_BUDGET] if budget is None else budget
        budget[0] -= 1
        if budget[0] < 0:
            return None
        text: str | None = None
        if isinstance(node, ast.Constant):
            text = node.value if isinstance(node.value, str) else None
        elif isinstance(node, ast.Name):
            found = self.resolve(node)
            text = found.value if isinstance(found, _Text) else None
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self._fold(node.left, budget)
            right = self._fold(node.right, budget) if left is not None else None
            text = left + right if right is not None else None
        elif isinstance(node, ast.JoinedStr):
            parts = [self._fold(v.value if isinstance(v, ast.FormattedValue) and
                                v.conversion in (-1, 115) and v.format_spec is None else v,
                                budget) for v in node.values]
            text = "".join(parts) if None not in parts else None  # type: ignore[arg-type]
        elif isinstance(node, ast.Subscript):
            text = self._sliced(self._fold(node.value, budget), node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                not node.keywords:
            text = self._method(node, budget)
        return text if text is None or len(text) <= LONGEST_NAME else None

    def _method(self, node: ast.Call, budget: list[int]) -> str | None:
        """``sep.join([...])``, ``s.lower()``, ``s.replace(a, b)``... of folded strings."""
        method, args = node.func.attr, node.args  # type: ignore[attr-defined]
        if method == "join" and len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple)):
            parts = [self._fold(e, budget) for e in args[0].elts]
            sep = self._fold(node.func.value, budget)  # type: ignore[attr-defined]
            return sep.join(parts) if sep is not None and None not in parts else None  # type: ignore[arg-type]
        own = self._fold(node.func.value, budget)  # type: ignore[attr-defined]
        if own is None:
            return None
        if method in ("lower", "upper", "strip", "lstrip", "rstrip", "title", "capitalize",
                      "casefold", "swapcase") and not args:
            return getattr(own, method)()
        if method == "replace" and len(args) == 2:
            old, new = self._fold(args[0], budget), self._fold(args[1], budget)
            if old and new is not None and len(own) * (len(new) + 1) <= 4 * LONGEST_NAME ** 2:
                return own.replace(old, new)
        return None

    @staticmethod
    def _sliced(text: str | None, index: ast.AST) -> str | None:
        """``text[index]`` for constant indices and slices."""
        def number(part: ast.AST | None) -> int | None | bool:
            if part is None:
                return None
            if isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.USub) and isinstance(
                    part.operand, ast.Constant) and type(part.operand.value) is int:
                return -part.operand.value
            if isinstance(part, ast.Constant) and type(part.value) is int:
                return part.value
            return False  # not a constant

        if text is None:
            return None
        if isinstance(index, ast.Slice):
            bounds = [number(index.lower), number(index.upper), number(index.step)]
            if False in bounds or bounds[2] == 0:
                return None
            return text[slice(*bounds)]
        at = number(index)
        return text[at] if isinstance(at, int) and not isinstance(at, bool) and \
            -len(text) <= at < len(text) else None

    def _plain(self, node: ast.AST) -> bool:
        """``node`` says what it stands for plainly: a name, or attributes of one, bound
        without reflection. Delegation that plain costs its exercise's tests; reached by
        names worked out from strings, dicts or getters, it is shown."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id not in self.reached

    def _module_like(self, obj: Any) -> bool:
        return inspect.ismodule(obj) or (isinstance(obj, _Unloaded) and obj.module)

    def _is_module(self, node: ast.AST) -> bool:
        return self._module_like(self.resolve(node))

    def _space(self, node: ast.AST) -> str | None:
        """How a flag names ``node`` when it is a module or a namespace, or None."""
        found = self.resolve(node)
        if self._module_like(found):
            return f"the module {_short(node)}"
        if isinstance(found, _Namespace):
            return f"the namespace {_short(node)}"
        return None

    def _under_test(self, obj: Any) -> tuple[str, list[str]] | None:
        """(name, tests) when ``obj`` is, or is a method of, a reference under test."""
        if obj is None:
            return None
        found = self.references.get(id(obj))
        if found is None and hasattr(obj, "__qualname__") and "." in obj.__qualname__:
            owner = _reference(obj.__qualname__.split(".")[0])
            if owner is not None and getattr(owner, obj.__name__, None) is obj:
                found = self.references.get(id(owner))
        return found

    # -- imports -----------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)
            bound = alias.asname or alias.name.split(".")[0]
            self.aliases[bound] = _module(alias.name if alias.asname else bound)
            self.reached.discard(bound)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        name = node.module or ""
        self._check_module(node, name)
        module = _import(name)
        for alias in node.names:
            obj = getattr(module, alias.name, None) if module is not None else None
            if obj is None:
                obj = _import(f"{name}.{alias.name}")
            if obj is None and name and not node.level and name.split(".")[0] not in IMPORTED:
                obj = _Unloaded(f"{name}.{alias.name}")  # pickle.loads, importlib.import_module
            bound = alias.asname or alias.name
            under_test = self._under_test(obj)
            if under_test and self.exercise and bound in self.exercise[0]:
                self.flag(node, "delegation", f"imports miniflow's reference `{alias.name}` "
                          f"as the exercise's own `{bound}`", tuple(under_test[1]))
            self.aliases[bound] = obj
            self.reached.discard(bound)

    def _check_module(self, node: ast.AST, name: str) -> None:
        top = name.split(".")[0]
        if top in DANGEROUS_MODULES:
            self.flag(node, "dangerous", f"imports {name}")
        elif top not in ALLOWED_IMPORTS:
            self.flag(node, "import", f"imports {name}, which the exercises do not need")

    # -- definitions -------------------------------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in [*node.bases, *(k.value for k in node.keywords)]:
            obj = self.resolve(base)
            under_test = self._under_test(obj)
            if under_test is not None:
                plain = self._plain(base)
                zero = tuple(under_test[1]) if self.exercise and node.name in \
                    self.exercise[0] and plain else ()
                self.flag(node, "delegation", f"`{node.name}` inherits miniflow's reference "
                          f"`{under_test[0]}`" + ("" if plain else REACHED), zero)
        for keyword in node.keywords:
            if keyword.arg == "metaclass":
                self.flag(node, "identity", f"`{node.name}` has a metaclass")
        self.generic_visit(node)
        self.aliases[node.name] = None  # the student's own class from here on
        self.reached.discard(node.name)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._with_parameters(node)
        self.aliases[node.name] = None
        self.reached.discard(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._with_parameters(node)

    def _with_parameters(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        """Visit a function, where a parameter such as ``vars`` is no builtin."""
        given = node.args
        shadowed = {a.arg for a in (*given.posonlyargs, *given.args, *given.kwonlyargs,
                                    given.vararg, given.kwarg) if a is not None} & SHADOWABLE
        saved = {name: self.aliases[name] for name in shadowed if name in self.aliases}
        for name in shadowed:
            self.aliases[name] = None
        self.generic_visit(node)
        for name in shadowed:
            if name in saved:
                self.aliases[name] = saved[name]
            else:
                self.aliases.pop(name, None)

    # -- calls and changes -------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else \
            node.func.attr if isinstance(node.func, ast.Attribute) else ""
        obj = self.resolve(node.func)
        if self._called_by_name(node):
            on = self._space(node.args[0]) if name == "vars" and node.args else None
            self.flag(node, "dangerous", f"calls {name}()" + (f" on {on}" if on else ""))
            self._named.add(id(node.func))
        elif name in ("settrace", "setprofile"):
            self.flag(node, "dangerous", f"calls {name}()")
        dotted = _dotted(obj)
        if dotted in ("builtins.getattr", "builtins.setattr"):
            name = dotted.split(".")[1]
        if name in ("setattr", "getattr") and node.args and self._is_module(node.args[0]):
            computed = len(node.args) > 1 and not (isinstance(node.args[1], ast.Constant) and
                                                   isinstance(node.args[1].value, str))
            self.flag(node, "tamper" if name == "setattr" else "dangerous",
                      f"{name}() on the module {_short(node.args[0])}" + (
                          f" with a computed name `{_short(node.args[1])}`" if computed else ""))
        if self.student:
            self._reflection(node, obj, dotted)
        if isinstance(obj, _Getter) and obj.kind == "methodcaller" and node.args:
            # methodcaller("Linear", X, W, b)(mf) calls mf.Linear
            obj = self._attribute(self.resolve(node.args[0]), obj.names[0])
        under_test = self._under_test(obj)
        if under_test is not None:
            # Its own solution calling the reference is the reference (zero); a cell
            # the student added may be comparing with it (shown); a later exercise
            # building on an earlier one's reference is what the notebooks teach.
            # Reached by reflection, it is shown, and the judge's verdict scores it.
            plain = self._plain(node.func)
            if self.exercise is not None and under_test[0] in self.exercise[0]:
                self.flag(node, "delegation", f"calls miniflow's reference "
                          f"`{_short(node.func)}`, the very code under test" + (
                              "" if plain else REACHED), tuple(under_test[1]) if plain else ())
            elif self.exercise is None:
                self.flag(node, "delegation", f"calls miniflow's reference "
                          f"`{_short(node.func)}` outside its solution cell" + (
                              "" if plain else REACHED))
        self._reach(node.func, quote=node)
        if isinstance(node.func, ast.Attribute):
            self._reach(node.func.value, quote=node)
        self._reach(node)
        self.generic_visit(node)

    def _called_by_name(self, node: ast.Call) -> str | None:
        """The name of a call in ``DANGEROUS_CALLS``, flagged as such (``calls exec()``)."""
        name = node.func.id if isinstance(node.func, ast.Name) else \
            node.func.attr if isinstance(node.func, ast.Attribute) else ""
        if name not in DANGEROUS_CALLS:
            return None
        obj = self.resolve(node.func)
        known = obj is not None and not isinstance(obj, (_Unloaded, _Namespace, _Getter, _Text))
        return None if known else name

    def _reflection(self, node: ast.Call, func: Any, dotted: str) -> None:
        """Flag a call that reaches attributes or objects by strings (student cells only)."""
        args = node.args
        if isinstance(node.func, ast.Attribute) and node.func.attr in (
                "__getattribute__", "__getattr__"):
            owner = self._space(node.func.value) or (self._space(args[0]) if args else None)
            if owner:
                self.obfuscation(node, "getattribute", f"calls {node.func.attr} on {owner}",
                                 node)
        if dotted in ("operator.attrgetter", "operator.methodcaller"):
            names = args if dotted.endswith("attrgetter") else args[:1]
            odd = next((n for n in names if self._odd_name(n)), None)
            if odd is not None:
                self.obfuscation(node, "getter", f"reaches attributes by name with {dotted}, "
                                 f"naming `{_short(odd)}`", node)
        if isinstance(func, _Getter) and args and (on := self._space(args[0])):
            self.obfuscation(node, "getter", f"applies operator.{func.kind} to {on}", node)
        if dotted == "functools.reduce" and args and self._walks(args[0], args[2:3]):
            self.obfuscation(node, "reduce", "walks attribute names with functools.reduce",
                             node)
        position = _pickle_loaders().get(id(func)) if func is not None else None
        if position is not None and self._pickles(node, position):
            self.obfuscation(node, "pickle", "np.load with allow_pickle reads a pickle back, "
                             "which can bring any object, miniflow's code included", node)
        machinery = _machinery(dotted) if id(node.func) not in self._named else None
        if machinery is not None:
            self.obfuscation(node, machinery[0], machinery[1], node)

    def _odd_name(self, node: ast.AST) -> bool:
        """A name for attrgetter or methodcaller that honest code would not give it."""
        name = self._fold(node)
        if name is None:
            return True  # computed
        parts = name.split(".")
        return any(p.startswith("__") or p in _miniflow_names() for p in parts)

    def _walks(self, function: ast.AST, start: list[ast.expr]) -> bool:
        """``reduce(function, names, start)`` looks attributes up one by one."""
        if start and self._space(start[0]):
            return True
        if _dotted(self.resolve(function)) in ("builtins.getattr", "operator.attrgetter",
                                               "operator.methodcaller", "operator.getitem"):
            return True
        if isinstance(function, ast.Lambda):
            for count, inner in enumerate(ast.walk(function)):
                if count > 100:
                    return True  # a lambda that long, folding names: worth a look
                if isinstance(inner, ast.Name) and inner.id == "getattr" or isinstance(
                        inner, ast.Attribute) and inner.attr == "__getattribute__":
                    return True
        return False

    @staticmethod
    def _pickles(node: ast.Call, position: int) -> bool:
        """np.load(...) that may unpickle: allow_pickle given, and not as a false constant."""
        given = [k.value for k in node.keywords if k.arg == "allow_pickle"]
        if len(node.args) > position:
            given.append(node.args[position])
        if any(k.arg is None for k in node.keywords) or any(
                isinstance(a, ast.Starred) for a in node.args[:position + 1]):
            return True  # **options or *args: it may be in there
        return any(not (isinstance(v, ast.Constant) and not v.value) for v in given)

    def _reach(self, node: ast.AST, quote: ast.AST | None = None) -> None:
        """Flag ``node`` when it stands for machinery that reaches code by names or bytes,
        quoting ``quote`` (the call or subscript around it), or ``node`` itself."""
        if not self.student:
            return
        found = self.resolve(node)
        if found is None or isinstance(found, (_Text, _Getter)) or id(node) in self._named or \
                isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del)) or (
                isinstance(node, ast.Call) and self._called_by_name(node)):
            return
        what: tuple[str, str] | None = None
        if isinstance(found, _Namespace):
            if found.owner is _Namespace.MODULES:
                what = ("modules", "reads sys.modules, which holds every imported module, "
                                   "miniflow too")
            elif found.owner is _Namespace.GLOBALS:
                what = ("names", "reaches variables by name")
            elif inspect.isclass(found.owner):
                what = ("namespace", f"reads the attributes of the library class "
                                     f"{_dotted(found.owner)} as a dict")
            else:
                what = ("namespace", f"reads the namespace of the module "
                                     f"{_dotted(found.owner)} as a dict")
        elif inspect.ismodule(found):
            if not isinstance(node, ast.Name) and found.__name__.split(".")[0] not in \
                    ALLOWED_IMPORTS:
                what = ("reach", f"reaches the module {found.__name__} without importing it")
                quote = node  # the way there, not what is done with it
        elif not (isinstance(found, _Unloaded) and found.module):
            what = _machinery(_dotted(found))
        if what is not None:
            self.obfuscation(node, what[0], what[1], quote or node)

    def _assigned(self, target: ast.AST, value: ast.AST | None, node: ast.AST) -> None:
        if isinstance(target, ast.Attribute):
            owner = self.resolve(target.value)
            if target.attr in IDENTITY:
                self.flag(node, "identity", f"sets {ast.unparse(target)}")
            elif self._module_like(owner):
                self.flag(node, "tamper", f"replaces {_short(target)} in an imported "
                          "module")
            elif inspect.isclass(owner) and getattr(owner, "__module__", "").split(".")[0] in (
                    "numpy", "miniflow", "builtins", "math"):
                self.flag(node, "tamper", f"changes the library class "
                          f"{ast.unparse(target.value)} ({target.attr})")
        elif isinstance(target, ast.Name):
            obj = self.resolve(value) if value is not None else None
            plain = value is None or self._plain(value)
            under_test = self._under_test(obj)
            if under_test is not None and self.exercise is not None \
                    and target.id in self.exercise[0]:
                self.flag(node, "delegation", f"`{target.id}` is miniflow's reference "
                          f"`{under_test[0]}` under another name" + ("" if plain else REACHED),
                          tuple(under_test[1]) if plain else ())
            elif under_test is not None:
                self.flag(node, "delegation", f"`{target.id}` is miniflow's reference "
                          f"`{under_test[0]}`" + ("" if plain else REACHED))
            self.aliases[target.id] = obj  # None: bound to what the review cannot tell
            if plain:
                self.reached.discard(target.id)
            else:
                self.reached.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._assigned(element, None, node)
        elif isinstance(target, ast.Subscript) and (self._is_module(target.value) or isinstance(
                self.resolve(target.value), _Namespace)):
            self.flag(node, "tamper", f"changes {_short(target)}")

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        for target in node.targets:
            self._assigned(target, node.value, node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.generic_visit(node)
        self._assigned(node.target, node.value, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.generic_visit(node)
        self._assigned(node.target, None, node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Attribute) and self._is_module(target.value):
                self.flag(node, "tamper", f"deletes {ast.unparse(target)}")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in ("settrace", "setprofile", "_getframe", "__subclasses__",
                         "f_locals", "f_globals", "f_back", "__builtins__", "__globals__",
                         "__code__", "__loader__", "__spec__"):
            self.flag(node, "dangerous", f"uses {_short(node)}")
        self._reach(node)
        self.generic_visit(node)

    def visit(self, node: ast.AST) -> Any:
        # Subscripts are looked at here, not in a visit_Subscript: a frame more for
        # each of them would make ``x[0][0]...`` unreadable sooner (READ_DEPTH).
        if type(node) is ast.Subscript:
            self._reach(node)
            self._reach(node.value, quote=node)  # type: ignore[attr-defined]
        return getattr(self, "visit_" + node.__class__.__name__, self.generic_visit)(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ("__builtins__", "In", "_ih", "Out", "_oh") and isinstance(
                node.ctx, ast.Load):
            self.flag(node, "dangerous", f"uses {node.id}")
        if not isinstance(node.ctx, ast.Load) and node.id in SHADOWABLE:
            self.aliases.setdefault(node.id, None)  # `for vars in ...`: no builtin from here
        self._reach(node)


def _module(name: str | None) -> Any:
    """The module ``import name`` binds: imported for ``IMPORTED``, else ``_Unloaded``."""
    if not name or name.startswith(".") or not all(p.isidentifier() for p in name.split(".")):
        return None
    if name.split(".")[0] in IMPORTED:
        return _import(name)
    return _Unloaded(name, module=True)


def _import(name: str) -> Any:
    import importlib

    if not name:
        return None
    top = name.split(".")[0]
    if top not in IMPORTED:
        return None  # never import what a student names, just to read it
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _normalised(code: str) -> list[str]:
    """The shape of some code: its AST without docstrings, names or constants."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant) and isinstance(
                body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    tokens = []
    for node in ast.walk(tree):
        tokens.append(type(node).__name__)
        if isinstance(node, ast.Attribute):
            tokens.append(node.attr)
    return tokens


@functools.lru_cache(maxsize=256)
def _reference_tokens(reference: Any) -> tuple[str, ...]:
    """``_normalised`` of a miniflow object's source: read once per process, not per student."""
    return tuple(_normalised(inspect.getsource(reference)))


def _similarity(student: ast.AST, reference: Any) -> float:
    try:
        theirs = _normalised(ast.unparse(student))
        ours = list(_reference_tokens(reference))
    except (OSError, TypeError, SyntaxError):
        return 0.0
    return difflib.SequenceMatcher(None, theirs, ours, autojunk=False).ratio()


def _is_student_cell(cell: nbformat.NotebookNode, source: dict[str, nbformat.NotebookNode],
                     instructor_text: set[str]) -> bool:
    meta = _nbgrader(cell)
    original = source.get(meta.get("grade_id", ""))
    if original is not None:
        theirs = _nbgrader(original)
        if theirs.get("solution"):
            return True
        if theirs.get("locked") or theirs.get("grade"):
            return False  # nbgrader puts the instructor's text back before it runs
    return cell.source.strip() not in instructor_text


def _stopped(label: str, why: str) -> Flag:
    return Flag(label, 1, "unreviewed", f"the static review stopped {why} (the notebook's code "
                "is unusually large): review it by hand")


_warmed: dict[int, nbformat.NotebookNode] = {}


def _send_review(out: Any, submitted: nbformat.NotebookNode, source: nbformat.NotebookNode,
                 release: nbformat.NotebookNode | None, max_chars: int) -> None:
    """Review, writing each cell's flags to ``out`` as a JSON line, then ``"done"``."""
    def send(message: Any) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    try:
        review_submission(submitted, source, release, max_chars=max_chars,
                          on_cell=lambda label, flags: send(
                              [label, flags and [asdict(f) for f in flags]]))
        send("done")
    except BaseException as error:  # noqa: BLE001 - told to the parent
        send({"error": f"{type(error).__name__}: {error}"[:500]})


def _forked_review(submitted: nbformat.NotebookNode, source: nbformat.NotebookNode,
                   release: nbformat.NotebookNode | None, max_chars: int) -> tuple[int, Any]:
    """A child forked to review: its output's descriptor, and how to stop and reap it."""
    if id(source) not in _warmed:
        # What a review imports and caches, here, once: a child's would be lost.
        review_submission(source, source, release)
        _warmed[id(source)] = source  # kept: an id is unique while its object lives
    readable, writable = os.pipe()
    sys.stdout.flush()  # or the child would write what is buffered here again
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: review, then exit without running the parent's exit handlers
        code = 0
        try:
            os.close(readable)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            with os.fdopen(writable, "w") as out:
                _send_review(out, submitted, source, release, max_chars)
        except BaseException:  # noqa: BLE001 - a forked child must never return
            code = 1
        finally:
            os._exit(code)
    os.close(writable)

    def stop(kill: bool) -> None:
        os.close(readable)
        if kill:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    return readable, stop


class _ReviewServer:
    """A Python process of its own that reviews notebook after notebook
    (``python -m autograder.judge.review``), for a grader running other threads (a
    Dask client), where forking is unsafe: a lock another thread holds would
    stay held in the child. It is started once and reused (what a review
    imports is then already there); killed when a review runs out of time,
    and started again for the next."""

    current: _ReviewServer | None = None

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.judge.review"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        atexit.register(self.close)

    @classmethod
    def review(cls, submitted: nbformat.NotebookNode, source: nbformat.NotebookNode,
               release: nbformat.NotebookNode | None, max_chars: int) -> tuple[int, Any]:
        """Hand one review to the server: its output's descriptor, and how to end the review."""
        server = cls._ask([[submitted, source, release], max_chars])
        assert server.process.stdout is not None

        def stop(kill: bool) -> None:
            if kill:  # out of time, or gone: the next review starts a new server
                server.close()
                if cls.current is server:
                    cls.current = None

        return server.process.stdout.fileno(), stop

    @classmethod
    def warm(cls, source: nbformat.NotebookNode,
             release: nbformat.NotebookNode | None) -> None:
        """Start the server now, and have it review ``source`` once, answering nothing:
        what reviews import is then loaded while the grader does other work."""
        cls._ask([[source, source, release], None])

    @classmethod
    def _ask(cls, request: list) -> _ReviewServer:
        """Send one request line to the running server (started if there is none)."""
        if cls.current is None or cls.current.process.poll() is not None:
            cls.current = cls()
        server = cls.current
        assert server.process.stdin is not None
        # one line per request; the server reads all of it before it answers. If
        # it died, the empty read that follows says so.
        with contextlib.suppress(BrokenPipeError):
            server.process.stdin.write(json.dumps(request).encode() + b"\n")
            server.process.stdin.flush()
        return server

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream and stream.close()


def _serve() -> None:
    """``python -m autograder.judge.review``: review each request read from stdin.

    (The other end is ``_ReviewServer``.)
    """
    # The answers go to the descriptor stdout was; anything else that prints
    # (a library's warning) goes to stderr, never into the answers.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        (submitted, source, release), max_chars = json.loads(line)
        notebooks = [nbformat.from_dict(notebook) if notebook is not None else None
                     for notebook in (submitted, source, release)]
        if max_chars is None:  # warming up (_ReviewServer.warm): no answer
            with contextlib.suppress(Exception):
                review_submission(*notebooks)
            continue
        _send_review(out, *notebooks, max_chars)


def start_review_server(notebooks: Iterable[tuple[nbformat.NotebookNode,
                                                  nbformat.NotebookNode | None]]) -> None:
    """Start the review server ahead of the first review, for a grader about to
    run other threads (a Dask client); ``notebooks``: (source, release) pairs."""
    for source, release in notebooks:
        _ReviewServer.warm(source, release)


def review_within(submitted: nbformat.NotebookNode, source: nbformat.NotebookNode,
                  release: nbformat.NotebookNode | None = None, *,
                  seconds: float | None = None, max_chars: int | None = None) -> Review:
    """``review_submission`` with a budget: ``seconds`` (``REVIEW_SECONDS``) and
    ``max_chars`` characters of code (``REVIEW_CHARS``).

    The review runs in a process of its own, which sends each cell's flags
    as it goes and is killed when its time is up: the flags found so far are
    kept, with an ``unreviewed`` flag for the instructor. A process running
    only this thread forks it (cheap: what the review imports is already
    here); one running other threads (a Dask client) hands it to a review
    server, a Python process of its own kept for the next review.
    """
    seconds = REVIEW_SECONDS if seconds is None else seconds
    max_chars = REVIEW_CHARS if max_chars is None else max_chars
    start = _ReviewServer.review if threading.active_count() > 1 else _forked_review
    readable, stop = start(submitted, source, release, max_chars)
    review, label, outcome = Review(), "cell 1", None
    deadline = time.monotonic() + seconds
    pending = b""
    try:
        while outcome is None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([readable], [], [], left)[0]:
                outcome = "time"
                break
            chunk = os.read(readable, 1 << 16)
            if not chunk:
                outcome = {"error": "the review's process ended without an answer"}
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if isinstance(message, list):  # a cell started (None), or its flags
                    label = message[0]
                    review.flags += [Flag(**{**f, "zero": tuple(f["zero"])})
                                     for f in message[1] or []]
                else:
                    outcome = message
                    break
    finally:
        stop(outcome != "done")
    if outcome == "time":
        review.flags.append(_stopped(label, f"after {seconds:g} s"))
    elif isinstance(outcome, dict):
        raise RuntimeError(f"the static review failed: {outcome['error']}")
    return review


def review_submission(submitted: nbformat.NotebookNode, source: nbformat.NotebookNode,
                      release: nbformat.NotebookNode | None = None, *,
                      max_chars: int | None = None,
                      on_cell: Any = None) -> Review:
    """Flag what the student's own cells do, with line numbers (see the module doc).

    ``max_chars``: stop (with an ``unreviewed`` flag) before the cell that
    would take the code read past this many characters. ``on_cell(label,
    flags)``: called as each code cell starts (flags None) and after it, with
    the flags it added.
    """
    exercises = _exercises(source)
    references: dict[int, tuple[str, list[str]]] = {}
    for names, tests in exercises.values():
        for name, obj in names.items():
            references[id(obj)] = (name, tests)
    by_id = {_nbgrader(c)["grade_id"]: c for c in source.cells if "grade_id" in _nbgrader(c)}
    instructor_text = {c.source.strip() for c in (release or source).cells}
    review = Review()
    aliases: dict[str, Any] = {}
    reached: set[str] = set()
    read = 0
    for number, cell in enumerate(submitted.cells, start=1):
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id", "")
        original = by_id.get(grade_id)
        student = _is_student_cell(cell, by_id, instructor_text)
        text = cell.source if student or original is None else original.source
        label = grade_id or f"cell {number}"
        if on_cell is not None:
            on_cell(label, None)  # starting it
        read += len(text)
        if max_chars is not None and read > max_chars:
            review.flags.append(_stopped(label, f"at this cell, after {max_chars:,} "
                                         "characters of code"))
            if on_cell is not None:
                on_cell(label, review.flags[-1:])
            break
        before = len(review.flags)
        exercise = exercises.get(grade_id) if student and original is not None and \
            _nbgrader(original).get("solution") else None
        try:
            with _deep_enough():
                _review_cell(review, text, label, student, exercise, aliases, reached,
                             references)
        except SyntaxError as error:
            if student:
                review.flags.append(Flag(label, error.lineno or 0, "syntax",
                                         "does not parse as Python"))
        except (RecursionError, MemoryError):
            # Unread, it could hide what the review looks for (an import of the
            # reference, an alias later cells use): no test can count.
            review.flags.append(Flag(
                label, 1, "unreadable", "the code is nested too deeply for the grader to read (an "
                "expression of thousands of terms?)",
                tuple(t for _, tests in exercises.values() for t in tests)))
        if on_cell is not None:
            on_cell(label, review.flags[before:])
    return review


def _review_cell(review: Review, text: str, label: str, student: bool,
                 exercise: tuple[dict[str, Any], list[str]] | None, aliases: dict[str, Any],
                 reached: set[str], references: dict[int, tuple[str, list[str]]]) -> None:
    # IPython drops a cell's leading blank lines: count them back, so that a flag's
    # line is the line of the cell the student sees.
    lines = text.splitlines()
    blank = next((n for n, line in enumerate(lines) if line.strip()), 0)
    try:
        tree = ast.parse(_python(text))
    except SyntaxError as error:
        if error.lineno:
            error.lineno += blank
        raise
    if blank:
        ast.increment_lineno(tree, blank)
    reader = _Reader(aliases, reached, label, student, exercise, references)
    reader.visit(tree)
    review.flags += reader.flags
    if exercise is not None:
        for node in tree.body:
            name = getattr(node, "name", None)
            if name in exercise[0]:
                similar = _similarity(node, exercise[0][name])
                if similar >= SIMILAR:
                    review.flags.append(Flag(label, node.lineno, "copy",
                                             f"`{name}` is {similar:.0%} like miniflow's "
                                             "own code"))


@contextmanager
def _deep_enough() -> Iterator[None]:
    """Python's frame limit raised to ``READ_DEPTH`` while a cell is read."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, READ_DEPTH))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


if __name__ == "__main__":
    _serve()
