"""Reading a name from the notebook's namespace, for the tests that grade one exercise
alone (``in_place_of`` swaps names in that namespace while they run)."""

from __future__ import annotations

from typing import Any

__all__ = ["from_notebook"]


def from_notebook(namespace: dict, name: str) -> Any:
    """The notebook's ``name``, as the cell's own code would read it."""
    if name not in namespace:
        raise NameError(f"name {name!r} is not defined: run the cell that defines it first")
    return namespace[name]
