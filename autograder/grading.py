"""Grade submissions with nbgrader, in parallel, without one bad notebook stopping the rest.

nbgrader cannot autograde in parallel and SQLite takes one writer at a time,
so the work is sharded: each worker process gets its own temporary course
folder (configuration, header, source, and copies of its students'
submissions) with its own gradebook, runs ``nbgrader autograde`` there one
student at a time, and returns plain results. One writer, the parent
process, then records every result in the course gradebook and copies the
autograded notebooks into the course's ``autograded/`` folder. The course
gradebook is whatever ``db_url`` nbgrader_config.py names, so a large course
can point it at PostgreSQL without changing this code.

Submissions are checked before nbgrader sees them (not JSON, not a
notebook, missing, renamed, extra files) and are only ever copied: the files
in ``submitted/`` are never modified.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder.execute import error_message
from autograder.manifest import Assignment, Course

__all__ = ["CellGrade", "GradeResult", "Prepared", "copy_course_skeleton", "grade",
           "prepare_submission"]

@dataclass
class CellGrade:
    grade_id: str
    score: float
    max_score: float
    message: str = ""


@dataclass
class GradeResult:
    """What happened to one student's submission of one assignment."""

    student: str
    assignment: str
    status: str  # "graded", "rejected" (never reached nbgrader) or "error"
    score: float = 0.0
    max_score: float = 0.0
    cells: list[CellGrade] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Prepared:
    """A submission checked and ready to copy, or the reason it cannot be graded."""

    notebook: Path | None
    notes: list[str]
    reason: str = ""
    deleted: list[str] = field(default_factory=list)  # graded cells no longer there


def _graded_cell_ids(notebook: nbformat.NotebookNode) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("grade") and "grade_id" in c.metadata.nbgrader]


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
        return Prepared(None, notes, f"no submission folder {folder}")
    notebooks = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    others = sorted(p.name for p in folder.iterdir()
                    if p.is_file() and p != expected and p.name != "timestamp.txt")
    if expected.is_file():
        chosen = expected
    elif len(notebooks) == 1:
        chosen = notebooks[0]
        notes.append(f"notebook was renamed to {chosen.name}; graded it as "
                     f"{assignment.notebook_file}")
        others.remove(chosen.name)
    elif not notebooks:
        return Prepared(None, notes, f"missing notebook: expected {assignment.notebook_file}, "
                        f"found {', '.join(others) or 'nothing'}")
    else:
        return Prepared(None, notes, f"expected {assignment.notebook_file} but found several "
                        f"notebooks ({', '.join(p.name for p in notebooks)}); cannot tell "
                        "which one to grade")
    if others:
        notes.append(f"ignored extra files: {', '.join(others)}")
    try:
        text = chosen.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return Prepared(None, notes, f"{chosen.name} is not a text file (is it a notebook?)")
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return Prepared(None, notes, f"{chosen.name} is not valid JSON ({error.msg} at line "
                        f"{error.lineno}); it may be truncated or not a notebook")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several types
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        return Prepared(None, notes, f"{chosen.name} is JSON but not a valid notebook: {first}")
    deleted = []
    if source is not None and source.is_file():
        present = set(_graded_cell_ids(notebook))
        deleted = [g for g in _graded_cell_ids(nbformat.read(source, as_version=4))
                   if g not in present]
    return Prepared(chosen, notes, deleted=deleted)


def copy_course_skeleton(root: Path, destination: Path,
                         assignments: Iterable[Assignment]) -> None:
    """The files nbgrader needs to grade: configuration, header, sources."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "nbgrader_config.py", destination / "nbgrader_config.py")
    (destination / "course").mkdir(exist_ok=True)
    for name in ("manifest.toml", "header.ipynb"):
        shutil.copy2(root / "course" / name, destination / "course" / name)
    for assignment in assignments:
        shutil.copytree(root / "source" / assignment.name,
                        destination / "source" / assignment.name, dirs_exist_ok=True)


def _read_results(workdir: Path, assignment: Assignment, student: str,
                  notes: list[str]) -> GradeResult:
    from nbgrader.api import Gradebook, MissingEntry

    result = GradeResult(student, assignment.name, "graded", notes=list(notes))
    autograded = workdir / "autograded" / student / assignment.name / assignment.notebook_file
    messages = {}
    if autograded.is_file():
        for cell in nbformat.read(autograded, as_version=4).cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id:
                messages[grade_id] = error_message(cell)
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}") as gradebook:
        try:
            submission = gradebook.find_submission(assignment.name, student)
        except MissingEntry:
            result.status = "error"
            return result
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.max_score:
                    score = grade.score if grade.score is not None else 0.0
                    result.cells.append(CellGrade(grade.name, float(score),
                                                  float(grade.max_score),
                                                  messages.get(grade.name, "")))
                    if grade.cell_type == "code" and grade.auto_score is None:
                        result.notes.append(f"{grade.name} needs manual grading")
        result.score = float(sum(c.score for c in result.cells))
        result.max_score = float(sum(c.max_score for c in result.cells))
    return result


def _explain_failure(log: str) -> str:
    lowered = log.lower()
    if "kernel died" in lowered or "deadkernelerror" in lowered:
        return "the kernel died while running the notebook (does it call os._exit or exit()?)"
    if "timeout" in lowered or "timed out" in lowered:
        return "the notebook did not finish within the time limit"
    tail = [line for line in log.strip().splitlines() if line.strip()][-3:]
    return "nbgrader could not grade it: " + " | ".join(tail)[-400:]


def _zero_deleted(result: GradeResult, deleted: Sequence[str]) -> None:
    """A graded cell the student deleted was restored by nbgrader; it scores 0."""
    for cell in result.cells:
        if cell.grade_id in deleted:
            cell.score = 0.0
            cell.message = "this graded test cell was deleted from the submitted notebook"
    if deleted:
        result.notes.append(f"graded cell(s) {', '.join(deleted)} were deleted; nbgrader "
                            "restored them and they score 0")
        result.score = float(sum(c.score for c in result.cells))


def _nbgrader_api(workdir: Path):
    """nbgrader's Python API on ``workdir`` (its nbgrader_config.py applies)."""
    import os

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.nbgrader_cli import nbgrader_environment

    # nbgrader shells out to `alembic` from this interpreter's scripts folder.
    os.environ["PATH"] = nbgrader_environment()["PATH"]
    config = PyFileConfigLoader("nbgrader_config.py", path=str(workdir)).load_config()
    config.CourseDirectory.root = str(workdir)
    config.CourseDirectory.db_url = f"sqlite:///{workdir / 'gradebook.db'}"
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def grade_shard(root: str, assignment: Assignment,
                jobs: Sequence[tuple[str, str, list[str], list[str]]],
                keep: str | None = None) -> list[dict]:
    """Worker: grade ``jobs`` (student, notebook, notes, deleted cells) in a private folder.

    nbgrader runs in this process through its Python API, so its (slow)
    import is paid once per worker, not once per submission.
    """
    root_path = Path(root)
    results = []
    # nbgrader's own warnings (SQLAlchemy's autoflush notes, say) are not the
    # student's business and must never turn into errors here.
    with warnings.catch_warnings(), \
            tempfile.TemporaryDirectory(prefix=f"grade-{assignment.name}-") as temp:
        warnings.simplefilter("ignore")
        workdir = Path(temp)
        copy_course_skeleton(root_path, workdir, [assignment])
        api = _nbgrader_api(workdir)
        generated = api.generate_assignment(assignment.name, force=True, create=True)
        if not generated["success"]:
            reason = "nbgrader could not generate the assignment: " + \
                generated.get("error", "")[-400:]
            return [GradeResult(s, assignment.name, "error", notes=[*n, reason]).to_dict()
                    for s, _, n, _ in jobs]
        for student, notebook, notes, deleted in jobs:
            target = workdir / "submitted" / student / assignment.name
            target.mkdir(parents=True)
            shutil.copy2(notebook, target / assignment.notebook_file)
            outcome = api.autograde(assignment.name, student, force=True, create=True)
            failed = not outcome["success"]
            log = outcome.get("log", "") + outcome.get("error", "")
            result = _read_results(workdir, assignment, student, notes)
            if failed:
                # nbgrader stops at a dead kernel and leaves every cell ungraded:
                # report one clear reason instead of a cell-by-cell "manual" list.
                result.notes = [n for n in result.notes if not n.endswith("manual grading")]
                result.notes.append(_explain_failure(log))
                if result.status == "error" or all(c.score == 0 for c in result.cells):
                    result.status = "error"
                    result.score = 0.0
                    result.max_score = result.max_score or assignment.points
            _zero_deleted(result, deleted)
            if keep is not None:
                source = workdir / "autograded" / student / assignment.name
                if source.is_dir():
                    destination = Path(keep) / student / assignment.name
                    shutil.rmtree(destination, ignore_errors=True)
                    shutil.copytree(source, destination)
            results.append(result.to_dict())
    return results


def grade(course: Course, assignments: Sequence[Assignment], *, students: Sequence[str] | None,
          workers: int = 2, keep_autograded: bool = True,
          on_result: Callable[[GradeResult], None] | None = None,
          on_start: Callable[[int], None] | None = None,
          record: bool = True) -> list[GradeResult]:
    """Grade every submission of ``assignments`` (optionally only ``students``).

    ``on_start(total)`` is called once the submissions are counted,
    ``on_result(result)`` as each one is graded or rejected (for a progress bar).
    """
    submitted = course.root / "submitted"
    results: list[GradeResult] = []
    rejected: list[GradeResult] = []
    tasks = []
    for assignment in assignments:
        names = sorted(p.name for p in submitted.iterdir() if p.is_dir()) \
            if submitted.is_dir() else []
        if students is not None:
            names = [n for n in names if n in set(students)]
        jobs = []
        for student in names:
            folder = submitted / student / assignment.name
            if not folder.is_dir():
                continue
            prepared = prepare_submission(
                folder, assignment,
                course.root / "source" / assignment.name / assignment.notebook_file)
            if prepared.notebook is None:
                result = GradeResult(student, assignment.name, "rejected",
                                     max_score=assignment.points,
                                     notes=[*prepared.notes, prepared.reason])
                rejected.append(result)
            else:
                jobs.append((student, str(prepared.notebook), prepared.notes, prepared.deleted))
        # Shards of a few students each keep every worker busy.
        size = max(1, -(-len(jobs) // max(1, workers * 2)))
        tasks += [(assignment, jobs[i:i + size]) for i in range(0, len(jobs), size)]
    if on_start:
        on_start(len(rejected) + sum(len(shard) for _, shard in tasks))
    for result in rejected:
        results.append(result)
        if on_result:
            on_result(result)
    keep = str(course.root / "autograded") if keep_autograded else None
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(grade_shard, str(course.root), a, shard, keep)
                   for a, shard in tasks]
        for future in as_completed(futures):
            for data in future.result():
                data["cells"] = [CellGrade(**c) for c in data["cells"]]
                result = GradeResult(**data)
                results.append(result)
                if on_result:
                    on_result(result)
    results.sort(key=lambda r: ([a.name for a in course.assignments].index(r.assignment),
                                r.student))
    if record:
        from autograder.gradebook import record_results

        record_results(course, results)
    return results
