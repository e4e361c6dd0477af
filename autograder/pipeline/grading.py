"""Grade submissions with nbgrader, in parallel, trusting nothing a student's code can reach.

Each submission is graded by a supervised worker process (``autograder.run.workers``)
in a fresh temporary course folder of its own, made from a template that the
worker generated once per assignment (configuration, header, source, a new
gradebook). nbgrader's ``autograde`` runs there; its kernel is sandboxed
(``autograder.sandbox.manager``), so the student's code never sees the course, this
folder, its gradebook or another student. The worker hands back only the
executed notebook.

The parent then scores that notebook itself (``autograder.pipeline.score``),
from the instructor's own copy of ``source/``. The parent alone writes the course
gradebook, in one transaction, and only then puts the executed notebooks in
``autograded/``: a run that fails part-way changes neither.

Submissions are checked before nbgrader sees them (``autograder.pipeline.prepare``)
and are only ever copied: the files in ``submitted/`` are never modified.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import nbformat

from autograder.core.lock import CourseBusy, course_held, hold_course
from autograder.core.manifest import Assignment, Course
from autograder.core.reasons import Reason
from autograder.core.results import GradeResult, Status
from autograder.judge.review import Review, review_within, start_review_server
from autograder.pipeline.prepare import prepare_submission
from autograder.pipeline.score import result_from
from autograder.record.nbgrader_api import (
    copy_course_skeleton,
    grading_config,
    template,
)
from autograder.record.submission import apply_lateness, rejected_result, submission_time
from autograder.run.worker_task import grade_in_worker

__all__ = ["CourseBusy", "copy_course_skeleton", "course_held", "default_workers", "grade",
           "grade_in_worker", "hold_course"]


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
    from autograder.run.rundir import run_directory
    from autograder.run.workers import WorkerPool
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
        from autograder.record.database import check_gradebook

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
            if prepared.notebook is None:  # as plain nbgrader autograde records it too
                reported(rejected_result(course, assignment, student, folder, prepared, mode))
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
                                        "graded"], sandbox=task["sandbox"],
                                 reasons=[Reason.SCORING_FAILED])
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
    moment = submission_time(folder, notes)
    if moment is not None:
        submitted[(student, assignment.name)] = moment
    return moment is not None


def _apply_late(course: Course, result: GradeResult,
                submitted: dict[tuple[str, str], Any]) -> None:
    """Record how late the submission was and take off the manifest's penalty."""
    apply_lateness(course, result, submitted.get((result.student, result.assignment)))
