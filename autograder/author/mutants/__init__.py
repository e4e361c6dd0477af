"""The mutant library: realistic wrong implementations, one file per assignment.

``autograder/author/mutants/m<assignment>.py`` (a module name cannot start with a
digit) defines ``MUTANTS``, a list of
``Mutant(cell, description, patches, also=())``: ``cell`` is the grade id of
the solution cell the mutant edits, ``patches`` the ``(old, new)`` edits of
that cell that make it what a student might have written instead, ``also`` the
further test cells it may fail because it is wrong there too. The self-check
runs the solution notebook with each mutant in place; a mutant whose notebook
still passes every graded test cell is a hole in the hidden tests.

A mutant is an edit of the solution, never a copy of it: when the solution
changes, its mutants follow, and a patch whose ``old`` text is gone fails
loudly (``MutantError``) instead of testing yesterday's solution. Patches that
several mutants of a file share (how they were written apart from their
mistake: a line wrapped, a blank line) are constants before ``MUTANTS``,
given as ``_NAME`` (one patch) or ``*_NAME`` (a list of them).

    python -m autograder.author.mutants 02_layers     # run one assignment's mutants
"""

from __future__ import annotations

import ast
import importlib
import io
import os
import re
import tokenize
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat

from autograder.core.manifest import load_manifest

__all__ = ["Mutant", "MutantError", "Patch", "load_mutants", "solution_code"]

#: ``(old, new)``: ``old`` as it stands in the solution cell's code, ``new`` what replaces it.
Patch = tuple[str, str]

_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


class MutantError(ValueError):
    """A mutant that cannot be applied to its solution cell."""


def solution_code(cell: str) -> str:
    """The code of a solution cell, as mutants edit it: without nbgrader's
    ``### BEGIN/END SOLUTION`` markers, without its docstrings (and the blank lines
    after them) and without its comments.

    A mistake is in the code; the instructor's prose around it is left out of
    the mutants (as the mutants have always been written).
    """
    lines = [line for line in cell.split("\n") if not _MARKER.match(line)]
    code = "\n".join(lines)
    dropped: set[int] = set()  # line numbers, from 1
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
                isinstance(first.value.value, str) and first.end_lineno is not None and \
                first.lineno > node.lineno:
            dropped.update(range(first.lineno, first.end_lineno + 1))
            after = first.end_lineno + 1
            while after <= len(lines) and not lines[after - 1].strip():
                dropped.add(after)
                after += 1
    comments = {token.start[0]: token.start[1]
                for token in tokenize.generate_tokens(io.StringIO(code).readline)
                if token.type == tokenize.COMMENT}
    kept = []
    for number, line in enumerate(lines, start=1):
        if number in dropped:
            continue
        if number in comments:
            line = line[:comments[number]].rstrip()
            if not line:
                continue
        kept.append(line)
    return "\n".join(kept)


def _is_block(text: str) -> bool:
    return "\n" in text


def _block_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """A block patch's lines: blank lines emptied, the blank lines at either end
    dropped, the indentation that all of old's and new's lines share removed (so
    that new keeps its indentation relative to old; a one-line new is not indented)."""

    def lines(text: str) -> list[str]:
        found = [line if line.strip() else "" for line in text.split("\n")]
        while found and not found[0]:
            found.pop(0)
        while found and not found[-1]:
            found.pop()
        return found

    old_lines, new_lines = lines(old), lines(new)
    shared = old_lines + new_lines if _is_block(new) else old_lines
    indents = [line[:len(line) - len(line.lstrip())] for line in shared if line]
    margin = len(os.path.commonprefix(indents))
    if _is_block(new):
        new_lines = [line[margin:] for line in new_lines]
    return [line[margin:] for line in old_lines], new_lines


def _block_pattern(lines: list[str]) -> re.Pattern[str]:
    """Whole lines, each ending with its line break, at one indentation (the group
    ``indent``); a line ``...`` (at any indentation) stands for any lines (as few
    as will do)."""
    parts, indent = [], r"(?P<indent>[ \t]*)"
    for line in lines:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        elif not line:
            parts.append(r"[ \t]*\n")
        else:
            parts.append(indent + re.escape(line) + r"\n")
            indent = "(?P=indent)"
    return re.compile("".join(parts))


@dataclass(frozen=True)
class Mutant:
    """A known-wrong version of one solution cell, written as edits of it.

    ``patches`` are ``(old, new)`` pairs, applied in order to the solution
    cell's code (``solution_code``: no solution markers, docstrings or
    comments), each to the code as the patches before it left it, where its
    ``old`` must occur exactly once.

    * Text without a line break (a plain string) is taken as it is: ``old``
      is found anywhere in a line and replaced by ``new``, also one line.
    * Text with line breaks (a triple-quoted block, even of one line,
      indented as the code around it in the mutant file) stands for whole
      lines at any one indentation: ``old``'s lines are found in the cell at
      an indentation, and replaced by ``new``'s, indented alike (keeping
      their indentation relative to ``old``'s); an empty ``new`` deletes
      them. Blank lines at either end of a block do not count. A line
      ``...`` in ``old`` stands for the lines between the ones around it (as
      few as will do): a mutant that rewrites a whole function need not
      copy it.

    One mistake should cost one exercise: a mutant may lose points in one test
    cell, plus those in ``also``: the test cells of the other places it is
    wrong in (a loss that sums instead of averaging in both its forward and
    its backward, say), or that cannot run at all without what it broke (a
    ``Tensor`` operation that returns no ``Tensor`` has no backward to test).
    The self-check fails a mutant that costs more.

    ``load_mutants`` binds each mutant to its solution cell: its ``source`` is
    then the whole cell as the mutant has it.
    """

    cell: str
    description: str
    patches: tuple[Patch, ...]
    also: tuple[str, ...] = ()
    _source: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        patches = tuple(self.patches)
        if not patches:
            raise MutantError(f"mutant {self.name!r}: no patches (a mutant must change its "
                              "solution cell)")
        for patch in patches:
            if not (isinstance(patch, tuple) and len(patch) == 2 and
                    all(isinstance(text, str) for text in patch)):
                raise MutantError(f"mutant {self.name!r}: a patch must be an (old, new) pair of "
                                  f"strings, not {patch!r}")
            old, new = patch
            if not old.strip():
                raise MutantError(f"mutant {self.name!r}: a patch's old text is empty (an "
                                  "insertion needs a line it goes next to)")
            old_lines = _block_lines(old, new)[0] if _is_block(old) else []
            if old_lines and "..." in (old_lines[0].strip(), old_lines[-1].strip()):
                raise MutantError(f"mutant {self.name!r}: the old text {old!r} starts or ends "
                                  "with '...' (it stands for the lines between two others)")
            if _is_block(new) and not _is_block(old):
                raise MutantError(f"mutant {self.name!r}: the one-line old text {old!r} is "
                                  "replaced within its line, so its new text must be one line "
                                  "too (write old as a block of whole lines)")
        object.__setattr__(self, "patches", patches)
        object.__setattr__(self, "also", tuple(self.also))

    @property
    def name(self) -> str:
        return f"{self.cell}: {self.description}"

    @property
    def source(self) -> str:
        """The whole solution cell as this mutant has it (once ``load_mutants`` bound it)."""
        if self._source is None:
            raise MutantError(f"mutant {self.name!r} is not bound to its solution cell: load it "
                              "with load_mutants(assignment), or call apply(solution_cell)")
        return self._source

    def apply(self, solution: str) -> str:
        """``solution`` (the solution cell's source) with this mutant's patches applied."""
        try:
            code = solution_code(solution)
        except SyntaxError as error:
            raise MutantError(f"mutant {self.name!r}: solution cell {self.cell!r} is not Python "
                              f"({error})") from None
        text = code + "\n"  # every line ends with a line break, the last one too
        for old, new in self.patches:
            start, end, replacement = self._locate(text, old, new)
            text = text[:start] + replacement + text[end:]
        return text[:-1]

    def bound(self, solution: str) -> Mutant:
        """This mutant with its ``source``: ``solution`` (its solution cell) patched."""
        copy = replace(self)
        object.__setattr__(copy, "_source", self.apply(solution))
        return copy

    def _locate(self, text: str, old: str, new: str) -> tuple[int, int, str]:
        """Where ``old`` stands in ``text`` (exactly once): (start, end, its replacement)."""
        if not _is_block(old):
            found = [m.start() for m in re.finditer(f"(?={re.escape(old)})", text)]
            self._once(old, len(found))
            return found[0], found[0] + len(old), new
        old_lines, new_lines = _block_lines(old, new)
        pattern = _block_pattern(old_lines)
        starts = [0] + [m.end() for m in re.finditer("\n", text[:-1])]
        found = [m for m in (pattern.match(text, at) for at in starts) if m]
        self._once(old, len(found))
        indent = found[0].group("indent")
        replacement = "".join(f"{indent}{line}\n" if line else "\n" for line in new_lines)
        return found[0].start(), found[0].end(), replacement

    def _once(self, old: str, count: int) -> None:
        if count == 1:
            return
        where = (f"is not in solution cell {self.cell!r}" if count == 0 else
                 f"occurs {count} times in solution cell {self.cell!r} (give it more context)")
        raise MutantError(f"mutant {self.name!r}: the old text {old!r} {where}; a patch edits "
                          "the cell's code (without its solution markers, docstrings and "
                          "comments: see solution_code) as the patches before it left it")


def load_mutants(assignment: str,
                 solution: str | Path | nbformat.NotebookNode | None = None) -> list[Mutant]:
    """The mutants of one assignment ([] when it has none yet), each bound to its cell
    of ``solution``, the solution notebook (a path, or the notebook read): by default
    ``source/<assignment>/<notebook>`` of the course around the working folder.

    Raises ``MutantError`` for a mutant that does not apply to its cell."""
    try:
        module = importlib.import_module(f"autograder.author.mutants.m{assignment}")
    except ModuleNotFoundError as error:
        if error.name == f"autograder.author.mutants.m{assignment}":
            return []
        raise
    if solution is None:
        course = load_manifest()
        solution = course.root / "source" / assignment / \
            course.assignment(assignment).notebook_file
    notebook = solution if isinstance(solution, nbformat.NotebookNode) else \
        nbformat.read(solution, as_version=4)
    cells = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells
             if cell.metadata.get("nbgrader", {}).get("solution")}
    mutants = []
    for mutant in module.MUTANTS:
        if mutant.cell not in cells:
            raise MutantError(f"mutant {mutant.name!r}: {assignment}'s solution notebook has "
                              f"no solution cell {mutant.cell!r}")
        mutants.append(mutant.bound(cells[mutant.cell]))
    return mutants
