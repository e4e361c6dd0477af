"""The judge on its own: what it runs, what it can reach, how it answers.

Each test hands ``judge_notebook`` a notebook's cells (a solution notebook
with a cell replaced, as a student would write it) and reads the verdicts;
the judge runs for real, in bubblewrap where there is one.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import require_bwrap

from autograder.judge import Verdict, apply_verdicts, judge_notebook, read_secret
from autograder.judge.code import definitions
from autograder.judge.library import judge_library, write_library
from autograder.judge.plans import HIDDEN, plan_for
from autograder.judge.run import submission_seeds
from autograder.judge.secret import SECRET_ENV

ROOT = Path(__file__).resolve().parents[1]
SECRET = bytes(range(32))
LIMITS = {"AS": 2 << 30, "CPU": 60, "NPROC": 64, "FSIZE": 1 << 26, "NOFILE": 256}
NOTEBOOKS = {"01_graphs": "graphs", "02_layers": "layers", "03_losses": "losses",
             "04_training": "training", "05_digits": "digits", "06_autograd": "autograd"}


def _cells(assignment: str, replace: dict[str, str] | None = None,
           extra: list[str] | None = None) -> list:
    notebook = nbformat.read(ROOT / "source" / assignment / f"{NOTEBOOKS[assignment]}.ipynb",
                             as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in (replace or {}):
            cell.source = replace[grade_id]
    for code in extra or []:
        notebook.cells.insert(2, nbformat.v4.new_code_cell(code))
    return notebook.cells


def _judge(assignment: str, cells: list, student: str = "alice", **kw) -> dict[str, Verdict]:
    require_bwrap()
    return judge_notebook(cells, assignment, student, SECRET, mode="bwrap", limits=LIMITS,
                          timeout=kw.pop("timeout", 20), **kw)


def _source_of(assignment: str, grade_id: str) -> str:
    return next(c.source for c in _cells(assignment)
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_the_solutions_pass_and_the_blanks_do_not(assignment):
    solved = _judge(assignment, _cells(assignment))
    assert solved and all(v.passed for v in solved.values()), solved
    blank = nbformat.read(ROOT / "release" / assignment / f"{NOTEBOOKS[assignment]}.ipynb",
                          as_version=4)
    verdicts = _judge(assignment, blank.cells)
    assert set(verdicts) == set(solved)
    assert not any(v.passed for v in verdicts.values())
    assert all("NotImplementedError" in v.message for v in verdicts.values()), verdicts


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_the_judge_s_miniflow_lacks_exactly_the_graded_answers(assignment, tmp_path):
    import subprocess
    import sys

    library = write_library(judge_library(assignment), tmp_path).parent
    names = [entry.rsplit(".", 1)[-1] for entry in HIDDEN[assignment]]
    probe = ("import miniflow, miniflow.nodes, miniflow.graph, miniflow.training\n"
             "import importlib\n"
             f"for name in {names!r}:\n"
             "    for module in ('miniflow', 'miniflow.nodes', 'miniflow.graph',\n"
             "                   'miniflow.training', 'miniflow.examples', 'miniflow.tensor'):\n"
             "        try:\n"
             "            found = importlib.import_module(module)\n"
             "        except ImportError:\n"
             "            continue\n"
             "        assert not hasattr(found, name), (module, name)\n"
             "print(miniflow.Input, miniflow.Node)\n")
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, "
                           f"{str(library)!r}); exec({probe!r})"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Input" in done.stdout


# Code a student might run inside the judge to find the answers: each must come up empty.
REACH = '''
def _reach():
    import os, sys
    found = []
    for module in ("autograder", "IPython", "ipykernel", "matplotlib", "nbgrader"):
        try:
            __import__(module)
            found.append(module)
        except ImportError:
            pass
    for path in {paths!r}:
        if os.path.exists(path):
            found.append(path)
    import miniflow.nodes
    if hasattr(miniflow.nodes, "Linear"):
        found.append("miniflow.nodes.Linear")
    try:
        import socket
        socket.create_connection(("127.0.0.1", 22), timeout=1)
        found.append("network")
    except OSError:
        pass
    return found


class Linear(Node):
    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name=name)

    def forward(self):
        raise RuntimeError("reached: " + repr(_reach()))

    def backward(self):
        pass
'''


def test_student_code_in_the_judge_reaches_no_answer_no_course_and_no_network():
    import autograder
    import miniflow

    paths = [str(ROOT / "source"), str(ROOT / "miniflow" / "nodes.py"),
             str(Path(miniflow.__file__).resolve()), str(Path(autograder.__file__).resolve()),
             str(ROOT)]
    cells = _cells("02_layers", {"linear": REACH.format(paths=paths)})
    # The runner reports only the exception's name, never its text: ask directly.
    from autograder.judge.process import JudgeProcess
    from autograder.judge.run import judge_program

    require_bwrap()
    judge = JudgeProcess(judge_program(["node", "function"]), judge_library("02_layers"),
                         mode="bwrap", limits=LIMITS, timeout=20)
    judge.start()
    try:
        judge.request({"op": "define", "cells": definitions(cells)})
        answer = judge.request({"op": "ask", "kind": "function", "name": "_reach",
                                "spec": {"arguments": []}})
    finally:
        judge.stop()
    # _reach answers through the "function" runner: a list of what it found (strings,
    # which cannot become numbers: an error naming them). Nothing may be found.
    assert answer.get("results") == [], answer


def test_an_honest_slip_costs_exactly_its_own_exercise():
    # "=" for "+=" in Tensor.__mul__'s backward: a classic slip (wrong when a tensor is
    # multiplied by itself).
    tensor = _source_of("06_autograd", "tensor")
    right = "self.grad += unbroadcast(out.grad * other.data, self.shape)"
    assert right in tensor
    slipped = tensor.replace(right, right.replace("+=", "="))
    verdicts = _judge("06_autograd", _cells("06_autograd", {"tensor": slipped}))
    lost = {test for test, verdict in verdicts.items() if not verdict.passed}
    assert lost and lost <= {"test_tensor_forward", "test_tensor_backward"}, verdicts


def test_an_unstable_tensor_sigmoid_fails_on_large_inputs():
    tensor = _source_of("06_autograd", "tensor")
    start = tensor.index("    def sigmoid(self")
    end = tensor.index("\n    def ", start + 10)
    naive = ('''    def sigmoid(self):
        s = 1 / (1 + np.exp(-self.data))
        out = Tensor(s, parents=(self,), op="sigmoid")

        def _backward():
            self.grad += out.grad * s * (1 - s)

        out._backward = _backward
        return out
''')
    verdicts = _judge("06_autograd", _cells("06_autograd",
                                            {"tensor": tensor[:start] + naive + tensor[end:]}))
    assert not verdicts["test_tensor_forward"].passed
    assert "large inputs" in verdicts["test_tensor_forward"].message
    assert "FloatingPointError" in verdicts["test_tensor_forward"].message
    assert verdicts["test_backpropagate"].passed and verdicts["test_two_layer_loss"].passed


def test_a_judge_that_dies_or_hangs_costs_that_test_and_the_rest_is_judged():
    mul = _source_of("01_graphs", "mul").replace(
        "product = self.inbound_nodes[0].value", "import os; os._exit(3)")
    chain = ("def chain_rule_gradients(x, y, z, upstream):\n"
             "    while True:\n        pass\n")
    verdicts = _judge("01_graphs", _cells("01_graphs", {"mul": mul, "chain_rule": chain}),
                      timeout=3)
    assert verdicts["test_chain_rule"].code == "stopped"
    assert "did not answer within 3 s" in verdicts["test_chain_rule"].message
    assert verdicts["test_mul_forward"].code == "stopped"
    assert verdicts["test_topological_sort"].passed


def test_what_student_code_prints_or_forges_is_not_an_answer():
    linear = _source_of("02_layers", "linear").replace(
        "self.value = X @ W + b",
        "print('{\"value\": [[0.0]]}'); import sys, os; "
        "[os.write(fd, b'{\"value\": 1}\\n') for fd in (1, 2)]; self.value = X @ W")
    verdicts = _judge("02_layers", _cells("02_layers", {"linear": linear}))
    assert not verdicts["test_linear_forward"].passed
    assert verdicts["test_sigmoid_forward"].passed


def test_messages_carry_no_text_from_student_code():
    linear = _source_of("02_layers", "linear").replace(
        "self.value = X @ W + b", "raise ValueError('LEAKED ' + repr(X))")
    verdicts = _judge("02_layers", _cells("02_layers", {"linear": linear}))
    message = verdicts["test_linear_forward"].message
    assert "raised ValueError" in message and "LEAKED" not in message


def test_the_questions_come_from_the_secret_the_student_and_the_code():
    cells = _cells("02_layers")
    code = definitions(cells)
    first = plan_for("02_layers", submission_seeds(SECRET, "02_layers", "alice", code))
    again = plan_for("02_layers", submission_seeds(SECRET, "02_layers", "alice", code))
    other = plan_for("02_layers", submission_seeds(SECRET, "02_layers", "bob", code))
    changed = plan_for("02_layers", submission_seeds(SECRET, "02_layers", "alice",
                                                     code + [{"cell": 99, "code": ["x = 1"]}]))
    secret = plan_for("02_layers", submission_seeds(bytes(32), "02_layers", "alice", code))
    public = plan_for("02_layers")

    def inputs(plan):
        return [p.spec["values"] for p in plan]

    assert inputs(first) == inputs(again)
    for different in (other, changed, secret, public):
        assert inputs(first) != inputs(different)


def test_the_secret_is_made_once_private_and_can_come_from_the_environment(tmp_path,
                                                                           monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    path = tmp_path / ".miniflow-judge-secret"
    made = read_secret(path)
    assert len(made) == 32 and read_secret(path) == made
    assert path.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv(SECRET_ENV, "ab" * 16)
    assert read_secret(path) == bytes([0xAB] * 16)
    monkeypatch.setenv(SECRET_ENV, "not hex")
    with pytest.raises(RuntimeError, match="hexadecimal"):
        read_secret(path)


def test_the_verdict_comes_first_whatever_the_kernel_printed():
    from nbgrader.utils import determine_grade

    cells = [nbformat.v4.new_code_cell("assert True", outputs=[
        nbformat.v4.new_output("execute_result", data={"text/plain": "'checked'"},
                               execution_count=1)])]
    cells[0].metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t",
                                     "points": 3}
    failing = nbformat.from_dict(cells[0])
    apply_verdicts([failing], {"t": Verdict("t", "wrong", "the value differs")})
    assert determine_grade(failing)[0] == 0
    assert failing.outputs[0].ename == "GraderCheckFailed"
    failed_in_kernel = nbformat.from_dict(cells[0])
    failed_in_kernel.outputs = [nbformat.v4.new_output("error", ename="AssertionError",
                                                       evalue="", traceback=[])]
    apply_verdicts([failed_in_kernel], {"t": Verdict("t", "passed")})
    assert determine_grade(failed_in_kernel)[0] == 3
    unjudged = nbformat.from_dict(cells[0])
    apply_verdicts([unjudged], {})
    assert determine_grade(unjudged)[0] == 0


def test_graders_starting_together_all_read_the_one_whole_secret(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.delenv(SECRET_ENV, raising=False)
    path = tmp_path / ".miniflow-judge-secret"
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: read_secret(path), range(64)))
    assert len(set(made)) == 1 and len(made[0]) == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no draft left


def test_a_missing_class_is_explained_by_the_cell_that_failed():
    broken = _source_of("02_layers", "linear").replace("class Linear(Node):",
                                                       "class Linear(Node, Unknown):")
    verdicts = _judge("02_layers", _cells("02_layers", {"linear": broken}))
    message = verdicts["test_linear_forward"].message
    assert verdicts["test_linear_forward"].code == "missing"
    assert "Linear is not defined: its definition in cell" in message
    assert "raised NameError" in message
    assert "Unknown" not in message  # the student's own words stay out
