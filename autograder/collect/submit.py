"""The student's end of the exchange: a submission only its author and the instructors read.

nbgrader's ``submit`` leaves each submission folder in the exchange's
inbound folder open to everyone (mode 0777, files 0644) and hides it by a
random name only: anyone who learns the name (from a shared screen, a log, a
backup listing) may read the work, or delete its files and put their own in
its place. On a hub of real Unix accounts there is a better wall. The
instructor's nbgrader makes ``inbound/`` with the set-group-id bit, so every
folder a student submits belongs to the instructor's group: ``PrivateSubmit``
then closes it to everyone else (folders 0750, files 0640). The instructor
still reads it (``collect --exchange``, nbgrader's own collect); another
student can neither read, list, add nor replace a file in it.

The students' image selects it in its nbgrader configuration
(course/hub/student/nbgrader_config.py, docs/jupyterhub.md)::

    c.ExchangeFactory.submit = "autograder.collect.submit.PrivateSubmit"

When the folder's group is the student's own (an exchange made without the
set-group-id bit, or one account for everyone, as in containers where all
are ``jovyan``), closing it would lock the instructor out: nbgrader's modes
stay, and the submission says why.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from nbgrader.exchange.default.submit import ExchangeSubmit

#: A submitted folder: its author writes, the instructors' group reads, nobody else.
FOLDER_MODE = 0o750
#: A submitted file: its author writes, the instructors' group reads, nobody else.
FILE_MODE = 0o640


def make_private(folder: Path, own_gid: int) -> bool:
    """Close ``folder`` (and all in it) to everyone but its owner and its group.

    Returns False, changing nothing, when the folder's group is ``own_gid``
    (the submitting account's own group): the instructors would lose it too.
    Links are never followed (a student's symbolic link keeps its own modes).
    """
    if folder.lstat().st_gid == own_gid:
        return False
    for path, folders, files in os.walk(folder, topdown=False):
        for name in files:
            entry = Path(path) / name
            if stat.S_ISREG(entry.lstat().st_mode):
                entry.chmod(FILE_MODE)
        for name in folders:
            entry = Path(path) / name
            if not entry.is_symlink():
                entry.chmod(FOLDER_MODE)
    folder.chmod(FOLDER_MODE)
    return True


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit, then the submission closed to other students (module docstring)."""

    def do_copy(self, src: str, dest: str) -> None:
        """nbgrader's copy (its ignore rules and size limits), into a folder that keeps
        the inbound folder's group for every file.

        nbgrader's ``copytree`` ends by copying the work folder's modes onto the new
        folder, which drops the set-group-id bit, so the two files nbgrader writes after
        it (``timestamp.txt``, ``submission_secret.txt``) would get the student's own
        group and be unreadable to the instructors once closed. Here the folder is made
        first (it inherits the group and the bit from ``inbound/``) and filled with
        contents only.
        """
        if Path(dest).parent != Path(self.inbound_path):
            super().do_copy(src, dest)  # the student's own cache: nbgrader's way
            return
        with tempfile.TemporaryDirectory(prefix="miniflow-submit-") as staging:
            copied = Path(staging) / "copy"
            super().do_copy(src, str(copied))
            os.mkdir(dest)
            for path, folders, files in os.walk(copied):
                target = Path(dest) / Path(path).relative_to(copied)
                for name in folders:
                    (target / name).mkdir()
                for name in files:
                    shutil.copyfile(Path(path) / name, target / name, follow_symlinks=False)

    def copy_files(self) -> None:
        super().copy_files()
        folder = Path(self.inbound_path) / self.assignment_filename
        if not make_private(folder, os.getgid()):
            self.log.warning(
                "The submission %s is readable by anyone who learns its name: the exchange's "
                "inbound folder does not give it the instructors' group (the instructor's "
                "nbgrader makes it with the set-group-id bit; see docs/jupyterhub.md).",
                folder.name)
