"""The static review of one submitted notebook: which cells are the student's, each
read in order by the rules (``autograder.judge.review.reader``), and how like miniflow's
own code each exercise's solution is."""

from __future__ import annotations

import ast
import difflib
import functools
import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nbformat

from autograder.judge.review.flags import Flag, Review, stopped
from autograder.judge.review.names import reference_named
from autograder.judge.review.reader import Reader

__all__ = ["review_submission"]

SIMILAR = 0.9
# How deep the review may read a cell's syntax tree, in Python frames (a sum of
# 1,000 terms is 1,000 levels; Python's own limit of 1,000 frames stopped the
# whole class's grading at that). A cell deeper than this, or than Python's
# parser takes, cannot be reviewed: it costs every test of the notebook.
READ_DEPTH = 20_000


def _nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@functools.lru_cache(maxsize=4096)
def _python(source: str) -> str:
    """Cell source as plain Python (IPython's %magics and !commands translated).

    Remembered: most cells of a class's submissions are the same text.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


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
                    reference = reference_named(node.name)
                    if reference is not None:
                        names[node.name] = reference
            exercises[current] = (names, [])
        elif meta.get("grade") and current is not None:
            exercises[current][1].append(meta["grade_id"])
    return exercises


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
            review.flags.append(stopped(label, f"at this cell, after {max_chars:,} "
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
    reader = Reader(aliases, reached, label, student, exercise, references)
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
