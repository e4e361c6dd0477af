"""The pages' templates: Jinja2, with every value a template prints escaped.

The feedback pages and the class report are templates in
``autograder/publish/templates/`` (shipped as package data), read through the
installed package (``PackageLoader``), never the working directory.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from jinja2 import Environment, PackageLoader, StrictUndefined
from jinja2.ext import Extension
from jinja2.lexer import TOKEN_DATA, Token, TokenStream
from markupsafe import Markup

__all__ = ["TEMPLATES", "render_template"]

_LINE_BREAK = re.compile(r"\n[ \t]*")


class _OneLine(Extension):
    """A page template's line breaks, with the indentation after them, are layout only.

    The pages are HTML on one line, as they always were; their templates are
    written across lines to be read. Spaces inside a line are kept, and only
    the template's own text is touched, never a value it prints (a student's
    code keeps its lines). Templates not named ``*.html.j2`` (the feedback's
    style sheet) keep their line breaks.
    """

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        unwrap = (stream.name or "").endswith(".html.j2")
        for token in stream:
            if unwrap and token.type == TOKEN_DATA:
                token = Token(token.lineno, TOKEN_DATA, _LINE_BREAK.sub("", token.value))
            yield token


def _escaped(value: object) -> object:
    """Every value a template prints: HTML made on purpose (``Markup``, a macro's output)
    as it is, anything else as text, escaped.

    Autoescape would escape it too, with markupsafe; escaping it first with
    ``html.escape`` keeps the pages byte for byte as they were (quotes as
    ``&quot;`` and ``&#x27;``, markupsafe's ``&#34;`` and ``&#39;``). A variable
    a template does not have raises (``StrictUndefined``), never prints "".
    """
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value)))


TEMPLATES = Environment(loader=PackageLoader("autograder.publish", "templates"), autoescape=True,
                        undefined=StrictUndefined, finalize=_escaped,
                        keep_trailing_newline=True, extensions=[_OneLine])
TEMPLATES.filters["fmt"] = format  # {{ x|fmt("g") }} is f"{x:g}"


def render_template(name: str, **context: object) -> str:
    """The template ``name`` of autograder/publish/templates/ rendered with ``context``."""
    return TEMPLATES.get_template(name).render(**context)
