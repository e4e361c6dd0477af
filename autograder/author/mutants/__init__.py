"""The mutant library: realistic wrong implementations, one file per assignment.

``autograder/author/mutants/m<assignment>.py`` (a module name cannot start with a
digit) defines ``MUTANTS``, a list of
``Mutant(cell, description, source, also=())``: ``cell`` is the grade id of
the solution cell the mutant replaces, ``source`` is what a student might
have written there instead, ``also`` the further test cells it may fail
because it is wrong there too. The self-check runs the solution notebook with each
mutant in place; a mutant whose notebook still passes every graded test cell
is a hole in the hidden tests.

    python -m autograder.author.mutants 02_layers     # run one assignment's mutants
"""

from __future__ import annotations

import importlib
import textwrap
from dataclasses import dataclass

__all__ = ["Mutant", "load_mutants"]


@dataclass(frozen=True)
class Mutant:
    """A known-wrong replacement for one solution cell.

    One mistake should cost one exercise: a mutant may lose points in one test
    cell, plus those in ``also``: the test cells of the other places it is
    wrong in (a loss that sums instead of averaging in both its forward and
    its backward, say), or that cannot run at all without what it broke (a
    ``Tensor`` operation that returns no ``Tensor`` has no backward to test).
    The self-check fails a mutant that costs more.
    """

    cell: str
    description: str
    source: str
    also: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", textwrap.dedent(self.source).strip("\n"))

    @property
    def name(self) -> str:
        return f"{self.cell}: {self.description}"


def load_mutants(assignment: str) -> list[Mutant]:
    """The mutants of one assignment ([] when it has none yet)."""
    try:
        module = importlib.import_module(f"autograder.author.mutants.m{assignment}")
    except ModuleNotFoundError as error:
        if error.name == f"autograder.author.mutants.m{assignment}":
            return []
        raise
    return list(module.MUTANTS)
