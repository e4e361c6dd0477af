"""Grade submissions with nbgrader, in parallel, trusting nothing a student's code can reach.

Each submission is graded by a supervised worker process (``autograder.run.workers``)
in a fresh temporary course folder of its own, made from a template that the
worker generated once per assignment (configuration, header, source, a new
gradebook). nbgrader's ``autograde`` runs there; its kernel is sandboxed
(``autograder.sandbox.manager``), so the student's code never sees the course, this
folder, its gradebook or another student. The worker hands back only the
executed notebook.

The parent then scores that notebook itself, from the instructor's own copy
of ``source/``: each graded cell must carry exactly the instructor's test
(or it scores zero), and its points come from ``source/``, not from
anything in the submission. nbgrader's rule decides pass or fail (an error
or output on stderr fails the cell). The parent alone writes the course
gradebook, in one transaction, and only then puts the executed notebooks in
``autograded/``: a run that fails part-way changes neither.

Submissions are checked before nbgrader sees them (not JSON, not a
notebook, missing, renamed, extra files) and are only ever copied: the files
in ``submitted/`` are never modified.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder.core.cells import graded_cell_ids, is_graded, is_test_cell, nbgrader_meta
from autograder.core.lock import CourseBusy, course_held, hold_course
from autograder.core.manifest import Assignment, Course
from autograder.core.reasons import Reason
from autograder.core.results import CellGrade, GradeResult, KernelDeath, Status
from autograder.execute.direct import error_message
from autograder.judge.review import Review, review_within, start_review_server
from autograder.record.nbgrader_api import (
    copy_course_skeleton,
    grading_config,
    template,
)
from autograder.run.worker_task import grade_in_worker

__all__ = ["CourseBusy", "Prepared", "copy_course_skeleton", "course_held", "grade",
           "grade_in_worker", "hold_course", "kernel_deaths", "prepare_submission",
           "print_results", "score_notebook", "throughput_line", "time_left"]


@dataclass
class Prepared:
    """A submission checked and ready to copy, or the reason it cannot be graded."""

    notebook: Path | None
    notes: list[str]
    reason: str = ""  # in words, for people
    code: Reason | None = None  # the reason as a code
    deleted: list[str] = field(default_factory=list)  # graded cells no longer there
    edited: list[str] = field(default_factory=list)  # test cells whose code was changed


# What collect keeps beside a notebook: the submission time, the exchange's secret
# (release_feedback needs it), the LMS's "late" marker. Not extra files.
_KEPT_BESIDE = ("timestamp.txt", "submission_secret.txt", "lms_late.txt")


# The largest notebook file taken for grading: an exercise notebook, saved with its
# outputs and figures, is well under a megabyte; one of hundreds of megabytes
# would cost the grader its memory before any cell runs.
MAX_SUBMISSION_BYTES = 32 << 20


def prepare_submission(folder: Path, assignment: Assignment,
                       source: Path | None = None) -> Prepared:
    """Find and check the notebook in ``submitted/<student>/<assignment>/``.

    A missing notebook with exactly one other notebook beside it is taken as
    renamed (and noted); anything that is not a readable notebook is
    rejected with the reason.
    """
    expected = folder / assignment.notebook_file
    notes: list[str] = []
    if not folder.is_dir():
        return Prepared(None, notes, f"no submission folder {folder}", Reason.NO_FOLDER)
    notebooks = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    others = sorted(p.name for p in folder.iterdir()
                    if p.is_file() and p != expected and p.name not in _KEPT_BESIDE)
    if expected.is_file():
        chosen = expected
    elif len(notebooks) == 1:
        chosen = notebooks[0]
        notes.append(f"notebook was renamed to {chosen.name}; graded it as "
                     f"{assignment.notebook_file}")
        others.remove(chosen.name)
    elif not notebooks:
        return Prepared(None, notes, f"missing notebook: expected {assignment.notebook_file}, "
                        f"found {', '.join(others) or 'nothing'}", Reason.MISSING_NOTEBOOK)
    else:
        return Prepared(None, notes, f"expected {assignment.notebook_file} but found several "
                        f"notebooks ({', '.join(p.name for p in notebooks)}); cannot tell "
                        "which one to grade", Reason.SEVERAL_NOTEBOOKS)
    if others:
        notes.append(f"ignored extra files: {', '.join(others)}")
    size = chosen.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        from autograder.sandbox.bubblewrap import format_size

        return Prepared(None, notes, f"{chosen.name} is {format_size(size)}, larger than the "
                        f"{format_size(MAX_SUBMISSION_BYTES)} a submitted notebook may be "
                        "(its saved outputs are what usually makes a notebook large)",
                        Reason.TOO_LARGE)
    try:
        text = chosen.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return Prepared(None, notes, f"{chosen.name} is not a text file (is it a notebook?)",
                        Reason.NOT_TEXT)
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return Prepared(None, notes, f"{chosen.name} is not valid JSON ({error.msg} at line "
                        f"{error.lineno}); it may be truncated or not a notebook",
                        Reason.NOT_JSON)
    except RecursionError:  # thousands of nested brackets: no notebook looks like that
        return Prepared(None, notes, f"{chosen.name} is JSON but not a valid notebook: it is "
                        "nested thousands of levels deep", Reason.NOT_NOTEBOOK)
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several types
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        return Prepared(None, notes, f"{chosen.name} is JSON but not a valid notebook: {first}",
                        Reason.NOT_NOTEBOOK)
    deleted, edited = [], []
    if source is not None and source.is_file():
        present = set(graded_cell_ids(notebook))
        original = nbformat.read(source, as_version=4)
        deleted = [g for g in graded_cell_ids(original) if g not in present]
        tests = {nbgrader_meta(c)["grade_id"]: c.source for c in original.cells
                 if is_test_cell(c)}
        for cell in notebook.cells:
            grade_id = nbgrader_meta(cell).get("grade_id")
            if grade_id in tests and grade_id not in edited and \
                    _visible(cell.get("source", "")) != _visible(tests[grade_id]):
                edited.append(str(grade_id))
    return Prepared(chosen, notes, deleted=deleted, edited=edited)


def _visible(source: str) -> str:
    """A test cell's code as the student's copy holds it (nbgrader releases it without
    the hidden region), whitespace at the ends aside."""
    from autograder.core.cells import HIDDEN

    return HIDDEN.sub("", source).strip()


def _explain_failure(log: str) -> str:
    lowered = log.lower()
    if "kernel died" in lowered or "deadkernelerror" in lowered:
        return "the kernel died while running the notebook (does it call os._exit or exit()?)"
    if "timeout" in lowered or "timed out" in lowered:
        return "the notebook did not finish within the time limit"
    return "nbgrader could not grade it"


def _restored(source: str, grade_id: str) -> str:
    """A test cell's code without the line nbgrader adds when it restores a deleted cell."""
    from nbgrader.preprocessors import OverwriteCells

    notice = "# " + OverwriteCells().missing_cell_notification.format(cell_id=grade_id)
    return source[len(notice):] if source.startswith(notice) else source


def score_notebook(executed: nbformat.NotebookNode, source: nbformat.NotebookNode
                   ) -> tuple[list[CellGrade], list[str], list[Reason]]:
    """Score every graded cell of ``source`` as it ran in ``executed`` (nbgrader's rule).

    Points come from ``source``. A graded cell missing from ``executed``, or
    whose code is not exactly the instructor's test, scores zero. Returns the
    cells, the notes, and the reasons' codes (``Reason.MANUAL_GRADING`` when
    nbgrader could not score a cell).
    """
    from nbgrader.utils import determine_grade

    ran: dict[str, nbformat.NotebookNode] = {}
    for cell in executed.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            ran.setdefault(grade_id, cell)
    cells: list[CellGrade] = []
    notes: list[str] = []
    reasons: list[Reason] = []
    for cell in source.cells:
        if not is_graded(cell):
            continue
        meta = cell.metadata.nbgrader
        grade_id, points = meta["grade_id"], float(meta["points"])
        got = ran.get(grade_id)
        if got is None:
            cells.append(CellGrade(grade_id, 0.0, points, "this graded cell did not run"))
            continue
        if got.cell_type != cell.cell_type or _restored(got.source, grade_id) != cell.source:
            cells.append(CellGrade(grade_id, 0.0, points, "the code that ran in this test "
                                   "cell was not the instructor's test, so it scores 0"))
            notes.append(f"{grade_id}: the test that ran was not the instructor's")
            continue
        judged = copy.deepcopy(got)
        judged.metadata["nbgrader"] = copy.deepcopy(meta)
        score, _ = determine_grade(judged)
        if score is None:
            notes.append(f"{grade_id} needs manual grading")
            reasons.append(Reason.MANUAL_GRADING)
            score = 0.0
        # A cell the judge passed says nothing: an error the kernel showed after
        # the verdict (a visible test that failed on an earlier exercise's slip)
        # decided nothing.
        cells.append(CellGrade(grade_id, float(score), points,
                               error_message(got) if score < points else ""))
    return cells, notes, list(dict.fromkeys(reasons))


def kernel_deaths(executed: nbformat.NotebookNode) -> tuple[list[KernelDeath], list[str]]:
    """The kernel deaths SandboxedExecute recorded in ``executed``, and a note for each."""
    from autograder.core.cells import DEATHS_KEY

    deaths = [KernelDeath.from_dict(d) for d in executed.metadata.get(DEATHS_KEY, [])
              if isinstance(d, dict)]
    notes = []
    for death in deaths:
        where = f"cell {death.cell}" + (f" ({death.grade_id})" if death.grade_id else "")
        what = ("while it was re-running " if death.while_replaying else "in ") + where
        after = ("the cells after it were graded in a fresh kernel" if death.restarted
                 else "the cells after it were not run")
        notes.append(f"the kernel died {what}: {death.reason}; {after}")
    return deaths, notes


def _apply_verdicts(result: GradeResult, executed: nbformat.NotebookNode,
                    review: Review | None) -> None:
    """Name what the tamper guard found; apply the static review's zeros.

    Scores are the judge's (``autograder.judge``): its verdict is each test
    cell's first output, which nbgrader's rule reads. What the guard saw
    student code change in its kernel is a flag for the instructor, and
    changes no score.
    """
    tampered: dict[str, str] = {}
    for cell in executed.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") == \
                    "TamperingDetected":
                tampered.setdefault(grade_id, str(output.get("evalue", "")))
    if tampered:
        first = next(iter(tampered.values())).split("changed what the tests rely on: ", 1)[-1]
        result.flags.append(f"changed what the tests rely on ({first[:400]}); seen in "
                            f"{len(tampered)} test cell(s)")
    zeroed = review.zeroed if review is not None else {}
    for cell in result.cells:
        if cell.grade_id in zeroed:  # the review's reason says more than "not defined"
            cell.message = zeroed[cell.grade_id]
            cell.score = 0.0
    result.score = float(sum(c.score for c in result.cells))


def result_from(task: dict, answer: dict, source: nbformat.NotebookNode,
                 staging: Path | None, review: Review | None = None) -> GradeResult:
    """The parent's verdict on one worker answer."""
    assignment = task["assignment"]
    result = GradeResult(task["student"], assignment["name"], Status.GRADED,
                         max_score=float(assignment["points"]), notes=list(task["notes"]),
                         sandbox=task["sandbox"],
                         flags=review.lines() if review is not None else [])
    if task.get("edited_tests"):  # a locked cell changed: not something a student does by chance
        result.flags.append(f"changed the code of test cell(s) "
                            f"{', '.join(task['edited_tests'])} (restored before grading)")
    if "failure" in answer:
        result.status = Status.ERROR
        result.notes.append(answer["failure"])
        return result
    text = answer.get("executed")
    if text is None:
        result.status = Status.ERROR
        result.notes.append(_explain_failure(answer.get("log", "")))
        return result
    executed = nbformat.reads(text, as_version=4)
    result.cells, notes, result.reasons = score_notebook(executed, source)
    result.notes += notes
    result.kernel_deaths, notes = kernel_deaths(executed)
    result.notes += notes
    result.score = float(sum(c.score for c in result.cells))
    result.max_score = float(sum(c.max_score for c in result.cells))
    _apply_verdicts(result, executed, review)
    if not answer.get("success"):
        # nbgrader stopped part-way; what ran is scored, and the note says why.
        result.notes.append(_explain_failure(answer.get("log", "")))
        if all(c.score == 0 for c in result.cells):
            result.status = Status.ERROR
    if staging is not None:
        folder = staging / result.student / result.assignment
        folder.mkdir(parents=True, exist_ok=True)
        (folder / assignment["notebook_file"]).write_text(text, encoding="utf-8")
        if task.get("timestamp"):
            shutil.copyfile(task["timestamp"], folder / "timestamp.txt")
        secret = Path(task["notebook"]).parent / "submission_secret.txt"
        if secret.is_file():  # nbgrader release_feedback finds the page by it
            shutil.copyfile(secret, folder / "submission_secret.txt")
    return result


def _publish(staging: Path, autograded: Path, results: Iterable[GradeResult]) -> None:
    """Put each graded notebook in ``autograded/``, replacing the old one whole."""
    for result in results:
        staged = staging / result.student / result.assignment
        if not staged.is_dir():
            continue
        destination = autograded / result.student / result.assignment
        destination.parent.mkdir(parents=True, exist_ok=True)
        old = destination.with_name(destination.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if destination.exists():
            destination.rename(old)
        shutil.move(str(staged), str(destination))
        shutil.rmtree(old, ignore_errors=True)


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def grade(course: Course, assignments: Sequence[Assignment], *, students: Sequence[str] | None,
          workers: int | None = None, keep_autograded: bool = True,
          on_result: Callable[[GradeResult], None] | None = None,
          on_start: Callable[[int], None] | None = None,
          record: bool = True, sandbox: str = "auto",
          scheduler: str | None = None, journal: bool = False) -> list[GradeResult]:
    """Grade every submission of ``assignments`` (optionally only ``students``).

    ``sandbox`` is ``auto``, ``bwrap`` or ``none`` (see autograder.sandbox.manager).
    ``scheduler`` (``tcp://HOST:8786``) grades on that Dask cluster instead of
    ``workers`` local processes (see autograder.run.cluster); there, unless
    ``sandbox`` is ``none``, every worker must sandbox with bubblewrap.
    ``on_start(total)`` is called once the submissions are counted,
    ``on_result(result)`` as each one is graded or rejected (for a progress bar).
    ``journal`` keeps each answer as it arrives and reuses those an
    interrupted run kept (``autograder.run.journal``; the command line's ``grade``).
    """
    from autograder.judge import SECRET_FILE, read_secret
    from autograder.run.workers import WorkerPool, run_directory
    from autograder.sandbox.bubblewrap import resolve_mode
    from autograder.sandbox.files import ONE_MATHS_THREAD, start_font_list
    from autograder.sandbox.manager import SandboxKernelManager
    from autograder.sandbox.visible import FONT_LIST_AHEAD

    # The judge's secret exists before any worker needs it (and a bad one stops
    # the run here, with the reason, instead of in every worker).
    read_secret(course.root / SECRET_FILE)
    if scheduler and sandbox != "none":
        mode = "bwrap"  # on the workers; autograder.run.cluster refuses one without it
    else:
        mode, _ = resolve_mode(sandbox)
    # Per submission: its notebook's time budget, and time for nbgrader's own work.
    settings = SandboxKernelManager(config=grading_config(course.root))
    deadline = float(settings.notebook_timeout) + 120
    folders = _submission_folders(course, assignments, students)
    with contextlib.ExitStack() as stack:
        if record or keep_autograded:  # it writes the course: one run at a time
            stack.enter_context(course_held(course.root))
        run_dir = stack.enter_context(run_directory())
        pool: Any = None
        if not scheduler:
            # Started first: the workers ready their first kernel while we check the
            # gradebook, generate the assignment and review the first submissions.
            first = {"root": str(course.root), "assignment": folders[0][0].name,
                     "notebook": folders[0][0].notebook_file, "sandbox": mode,
                     "fonts": settings.mpl_font_list} if folders else None
            environment, fonts = {**os.environ, **ONE_MATHS_THREAD}, None
            if folders and settings.mpl_font_list:
                # Made once, beside our own imports, for every worker (the fork waits for it).
                fonts = stack.enter_context(start_font_list(run_dir / "fonts"))
                environment[FONT_LIST_AHEAD] = str(run_dir / "fonts")
            pool = stack.enter_context(WorkerPool(
                workers or default_workers(), run_dir, deadline=deadline, warm=first,
                environment=environment, ready=fonts and functools.partial(_wait, fonts, 30)))
            pool.start(len(folders))
        return _grade(course, assignments, folders, pool=pool, deadline=deadline,
                      run_dir=run_dir, keep_autograded=keep_autograded, on_result=on_result,
                      on_start=on_start, record=record, mode=mode, scheduler=scheduler,
                      journal=journal and record and keep_autograded)


def _wait(process: Any, seconds: float) -> None:
    """Wait for ``process`` at most ``seconds``; stop it if it is still running."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _submission_folders(course: Course, assignments: Sequence[Assignment],
                        students: Sequence[str] | None) -> list[tuple[Assignment, str, Path]]:
    """(assignment, student, folder) of every submission to grade, in order."""
    submitted = course.root / "submitted"
    names = sorted(p.name for p in submitted.iterdir() if p.is_dir()) \
        if submitted.is_dir() else []
    if students is not None:
        wanted = set(students)
        names = [n for n in names if n in wanted]
    return [(assignment, student, submitted / student / assignment.name)
            for assignment in assignments for student in names
            if (submitted / student / assignment.name).is_dir()]


def _grade(course: Course, assignments: Sequence[Assignment],
           folders: list[tuple[Assignment, str, Path]], *, pool: Any, deadline: float,
           run_dir: Path, keep_autograded: bool,
           on_result: Callable[[GradeResult], None] | None,
           on_start: Callable[[int], None] | None, record: bool, mode: str,
           scheduler: str | None, journal: bool = False) -> list[GradeResult]:
    if record:
        from autograder.record.gradebook import check_gradebook

        check_gradebook(course)  # before any work: a broken gradebook stops us here
    kept = None
    if journal:
        from autograder.run.journal import JOURNAL, Journal

        kept = Journal(course.root / JOURNAL, course.root, mode)
    try:
        results = _grade_all(course, assignments, folders, pool=pool, deadline=deadline,
                             run_dir=run_dir, keep_autograded=keep_autograded,
                             on_result=on_result, on_start=on_start, record=record, mode=mode,
                             scheduler=scheduler, kept=kept)
    finally:
        if kept is not None:
            kept.close()
    if kept is not None:
        kept.finish({(r.assignment, r.student) for r in results})
        if kept.reused:
            print(f"\n{kept.reused} submission(s) were not run again: their answers were kept "
                  f"from an interrupted run ({JOURNAL})", file=sys.stderr)
    return results


def _grade_all(course: Course, assignments: Sequence[Assignment],
               folders: list[tuple[Assignment, str, Path]], *, pool: Any, deadline: float,
               run_dir: Path, keep_autograded: bool,
               on_result: Callable[[GradeResult], None] | None,
               on_start: Callable[[int], None] | None, record: bool, mode: str,
               scheduler: str | None, kept: Any) -> list[GradeResult]:
    """``_grade``'s run: every answer scored, then recorded and published."""
    results: list[GradeResult] = []
    sources: dict[str, nbformat.NotebookNode] = {}
    releases: dict[str, nbformat.NotebookNode | None] = {}
    reviews: dict[int, Review | Exception] = {}
    unreviewed: dict[int, tuple[Path, str]] = {}  # task -> (notebook, assignment)
    times: dict[tuple[str, str], Any] = {}  # (student, assignment) -> submitted, UTC
    staging = run_dir / "staging" if keep_autograded else None

    def reported(result: GradeResult) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    def reviewed() -> Iterator[dict]:
        """Each submission's task, checked and reviewed as the workers ask for it."""
        for assignment, student, folder in folders:
            source_path = course.root / "source" / assignment.name / assignment.notebook_file
            if assignment.name not in sources:
                # The instructor's tests, read once, before any of this assignment's
                # student code runs.
                sources[assignment.name] = nbformat.read(source_path, as_version=4)
                release = course.root / "release" / assignment.name / assignment.notebook_file
                releases[assignment.name] = nbformat.read(release, as_version=4) \
                    if release.is_file() else None
                if scheduler:  # Dask's client runs threads: reviews go to a review server
                    start_review_server([(sources[assignment.name],
                                          releases[assignment.name])])
            prepared = prepare_submission(folder, assignment, source_path)
            if prepared.notebook is None:
                result = GradeResult(student, assignment.name, Status.REJECTED,
                                     max_score=assignment.points,
                                     notes=[*prepared.notes, prepared.reason], sandbox=mode,
                                     reasons=[prepared.code] if prepared.code else [])
                _submission_time(student, assignment, folder, result.notes, times)
                _apply_late(course, result, times)
                reported(result)
                continue
            notes = list(prepared.notes)
            if prepared.deleted:
                notes.append(f"graded cell(s) {', '.join(prepared.deleted)} were deleted from "
                             "the notebook; nbgrader restored them and graded them as usual")
            if prepared.edited:
                notes.append(f"test cell(s) {', '.join(prepared.edited)} were changed in the "
                             "submission; nbgrader restored the instructor's code and graded "
                             "that")
            stamp = folder / "timestamp.txt"
            stamp_ok = _submission_time(student, assignment, folder, notes, times)
            number = len(unreviewed) + len(reviews)
            unreviewed[number] = (prepared.notebook, assignment.name)
            task = {"id": number, "root": str(course.root), "student": student,
                    "assignment": {**asdict(assignment), "notebook_file": assignment.notebook_file},
                    "notebook": str(prepared.notebook), "notes": notes,
                    "edited_tests": prepared.edited,
                    "timestamp": str(stamp) if stamp_ok else None, "sandbox": mode}
            kept_answer = kept.kept_answer(task) if kept is not None else None
            if kept_answer is not None:  # an interrupted run's, made from the same files
                answered(task, kept_answer, keep=False)
                continue
            yield task

    def review_one() -> bool:
        """While every worker grades: review one task handed out; False when none is left."""
        if not unreviewed:
            return False
        with contextlib.suppress(Exception):  # its answer's scoring reports it
            review_of(next(iter(unreviewed)))
        return True

    def review_of(number: int) -> Review:
        """The static review of task ``number``'s notebook, made once."""
        if number not in reviews:
            notebook, name = unreviewed.pop(number)
            try:
                # Read once: the same file the worker copies; never modified.
                # With a budget: a huge notebook's review must not hold up the class.
                reviews[number] = review_within(nbformat.read(notebook, as_version=4),
                                                sources[name], releases[name])
            except Exception as error:  # raised again when its answer is scored
                reviews[number] = error
        review = reviews[number]
        if isinstance(review, Exception):
            raise review
        return review

    def answered(task: dict, answer: dict, keep: bool = True) -> None:
        if keep and kept is not None and "failure" not in answer:
            kept.add(task, answer)  # a worker that failed is tried again next time
        name = task["assignment"]["name"]
        try:
            result = result_from(task, answer, sources[name], staging, review_of(task["id"]))
        except Exception as error:  # one submission's content must not stop the class
            result = GradeResult(task["student"], name, Status.ERROR,
                                 max_score=float(task["assignment"]["points"]),
                                 notes=[*task["notes"], "the grader could not score this "
                                        f"submission ({type(error).__name__}: "
                                        f"{str(error)[:300]}); the rest of the class was "
                                        "graded"], sandbox=task["sandbox"])
        _apply_late(course, result, times)
        reported(result)

    if on_start:
        on_start(len(folders))
    if scheduler:
        from autograder.run.cluster import DaskPool

        tasks = reviewed()  # checked one by one as the cluster has room for them
        first = next(tasks, None)
        if first is not None:  # a class of rejected files needs no cluster
            DaskPool(scheduler, deadline=deadline, sandbox=mode).run(
                itertools.chain([first], tasks), answered)
    else:
        # Each assignment is generated once for the run, by us, while the first
        # submissions are reviewed; each one is then graded in a fresh copy of it.
        made = {a.name: run_dir / f"template-{a.name}" for a, _, _ in folders}

        def templated() -> Iterator[dict]:
            for task in reviewed():
                task["template"] = str(made[task["assignment"]["name"]])
                yield task

        def generate() -> None:
            for assignment in assignments:
                if assignment.name in made:
                    template(course.root, assignment, made[assignment.name], mode)

        pool.run(templated(), answered, prepare=generate, at_most=len(folders),
                 idle=review_one)
    order = [a.name for a in course.assignments]
    results.sort(key=lambda r: (order.index(r.assignment), r.student))
    if record:
        from autograder.record.gradebook import record_results

        record_results(course, results)
        from autograder.record.fingerprints import record_fingerprints

        # Which tests made these grades: `release` warns when they change.
        record_fingerprints(course, results, sources)
    if staging is not None:
        _publish(staging, course.root / "autograded", results)
    return results


def _submission_time(student: str, assignment: Assignment, folder: Path, notes: list[str],
                     submitted: dict[tuple[str, str], Any]) -> bool:
    """Read ``timestamp.txt`` into ``submitted``; True if nbgrader may be given it."""
    from autograder.record.late import read_timestamp

    try:
        moment = read_timestamp(folder / "timestamp.txt")
    except ValueError as error:
        notes.append(f"{error}; graded without a submission time")
        return False
    if moment is not None:
        submitted[(student, assignment.name)] = moment
    elif (folder / "lms_late.txt").is_file():
        notes.append("the LMS marked this submission late, but no submission time was kept, "
                     "so no late penalty was applied (a timestamp.txt beside the notebook "
                     "applies the course's late policy)")
    return moment is not None


def _apply_late(course: Course, result: GradeResult,
                submitted: dict[tuple[str, str], Any]) -> None:
    """Record how late the submission was and take off the manifest's penalty."""
    from autograder.record.late import lateness

    moment = submitted.get((result.student, result.assignment))
    if moment is None:
        return
    result.late = lateness(course, result.assignment, result.student, moment, result.score)
    result.score = max(0.0, result.score - result.late.penalty)




def throughput_line(results: Sequence[GradeResult], seconds: float, where: str) -> str:
    """What grading cost on this machine: notebooks run per minute, the whole run timed.

    ``where``: what graded them ("2 worker(s)", "the Dask cluster at ...").
    Rejected files never start a kernel, so they are not counted.
    """
    ran = sum(1 for r in results if r.status != Status.REJECTED)
    rate = 60.0 * ran / seconds if seconds > 0 else 0.0
    return (f"   throughput: {ran} notebook(s) graded in {seconds:.1f} s on {where}, "
            f"{rate:.1f} per minute (a run's start-up included)")


def time_left(done: int, total: int, elapsed: float) -> str:
    """``about 3 min left``, from the pace of the run so far; "" until it has one.

    The pace counts the run's start, so the first estimates run long.
    """
    if done < 2 or done >= total or elapsed <= 0:
        return ""
    left = elapsed / done * (total - done)
    if left < 60:
        return f"about {max(5, 5 * round(left / 5))} s left"
    if left < 3600:
        return f"about {round(left / 60)} min left"
    return f"about {left / 3600:.1f} h left"


def print_results(results: Sequence[GradeResult]) -> None:
    """The grade table of a run, one line per submission (``grade`` and ``demo``).

    Ids, notes and reasons quote what students named (folders, extra files,
    cells): each is printed as plain text (``autograder.core.safe_text.terminal_text``).
    """
    from autograder.core.safe_text import terminal_text as text
    from autograder.record.late import describe

    print(f"{'student':18} {'assignment':14} {'score':>9}  status / notes")
    for r in results:
        score = f"{r.score:g}/{r.max_score:g}"
        notes = text("; ".join(r.notes))
        flagged = f"  [FLAGGED: {len(r.flags)}]" if r.flags else ""
        late_text = f"  [LATE: {describe(r.late)}]" if r.late and r.late.seconds_late else ""
        print(f"{text(r.student):18} {text(r.assignment):14} {score:>9}  {text(r.status)}"
              + (f": {notes}" if notes else "") + late_text + flagged)
    if any(r.flags for r in results):
        print("flagged submissions did something the exercises never need: "
              "python -m autograder flags")
