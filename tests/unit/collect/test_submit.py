"""PrivateSubmit's wall: a submission only its author and the instructors' group read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from traitlets.config import Config

from autograder.collect import files
from autograder.collect.submit import FILE_MODE, FOLDER_MODE, make_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _submission(tmp_path: Path) -> Path:
    """A folder as nbgrader's submit leaves it: 0777, files 0644, one level down too."""
    folder = tmp_path / "alice+01_graphs+2027-01-18 10:00:00.000000 UTC+abc"
    (folder / "data").mkdir(parents=True)
    for name in ("graphs.ipynb", "timestamp.txt", "data/points.csv"):
        (folder / name).write_text("x")
        (folder / name).chmod(0o644)
    (folder / "data").chmod(0o755)
    folder.chmod(0o777)
    return folder


def test_a_submission_in_the_instructors_group_is_closed_to_everyone_else(tmp_path):
    folder = _submission(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("not the student's to close")
    outside.chmod(0o644)
    (folder / "link").symlink_to(outside)
    # The folder's group (the test's) differs from the submitting account's own group.
    assert make_private(folder, own_gid=folder.stat().st_gid + 1)
    assert _mode(folder) == FOLDER_MODE == 0o750
    assert _mode(folder / "data") == FOLDER_MODE
    for name in ("graphs.ipynb", "timestamp.txt", "data/points.csv"):
        assert _mode(folder / name) == FILE_MODE == 0o640, name
    assert _mode(outside) == 0o644  # a link is not followed


def test_a_submission_in_the_students_own_group_keeps_nbgraders_modes(tmp_path):
    folder = _submission(tmp_path)
    assert not make_private(folder, own_gid=folder.stat().st_gid)
    assert _mode(folder) == 0o777 and _mode(folder / "graphs.ipynb") == 0o644


def test_the_students_hub_configuration_selects_it():
    config = Path(__file__).resolve().parents[3] / "course" / "hub" / "student" / \
        "nbgrader_config.py"
    namespace: dict = {}
    loaded = Config()
    exec(compile(config.read_text(), str(config), "exec"),  # noqa: S102 (our own file)
         {"get_config": lambda: loaded, "os": os, "__file__": str(config)}, namespace)
    assert loaded.ExchangeFactory.submit == "autograder.collect.submit.PrivateSubmit"
    assert loaded.CourseDirectory.course_id == "miniflow"


def test_a_file_the_instructor_may_not_read_is_refused_as_such_not_as_a_race(tmp_path,
                                                                              monkeypatch):
    """What collect says when a submission's file is closed to the instructor's account
    (an exchange whose inbound folder hands down the wrong group): the fix, not a race."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "submission_secret.txt").write_text("s")
    real_open = os.open

    def closed(path, flags, *args, dir_fd=None, **kwargs):
        if path == "submission_secret.txt":
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, dir_fd=dir_fd, **kwargs)

    top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    monkeypatch.setattr(files.os, "open", closed)
    try:
        with pytest.raises(files.Refused, match="cannot be read by this account: the exchange "
                           r"must give the instructor read access \(docs/jupyterhub.md\)"):
            for _ in files.walk(top, prune=lambda name: False):
                pass
    finally:
        os.close(top)
