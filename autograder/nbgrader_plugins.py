"""What nbgrader_config.py plugs into nbgrader, so that plain nbgrader commands
get the same protection as ``python -m autograder``:

* ``SandboxedExecute`` replaces nbgrader's ``Execute`` in autograde: every
  kernel starts sandboxed and limited (``autograder.sandbox``); a kernel that
  dies or is stopped costs the cells from there on, not the cells that
  already ran; and limits that were hit become messages a student can act
  on ("this cell ran for more than 30 s") instead of a bare
  ``KeyboardInterrupt`` or ``MemoryError``.
* ``HideTests`` is a ``generate_feedback`` preprocessor: test cells show
  their visible part and the failure message only, never hidden test code,
  their traceback or what they printed.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool

from autograder.sandbox import SandboxKernelManager, format_size, parse_size

__all__ = ["HideTests", "SandboxedExecute", "explain_limits", "hidden_lines", "redact"]

HIDDEN = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.DOTALL)
HIDDEN_NOTE = "# (hidden tests run here when grading)\n"


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


class SandboxedExecute(Execute):
    """nbgrader's Execute, with sandboxed kernels and clear reasons when a limit is hit.

    With ``trusted`` on (nbgrader_config.py turns it on) it also guards the
    verdict. Before the first cell it installs ``autograder.guard`` in the
    kernel; after every cell it asks the guard what student code changed, and
    a test cell that runs after a change gets a ``TamperingDetected`` error
    (it scores 0). After a test cell that passed, it sends the kernel that
    test's probes (``autograder.trusted``) and judges the answers here, in the
    grading process: a wrong answer adds a ``TrustedCheckFailed`` error. Both
    paths, ``grade`` and plain ``nbgrader autograde``, get the same verdicts.
    """

    trusted = Bool(False, config=True,
                   help="guard the kernel and judge each test cell outside it as well")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)
        # Grading keeps nothing of a kernel: no need to wait for a polite exit.
        self.shutdown_kernel = "immediate"

    async def _async_handle_timeout(self, timeout: int,
                                    cell: NotebookNode | None = None) -> Any:
        if cell is not None:
            cell.setdefault("metadata", {})["autograder_timed_out"] = timeout
        return await super()._async_handle_timeout(timeout, cell)

    def preprocess(self, nb: NotebookNode, resources: Any = None,
                   km: Any = None) -> tuple[NotebookNode, Any]:
        return run_sync(self._async_preprocess)(nb, resources, km)

    async def _async_preprocess(self, nb: NotebookNode, resources: Any,
                                km: Any) -> tuple[NotebookNode, Any]:
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        limits: dict[str, Any] = {}
        assignment = (resources or {}).get("nbgrader", {}).get("assignment", "")
        probes = _probes_by_test(assignment) if self.trusted else {}
        guard = f"_miniflow_guard_{secrets.token_hex(8)}"
        changed: list[str] = []
        async with self.async_setup_kernel():
            assert self.kc is not None and self.km is not None
            manager = self.km
            limits = _limits_of(manager)
            reply = await self.async_wait_for_reply(await ensure_async(self.kc.kernel_info()))
            assert reply is not None
            self.nb.metadata["language_info"] = reply["content"]["language_info"]
            if self.trusted and self.nb.cells:
                await self._ask(f"import autograder.guard\nautograder.guard.install({guard!r})",
                                0)
            for index, cell in enumerate(self.nb.cells):
                try:
                    self._check_assign_resources(resources)
                    await self.async_execute_cell(cell, index, store_history=True)
                    if self.trusted and cell.cell_type == "code":
                        await self._judge(cell, index, guard, probes, changed)
                except (DeadKernelError, CellTimeoutError) as error:
                    if getattr(manager, "stop_reason", None) or (
                            isinstance(error, DeadKernelError)
                            and hasattr(manager, "death_reason")):
                        reason = manager.death_reason()  # the watchdog's reason first
                    elif isinstance(error, CellTimeoutError):
                        reason = ("this cell did not stop when it was interrupted after its "
                                  "time limit, so the grader stopped the notebook")
                    else:
                        reason = "the kernel died"
                    _stop_after(self.nb.cells, index, reason)
                    break
        self.set_widgets_metadata()
        explain_limits(self.nb, limits)
        return self.nb, self.resources

    async def _judge(self, cell: NotebookNode, index: int, guard: str,
                     probes: dict[str, list], changed: list[str]) -> None:
        """After a cell: what did student code change; after a test: is it really right?"""
        said = await self._ask(f"print('MINIFLOW-GUARD ' + {guard}())", index)
        for change in _guard_changes(said):
            if not any(c.startswith(change) for c in changed):
                changed.append(f"{change} (noticed after cell {index + 1})")
        if not is_test_cell(cell):
            return
        if changed:
            cell.outputs.append(_error(
                "TamperingDetected", "this test does not count: code in this notebook "
                f"changed what the tests rely on: {'; '.join(changed[:5])}"))
            return
        grade_id = cell.metadata.nbgrader.get("grade_id")
        if grade_id not in probes or _failed(cell):
            return
        from autograder.trusted import judge, kernel_code

        output = await self._ask(kernel_code(probes[grade_id]), index)
        problem = judge(probes[grade_id], {grade_id: output}).get(grade_id)
        if problem is not None:
            cell.outputs.append(_error(
                "TrustedCheckFailed", "the grader's own check, run outside this notebook, "
                f"found a mistake: {problem}"))

    async def _ask(self, code: str, index: int) -> str:
        """Run a probe program in the kernel; what it printed (and raised), capped."""
        probe = NotebookNode(cell_type="code", source=code, metadata={}, outputs=[],
                             execution_count=None)
        original = self.nb.cells[index]
        try:
            await self.async_execute_cell(probe, index, store_history=False)
        finally:
            self.nb.cells[index] = original  # nbclient stores what it ran at that index
        text = "".join(o.get("text", "") for o in probe.outputs
                       if o.output_type == "stream" and o.name == "stdout")
        errors = "".join(f"\n{o.ename}: {o.evalue}" for o in probe.outputs
                         if o.output_type == "error")
        return (text[-1_000_000:] + errors[:2000])


def _probes_by_test(assignment: str) -> dict[str, list]:
    from autograder.trusted import plan_for

    probes: dict[str, list] = {}
    for probe in plan_for(assignment):
        probes.setdefault(probe.test, []).append(probe)
    return probes


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


def _failed(cell: NotebookNode) -> bool:
    return any(o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
               for o in cell.get("outputs", []))


def _limits_of(manager: Any) -> dict[str, Any]:
    if not isinstance(manager, SandboxKernelManager):
        return {}
    return {"memory": format_size(parse_size(manager.memory_limit)),
            "file_size": format_size(parse_size(manager.file_size_limit)),
            "processes": manager.process_limit, "open_files": manager.open_files_limit}


def _stop_after(cells: list[NotebookNode], index: int, reason: str) -> None:
    """The cell at ``index`` failed because the kernel is gone; later cells never ran."""
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
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            which = f"this cell ({grade_id})" if grade_id else "this cell"
            cell.outputs = kept + [_error(
                "TimeoutError", f"{which} ran for more than {timeout} s, the limit per cell "
                "when grading, and was stopped; look for a loop that never ends (a while "
                "loop whose condition never changes, a graph walk that revisits nodes) or "
                "work that can be done once instead of in a loop")]
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


def is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


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
