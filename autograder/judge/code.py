"""What of a submitted notebook the judge runs: its definitions, nothing else.

The judge runs the student's solution code and the given code, never a test
cell (visible or hidden) and never the notebook's demonstrations: of each
other code cell it keeps the top-level statements that define something:
imports, functions, classes, and assignments that call nothing (constants,
aliases, ``Tensor.__radd__ = Tensor.__add__``), and ``if``/``try`` blocks made
only of those. Training loops, plots and prints are left out: they would cost
the judge the notebook's whole run time and decide nothing.
"""

from __future__ import annotations

import ast
from typing import Any

from autograder.core.cells import is_test_cell

__all__ = ["MAX_CODE", "definitions"]

MAX_CODE = 2_000_000  # characters of code one submission may send the judge


def _calls_nothing(node: ast.AST) -> bool:
    return not any(isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom))
                   for n in ast.walk(node))


def _kept(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef,
                              ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)):
        return True
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return _calls_nothing(statement)
    if isinstance(statement, ast.If):
        return _calls_nothing(statement.test) and all(
            _kept(s) for s in [*statement.body, *statement.orelse])
    if isinstance(statement, ast.Try):
        return all(_kept(s) for s in [*statement.body, *statement.orelse,
                                      *statement.finalbody]) and all(
            _kept(s) for handler in statement.handlers for s in handler.body)
    return False


def definitions(cells: list[Any]) -> list[dict[str, Any]]:
    """Each code cell's kept statements: ``{"cell": number from 1, "code": [source...]}``.

    A cell that does not parse is left out whole (the kernel's run shows the
    student the syntax error); so is everything past ``MAX_CODE`` characters.
    """
    kept: list[dict[str, Any]] = []
    budget = MAX_CODE
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code" or is_test_cell(cell):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if not source.strip() or len(source) > budget:
            continue
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        try:
            code = [ast.unparse(s) for s in tree.body if _kept(s)]
        except (RecursionError, ValueError):
            continue
        if code:
            budget -= sum(len(c) for c in code)
            kept.append({"cell": number, "code": code})
    return kept
