"""The grader's architecture, enforced (issue 30): import-linter's contracts in pyproject.toml.

``lint-imports`` must keep every contract with no exception listed (no
circle; the foundations import nothing above them; layers, top to bottom,
with every module of the package in one), and the contracts must be able to
fail: the circle that once joined the worker pool and the grader
(``workers`` importing ``grading`` for the worker's task), and an upward
import, put back into a copy of the package, break all three.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(where: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run([str(LINT), str(where / "pyproject.toml"), "--no-cache"],
                          cwd=where, env=environment, capture_output=True, text=True,
                          timeout=300)


def test_the_import_contracts_are_kept_with_no_exceptions():
    config = (ROOT / "pyproject.toml").read_text()
    assert "ignore_imports" not in config  # no exceptions
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 kept, 0 broken" in run.stdout, run.stdout


def test_a_circle_put_back_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "autograder", tmp_path / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    workers = tmp_path / "autograder" / "workers.py"
    workers.write_text(workers.read_text() + "\n\ndef _circle():\n"
                       "    from autograder.grading import grade  # noqa: F401\n")
    lock = tmp_path / "autograder" / "lock.py"
    lock.write_text(lock.read_text() + "\n\ndef _upward():\n"
                    "    from autograder import gradebook  # noqa: F401\n")
    run = _lint(tmp_path)
    assert run.returncode != 0
    assert "0 kept, 3 broken" in run.stdout, run.stdout
    # each broken contract names the import that broke it
    assert "- .workers -> .grading (1 import)" in run.stdout, run.stdout
    assert "autograder.lock is not allowed to import autograder.gradebook" in run.stdout


def test_every_module_of_the_grader_has_a_layer():
    """A module left out of the layers contract would escape it: none is."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    placed = [name.strip() for layer in layers for name in layer.split(":")]
    assert len(placed) == len(set(placed)), "a module is in two layers"
    modules = {f"autograder.{path.stem}" for path in (ROOT / "autograder").glob("*.py")
               if path.stem != "__init__"}
    modules |= {f"autograder.{path.parent.name}"
                for path in (ROOT / "autograder").glob("*/__init__.py")}
    assert modules == set(placed), (sorted(modules - set(placed)), sorted(set(placed) - modules))


def test_one_rule_says_what_a_test_cell_is():
    """Every part of the grader asks autograder.cells; none writes the rule again."""
    import re

    rule = re.compile(r'get\("nbgrader", \{\}\)\.get\("grade"\)|meta\.get\("grade"\)\) and not')
    copies = [str(path.relative_to(ROOT)) for path in (ROOT / "autograder").rglob("*.py")
              if path.name != "cells.py" and rule.search(path.read_text())]
    assert not copies, f"the graded-cell rule written again in {copies}; use autograder.cells"
