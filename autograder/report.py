"""The class report: where did the class lose points, and why?

One self-contained HTML page (figures embedded) from ``autograded/results.json``:
the score distribution of each assignment, the pass rate of each test cell,
the most frequent diagnostic messages, and the submissions that could not be
graded.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections import Counter
from pathlib import Path

from autograder.gradebook import load_results
from autograder.manifest import Course

__all__ = ["normalise_message", "summarise", "unisolated_results", "write_report"]

_NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?")


def normalise_message(message: str) -> str:
    """Group messages that differ only in numbers (elements, values, shapes)."""
    return _NUMBER.sub("#", message.strip())[:240]


def summarise(course: Course) -> dict:
    """Per assignment: scores, per-cell pass rates, frequent messages, problems."""
    results = load_results(course)
    summary = {}
    for assignment in course.assignments:
        mine = [r for (name, _), r in sorted(results.items()) if name == assignment.name]
        if not mine:
            continue
        graded = [r for r in mine if r["status"] == "graded"]
        cells: dict[str, list[bool]] = {}
        messages: Counter[tuple[str, str]] = Counter()
        for r in graded:
            for c in r["cells"]:
                cells.setdefault(c["grade_id"], []).append(c["score"] >= c["max_score"])
                if c["score"] < c["max_score"] and c["message"]:
                    messages[(c["grade_id"], normalise_message(c["message"]))] += 1
        summary[assignment.name] = {
            "title": assignment.title,
            "max": assignment.points,
            "scores": [r["score"] for r in graded],
            "pass_rate": {gid: sum(v) / len(v) for gid, v in cells.items()},
            "messages": messages.most_common(10),
            "problems": [(r["student"], r["status"], "; ".join(r["notes"]))
                         for r in mine if r["status"] != "graded"],
            "flagged": [(r["student"], float(r.get("score", 0.0)), r["flags"])
                        for r in mine if r.get("flags")],
        }
    return summary


def _figure(summary: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, axes = plt.subplots(len(names), 2, figsize=(11, 2.8 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        info = summary[name]
        ax = axes[row][0]
        bins = [i - 0.5 for i in range(int(info["max"]) + 2)]
        ax.hist(info["scores"], bins=bins, color="#4c72b0", edgecolor="white")
        ax.set_title(f"{info['title']}: scores ({len(info['scores'])} graded)")
        ax.set_xlabel(f"score (out of {info['max']:g})")
        ax.set_ylabel("students")
        ax = axes[row][1]
        cells = list(info["pass_rate"])
        ax.barh(cells, [100 * info["pass_rate"][c] for c in cells], color="#55a868")
        ax.set_xlim(0, 100)
        ax.invert_yaxis()
        ax.set_title(f"{info['title']}: pass rate per test cell")
        ax.set_xlabel("students passing (%)")
        ax.set_ylabel("test cell")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def unisolated_results(course: Course) -> list[str]:
    """``student/assignment`` of every recorded result graded without the sandbox."""
    return [f"{student}/{assignment}" for (assignment, student), r
            in sorted(load_results(course).items()) if r.get("sandbox") == "none"]


def write_report(course: Course, path: Path | None = None) -> Path:
    """Write the report (default ``reports/class-report.html``) and return its path."""
    summary = summarise(course)
    if not summary:
        raise ValueError("no grading results yet: run `python -m autograder grade` first")
    path = path or course.root / "reports" / "class-report.html"
    parts = [f"<h1>{html.escape(course.title)}: class report</h1>"]
    unisolated = unisolated_results(course)
    if unisolated:
        parts.append(
            '<p class="warning"><b>Warning: ' + str(len(unisolated)) + " submission(s) were "
            "graded WITHOUT isolation</b> (no sandbox: bubblewrap was missing, could not run, or "
            "was turned off). Their code could read and change files of the grading user, "
            "other students' grades included. Regrade them with <code>python -m autograder "
            "grade --sandbox bwrap</code>: " + html.escape(", ".join(unisolated[:20]))
            + (" ..." if len(unisolated) > 20 else "") + "</p>")
    parts += [
             f'<img alt="scores and pass rates" src="data:image/png;base64,{_figure(summary)}">']
    for name, info in summary.items():
        scores = info["scores"]
        mean = sum(scores) / len(scores) if scores else 0.0
        parts.append(f"<h2>{html.escape(info['title'])} ({html.escape(name)})</h2>"
                     f"<p>{len(scores)} graded, mean {mean:.2f} / {info['max']:g}</p>")
        if info["messages"]:
            rows = "".join(f"<tr><td>{count}</td><td>{html.escape(gid)}</td>"
                           f"<td>{html.escape(message)}</td></tr>"
                           for (gid, message), count in info["messages"])
            parts.append("<h3>Most frequent diagnostic messages</h3><table><tr><th>students"
                         f"</th><th>test</th><th>message</th></tr>{rows}</table>")
        if info["flagged"]:
            rows = "".join(f"<tr><td>{html.escape(s)}</td><td>{score:g}</td><td><ul>"
                           + "".join(f"<li>{html.escape(f)}</li>" for f in flags)
                           + "</ul></td></tr>" for s, score, flags in info["flagged"])
            parts.append("<h3>Flagged submissions</h3><p>What the static review, the tamper "
                         "guard and the trusted check found: evidence for a person to read, "
                         "not a verdict.</p><table><tr><th>student</th><th>score</th>"
                         f"<th>flags</th></tr>{rows}</table>")
        if info["problems"]:
            rows = "".join(f"<tr><td>{html.escape(s)}</td><td>{html.escape(st)}</td>"
                           f"<td>{html.escape(n)}</td></tr>" for s, st, n in info["problems"])
            parts.append("<h3>Not graded</h3><table><tr><th>student</th><th>status</th>"
                         f"<th>reason</th></tr>{rows}</table>")
    style = ("body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;"
             "padding:0 1rem}table{border-collapse:collapse}td,th{padding:.25rem .7rem;"
             "border-bottom:1px solid #ddd;text-align:left;vertical-align:top}img{max-width:100%}"
             ".warning{background:#fdecea;color:#7b1f17;padding:.8rem;border-radius:4px}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    f"<title>Class report</title><style>{style}</style></head><body>"
                    + "".join(parts) + "</body></html>\n", encoding="utf-8")
    return path
