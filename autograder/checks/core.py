"""The comparison core: how the checks compare, diagnose and report.

Everything here is shared by the topic modules: ``assert_close`` (shape,
then finiteness, then the worst element, with a likely mistake named; a
test cell calls it as ``check_close``),
``diagnose``, ``random_inputs``, ``defined_in_notebook`` (the code under test
must be the student's own, recognised by what it is), ``in_place_of`` (grade
one exercise alone), and the helpers that run student code and turn its
exceptions into messages.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import miniflow
from autograder.core.mistakes import Mistake, explain as _explain, label as _label, worst_element
from miniflow.gradcheck import describe_failure as _describe_failure
from miniflow.nodes import Input, Node

__all__ = [
    "defined_in_notebook",
    "diagnose",
    "assert_close",
    "check_close",
    "in_place_of",
    "miniflow_in_place_of",
    "random_inputs",
    "RTOL",
    "ATOL",
]

RTOL = 1e-6
ATOL = 1e-8

# Captured when this module is imported: the grader imports it before any
# student cell runs (autograder.kernel.guard), so code that later replaces numpy's
# comparisons does not change how these checks compare.
_allclose, _isclose, _array_equal = np.allclose, np.isclose, np.array_equal
# The other checks modules import them (and the helpers below) under these same
# private names, so each module holds its own reference, which the guard watches.
allclose, isclose, array_equal = _allclose, _isclose, _array_equal


def fail(message: str) -> None:
    # `raise ... from None`: the student sees our message, not our internals.
    raise AssertionError(_headlined(message)) from None


def _headlined(message: str) -> str:
    """``message`` with a first line of at most ``FIRST_LINE`` characters (nbgrader's
    ``validate`` cuts longer lines): a long one-line message is broken after its first
    clause (": ", "; " or ". ") that fits, the rest indented below it."""
    first, newline, rest = message.partition("\n")
    if len(first) <= FIRST_LINE:
        return message
    clauses, spaces, depth = [], [], 0
    for at, character in enumerate(first[:FIRST_LINE]):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(character, 0)
        if character == " " and depth == 0:  # never inside brackets
            spaces.append(at)
            if at and first[at - 1] in ":;.":
                clauses.append(at)
    cut = clauses[0] if clauses else (spaces[-1] if spaces else -1)
    if cut <= 0:
        return message
    return f"{first[:cut].rstrip()}\n  {first[cut:].strip()}{newline}{rest}"


# -- where the code under test came from ------------------------------------


_PACKAGES = tuple(os.path.dirname(os.path.abspath(module.__file__)) + os.sep
                  for module in (miniflow, sys.modules[__name__.split(".")[0]]))


def course_code(function: Any) -> bool:
    """Is this function's code miniflow's or the grader's own (whatever it is called)?"""
    code = getattr(inspect.unwrap(function), "__code__", None) if callable(function) else None
    filename = os.path.abspath(getattr(code, "co_filename", "") or "")
    return bool(code) and filename.startswith(_PACKAGES)


def _true_ancestors(cls: type) -> list[type]:
    """Every base class, read through type's own descriptor (a metaclass cannot lie)."""
    seen: list[type] = []
    stack = [cls]
    while stack:
        klass = stack.pop()
        if klass in seen:
            continue
        seen.append(klass)
        stack.extend(type.__dict__["__bases__"].__get__(klass))
    return seen


def _reference_inside(obj: Any) -> str | None:
    """What of miniflow's own code ``obj`` is or holds; None for the student's own."""
    if inspect.isclass(obj):
        for klass in _true_ancestors(obj):
            if klass in (Node, object):
                continue
            if klass is not obj and course_code(getattr(klass, "forward", None)):
                return f"a subclass of miniflow's {klass.__name__}"
            for attribute, member in vars(klass).items():
                member = getattr(member, "__func__", member)
                if course_code(member):
                    return f"{klass.__name__}.{attribute} is miniflow's own code"
        return None
    if course_code(obj):
        return f"miniflow's {getattr(obj, '__name__', 'code')} under another name"
    return None


def defined_in_notebook(obj: Any, name: str | None = None) -> None:
    """The class or function under test must be the student's own.

    An ``import`` of miniflow's reference (``from miniflow import Linear``),
    a subclass of it, or its methods or code under the student's names would
    pass every check without teaching anything, so it scores zero. It is
    recognised by what the code is (where its code objects come from, its
    real base classes), not by what it calls itself.
    """
    name = name or getattr(obj, "__name__", repr(obj))
    module = getattr(obj, "__module__", "") or ""
    found = _reference_inside(obj)
    if found is not None or module.split(".")[0] in {"miniflow", "autograder"}:
        fail(
            f"`{name}` is miniflow's reference implementation ({found or f'from {module}'}), "
            f"not yours. Write `{name}` yourself in the solution cell above, run that "
            "cell, then run this test again."
        )
    if obj is None or (inspect.isclass(obj) and not issubclass(obj, Node)
                       and name not in {"Tensor"}):
        fail(f"`{name}` should be a subclass of miniflow's Node, got {obj!r}.")


# -- comparing arrays with an explanation -----------------------------------


def as_float_array(value: Any, what: str) -> np.ndarray:
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{what} should be a number or numpy array, got {type(value).__name__}: "
             f"{value!r:.200}")
        raise  # unreachable; keeps type checkers content


def diagnose(expected: np.ndarray, got: np.ndarray, *, batch_size: int | None = None,
             **known: Any) -> str:
    """The likely mistake behind ``got`` when ``expected`` was right, in words, or ''.

    The catalogue is the judge's too (``autograder.core.mistakes``): a visible
    test and the grade name a mistake in the same words. ``known`` is what
    else the caller knows (``classes``, ``sizes``, ``upstream``, ``before``,
    ``inputs``: see ``autograder.core.mistakes.diagnose``).
    """
    found = _explain(expected, got, batch_size=batch_size, close=_allclose, **known)
    return found[1] if found else ""


#: nbgrader's ``validate`` on the command line cuts a failure's lines at about 90
#: characters, so a failure's first line, which says what to fix, fits in that.
FIRST_LINE = 90


def _first_line(text: str) -> str:
    return text if len(text) <= FIRST_LINE else text[:FIRST_LINE - 3].rstrip() + "..."


def assert_close(
    got: Any, expected: Any, *, what: str, batch_size: int | None = None,
    rtol: float = RTOL, atol: float = ATOL, **known: Any,
) -> None:
    """Shape, then finiteness, then values; the message names the worst element.

    The message's first line is the likely mistake (or the worst element when
    no pattern explains it), short enough for nbgrader's ``validate``; the
    lines below name the quantity, the element and what the pattern usually
    means. ``known`` is passed to the diagnosis (``classes``, ``sizes``,
    ``upstream``, ``before``, ``inputs``).
    """
    if got is None:
        fail(f"{what}: got None, expected an array of shape {np.shape(expected)}.")
    got_array = as_float_array(got, what)
    expected_array = np.asarray(expected, dtype=np.float64)
    found = _explain(expected_array, got_array, batch_size=batch_size, close=_allclose,
                     **known)
    if got_array.shape != expected_array.shape:
        shapes = f"shape {got_array.shape}, expected {expected_array.shape}"
        fail(_failure(f"wrong {shapes}", f"{what}: {shapes}.", found))
    if _allclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=False):
        return
    worst = worst_element(got_array, expected_array)
    numbers = f"expected {expected_array[worst]:.6g}, got {got_array[worst]:.6g}"
    fail(_failure(f"wrong value at element {worst}: {numbers}",
                  f"{what} is wrong at element {worst}: {numbers} (shape "
                  f"{expected_array.shape}).", found))


def _failure(problem: str, details: str, found: tuple[Any, str] | None) -> str:
    """First line: what to fix (the mistake's short words) or else the problem, within
    ``FIRST_LINE``; then the quantity, the element and the likely mistake."""
    if not found:
        first = problem
    elif found[0] in (Mistake.SCALED, Mistake.UPSTREAM_IGNORED):
        first = found[1].split(":")[0].removeprefix("it is ")  # the factor, in numbers
    else:
        first = _label(found[0])
    lines = [_first_line(first[:1].upper() + first[1:]), f"  {details}"]
    if found:
        lines.append(f"  Likely mistake: {found[1]}")
    return "\n".join(lines)


def check_close(what: str, got: Any, expected: Any, *, batch_size: int | None = None,
                rtol: float = RTOL, atol: float = ATOL, **known: Any) -> None:
    """A test cell's comparison of one quantity with its expected value.

    Where ``np.testing.assert_allclose`` would print two tables, this names
    the quantity, the worst element and, when the numbers match a known
    pattern (the transpose, k times, unchanged since ``before``, ...), what
    that pattern usually means. Returns None (nbgrader reads a number on a
    test cell's last line as partial credit).
    """
    assert_close(got, expected, what=what, batch_size=batch_size, rtol=rtol, atol=atol,
                 **known)


class in_place_of:  # noqa: N801 (used as a statement: with checks.in_place_of(...))
    """``with checks.in_place_of(globals(), Tensor=...):`` in a test cell.

    Inside the block each name given points to the grader's version, so the
    test grades one exercise alone, not also the ones it builds on (one
    mistake costs one exercise); afterwards the student's own is back, even
    when the block failed. A ``with`` block, unlike ``try``/``finally``, keeps
    IPython's traceback pointing at the assert that failed.
    """

    def __init__(self, namespace: dict, **replacements: Any) -> None:
        self.namespace, self.replacements = namespace, replacements
        self.saved: dict[str, Any] = {}

    def __enter__(self) -> None:
        self.saved = {}
        for name, replacement in self.replacements.items():
            if name in self.namespace:
                self.saved[name] = self.namespace[name]
            self.namespace[name] = replacement

    def __exit__(self, *error: Any) -> bool:
        for name in self.replacements:
            if name in self.saved:
                self.namespace[name] = self.saved[name]
            else:
                self.namespace.pop(name, None)
        return False


def miniflow_in_place_of(namespace: dict, *names: str) -> in_place_of:
    """``with checks.miniflow_in_place_of(globals(), "sgd_update"):``: miniflow's
    functions of those names in place of the notebook's while the block runs."""
    return in_place_of(namespace, **{name: getattr(miniflow, name) for name in names})


# -- random inputs -----------------------------------------------------------


def random_inputs(shapes: Sequence[tuple[int, ...]], seed: int, *, scale: float = 1.0
                  ) -> list[np.ndarray]:
    """Float64 normal arrays of the given shapes, from a fixed seed."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) * scale for shape in shapes]


def build_node(cls: type, values: Sequence[Any], names: Sequence[str] | None
               ) -> tuple[list[Input], Node]:
    names = list(names) if names else [f"input{i}" for i in range(len(values))]
    inputs = [Input(n) for n in names]
    try:
        node = cls(*inputs)
    except Exception as error:  # the student's constructor
        fail(f"{cls.__name__}({', '.join(names)}) raised {type(error).__name__}: {error}")
        raise
    return inputs, node


def pinned(student: type, reference: type) -> type:
    """``student``, whose forward still runs, but whose value is then the reference's.

    Backward checks build this class, so that they judge ``backward`` alone:
    a wrong forward is the forward test's failure, not also the backward's
    (one mistake costs one exercise). State the student's forward keeps for
    its backward (a cached difference, say) is the student's own.
    """
    def forward(self: Node) -> None:
        student.forward(self)
        values = [np.array(n.value) for n in self.inbound_nodes]
        inputs, ref = build_node(reference, values, None)
        for node, value in zip(inputs, values):
            node.value = value
        reference_quietly(ref.forward)
        self.value = ref.value

    return type(student.__name__, (student,),
                {"forward": forward, "__qualname__": student.__qualname__,
                 "__module__": student.__module__})


def run_check(what: str, function: Callable[[], Any]) -> Any:
    try:
        return function()
    except AssertionError:
        raise
    except Exception as error:
        # Name the node and the line when the error comes from a forward or backward.
        plain = f"{type(error).__name__}: {error}"
        described = _describe_failure(error)
        if described == plain:
            text = f"{what} raised {plain}"
        else:
            text = described if what.endswith(("forward()", "backward()")) \
                else f"{what}: {described}"
        # A short first line (what raised what), the whole story below it.
        headline = f"{what.split(' (')[0]} raised {type(error).__name__}"
        fail(text if len(text) <= FIRST_LINE else f"{_first_line(headline)}\n  {text}")


def describe_inputs(names: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(f"{n}: shape {np.shape(v)}" for n, v in zip(names, values))


def as_arrays(values: Sequence[Any]) -> list[np.ndarray]:
    return [np.array(v) for v in values]


def value_range(values: Sequence[Any]) -> str:
    floats = [np.asarray(v, dtype=np.float64) for v in values
              if np.issubdtype(np.asarray(v).dtype, np.floating) and np.size(v)]
    if not floats:
        return ""
    low = min(float(v.min()) for v in floats)
    high = max(float(v.max()) for v in floats)
    return f" with values from {low:.4g} to {high:.4g}"


def call_without_warnings(what: str, function: Callable[[], Any], context: str) -> Any:
    """Run student code with every warning turned into a failure that explains it.

    A numpy RuntimeWarning ("overflow encountered in exp") would otherwise go
    to stderr, where nbgrader silently scores the whole cell zero.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
            try:
                return function()
            except AssertionError:
                raise
            except Warning as warning:
                fail(
                    f"{what} warned \"{type(warning).__name__}: {warning}\" for {context}. "
                    "A warning means an intermediate result overflowed (or a log saw 0) even "
                    "if the final answer looks right. Rewrite the computation so that no "
                    "intermediate value overflows: np.exp should only see numbers <= 0 "
                    "(subtract each row's own maximum first, use np.logaddexp, or "
                    "log-sum-exp)."
                )
            except Exception as error:
                fail(f"{what} raised {type(error).__name__}: {error} (for {context})")


def reference_quietly(function: Callable[[], Any]) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return function()
