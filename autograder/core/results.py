"""One typed model of a graded submission: what ``grade`` makes, records and publishes.

``GradeResult`` is what happened to one student's submission of one
assignment: its ``Status``, each graded cell's ``CellGrade``, the notes and
flags (sentences for people), how late it was (``Lateness``), each
``KernelDeath``, and the ``reasons`` as codes (``autograder.core.reasons``).
``grade`` makes it (``autograder.pipeline.grading``), the gradebook records
and loads it (``autograder.record.load.load_results``), and the
feedback, the report, the export and the command line read its fields: no
part reads another's sentences, and words are made from codes and fields at
those edges.

``autograded/results.json`` holds ``GradeResult.to_dict()`` of every result,
the same JSON, key for key and byte for byte, as when these were plain
dictionaries: ``from_dict`` reads it back (``from_dict(r.to_dict()) == r``)
and reads a file written by an earlier grader too, a missing key taking its
default (and the reasons of a record written before reasons were codes
taken, once, from its notes: ``autograder.core.reasons.legacy_reasons``).

Why dataclasses, not TypedDicts, for ``Lateness`` and ``KernelDeath``: they
are read by several parts (feedback, report, export, the command line),
which each checked a key's presence and converted its value (``float(late.
get("penalty") or 0.0)``) where it read it; a dataclass converts once, when
results.json is read, and every reader gets typed attributes (and cannot
mistype a key). Their JSON stays the same because ``to_dict`` writes their
keys in the order results.json has always had them (a kernel death's
sorted, as the worker's notebook JSON sorts them), and leaves out the keys a
record never had: a late record that plain ``nbgrader autograde`` made has
no ``days_late``, ``extension`` or ``cutoff`` (they are None here), and is
written back without them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from autograder.core.reasons import Reason, legacy_reasons

__all__ = ["CHECK_PASSED", "CellGrade", "DeathCause", "GradeResult", "KernelDeath", "Lateness",
           "Status"]

#: A check's outcome when it passed (``CellGrade.checks``); a failed one holds its mistake's code.
CHECK_PASSED = "passed"


class Status(StrEnum):
    """What became of a submission. A ``str``: ``Status.GRADED == "graded"``, and JSON
    writes it as the word."""

    GRADED = "graded"      # it ran and its test cells were scored
    REJECTED = "rejected"  # it never reached nbgrader (not a notebook, missing, ...)
    ERROR = "error"        # grading failed: no score


def _float(value: Any, default: float = 0.0) -> float:
    """A number read from results.json, as it is (an ``int`` stays one, so the record
    is written back the same); ``default`` for anything else (a hand-edited file)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _text(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _texts(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _outcomes(value: Any) -> dict[str, str]:
    """A cell's checks as results.json holds them: name -> code (anything else: none)."""
    if not isinstance(value, Mapping):
        return {}
    return {str(name): str(code) for name, code in value.items()}


def _code(value: Any) -> Reason:
    """A reason's code as a ``Reason``; a code this grader does not know (a newer
    grader's) stays as its text, so writing the record back keeps it."""
    text = str(value)
    return Reason(text) if text in Reason._value2member_map_ else text  # type: ignore


@dataclass
class CellGrade:
    """One graded cell: its points out of its maximum, the check's message, and why it
    lost points as a code (``autograder.core.mistakes.Mistake``; "" when it did not,
    or when no judge said: plain nbgrader, a record from an earlier grader).

    ``checks``: for a cell that lost points, the outcome of each named check the
    judge made of it (``autograder.judge.plans``: the gradient for ``b``, the
    probes with three inputs, ...), ``CHECK_PASSED`` or the failed check's mistake
    code; empty when the judge named no checks for the cell, or did not judge it.
    The class report measures an objective from the checks that isolate it."""

    grade_id: str
    score: float
    max_score: float
    message: str = ""
    mistake: str = ""
    checks: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"grade_id": self.grade_id, "score": self.score,
                                "max_score": self.max_score, "message": self.message}
        if self.mistake:  # a record without one is written back as it was
            data["mistake"] = str(self.mistake)
        if self.checks:  # likewise
            data["checks"] = {name: str(code) for name, code in self.checks.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellGrade:
        return cls(_text(data.get("grade_id")), _float(data.get("score")),
                   _float(data.get("max_score")), _text(data.get("message")),
                   _text(data.get("mistake")), _outcomes(data.get("checks")))


@dataclass(frozen=True)
class Lateness:
    """When a submission was made, when it was due and what lateness cost
    (``autograder.record.late.lateness``).

    ``submitted`` and ``due`` are ISO times in UTC (``due`` includes any
    extension; None when the gradebook has no due date); ``policy`` is the
    rule in words. ``days_late``, ``extension`` (days granted) and ``cutoff``
    (past the hard cutoff) are None in a record that plain ``nbgrader
    autograde`` made, which does not know them.
    """

    submitted: str
    due: str | None
    seconds_late: float = 0.0
    penalty: float = 0.0
    policy: str = ""
    days_late: int | None = None
    extension: float | None = None
    cutoff: bool | None = None

    @property
    def is_late(self) -> bool:
        """Late by the clock or charged a penalty."""
        return self.seconds_late > 0 or self.penalty > 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"submitted": self.submitted, "due": self.due,
                                "seconds_late": self.seconds_late, "penalty": self.penalty,
                                "policy": self.policy}
        for name in ("days_late", "extension", "cutoff"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lateness:
        due = data.get("due")
        days, extension, cutoff = (data.get(k) for k in ("days_late", "extension", "cutoff"))
        return cls(
            submitted=_text(data.get("submitted")), due=None if due is None else str(due),
            seconds_late=_float(data.get("seconds_late")), penalty=_float(data.get("penalty")),
            policy=_text(data.get("policy")),
            days_late=None if days is None else int(_float(days)),
            extension=None if extension is None else _float(extension),
            cutoff=None if cutoff is None else bool(cutoff))


@dataclass(frozen=True)
class KernelDeath:
    """One kernel death while grading, as ``SandboxedExecute`` recorded it.

    ``cell`` is 1-based; ``grade_id`` is the cell's (None for a cell without
    one); ``first_line`` its first line of code; ``reason`` why the kernel is
    gone, in words for the student, and ``cause`` the same as a code
    (``DeathCause``; "" in a record from an earlier grader); ``while_replaying``:
    it died re-running an earlier cell in a fresh kernel; ``restarted``: the
    cells after it ran in a fresh kernel.
    """

    cell: int | None
    grade_id: str | None = None
    first_line: str = ""
    reason: str = ""
    while_replaying: bool = False
    restarted: bool = False
    cause: str = ""

    def to_dict(self) -> dict[str, Any]:
        # In the order results.json has always had: the graded notebook comes back from
        # the worker as JSON with its metadata's keys sorted (nbformat.writes).
        data: dict[str, Any] = {"cause": str(self.cause)} if self.cause else {}
        data.update({"cell": self.cell, "first_line": self.first_line, "grade_id": self.grade_id,
                     "reason": self.reason, "restarted": self.restarted,
                     "while_replaying": self.while_replaying})
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KernelDeath:
        cell, grade_id = data.get("cell"), data.get("grade_id")
        number = _float(cell, math.nan) if cell is not None else math.nan
        return cls(cell=int(number) if math.isfinite(number) else None,
                   grade_id=None if grade_id is None else str(grade_id),
                   first_line=_text(data.get("first_line")), reason=_text(data.get("reason")),
                   while_replaying=bool(data.get("while_replaying")),
                   restarted=bool(data.get("restarted")), cause=_text(data.get("cause")))


class DeathCause(StrEnum):
    """Why a kernel died while grading (``KernelDeath.cause``)."""

    MEMORY = "memory"              # over its memory limit (the watchdog, or SIGKILL)
    CPU_TIME = "cpu_time"          # over its CPU time (SIGXCPU)
    TIME = "time"                  # out of time: the notebook's, or a cell's that ignored the
    #                                interrupt after its time limit
    LIMIT = "limit"                # another of the sandbox's limits (processes, files)
    EXITED = "exited"              # the notebook called exit(), sys.exit() or os._exit()
    CRASHED = "crashed"            # killed by another signal (a segfault, an abort)
    UNRESPONSIVE = "unresponsive"  # the kernel stopped answering
    SANDBOX = "sandbox"            # the sandbox could not start it
    UNKNOWN = "unknown"


@dataclass
class GradeResult:
    """What happened to one student's submission of one assignment."""

    student: str
    assignment: str
    status: Status
    score: float = 0.0
    max_score: float = 0.0
    cells: list[CellGrade] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # in words, for people
    sandbox: str = ""  # "bwrap" or "none": how its kernel was isolated
    flags: list[str] = field(default_factory=list)  # for the instructor's eyes
    # Each kernel death while grading, in order.
    kernel_deaths: list[KernelDeath] = field(default_factory=list)
    # Late work (autograder.record.late.lateness); None without a submission time.
    late: Lateness | None = None
    # Codes (autograder.core.reasons.Reason) for what the notes say in words: what
    # other parts act on (a rejection's advice, the export's status).
    reasons: list[Reason] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def graded(self) -> bool:
        return self.status == Status.GRADED

    def codes(self) -> list[Reason]:
        """Every code that says why this result went as it did: the recorded
        ``reasons``, then what its fields say (``Reason.CRASHED`` for status
        error, ``KERNEL_DIED``, ``FLAGGED``), each once."""
        found = list(self.reasons)
        if self.status == Status.ERROR:
            found.append(Reason.CRASHED)
        if self.kernel_deaths:
            found.append(Reason.KERNEL_DIED)
        if self.flags:
            found.append(Reason.FLAGGED)
        return list(dict.fromkeys(found))

    def to_dict(self) -> dict[str, Any]:
        """The result as results.json holds it."""
        return {"student": self.student, "assignment": self.assignment,
                "status": str(self.status), "score": self.score, "max_score": self.max_score,
                "cells": [cell.to_dict() for cell in self.cells], "notes": list(self.notes),
                "sandbox": self.sandbox, "flags": list(self.flags),
                "kernel_deaths": [death.to_dict() for death in self.kernel_deaths],
                "late": self.late.to_dict() if self.late is not None else None,
                "reasons": [str(code) for code in self.reasons]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GradeResult:
        """A result from results.json, this grader's or an earlier one's.

        A missing key takes its default; a status this grader does not know
        is an error (no score); a record without ``reasons`` (written before
        reasons were codes) gets them from its notes.
        """
        status = _text(data.get("status"), Status.ERROR)
        notes = _texts(data.get("notes"))
        late = data.get("late")
        reasons = data.get("reasons")
        return cls(
            student=_text(data.get("student")), assignment=_text(data.get("assignment")),
            status=Status(status) if status in Status._value2member_map_ else Status.ERROR,
            score=_float(data.get("score")), max_score=_float(data.get("max_score")),
            cells=[CellGrade.from_dict(c) for c in data.get("cells") or []
                   if isinstance(c, Mapping)],
            notes=notes, sandbox=_text(data.get("sandbox")), flags=_texts(data.get("flags")),
            kernel_deaths=[KernelDeath.from_dict(d) for d in data.get("kernel_deaths") or []
                           if isinstance(d, Mapping)],
            late=Lateness.from_dict(late) if isinstance(late, Mapping) and late else None,
            reasons=legacy_reasons(notes) if "reasons" not in data else
            [_code(code) for code in (reasons if isinstance(reasons, list) else [])])
