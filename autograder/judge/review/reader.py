"""The review's rules, read one cell at a time: what each kind of flag is raised for.

``Reader`` walks a cell's syntax tree (``ast``), knowing what its names stand
for (``autograder.judge.review.names``), and flags imports, the machinery
that reaches into the interpreter, changes to imported modules and to
objects' identity, delegation to miniflow's reference, and obfuscated reach
(the rules are listed in ``autograder.judge.review``).
"""

from __future__ import annotations

import ast
import functools
import inspect
from typing import Any

from autograder.judge.review.flags import Flag
from autograder.judge.review.names import (
    ALLOWED_IMPORTS,
    IMPORTED,
    REACHING_BUILTINS,
    Getter,
    Namespace,
    Resolver,
    Text,
    Unloaded,
    dotted_of,
    import_known,
    module_named,
    short,
)

__all__ = ["Reader"]

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
REACHED = ", reached by a name the review worked out"


def _machinery(dotted: str) -> tuple[str, str] | None:
    """(kind, words) when ``dotted`` names machinery of ``MACHINERY``."""
    if dotted in MACHINERY:
        return MACHINERY[dotted]
    top = dotted.split(".")[0]
    found = MACHINERY.get(f"{top}.")
    return found if found is not None and dotted != top else None


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


class Reader(Resolver, ast.NodeVisitor):
    """Walks one cell, knowing what every imported name stands for."""

    def __init__(self, aliases: dict[str, Any], reached: set[str], label: str, student: bool,
                 exercise: tuple[dict[str, Any], list[str]] | None,
                 all_references: dict[int, tuple[str, list[str]]]) -> None:
        super().__init__(aliases, reached, all_references)
        self.label = label
        self.student = student          # only student cells are flagged
        self.exercise = exercise        # set in an exercise's own solution cell
        self.flags: list[Flag] = []
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
            self.flag(node, "obfuscation", text + (f": `{short(quote)}`" if quote else ""))

    # -- imports -----------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)
            bound = alias.asname or alias.name.split(".")[0]
            self.aliases[bound] = module_named(alias.name if alias.asname else bound)
            self.reached.discard(bound)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        name = node.module or ""
        self._check_module(node, name)
        module = import_known(name)
        for alias in node.names:
            obj = getattr(module, alias.name, None) if module is not None else None
            if obj is None:
                obj = import_known(f"{name}.{alias.name}")
            if obj is None and name and not node.level and name.split(".")[0] not in IMPORTED:
                obj = Unloaded(f"{name}.{alias.name}")  # pickle.loads, importlib.import_module
            bound = alias.asname or alias.name
            under_test = self.tested_reference(obj)
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
            under_test = self.tested_reference(obj)
            if under_test is not None:
                plain = self.is_plain(base)
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
            on = self.space_of(node.args[0]) if name == "vars" and node.args else None
            self.flag(node, "dangerous", f"calls {name}()" + (f" on {on}" if on else ""))
            self._named.add(id(node.func))
        elif name in ("settrace", "setprofile"):
            self.flag(node, "dangerous", f"calls {name}()")
        dotted = dotted_of(obj)
        if dotted in ("builtins.getattr", "builtins.setattr"):
            name = dotted.split(".")[1]
        if name in ("setattr", "getattr") and node.args and self.is_module(node.args[0]):
            computed = len(node.args) > 1 and not (isinstance(node.args[1], ast.Constant) and
                                                   isinstance(node.args[1].value, str))
            self.flag(node, "tamper" if name == "setattr" else "dangerous",
                      f"{name}() on the module {short(node.args[0])}" + (
                          f" with a computed name `{short(node.args[1])}`" if computed else ""))
        if self.student:
            self._reflection(node, obj, dotted)
        if isinstance(obj, Getter) and obj.kind == "methodcaller" and node.args:
            # methodcaller("Linear", X, W, b)(mf) calls mf.Linear
            obj = self.attribute_of(self.resolve(node.args[0]), obj.names[0])
        under_test = self.tested_reference(obj)
        if under_test is not None:
            # Its own solution calling the reference is the reference (zero); a cell
            # the student added may be comparing with it (shown); a later exercise
            # building on an earlier one's reference is what the notebooks teach.
            # Reached by reflection, it is shown, and the judge's verdict scores it.
            plain = self.is_plain(node.func)
            if self.exercise is not None and under_test[0] in self.exercise[0]:
                self.flag(node, "delegation", f"calls miniflow's reference "
                          f"`{short(node.func)}`, the very code under test" + (
                              "" if plain else REACHED), tuple(under_test[1]) if plain else ())
            elif self.exercise is None:
                self.flag(node, "delegation", f"calls miniflow's reference "
                          f"`{short(node.func)}` outside its solution cell" + (
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
        known = obj is not None and not isinstance(obj, (Unloaded, Namespace, Getter, Text))
        return None if known else name

    def _reflection(self, node: ast.Call, func: Any, dotted: str) -> None:
        """Flag a call that reaches attributes or objects by strings (student cells only)."""
        args = node.args
        if isinstance(node.func, ast.Attribute) and node.func.attr in (
                "__getattribute__", "__getattr__"):
            owner = self.space_of(node.func.value) or (self.space_of(args[0]) if args else None)
            if owner:
                self.obfuscation(node, "getattribute", f"calls {node.func.attr} on {owner}",
                                 node)
        if dotted in ("operator.attrgetter", "operator.methodcaller"):
            names = args if dotted.endswith("attrgetter") else args[:1]
            odd = next((n for n in names if self._odd_name(n)), None)
            if odd is not None:
                self.obfuscation(node, "getter", f"reaches attributes by name with {dotted}, "
                                 f"naming `{short(odd)}`", node)
        if isinstance(func, Getter) and args and (on := self.space_of(args[0])):
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
        name = self.fold(node)
        if name is None:
            return True  # computed
        parts = name.split(".")
        return any(p.startswith("__") or p in _miniflow_names() for p in parts)

    def _walks(self, function: ast.AST, start: list[ast.expr]) -> bool:
        """``reduce(function, names, start)`` looks attributes up one by one."""
        if start and self.space_of(start[0]):
            return True
        if dotted_of(self.resolve(function)) in ("builtins.getattr", "operator.attrgetter",
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
        if found is None or isinstance(found, (Text, Getter)) or id(node) in self._named or \
                isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del)) or (
                isinstance(node, ast.Call) and self._called_by_name(node)):
            return
        what: tuple[str, str] | None = None
        if isinstance(found, Namespace):
            if found.owner is Namespace.MODULES:
                what = ("modules", "reads sys.modules, which holds every imported module, "
                                   "miniflow too")
            elif found.owner is Namespace.GLOBALS:
                what = ("names", "reaches variables by name")
            elif inspect.isclass(found.owner):
                what = ("namespace", f"reads the attributes of the library class "
                                     f"{dotted_of(found.owner)} as a dict")
            else:
                what = ("namespace", f"reads the namespace of the module "
                                     f"{dotted_of(found.owner)} as a dict")
        elif inspect.ismodule(found):
            if not isinstance(node, ast.Name) and found.__name__.split(".")[0] not in \
                    ALLOWED_IMPORTS:
                what = ("reach", f"reaches the module {found.__name__} without importing it")
                quote = node  # the way there, not what is done with it
        elif not (isinstance(found, Unloaded) and found.module):
            what = _machinery(dotted_of(found))
        if what is not None:
            self.obfuscation(node, what[0], what[1], quote or node)

    def _assigned(self, target: ast.AST, value: ast.AST | None, node: ast.AST) -> None:
        if isinstance(target, ast.Attribute):
            owner = self.resolve(target.value)
            if target.attr in IDENTITY:
                self.flag(node, "identity", f"sets {ast.unparse(target)}")
            elif self.is_module_like(owner):
                self.flag(node, "tamper", f"replaces {short(target)} in an imported "
                          "module")
            elif inspect.isclass(owner) and getattr(owner, "__module__", "").split(".")[0] in (
                    "numpy", "miniflow", "builtins", "math"):
                self.flag(node, "tamper", f"changes the library class "
                          f"{ast.unparse(target.value)} ({target.attr})")
        elif isinstance(target, ast.Name):
            obj = self.resolve(value) if value is not None else None
            plain = value is None or self.is_plain(value)
            under_test = self.tested_reference(obj)
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
        elif isinstance(target, ast.Subscript) and (self.is_module(target.value) or isinstance(
                self.resolve(target.value), Namespace)):
            self.flag(node, "tamper", f"changes {short(target)}")

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
            if isinstance(target, ast.Attribute) and self.is_module(target.value):
                self.flag(node, "tamper", f"deletes {ast.unparse(target)}")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in ("settrace", "setprofile", "_getframe", "__subclasses__",
                         "f_locals", "f_globals", "f_back", "__builtins__", "__globals__",
                         "__code__", "__loader__", "__spec__"):
            self.flag(node, "dangerous", f"uses {short(node)}")
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

