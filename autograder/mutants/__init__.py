"""The mutant library: realistic wrong implementations, one file per assignment.

``autograder/mutants/m<assignment>.py`` (a module name cannot start with a
digit) defines ``MUTANTS``, a list of
``Mutant(cell, description, source)``: ``cell`` is the grade id of the
solution cell the mutant replaces, ``source`` is what a student might have
written there instead. The self-check runs the solution notebook with each
mutant in place; a mutant whose notebook still passes every graded test cell
is a hole in the hidden tests.

    python -m autograder.mutants 02_layers     # run one assignment's mutants
"""

from __future__ import annotations

import importlib
import textwrap
from dataclasses import dataclass

__all__ = ["Mutant", "load_mutants"]


@dataclass(frozen=True)
class Mutant:
    """A known-wrong replacement for one solution cell."""

    cell: str
    description: str
    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", textwrap.dedent(self.source).strip("\n"))

    @property
    def name(self) -> str:
        return f"{self.cell}: {self.description}"


def load_mutants(assignment: str) -> list[Mutant]:
    """The mutants of one assignment ([] when it has none yet)."""
    try:
        module = importlib.import_module(f"autograder.mutants.m{assignment}")
    except ModuleNotFoundError as error:
        if error.name == f"autograder.mutants.m{assignment}":
            return []
        raise
    return list(module.MUTANTS)
