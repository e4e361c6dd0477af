"""A text alternative for every figure a feedback page shows (a screen reader reads it
where a sighted student sees the picture)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["figure_alt"]

#: A figure's title as the cell's code sets it: ``title="..."``, ``set_title("...")``,
#: ``suptitle("...")`` (the course's plotting helpers take ``title=``).
_TITLE = re.compile(r"""\b(?:title|set_title|suptitle)\s*[=(]\s*f?(["'])(.+?)(?<!\\)\1""")
#: What matplotlib's text/plain says of every figure: no description.
_FIGURE_REPR = re.compile(r"<Figure size .*>")


def figure_alt(cell: Any, data: dict) -> str:
    """A figure's text alternative: the titles the cell's code gives it, else its
    text/plain output when that says more than matplotlib's ``<Figure size ...>``."""
    titles = [title for _, title in _TITLE.findall(cell.get("source", ""))]
    if titles:
        return "Figure: " + "; ".join(titles)
    text = str(data.get("text/plain", "")).strip()
    if text and not _FIGURE_REPR.fullmatch(text):
        return "Figure: " + text[:300]
    return f"A figure this cell drew ({text[1:-1]})" if text else "A figure this cell drew"
