"""What nbgrader_config.py plugs into nbgrader, so that plain nbgrader commands
get the same protection as ``python -m autograder``:

* ``SandboxedExecute`` replaces nbgrader's ``Execute`` in autograde: every
  kernel starts sandboxed and limited (``autograder.sandbox.manager``); a kernel that
  dies or is stopped costs the cell that killed it, not the cells that
  already ran: a fresh kernel re-runs the cells before it and grades the
  rest (``kernel_restarts`` times at most); and limits that were hit become
  messages a student can act on ("this cell ran for more than 30 s")
  instead of a bare ``KeyboardInterrupt`` or ``MemoryError``. Two things
  make it quicker without sharing a kernel between notebooks: every kernel
  imports the course's usual modules as it starts (``preload``), and a
  grading worker starts the next notebook's kernel while this one runs
  (``spare_kernel``).
* ``HideTests`` is a ``generate_feedback`` preprocessor: test cells show
  their visible part and the failure message only, never hidden test code,
  their traceback or what they printed.
* ``CourseHeldExporter`` is autograde's exporter: plain ``nbgrader
  autograde`` (the command, or formgrader's button) holds the course folder
  while it works, as ``python -m autograder grade`` does, so that the two
  never write the gradebook and ``autograded/`` at once.
* ``CourseExportPlugin`` is ``nbgrader export``'s plugin: the CSV has the
  course's columns (flags, late, section, status) and every roster student.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, CaselessStrEnum, Integer, List, Unicode

from autograder.core.cells import DEATHS_KEY, HIDDEN, error_output, is_test_cell
from autograder.core.libraries import check as check_libraries
from autograder.core.results import DeathCause
from autograder.execute.capture import OutputCaptureMixin
from autograder.execute.explain import (
    death_reason,
    explain_limits,
    first_line,
    grade_id,
    limits_of,
    stop_after,
)
from autograder.execute.guarding import GuardMixin
from autograder.execute.judging import JudgeMixin, has_plan
from autograder.execute.spare import SpareKernelMixin
from autograder.sandbox.manager import SandboxKernelManager

__all__ = ["SandboxedExecute"]


# Every trait is here (nbgrader's configuration names this class); the rest is in
# one mixin per job: the kernels' start and the spare kernel (execute/spare.py),
# the output budget (execute/capture.py), the guard's questions to the kernel
# (execute/guarding.py) and the judge's hand-off (execute/judging.py). This class
# runs a notebook's cells, again in a fresh kernel after one died.
class SandboxedExecute(SpareKernelMixin, OutputCaptureMixin, GuardMixin, JudgeMixin, Execute):
    """nbgrader's Execute, with sandboxed kernels and clear reasons when a limit is hit.

    With ``trusted`` on (nbgrader_config.py turns it on) the score is not the
    kernel's to decide. Test cells run in the kernel without their hidden
    tests (what students see: the visible tests, their messages, figures),
    and files nbgrader copied from ``source/`` beyond the manifest's declared
    ``data`` are removed first. After the last cell, the judge
    (``autograder.judge``), a fresh sandboxed process, is asked about the
    notebook's own definitions on secret inputs, and each graded test cell's
    first output becomes its verdict, which nbgrader's rule then scores. The
    tamper guard (``autograder.kernel.guard``), installed before the first cell and
    asked after every cell in the cell's own execute request, adds a
    ``TamperingDetected`` note after a test cell when student code changed
    what the tests rely on: a signal for the instructor, not a score. Both
    paths, ``grade`` and plain ``nbgrader autograde``, get the same verdicts.

    When the kernel dies (``os._exit``, a segfault, a limit the watchdog
    enforces) or stops answering, the cell that was running gets a
    ``KernelDied`` error and scores nothing; the cells before it keep what
    they earned. A fresh sandboxed kernel, with a fresh guard, re-runs every
    earlier code cell except those that killed a kernel or ran out of time
    (their recorded outputs are kept, nothing is judged twice) and then runs the rest as
    usual, probes included. At most ``kernel_restarts`` fresh kernels, all
    within the notebook's one time budget (``notebook_timeout``); after that,
    or when the time is up, the remaining cells are marked not run. Each
    death is recorded in the notebook's metadata (``DEATHS_KEY``) for the
    grader's notes and feedback.
    """

    trusted = Bool(False, config=True,
                   help="score every graded test cell by the judge (autograder.judge): a fresh "
                        "sandboxed process that runs the notebook's definitions on secret "
                        "inputs; hidden tests never run in the kernel, and the kernel's "
                        "tamper guard reports what student code changed")
    judge_secret_file = Unicode("", config=True,
                                help="the file holding the course's secret, from which the "
                                     "judge's inputs are drawn (made on first use; "
                                     "MINIFLOW_JUDGE_SECRET overrides it). Empty: "
                                     "<course root>/.miniflow-judge-secret")
    judge_timeout = Integer(30, config=True,
                            help="seconds the judge may take to answer one question")
    kernel_restarts = Integer(2, config=True,
                              help="fresh kernels a notebook may get after its kernel died "
                                   "(0: the rest of the notebook is not run)")
    preload = List(Unicode(), config=True,
                   help="modules each kernel imports as it starts, before any notebook code "
                        "(into sys.modules only: the notebook's namespace stays empty)")
    spare_kernel = Bool(False, config=True,
                        help="start the next notebook's kernel while this one runs, so that "
                             "its start-up is not waited for (sandboxed kernels only; each "
                             "kernel still runs one notebook). The grading workers turn it on")

    traceback_mode = CaselessStrEnum(
        ("", "Plain", "Context", "Verbose", "Minimal"), default_value="Plain", config=True,
        help="how a grading kernel lays out an error's traceback (IPython's %xmode). Plain: "
             "Python's own layout, a line per frame; IPython's default, Context, reads and "
             "colours the source around every frame and costs about three times as much per "
             "error, mostly for test cells whose tracebacks feedback never shows. "
             "'': the kernel's own default")
    ipython_history = Bool(False, config=True,
                           help="keep IPython's history database in grading kernels (what "
                                "%history reads). In, Out and _ work either way; the "
                                "database costs about 0.6 ms of the kernel's CPU per request")
    guard_in_request = Bool(True, config=True,
                            help="ask the guard in each cell's own execute request (a user "
                                 "expression the kernel evaluates after the cell) rather "
                                 "than in a request of its own after it")
    max_cell_output = Unicode("4 MiB", config=True,
                              help="the most output one cell keeps, in characters (\"4 MiB\", "
                                   "\"500 KiB\"); beyond it the cell's output is dropped as it "
                                   "arrives, except the first error or stderr output, which "
                                   "is kept, cut short, so a failed test still fails")
    max_notebook_output = Unicode("32 MiB", config=True,
                                  help="the most output one notebook keeps, in characters; "
                                       "beyond it later cells keep only their first error "
                                       "or stderr output, cut short")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # A library upgraded past what the grader was tested with stops here, named,
        # instead of in the middle of a class's grading (autograder.core.libraries).
        check_libraries()
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)
        # Grading keeps nothing of a kernel: no need to wait for a polite exit.
        self.shutdown_kernel = "immediate"
        self._time_used = 0.0
        self._expressions: dict[str, str] | None = None  # for the next execute request
        self._reply: dict | None = None  # the last cell's execute reply
        self._output = self._new_budget()
        self._running: NotebookNode | None = None  # the cell being run, for the budget's note
        # whether the judge gives this notebook's verdicts (set per notebook in preprocess)
        self._judged = False

    async def _async_handle_timeout(self, timeout: int,
                                    cell: NotebookNode | None = None) -> Any:
        if cell is not None:
            cell.setdefault("metadata", {})["autograder_timed_out"] = timeout
        return await super()._async_handle_timeout(timeout, cell)

    def preprocess(self, nb: NotebookNode, resources: Any = None,
                   km: Any = None) -> tuple[NotebookNode, Any]:
        return run_sync(self._async_preprocess)(nb, resources, km)

    def create_kernel_manager(self) -> Any:
        manager = super().create_kernel_manager()
        if isinstance(manager, SandboxKernelManager):
            # A fresh kernel after a death gets what is left of the notebook's time.
            manager.time_used = self._time_used
        return manager

    async def _async_preprocess(self, nb: NotebookNode, resources: Any,
                                km: Any) -> tuple[NotebookNode, Any]:
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._output = self._new_budget()
        self._check_assign_resources(resources)
        # Only the grader writes this record; whatever a submission brought is dropped.
        self.nb.metadata.pop(DEATHS_KEY, None)
        limits: dict[str, Any] = {}
        assignment = (resources or {}).get("nbgrader", {}).get("assignment", "")
        # The judge grades the assignments it has questions for (autograder/judge/plans.py's
        # plans); an assignment without any is graded by its tests in the kernel, as
        # plain nbgrader would, with a warning.
        self._judged = self.trusted and has_plan(assignment)
        if self.trusted and assignment and not self._judged:
            self.log.warning("%s has no judge declaration in autograder/judge/plans.py: its test "
                             "cells run whole in the kernel and decide the score there, "
                             "where student code could change them", assignment)
        if self._judged:
            self._withhold_source_files(assignment)
        guard = f"_miniflow_guard_{secrets.token_hex(8)}"
        changed: list[str] = []  # what student code changed: kept across kernels
        deaths: list[dict[str, Any]] = []
        skipped: set[int] = set()  # cells that killed a kernel: never run again
        resume = 0  # the first cell the current kernel runs for real
        began = time.monotonic()
        self._time_used = 0.0
        cwd = self.resources.get("metadata", {}).get("path") or None
        spare_key = self.spare_key(cwd) if self.owns_km else None
        self.km = await self.claim_spare(spare_key) if self.owns_km else self.km
        while True:
            died: tuple[int, tuple[DeathCause, str]] | None = None
            async with self.async_setup_kernel():
                assert self.kc is not None and self.km is not None
                manager = self.km
                limits = limits_of(manager)
                self.kc.execute = self._with_expressions(self.kc.execute)
                reply = await self.async_wait_for_reply(await ensure_async(self.kc.kernel_info()))
                assert reply is not None
                self.nb.metadata["language_info"] = reply["content"]["language_info"]
                if not deaths:
                    await self.start_spare(spare_key, cwd)
                if self.trusted and self.nb.cells:
                    await self.ask_kernel(f"import autograder.kernel.guard\n"
                                          f"autograder.kernel.guard.install({guard!r})", 0)
                index = 0
                try:
                    # A fresh kernel: rebuild the state, then go on where the last one died.
                    for index in range(resume):
                        earlier = self.nb.cells[index]
                        # Not the cells that killed a kernel or ran out of time: they would
                        # again (a cell that timed out costs its whole time limit).
                        if (index not in skipped and earlier.cell_type == "code"
                                and "autograder_timed_out" not in earlier.get("metadata", {})):
                            await self._replay(index)
                            if self.trusted:
                                await self._guard_check(index, guard, changed)
                    for index in range(resume, len(self.nb.cells)):
                        cell = self.nb.cells[index]
                        self._check_assign_resources(resources)
                        said = await self._execute_asking(cell, index, guard)
                        if self.trusted and cell.cell_type == "code":
                            await self._judge(cell, index, guard, changed, said)
                except (DeadKernelError, CellTimeoutError) as error:
                    died = (index, death_reason(manager, error))
            if died is None:
                break
            index, (cause, reason) = died
            replaying = index < resume
            elapsed = time.monotonic() - began
            budget = getattr(manager, "notebook_timeout", None)
            restart = (self.owns_km and len(deaths) < self.kernel_restarts
                       and (budget is None or elapsed < budget))
            deaths.append({"cell": index + 1, "cause": str(cause),
                           "grade_id": grade_id(self.nb.cells[index]),
                           "first_line": first_line(self.nb.cells[index]),
                           "reason": reason, "while_replaying": replaying,
                           "restarted": restart})
            if not restart:
                if len(deaths) > 1:
                    reason += (f" (the kernel had already died {len(deaths) - 1} time(s) in "
                               "this notebook, so no fresh kernel was started)")
                if replaying:
                    reason = (f"the kernel died again while re-running cell {index + 1} to "
                              f"rebuild the state: {reason}")
                    stop_after(self.nb.cells, resume - 1, reason, mark=False)
                else:
                    stop_after(self.nb.cells, index, reason)
                break
            skipped.add(index)
            if not replaying:
                self.nb.cells[index].setdefault("outputs", []).append(error_output(
                    "KernelDied", f"the kernel died while running this cell: {reason}. The "
                    "cells after it were run in a fresh kernel, after re-running the cells "
                    "before it (without this one)"))
                resume = index + 1
            self._time_used = time.monotonic() - began
        if deaths:
            self.nb.metadata[DEATHS_KEY] = deaths
        if self._judged:
            student = (resources or {}).get("nbgrader", {}).get("student", "") or ""
            self._run_judge(assignment, str(student))
        self.set_widgets_metadata()
        explain_limits(self.nb, limits)
        return self.nb, self.resources

    async def _replay(self, index: int) -> None:
        """Run cell ``index`` again in a fresh kernel; its recorded outputs stay as they were."""
        original = self.nb.cells[index]
        source = HIDDEN.sub("", original.source) \
            if self._judged and is_test_cell(original) else original.source
        again = NotebookNode(cell_type="code", source=source, metadata={}, outputs=[],
                             execution_count=None)
        try:
            with self._output.discarded():
                await self.async_execute_cell(again, index, store_history=True)
        finally:
            self.nb.cells[index] = original  # nbclient stores what it ran at that index
