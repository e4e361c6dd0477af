"""A recording drawn as SVG, written as an HTML table, and as plain text.

Everything here is text made from the recording alone (no time, no random
ids), so the same graph gives the same output on every run: nbval compares
it. Every name a student chose is escaped.
"""

from __future__ import annotations

from html import escape

from miniflow.stepper.record import GradientCheck, Recording, format_number

__all__ = ["svg", "table_html", "static_html", "plain_text", "verdict", "STATIC_CSS"]

BOX_WIDTH, BOX_HEIGHT = 160, 66
GAP_X, GAP_Y, MARGIN = 56, 22, 12
WRONG = "#c62828"

STATIC_CSS = """
.mf-stepper-table { border-collapse: collapse; font-size: 13px; margin-top: 6px; }
.mf-stepper-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
.mf-stepper-table th, .mf-stepper-table td { border: 1px solid #bbb; padding: 2px 6px;
  text-align: left; vertical-align: top; }
.mf-stepper-table tr.mf-current { background: #fff3c4; color: #000; }
.mf-stepper-table td.mf-wrong { color: #b71c1c; font-weight: 600; }
"""


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _layout(recording: Recording) -> list[tuple[int, int]]:
    """(x, y) of each box: one column per depth, inputs on the left."""
    depth: list[int] = []
    for ins in recording.inputs:  # topological order: inputs have their depth already
        depth.append(1 + max((depth[j] for j in ins), default=-1))
    rows: dict[int, int] = {}
    places = []
    for column in depth:
        row = rows.get(column, 0)
        rows[column] = row + 1
        places.append((MARGIN + column * (BOX_WIDTH + GAP_X),
                       MARGIN + row * (BOX_HEIGHT + GAP_Y)))
    return places


def verdict(recording: Recording) -> str:
    """One sentence: how many gradients were checked and how many are wrong."""
    if not recording.checks:
        return "Gradients not checked."
    wrong = [c for c in recording.checks if not c.ok]
    rule = (f"(central differences; tolerance {recording.tolerance:g} on the relative error, "
            f"floor {recording.floor:g})")
    if not wrong:
        return f"Gradient check: all {len(recording.checks)} gradients agree {rule}."
    names = ", ".join(dict.fromkeys(recording.labels[c.node] for c in wrong))
    return (f"Gradient check: {len(wrong)} of {len(recording.checks)} gradients are wrong, "
            f"at {names} {rule}.")


def svg(recording: Recording, step_index: int | None = None) -> str:
    """The graph after step ``step_index`` (the last when None), the current node marked."""
    step = recording.steps[-1 if step_index is None else step_index]
    shown = len(recording.steps) if step_index is None else step_index + 1
    backward_done = {s.node for s in recording.steps[:shown] if s.phase == "backward"}
    wrong = recording.wrong_nodes() & backward_done
    places = _layout(recording)
    width = max(x for x, _ in places) + BOX_WIDTH + MARGIN
    height = max(y for _, y in places) + BOX_HEIGHT + MARGIN
    current = None if step_index is None else step.node
    title = (f"Graph of {len(places)} nodes" +
             ("" if current is None else
              f"; step {step_index + 1}: {step.phase} at {recording.labels[current]}"))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="mf-graph" role="img" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'font-family="sans-serif" font-size="12">',
             f"<title>{escape(title)}</title>"]
    for i, ins in enumerate(recording.inputs):
        x2, y2 = places[i][0], places[i][1] + BOX_HEIGHT // 2
        for j in dict.fromkeys(ins):
            x1, y1 = places[j][0] + BOX_WIDTH, places[j][1] + BOX_HEIGHT // 2
            parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2 - 8}" y2="{y2}" '
                         'stroke="#666" stroke-width="1.5"/>')
            parts.append(f'<polygon points="{x2},{y2} {x2 - 9},{y2 - 5} {x2 - 9},{y2 + 5}" '
                         'fill="#666"/>')
    for i, (x, y) in enumerate(places):
        is_current, is_wrong = i == current, i in wrong
        fill = "#fff3c4" if is_current else "#ffffff"
        stroke = WRONG if is_wrong else ("#000000" if is_current else "#555555")
        dash = ' stroke-dasharray="6 3"' if is_wrong else ""
        width_line = 3.5 if is_current or is_wrong else 1.2
        label = recording.labels[i]
        kind = recording.kinds[i]
        heading = label if label.startswith(kind) else f"{label} ({kind})"
        marker = "▶ " if is_current else ""
        gradient = step.short_gradients[i]
        parts.append(f'<g class="mf-node{" mf-current" if is_current else ""}'
                     f'{" mf-wrong" if is_wrong else ""}" data-node="{i}">')
        parts.append(f'<rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" '
                     f'fill="{fill}" stroke="{stroke}" stroke-width="{width_line}"{dash}/>')
        parts.append(f'<text x="{x + 8}" y="{y + 17}" font-weight="bold" fill="#000">'
                     f"{escape(_clip(marker + heading, 24))}</text>")
        parts.append(f'<text x="{x + 8}" y="{y + 36}" fill="#000">value '
                     f"{escape(_clip(step.short_values[i], 17))}</text>")
        if gradient:
            mark = " ✗ wrong" if is_wrong else ""
            colour = WRONG if is_wrong else "#0d47a1"
            parts.append(f'<text x="{x + 8}" y="{y + 55}" fill="{colour}">grad '
                         f"{escape(_clip(gradient, 14))}{mark}</text>")
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _check_text(checks: list[GradientCheck]) -> tuple[str, bool]:
    if not checks:
        return "", False
    wrong = [c for c in checks if not c.ok]
    if not wrong:
        worst = max(c.relative_error for c in checks)
        return f"✓ agrees with central differences (rel. error ≤ {format_number(worst)})", False
    return " ".join(f"✗ WRONG: {c.message}; computed {c.analytic}, estimate {c.numerical}."
                    for c in wrong), True


def table_html(recording: Recording, current: int | None = None) -> str:
    """Every step as a table row, with a caption (the text alternative of the drawing)."""
    output = recording.labels[recording.output]
    rows = [f'<table class="mf-stepper-table"><caption>Forward and backward pass of '
            f"{escape(output)}, one node at a time: {len(recording.steps)} steps. "
            f"{escape(verdict(recording))}</caption>",
            '<thead><tr><th scope="col">Step</th><th scope="col">Pass</th>'
            '<th scope="col">Node</th><th scope="col">What happened</th>'
            '<th scope="col">Gradient check</th></tr></thead><tbody>']
    for k, step in enumerate(recording.steps):
        checks = recording.checks_of(step.node) if step.phase == "backward" else []
        check, wrong = _check_text(checks)
        cell = '<td class="mf-wrong">' if wrong else "<td>"
        attributes = f' data-step="{k}"'
        if k == current:
            attributes += ' class="mf-current" aria-current="step"'
        rows.append(f"<tr{attributes}><td>{k + 1}</td><td>{escape(step.phase)}</td>"
                    f"<td>{escape(recording.labels[step.node])}</td>"
                    f"<td>{escape(step.title)}</td>"
                    f"{cell}{escape(check)}</td></tr>")
    rows.append("</tbody></table>")
    for note in recording.notes:
        rows.append(f"<p>{escape(note)}</p>")
    return "".join(rows)


def static_html(recording: Recording) -> str:
    """Where widgets do not run: the finished graph and the table of all steps."""
    return (f'<div class="mf-stepper-static"><style>{STATIC_CSS}</style>'
            f"<p>{escape(verdict(recording))}</p>{svg(recording)}"
            f"{table_html(recording)}</div>")


def plain_text(recording: Recording) -> str:
    """The steps as lines of text (for text/plain and print)."""
    lines = [f"Step-through of {recording.labels[recording.output]}: "
             f"{len(recording.steps)} steps.", verdict(recording)]
    for k, step in enumerate(recording.steps):
        lines.append(f"{k + 1:>3}  {step.phase:<8}  {step.title}")
        if step.phase == "backward":
            lines.extend(f"{'':>15}{'✗ WRONG: ' + c.message}"
                         for c in recording.checks_of(step.node) if not c.ok)
    lines.extend(recording.notes)
    return "\n".join(lines)
