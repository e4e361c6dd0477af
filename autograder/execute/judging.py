"""The judge's hand-off: what the kernel may not see, and the judge's verdicts.

With ``trusted`` on and a plan for the assignment (``has_plan``), the score is
the judge's (``autograder.judge``): the files nbgrader copied from
``source/`` beyond the declared data are removed before any cell runs, test
cells run in the kernel without their hidden tests, and after the last cell
each graded test cell gets the judge's verdict.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nbformat import NotebookNode

from autograder.core.cells import HIDDEN, is_test_cell
from autograder.sandbox.manager import SandboxKernelManager

__all__ = ["JudgeMixin", "has_plan"]


class JudgeMixin:
    """``SandboxedExecute``'s hand-off to the judge.

    A mixin for ``autograder.execute.preprocessor.SandboxedExecute``: it
    reads that class's ``judge_secret_file`` and ``judge_timeout``, and
    ``self._judged`` (whether the judge gives this notebook's verdicts).
    """

    @contextmanager
    def _visible_only(self, cell: NotebookNode) -> Iterator[None]:
        """With the judge on, a test cell runs in the kernel without its hidden tests.

        The judge decides the score; hidden tests never run where student code
        runs (IPython would keep their source in ``In``). The cell keeps its
        whole source in the graded notebook.
        """
        if not (self._judged and is_test_cell(cell)) or \
                not HIDDEN.search(cell.source):
            yield
            return
        whole = cell.source
        cell.source = HIDDEN.sub("", whole)
        try:
            yield
        finally:
            cell.source = whole

    def _run_judge(self, assignment: str, student: str) -> None:
        """Score every graded test cell by the judge's verdict (autograder.judge)."""
        from autograder.judge import apply_verdicts, judge_notebook, read_secret
        from autograder.sandbox.bubblewrap import resolve_mode

        secret = read_secret(self._secret_path())
        section = dict(self.config.get("SandboxKernelManager", {}))
        mode = resolve_mode(section.get("mode", SandboxKernelManager.mode.default_value))[0]
        # The kernels' limits, as this course configures them.
        limits = SandboxKernelManager(config=self.config).limits()
        verdicts = judge_notebook(self.nb.cells, assignment, student, secret, mode=mode,
                                  limits=limits, timeout=self.judge_timeout)
        apply_verdicts(self.nb.cells, verdicts)

    def _withhold_source_files(self, assignment: str) -> None:
        """Remove from the kernel's folder what nbgrader copied from ``source/`` beyond the
        assignment's declared data (the manifest's ``data``): an instructor's paired
        ``.py`` or answer files never reach student code."""
        from autograder.core.manifest import ManifestError, load_manifest

        cwd = self.resources.get("metadata", {}).get("path")
        root = self.config.get("CourseDirectory", {}).get("root")
        if not (cwd and root and assignment):
            return
        source = Path(root) / "source" / assignment
        try:
            declared = set(load_manifest(root).assignment(assignment).data)
        except (ManifestError, KeyError, OSError):
            declared = set()
        if not source.is_dir():
            return
        for path in source.rglob("*"):
            relative = path.relative_to(source).as_posix()
            if path.is_dir() or path.suffix == ".ipynb" or relative in declared:
                continue
            copied = Path(cwd) / relative
            if copied.is_file() and not copied.is_symlink():
                copied.unlink()

    def _secret_path(self) -> Path:
        from autograder.judge import SECRET_FILE

        if self.judge_secret_file:
            return Path(self.judge_secret_file)
        root = self.config.get("CourseDirectory", {}).get("root") or os.getcwd()
        return Path(root) / SECRET_FILE


def has_plan(assignment: str) -> bool:
    """Whether the judge has questions for ``assignment`` (autograder/judge/plans.py)."""
    from autograder.judge.plans import PLANS

    return assignment in PLANS
