"""Shared test settings: hypothesis runs derandomized, so every run of the
suite draws the same examples (a failure on CI reproduces locally)."""

from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("course", derandomize=True, deadline=None)
settings.load_profile("course")


def require_bwrap() -> None:
    """Skip without a working bubblewrap on a laptop; fail on CI, where .ci/run installs it."""
    from autograder.sandbox.bubblewrap import probe_bwrap

    probe = probe_bwrap()
    require(None if probe.ok else probe.detail, "the sandbox tests")


def require(problem: str | None, what: str) -> None:
    """Skip ``what`` on a laptop that lacks a system component (``problem`` says which);
    fail on CI, where .ci/run installs it. Nothing happens when ``problem`` is None."""
    import os

    import pytest

    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run {what}, but {problem}")
        pytest.skip(problem)


def hand_graded_gradebook(root, assignment) -> None:
    """A released course whose gradebook holds what only a person could have put there.

    ``root`` is a course folder (``copy_course_skeleton``) with ``assignment``'s
    release; after this its gradebook (the ``db_url`` in effect) holds the
    assignment and its cells, two students with submissions, a manual score,
    a manual comment, an extension and a late penalty: what ``gradebook copy``
    must carry over and a regrade could not make again.
    """
    import datetime
    import warnings

    from autograder.author.release import release
    from autograder.core.manifest import load_manifest
    from autograder.record.database import db_url, open_gradebook

    course = load_manifest(root)
    release(course, [assignment], selfcheck=False)
    with open_gradebook(db_url(course), course.id) as gradebook, warnings.catch_warnings():
        # nbgrader builds rows before adding them to the session, which SQLAlchemy
        # flags (harmlessly) while autoflushing: as in gradebook.record_results.
        warnings.simplefilter("ignore")
        gradebook.update_or_create_student("ann", first_name="Ann", last_name="Lee",
                                           email="ann@example.edu")
        gradebook.update_or_create_student("bo", first_name="Bo", last_name="Ng")
        ann = gradebook.add_submission(assignment.name, "ann",
                                       timestamp=datetime.datetime(2026, 10, 1, 9, 30, 5))
        bo = gradebook.add_submission(assignment.name, "bo",
                                      timestamp=datetime.datetime(2026, 10, 3, 23, 59, 59))
        bo.extension = datetime.timedelta(days=1, hours=2)
        grade = ann.notebooks[0].grades[0]
        grade.manual_score, grade.needs_manual_grade = 0.75, False
        ann.notebooks[0].comments[0].manual_comment = "Good: but name the shapes (ü, ✓)."
        bo.notebooks[0].late_submission_penalty = 1.5
        gradebook.db.commit()


def hand_graded_course(tmp_path_factory, label: str):
    """A new course folder (the first assignment only) whose SQLite gradebook
    ``hand_graded_gradebook`` filled; MINIFLOW_DB_URL is ignored while it is made."""
    from pathlib import Path

    import pytest

    from autograder.core.manifest import load_manifest
    from autograder.pipeline.grading import copy_course_skeleton

    first = load_manifest(Path(__file__).resolve().parents[1]).assignments[0]
    root = tmp_path_factory.mktemp(label) / "course"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MINIFLOW_DB_URL", raising=False)
        copy_course_skeleton(Path(__file__).resolve().parents[1], root, [first])
        hand_graded_gradebook(root, first)
    return root


def sqlite_tables(path) -> dict[str, list[tuple]]:
    """Every row of every table of a SQLite file, sorted."""
    import sqlite3

    with sqlite3.connect(path) as connection:
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {name: sorted(connection.execute(f'SELECT * FROM "{name}"').fetchall())
                for name in names}


# -- tests/unit: the fast tests, one folder per package, and none starts a kernel -------

UNIT = Path(__file__).resolve().parent / "unit"


class KernelStarted(AssertionError):
    """A unit test tried to start a Jupyter kernel."""


@pytest.fixture(autouse=True)
def _unit_tests_start_no_kernel(request, monkeypatch):
    """Under tests/unit/ starting a kernel is an error: those tests run in seconds, and a
    test that needs a kernel belongs beside the integration tests in tests/."""
    if UNIT not in request.node.path.parents:
        return

    def refuse(*args, **kwargs):
        raise KernelStarted(f"{request.node.nodeid} started a kernel: a unit test may not "
                            "(move it to tests/, beside the integration tests)")

    from jupyter_client.manager import AsyncKernelManager, KernelManager

    # Every way jupyter_client starts one (each class binds its own start_kernel).
    for manager in (KernelManager, AsyncKernelManager):
        monkeypatch.setattr(manager, "start_kernel", refuse)
        monkeypatch.setattr(manager, "_async_start_kernel", refuse)


# -- the order the suite runs in ---------------------------------------------------------

#: The files that take longest (``make test`` prints the slowest tests), run first: with
#: ``--dist loadfile`` each file goes to one worker, and a long file handed out last
#: would keep one worker busy while the other has nothing left to do.
LONGEST_FIRST = ("test_selfcheck.py", "test_grading_safety.py", "test_grading_speed.py",
                 "test_postgres.py", "test_cheating.py", "test_exchange.py", "test_late.py",
                 "test_grading.py", "test_roster_status.py", "test_browser.py", "test_hub.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file's own tests keep their order
