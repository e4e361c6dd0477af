"""The typed result model (issue 30, point 3): one ``GradeResult`` from ``grade`` to the
feedback, the report and grades.csv, with its reasons as codes.

``autograded/results.json`` keeps the JSON it always had, key for key; a file an
earlier grader wrote still loads; a rejection, a crash and a kernel death each
carry a code that the parts act on, made by the grader's own functions. No kernel
starts here.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.core.cells import DEATHS_KEY
from autograder.core.manifest import load_manifest
from autograder.core.reasons import Reason, legacy_reasons
from autograder.core.results import (
    CellGrade,
    DeathCause,
    GradeResult,
    KernelDeath,
    Lateness,
    Status,
)
from autograder.pipeline.prepare import prepare_submission

# result_from: the parent's verdict on a worker's answer, the cheap way to a real crash
from autograder.pipeline.score import (
    kernel_deaths,
    result_from,
    score_notebook,
)
from autograder.publish.feedback import resubmit_advice
from autograder.publish.roster import export_status

ROOT = Path(__file__).resolve().parents[3]
FIRST = load_manifest(ROOT).assignments[0]

#: One result as the grader before the typed model wrote it to results.json
#: (``dataclasses.asdict`` of the old dataclass), every field set: the order of
#: its keys is the order in the file.
WRITTEN = {
    "student": "fox", "assignment": "01_graphs", "status": "graded", "score": 6.0,
    "max_score": 10.0,
    "cells": [{"grade_id": "mul", "score": 2.0, "max_score": 2.0, "message": ""},
              {"grade_id": "chain_rule", "score": 0.0, "max_score": 4.0,
               "message": "GraderCheckFailed: the kernel died"}],
    "notes": ["the kernel died in cell 7 (chain_rule): exit; the cells after it were "
              "graded in a fresh kernel"],
    "sandbox": "none", "flags": ["chain_rule, line 7: imports os"],
    # a kernel death's keys come sorted: the worker's notebook JSON sorts its metadata
    "kernel_deaths": [{"cell": 7,
                       "first_line": "def chain_rule_gradients(x, y, z, upstream):",
                       "grade_id": "chain_rule", "reason": "the kernel exited with status 1",
                       "restarted": True, "while_replaying": False}],
    "late": {"submitted": "2027-01-20T01:59:00+00:00", "due": "2027-01-18T23:59:00+00:00",
             "seconds_late": 93600.0, "penalty": 4.0,
             "policy": "2 point(s) off per started day late; at most 5 point(s)",
             "days_late": 2, "extension": 0.0, "cutoff": False},
    "reasons": ["manual_grading"],
}


def test_a_result_goes_round_the_json_unchanged():
    result = GradeResult.from_dict(WRITTEN)
    assert GradeResult.from_dict(result.to_dict()) == result
    # the same JSON, byte for byte, as the grader wrote before the typed model
    assert json.dumps(result.to_dict(), indent=1) == json.dumps(WRITTEN, indent=1)
    assert list(result.to_dict()) == list(WRITTEN)
    # typed fields, not dictionaries
    assert result.status is Status.GRADED
    assert result.cells[1] == CellGrade("chain_rule", 0.0, 4.0,
                                        "GraderCheckFailed: the kernel died")
    assert result.kernel_deaths == [KernelDeath(
        7, "chain_rule", "def chain_rule_gradients(x, y, z, upstream):",
        "the kernel exited with status 1", while_replaying=False, restarted=True)]
    assert isinstance(result.late, Lateness) and result.late.penalty == 4.0
    assert result.late.is_late and result.late.days_late == 2
    assert result.reasons == [Reason.MANUAL_GRADING]


def test_a_result_built_in_memory_round_trips():
    result = GradeResult("ann", FIRST.name, "rejected", max_score=FIRST.points,
                         notes=["graphs.ipynb is not valid JSON"], sandbox="bwrap",
                         reasons=[Reason.NOT_JSON])
    assert GradeResult.from_dict(result.to_dict()) == result
    assert result.to_dict()["status"] == "rejected" and result.to_dict()["late"] is None
    assert type(result.to_dict()["status"]) is str  # plain JSON, whatever reads it


def test_status_is_its_word():
    assert Status.GRADED == "graded" and Status.REJECTED == "rejected"
    assert Status.ERROR == "error" and f"{Status.ERROR}" == "error"
    assert json.dumps({"status": Status.GRADED}) == '{"status": "graded"}'
    assert GradeResult("a", "b", "graded").status is Status.GRADED
    with pytest.raises(ValueError):
        GradeResult("a", "b", "marked")


def test_a_results_json_from_an_earlier_grader_loads_with_defaults():
    # before flags, kernel deaths, late work, the sandbox and reasons were recorded
    old = {"student": "eve", "assignment": "01_graphs", "status": "rejected",
           "score": 0.0, "max_score": 10.0, "cells": [],
           "notes": ["graphs.ipynb is not valid JSON (Expecting value at line 1)"]}
    result = GradeResult.from_dict(old)
    assert result.status == Status.REJECTED and result.flags == [] and result.sandbox == ""
    assert result.kernel_deaths == [] and result.late is None
    # its reason's code, read once from the words it always had
    assert result.reasons == [Reason.NOT_JSON]
    assert export_status(result) == "rejected"
    # written back whole, in this grader's form, and read the same again
    assert GradeResult.from_dict(result.to_dict()) == result
    assert result.to_dict()["reasons"] == ["not_json"]
    graded = GradeResult.from_dict({"student": "bo", "assignment": "01_graphs",
                                    "status": "graded", "notes": ["test_x needs manual grading"]})
    assert graded.reasons == [Reason.MANUAL_GRADING] and export_status(graded) == "needs review"


def test_only_a_record_without_codes_has_its_words_read():
    words = ["test_x needs manual grading"]
    assert legacy_reasons(words) == [Reason.MANUAL_GRADING]
    result = GradeResult.from_dict({"student": "bo", "assignment": "a", "status": "graded",
                                    "notes": words, "reasons": []})
    assert result.reasons == [] and export_status(result) == "graded"


def test_what_a_file_should_not_hold_is_tolerated():
    # a hand-edited or newer file: an unknown status is an error (no score), an unknown
    # code is kept as it is, a number that is not one is 0, a broken entry is left out
    result = GradeResult.from_dict({
        "student": "cy", "assignment": "a", "status": "marked", "score": "lots",
        "cells": [{"grade_id": "t", "score": 1, "max_score": 2}, "not a cell"],
        "kernel_deaths": [{"cell": 3}], "late": {}, "reasons": ["from_the_future"]})
    assert result.status == Status.ERROR and result.score == 0.0
    assert result.cells == [CellGrade("t", 1, 2, "")]
    assert result.kernel_deaths == [KernelDeath(3)] and result.late is None
    assert result.reasons == ["from_the_future"]
    assert result.to_dict()["reasons"] == ["from_the_future"]


def test_a_late_record_plain_nbgrader_made_keeps_its_keys():
    plain = {"submitted": "2027-01-20T10:00:00+00:00", "due": None, "seconds_late": 60.0,
             "penalty": 1.0, "policy": "as nbgrader autograde recorded it"}
    late = Lateness.from_dict(plain)
    assert late.days_late is None and late.extension is None and late.cutoff is None
    assert late.to_dict() == plain and list(late.to_dict()) == list(plain)


# -- codes, made by the grader's own functions -----------------------------------------


def test_a_rejection_carries_its_code(tmp_path):
    folder = tmp_path / "submitted" / "dee" / FIRST.name
    folder.mkdir(parents=True)
    (folder / FIRST.notebook_file).write_text('{\n "cells": [\n  {"cell_type": "mark',
                                              encoding="utf-8")
    prepared = prepare_submission(folder, FIRST)
    assert prepared.notebook is None and prepared.code is Reason.NOT_JSON
    result = GradeResult("dee", FIRST.name, Status.REJECTED, notes=[prepared.reason],
                         reasons=[prepared.code])
    assert Reason.NOT_JSON in result.codes()
    assert export_status(result) == "rejected"
    assert "not a complete notebook" in resubmit_advice(result.reasons[0], FIRST)
    assert GradeResult.from_dict(result.to_dict()).reasons == [Reason.NOT_JSON]


def _task() -> dict:
    return {"id": 0, "student": "hux", "notes": [], "sandbox": "none",
            "assignment": {"name": FIRST.name, "notebook_file": FIRST.notebook_file,
                           "points": 4.0}}


def test_a_crash_carries_its_code():
    answer = {"failure": "the grading process died while grading this submission "
                         "(killed by SIGKILL)"}
    result = result_from(_task(), answer, new_notebook(), None)
    assert result.status is Status.ERROR and result.score == 0
    assert result.codes() == [Reason.WORKER_FAILED, Reason.CRASHED]
    assert export_status(result) == "needs review"
    # the kind of crash is recorded; that it crashed is read from the status
    assert result.to_dict()["reasons"] == ["worker_failed"]
    assert GradeResult.from_dict(result.to_dict()).codes() == result.codes()
    # nbgrader stopped before any test cell scored: another kind, another code
    stopped = result_from(_task(), {"log": "Timeout waiting for execute reply"},
                          new_notebook(), None)
    assert stopped.status is Status.ERROR and stopped.reasons == [Reason.NOTEBOOK_STOPPED]


def test_a_kernel_death_carries_its_code():
    # what SandboxedExecute records in the graded notebook, read as grade reads it
    recorded = {"cell": 2, "cause": "exited", "grade_id": "test_b",
                "first_line": "assert 'test_b'", "reason": "the kernel exited with status 1",
                "while_replaying": False, "restarted": True}
    executed = new_notebook(cells=[new_code_cell("1"), new_code_cell("assert 'test_b'")])
    executed.metadata[DEATHS_KEY] = [recorded, "not a death"]
    deaths, notes = kernel_deaths(nbformat.from_dict(json.loads(nbformat.writes(executed))))
    assert deaths == [KernelDeath(2, "test_b", "assert 'test_b'",
                                  "the kernel exited with status 1", restarted=True,
                                  cause=DeathCause.EXITED)]
    assert notes == ["the kernel died in cell 2 (test_b): the kernel exited with status 1; "
                     "the cells after it were graded in a fresh kernel"]
    result = GradeResult("fox", FIRST.name, Status.GRADED, 2.0, 4.0, notes=notes,
                         kernel_deaths=deaths)
    assert Reason.KERNEL_DIED in result.codes()
    assert export_status(result) == "needs review"
    # results.json holds the death as it was recorded, and no new code
    assert result.to_dict()["kernel_deaths"] == [recorded]
    assert list(result.to_dict()["kernel_deaths"][0]) == sorted(recorded)  # as they come
    assert result.to_dict()["reasons"] == []


def test_flags_need_review_and_a_clean_result_does_not():
    clean = GradeResult("ann", FIRST.name, Status.GRADED, 4.0, 4.0)
    assert clean.codes() == [] and export_status(clean) == "graded"
    flagged = GradeResult("gil", FIRST.name, Status.GRADED, 4.0, 4.0, flags=["imports os"])
    assert flagged.codes() == [Reason.FLAGGED] and export_status(flagged) == "needs review"


def test_a_cell_that_lost_points_carries_the_judge_s_code_for_its_mistake():
    """The judge's verdict (cell metadata, beside the error it put first) names the
    mistake as a code; the graded cell keeps it, results.json holds it, and a record
    without one (plain nbgrader, an earlier grader) is written back as it was."""
    from nbformat.v4 import new_output

    from autograder.judge.verdict import Verdict, apply_verdicts

    test = new_code_cell("assert True", metadata={"nbgrader": {
        "grade": True, "grade_id": "test_b", "points": 2, "solution": False, "locked": True}})
    executed = new_notebook(cells=[nbformat.from_dict(json.loads(json.dumps(test)))])
    executed.cells[0].outputs = [new_output("stream", name="stdout", text="checked\n")]
    apply_verdicts(executed.cells, {"test_b": Verdict(
        "test_b", "wrong", "b: the value differs from the reference. Likely mistake: it has "
        "the wrong sign", "wrong_sign")})
    cells, _, _ = score_notebook(executed, new_notebook(cells=[test]))
    assert cells == [CellGrade("test_b", 0.0, 2.0, cells[0].message, "wrong_sign")]
    assert "Likely mistake: it has the wrong sign" in cells[0].message
    assert cells[0].to_dict()["mistake"] == "wrong_sign"
    assert CellGrade.from_dict(cells[0].to_dict()) == cells[0]
    assert "mistake" not in CellGrade("test_b", 2.0, 2.0).to_dict()
    # a passed verdict names no mistake
    apply_verdicts(executed.cells, {"test_b": Verdict("test_b", "passed")})
    assert score_notebook(executed, new_notebook(cells=[test]))[0] == [
        CellGrade("test_b", 2.0, 2.0, "", "")]


def test_each_way_a_sandboxed_kernel_dies_has_its_cause():
    """The watchdog's and the exit status's reasons, each with its code (no kernel: the
    manager's own ``death`` on a process that has exited)."""
    import signal

    from autograder.sandbox.manager import SandboxKernelManager

    class Exited:
        def __init__(self, code):
            self.code = code

        def poll(self):
            return self.code

    manager = SandboxKernelManager()
    cases = {-signal.SIGKILL: DeathCause.MEMORY, -signal.SIGXCPU: DeathCause.CPU_TIME,
             -signal.SIGSEGV: DeathCause.CRASHED, 1: DeathCause.EXITED,
             None: DeathCause.UNRESPONSIVE}
    for code, cause in cases.items():
        manager.provisioner = type("P", (), {"process": Exited(code)})()
        assert manager.death()[0] == cause, code
        assert manager.death()[1] == manager.death_reason()
    manager.stop_reason, manager.stop_cause = "used more than 1 GiB of memory", \
        DeathCause.MEMORY
    assert manager.death() == (DeathCause.MEMORY, "the grader stopped the notebook: it "
                                                  "used more than 1 GiB of memory")
