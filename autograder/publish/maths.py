"""Maths on the feedback pages, typeset as the notebook shows it, offline.

A notebook's markdown holds TeX (``$x_1$``, ``$$x\\,y$$``, ``\\(...\\)``,
``\\begin{align}...``). The pages turn it into MathML when they are written
(``latex2mathml``, pure Python): the browser draws MathML itself (Chromium,
Firefox and Safari do), so a page needs no script, no font and no network to
show its maths, stays one self-contained file, and a screen reader reads the
maths as maths. The TeX stays in the page as the MathML's annotation, and
when a formula cannot be converted it is shown as its TeX, as code.

The markdown is parsed by nbconvert's own parser (``MarkdownWithMath``, the one
JupyterLab's exports and formgrader use), so what counts as maths is what the
notebook treats as maths, a ``$`` inside code stays code, and a TeX escape
(``x\\,W``) reaches the converter intact. Everything else is escaped: HTML a
student typed is shown as text, never run.

Plain ``nbgrader generate_feedback`` gets the same through
``autograder.publish.exporter.FeedbackExporter`` (which says why MathML, not MathJax).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from markupsafe import Markup, escape
from nbconvert.filters.markdown_mistune import InvalidNotebook, IPythonRenderer, MarkdownWithMath

__all__ = ["markdown_html", "tex_to_mathml"]

#: The MathML elements latex2mathml writes; a formula using any other is shown as TeX.
MATHML_ELEMENTS = frozenset(
    "math semantics annotation mrow mi mn mo ms mspace mtext msub msup msubsup mfrac msqrt "
    "mroot mover munder munderover mtable mtr mtd mlabeledtr mstyle mpadded mphantom menclose "
    "merror mfenced mmultiscripts mprescripts none maligngroup malignmark".split())
#: Their attributes that only change the layout (no link, no style sheet, no event).
MATHML_ATTRIBUTES = frozenset(
    "display mathvariant stretchy fence separator lspace rspace width height depth "
    "columnalign rowalign columnspacing rowspacing columnlines rowlines frame framespacing "
    "linethickness accent accentunder movablelimits minsize maxsize largeop symmetric notation "
    "mathcolor mathbackground mathsize displaystyle scriptlevel encoding open close separators "
    "form align equalrows equalcolumns voffset bevelled numalign denomalign".split())


#: How latex2mathml writes a symbol into an element's text (its own ``convert`` unescapes
#: the whole serialized string, which would also unescape a ``<`` in ``\\text{}``).
_CHARACTER_REFERENCE = re.compile(r"&#x([0-9A-Fa-f]{1,6});")


def _character(match: re.Match) -> str:
    code = int(match[1], 16)
    return chr(code) if 0 < code <= 0x10FFFF else match[0]


def _is_plain_mathml(root: ElementTree.Element) -> bool:
    """Whether every element and attribute is layout only (``\\href`` makes a link: no)."""
    return all(node.tag in MATHML_ELEMENTS and set(node.attrib) <= MATHML_ATTRIBUTES
               for node in root.iter())


def tex_to_mathml(tex: str, display: bool = False) -> Markup:
    """One formula as MathML, its TeX kept as the annotation; as TeX in ``<code>`` if
    it cannot be converted or would hold more than layout."""
    try:
        from latex2mathml.converter import convert_to_element

        root = convert_to_element(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds on TeX it does not know
        root = None
    if root is not None:
        root.attrib.pop("xmlns", None)  # HTML puts <math> in MathML's namespace by itself
    if root is None or not _is_plain_mathml(root):
        delimiter = "$$" if display else "$"
        return Markup('<code class="tex">{}</code>').format(f"{delimiter}{tex}{delimiter}")
    for node in root.iter():
        node.text = node.text and _CHARACTER_REFERENCE.sub(_character, node.text)
    semantics = ElementTree.Element("semantics")
    semantics.extend(list(root))
    annotation = ElementTree.SubElement(semantics, "annotation", encoding="application/x-tex")
    annotation.text = tex
    root[:] = [semantics]
    return Markup(ElementTree.tostring(root, encoding="unicode", short_empty_elements=False))


class _MathMLRenderer(IPythonRenderer):
    """nbconvert's renderer with the student's HTML escaped and maths as MathML."""

    def __init__(self, attachments: dict | None = None) -> None:
        # allow_harmful_protocols=None: no javascript: link (mistune's default;
        # nbconvert's renderer allows them).
        super().__init__(escape=True, allow_harmful_protocols=None, exclude_anchor_links=True,
                         attachments=attachments or {})

    def block_math(self, body: str) -> str:
        return str(tex_to_mathml(body.strip(), display=True))

    def inline_math(self, body: str) -> str:
        return str(tex_to_mathml(body.strip()))

    def latex_environment(self, name: str, body: str) -> str:
        return str(tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True))

    def image(self, text: str, url: str, title: str | None = None) -> str:
        try:
            return super().image(text, url, title)
        except InvalidNotebook:  # an attachment the cell does not have: its alt text only
            return str(escape(text))


def markdown_html(text: str, attachments: dict | None = None) -> Markup:
    """Markdown to HTML, with any raw HTML in it escaped (shown, never run) and its
    maths as MathML."""
    return Markup(MarkdownWithMath(renderer=_MathMLRenderer(attachments)).render(text))
