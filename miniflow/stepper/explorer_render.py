"""Training runs drawn as loss curves (SVG), written as an HTML table, and as plain text.

Everything here is text made from the runs alone (no time, no random ids),
numbers to 4 significant digits, so the same runs give the same output on
every run of the notebook: nbval compares it. Whatever the student's code
produced (error messages, the repr of what ``train`` returned) is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from html import escape
from itertools import count
from typing import TYPE_CHECKING

from miniflow.stepper.record import format_number

if TYPE_CHECKING:
    from miniflow.stepper.runs import TrainingRun

__all__ = ["loss_svg", "table_html", "static_html", "plain_text", "epoch_ticks",
           "EXPLORER_CSS"]

WIDTH = 640
LEFT, RIGHT, TOP, PLOT_HEIGHT = 72, 620, 48, 240
BOTTOM = TOP + PLOT_HEIGHT
LEGEND_TOP, LEGEND_ROW = BOTTOM + 52, 18
# Okabe and Ito's colours (told apart with colour blindness), and a dash
# pattern per curve as well, so that no curve is told by its colour alone.
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
DASHES = ("", "8 4", "2 3", "10 3 2 3")
EMPTY = "No curves yet: choose a learning rate and a batch size, then press Add curve."

EXPLORER_CSS = """
.mf-explorer-table { border-collapse: collapse; font-size: 13px; margin-top: 6px; }
.mf-explorer-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
.mf-explorer-table th, .mf-explorer-table td { border: 1px solid #bbb; padding: 2px 6px;
  text-align: left; vertical-align: top; }
.mf-explorer-table td.mf-number { text-align: right; font-variant-numeric: tabular-nums; }
.mf-explorer-table td.mf-error, .mf-explorer-table td.mf-diverged { color: #b71c1c;
  font-weight: 600; }
"""


def _steps() -> Iterator[int]:
    for power in count():
        for mantissa in (1, 2, 5):
            yield mantissa * 10 ** power


def epoch_ticks(epochs: int, most: int = 10) -> list[int]:
    """Whole epochs to label, 1 and multiples of 1, 2, 5, 10, 20... up to ``epochs``."""
    step = next(s for s in _steps() if epochs // s <= most)
    return sorted({1, *range(step, epochs + 1, step)})


def _linear_ticks(low: float, high: float, most: int = 6) -> list[float]:
    raw = (high - low) / most
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [k * step for k in range(first, last + 1)]


def _log_ticks(low: float, high: float, most: int = 8) -> list[float]:
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    every = max(1, math.ceil((last - first) / most))
    decades = max(1, math.ceil((last - first) / every))
    return [10.0 ** (first + k * every) for k in range(decades + 1)]


def _ceiling(runs: Sequence[TrainingRun], log_scale: bool) -> float | None:
    """The top of the loss axis when some curve runs away, so that the others stay readable.

    A few times (linear axis) or a million times (log axis) the largest loss
    of the runs that neither diverged nor grew; None when there is no such run.
    """
    settled = [loss for run in runs if not run.grew and run.diverged_at is None
               for loss in run.losses]
    if not settled or max(settled) <= 0:
        return None
    return max(settled) * (1e6 if log_scale else 2.0)


def _value_ticks(runs: Sequence[TrainingRun], log_scale: bool) -> tuple[list[float], bool]:
    """The loss axis' ticks (first and last are its ends), and whether a curve is cut off."""
    values = [loss for run in runs for loss in run.finite_losses]
    if log_scale:
        values = [v for v in values if v > 0]
    if not values:
        return ([0.1, 1.0, 10.0] if log_scale else [0.0, 0.5, 1.0]), False
    low, high = min(values), max(values)
    ceiling = _ceiling(runs, log_scale)
    cut = ceiling is not None and high > ceiling
    high = ceiling if cut else high
    if log_scale:
        return _log_ticks(low, high), cut
    low = min(0.0, low)
    if high - low < 1e-12 * max(1.0, abs(high)):
        high = low + max(1.0, abs(low))
    return _linear_ticks(low, high), cut


def _below(points: list[tuple[float, float]], top: float) -> list[list[tuple[float, float]]]:
    """The pieces of a polyline below the line y = top (SVG's y grows downwards)."""
    pieces: list[list[tuple[float, float]]] = []
    piece: list[tuple[float, float]] = []
    for k, (x, y) in enumerate(points):
        if k and (y >= top) != (points[k - 1][1] >= top):   # crosses the top: cut there
            x0, y0 = points[k - 1]
            piece.append((x0 + (top - y0) / (y - y0) * (x - x0), top))
        if y >= top:
            piece.append((x, y))
        elif piece:
            pieces.append(piece)
            piece = []
    if piece:
        pieces.append(piece)
    return pieces


def loss_svg(runs: Sequence[TrainingRun], epochs: int, log_scale: bool = False,
             empty_text: str = EMPTY) -> str:
    """One loss curve per run against whole epochs; a legend below; diverged runs marked ×."""
    longest = max([epochs] + [len(run.losses) for run in runs])
    ticks, cut = _value_ticks(runs, log_scale)
    scale = (lambda v: math.log10(v)) if log_scale else (lambda v: v)
    low, high = scale(ticks[0]), scale(ticks[-1])

    def x_of(epoch: int) -> float:
        return LEFT + (epoch - 1) / max(longest - 1, 1) * (RIGHT - LEFT)

    def y_of(value: float) -> float:
        if log_scale and value <= 0:
            return BOTTOM   # a zero loss cannot be drawn on a log axis: at the bottom
        return BOTTOM - (scale(value) - low) / (high - low) * PLOT_HEIGHT

    height = LEGEND_TOP + LEGEND_ROW * max(len(runs), 1) + 8
    axis = "loss (log scale)" if log_scale else "loss"
    described = "; ".join(run.summary() for run in runs) or "no curves"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="mf-loss-plot" role="img" '
             f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
             f'font-family="sans-serif" font-size="12">',
             f"<title>{escape(f'Training loss per epoch, {axis}: {described}')}</title>",
             f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
             f'<text x="{(LEFT + RIGHT) / 2:.1f}" y="22" text-anchor="middle" font-size="14" '
             f'font-weight="bold" fill="#000">Training loss per epoch</text>']
    for value in ticks:
        y = y_of(value)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{RIGHT}" y2="{y:.1f}" '
                     'stroke="#e0e0e0"/>')
        parts.append(f'<text class="mf-loss-tick" x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end" fill="#000">{format_number(value)}</text>')
    for epoch in epoch_ticks(longest):
        x = x_of(epoch)
        parts.append(f'<line x1="{x:.1f}" y1="{BOTTOM}" x2="{x:.1f}" y2="{BOTTOM + 5}" '
                     'stroke="#000"/>')
        parts.append(f'<text class="mf-epoch-tick" x="{x:.1f}" y="{BOTTOM + 18}" '
                     f'text-anchor="middle" fill="#000">{epoch}</text>')
    parts.append(f'<polyline points="{LEFT},{TOP} {LEFT},{BOTTOM} {RIGHT},{BOTTOM}" '
                 'fill="none" stroke="#000"/>')
    parts.append(f'<text x="{(LEFT + RIGHT) / 2:.1f}" y="{BOTTOM + 36}" text-anchor="middle" '
                 'fill="#000">epoch</text>')
    parts.append(f'<text transform="translate(16 {(TOP + BOTTOM) / 2:.1f}) rotate(-90)" '
                 f'text-anchor="middle" fill="#000">{axis}</text>')
    if cut:
        parts.append(f'<text class="mf-cut" x="{RIGHT}" y="{TOP - 6}" text-anchor="end" '
                     'font-size="11" fill="#555">↑ losses above the top are cut off: see the '
                     "table</text>")
    if not runs:
        parts.append(f'<text x="{(LEFT + RIGHT) / 2:.1f}" y="{(TOP + BOTTOM) / 2:.1f}" '
                     f'text-anchor="middle" fill="#555">{escape(empty_text)}</text>')
    for k, run in enumerate(runs):
        colour, dash = COLOURS[k % len(COLOURS)], DASHES[k % len(DASHES)]
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="mf-curve" data-curve="{k}">'
                     f"<title>{escape(run.summary())}</title>")
        points = [(x_of(epoch), y_of(loss)) for epoch, loss in enumerate(run.finite_losses, 1)]
        for piece in _below(points, TOP - 0.05):
            parts.append('<polyline points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in piece) +
                         f'" fill="none" stroke="{colour}" stroke-width="2"{dashes}/>')
        if len(points) <= 30:
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>'
                         for x, y in points if y >= TOP - 0.05)
        if run.diverged_at is not None:   # a cross at the top edge, where the loss left
            x = x_of(run.diverged_at)
            parts.append(f'<path class="mf-diverged" d="M{x - 5:.1f},{TOP - 5} l10,10 '
                         f'm0,-10 l-10,10" stroke="{colour}" stroke-width="2.5"/>')
        parts.append("</g>")
        y = LEGEND_TOP + LEGEND_ROW * k
        if run.error:
            ending = " — error (see the table)"
        elif run.diverged_at is not None:
            ending = f" — diverged at epoch {run.diverged_at}"
        elif run.grew:
            ending = " — the loss grew"
        else:
            ending = ""
        parts.append(f'<g class="mf-legend-entry"><line x1="{LEFT}" y1="{y - 4}" '
                     f'x2="{LEFT + 30}" y2="{y - 4}" stroke="{colour}" stroke-width="2"'
                     f'{dashes}/><text x="{LEFT + 38}" y="{y}" fill="#000">'
                     f"{escape(run.label + ending)}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: float | None) -> str:
    return "—" if value is None else format_number(value)


def table_html(runs: Sequence[TrainingRun], epochs: int, seed: int) -> str:
    """One row per run (the text alternative of the drawing), with a caption."""
    rows = ['<table class="mf-explorer-table"><caption>Loss of each setting: after the last '
            f"epoch, and the lowest reached ({len(runs)} "
            f"{'setting' if len(runs) == 1 else 'settings'}; {epochs} epochs asked, seed "
            f"{seed}; 4 significant digits)</caption>",
            '<thead><tr><th scope="col">Setting</th><th scope="col">Final loss</th>'
            '<th scope="col">Best loss</th><th scope="col">Epochs</th>'
            '<th scope="col">Diverged?</th></tr></thead><tbody>']
    if not runs:
        rows.append('<tr><td colspan="5">No curves yet.</td></tr>')
    for k, run in enumerate(runs):
        head = f'<tr data-curve="{k}"><th scope="row">{escape(run.label)}</th>'
        if run.error:
            rows.append(f'{head}<td colspan="4" class="mf-error">✗ {escape(run.error)}</td>'
                        "</tr>")
            continue
        if run.diverged_at is not None:
            diverged = f"diverged at epoch {run.diverged_at}"
        else:
            diverged = "no, but the loss grew" if run.grew else "no"
        marked = ' class="mf-diverged"' if run.diverged_at is not None or run.grew else ""
        rows.append(f'{head}<td class="mf-number">{_cell(run.final_loss)}</td>'
                    f'<td class="mf-number">{_cell(run.best_loss)}</td>'
                    f'<td class="mf-number">{len(run.losses)}</td>'
                    f"<td{marked}>{diverged}</td></tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def static_html(runs: Sequence[TrainingRun], epochs: int, seed: int,
                log_scale: bool = False) -> str:
    """Where widgets do not run: the drawing and the table."""
    return (f'<div class="mf-explorer-static"><style>{EXPLORER_CSS}</style>'
            f"{loss_svg(runs, epochs, log_scale, empty_text='No curves.')}"
            f"{table_html(runs, epochs, seed)}</div>")


def plain_text(runs: Sequence[TrainingRun], epochs: int, seed: int) -> str:
    """The runs as lines of text (for text/plain and print)."""
    lines = [f"Training explorer: {len(runs)} {'setting' if len(runs) == 1 else 'settings'}, "
             f"{epochs} epochs, seed {seed}."]
    lines.extend(run.summary() for run in runs)
    return "\n".join(lines)
