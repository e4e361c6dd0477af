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

import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, CaselessStrEnum, Integer, List, Unicode

from autograder.core.cells import DEATHS_KEY, HIDDEN, error_output, is_test_cell
from autograder.core.libraries import check as check_libraries
from autograder.execute.explain import (
    death_reason,
    explain_limits,
    first_line,
    grade_id,
    guard_answer,
    guard_changes,
    limits_of,
    stop_after,
)
from autograder.execute.outputs import OutputBudget
from autograder.execute.startup import FIGURES_BACKEND, OUTPUT_READY, preload_line
from autograder.sandbox.bubblewrap import PASS_THROUGH, parse_size, resolve_mode
from autograder.sandbox.files import data_signature
from autograder.sandbox.manager import SandboxKernelManager, stop_fork_server

__all__ = ["SandboxedExecute", "discard_spare", "spare_pid"]


class SandboxedExecute(Execute):
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

    # -- starting kernels: the same arguments for every kernel, spare or not -----------

    def _launch_arguments(self, manager: Any) -> list[str]:
        """The kernel's arguments: nbclient's (history in memory), no history database,
        the traceback layout and the preload."""
        arguments = list(self.extra_arguments)
        ipykernel = getattr(manager, "ipykernel", False)
        if ipykernel and self.traceback_mode and not any(
                a.startswith("--InteractiveShell.xmode") for a in arguments):
            arguments.append(f"--InteractiveShell.xmode={self.traceback_mode}")
        if ipykernel and self.ipython_hist_file and not any(
                a.startswith("--HistoryManager.hist_file") for a in arguments):
            arguments.append(f"--HistoryManager.hist_file={self.ipython_hist_file}")
        if ipykernel and not self.ipython_history and not any(
                a.startswith("--HistoryManager.enabled") for a in arguments):
            arguments.append("--HistoryManager.enabled=False")
        if not ipykernel:
            return arguments
        modules, then = list(self.preload), [OUTPUT_READY]
        if modules and getattr(manager, "mpl_backend", "") == FIGURES_BACKEND and any(
                m.split(".")[0] in ("matplotlib", "miniflow") for m in modules):
            modules.insert(0, "autograder.kernel.mpl_docs")  # before matplotlib: see there
            # pyplot's backend, which it would import at the first figure of every
            # kernel (0.03 CPU-seconds); a fork server imports it before any shell
            # exists, so the kernel hooks it to the shell it has.
            modules.append("autograder.kernel.figures")
            then.append("import autograder.kernel.figures as f; f.close_after_each_cell()")
        arguments.append(f"--IPKernelApp.exec_lines={preload_line(modules, then)}")
        if modules and isinstance(manager, SandboxKernelManager):
            manager.preload_modules = modules  # a fork server imports them before it forks
        return arguments

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        assert self.km is not None
        resource_path = self.resources.get("metadata", {}).get("path") or None
        if resource_path:
            kwargs.setdefault("cwd", resource_path)
        await ensure_async(self.km.start_kernel(
            extra_arguments=self._launch_arguments(self.km), **kwargs))

    def _spare_key(self, cwd: str | None) -> str | None:
        """What a kernel started for ``cwd`` depends on; None: no spare kernels here."""
        if not self.spare_kernel or self.kernel_manager_class is not SandboxKernelManager:
            return None
        # The kernel nbclient would start for this notebook (its kernelspec's).
        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or ""
        section = dict(self.config.get("SandboxKernelManager", {}))
        # Only behind bubblewrap: unsandboxed, a notebook could reach the next one's kernel.
        if resolve_mode(section.get("mode", SandboxKernelManager.mode.default_value))[0] \
                != "bwrap":
            return None
        inherited = {key: os.environ.get(key) for key in PASS_THROUGH}  # the kernel's too
        return json.dumps([self.kernel_name, self.extra_arguments, self.ipython_hist_file,
                           self.ipython_history, self.preload, self.traceback_mode, section,
                           dict(self.config.get("KernelManager", {})), inherited,
                           data_signature(Path(cwd) if cwd else None), cwd is None],
                          sort_keys=True, default=repr)

    async def _claim_spare(self, key: str | None) -> Any:
        """The spare kernel started for this notebook, if it is still the right one."""
        global _spare
        spare, _spare = _spare, None
        if spare is None:
            return None
        manager, spare_key = spare
        if key is None or spare_key != key or not await ensure_async(manager.is_alive()):
            await _shut_down(manager)
            return None
        manager.restart_clock()
        return manager

    def start_spare_for(self, nb: NotebookNode, cwd: str) -> None:
        """Start, now, the kernel ``nb`` run in ``cwd`` would claim (a worker's first)."""
        self.nb = nb
        run_sync(self._start_spare)(self._spare_key(cwd), cwd)

    async def _start_spare(self, key: str | None, cwd: str | None) -> None:
        """Start the next notebook's kernel now; it boots while this notebook runs."""
        global _spare
        if key is None:
            return
        if _spare is not None:
            await _shut_down(_spare[0])
            _spare = None
        manager = self.kernel_manager_class(
            config=self.config, **({"kernel_name": self.kernel_name} if self.kernel_name else {}))
        try:
            await ensure_async(manager.start_kernel(
                extra_arguments=self._launch_arguments(manager),
                **({"cwd": cwd} if cwd else {})))
        except Exception as error:  # the next notebook starts its own kernel, as usual
            self.log.warning("could not start a spare kernel: %s", error)
            await _shut_down(manager)
            return
        _spare = (manager, key)

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
        self._judged = self.trusted and _has_plan(assignment)
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
        spare_key = self._spare_key(cwd) if self.owns_km else None
        self.km = await self._claim_spare(spare_key) if self.owns_km else self.km
        while True:
            died: tuple[int, str] | None = None
            async with self.async_setup_kernel():
                assert self.kc is not None and self.km is not None
                manager = self.km
                limits = limits_of(manager)
                self.kc.execute = self._with_expressions(self.kc.execute)
                reply = await self.async_wait_for_reply(await ensure_async(self.kc.kernel_info()))
                assert reply is not None
                self.nb.metadata["language_info"] = reply["content"]["language_info"]
                if not deaths:
                    await self._start_spare(spare_key, cwd)
                if self.trusted and self.nb.cells:
                    await self._ask(f"import autograder.kernel.guard\n"
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
            index, reason = died
            replaying = index < resume
            elapsed = time.monotonic() - began
            budget = getattr(manager, "notebook_timeout", None)
            restart = (self.owns_km and len(deaths) < self.kernel_restarts
                       and (budget is None or elapsed < budget))
            deaths.append({"cell": index + 1, "grade_id": grade_id(self.nb.cells[index]),
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

    # -- what a cell's output may cost the grader -----------------------------------------

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int,
                                 *args: Any, **kwargs: Any) -> NotebookNode:
        self._output.new_cell()
        self._running = cell
        return await super().async_execute_cell(cell, cell_index, *args, **kwargs)

    def _new_budget(self) -> OutputBudget:
        return OutputBudget(parse_size(self.max_cell_output),
                             parse_size(self.max_notebook_output))

    def _note_cut(self, outs: list[NotebookNode]) -> None:
        if self._output.note_due():
            outs.append(NotebookNode(output_type="stream", name="stdout",
                                     text=self._output.note()))

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        """nbclient's ``output``, within the cell's and the notebook's output budget.

        A notebook can print or display without end (until its cell's time
        limit): kept, that would be gigabytes in this process, in the answer
        and in ``autograded/``. Beyond the budget an output is dropped as it
        arrives, with one note in the cell, except the cell's first failure
        (an error, or stderr, which nbgrader scores as a failure too): it is
        kept, cut short, so cutting never turns a failed test into a passed one.
        """
        kept = self._output.admit(msg, clearing=self.clear_before_next_output,
                                  display_id=display_id)
        if kept is None:
            self._note_cut(outs)
            return None
        return super().output(outs, kept, display_id, cell_index)

    def clear_output(self, outs: list[NotebookNode], msg: dict[str, Any],
                     cell_index: int) -> None:
        super().clear_output(outs, msg, cell_index)
        if not msg["content"].get("wait"):
            self._output.cleared()

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        """An update rewrites every output shown with its id: each copy counts."""
        copies = sum(len(where) for where in self._display_id_map.get(display_id, {}).values())
        if copies and not self._output.admit_update(msg, display_id, copies):
            if self._running is not None:
                self._note_cut(self._running.setdefault("outputs", []))
            return
        super()._update_display_id(display_id, msg)

    def handle_comm_msg(self, outs: list[NotebookNode], msg: dict[str, Any],
                        cell_index: int) -> None:
        """Widgets play no part in a grade: their messages are not kept (nor their state)."""

    # -- the guard's question rides on the cell's own request ---------------------------

    def _with_expressions(self, execute: Callable[..., Any]) -> Callable[..., Any]:
        """The client's ``execute``, adding the user expressions set for this request."""
        def execute_with(code: str, *args: Any, **kwargs: Any) -> Any:
            if self._expressions:
                kwargs["user_expressions"] = dict(self._expressions)
            return execute(code, *args, **kwargs)

        return execute_with

    def on_cell_executed(self, **kwargs: Any) -> Any:
        self._reply = kwargs.get("execute_reply")
        return super().on_cell_executed(**kwargs)

    async def _execute_asking(self, cell: NotebookNode, index: int, guard: str) -> str | None:
        """Run a notebook cell; with the guard on, ask the guard in the same request.

        The kernel evaluates a request's user expressions right after its
        code, before it replies: asking the guard there costs no round trip of
        its own (there is one for every code cell). The guard's answer, as
        ``_ask`` would have printed it; None when the kernel evaluated no
        expression (the cell raised, or was not run), and then the grader asks
        in a request of its own, as before.
        """
        with self._visible_only(cell):
            if not (self.trusted and self.guard_in_request) or cell.cell_type != "code":
                await self.async_execute_cell(cell, index, store_history=True)
                return None
            self._expressions, self._reply = {"guard": f"{guard}()"}, None
            try:
                await self.async_execute_cell(cell, index, store_history=True)
            finally:
                self._expressions = None
        return guard_answer(self._reply)

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

    async def _guard_check(self, index: int, guard: str, changed: list[str],
                           said: str | None = None) -> None:
        """Ask the guard what student code changed (unless ``said``); note each change once."""
        if said is None:
            said = await self._ask(f"print('MINIFLOW-GUARD ' + {guard}())", index)
        for change in guard_changes(said):
            if not any(c.startswith(change) for c in changed):
                changed.append(f"{change} (noticed after cell {index + 1})")

    async def _judge(self, cell: NotebookNode, index: int, guard: str,
                     changed: list[str], said: str | None = None) -> None:
        """After a cell: what did student code change (a signal for the instructor;
        the score is the judge's, whatever the kernel did)."""
        await self._guard_check(index, guard, changed, said)
        if is_test_cell(cell) and changed:
            cell.outputs.append(error_output(
                "TamperingDetected", "code in this notebook changed what the tests rely "
                f"on: {'; '.join(changed[:5])}"))

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

    async def _ask(self, code: str, index: int) -> str:
        """Run a probe program in the kernel; what it printed (and raised), capped."""
        probe = NotebookNode(cell_type="code", source=code, metadata={}, outputs=[],
                             execution_count=None)
        original = self.nb.cells[index]
        try:
            with self._output.discarded():
                await self.async_execute_cell(probe, index, store_history=False)
        finally:
            self.nb.cells[index] = original  # nbclient stores what it ran at that index
        text = "".join(o.get("text", "") for o in probe.outputs
                       if o.output_type == "stream" and o.name == "stdout")
        errors = "".join(f"\n{o.ename}: {o.evalue}" for o in probe.outputs
                         if o.output_type == "error")
        return (text[-1_000_000:] + errors[:2000])


def _has_plan(assignment: str) -> bool:
    from autograder.judge.plans import PLANS

    return assignment in PLANS


# The spare kernel of this process (a grading worker): (manager, what it was started for).
_spare: tuple[Any, str] | None = None


async def _shut_down(manager: Any) -> None:
    try:
        await ensure_async(manager.shutdown_kernel(now=True))
    except Exception:  # already gone: only its files are left
        await ensure_async(manager.cleanup_resources())


def spare_pid() -> int | None:
    """The process id of this process's spare kernel (its sandbox), if one is waiting."""
    process = getattr(getattr(_spare[0], "provisioner", None), "process", None) \
        if _spare is not None else None
    return process.pid if process is not None and process.poll() is None else None


def discard_spare() -> None:
    """Stop this process's spare kernel and fork server, and remove their files.

    For a worker that is done.
    """
    global _spare
    if _spare is not None:
        manager, _spare = _spare[0], None
        run_sync(_shut_down)(manager)
    stop_fork_server()


