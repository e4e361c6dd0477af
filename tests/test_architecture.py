"""The grader's architecture, enforced (issue 30): import-linter's contracts in pyproject.toml.

``lint-imports`` must keep every contract with no exception listed (no
circle; layers, top to bottom, with every package and module directly under
``autograder/`` in one; the fork server below the sandbox's kernel manager;
the core's modules independent), and the contracts must be able to fail:
the circle that once joined the worker pool and the grader (``workers``
importing ``grading`` for the worker's task) and an upward import from the
core, put back into a copy of the package, break them.
"""

from __future__ import annotations

import ast
import os
import re
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
    assert "5 kept, 0 broken" in run.stdout, run.stdout


def test_a_circle_put_back_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "autograder", tmp_path / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    workers = tmp_path / "autograder" / "run" / "workers.py"
    workers.write_text(workers.read_text() + "\n\ndef _circle():\n"
                       "    from autograder.pipeline.grading import grade  # noqa: F401\n"
                       "    from autograder.sandbox.forkserver import registry  # noqa: F401\n")
    lock = tmp_path / "autograder" / "core" / "lock.py"
    lock.write_text(lock.read_text() + "\n\ndef _upward():\n"
                    "    from autograder.record import gradebook  # noqa: F401\n"
                    "    from autograder.core import manifest  # noqa: F401\n")
    run = _lint(tmp_path)
    assert run.returncode != 0
    assert "1 kept, 4 broken" in run.stdout, run.stdout
    # each broken contract names the import that broke it
    assert "- .run -> .pipeline" in run.stdout, run.stdout
    assert "autograder.core is not allowed to import autograder.record" in run.stdout
    assert "autograder.run is not allowed to import autograder.pipeline" in run.stdout
    assert "autograder.core.lock is not allowed to import autograder.core.manifest" in run.stdout
    assert "autograder.run is not allowed to import autograder.sandbox.forkserver" in run.stdout


def _ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_ruff_passes_on_what_make_lint_checks():
    """CI runs the linter too, private-import rule (PLC2701) included, on the folders
    ``make lint`` names (read from the Makefile, so that the two cannot drift)."""
    folders = re.search(r"-m ruff check (.+)", (ROOT / "Makefile").read_text()).group(1)
    run = _ruff(*folders.split())
    assert run.returncode == 0, run.stdout + run.stderr


#: The private names a module may import from another: miniflow's _sigmoid and _softmax,
#: the names the exercises ask students to write (the lab's API).
ALLOWED_PRIVATE = {("miniflow.nodes", "_sigmoid"), ("miniflow.nodes", "_softmax")}


def private_imports(source: str) -> list[tuple[int, str, str]]:
    """(line, module, name) of each ``from autograder... / miniflow... import _name``.

    ruff's PLC2701 sees a private name imported from another top-level package
    only: ``autograder.checks.nodes`` importing ``_fail`` from
    ``autograder.checks.core`` passes it, so this rule covers our own packages.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] in ("autograder", "miniflow"):
            found += [(node.lineno, node.module, alias.name) for alias in node.names
                      if alias.name.startswith("_") and not alias.name.startswith("__")
                      and (node.module, alias.name) not in ALLOWED_PRIVATE]
    return found


def test_no_private_name_is_imported_from_another_module():
    found = []
    for folder in ("autograder", "miniflow", "tests", "benchmarks", "course"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            found += [f"{path.relative_to(ROOT)}:{line}: {name} from {module}"
                      for line, module, name in private_imports(path.read_text())]
    assert not found, "\n".join(found)


def test_a_private_import_inside_the_grader_is_found():
    source = ("from autograder.checks.core import assert_close, _fail\n"
              "from autograder.checks.core import fail as _fail\n"
              "from miniflow.nodes import _sigmoid\n"
              "from miniflow.nodes import __all__ as _names\n")
    assert private_imports(source) == [(1, "autograder.checks.core", "_fail")]


def test_every_module_of_the_grader_has_a_layer():
    """A module left out of the layers contract would escape it: none is."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    placed = [name.strip() for layer in layers for name in re.split("[:|]", layer)]
    assert len(placed) == len(set(placed)), "a module is in two layers"
    modules = {f"autograder.{path.stem}" for path in (ROOT / "autograder").glob("*.py")
               if path.stem != "__init__"}
    modules |= {f"autograder.{path.parent.name}"
                for path in (ROOT / "autograder").glob("*/__init__.py")}
    assert modules == set(placed), (sorted(modules - set(placed)), sorted(set(placed) - modules))


def test_one_rule_says_what_a_test_cell_is():
    """Every part of the grader asks autograder.core.cells; none writes the rule again."""
    import re

    rule = re.compile(r'get\("nbgrader", \{\}\)\.get\("grade"\)|meta\.get\("grade"\)\) and not')
    copies = [str(path.relative_to(ROOT)) for path in (ROOT / "autograder").rglob("*.py")
              if path.name != "cells.py" and rule.search(path.read_text())]
    assert not copies, f"the graded-cell rule written again in {copies}; use autograder.core.cells"


def test_the_paths_old_course_folders_name_are_the_moved_modules_themselves():
    """A course's nbgrader_config.py from before the move names the old paths: same objects."""
    import importlib

    from autograder.execute.exporter import CourseHeldExporter
    from autograder.execute.preprocessor import SandboxedExecute
    from autograder.publish.export_plugin import CourseExportPlugin
    from autograder.publish.hidden import HideTests

    for old, new in [("sanitize", "publish.sanitize"), ("kernels", "sandbox.kernels"),
                     ("guard", "kernel.guard"), ("figures", "kernel.figures")]:
        assert importlib.import_module(f"autograder.{old}") is \
            importlib.import_module(f"autograder.{new}"), old
    plugins = importlib.import_module("autograder.nbgrader_plugins")
    assert (plugins.SandboxedExecute, plugins.HideTests, plugins.CourseHeldExporter,
            plugins.CourseExportPlugin) == (SandboxedExecute, HideTests, CourseHeldExporter,
                                            CourseExportPlugin)
    # the course's own nbgrader_config.py names the new paths only
    config = (ROOT / "nbgrader_config.py").read_text()
    assert not re.search(r"autograder\.(nbgrader_plugins|sanitize|kernels|guard|figures)\b",
                         config), "nbgrader_config.py names an old path"


def test_every_module_of_the_core_is_in_its_contract():
    """A foundation left out of the core's contract could start leaning on another one."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"]
                    if c.get("containers") == ["autograder.core"])
    listed = {name.strip() for layer in contract["layers"] for name in re.split("[:|]", layer)}
    core = {path.stem for path in (ROOT / "autograder" / "core").glob("*.py")
            if path.stem != "__init__"}
    assert core == listed, sorted(core ^ listed)


#: The most lines a module of the grader may have; a longer one must say why.
MOST_LINES = 500
LONGER_BECAUSE = "it is course content"


def test_no_module_is_longer_than_about_500_lines_unless_it_says_why():
    """One job per module: a module past 500 lines does too much, unless it is course
    content (the checks of an assignment's exercises) and its docstring says so."""
    import ast

    too_long = []
    for path in sorted((ROOT / "autograder").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= MOST_LINES:
            continue
        docstring = " ".join((ast.get_docstring(ast.parse(text)) or "").split())
        if LONGER_BECAUSE not in docstring:
            too_long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
    assert not too_long, too_long
