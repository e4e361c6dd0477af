"""The second wall, inside the kernel: notice when student code changes what tests rely on.

``install()`` runs in the grading kernel before any student cell (the grader
sends it, ``autograder.execute.preprocessor.SandboxedExecute``). It imports the
checks, then records the identity of everything a test's verdict depends on:
numpy's and miniflow's functions and classes (and their methods), the
checks themselves, the builtins, the ``sys.modules`` entries of those
packages, trace and profile functions, and IPython's input and AST
transformers, custom exception handlers and event callbacks.

After every cell the grader asks the guard what changed, in words ("numpy.allclose
was replaced"): as a user expression of the cell's own execute request, which
the kernel evaluates right after the cell's code (or, when the cell raised,
in a request of its own). A test cell that runs after a change scores zero, with that
message. Code that undoes its changes before the check runs still shows up
as the event callback or transformer it needed.

This runs in the student's own interpreter, so a determined student can lie
to it too: it is the second wall. The first is the trusted verdict
(``autograder.judge.plans``), judged outside the kernel, and the static review
(``autograder.judge.review``) names the code that tried.
"""

from __future__ import annotations

import builtins
import json
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["install"]

_WATCHED_MODULES = ("numpy", "numpy.testing", "numpy.linalg", "miniflow", "miniflow.nodes",
                    "miniflow.graph", "miniflow.training", "miniflow.gradcheck",
                    "autograder", "autograder.core.mistakes", "autograder.checks",
                    "autograder.checks.core",
                    "autograder.checks.graphs", "autograder.checks.nodes",
                    "autograder.checks.training", "autograder.checks.digits",
                    "autograder.checks.tensors", "builtins", "math")
# Libraries whose IPython event callbacks are part of a normal kernel.
_TRUSTED_CALLBACKS = ("matplotlib", "matplotlib_inline", "IPython", "ipykernel", "ipywidgets",
                      "autograder.kernel.figures")


def _shell() -> Any:
    try:
        from IPython import get_ipython

        return get_ipython()
    except ImportError:
        return None


def _watched(module: str, name: str) -> bool:
    if name in ("__import__", "__build_class__"):
        return True
    if module == "builtins" and name in ("input", "raw_input", "getpass"):
        return False  # ipykernel swaps these around every request it serves
    if module == "builtins" and name in ("get_ipython", "exit", "quit"):
        # IPython puts these in around every cell and takes them out after
        # (its BuiltinTrap), so what a cell did to them never outlives it; the
        # guard's question is asked after the cell, outside that trap.
        return False
    if name.startswith("__"):
        return False
    # The course's own private helpers (miniflow.nodes._sigmoid) matter; other
    # libraries' private names change as they work.
    return not name.startswith("_") or module.startswith(("miniflow", "autograder"))


def _attributes(module: Any) -> dict[str, int]:
    found = {}
    name_of = module.__name__
    ours = name_of.startswith(("miniflow", "autograder"))
    for name, value in list(vars(module).items()):
        if not _watched(name_of, name) or isinstance(
                value, (int, float, complex, str, bytes, bool, tuple, type(None))):
            continue
        found[name] = id(value)
        if ours and isinstance(value, type):
            # The course's classes: their methods, and what they say they are.
            for attribute, member in list(vars(value).items()):
                if callable(member) or isinstance(member, (staticmethod, classmethod,
                                                           property)) or attribute in (
                        "__module__", "__qualname__"):
                    found[f"{name}.{attribute}"] = id(member)
    return found


def _trace_state() -> tuple[bool, bool, bool, bool]:
    return (sys.gettrace() is not None, sys.getprofile() is not None,
            getattr(threading, "_trace_hook", None) is not None,
            getattr(threading, "_profile_hook", None) is not None)


def _shell_state(shell: Any) -> dict[str, Any]:
    """IPython's hooks a cell could use to change what later cells run (none outside it)."""
    if shell is None:
        return {}
    return {
        "transformers": [id(t) for t in (*shell.input_transformers_cleanup,
                                          *shell.input_transformers_post)],
        "ast": [id(t) for t in shell.ast_transformers],
        "custom_exc": (tuple(getattr(shell, "custom_exceptions", ())),
                       "CustomTB" in vars(shell)),
        "callbacks": {event: [id(f) for f in functions if not getattr(
            f, "__module__", "").startswith(_TRUSTED_CALLBACKS)]
            for event, functions in shell.events.callbacks.items()},
        "methods": sorted(name for name in ("run_cell", "run_cell_async", "showtraceback",
                                            "_showtraceback", "run_ast_nodes", "run_code",
                                            "transform_cell", "user_expressions")
                          if name in vars(shell)),
    }


def _state() -> dict[str, Any]:
    return {
        "modules": {name: id(sys.modules.get(name)) for name in _WATCHED_MODULES},
        "attributes": {name: _attributes(sys.modules[name]) for name in _WATCHED_MODULES
                       if name in sys.modules},
        "trace": _trace_state(),
        **_shell_state(_shell()),
    }


def install(name: str) -> None:
    """Record the clean state; make its ``verify`` reachable as the builtin ``name``.

    The clean state and the functions that compare with it are held in a
    closure, not in this module's globals: replacing ``autograder.kernel.guard``'s
    attributes later changes nothing about what ``verify`` sees.
    """
    import numpy.linalg  # noqa: F401
    import numpy.testing  # noqa: F401

    import autograder.checks  # noqa: F401 (its functions are part of the clean state)
    import miniflow.gradcheck  # noqa: F401
    import miniflow.training  # noqa: F401

    state, compare, dumps = _state, _changes, json.dumps
    take, same = _identities()
    clean = state()
    last_clean = [take()]

    def verify() -> str:
        """What changed since ``install``, as a JSON list of sentences."""
        if same(last_clean[0]):
            return "[]"
        changes = compare(clean, state())
        if not changes:  # nothing the guard watches changed (a submodule imported, say)
            last_clean[0] = take()
        return dumps(changes[:20])

    setattr(builtins, name, verify)


def _identities() -> tuple[Callable[[], tuple], Callable[[tuple], bool]]:
    """``take()`` and ``same(taken)``: is every object ``_state`` records the very same one?

    ``_state`` and ``_changes`` walk about 1,400 names a cell (a millisecond,
    every cell of every notebook). ``take`` holds the objects themselves,
    taken when the full comparison last found nothing changed, and ``same``
    compares them by identity in C (``map`` over ``dict.get`` and
    ``operator.is_``): the same objects give ``_state`` the same record, so
    ``same`` true means the full comparison would find nothing; anything
    else (a replaced or removed attribute, a class member added, a name added
    to a course module, a ``sys.modules`` entry, a trace function, IPython's
    hooks) sends ``verify`` to the full comparison, which words it. Holding
    the objects also means an object freed and replaced by one at the same
    address is still noticed. Everything they call is bound here, so
    rebinding a builtin or this module's names later does not change them.
    """
    import operator

    is_, all_, map_, tuple_, len_, vars_, isinstance_ = (
        operator.is_, all, map, tuple, len, vars, isinstance)
    system, names, attributes, trace, hooks, shell = (
        sys, _WATCHED_MODULES, _attributes, _trace_state, _shell_state, _shell)

    def take() -> tuple:
        modules = system.modules
        present = tuple_(map_(modules.get, names))
        dicts, classes = [], []
        for name, module in zip(names, present):
            if module is None:
                continue
            namespace = vars_(module)
            watched = tuple_(a for a in attributes(module) if "." not in a)
            ours = name.startswith(("miniflow", "autograder"))
            dicts.append((namespace, watched, tuple_(map_(namespace.get, watched)),
                          len_(namespace) if ours else -1))
            if ours:
                for value in map_(namespace.get, watched):
                    if isinstance_(value, type):
                        members = vars_(value)
                        keys = tuple_(members)
                        classes.append((members, keys, tuple_(map_(members.get, keys))))
        return present, dicts, classes, trace(), hooks(shell())

    def same(taken: tuple) -> bool:
        present, dicts, classes, traced, hooked = taken
        if not all_(map_(is_, map_(system.modules.get, names), present)):
            return False
        for namespace, watched, values, size in dicts:
            if size >= 0 and len_(namespace) != size:
                return False
            if not all_(map_(is_, map_(namespace.get, watched), values)):
                return False
        for members, keys, values in classes:
            if tuple_(members) != keys or not all_(map_(is_, map_(members.get, keys), values)):
                return False
        return trace() == traced and hooks(shell()) == hooked

    return take, same


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes = []
    for name, identity in before["modules"].items():
        if after["modules"].get(name) != identity:
            changes.append(f"sys.modules[{name!r}] was replaced")
    for module, attributes in before["attributes"].items():
        now = after["attributes"].get(module, {})
        for attribute, identity in attributes.items():
            if now.get(attribute) != identity:
                verb = "removed" if attribute not in now else "replaced"
                changes.append(f"{module}.{attribute} was {verb}")
        added = [a for a in now if a not in attributes and "." in a
                 and module != "builtins"]
        changes += [f"{module}.{a} was added" for a in added]
    names = ("sys.settrace", "sys.setprofile", "threading.settrace", "threading.setprofile")
    for name, was, now in zip(names, before["trace"], after["trace"]):
        if now and not was:
            changes.append(f"a trace or profile function is set ({name})")
    if "transformers" in before:
        if after["transformers"] != before["transformers"]:
            changes.append("an IPython input transformer was added or changed")
        if after["ast"] != before["ast"]:
            changes.append("an IPython AST transformer was added")
        if after["custom_exc"] != before["custom_exc"]:
            changes.append("a custom exception handler was set (set_custom_exc)")
        for event, functions in after["callbacks"].items():
            if functions != before["callbacks"].get(event, []):
                changes.append(f"an IPython event callback was registered ({event})")
        if after["methods"] != before["methods"]:
            changes.append("IPython's shell methods were replaced "
                           f"({', '.join(after['methods'])})")
    return changes
