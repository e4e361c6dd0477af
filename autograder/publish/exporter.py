"""Plain ``nbgrader generate_feedback``'s pages, readable offline like ours.

``c.GenerateFeedback.exporter_class`` (nbgrader_config.py) names ``FeedbackExporter``:
nbgrader's own feedback page, with its markdown rendered as our pages render it
(``autograder.publish.maths``: maths as MathML, a student's HTML escaped), no
MathJax script from a CDN, long lines wrapped, and a text alternative on every figure.

Why MathML made when the page is written rather than a MathJax shipped with the
course (``jupyter-server-mathjax``'s files, with ``HTMLExporter.mathjax_url`` pointing
at them): nbgrader's feedback template calls nbconvert's ``mathjax()`` macro without
the URL, so that setting never reaches its pages (they would still load the CDN's);
and MathJax 2 loads dozens of files as the page is read, so every released page
would need a MathJax tree beside it, where a student opening the one HTML file
nbgrader's fetch_feedback gives them would not have it. MathML needs no script and
no file: the page stays one self-contained file, like ours.

It also keeps plain ``generate_feedback`` from replacing a page ``python -m
autograder feedback`` wrote, and gives a rejected submission the course's page
(``autograder.publish.course_pages``).
"""

from __future__ import annotations

import copy
from typing import Any

from jinja2 import DictLoader, pass_context
from nbconvert.exporters import HTMLExporter
from traitlets import default

from autograder.publish.alt_text import figure_alt
from autograder.publish.maths import markdown_html

__all__ = ["FeedbackExporter"]


#: Stands in for nbconvert's mathjax.html.j2 in FeedbackExporter's templates: where
#: the page would load MathJax from a CDN, the style its MathML and long lines need,
#: and links that keep a 4.5:1 contrast and an underline (axe-core's rules; "body"
#: outranks the rules of nbgrader's own <style>, which comes after this one).
_OFFLINE_HEAD = """{%- macro mathjax(url="") -%}
<style>
math[display="block"] { display: block math; margin: .6em 0; }
body pre { white-space: pre-wrap; overflow-wrap: anywhere; }
body .rendered_html, body .text_cell_render { overflow-wrap: break-word; }
body a { color: #1d4f7c; text-decoration: underline; }
body div.nbgrader_cell .panel-heading a { color: #fff; }
</style>
{%- endmacro -%}
"""


class FeedbackExporter(HTMLExporter):
    """Plain ``nbgrader generate_feedback``'s exporter (see the module).

    ``c.GenerateFeedback.exporter_class`` names it in nbgrader_config.py;
    everything nbgrader configures for ``HTMLExporter`` applies to it too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The course's pages kept, and a rejected submission's page the course's
        # (autograder.publish.course_pages): nbgrader's converter is this exporter's parent.
        from autograder.publish.course_pages import install

        install(self.parent, self.log)

    @default("extra_loaders")
    def _offline_head(self) -> list:
        # Searched before every template folder: replaces the MathJax macro in all.
        return [DictLoader({"mathjax.html.j2": _OFFLINE_HEAD})]

    def from_notebook_node(self, nb: Any, resources: dict | None = None,
                           **kw: Any) -> tuple[str, dict]:
        nb = copy.deepcopy(nb)
        _describe_figures(nb)
        page, resources = super().from_notebook_node(nb, resources, **kw)
        # nbgrader's template opens <html> without the page's language.
        return page.replace("<html>", '<html lang="en">', 1), resources

    @pass_context
    def markdown2html(self, context: Any, source: str) -> str:
        """A markdown cell as our pages render it: maths as MathML, HTML escaped."""
        cell = context.get("cell", {})
        return str(markdown_html(source, cell.get("attachments", {})))


def _describe_figures(nb: Any) -> None:
    """Each figure's text alternative where nbconvert's template reads it (its output's
    metadata), unless the notebook gives one."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                meta = output.setdefault("metadata", {}).setdefault("image/png", {})
                meta.setdefault("alt", figure_alt(cell, output["data"]))
