"""Collecting submissions and checking them before nbgrader sees them."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.collect import collect
from autograder.core.manifest import ManifestError, load_manifest
from autograder.pipeline.prepare import prepare_submission

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def course(tmp_path):
    """An empty course folder with the real manifest and configuration."""
    (tmp_path / "course").mkdir()
    shutil.copy2(ROOT / "course" / "manifest.toml", tmp_path / "course" / "manifest.toml")
    shutil.copy2(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    return load_manifest(tmp_path)


def _notebook(text: str = "print(1)") -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(text)]
    return nbformat.writes(notebook)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_folder_per_student_is_placed_by_notebook_name(course, tmp_path):
    first, second = course.assignments[0], course.assignments[1]
    inbox = tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / first.notebook_file).write_text(_notebook())
    (inbox / "bob" / second.name).mkdir(parents=True)
    (inbox / "bob" / second.name / "my work.ipynb").write_text(_notebook())
    before = _digest(inbox)
    report = collect(course, inbox)
    assert sorted((s, a) for s, a, _ in report.placed) == [("alice", first.name),
                                                          ("bob", second.name)]
    assert (course.root / "submitted" / "bob" / second.name / second.notebook_file).is_file()
    assert _digest(inbox) == before, "collect must copy, never change the inbox"


def test_canvas_style_zip_with_resubmission_suffix_and_junk(course, tmp_path):
    first = course.assignments[0]
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"carol_1234_5678_{first.notebook}-1.ipynb", _notebook())
        z.writestr("dave_99_1_notes.txt", "hello")
        z.writestr("erin_5_6_unrelated.ipynb", _notebook())
        z.writestr("__MACOSX/._x.ipynb", "junk")
    report = collect(course, archive)
    assert report.placed == [("carol", first.name, f"carol_1234_5678_{first.notebook}-1.ipynb")]
    reasons = dict(report.skipped)
    assert "not a notebook" in reasons["dave_99_1_notes.txt"]
    assert "matches no assignment" in reasons["erin_5_6_unrelated.ipynb"]
    assert "could not place 2 file(s)" in "\n".join(report.lines())


def test_moodle_folder_names_and_a_named_assignment(course, tmp_path):
    third = course.assignments[2]
    inbox = tmp_path / "inbox"
    (inbox / "frank_42_assignsubmission_file_").mkdir(parents=True)
    (inbox / "frank_42_assignsubmission_file_" / "renamed.ipynb").write_text(_notebook())
    report = collect(course, inbox, assignment=third)
    assert report.placed[0][:2] == ("frank", third.name)


def test_existing_submissions_are_kept_unless_forced(course, tmp_path):
    first = course.assignments[0]
    inbox = tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / first.notebook_file).write_text(_notebook("print('new')"))
    target = course.root / "submitted" / "alice" / first.name / first.notebook_file
    target.parent.mkdir(parents=True)
    target.write_text(_notebook("print('old')"))
    report = collect(course, inbox)
    assert not report.placed and "--force" in report.skipped[0][1]
    assert "old" in target.read_text()
    collect(course, inbox, force=True)
    assert "new" in target.read_text()


def test_zip_entries_cannot_escape_the_course(course, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../escaped.ipynb", _notebook())
    report = collect(course, archive)
    assert not report.placed and "unsafe path" in report.skipped[0][1]
    assert not (tmp_path.parent / "escaped.ipynb").exists()


def test_missing_source_says_what_to_give(course, tmp_path):
    with pytest.raises(FileNotFoundError, match="folder of submissions"):
        collect(course, tmp_path / "nowhere")


def test_unknown_assignment_lists_the_real_ones(course):
    with pytest.raises(ManifestError, match=course.assignments[0].name):
        course.assignment("99_nothing")


# -- prepare_submission: what is graded and what is rejected --------------------


@pytest.mark.parametrize("content, reason, code", [
    ('{"cells": [ truncated', "not valid JSON", "not_json"),
    ('{"hello": "world"}', "not a valid notebook", "not_notebook"),
    ("[" * 100_000, "nested thousands of levels deep", "not_notebook"),
])
def test_broken_notebooks_are_rejected_with_the_reason(course, tmp_path, content, reason, code):
    first = course.assignments[0]
    folder = tmp_path / "s" / first.name
    folder.mkdir(parents=True)
    (folder / first.notebook_file).write_text(content)
    prepared = prepare_submission(folder, first)
    assert prepared.notebook is None and reason in prepared.reason
    assert prepared.code == code


def test_binary_file_posing_as_a_notebook_is_rejected(course, tmp_path):
    first = course.assignments[0]
    folder = tmp_path / "s" / first.name
    folder.mkdir(parents=True)
    (folder / first.notebook_file).write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    prepared = prepare_submission(folder, first)
    assert "not a text file" in prepared.reason and prepared.code == "not_text"


def test_renamed_notebook_is_graded_with_a_note_and_extra_files_are_noted(course, tmp_path):
    first = course.assignments[0]
    folder = tmp_path / "s" / first.name
    folder.mkdir(parents=True)
    (folder / "Copy of graphs.ipynb").write_text(_notebook())
    (folder / "scratch.py").write_text("x = 1")
    prepared = prepare_submission(folder, first)
    assert prepared.notebook == folder / "Copy of graphs.ipynb"
    assert any("renamed" in n for n in prepared.notes)
    assert any("scratch.py" in n for n in prepared.notes)


def test_missing_and_ambiguous_notebooks_are_rejected(course, tmp_path):
    first = course.assignments[0]
    folder = tmp_path / "s" / first.name
    folder.mkdir(parents=True)
    (folder / "answers.txt").write_text("42")
    prepared = prepare_submission(folder, first)
    assert "missing notebook" in prepared.reason and prepared.code == "missing_notebook"
    (folder / "a.ipynb").write_text(_notebook())
    (folder / "b.ipynb").write_text(_notebook())
    prepared = prepare_submission(folder, first)
    assert "several notebooks" in prepared.reason and prepared.code == "several_notebooks"
    prepared = prepare_submission(tmp_path / "nobody" / first.name, first)
    assert prepared.code == "no_folder"


def test_a_rejection_s_advice_follows_its_code_not_its_words(course):
    """Rewording a reason must not change the advice; an old record still gets it."""
    from autograder.core.reasons import Reason
    from autograder.core.results import GradeResult
    from autograder.publish.feedback import problem_html

    first = course.assignments[0]
    reworded = {"student": "ann", "status": "rejected", "max_score": 10,
                "notes": ["Die Datei ist kein vollständiges Notebook"], "reasons": ["not_json"]}

    def page(record: dict) -> str:  # as results.json holds it
        return problem_html(GradeResult.from_dict(record), first, "miniflow")

    assert "it may be truncated" in page(reworded)
    old = {"student": "ann", "status": "rejected", "max_score": 10,
           "notes": ["graphs.ipynb is not valid JSON (Expecting value at line 1)"]}
    assert "it may be truncated" in page(old)
    unknown = {**reworded, "reasons": []}
    assert "it may be truncated" not in page(unknown)
    assert "Fix the problem named above" in page(unknown)
    assert {code.value for code in Reason} >= {"not_json", "not_text", "not_notebook",
                                                "too_large", "missing_notebook",
                                                "several_notebooks", "no_folder",
                                                "manual_grading"}


def test_a_notebook_too_large_to_read_is_rejected_before_it_is_read(course, tmp_path,
                                                                    monkeypatch):
    from autograder.publish.feedback import resubmit_advice
    from autograder.record import submission

    first = course.assignments[0]
    folder = tmp_path / "s" / first.name
    folder.mkdir(parents=True)
    notebook = folder / first.notebook_file
    notebook.write_text(_notebook())
    size = notebook.stat().st_size
    monkeypatch.setattr(submission, "MAX_SUBMISSION_BYTES", size)
    assert prepare_submission(folder, first).notebook == notebook  # exactly at the limit
    monkeypatch.setattr(submission, "MAX_SUBMISSION_BYTES", size - 1)
    read = []
    monkeypatch.setattr(type(notebook), "read_text", lambda *a, **k: read.append(a) or "")
    prepared = prepare_submission(folder, first)
    assert prepared.notebook is None and not read
    assert f"{first.notebook_file} is {size} bytes, larger than the {size - 1} bytes a " \
        "submitted notebook may be" in prepared.reason
    assert prepared.code == "too_large"
    assert "Clear Outputs of All Cells" in resubmit_advice(prepared.code, first)


def test_collect_and_grading_never_work_in_one_course_at_once(course, tmp_path, monkeypatch):
    """A submission replaced while a run reads it could be graded half-written."""
    import shutil as shell

    from autograder.collect import collect_exchange
    from autograder.core.lock import CourseBusy, course_held, hold_course

    first = course.assignments[0]
    inbox = tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / first.notebook_file).write_text(_notebook())
    with course_held(course.root):  # a grading run working here
        with pytest.raises(CourseBusy, match=f"another command is working in {course.root}"):
            collect(course, inbox)
        with pytest.raises(CourseBusy, match="Nothing was changed"):
            collect_exchange(course, tmp_path / "exchange")
    assert not (course.root / "submitted").exists()
    # Free again, it collects; while it places a notebook, a run cannot start.
    seen = []
    copy = shell.copyfile

    def place(*args, **kwargs):
        try:
            hold_course(course.root)()
        except CourseBusy as busy:
            seen.append(str(busy))
        return copy(*args, **kwargs)

    monkeypatch.setattr(shell, "copyfile", place)
    report = collect(course, inbox)
    monkeypatch.undo()
    assert [s for s, _, _ in report.placed] == ["alice"]
    assert seen and all("another command is working in" in s for s in seen), seen
    hold_course(course.root)()  # and released once it has collected
