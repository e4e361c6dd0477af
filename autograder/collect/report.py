"""What one collect reports: ``CollectReport``, and names and sizes as it shows them.

A report names the files it placed and the ones it could not, with the
reason; a refusal (a file crossing a boundary: an owner, a limit, a name) is
listed first and makes the command exit non-zero. Every name in it was
written by a student, so it is shown escaped and cut to one line
(``shown_name``); past ``MAX_REPORT_LINES`` files the rest are counted by reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from autograder.core.safe_text import terminal_text

__all__ = ["MAX_REPORT_LINES", "CollectReport", "mib", "shown_name"]

MAX_REPORT_LINES = 50  # files named in the report; the rest are counted


def mib(size: float) -> str:
    return f"{size / 2**20:,.0f} MiB" if size >= 2**20 else f"{size:,.0f} bytes"


def shown_name(name: str, width: int = 160) -> str:
    """``name`` fit for one line of a report: control characters escaped, long ones cut."""
    text = terminal_text(name)
    if len(text) > width:
        size = len(name.encode(errors="replace"))
        text = f"{text[:width // 2]}...{text[-(width // 2):]} ({size:,} bytes)"
    return text


@dataclass
class CollectReport:
    placed: list[tuple[str, str, str]] = field(default_factory=list)  # student, assignment, from
    skipped: list[tuple[str, str]] = field(default_factory=list)      # file, reason
    times: dict[tuple[str, str], str] = field(default_factory=dict)   # what was kept, and why
    notes: list[str] = field(default_factory=list)
    refused: int = 0  # of the skipped: refused as crossing a boundary (owner, limit, name)
    # uploads whose LMS name maps to no roster student: file, LMS name, why, staged as
    unmapped: list[tuple[str, str, str, str]] = field(default_factory=list)

    def refuse(self, name: str, reason: str) -> None:
        """``name`` is not taken, on purpose: listed first, and the command exits non-zero."""
        self.skipped.append((name, f"refused: {reason}"))
        self.refused += 1

    def lines(self) -> list[str]:
        if self.unmapped:
            return self._unmapped_lines()
        out = [f"collected {len(self.placed)} notebook(s)"]
        out += [f"  {s:16} {a:14} <- {shown_name(origin)}"
                + (f"\n  {'':16} {'':14}    {self.times[(s, a)]}" if (s, a) in self.times else "")
                for s, a, origin in self.placed]
        out += self.notes
        if self.skipped:
            refused = [s for s in self.skipped if s[1].startswith("refused: ")]
            ordered = refused + [s for s in self.skipped if not s[1].startswith("refused: ")]
            out.append(f"could not place {len(self.skipped)} file(s)"
                       + (f", {len(refused)} of them refused:" if refused else ":"))
            out += [f"  {shown_name(name)}: {reason}" for name, reason in
                    ordered[:MAX_REPORT_LINES]]
            rest = ordered[MAX_REPORT_LINES:]
            if rest:
                kinds = Counter(reason.split(":")[0].split(" (")[0][:60] for _, reason in rest)
                out.append(f"  ... and {len(rest):,} more: " + ", ".join(
                    f"{count:,} {kind}" for kind, count in kinds.most_common(5))
                    + (", ..." if len(kinds) > 5 else ""))
        return out

    def _unmapped_lines(self) -> list[str]:
        """Nothing was collected: which uploads name nobody on the roster, where each was
        staged, and the command that maps each to a student."""
        import shlex

        out = [f"could not map {len(self.unmapped)} upload(s) to a roster student, so nothing "
               "was collected (submitted/ is as it was):"]
        for name, shown, why, staged in self.unmapped[:MAX_REPORT_LINES]:
            out += [f"  {shown_name(name)}: {terminal_text(why)}; staged as {staged}",
                    f"      python -m autograder roster map "
                    f"{shown_name(shlex.quote(shown), 80)} STUDENT_ID"]
        if len(self.unmapped) > MAX_REPORT_LINES:
            out.append(f"  ... and {len(self.unmapped) - MAX_REPORT_LINES:,} more")
        out.append("Map each one to its roster id with the command under it (or add the "
                   "roster's lms_login / lms_user_id columns and import the roster again), "
                   "then collect again.")
        return out
