"""What a student put in a notebook reaches the instructor as data, never as code.

nbgrader's formgrader renders a graded notebook as HTML in the instructor's
Jupyter origin: a student's ``<script>`` there could do anything the
instructor's browser can, such as open a terminal through the Jupyter API
(issue 29). Three ways in were found: a display output (an object with a
``_repr_html_`` or ``_repr_javascript_`` needs no import), HTML in a markdown
cell (``<img src=x onerror=...>``), and a student's name in the gradebook
(formgrader writes names into its page unescaped).

``SanitizeOutputs`` (an autograde preprocessor, ``nbgrader_config.py``) is
applied to every notebook written to ``autograded/``, by ``python -m
autograder grade`` and by plain ``nbgrader autograde`` alike:

* In display outputs (``display_data``, ``execute_result``), only the
  mimetypes that render as text or as a picture are kept: ``text/plain``,
  ``image/png``, ``image/jpeg`` (base64 only) and ``text/latex`` (escaped,
  then typeset by MathJax with its ``Safe`` extension). HTML, JavaScript,
  SVG, markdown, widgets and anything else are dropped; an output left
  with nothing says so in ``text/plain``. Streams and errors are kept as
  they are (they render escaped), and no output is ever removed or moved:
  a graded test cell's first output, the judge's verdict (plain text or an
  error), is untouched, so the scores nbgrader reads from the outputs do
  not change.
* A markdown cell the student could edit is rendered as nbconvert renders
  it, and the HTML that comes out is checked against what markdown alone
  produces (paragraphs, emphasis, lists, tables, code, headings, links to
  ``http``, ``https``, ``mailto`` and ``#`` anchors, images). Anything
  else (raw HTML, a ``javascript:`` or relative link, a mermaid block,
  an attachment that is missing) turns the cell into its own source shown
  as a code block, under a note that says why. Ordinary markdown and
  ``$math$`` are kept as they are. Attachments keep PNG, JPEG and GIF only.
  Locked cells whose source nbgrader restored from the gradebook are the
  instructor's and stay as they are.
* A raw cell the student could edit is escaped (it renders as its text).
* The notebook's widget state is dropped (the widget manager would render
  it as live HTML).

``FormgraderPage`` (``c.HTMLExporter.preprocessors``) does the same when
formgrader renders a submission, so a notebook graded before this existed
is safe too, and HTML-escapes the student's name, id and notebook path
there: formgrader's template writes them raw. The gradebook keeps names as
the roster gave them (``O'Brien`` stays ``O'Brien``); only that page's
copy is escaped, and it shows the same characters.
"""

from __future__ import annotations

import html
import re
from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from autograder.core.cells import is_test_cell

__all__ = ["SAFE_MIMETYPES", "FormgraderPage", "SanitizeOutputs", "markdown_is_safe",
           "sanitize_notebook"]

#: What a display output may keep: each renders as escaped text or as a picture.
SAFE_MIMETYPES = ("text/plain", "image/png", "image/jpeg", "text/latex")
#: What an attachment of a markdown cell may keep (shown in an <img>).
SAFE_ATTACHMENT_MIMETYPES = ("image/png", "image/jpeg", "image/gif")
_IMAGES = {"image/png", "image/jpeg", "image/gif"}
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")

#: The note of an output whose every representation was dropped.
DROPPED_NOTE = ("[{kinds} output not shown: rendered in the instructor's browser it "
                "could run code]")
#: The note above a markdown cell shown as its source.
MARKDOWN_NOTE = ("*[Shown as text by the grader: this markdown holds HTML or a link that "
                 "could run code in the instructor's browser.]*")


def _instructors(cell: Any) -> bool:
    """Whether ``cell`` is a locked cell nbgrader restored from the gradebook.

    nbgrader (``OverwriteCells``, before execution) looks each ``grade_id``
    up in the gradebook, deletes unknown ones, sets ``locked`` and the
    checksum from the gradebook and puts a locked cell's source back. So a
    locked cell with a ``grade_id`` whose checksum matches holds the
    instructor's source. ``locked`` alone proves nothing: a student may
    write it into a new cell's metadata.
    """
    from nbgrader.utils import compute_checksum, is_locked

    meta = cell.get("metadata", {}).get("nbgrader", {})
    if not (meta.get("grade_id") and meta.get("checksum")):
        return False
    try:
        return bool(is_locked(cell)) and compute_checksum(cell) == meta["checksum"]
    except Exception:  # a malformed cell is nobody's: check it
        return False


def _safe_data(mimetype: str, value: Any) -> bool:
    if mimetype not in SAFE_MIMETYPES:
        return False
    if mimetype in _IMAGES:  # the template writes it into src="data:...;base64,..."
        text = "".join(value) if isinstance(value, list) else value
        return isinstance(text, str) and _BASE64.fullmatch(text) is not None
    return True


def sanitize_output(output: Any, *, note: bool = True) -> bool:
    """Drop every mimetype of a display output that could run code; True if it changed.

    Only ``display_data`` and ``execute_result`` carry mimetypes; other
    outputs (streams, errors) are left as they are. An output left with no
    data gets a ``text/plain`` note, unless ``note`` is False.
    """
    if output.get("output_type") not in ("display_data", "execute_result"):
        return False
    data = output.get("data", {})
    dropped = [mimetype for mimetype, value in data.items() if not _safe_data(mimetype, value)]
    metadata = output.get("metadata", {})
    # "filenames" would stand in for a picture's data in the page (src="...").
    stray = [key for key in (*dropped, "filenames") if key in metadata]
    if not dropped and not stray:
        return False
    for mimetype in dropped:
        del data[mimetype]
    for key in stray:
        del metadata[key]
    if not data and note and dropped:
        data["text/plain"] = DROPPED_NOTE.format(kinds=", ".join(sorted(dropped)))
    return True


# --- markdown -------------------------------------------------------------------

# What nbconvert's markdown renderer makes of markdown without HTML in it.
_ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "img", "input", "li", "ol", "p", "pre", "s", "span", "strong",
    "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "input": {"class", "type", "disabled", "checked"},
    **{f"h{level}": {"id"} for level in range(1, 7)},
}
_CLASS_TAGS = {"a", "code", "div", "input", "li", "pre", "span"}
# A tag as the renderer writes one: lower-case names, double-quoted values with
# no quote or angle bracket inside (so a browser reads it exactly the same way).
_TAG = re.compile(r'<(/?)([a-z][a-z0-9]*)((?:\s+[a-z][a-z0-9-]*(?:="[^"<>]*")?)*)\s*/?>')
_ATTRIBUTE = re.compile(r'\s+([a-z][a-z0-9-]*)(?:="([^"<>]*)")?')
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_CLASS_VALUE = re.compile(r"[A-Za-z0-9_ -]*")
_STYLE_VALUE = re.compile(r"text-align:\s*(left|right|center)")
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=]*")


def _scheme(url: str) -> str | None:
    """The scheme a browser reads in an attribute's ``url`` (None: a relative URL)."""
    # Entities are decoded (java&#115;cript:), and browsers ignore tabs and
    # line breaks anywhere and controls around: take out every blank and control.
    plain = re.sub(r"[\x00-\x20\x7f-\x9f]", "", html.unescape(url)).lower()
    match = _SCHEME.match(plain)
    return match.group(1) if match else None


def _safe_attribute(tag: str, name: str, value: str | None) -> bool:
    if name == "class":
        return (tag in _CLASS_TAGS and value is not None and _CLASS_VALUE.fullmatch(value)
                is not None and "mermaid" not in value.lower())
    if name not in _ALLOWED_ATTRIBUTES.get(tag, ()):
        return False
    if name == "href":  # a click must not open the student's files or run a script
        if value is None:
            return False
        plain = re.sub(r"[\x00-\x20\x7f-\x9f]", "", html.unescape(value))
        return plain.startswith("#") or _scheme(value) in ("http", "https", "mailto")
    if name == "src":  # an <img> runs nothing; a data: URL must be a picture
        if value is None:
            return False
        scheme = _scheme(value)
        if scheme == "data":
            return _DATA_IMAGE.fullmatch(html.unescape(value).strip()) is not None
        return scheme in (None, "http", "https")
    if name == "style":
        return value is not None and _STYLE_VALUE.fullmatch(value.strip()) is not None
    if name == "type":
        return value == "checkbox"
    if name == "start":
        return value is not None and value.isdigit()
    return True  # id, title, alt, disabled, checked: text only


def html_is_markdown_only(rendered: str) -> bool:
    """Whether every tag of ``rendered`` is one markdown alone produces, with safe attributes."""
    position = 0
    while (start := rendered.find("<", position)) != -1:
        match = _TAG.match(rendered, start)
        if match is None:
            return False
        closing, tag, attributes = match.groups()
        if tag not in _ALLOWED_TAGS:
            return False
        if closing and attributes.strip():
            return False
        for attribute in _ATTRIBUTE.finditer(attributes):
            if not _safe_attribute(tag, attribute.group(1), attribute.group(2)):
                return False
        position = match.end()
    return True


def render_markdown(source: str, attachments: dict | None = None) -> str:
    """``source`` as nbconvert's HTML exporter (and so formgrader) renders a markdown cell."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    renderer = IPythonRenderer(escape=False, attachments=attachments or {})
    return MarkdownWithMath(renderer=renderer).render(source)


def markdown_is_safe(source: str, attachments: dict | None = None) -> bool:
    """Whether rendering ``source`` gives only what markdown alone gives (see the module)."""
    try:
        rendered = render_markdown(source, attachments)
    except Exception:  # a missing attachment, say: formgrader could not show it either
        return False
    return html_is_markdown_only(rendered)


def markdown_as_text(source: str) -> str:
    """``source`` as a fenced code block under ``MARKDOWN_NOTE``: it renders as its text."""
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{MARKDOWN_NOTE}\n\n{fence}\n{source}\n{fence}\n"


def _sanitize_attachments(cell: Any) -> bool:
    attachments = cell.get("attachments")
    if not attachments:
        return False
    changed = False
    for name in list(attachments):
        bundle = attachments[name]
        if not isinstance(bundle, dict):
            del attachments[name]
            changed = True
            continue
        for mimetype in list(bundle):
            value = bundle[mimetype]
            text = "".join(value) if isinstance(value, list) else value
            if mimetype not in SAFE_ATTACHMENT_MIMETYPES or not (
                    isinstance(text, str) and _BASE64.fullmatch(text)):
                del bundle[mimetype]
                changed = True
        if not bundle:
            del attachments[name]
            changed = True
    return changed


def sanitize_cell(cell: Any) -> bool:
    """Make one cell safe to render in the instructor's browser; True if it changed."""
    kind = cell.get("cell_type")
    if kind == "code":
        changed = False
        graded = is_test_cell(cell)
        for output in cell.get("outputs", []):
            # A graded test cell: nbgrader scores the first execute_result's
            # text/plain, so no note may stand in for one there (the judge's
            # verdict, first, is plain text and passes unchanged anyway).
            note = not (graded and output.get("output_type") == "execute_result")
            changed |= sanitize_output(output, note=note)
        return changed
    if kind not in ("markdown", "raw") or _instructors(cell):
        return False
    changed = _sanitize_attachments(cell)
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    if kind == "raw":
        if re.search(r"[<>&]", source):
            cell["source"] = html.escape(source, quote=False)
            return True
        return changed
    if markdown_is_safe(source, cell.get("attachments")):
        return changed
    text = markdown_as_text(source)
    # The fence keeps the source as code; if the renderer ever saw it differently,
    # the note alone stands (the source is still in submitted/).
    cell["source"] = text if markdown_is_safe(text) else MARKDOWN_NOTE
    cell.pop("attachments", None)
    return True


def sanitize_notebook(nb: Any) -> int:
    """Sanitize every cell of ``nb`` in place; the number of cells changed."""
    metadata = nb.get("metadata", {})
    metadata.pop("widgets", None)  # the widget manager renders its HTML widgets live
    return sum(1 for cell in nb.get("cells", []) if sanitize_cell(cell))


class SanitizeOutputs(Preprocessor):
    """The autograde step that makes a graded notebook safe to show (see the module).

    It goes after the executing preprocessor (it sees the outputs) and after
    SaveAutoGrades (scores come from the outputs as they were, although the
    verdicts nbgrader reads pass unchanged).
    """

    enabled = Bool(True, help="Sanitize what the student put in the notebook").tag(config=True)

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        changed = sanitize_notebook(nb)
        if changed:
            self.log.info("%d cell(s) hold output or markdown that could run code in the "
                          "instructor's browser: shown as text", changed)
        return nb, resources


#: Formgrader's page fields a student chooses (through the roster or a folder name),
#: which its template writes into the page unescaped.
PAGE_FIELDS = ("first_name", "last_name", "student", "notebook_path")


class FormgraderPage(SanitizeOutputs):
    """``c.HTMLExporter.preprocessors``: formgrader's submission page, made safe as it renders.

    The notebook is sanitized as ``SanitizeOutputs`` does (a notebook graded
    before it existed is covered too), and the page fields formgrader's
    template writes raw (``PAGE_FIELDS``) are HTML-escaped in this page's
    resources only; the page shows the same characters.
    """

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        sanitize_notebook(nb)
        if resources is not None and "submission_id" in resources:  # formgrader's page
            for field in PAGE_FIELDS:
                if isinstance(resources.get(field), str):
                    resources[field] = html.escape(resources[field], quote=True)
        return nb, resources
