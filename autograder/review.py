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
  own name, or calling miniflow's implementation of the exercise under test;
* a solution whose code is (nearly) miniflow's own, with how similar.

Only delegation inside the exercise's own solution cell costs points (its
test cells score zero): there the rule cannot misfire, since a class that
inherits the reference or a function that calls it is the reference. The
rest is evidence for the instructor: the grade table, ``grades.csv``, the
class report and ``python -m autograder flags`` show it.
"""

from __future__ import annotations

import ast
import difflib
import functools
import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import nbformat

__all__ = ["Flag", "Review", "review_submission"]

ALLOWED_IMPORTS = {"numpy", "math", "miniflow", "matplotlib", "collections", "itertools",
                   "functools", "typing", "dataclasses", "random", "time", "warnings",
                   "statistics", "fractions", "operator", "__future__"}
DANGEROUS_MODULES = {"sys", "builtins", "gc", "ctypes", "inspect", "importlib", "os",
                     "subprocess", "signal", "threading", "multiprocessing", "socket",
                     "pickle", "marshal", "shutil", "sqlite3", "types", "code", "codeop",
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


@dataclass(frozen=True)
class Flag:
    cell: str        # grade id of the cell, or "cell N" for a cell without one
    line: int
    rule: str        # import, dangerous, tamper, identity, delegation, copy, syntax, unreadable
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
    # (autograder.workers).
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

    def __init__(self, aliases: dict[str, Any], label: str, student: bool,
                 exercise: tuple[dict[str, Any], list[str]] | None,
                 all_references: dict[int, tuple[str, list[str]]]) -> None:
        self.aliases = aliases          # name -> module or object (shared across cells)
        self.label = label
        self.student = student          # only student cells are flagged
        self.exercise = exercise        # set in an exercise's own solution cell
        self.references = all_references  # id(reference) -> (name, its tests)
        self.flags: list[Flag] = []

    def flag(self, node: ast.AST, rule: str, text: str, zero: tuple[str, ...] = ()) -> None:
        if self.student:
            self.flags.append(Flag(self.label, getattr(node, "lineno", 0), rule, text, zero))

    # -- what names stand for ------------------------------------------------------

    def resolve(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if base is not None and inspect.ismodule(base):
                return getattr(base, node.attr, None)
            if base is not None and inspect.isclass(base):
                return getattr(base, node.attr, None)
        return None

    def _is_module(self, node: ast.AST) -> bool:
        return inspect.ismodule(self.resolve(node))

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
            module = _import(alias.name)
            if alias.asname:
                self.aliases[alias.asname] = module
            else:
                self.aliases[alias.name.split(".")[0]] = _import(alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        name = node.module or ""
        self._check_module(node, name)
        module = _import(name)
        for alias in node.names:
            obj = getattr(module, alias.name, None) if module is not None else None
            if obj is None:
                obj = _import(f"{name}.{alias.name}")
            bound = alias.asname or alias.name
            under_test = self._under_test(obj)
            if under_test and self.exercise and bound in self.exercise[0]:
                self.flag(node, "delegation", f"imports miniflow's reference `{alias.name}` "
                          f"as the exercise's own `{bound}`", tuple(under_test[1]))
            self.aliases[bound] = obj

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
                zero = tuple(under_test[1]) if self.exercise and node.name in \
                    self.exercise[0] else ()
                self.flag(node, "delegation", f"`{node.name}` inherits miniflow's reference "
                          f"`{under_test[0]}`", zero)
        for keyword in node.keywords:
            if keyword.arg == "metaclass":
                self.flag(node, "identity", f"`{node.name}` has a metaclass")
        self.generic_visit(node)
        self.aliases.pop(node.name, None)  # the student's own class from here on

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.generic_visit(node)
        self.aliases.pop(node.name, None)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    # -- calls and changes -------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else \
            node.func.attr if isinstance(node.func, ast.Attribute) else ""
        if name in DANGEROUS_CALLS and self.resolve(node.func) is None:
            self.flag(node, "dangerous", f"calls {name}()")
        elif name in ("settrace", "setprofile"):
            self.flag(node, "dangerous", f"calls {name}()")
        if name in ("setattr", "getattr") and node.args and self._is_module(node.args[0]):
            self.flag(node, "tamper" if name == "setattr" else "dangerous",
                      f"{name}() on the module {ast.unparse(node.args[0])}")
        obj = self.resolve(node.func)
        under_test = self._under_test(obj)
        if under_test is not None:
            # Its own solution calling the reference is the reference (zero); a cell
            # the student added may be comparing with it (shown); a later exercise
            # building on an earlier one's reference is what the notebooks teach.
            if self.exercise is not None and under_test[0] in self.exercise[0]:
                self.flag(node, "delegation", f"calls miniflow's reference "
                          f"`{ast.unparse(node.func)}`, the very code under test",
                          tuple(under_test[1]))
            elif self.exercise is None:
                self.flag(node, "delegation", f"calls miniflow's reference "
                          f"`{ast.unparse(node.func)}` outside its solution cell")
        self.generic_visit(node)

    def _assigned(self, target: ast.AST, value: ast.AST | None, node: ast.AST) -> None:
        if isinstance(target, ast.Attribute):
            owner = self.resolve(target.value)
            if target.attr in IDENTITY:
                self.flag(node, "identity", f"sets {ast.unparse(target)}")
            elif inspect.ismodule(owner):
                self.flag(node, "tamper", f"replaces {ast.unparse(target)} in an imported "
                          "module")
            elif inspect.isclass(owner) and getattr(owner, "__module__", "").split(".")[0] in (
                    "numpy", "miniflow", "builtins", "math"):
                self.flag(node, "tamper", f"changes the library class "
                          f"{ast.unparse(target.value)} ({target.attr})")
        elif isinstance(target, ast.Name):
            obj = self.resolve(value) if value is not None else None
            under_test = self._under_test(obj)
            if under_test is not None and self.exercise is not None \
                    and target.id in self.exercise[0]:
                self.flag(node, "delegation", f"`{target.id}` is miniflow's reference "
                          f"`{under_test[0]}` under another name", tuple(under_test[1]))
            elif under_test is not None:
                self.flag(node, "delegation", f"`{target.id}` is miniflow's reference "
                          f"`{under_test[0]}`")
            if obj is not None:
                self.aliases[target.id] = obj
            else:
                self.aliases.pop(target.id, None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._assigned(element, None, node)
        elif isinstance(target, ast.Subscript) and self._is_module(target.value):
            self.flag(node, "tamper", f"changes {ast.unparse(target)}")

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
                         "f_locals", "f_globals", "f_back", "__builtins__", "__globals__"):
            self.flag(node, "dangerous", f"uses {ast.unparse(node)}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ("__builtins__", "In", "_ih", "Out", "_oh") and isinstance(
                node.ctx, ast.Load):
            self.flag(node, "dangerous", f"uses {node.id}")


def _import(name: str) -> Any:
    import importlib

    if not name:
        return None
    top = name.split(".")[0]
    if top not in ("numpy", "math", "miniflow", "matplotlib"):
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


def review_submission(submitted: nbformat.NotebookNode, source: nbformat.NotebookNode,
                      release: nbformat.NotebookNode | None = None) -> Review:
    """Flag what the student's own cells do, with line numbers (see the module doc)."""
    exercises = _exercises(source)
    references: dict[int, tuple[str, list[str]]] = {}
    for names, tests in exercises.values():
        for name, obj in names.items():
            references[id(obj)] = (name, tests)
    by_id = {_nbgrader(c)["grade_id"]: c for c in source.cells if "grade_id" in _nbgrader(c)}
    instructor_text = {c.source.strip() for c in (release or source).cells}
    review = Review()
    aliases: dict[str, Any] = {}
    for number, cell in enumerate(submitted.cells, start=1):
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id", "")
        original = by_id.get(grade_id)
        student = _is_student_cell(cell, by_id, instructor_text)
        text = cell.source if student or original is None else original.source
        label = grade_id or f"cell {number}"
        exercise = exercises.get(grade_id) if student and original is not None and \
            _nbgrader(original).get("solution") else None
        try:
            with _deep_enough():
                _review_cell(review, text, label, student, exercise, aliases, references)
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
    return review


def _review_cell(review: Review, text: str, label: str, student: bool,
                 exercise: tuple[dict[str, Any], list[str]] | None, aliases: dict[str, Any],
                 references: dict[int, tuple[str, list[str]]]) -> None:
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
    reader = _Reader(aliases, label, student, exercise, references)
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
