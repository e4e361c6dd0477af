"""What nbgrader_config.py plugs into nbgrader, so that plain nbgrader commands
get the same protection as ``python -m autograder``:

* ``SandboxedExecute`` replaces nbgrader's ``Execute`` in autograde: every
  kernel starts sandboxed and limited (``autograder.sandbox``); a kernel that
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

import ast
import csv
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbconvert.exporters import NotebookExporter
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbgrader.converters import NbGraderException
from nbgrader.plugins import CsvExportPlugin
from nbgrader.preprocessors import Execute
from traitlets import Bool, CaselessStrEnum, Integer, List, Unicode

from autograder.cells import is_test_cell
from autograder.safe_text import csv_cell
from autograder.sandbox import (
    PASS_THROUGH,
    SandboxKernelManager,
    data_signature,
    format_size,
    parse_size,
    resolve_mode,
    stop_fork_server,
)

__all__ = ["DEATHS_KEY", "CourseHeldExporter", "HideTests", "SandboxedExecute", "cell_failed",
           "discard_spare", "explain_limits", "hidden_lines", "redact", "spare_pid"]

HIDDEN = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.DOTALL)
HIDDEN_NOTE = "# (hidden tests run here when grading)\n"
# Notebook metadata key where SandboxedExecute records each kernel death.
DEATHS_KEY = "autograder_kernel_deaths"


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


def _characters(value: Any) -> int:
    """About how many characters ``value`` (a message's JSON content) takes, without recursion."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            total += len(item)
            stack.extend(item)
        else:
            total += 8
    return total


def _cut(msg: dict[str, Any], room: int) -> dict[str, Any]:
    """A failure output (an error, or stderr) that takes at most about ``room`` characters."""
    content = dict(msg["content"])
    note = " [cut short by the grader]"
    if msg["msg_type"] == "stream":
        content["text"] = str(content.get("text", ""))[:room] + note + "\n"
    else:
        evalue = str(content.get("evalue", ""))
        content["ename"] = str(content.get("ename", "Error"))[:200]
        content["evalue"] = evalue if len(evalue) <= room else evalue[:room] + note
        lines = content.get("traceback") or []
        lines = lines if isinstance(lines, list) else [str(lines)]
        content["traceback"] = [str(line)[:room // 20] for line in lines[-10:]]
    return {**msg, "content": content}


class _OutputBudget:
    """What a notebook's outputs may take: per cell and for the whole notebook."""

    FAILURE_ROOM = 4000  # characters a failure keeps once the budget is spent

    def __init__(self, per_cell: int, per_notebook: int) -> None:
        self.per_cell, self.per_notebook = per_cell, per_notebook
        self.notebook = 0
        self.shown: dict[str, int] = {}  # display id -> the characters each of its copies holds
        self.new_cell()

    def new_cell(self) -> None:
        self.cell = 0
        self.failures: set[str] = set()  # "error", "stderr": kept and still shown in the cell
        self.noted = False
        self.dropped = 0

    def cleared(self) -> None:
        """The cell's outputs were emptied: its failures (if any) are gone with them."""
        self.cell = 0
        self.failures = set()

    @contextmanager
    def discarded(self) -> Iterator[None]:
        """Outputs of a probe or a replay: capped alike, never kept in the notebook."""
        saved = (self.notebook, dict(self.shown), self.cell, self.failures, self.noted,
                 self.dropped)
        try:
            yield
        finally:
            (self.notebook, self.shown, self.cell, self.failures, self.noted,
             self.dropped) = saved

    def admit(self, msg: dict[str, Any], clearing: bool = False,
              display_id: str | None = None) -> dict[str, Any] | None:
        """``msg`` as it may be kept (maybe cut short), or None to drop it.

        Past the budget, the cell's first error (the failed check's message)
        and its first stderr output are still kept, cut short: either fails
        a test cell, for nbgrader as for the grader. ``clearing``: nbclient
        empties the cell before it keeps ``msg`` (a ``clear_output`` that
        waited), and not at all if ``msg`` is dropped. ``display_id``: the
        kept output is shown under it, so an update rewrites it too.
        """
        kind, content = msg.get("msg_type"), msg.get("content") or {}
        failure = "error" if kind == "error" else \
            "stderr" if kind == "stream" and content.get("name") == "stderr" else None
        cell, failures = (0, set()) if clearing else (self.cell, self.failures)
        size = _characters(content)
        room = min(self.per_cell - cell, self.per_notebook - self.notebook)
        if size > room:
            if failure is None or failure in failures:
                self.dropped += size
                return None
            msg = _cut(msg, max(room, self.FAILURE_ROOM))
            size = _characters(msg["content"])
        self.cell = cell + size
        self.notebook += size
        self.failures = failures | ({failure} if failure else set())
        if display_id:
            self.shown[display_id] = size
        return msg

    def admit_update(self, msg: dict[str, Any], display_id: str, copies: int) -> bool:
        """May ``msg`` rewrite the ``copies`` outputs shown with ``display_id``?

        Every copy then holds ``msg``'s data: the notebook grows by the
        difference, for each of them.
        """
        size = _characters(msg.get("content") or {})
        growth = copies * (size - self.shown.get(display_id, 0))
        if growth > self.per_notebook - self.notebook:
            self.dropped += growth
            return False
        self.notebook += growth
        self.shown[display_id] = size
        return True

    def note_due(self) -> bool:
        due, self.noted = not self.noted, True
        return due

    def note(self) -> str:
        return (f"\n[the grader kept at most {format_size(self.per_cell)} of a cell's output "
                f"and {format_size(self.per_notebook)} of the notebook's; the rest of this "
                "cell's output was dropped]\n")


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
    tamper guard (``autograder.guard``), installed before the first cell and
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
            modules.insert(0, "autograder.mpl_docs")  # before matplotlib: see there
            # pyplot's backend, which it would import at the first figure of every
            # kernel (0.03 CPU-seconds); a fork server imports it before any shell
            # exists, so the kernel hooks it to the shell it has.
            modules.append("autograder.figures")
            then.append("import autograder.figures as f; f.close_after_each_cell()")
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
        # The judge grades the assignments it has questions for (autograder/trusted.py's
        # plans); an assignment without any is graded by its tests in the kernel, as
        # plain nbgrader would, with a warning.
        self._judged = self.trusted and _has_plan(assignment)
        if self.trusted and assignment and not self._judged:
            self.log.warning("%s has no judge declaration in autograder/trusted.py: its test "
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
                limits = _limits_of(manager)
                self.kc.execute = self._with_expressions(self.kc.execute)
                reply = await self.async_wait_for_reply(await ensure_async(self.kc.kernel_info()))
                assert reply is not None
                self.nb.metadata["language_info"] = reply["content"]["language_info"]
                if not deaths:
                    await self._start_spare(spare_key, cwd)
                if self.trusted and self.nb.cells:
                    await self._ask(f"import autograder.guard\n"
                                    f"autograder.guard.install({guard!r})", 0)
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
                    died = (index, _death_reason(manager, error))
            if died is None:
                break
            index, reason = died
            replaying = index < resume
            elapsed = time.monotonic() - began
            budget = getattr(manager, "notebook_timeout", None)
            restart = (self.owns_km and len(deaths) < self.kernel_restarts
                       and (budget is None or elapsed < budget))
            deaths.append({"cell": index + 1, "grade_id": _grade_id(self.nb.cells[index]),
                           "first_line": _first_line(self.nb.cells[index]),
                           "reason": reason, "while_replaying": replaying,
                           "restarted": restart})
            if not restart:
                if len(deaths) > 1:
                    reason += (f" (the kernel had already died {len(deaths) - 1} time(s) in "
                               "this notebook, so no fresh kernel was started)")
                if replaying:
                    reason = (f"the kernel died again while re-running cell {index + 1} to "
                              f"rebuild the state: {reason}")
                    _stop_after(self.nb.cells, resume - 1, reason, mark=False)
                else:
                    _stop_after(self.nb.cells, index, reason)
                break
            skipped.add(index)
            if not replaying:
                self.nb.cells[index].setdefault("outputs", []).append(_error(
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

    def _new_budget(self) -> _OutputBudget:
        return _OutputBudget(parse_size(self.max_cell_output),
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
        return _guard_answer(self._reply)

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
        for change in _guard_changes(said):
            if not any(c.startswith(change) for c in changed):
                changed.append(f"{change} (noticed after cell {index + 1})")

    async def _judge(self, cell: NotebookNode, index: int, guard: str,
                     changed: list[str], said: str | None = None) -> None:
        """After a cell: what did student code change (a signal for the instructor;
        the score is the judge's, whatever the kernel did)."""
        await self._guard_check(index, guard, changed, said)
        if is_test_cell(cell) and changed:
            cell.outputs.append(_error(
                "TamperingDetected", "code in this notebook changed what the tests rely "
                f"on: {'; '.join(changed[:5])}"))

    def _run_judge(self, assignment: str, student: str) -> None:
        """Score every graded test cell by the judge's verdict (autograder.judge)."""
        from autograder.judge import apply_verdicts, judge_notebook, read_secret
        from autograder.sandbox import resolve_mode

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
        from autograder.manifest import ManifestError, load_manifest

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
    from autograder.trusted import PLANS

    return assignment in PLANS


def preload_line(modules: list[str], then: Sequence[str] = ()) -> str:
    """One line of kernel start-up code that imports ``modules``, runs each line of
    ``then``, and binds no name.

    ``exec`` in a dictionary of its own: the imports land in ``sys.modules``
    (a notebook's own ``import`` then finds them there), never in the
    notebook's namespace; a module that fails to import is left to the
    notebook, which gets the error itself, and so is a line of ``then`` that fails.
    """
    program = (f"for _m in {list(modules)!r}:\n"
               "    try:\n        __import__(_m)\n    except Exception:\n        pass\n")
    for line in then:
        program += f"try:\n    {line}\nexcept Exception:\n    pass\n"
    return f"exec({program!r}, {{}})"


# Run as a grading kernel starts, before any student code. ipykernel opens the
# socket through which a thread hands work to its IOPub thread at that thread's
# first use, and its IOPub thread hands work to itself the first time it sends
# output. A cell that used up the kernel's open-files limit and then printed
# made the IOPub thread open its own then: it failed, the IOPub thread stopped,
# and the cell waited out its time limit instead of failing with "grading
# allows 1024 open files" (tests/test_hostile.py, exhaust_open_files). Both
# sockets are opened here: the kernel's main thread asks the IOPub thread to
# ask itself for nothing.
OUTPUT_READY = ("from IPython import get_ipython; _t = get_ipython().kernel.iopub_thread; "
                "_t.schedule(lambda: _t.schedule(lambda: None))")


# The backend of grading kernels that never draw (autograder.figures).
FIGURES_BACKEND = "module://autograder.figures"

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


def _death_reason(manager: Any, error: Exception) -> str:
    """Why the kernel is gone (the watchdog's reason first), in words for a student."""
    if getattr(manager, "stop_reason", None) or (
            isinstance(error, DeadKernelError) and hasattr(manager, "death_reason")):
        return str(manager.death_reason())
    if isinstance(error, CellTimeoutError):
        return ("this cell did not stop when it was interrupted after its time limit, so the "
                "grader stopped the notebook")
    return "the kernel died"


def _first_line(cell: NotebookNode) -> str:
    lines = [line.strip() for line in cell.get("source", "").splitlines() if line.strip()]
    return lines[0][:80] if lines else ""


def _grade_id(cell: NotebookNode) -> str | None:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return str(grade_id) if grade_id is not None else None


def _guard_answer(reply: dict | None) -> str | None:
    """The guard's answer in an execute reply's user expressions, as ``_ask`` prints it.

    None when the cell did not run to the end (the kernel then evaluates no
    expression); "" (no answer: the guard was taken away) when the expression
    failed or its value is not the string the guard returns (at most 20
    sentences of 200 characters: anything far longer is not its answer).
    """
    content = (reply or {}).get("content", {})
    if content.get("status") != "ok":
        return None
    answer = (content.get("user_expressions") or {}).get("guard") or {}
    text = (answer.get("data") or {}).get("text/plain") if answer.get("status") == "ok" else None
    try:
        value = ast.literal_eval(text) if isinstance(text, str) and len(text) < 100_000 \
            else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    return f"MINIFLOW-GUARD {value}" if isinstance(value, str) else ""


def _guard_changes(output: str) -> list[str]:
    """The guard's answer; no answer at all means the guard itself was taken away."""
    for line in reversed(output.splitlines()):
        if line.startswith("MINIFLOW-GUARD "):
            try:
                changes = json.loads(line[len("MINIFLOW-GUARD "):])
            except ValueError:
                break
            if isinstance(changes, list) and all(isinstance(c, str) for c in changes):
                return [c[:200] for c in changes[:20]]
            break
    return ["the grader's guard no longer answers"]


def cell_failed(cell: NotebookNode) -> bool:
    """nbgrader's rule: an error or anything on stderr fails a cell."""
    return any(o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
               for o in cell.get("outputs", []))


def _limits_of(manager: Any) -> dict[str, Any]:
    if not isinstance(manager, SandboxKernelManager):
        return {}
    return {"memory": format_size(parse_size(manager.memory_limit)),
            "file_size": format_size(parse_size(manager.file_size_limit)),
            "processes": manager.process_limit, "open_files": manager.open_files_limit}


def _stop_after(cells: list[NotebookNode], index: int, reason: str, *,
                mark: bool = True) -> None:
    """The cell at ``index`` failed because the kernel is gone; later cells never ran."""
    if mark:
        cells[index].setdefault("outputs", []).append(_error("KernelStopped", reason))
    for cell in cells[index + 1:]:
        if cell.cell_type == "code":
            cell.outputs = [_error("NotRun", "not run: the notebook was stopped in an "
                                   f"earlier cell ({reason})")]


_RULES = [
    (lambda o: o.ename.endswith("MemoryError"),
     "grading allows {memory} of memory per process"),
    (lambda o: "[Errno 27]" in o.evalue or "File too large" in o.evalue,
     "grading allows files of at most {file_size}"),
    (lambda o: "[Errno 24]" in o.evalue,
     "grading allows {open_files} open files at once"),
    (lambda o: "[Errno 11]" in o.evalue or "can't start new thread" in o.evalue,
     "grading allows {processes} processes and threads at once"),
]


def explain_limits(nb: NotebookNode, limits: dict[str, Any]) -> None:
    """Turn the marks of a limit that was hit into a message that names it."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        timeout = cell.get("metadata", {}).pop("autograder_timed_out", None)
        if timeout is not None:
            # The interrupt's KeyboardInterrupt and nbgrader's placeholder become one message.
            kept = [o for o in cell.outputs if o.output_type != "error"]
            # What happened to the kernel afterwards stays, after it.
            fate = [o for o in cell.outputs if o.output_type == "error"
                    and o.ename in ("KernelDied", "KernelStopped")]
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            which = f"this cell ({grade_id})" if grade_id else "this cell"
            cell.outputs = kept + [_error(
                "TimeoutError", f"{which} ran for more than {timeout} s, the limit per cell "
                "when grading, and was stopped; look for a loop that never ends (a while "
                "loop whose condition never changes, a graph walk that revisits nodes) or "
                "work that can be done once instead of in a loop")] + fate
            continue
        for output in cell.outputs:
            if output.output_type != "error" or not limits:
                continue
            for matches, text in _RULES:
                if matches(output):
                    prefix = text.format(**limits)
                    if not output.evalue.startswith(prefix):
                        output.evalue = f"{prefix}: {output.evalue}"
                    break


# --- feedback ---------------------------------------------------------------------

def hidden_lines(nb: NotebookNode) -> list[str]:
    """The distinctive lines of every hidden test region (to recognise them if quoted).

    A line that also appears outside the hidden regions (``from autograder
    import checks`` in a visible test, say), whole or as part of a line, is
    in the students' own notebook, so it is no secret and does not count.
    """
    def flat(text: str) -> list[str]:
        return [" ".join(line.split()) for line in text.splitlines()]

    public = "\n".join(line for cell in nb.cells
                        for line in flat(HIDDEN.sub("", cell.get("source", ""))))
    lines = []
    for cell in nb.cells:
        for region in HIDDEN.findall(cell.get("source", "")):
            for text in flat(region):
                if len(text) >= 12 and "HIDDEN TESTS" not in text and text not in public:
                    lines.append(text)
    return lines


def redact(text: str, secret_lines: list[str]) -> str:
    """``text``, or a notice if it quotes a line of a hidden test."""
    flat = " ".join(text.split())
    if any(line in flat for line in secret_lines):
        return "[not shown: this output quoted hidden test code]"
    return text


def feedback_outputs(cell: NotebookNode, secret_lines: list[str]) -> list[NotebookNode]:
    """What a student may see of a cell's outputs."""
    if is_test_cell(cell):
        # A test cell: its failure message, nothing it printed or displayed.
        return [_error(o.ename, redact(o.evalue, secret_lines)[-2000:])
                for o in cell.get("outputs", []) if o.output_type == "error"]
    shown = []
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            shown.append(_error(output.ename, redact(output.evalue, secret_lines)))
        elif output.output_type == "stream":
            shown.append(NotebookNode(output_type="stream", name=output.name,
                                      text=redact(output.text, secret_lines)))
        else:
            data = output.get("data", {})
            texts = " ".join(v for v in data.values() if isinstance(v, str) and len(v) < 10 ** 5)
            if redact(texts, secret_lines) != texts:
                shown.append(NotebookNode(output_type="stream", name="stdout",
                                          text="[not shown: this output quoted hidden test "
                                               "code]"))
            else:
                shown.append(output)
    return shown


class HideTests(Preprocessor):
    """generate_feedback: no hidden test, no test traceback, no test output in feedback."""

    enabled = Bool(True)  # nbconvert's preprocessors start disabled

    def preprocess(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        secret = hidden_lines(nb)
        for cell in nb.cells:
            if is_test_cell(cell):
                cell.source = HIDDEN.sub(HIDDEN_NOTE, cell.source)
            if cell.cell_type == "code":
                cell.outputs = feedback_outputs(cell, secret)
        return nb, resources


class CourseHeldExporter(NotebookExporter):
    """nbgrader autograde's exporter: the autograde holds the course folder while it works.

    nbgrader_config.py sets it (``c.Autograde.exporter_class``). nbgrader's
    converter makes its exporter as an autograde starts, before it removes an
    ``autograded/`` folder (``--force``) or writes a row of the gradebook, and
    then converts every submission (``convert_notebooks``). This one takes the
    lock ``python -m autograder grade`` takes (``autograder.lock.hold_course``)
    and gives it back when that conversion returns or fails: formgrader runs
    autograde inside the Jupyter server, which goes on, and nbgrader's objects
    live until a garbage collection. While another run holds the course, the
    autograde stops at once with that run's message and changes nothing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        converter = self.parent
        coursedir = getattr(converter, "coursedir", None)
        if coursedir is None or not coursedir.root:
            return
        import weakref

        from autograder.lock import CourseBusy, hold_course

        try:
            release = hold_course(coursedir.root)
        except CourseBusy as busy:
            self.log.error("%s", busy)
            raise NbGraderException(str(busy)) from None
        weakref.finalize(self, release)  # made, but never used to convert
        convert = getattr(converter, "convert_notebooks", None)
        if callable(convert):
            def convert_then_release() -> None:
                try:
                    convert()
                finally:
                    release()

            converter.convert_notebooks = convert_then_release


class CourseExportPlugin(CsvExportPlugin):
    """Plain ``nbgrader export`` writes the course's CSV: ``python -m autograder export``'s.

    nbgrader's columns, then ``flags``, the late columns, ``section`` and
    ``status``, with a row for every roster student
    (``autograder.export.add_course_columns``), within the export's own
    ``--assignment`` and ``--student`` filters. nbgrader_config.py sets it
    (``c.ExportApp.plugin_class``) and the course root.
    """

    course_root = Unicode("", config=True,
                          help="the course root whose roster and results.json fill the columns")

    def export(self, gradebook: Any) -> None:
        # With a course root, the last of the column steps (the roster's) neutralises
        # the names: the steps before it find the students by their ids as they are.
        self.export_nbgrader_columns(gradebook, neutralise=not self.course_root)
        if not self.course_root:
            return
        from autograder.export import add_course_columns
        from autograder.manifest import load_manifest

        add_course_columns(load_manifest(self.course_root), Path(self.to or "grades.csv"),
                           assignments=[str(a) for a in self.assignment],
                           students=[str(s) for s in self.student])

    def export_nbgrader_columns(self, gradebook: Any, *, neutralise: bool = True) -> None:
        """nbgrader's ``CsvExportPlugin.export``, the same file character for character,
        with the gradebook read in a few queries.

        Written with the ``csv`` module, so that a comma or a quote in a name is
        quoted and reads back (nbgrader's own plugin writes the text as it is, and
        the row falls apart); every other file is nbgrader's to the byte. With
        ``neutralise``, a name, id or email that a spreadsheet would run as a
        formula gets a quote in front (``autograder.safe_text.csv_cell``).

        nbgrader's loop finds each student's submission with a query of its own,
        then reads its score and late penalty with one each, and those two scan
        every submitted notebook (nbgrader's schema has no index there): 31 s for
        5,000 submissions (``benchmarks/bench_gradebook.py``), growing with the
        square of the class. Here the submissions come in one query and the two
        sums in one grouped query each, the same SQL sums over the same rows (a
        sum of scores that are not binary fractions could differ from nbgrader's
        in its last digit, added in another order). ``tests/test_gradebook_scale.py``
        checks the file against nbgrader's own plugin.
        """
        from nbgrader.api import Grade, SubmittedAssignment, SubmittedNotebook
        from sqlalchemy import func, select

        dest = self.to or "grades.csv"
        allstudents = {str(item) for item in self.student}
        allassignments = {str(item) for item in self.assignment}
        self.log.info("Exporting grades to %s", dest)
        if allassignments:
            self.log.info("Exporting only assignments: %s", [str(a) for a in self.assignment])
        if allstudents:
            self.log.info("Exporting only students: %s", [str(s) for s in self.student])

        db = gradebook.db
        submitted = {(s.assignment_id, s.student_id): s for s in db.query(SubmittedAssignment)}
        scores = dict(db.execute(
            select(SubmittedNotebook.assignment_id, func.coalesce(func.sum(Grade.score), 0.0))
            .where(Grade.notebook_id == SubmittedNotebook.id)
            .group_by(SubmittedNotebook.assignment_id)).all())
        penalties = dict(db.execute(
            select(SubmittedNotebook.assignment_id,
                   func.coalesce(func.sum(SubmittedNotebook.late_submission_penalty), 0.0))
            .group_by(SubmittedNotebook.assignment_id)).all())
        keys = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                "email", "raw_score", "late_submission_penalty", "score", "max_score"]
        students = gradebook.students  # nbgrader's order: its own queries
        cell = csv_cell if neutralise else (lambda value: "" if value is None else str(value))
        with open(dest, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            # With "\n" ending rows, the csv module leaves a carriage return unquoted, and
            # a reader would take it for the end of the row: such a row is quoted whole.
            quoted = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_ALL)
            writer.writerow(keys)
            for assignment in gradebook.assignments:
                if allassignments and assignment.name not in allassignments:
                    continue
                for student in students:
                    if allstudents and student.id not in allstudents:
                        continue
                    score: dict[str, Any] = {
                        "assignment": assignment.name, "duedate": assignment.duedate,
                        "student_id": student.id, "last_name": student.last_name,
                        "first_name": student.first_name, "email": student.email,
                        "max_score": assignment.max_score}
                    submission = submitted.get((assignment.id, student.id))
                    if submission is None:  # nothing submitted: a zero
                        score.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0,
                                     score=0.0)
                    else:
                        # A submission without notebooks: nbgrader's sums of no rows.
                        raw = scores.get(submission.id, 0.0)
                        penalty = penalties.get(submission.id, 0.0)
                        score.update(timestamp=submission.timestamp, raw_score=raw,
                                     late_submission_penalty=penalty,
                                     score=max(0.0, raw - penalty))
                    row = [cell(score[key]) for key in keys]
                    (quoted if any("\r" in value for value in row) else writer).writerow(row)
