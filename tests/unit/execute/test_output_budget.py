"""What a notebook's outputs may cost the grader: each cell's and each notebook's budget.

A notebook can print or display without end until its cell's time limit;
kept, that was gigabytes in the grading worker, in the answer the grader
reads, and in ``autograded/``. ``SandboxedExecute`` drops output past the
budget as it arrives, but never a cell's failure: nbgrader scores a test
cell with an error or with stderr output as failed, so dropping either could
turn a failed test into a passed one. These tests drive nbclient's own
message handling with messages as a kernel sends them (the hostile class in
``test_hostile.py`` sends them from real kernels).
"""

from __future__ import annotations

import json

import pytest
from nbformat import NotebookNode, v4

from autograder.execute.preprocessor import SandboxedExecute

CELL, NOTEBOOK = 1000, 5000
NOTE = "the rest of this cell's output was dropped"


def _message(kind: str, parent: str = "run-1", **content) -> dict:
    return {"msg_type": kind, "header": {"msg_type": kind},
            "parent_header": {"msg_id": parent}, "content": content}


def _stream(text: str, name: str = "stdout") -> dict:
    return _message("stream", name=name, text=text)


def _error(evalue: str, ename: str = "AssertionError") -> dict:
    return _message("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _display(text: str, display_id: str | None = None) -> dict:
    content = {"data": {"text/plain": text}, "metadata": {}}
    if display_id is not None:
        content["transient"] = {"display_id": display_id}
    return _message("display_data", **content)


@pytest.fixture
def execute():
    notebook = v4.new_notebook(cells=[v4.new_code_cell("a"), v4.new_code_cell("b")])
    preprocessor = SandboxedExecute(max_cell_output=f"{CELL}", max_notebook_output=f"{NOTEBOOK}")
    preprocessor.nb = notebook
    preprocessor.reset_execution_trackers()
    return preprocessor


def _run(execute: SandboxedExecute, index: int, messages: list[dict]) -> list[NotebookNode]:
    """The outputs cell ``index`` keeps when the kernel sends ``messages`` while it runs."""
    cell = execute.nb.cells[index]
    cell.outputs = []  # as nbclient's async_execute_cell starts a cell
    execute.clear_before_next_output = False
    execute.begin_cell(cell)
    for message in messages:
        execute.process_message(message, cell, index)
    return cell.outputs


def _size(outputs: list[NotebookNode]) -> int:
    return len(json.dumps(outputs))


def _text(outputs: list[NotebookNode], name: str = "stdout") -> str:
    return "".join(o.text for o in outputs if o.output_type == "stream" and o.name == name)


def test_output_within_the_budget_is_kept_whole(execute):
    outputs = _run(execute, 0, [_stream("x" * 300), _display("y" * 300), _error("z" * 300)])
    assert _text(outputs) == "x" * 300
    assert [o.output_type for o in outputs] == ["stream", "display_data", "error"]
    assert outputs[2].evalue == "z" * 300
    assert NOTE not in json.dumps(outputs)


def test_output_without_end_is_dropped_past_the_cells_budget_with_one_note(execute):
    outputs = _run(execute, 0, [_stream("x" * 100)] * 500 + [_display("y" * 100)] * 50)
    assert _size(outputs) < CELL + 500
    assert _text(outputs).count(NOTE) == 1
    assert execute.output_budget.dropped > 40_000


@pytest.mark.parametrize("failure", [_error("the loss should be 0.25, got 7.0"),
                                     _stream("RuntimeWarning: overflow\n", name="stderr")])
def test_a_failure_after_the_budget_is_spent_is_kept_so_the_test_still_fails(execute, failure):
    outputs = _run(execute, 0, [_stream("x" * 100)] * 50 + [failure])
    kept = [o for o in outputs if o.output_type == "error"
            or (o.output_type == "stream" and o.name == "stderr")]
    assert len(kept) == 1
    if failure["msg_type"] == "error":
        assert kept[0].ename == "AssertionError"
        assert kept[0].evalue == "the loss should be 0.25, got 7.0"
    else:
        assert "RuntimeWarning: overflow" in kept[0].text


def test_a_huge_failure_is_cut_short_but_kept_and_the_first_error_is_not_displaced(execute):
    huge = "w" * 1_000_000
    outputs = _run(execute, 0, [_stream(huge, name="stderr"), _stream(huge, name="stderr"),
                                _error(huge, ename="ValueError"), _error("a second error")])
    assert _size(outputs) < 3 * execute.output_budget.FAILURE_ROOM
    errors = [o for o in outputs if o.output_type == "error"]
    assert [o.ename for o in errors] == ["ValueError"]
    assert errors[0].evalue.endswith("[cut short by the grader]")
    assert "cut short by the grader" in _text(outputs, "stderr")


def test_clearing_the_output_cannot_hide_a_later_failure(execute):
    # A cleared cell lost the failure it kept: the next one past the budget is kept again.
    messages = [_stream("x" * 100)] * 20 + [_error("first")] + \
        [_message("clear_output", wait=False)] + [_stream("x" * 100)] * 20 + [_error("second")]
    outputs = _run(execute, 0, messages)
    assert [o.evalue for o in outputs if o.output_type == "error"] == ["second"]


def test_past_the_notebooks_budget_later_cells_keep_only_their_failures(execute):
    for index in range(8):
        cell = v4.new_code_cell(f"cell {index}")
        execute.nb.cells.append(cell)
        _run(execute, len(execute.nb.cells) - 1, [_stream("x" * 900)])
    outputs = _run(execute, 1, [_stream("late output" + "." * 600), _error("a failed check")])
    assert "late output" not in _text(outputs)
    assert [o.evalue for o in outputs if o.output_type == "error"] == ["a failed check"]
    assert execute.output_budget.notebook <= NOTEBOOK + execute.output_budget.FAILURE_ROOM


def test_an_update_that_would_copy_one_output_everywhere_is_dropped(execute):
    small = [_display("small", display_id="everywhere")] * 10
    outputs = _run(execute, 0, small)
    assert len(outputs) == 10
    # Each new copy rewrites the ones before with the same data: that costs nothing more.
    assert execute.output_budget.notebook == 10 * execute.output_budget.shown["everywhere"] < CELL
    update = _message("update_display_data", data={"text/plain": "z" * 1000}, metadata={},
                      transient={"display_id": "everywhere"})
    _run(execute, 1, [update])
    assert all(o.data["text/plain"] == "small" for o in outputs)
    assert NOTE in _text(execute.nb.cells[1].outputs)
    # One that fits is made, as nbclient makes it.
    _run(execute, 1, [_message("update_display_data", data={"text/plain": "new"}, metadata={},
                               transient={"display_id": "everywhere"})])
    assert all(o.data["text/plain"] == "new" for o in outputs)


def test_a_probe_or_replay_costs_the_notebooks_budget_nothing(execute):
    _run(execute, 0, [_stream("x" * 900)])
    spent = execute.output_budget.notebook
    with execute.output_budget.discarded():
        _run(execute, 1, [_stream("y" * 900)] * 3)
    assert execute.output_budget.notebook == spent


def test_widget_messages_are_not_kept(execute):
    opened = _message("comm_open", comm_id="c1", target_name="jupyter.widget",
                      data={"state": {"_model_name": "x", "value": "v" * 10_000},
                            "buffer_paths": []})
    _run(execute, 0, [opened, _message("comm_msg", comm_id="c1",
                                       data={"state": {"value": "w" * 10_000}})])
    assert execute.widget_state == {}
    assert execute.comm_objects == {}


def test_a_failure_in_a_shape_no_kernel_sends_is_still_kept(execute):
    # Student code can write to IOPub itself: whatever the shape, the cut copy is text.
    odd_error = _message("error", ename=["not", "a", "name"], evalue={"x": "y" * 10_000},
                         traceback={"not": "a list"})
    odd_stderr = _message("stream", name="stderr", text=["a list", "a" * 5000])
    outputs = _run(execute, 0, [odd_stderr, odd_error])
    kinds = [(o.output_type, o.get("name")) for o in outputs]
    assert ("stream", "stderr") in kinds and ("error", None) in kinds
    error = next(o for o in outputs if o.output_type == "error")
    assert isinstance(error.evalue, str) and isinstance(error.traceback, list)
    assert _text(outputs, "stderr").startswith("['a list'")


def test_a_clear_that_waits_for_an_output_that_is_dropped_empties_nothing(execute):
    outputs = _run(execute, 0, [_stream("x" * 900), _error("a failed check"),
                                _message("clear_output", wait=True), _stream("y" * 5000)])
    # The clear waits for the next kept output, and there is none: the cell keeps its
    # outputs, its failure among them, and the budget still counts them.
    assert [o.evalue for o in outputs if o.output_type == "error"] == ["a failed check"]
    assert execute.output_budget.cell >= 900 and execute.output_budget.failures == {"error"}
