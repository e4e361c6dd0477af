"""What a name in a notebook's cell stands for, worked out without running the cell.

The review imports numpy, miniflow and the harmless standard modules of
``ALLOWED_IMPORTS`` to know what their names are; any other module a cell
names stays a name (``Unloaded``). Names reached by reflection are followed
as far as strings can be worked out (``"Lin" + "ear"``: ``Text``), through
namespaces (``mf.__dict__``, ``vars()``, ``sys.modules``: ``Namespace``) and
getters (``operator.attrgetter``: ``Getter``). ``Resolver`` does this for the
rules of ``autograder.judge.review.reader``.
"""

from __future__ import annotations

import ast
import inspect
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["ALLOWED_IMPORTS", "IMPORTED", "REACHING_BUILTINS", "Getter", "Namespace", "Resolver",
           "Text", "Unloaded", "dotted_of", "import_known", "module_named", "reference_named",
           "short"]

ALLOWED_IMPORTS = {"numpy", "math", "miniflow", "matplotlib", "collections", "itertools",
                   "functools", "typing", "dataclasses", "random", "time", "warnings",
                   "statistics", "fractions", "operator", "__future__"}
# Modules the review imports to know what their names stand for (numpy, miniflow,
# and the standard library's harmless ones, where ``warnings.sys`` is found);
# any other module a cell names is only a name (``Unloaded``).
IMPORTED = frozenset(ALLOWED_IMPORTS)
# Builtins that reach names, modules or code by strings: a bare name not bound
# by the notebook stands for the builtin.
REACHING_BUILTINS = {"getattr", "setattr", "delattr", "vars", "globals", "locals", "exec",
                     "eval", "compile", "__import__", "open", "breakpoint"}
# Real modules whose objects carry another module's name (``_pickle.loads``).
SPELT = {"_pickle": "pickle", "_functools": "functools", "_operator": "operator",
         "_imp": "importlib", "_frozen_importlib": "importlib",
         "_frozen_importlib_external": "importlib", "_io": "io"}
LONGEST_NAME = 200  # a folded string longer than this is no attribute name: not folded
FOLD_BUDGET = 64    # syntax nodes one name may be folded from
SHORT = 80          # characters of code quoted in a flag


@dataclass(frozen=True)
class Unloaded:
    """What a name stands for when the review does not import it: ``sys``, ``pickle.loads``."""

    name: str
    module: bool = False  # bound by ``import name``: the module itself


class Namespace:
    """A mapping from names to what they stand for: ``mf.__dict__``, ``vars(mf)``,
    ``globals()`` (``GLOBALS``), ``sys.modules`` (``MODULES``)."""

    GLOBALS, MODULES = object(), object()

    def __init__(self, owner: Any) -> None:
        self.owner = owner


@dataclass(frozen=True)
class Getter:
    """``operator.attrgetter(names)`` or ``operator.methodcaller(name, ...)``."""

    kind: str
    names: tuple[str | None, ...]  # the names, or the method's and its arguments (folded)


@dataclass(frozen=True)
class Text:
    """A string the review could work out, such as ``"Lin" + "ear"``."""

    value: str


def dotted_of(obj: Any) -> str:
    """``obj``'s dotted name, ``pickle.loads`` for ``_pickle.loads``; "" when it has none."""
    if isinstance(obj, Unloaded):
        return obj.name
    if obj is None or isinstance(obj, (Namespace, Getter, Text)):
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


def short(node: ast.AST) -> str:
    """The code of ``node`` to quote in a flag: ``SHORT`` characters at most, read from
    a few dozen syntax nodes at most (nested flags must not cost a square)."""
    for count, _ in enumerate(ast.walk(node)):
        if count > 40:
            return f"{type(node).__name__.lower()} of {count}+ parts"
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= SHORT else text[:SHORT - 1] + "…"


def reference_named(name: str) -> Any:
    """miniflow's own object called ``name`` (in the package or a submodule), or None."""
    # Imported here, not with this module: miniflow imports numpy, whose maths
    # library starts threads, and the grader forks its workers before any review
    # (autograder.run.workers).
    import miniflow

    for module in (miniflow, miniflow.nodes, miniflow.graph, miniflow.training):
        if hasattr(module, name):
            return getattr(module, name)
    return None


def module_named(name: str | None) -> Any:
    """The module ``import name`` binds: imported for ``IMPORTED``, else ``Unloaded``."""
    if not name or name.startswith(".") or not all(p.isidentifier() for p in name.split(".")):
        return None
    if name.split(".")[0] in IMPORTED:
        return import_known(name)
    return Unloaded(name, module=True)


def import_known(name: str) -> Any:
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


class Resolver:
    """What the names of a notebook's cells stand for, as far as the review can tell
    without running anything. ``aliases`` and ``reached`` are shared by the cells, in
    order; ``Reader`` reads one cell with them."""

    def __init__(self, aliases: dict[str, Any], reached: set[str],
                 references: dict[int, tuple[str, list[str]]]) -> None:
        self.aliases = aliases          # name -> module or object (shared across cells)
        self.reached = reached          # names bound by reflection (shared across cells)
        self.references = references    # id(reference) -> (name, its tests)
        # id(node) -> what it stands for: each node is worked out once, so that
        # nested expressions cost their size, not its square. The tree outlives
        # the reader, so no id is reused while it reads.
        self._resolved: dict[int, Any] = {}

    # -- what names stand for ------------------------------------------------------

    def resolve(self, node: ast.AST) -> Any:
        """What ``node`` stands for: a module or object the review imported, an
        ``Unloaded`` name, a ``Namespace``, a ``Getter``, a ``Text``, or None."""
        if type(node) is ast.Name:  # the commonest, and a look-up already
            return self._name(node.id)  # type: ignore[attr-defined]
        key = id(node)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(node)
        return self._resolved[key]

    def _resolve(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Attribute):
            return self.attribute_of(self.resolve(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            owner = self.resolve(node.value)
            if isinstance(owner, Namespace):
                return self._entry(owner, self.fold(node.slice))
            text = self.fold(node) if isinstance(owner, Text) else None
            return Text(text) if text is not None else None
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, (ast.Constant, ast.BinOp, ast.JoinedStr)):
            text = self.fold(node)
            return Text(text) if text is not None else None
        return None

    def _name(self, name: str | None) -> Any:
        if name is None or name in self.aliases:  # bound by the notebook (None: to what?)
            return self.aliases.get(name) if name is not None else None
        if name == "__builtins__":
            return Unloaded("builtins", module=True)
        if name in REACHING_BUILTINS:
            return Unloaded(f"builtins.{name}")
        return None

    def attribute_of(self, owner: Any, name: str | None) -> Any:
        """``getattr(owner, name)`` as far as the review can tell without running anything."""
        if owner is None or name is None:
            return None
        if name == "__dict__" and (self.is_module_like(owner) or inspect.isclass(owner)):
            return Namespace(owner)
        if name == "__builtins__" and self.is_module_like(owner):
            return Unloaded("builtins", module=True)
        if isinstance(owner, Unloaded):
            if owner.name == "sys" and name == "modules":
                return Namespace(Namespace.MODULES)
            return Unloaded(f"{owner.name}.{name}")
        if inspect.ismodule(owner) or inspect.isclass(owner):
            found = getattr(owner, name, None)
            return Namespace(Namespace.MODULES) if found is sys.modules else found
        return None

    def _entry(self, space: Namespace, key: str | None) -> Any:
        """``space[key]``."""
        if key is None:
            return None
        if space.owner is Namespace.GLOBALS:
            return self._name(key)
        if space.owner is Namespace.MODULES:
            return module_named(key)
        if isinstance(space.owner, Unloaded):
            return Unloaded(f"{space.owner.name}.{key}")
        try:
            return vars(space.owner).get(key)
        except TypeError:
            return None

    def _call(self, node: ast.Call) -> Any:
        """What a call returns, for the calls that reach names: ``getattr(mf, "Linear")``,
        ``vars(mf)``, ``importlib.import_module("miniflow")``, ``"".join(...)``..."""
        func = self.resolve(node.func)
        args = node.args
        if isinstance(func, Getter):
            return self._got(func, self.resolve(args[0])) if len(args) == 1 else None
        dotted = dotted_of(func)
        if dotted == "builtins.getattr" and len(args) >= 2:
            return self.attribute_of(self.resolve(args[0]), self.fold(args[1]))
        if dotted in ("builtins.globals", "builtins.locals") or (
                dotted == "builtins.vars" and not args):
            return Namespace(Namespace.GLOBALS)
        if dotted == "builtins.vars" and args:
            owner = self.resolve(args[0])
            return Namespace(owner) if self.is_module_like(owner) or inspect.isclass(
                owner) else None
        if dotted in ("builtins.__import__", "importlib.__import__") and args:
            name = self.fold(args[0])
            listed = len(args) >= 4 or any(k.arg == "fromlist" for k in node.keywords)
            return module_named(name if listed or name is None else name.split(".")[0])
        if dotted == "importlib.import_module" and args:
            return module_named(self.fold(args[0]))
        if dotted in ("operator.attrgetter", "operator.methodcaller") and args:
            kind = dotted.split(".")[1]
            return Getter(kind, tuple(self.fold(a) for a in args[:16]))
        if dotted == "functools.reduce" and len(args) == 3 and dotted_of(
                self.resolve(args[0])) == "builtins.getattr" and isinstance(
                args[1], (ast.List, ast.Tuple)) and len(args[1].elts) <= 16:
            found = self.resolve(args[2])
            for element in args[1].elts:
                found = self.attribute_of(found, self.fold(element))
            return found
        if isinstance(node.func, ast.Attribute) and args:
            owner = self.resolve(node.func.value)
            method = node.func.attr
            if method in ("get", "__getitem__", "setdefault", "pop") and isinstance(
                    owner, Namespace):
                return self._entry(owner, self.fold(args[0]))
            if method == "__getattribute__":
                if self.is_module_like(owner):
                    return self.attribute_of(owner, self.fold(args[0]))
                if len(args) >= 2:
                    return self.attribute_of(self.resolve(args[0]), self.fold(args[1]))
        text = self.fold(node)
        return Text(text) if text is not None else None

    def _got(self, getter: Getter, owner: Any) -> Any:
        """``attrgetter(names)(owner)``, ``methodcaller("__getattribute__", name)(owner)``."""
        names = getter.names
        if getter.kind == "attrgetter" and len(names) == 1 and names[0]:
            for part in names[0].split("."):
                owner = self.attribute_of(owner, part)
            return owner
        if getter.kind == "methodcaller" and len(names) == 2:
            if names[0] in ("__getattribute__", "__getattr__"):
                return self.attribute_of(owner, names[1])
            if names[0] in ("get", "__getitem__") and isinstance(owner, Namespace):
                return self._entry(owner, names[1])
        return None

    def fold(self, node: ast.AST, budget: list[int] | None = None) -> str | None:
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
            text = found.value if isinstance(found, Text) else None
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self.fold(node.left, budget)
            right = self.fold(node.right, budget) if left is not None else None
            text = left + right if right is not None else None
        elif isinstance(node, ast.JoinedStr):
            parts = [self.fold(v.value if isinstance(v, ast.FormattedValue) and
                                v.conversion in (-1, 115) and v.format_spec is None else v,
                                budget) for v in node.values]
            text = "".join(parts) if None not in parts else None  # type: ignore[arg-type]
        elif isinstance(node, ast.Subscript):
            text = self._sliced(self.fold(node.value, budget), node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                not node.keywords:
            text = self._method(node, budget)
        return text if text is None or len(text) <= LONGEST_NAME else None

    def _method(self, node: ast.Call, budget: list[int]) -> str | None:
        """``sep.join([...])``, ``s.lower()``, ``s.replace(a, b)``... of folded strings."""
        method, args = node.func.attr, node.args  # type: ignore[attr-defined]
        if method == "join" and len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple)):
            parts = [self.fold(e, budget) for e in args[0].elts]
            sep = self.fold(node.func.value, budget)  # type: ignore[attr-defined]
            return sep.join(parts) if sep is not None and None not in parts else None  # type: ignore[arg-type]
        own = self.fold(node.func.value, budget)  # type: ignore[attr-defined]
        if own is None:
            return None
        if method in ("lower", "upper", "strip", "lstrip", "rstrip", "title", "capitalize",
                      "casefold", "swapcase") and not args:
            return getattr(own, method)()
        if method == "replace" and len(args) == 2:
            old, new = self.fold(args[0], budget), self.fold(args[1], budget)
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

    def is_plain(self, node: ast.AST) -> bool:
        """``node`` says what it stands for plainly: a name, or attributes of one, bound
        without reflection. Delegation that plain costs its exercise's tests; reached by
        names worked out from strings, dicts or getters, it is shown."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id not in self.reached

    def is_module_like(self, obj: Any) -> bool:
        return inspect.ismodule(obj) or (isinstance(obj, Unloaded) and obj.module)

    def is_module(self, node: ast.AST) -> bool:
        return self.is_module_like(self.resolve(node))

    def space_of(self, node: ast.AST) -> str | None:
        """How a flag names ``node`` when it is a module or a namespace, or None."""
        found = self.resolve(node)
        if self.is_module_like(found):
            return f"the module {short(node)}"
        if isinstance(found, Namespace):
            return f"the namespace {short(node)}"
        return None

    def tested_reference(self, obj: Any) -> tuple[str, list[str]] | None:
        """(name, tests) when ``obj`` is, or is a method of, a reference under test."""
        if obj is None:
            return None
        found = self.references.get(id(obj))
        if found is None and hasattr(obj, "__qualname__") and "." in obj.__qualname__:
            owner = reference_named(obj.__qualname__.split(".")[0])
            if owner is not None and getattr(owner, obj.__name__, None) is obj:
                found = self.references.get(id(owner))
        return found
