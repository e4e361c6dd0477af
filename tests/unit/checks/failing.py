"""What the checks' unit tests share: a check that must fail with a given message."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def fails(message_part: str) -> Iterator[pytest.ExceptionInfo]:
    """The check fails and its message, read as one line, matches ``message_part``
    (a message's first line is kept short: the rest of it is indented below)."""
    with pytest.raises(AssertionError) as failure:
        yield failure
    message = str(failure.value).replace("\n  ", " ")
    assert re.search(message_part, message), f"{message_part!r} not in:\n{failure.value}"
