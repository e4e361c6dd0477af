"""Late work: when a submission was made, when it was due, and what lateness costs.

One function decides, for both paths: ``python -m autograder grade`` calls
``lateness`` in the parent after scoring, and plain ``nbgrader autograde``
calls it through ``ManifestLatePenalty``, nbgrader's late-submission plugin
(``c.AssignLatePenalties.plugin_class`` in nbgrader_config.py). The rules
live in ``course/manifest.toml`` (``[late]``, an assignment's ``late = {...}``
and ``[[extension]]`` tables; see ``autograder.core.manifest``).

Times are compared in UTC. Due dates in the manifest are in the course's
time zone (``[course] timezone``); a submission time is read from
nbgrader's ``timestamp.txt`` (``nbgrader.utils.parse_utc``), and written
back in the format nbgrader's exchange uses, always in UTC.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Unicode

from autograder.core.manifest import Course, LatePolicy
from autograder.core.results import Lateness

__all__ = ["ManifestLatePenalty", "course_zone", "deadline", "describe", "due_utc",
           "format_timestamp", "lateness", "read_timestamp"]

DAY = 86400.0
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's Exchange.timestamp_format


def course_zone(name: str) -> tzinfo:
    """The course's time zone ("UTC" needs no time-zone database, which Windows lacks)."""
    return UTC if name in ("UTC", "Etc/UTC") else ZoneInfo(name)


def _to_utc(text: str, zone: str) -> datetime:
    """A manifest date (course time zone) as a naive UTC datetime, as nbgrader stores times."""
    local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=course_zone(zone))
    return local.astimezone(UTC).replace(tzinfo=None)


def due_utc(course: Course, assignment: str) -> datetime:
    """The assignment's due date from the manifest, in UTC (naive)."""
    return _to_utc(course.assignment(assignment).due, course.timezone)


def deadline(course: Course, assignment: str, student: str) -> tuple[datetime, timedelta]:
    """(due date that applies to this student, in UTC; the extension it includes)."""
    due = due_utc(course, assignment)
    extension = course.late.extension_for(assignment, student)
    if extension is None:
        return due, timedelta(0)
    if extension.until is not None:
        return _to_utc(extension.until, course.timezone), \
            _to_utc(extension.until, course.timezone) - due
    return due + timedelta(days=extension.days), timedelta(days=extension.days)


def read_timestamp(path: Path) -> datetime | None:
    """The time in a ``timestamp.txt`` (naive UTC), None if absent; ValueError if unreadable."""
    from nbgrader.utils import parse_utc

    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        return parse_utc(text)
    except (ValueError, OverflowError):
        raise ValueError(f"{path} does not hold a time nbgrader can read ({text[:60]!r}); "
                         "write it like 2027-01-18 23:59:00.000000 UTC") from None


def format_timestamp(moment: datetime) -> str:
    """A naive UTC time in nbgrader's timestamp.txt format (``... UTC``)."""
    return moment.replace(tzinfo=UTC).strftime(TIMESTAMP_FORMAT)


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat()


def _amount(value: float, unit: str, points: float) -> float:
    return value * points if unit == "fraction" else value


def _describe(policy: LatePolicy) -> str:
    parts = []
    if policy.policy == "per_day":
        each = f"{policy.per_day:g} point(s)" if policy.unit == "points" \
            else f"{policy.per_day:.0%} of the points"
        parts.append(f"{each} off per started day late")
        if policy.max_penalty is not None:
            cap = f"{policy.max_penalty:g} point(s)" if policy.unit == "points" \
                else f"{policy.max_penalty:.0%} of the points"
            parts.append(f"at most {cap}")
    else:
        parts.append("no penalty for late work")
    if policy.grace_minutes:
        parts.append(f"{policy.grace_minutes:g} minutes' grace")
    if policy.cutoff_days is not None:
        parts.append(f"0 points more than {policy.cutoff_days:g} day(s) late")
    return "; ".join(parts)


def lateness(course: Course, assignment: str, student: str, submitted: datetime,
             score: float) -> Lateness:
    """How late ``submitted`` (naive UTC) is and what it costs out of ``score``.

    Returns the ``late`` record of a GradeResult: ``submitted`` and ``due``
    (ISO, UTC; the due date includes any extension), ``seconds_late`` (0 when
    on time), ``penalty`` (points off, never more than ``score``), ``policy``
    (the rule in words), plus ``days_late`` (started days), ``extension``
    (days granted) and ``cutoff`` (True past the hard cutoff).
    """
    due, extension = deadline(course, assignment, student)
    policy = course.late.policy_for(assignment)
    points = course.assignment(assignment).points
    seconds = max(0.0, (submitted - due).total_seconds())
    days = math.ceil(seconds / DAY) if seconds else 0
    cutoff = policy.cutoff_days is not None and seconds > policy.cutoff_days * DAY
    if cutoff:
        penalty = score
    elif seconds <= policy.grace_minutes * 60 or policy.policy == "none":
        penalty = 0.0
    else:
        penalty = _amount(policy.per_day, policy.unit, points) * days
        if policy.max_penalty is not None:
            penalty = min(penalty, _amount(policy.max_penalty, policy.unit, points))
    penalty = round(max(0.0, min(float(penalty), float(score))), 6)
    return Lateness(submitted=_iso(submitted), due=_iso(due), seconds_late=seconds,
                    penalty=penalty, policy=_describe(policy), days_late=days,
                    extension=extension.total_seconds() / DAY, cutoff=bool(cutoff))


def describe(late: Lateness | None) -> str:
    """One line for people: "on time" or "1 day late (...): -2 points"."""
    if late is None:
        return ""
    if not late.seconds_late:
        return "on time"
    seconds = late.seconds_late
    if seconds < 60:
        how = f"{seconds:.0f} s"
    elif seconds < 3600:
        how = f"{seconds / 60:.0f} min"
    elif seconds < DAY:
        how = f"{seconds / 3600:.1f} h"
    else:
        how = f"{seconds / DAY:.1f} days"
    text = f"{how} late"
    if late.cutoff:
        text += ", after the cutoff"
    penalty = late.penalty
    return text + (f": -{penalty:g} points" if penalty else ": no penalty")


class ManifestLatePenalty(LateSubmissionPlugin):
    """nbgrader's late-submission plugin, applying the manifest's rules to plain autograde.

    nbgrader asks it only when its gradebook finds the submission late, and
    counts lateness from the gradebook's due date and extension. So that the
    two agree with the manifest, it first writes the manifest's due date and
    this student's extension into the gradebook; then it takes the
    submission's time from the gradebook and returns ``lateness(...)``'s
    penalty, exactly what ``python -m autograder grade`` records.
    """

    course_root = Unicode("", help="the course root (where course/manifest.toml is)"
                          ).tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_gradebook()

    def _course(self) -> Course | None:
        from autograder.core.manifest import ManifestError, load_manifest

        try:
            course = load_manifest(self.course_root or None)
            course.assignment(getattr(self.parent, "assignment_id", ""))
        except ManifestError as error:
            self.log.warning("late penalties: %s", error)
            return None
        return course

    def _sync_gradebook(self) -> None:
        from nbgrader.api import Gradebook, MissingEntry

        course, parent = self._course(), self.parent
        if course is None or not getattr(parent, "db_url", None):
            return
        _, extension = deadline(course, parent.assignment_id, parent.student_id)
        with Gradebook(parent.db_url) as gradebook:
            try:
                gradebook.find_assignment(parent.assignment_id).duedate = due_utc(
                    course, parent.assignment_id)
                submission = gradebook.find_submission(parent.assignment_id,
                                                       parent.student_id)
                submission.extension = extension if extension else None
            except MissingEntry:
                return
            gradebook.db.commit()

    def late_submission_penalty(self, student_id: str, score: float,
                                total_seconds_late: float) -> float | None:
        course, parent = self._course(), self.parent
        if course is None:
            return None
        submission = parent.gradebook.find_submission(parent.assignment_id, student_id)
        if submission.timestamp is None:
            return None
        late = lateness(course, parent.assignment_id, student_id, submission.timestamp,
                        float(score or 0.0))
        self.log.info("late penalty for %s on %s: %s", student_id, parent.assignment_id,
                      describe(late))
        return late.penalty or None
