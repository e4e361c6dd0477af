"""Text a student wrote, made harmless where it leaves the grader: a CSV cell, a terminal.

Students choose much of what the grader writes out: a cell's ``grade_id``
(notebook metadata, which a flag is labelled with), the names of the files
and folders they hand in, and, through the learning-management system, the
names on the roster. None of it may become a formula in the instructor's
spreadsheet or a control sequence in the instructor's terminal.

* ``csv_cell`` applies OWASP's rule against CSV (formula) injection: a cell
  whose first character, or first character after leading blanks, is ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return gets a single quote in
  front, which spreadsheets show as text and never evaluate. Numbers the
  grader computed (an ``int``, a ``float``) are written as they are. The
  ``csv`` module, which every CSV writer of the project uses, quotes commas,
  quotes and line breaks, so the text reads back as it was.
* ``terminal_text`` shows every control character (C0, DEL, C1), the
  characters that reorder or break a line (Unicode bidirectional controls,
  line and paragraph separators) and undecodable bytes of a file name as a
  visible escape (``\\x1b``, ``\\n``, ``\\u202e``), so a field printed on a line
  stays that one line of plain text.

An ordinary name, id or note goes through both unchanged.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Collection, Mapping

__all__ = ["FORMULA_START", "csv_cell", "csv_row", "terminal_lines", "terminal_text"]

#: What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_START = frozenset("=+-@\t\r")

# Characters skipped when looking for a cell's first visible one: blanks and
# anything invisible (controls, zero-width and other format characters).
_INVISIBLE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                        r"\u2066-\u206f\ufeff]*")

# C0, DEL and C1 controls; Unicode's bidirectional controls and line/paragraph
# separators (they reorder or break what the terminal shows); lone surrogates
# (the undecodable bytes of a file name, which would stop print with an error).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
                          r"\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def csv_cell(value: object) -> str:
    """``value`` as the text of a CSV cell that no spreadsheet runs as a formula.

    A string that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return, or does after leading blanks or invisible characters, gets a
    single quote in front (once: a cell that starts with the quote already
    is safe). Numbers (``int``, ``float``, ``Decimal``) and ``None`` (an empty cell) are
    written as they are: the grader computed them. ``csv_cell("-2")`` is
    ``"'-2"``: text that looks like a number is still text from a student.
    """
    if value is None:
        return ""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text[:1] in FORMULA_START:
        return "'" + text
    visible = text[_INVISIBLE.match(text).end():]  # type: ignore[union-attr]
    if visible[:1] in FORMULA_START:
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    if text != text.strip():
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_row(row: Mapping[str, object], numeric: Collection[str] = ()) -> dict[str, str]:
    """Every cell of ``row`` through ``csv_cell``, except the numbers of ``numeric`` columns.

    A cell of a ``numeric`` column (a score, a penalty: written by the grader)
    that reads as a number is kept as it is, so that ``-1.5`` stays the
    number -1.5; anything else in it is treated as text.
    """
    return {key: value if key in numeric and isinstance(value, str) and _is_number(value)
            else csv_cell(value)
            for key, value in row.items()}


def _visible(match: re.Match[str]) -> str:
    character = match.group()
    code = ord(character)
    return _NAMED.get(character) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def terminal_text(value: object) -> str:
    """``value`` as one line of plain text for the terminal.

    Every control character (``\\x00``-``\\x1f``, ``\\x7f``, ``\\x80``-``\\x9f``),
    newlines and tabs included, the bidirectional controls, the line and
    paragraph separators and any undecodable byte of a file name is written
    as a visible escape: ``"\\x1b[2J"`` prints as ``\\x1b[2J``, never clearing
    the screen.
    """
    return _UNPRINTABLE.sub(_visible, "" if value is None else str(value))


def terminal_lines(text: object) -> str:
    """``terminal_text`` for each line of a message of several lines (an error, a report)."""
    return "\n".join(terminal_text(line) for line in str(text).split("\n"))
