"""The class report: what did the class learn, and where did it go wrong?

One self-contained HTML page (figures embedded as PNG, nothing fetched) from
``gradebook.load_results`` and the course manifest, rendered from the template
autograder/publish/templates/report.html.j2. Per assignment: how many
submissions were graded, rejected, crashed, late or flagged; the scores;
per learning objective, the share of the graded submissions that met it
(measured by its test cells, or by the checks of a cell that isolate it:
``autograder.publish.objectives``) and the most common mistakes, grouped by
the code the grader's check gave each failed test cell or check
(``CellGrade.mistake``, ``CellGrade.checks``, never by the words of a
message), counted, with one anonymised example each. Then the submissions that need the instructor:
rejected, crashed, late, flagged, by student id.

The definitions (what "met" means, what each mean includes) are written into
the page itself, in ``DEFINITIONS``, so the reader never has to guess.
"""

from __future__ import annotations

import base64
import io
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from autograder.core.manifest import Assignment, Course
from autograder.core.mistakes import label
from autograder.core.results import CellGrade, GradeResult, Status
from autograder.publish.objectives import Shortfall, measured_by, shortfalls
from autograder.publish.render import render_template
from autograder.publish.roster import load_roster
from autograder.record.fingerprints import stale_grades
from autograder.record.load import load_results

__all__ = ["AssignmentSummary", "CellSummary", "Mistake", "ObjectiveSummary", "RankedObjective",
           "mistake_key", "rank_objectives",
           "normalise_message", "render_template", "summarise", "unisolated_results",
           "write_report"]

#: A number in a message: never part of a name (W1, x_1 stay), and its minus sign only
#: when it is one, not an operator (x-1 keeps its "-").
_NUMBER = re.compile(r"(?<![\w.])(?:(?<![\w)\]])-)?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.])",
                     re.IGNORECASE)
#: An arithmetic operator, with its spaces, before or after a number.
_OPERATOR_BEFORE = re.compile(r"[-+*/]\s*\(?\s*$")
_OPERATOR_AFTER = re.compile(r"^\s*\)?\s*[-+*/]")
# "#, #, #" (a list of numbers, a shape) and "(#,)" read as one "#": shapes of any
# rank and inputs of any length then group together.
_NUMBERS = re.compile(r"#(?:\s*,\s*#)+,?|#,(?=\))")
# numpy.testing's boilerplate line before the message a test gave it
_BOILERPLATE = ("Not equal to tolerance", "Arrays are not")

#: What the report's words and numbers mean; printed at the top of the page.
DEFINITIONS = [
    ("submission", "one student's notebook for one assignment, as graded last"),
    ("graded", "the notebook ran and its test cells were scored; statistics and objectives "
               "are computed over graded submissions only"),
    ("rejected", "never reached nbgrader (not JSON, not a notebook, missing, several "
                 "candidates): no score; listed under Rejected submissions"),
    ("crashed", "grading failed (status \"error\": the kernel died, time ran out, the "
                "gradebook holds no grade): no score; listed under Crashed submissions"),
    ("score", "the points of the test cells, from the gradebook, before any late penalty"),
    ("mean as grades.csv", "the same mean with rejected and crashed submissions counted as 0 "
                           "and late penalties taken off, as the score column of "
                           "grades.csv has them; students who submitted nothing are in "
                           "neither mean (grades.csv lists them with 0)"),
    ("met", "a graded submission meets an objective when it earned every point of every test "
            "cell mapped to that objective in course/manifest.toml ([assignment.tests]), or, "
            "for a test cell whose checks are mapped to its objectives (a checks table there), "
            "passed every check of that cell mapped to the objective: a cell that lost its "
            "points to another check (a transposed weight gradient) does not count against an "
            "objective other checks isolate (the bias gradient's sum over the batch); the "
            "column \"measured by\" names the cells and checks; the share is of the graded "
            "submissions"),
    ("mistake", "a test cell that lost points, or a failed check that measures the objective, "
                "grouped by the mistake the grader's check named (not attempted, raised an "
                "error, the wrong sign, twice the right value, ...; a wrong value no known "
                "pattern explains), or, for a cell no check named, "
                "by its first line with every number replaced by #; counted in students; the "
                "example is one real message with the student's id removed"),
]


@dataclass
class Mistake:
    """One group of failed test cells: by the mistake's code, or a normalised first line."""

    label: str
    kind: str  # "code" (the verdict's mistake code) or "message" (its normalised first line)
    students: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    example: str = ""

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class ObjectiveSummary:
    """One learning objective of an assignment (number 0: test cells mapped to none)."""

    number: int
    text: str
    cells: tuple[str, ...]
    mistakes: list[Mistake] = field(default_factory=list)
    #: how it is measured, one entry per test cell: "test_linear_backward (check b)"
    measures: tuple[str, ...] = ()
    met_by: list[str] = field(default_factory=list)     # the students who met it
    graded_for: list[str] = field(default_factory=list)  # the graded students it counts

    @property
    def met(self) -> int:
        return len(self.met_by)

    @property
    def graded(self) -> int:
        return len(self.graded_for)

    @property
    def share(self) -> float | None:
        """The share of graded submissions that met it; None when no test assesses it."""
        return self.met / self.graded if self.graded and self.cells else None


@dataclass
class CellSummary:
    grade_id: str
    max_score: float
    passed: int
    graded: int
    objectives: tuple[int, ...]


@dataclass
class AssignmentSummary:
    """Everything the report says about one assignment."""

    name: str
    title: str
    max_score: float
    scores: list[float]                 # graded submissions, test points before penalties
    csv_scores: list[float]             # every submission as grades.csv scores it
    graded: list[str]
    rejected: list[GradeResult]
    crashed: list[GradeResult]
    late: list[GradeResult]
    died: list[GradeResult]             # graded, but a kernel died on the way
    flagged: list[GradeResult]
    objectives: list[ObjectiveSummary]
    cells: list[CellSummary]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else 0.0

    @property
    def csv_mean(self) -> float:
        return statistics.fmean(self.csv_scores) if self.csv_scores else 0.0

    def statistics_text(self) -> str:
        """The statistics in one sentence that says what they include."""
        n, top = len(self.scores), f"{self.max_score:g}"
        excluded = _counted([(len(self.rejected), "rejected"), (len(self.crashed), "crashed")])
        if n:
            text = (f"{n} graded, mean {self.mean:.2f} / {top}, median "
                    f"{statistics.median(self.scores):g}")
        else:
            text = "0 graded, no statistics"
        text += (f"; {excluded} not included (no score)." if excluded
                 else "; every submission was graded.")
        penalised = [r for r in self.late if _penalty(r)]
        if excluded or penalised:
            how = "; ".join(part for part, on in (
                (f"{excluded} as 0", excluded),
                ("late penalties taken off", penalised)) if on)
            text += (f" As grades.csv counts them ({how}): mean {self.csv_mean:.2f} / {top} "
                     f"over {len(self.csv_scores)} submissions.")
        return text


def _counted(parts: list[tuple[int, str]]) -> str:
    words = [f"{n} {what}" for n, what in parts if n]
    return " and ".join(words)


def _penalty(result: GradeResult) -> float:
    return result.late.penalty if result.late is not None else 0.0


def _is_late(result: GradeResult) -> bool:
    return result.late is not None and result.late.is_late


def _masked(match: re.Match) -> str:
    """``#`` for a computed number; a small whole number that is an operand of the
    message's formula ("s * (1 - s)", "x - 2") is kept: it is part of the formula."""
    number, text = match.group(), match.string
    if re.fullmatch(r"\d", number) and (
            _OPERATOR_BEFORE.search(text[max(0, match.start() - 4):match.start()])
            or _OPERATOR_AFTER.match(text[match.end():match.end() + 4])):
        return number
    return "#"


def normalise_message(text: str) -> str:
    """Computed numbers become ``#`` and lists of numbers (shapes, inputs) one ``#``;
    names (W1) and a formula's operators and small constants ("1 - s") stay."""
    masked = _NUMBERS.sub("#", _NUMBER.sub(_masked, " ".join(text.split())))
    return masked[:240]


def _first_line(message: str) -> str:
    """The line that says what failed (numpy's "Not equal to tolerance" skipped)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    head = lines[0]
    if head.endswith(":"):  # "AssertionError:" then numpy.testing's own lines
        rest = [line for line in lines[1:] if not line.startswith(_BOILERPLATE)]
        if rest:
            head = f"{head} {rest[0]}"
    return head


def mistake_key(cell: CellGrade) -> tuple[str, str]:
    """``("code", words)`` for a cell whose verdict named its mistake as a code
    (``CellGrade.mistake``: every cell the judge scored), else ``("message",
    its first line with numbers masked)``: a record plain nbgrader made, or
    an earlier grader. Same code, same group, whatever inputs the words
    describe; the words are the code's (``autograder.core.mistakes.label``).
    """
    if cell.mistake:
        return "code", label(cell.mistake)
    first = _first_line(cell.message)
    if not first:
        return "message", "failed with no diagnostic message (an error without text, or "\
                          "output on stderr)"
    return "message", normalise_message(first)


def _anonymised(message: str, student: str) -> str:
    """The message with the student's id removed, cut to a readable length."""
    text = message.strip()
    if student:
        text = re.sub(rf"(?<![\w.-]){re.escape(student)}(?![\w-])", "<student>", text)
    return text if len(text) <= 600 else text[:600] + " ..."


def _objective_groups(assignment: Assignment, cell_ids: list[str]) -> list[ObjectiveSummary]:
    groups = [ObjectiveSummary(number, text, assignment.tests_of(number),
                               measures=measured_by(assignment, number))
              for number, text in enumerate(assignment.objectives, start=1)]
    unmapped = tuple(g for g in cell_ids if not assignment.objectives_of(g))
    if unmapped:
        groups.append(ObjectiveSummary(0, "test cells mapped to no objective", unmapped,
                                       measures=unmapped))
    return groups


def _add_mistake(mistakes: dict[tuple[str, str], Mistake], shortfall: Shortfall,
                 student: str) -> None:
    """Count ``shortfall`` in its group: a failed check by its code, a cell by its
    ``mistake_key``; the example is the cell's message when it tells of this mistake."""
    cell = shortfall.cell
    if cell is None:  # never ran: no mistake to name
        return
    if shortfall.check and shortfall.mistake:
        kind, words = "code", label(shortfall.mistake)
        telling = cell.mistake == shortfall.mistake
    else:
        (kind, words), telling = mistake_key(cell), True
    group = mistakes.setdefault((kind, words), Mistake(words, kind))
    if student not in group.students:
        group.students.append(student)
    if cell.grade_id not in group.cells:
        group.cells.append(cell.grade_id)
    if not group.example and cell.message and telling:
        group.example = _anonymised(cell.message, student)


def _summarise_one(assignment: Assignment, mine: list[GradeResult]) -> AssignmentSummary:
    graded = [r for r in mine if r.status == Status.GRADED]
    rejected = [r for r in mine if r.status == Status.REJECTED]
    crashed = [r for r in mine if r.status not in (Status.GRADED, Status.REJECTED)]
    cell_ids: list[str] = []
    maxima: dict[str, float] = {}
    for r in graded:
        for c in r.cells:
            if c.grade_id not in maxima:
                cell_ids.append(c.grade_id)
                maxima[c.grade_id] = float(c.max_score)
    objectives = _objective_groups(assignment, cell_ids)
    cells = [CellSummary(g, maxima[g], 0, 0, assignment.objectives_of(g)) for g in cell_ids]
    by_id = {c.grade_id: c for c in cells}
    for objective in objectives:
        mistakes: dict[tuple[str, str], Mistake] = {}
        for r in graded if objective.cells else []:
            got = {c.grade_id: c for c in r.cells}
            objective.graded_for.append(r.student)
            found = shortfalls(assignment, objective.number, got, objective.cells)
            # A test cell the submission never ran (absent) did not earn its points.
            if not found:
                objective.met_by.append(r.student)
            for shortfall in found:
                _add_mistake(mistakes, shortfall, r.student)
        objective.mistakes = sorted(mistakes.values(),
                                    key=lambda m: (-m.count, m.kind != "code", m.label))
    for r in graded:
        for c in r.cells:
            by_id[c.grade_id].graded += 1
            by_id[c.grade_id].passed += c.score >= c.max_score
    # load_results gives the score after the late penalty, as grades.csv's `score`;
    # the points the tests gave are that plus the penalty.
    csv_scores = [float(r.score) for r in graded]
    csv_scores += [0.0] * (len(rejected) + len(crashed))
    return AssignmentSummary(
        name=assignment.name, title=assignment.title, max_score=assignment.points,
        scores=[float(r.score) + _penalty(r) for r in graded], csv_scores=csv_scores,
        graded=[r.student for r in graded], rejected=rejected, crashed=crashed,
        late=[r for r in mine if _is_late(r)], flagged=[r for r in mine if r.flags],
        died=[r for r in graded if r.kernel_deaths],
        objectives=objectives, cells=cells)


def summarise(course: Course, results: dict[tuple[str, str], GradeResult] | None = None
              ) -> list[AssignmentSummary]:
    """One summary per assignment with any submission, in manifest order.

    ``results`` defaults to ``gradebook.load_results(course)``.
    """
    results = load_results(course) if results is None else results
    summaries = []
    for assignment in course.assignments:
        mine = [r for (name, _), r in sorted(results.items()) if name == assignment.name]
        if mine:
            summaries.append(_summarise_one(assignment, mine))
    return summaries


@dataclass
class RankedObjective:
    """One objective in the ranking of every assignment's objectives, weakest first."""

    assignment: str
    objective: ObjectiveSummary
    #: per roster section, (section, met, graded); empty without sections
    sections: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.objective.share or 0.0

    @property
    def top_mistake(self) -> Mistake | None:
        return self.objective.mistakes[0] if self.objective.mistakes else None


def rank_objectives(summaries: list[AssignmentSummary],
                    sections: dict[str, str] | None = None) -> list[RankedObjective]:
    """Every assessed objective of every assignment, from the one the fewest graded
    submissions met (what to re-teach first) to the one the most met; ties go to the
    objective more students missed, then to the course's order.

    ``sections``: student id -> roster section; with two sections or more, each
    objective also gets its figures per section.
    """
    sections = sections or {}
    names = sorted({sections[s] for s in sections if sections[s]})
    ranked = []
    for info in summaries:
        for objective in info.objectives:
            if not objective.number or objective.share is None:
                continue
            per_section = [(name, sum(sections.get(s) == name for s in objective.met_by),
                            sum(sections.get(s) == name for s in objective.graded_for))
                           for name in names] if len(names) > 1 else []
            ranked.append(RankedObjective(info.name, objective, per_section))
    order = {info.name: i for i, info in enumerate(summaries)}
    ranked.sort(key=lambda r: (r.share, -(r.objective.graded - r.objective.met),
                               order[r.assignment], r.objective.number))
    return ranked


# -- figures ----------------------------------------------------------------------------


def _figure(info: AssignmentSummary) -> str:
    """Score distribution and share meeting each objective, as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2))
    top = int(info.max_score)
    left.hist(info.scores, bins=[i - 0.5 for i in range(top + 2)], color="#4c72b0",
              edgecolor="white")
    left.set_title(f"{info.name}: scores of the {len(info.scores)} graded submissions")
    left.set_xlabel(f"score, test points before late penalties (out of {info.max_score:g})")
    left.set_ylabel("submissions")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.yaxis.set_major_locator(MaxNLocator(integer=True))
    assessed = [o for o in info.objectives if o.number and o.share is not None]
    labels = [f"objective {o.number}" for o in assessed]
    shares = [100 * (o.share or 0.0) for o in assessed]
    right.barh(labels, shares, color="#55a868")
    for y, share in enumerate(shares):
        right.text(min(share + 1, 88), y, f"{share:.0f}%", va="center")
    right.set_xlim(0, 100)
    right.invert_yaxis()
    right.set_title(f"{info.name}: graded submissions meeting each objective")
    right.set_xlabel("submissions meeting the objective: its tests, or its checks (%)")
    right.set_ylabel("learning objective")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes and not days else ""]
    return " ".join(p for p in parts if p) or f"{seconds:.0f} s"


def _problems(summaries: list[AssignmentSummary]) -> dict[str, list[tuple]]:
    """The rows of the tables of the submissions that need the instructor, as text."""
    def late(i: AssignmentSummary, r: GradeResult) -> tuple:
        info = r.late
        assert info is not None  # i.late holds the late results only
        return (r.student, i.name, info.submitted, info.due,
                _duration(info.seconds_late), f"{_penalty(r):g}", info.policy)

    return {
        "rejected": [(r.student, i.name, "; ".join(r.notes))
                     for i in summaries for r in i.rejected],
        "crashed": [(r.student, i.name, str(r.status), "; ".join(r.notes))
                    for i in summaries for r in i.crashed],
        "died": [(r.student, i.name, str(d.grade_id or ("" if d.cell is None else d.cell)),
                  d.reason, "yes" if d.restarted else "no")
                 for i in summaries for r in i.died for d in r.kernel_deaths],
        "late": [late(i, r) for i in summaries for r in i.late],
        "flagged": [(r.student, i.name, f"{float(r.score):g}" if r.graded else "-", r.flags)
                    for i in summaries for r in i.flagged],
    }


def unisolated_results(course: Course,
                       results: dict[tuple[str, str], GradeResult] | None = None) -> list[str]:
    """``student/assignment`` of every recorded result graded without the sandbox.

    ``results`` defaults to ``gradebook.load_results(course)``.
    """
    results = load_results(course) if results is None else results
    return [f"{student}/{assignment}" for (assignment, student), r
            in sorted(results.items()) if r.sandbox == "none"]


def write_report(course: Course, path: Path | None = None,
                 results: dict[tuple[str, str], GradeResult] | None = None) -> Path:
    """Write the report (default ``reports/class-report.html``) and return its path.

    ``results``: what ``load_results`` returned, if the caller has it.
    """
    # once for the summaries and the warnings
    results = load_results(course) if results is None else results
    summaries = summarise(course, results)
    if not summaries:
        raise ValueError("no grading results yet: run `python -m autograder grade` first")
    path = path or course.root / "reports" / "class-report.html"
    sections = [{"info": info, "figure": _figure(info) if info.scores else "",
                 "also": _counted([(len(info.late), "late"), (len(info.flagged), "flagged")])}
                for info in summaries]
    stale = [s for s in (stale_grades(course, a, results) for a in course.assignments)
             if s.changed]
    roster = {student.id: student.section for student in load_roster(course)}
    ranked = rank_objectives(summaries, roster)
    page = render_template("report.html.j2", title=course.title,
                           unisolated=unisolated_results(course, results), stale=stale,
                           ranked=list(enumerate(ranked, start=1)),
                           section_headers=[f"section {name}" for name, _, _ in
                                            (ranked[0].sections if ranked else [])],
                           summaries=summaries, definitions=DEFINITIONS, sections=sections,
                           **_problems(summaries))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
