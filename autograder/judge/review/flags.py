"""What the static review finds: a flag per finding, and the review that holds them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Flag", "Review", "stopped"]


@dataclass(frozen=True)
class Flag:
    cell: str        # grade id of the cell, or "cell N" for a cell without one
    line: int
    rule: str        # import, dangerous, tamper, identity, delegation, obfuscation, copy,
    #                  syntax, unreadable, unreviewed
    text: str
    zero: tuple[str, ...] = ()  # test cells that score 0 because of it

    def __str__(self) -> str:
        return f"{self.cell}, line {self.line}: {self.text}"


@dataclass
class Review:
    flags: list[Flag] = field(default_factory=list)

    @property
    def zeroed(self) -> dict[str, str]:
        """test cell -> why it scores 0."""
        found: dict[str, str] = {}
        for flag in self.flags:
            fix = "Split it into shorter statements." if flag.rule == "unreadable" else \
                "Write it yourself in the solution cell."
            for test in flag.zero:
                found.setdefault(test, f"{flag.text} ({flag.cell}, line {flag.line}); it "
                                       f"scores 0. {fix}")
        return found

    def lines(self) -> list[str]:
        return [str(f) for f in self.flags]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self.flags]


def stopped(label: str, why: str) -> Flag:
    return Flag(label, 1, "unreviewed", f"the static review stopped {why} (the notebook's code "
                "is unusually large): review it by hand")
