"""What makes grading quicker changes no grade.

Grading got faster in several ways (docs/grading-at-scale.md, "Where grading
time goes"): the gradebook's schema version is read in process instead of by a
subprocess; each assignment is generated once per run, by the grader; every
kernel imports the course's usual modules as it starts (``preload``); a
grading worker starts the next notebook's kernel while the current one runs
(``spare_kernel``); grading kernels build figures but never draw them
(``mpl_backend``), are given the font list, and skip matplotlib's property
tables; the guard is asked in each cell's own request (``guard_in_request``);
kernels are forked from a fork server (``fork_server``, tests/test_forkserver.py).
Each notebook still gets a fresh kernel of its own. Here: the same class (the
solution, the blank release, two known mistakes per exercise, a notebook whose kernel dies
half way) graded with the kernel-side ones turned off and on gets the same
score and message in every cell; no figure is drawn or left open; the spare
kernel really is the next notebook's kernel, is used once, and is stopped with
its files when the worker is done; the preload leaves the notebook's namespace
as it was; the schema version equals nbgrader's own answer.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

import nbformat
import pytest
from conftest import require_bwrap

from autograder.author.demo import with_mutant
from autograder.author.mutants import load_mutants
from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import alembic_head, run_nbgrader
from autograder.core.processes import descendants
from autograder.execute import explain, preprocessor as nbgrader_plugins, spare
from autograder.pipeline.grading import copy_course_skeleton, grade
from autograder.run.rundir import run_directory
from autograder.run.worker_task import grade_in_worker, warm_up
from autograder.run.workers import WorkerPool
from autograder.sandbox import files as sandbox_files
from autograder.sandbox.files import data_signature
from autograder.sandbox.manager import SandboxKernelManager

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]
SLOW_OFF = ("\nc.SandboxedExecute.spare_kernel = False\n"
            "c.SandboxedExecute.preload = []\n"
            "c.SandboxKernelManager.mpl_backend = ''\n"
            "c.SandboxKernelManager.mpl_font_list = False\n"
            "c.SandboxedExecute.guard_in_request = False\n"
            "c.SandboxKernelManager.fork_server = False\n"
            "c.SandboxedExecute.traceback_mode = ''\n"
            "c.SandboxedExecute.ipython_history = True\n")

# A cell a student might add: what is in the namespace and in sys.modules
# before the notebook imports anything.
LOOK = '''import sys
print("NAMES", sorted(k for k in globals() if not k.startswith("__")))
print("LOADED", "numpy" in sys.modules, "matplotlib.pyplot" in sys.modules)
'''
# Cells after it: In, Out and _ with or without IPython's history database.
HISTORY = ["6 * 7", 'print("HISTORY", get_ipython().history_manager.enabled, _, In[-2])']
# Cells that plot: shown, and left open at the end of a cell; then a notebook
# that asks for the inline backend gets its figures drawn.
DRAW = ["import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
        "plt.figure()\nplt.plot([3, 2, 1])",
        "import os\nfonts = os.path.join(os.environ['MPLCONFIGDIR'], os.listdir("
        "os.environ['MPLCONFIGDIR'])[0])\n"
        "print('FONTS', 'given' if not os.access(fonts, os.W_OK) else 'scanned')\n"
        "print('DOCS', 'not listed' in plt.Line2D.set.__doc__)\n"
        "print('BACKEND', plt.get_backend(), 'OPEN', len(plt.get_fignums()))",
        "%matplotlib inline\nplt.plot([1, 2])"]


def _index(notebook: nbformat.NotebookNode, grade_id: str) -> int:
    return next(i for i, c in enumerate(notebook.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _two_per_cell(mutants: list) -> list:
    kept: dict[str, list] = {}
    for mutant in mutants:
        if len(kept.setdefault(mutant.cell, [])) < 2:
            kept[mutant.cell].append(mutant)
    return [m for cell in kept.values() for m in cell]


def _class(root: Path) -> list[str]:
    source = nbformat.read(root / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
    run_nbgrader(["generate_assignment", FIRST.name, "--force"], root)
    release = nbformat.read(root / "release" / FIRST.name / FIRST.notebook_file, as_version=4)
    notebooks = {"solution": source, "blank": release}
    # Two known mistakes per exercise: scores between zero and full marks, in every
    # cell, without grading the whole mutant library twice (the self-check does that).
    for number, mutant in enumerate(_two_per_cell(load_mutants(FIRST.name))):
        notebooks[f"mutant{number:02}"] = with_mutant(
            root / "source" / FIRST.name / FIRST.notebook_file, mutant.cell, mutant.source)
    dies = nbformat.from_dict(source)
    dies.cells.insert(_index(dies, "test_mul_backward"),
                      nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    notebooks["dies"] = dies
    looks = nbformat.from_dict(source)
    for code in reversed([LOOK, *HISTORY]):
        looks.cells.insert(0, nbformat.v4.new_code_cell(code))
    notebooks["looks"] = looks
    draws = nbformat.from_dict(source)
    for code in reversed(DRAW):
        draws.cells.insert(0, nbformat.v4.new_code_cell(code))
    notebooks["draws"] = draws
    for student, notebook in notebooks.items():
        folder = root / "submitted" / student / FIRST.name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / FIRST.notebook_file)
    return sorted(notebooks)


def _executed(root: Path, student: str) -> nbformat.NotebookNode:
    return nbformat.read(root / "autograded" / student / FIRST.name / FIRST.notebook_file,
                         as_version=4)


def _outputs(root: Path, student: str, cell: int = 0) -> str:
    return "".join(o.get("text", "") for o in _executed(root, student).cells[cell].outputs)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    require_bwrap()
    graded = {}
    for name, extra in (("without", SLOW_OFF), ("with", "")):
        root = tmp_path_factory.mktemp(name)
        copy_course_skeleton(ROOT, root, [FIRST])
        # One course graded twice: one secret, so the judge asks both the same questions.
        (root / ".miniflow-judge-secret").write_text("5e" * 32 + "\n")
        with open(root / "nbgrader_config.py", "a", encoding="utf-8") as config:
            config.write(extra)
        students = _class(root)
        results = grade(load_manifest(root), [FIRST], students=None, workers=2,
                        sandbox="bwrap")
        graded[name] = (root, students, {r.student: r for r in results})
    return graded


def test_every_cell_scores_the_same_with_and_without_the_speed_ups(both):
    _, students, without = both["without"]
    _, _, with_ = both["with"]
    assert sorted(without) == sorted(with_) == students
    for student in students:
        old, new = without[student], with_[student]
        assert (new.status, new.score, new.notes, new.flags) == \
            (old.status, old.score, old.notes, old.flags), student
        assert [(c.grade_id, c.score, c.message) for c in new.cells] == \
            [(c.grade_id, c.score, c.message) for c in old.cells], student
        assert [(d.cell, d.reason, d.restarted) for d in new.kernel_deaths] == \
            [(d.cell, d.reason, d.restarted) for d in old.kernel_deaths], student
    # The class is not trivially alike: full marks, zero, mistakes in between, a death.
    scores = {r.score for r in with_.values()}
    assert FIRST.points in scores and 0 in scores and len(scores) > 3
    assert with_["dies"].kernel_deaths and with_["dies"].kernel_deaths[0].restarted


def test_the_preload_leaves_the_notebook_namespace_as_it_was(both):
    seen = {}
    for name in ("without", "with"):
        text = _outputs(both[name][0], "looks")
        seen[name] = (next(line for line in text.splitlines() if line.startswith("NAMES")),
                      next(line for line in text.splitlines() if line.startswith("LOADED")))
    # The same names (IPython's own, the guard's), none of the preloaded modules.
    assert seen["with"][0] == seen["without"][0]
    for module in ("'numpy'", "'np'", "'matplotlib'", "'miniflow'", "'_m'"):
        assert module not in seen["with"][0]
    # ...but the modules are there, imported before the first cell.
    assert seen["without"][1] == "LOADED True False"  # the guard imports numpy
    assert seen["with"][1] == "LOADED True True"


def test_grading_kernels_keep_in_and_out_without_a_history_database(both):
    assert _outputs(both["without"][0], "looks", 2) == "HISTORY True 42 6 * 7\n"
    assert _outputs(both["with"][0], "looks", 2) == "HISTORY False 42 6 * 7\n"


def test_grading_kernels_build_figures_but_never_draw_them(both):
    drawn = {}
    for name in ("without", "with"):
        cells = _executed(both[name][0], "draws").cells[:3]
        drawn[name] = [any("image/png" in o.get("data", {}) for o in c.outputs) for c in cells]
        assert not any(o.output_type == "error" or o.get("name") == "stderr"
                       for c in cells for o in c.outputs), name
        # Each cell's figures are closed after it, whatever the backend.
        assert _outputs(both[name][0], "draws", 2).endswith("OPEN 0\n"), name
    assert drawn["without"] == [True, True, False]  # inline, as students see them
    assert drawn["with"] == [False, False, False]
    for name in ("without", "with"):  # %matplotlib inline: drawn, and only then closed
        assert any("image/png" in o.get("data", {})
                   for o in _executed(both[name][0], "draws").cells[3].outputs), name
    assert "BACKEND module://autograder.kernel.figures" in _outputs(both["with"][0], "draws", 2)
    # The font list: given to each kernel (a read-only file), or scanned by it.
    assert "FONTS given" in _outputs(both["with"][0], "draws", 2)
    assert "FONTS scanned" in _outputs(both["without"][0], "draws", 2)
    # matplotlib's property tables: skipped where nobody reads them (autograder.kernel.mpl_docs).
    assert "DOCS True" in _outputs(both["with"][0], "draws", 2)
    assert "DOCS False" in _outputs(both["without"][0], "draws", 2)


def _tracebacks(root: Path, student: str) -> list[str]:
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    return [ansi.sub("", "\n".join(o.traceback)) for c in _executed(root, student).cells
            if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error" and len(o.traceback) > 1]


def test_grading_kernels_lay_out_tracebacks_as_python_does(both):
    # The blank notebook's errors, as the kernel formatted them.
    plain = _tracebacks(both["with"][0], "blank")
    context = _tracebacks(both["without"][0], "blank")
    assert plain and len(plain) == len(context)
    for short, long in zip(plain, context):
        # Plain: Python's layout, the failing line of each frame and the error.
        assert short.lstrip().startswith("Traceback (most recent call last)"), short
        assert "---->" not in short and "Cell In[" in short
        # Context (IPython's default): the lines around each frame, the failing one marked.
        assert "---->" in long
        assert short.splitlines()[-1].rstrip(": ") == long.splitlines()[-1].rstrip(": ")


@pytest.fixture
def claims(monkeypatch):
    """(the kernel each notebook claimed, None if none was waiting; the kernels' folder)."""
    require_bwrap()
    kernels = Path(tempfile.mkdtemp(prefix="mfs", dir="/tmp"))  # short: sockets live below
    monkeypatch.setenv("MINIFLOW_SANDBOX_TMPDIR", str(kernels))
    claimed: list = []
    claim = nbgrader_plugins.SandboxedExecute.claim_spare

    async def recording(self, key):
        claimed.append(await claim(self, key))
        return claimed[-1]

    monkeypatch.setattr(nbgrader_plugins.SandboxedExecute, "claim_spare", recording)
    return claimed, kernels


def test_the_next_notebook_runs_on_the_spare_kernel_started_ahead(tmp_path, monkeypatch,
                                                                   claims):
    claimed, kernels = claims
    started: list = []
    start = nbgrader_plugins.SandboxedExecute.start_spare

    forked: list[str] = []

    async def noting(self, key, cwd):
        await start(self, key, cwd)
        started.append(spare.waiting_spare())
        forked.append(type(started[-1].provisioner.process).__name__)

    monkeypatch.setattr(nbgrader_plugins.SandboxedExecute, "start_spare", noting)
    notebook = ROOT / "source" / FIRST.name / FIRST.notebook_file
    task = {"root": str(ROOT), "student": "s1", "notebook": str(notebook), "notes": [],
            "assignment": {**asdict(FIRST), "notebook_file": FIRST.notebook_file},
            "timestamp": None, "sandbox": "bwrap"}
    templates: dict = {}
    try:
        for number in range(3):
            answer = grade_in_worker({**task, "id": number}, tmp_path / "work", templates)
            assert answer["success"], answer["log"][-2000:]
    finally:
        spare.discard_spare()
    # The first notebook had no spare; each later one ran on the kernel started
    # during the notebook before it; every notebook started one for the next.
    assert claimed[0] is None
    assert claimed[1] is started[0] and claimed[2] is started[1]
    assert len({id(m) for m in started}) == 3 and all(m is not None for m in started)
    assert all(not m.has_kernel for m in started)  # used once, then shut down
    # As root, a grading worker forks its kernels (tests/test_forkserver.py).
    assert forked == ["ForkedProcess" if os.geteuid() == 0 else "Popen"] * 3
    assert not descendants(os.getpid())
    assert not any(kernels.iterdir())  # their scratch folders are gone
    kernels.rmdir()


def test_the_data_signature_covers_exactly_the_files_a_kernel_gets(tmp_path):
    from autograder.sandbox.files import data_files

    data, elsewhere = tmp_path / "assignment", tmp_path / "elsewhere"
    (data / "tables" / ".cache").mkdir(parents=True)
    elsewhere.mkdir()
    (data / "tables" / "points.csv").write_text("1,2\n")
    (data / "tables" / "notes.ipynb").write_text("{}")
    (data / "tables" / ".cache" / "old.csv").write_text("x")
    (elsewhere / "shared.csv").write_text("a\n")
    (data / "tables" / "shared.csv").symlink_to(elsewhere / "shared.csv")
    given = tmp_path / "kernel"
    given.mkdir()
    assert data_files(data, given) == ["tables"]
    copied = sorted(p.relative_to(given).as_posix() for p in given.rglob("*") if p.is_file())
    assert copied == ["tables/points.csv", "tables/shared.csv"]
    first = data_signature(data)
    (data / "tables" / "notes.ipynb").write_text('{"changed": 1}')  # not given: no change
    (data / "tables" / ".cache" / "old.csv").write_text("y")
    assert data_signature(data) == first
    (elsewhere / "shared.csv").write_text("b\n")  # given, through its link
    assert data_signature(data) != first


def test_a_spare_is_kept_only_for_the_same_data_behind_bubblewrap(tmp_path):
    require_bwrap()
    data = tmp_path / "assignment"
    data.mkdir()
    (data / "points.csv").write_text("1,2\n")
    (data / "notes.ipynb").write_text("{}")
    first = data_signature(data)
    (data / "notes.ipynb").write_text('{"changed": 1}')  # notebooks are not data
    assert data_signature(data) == first
    (data / "points.csv").write_text("1,3\n")
    assert data_signature(data) != first
    execute = nbgrader_plugins.SandboxedExecute(spare_kernel=True)
    execute.nb = nbformat.v4.new_notebook()
    execute.config.SandboxKernelManager.mode = "bwrap"
    key = execute.spare_key(str(data))
    assert key is not None and key == execute.spare_key(str(data))
    (data / "points.csv").write_text("1,4\n")
    assert execute.spare_key(str(data)) != key  # a spare started for other data is not used
    execute.config.SandboxKernelManager.mode = "none"
    assert execute.spare_key(str(data)) is None  # unsandboxed: never a spare
    off = nbgrader_plugins.SandboxedExecute(spare_kernel=False)
    off.nb = nbformat.v4.new_notebook()
    assert off.spare_key(str(data)) is None


def test_the_schema_version_is_nbgrader_s_own():
    scripts = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=os.pathsep.join([scripts, os.environ.get("PATH", "")]))
    # nbgrader's way: `alembic heads`, in a subprocess.
    script = "from nbgrader.api import get_alembic_version; print(get_alembic_version())"
    theirs = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, check=True, timeout=120).stdout.strip()
    assert alembic_head() == theirs


def test_plain_nbgrader_makes_a_gradebook_without_starting_alembic(tmp_path):
    """The course's nbgrader_config.py reads the schema version in process: a plain
    nbgrader command that creates the gradebook never runs `alembic heads`."""
    root = tmp_path / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    fake = tmp_path / "bin"
    fake.mkdir()
    ran = tmp_path / "alembic-ran"
    (fake / "alembic").write_text(f"#!/bin/sh\ntouch {ran}\nexit 1\n")
    (fake / "alembic").chmod(0o755)
    scripts = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=os.pathsep.join([str(fake), scripts, os.environ["PATH"]]))
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", FIRST.name,
                           "--force"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not ran.exists(), "nbgrader started alembic to stamp the new gradebook"
    with sqlite3.connect(root / "gradebook.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == \
            [(alembic_head(),)]


def test_the_profile_names_every_phase_and_the_spare_kernel_skips_the_launch():
    require_bwrap()
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profile_grading.py"),
                          "--assignment", FIRST.name, "--submissions", "2"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {line[:58].strip(): line[58:].split() for line in run.stdout.splitlines()[2:]}
    assert {"wait until the kernel answers", "run the test cells",
            "nbgrader's own work (database, preprocessors, files)",
            "one submission, in all"} <= set(rows)
    # The second notebook ran on the kernel started during the first: no launch.
    assert rows["start the kernel (launch the sandbox)"][0] == "0.00"
    assert float(rows["one submission, in all"][0]) > 0


# Inside a sandboxed kernel: load matplotlib's fonts (logging whether it scans
# them), then draw text with them.
FONT_CHECK = """
import logging, os, sys
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="LOG %(message)s")
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager
plt.title("gradient")
plt.savefig(os.path.join(os.environ["TMPDIR"], "drawn.png"))
print("FOUND", os.path.isfile(font_manager.findfont("DejaVu Sans")),
      os.access(os.environ["MPLCONFIGDIR"], os.W_OK))
"""


async def _kernel_says(code: str, font_list: bool, folder: Path) -> str:
    from traitlets.config import Config

    config = Config()
    config.SandboxKernelManager.mode = "bwrap"
    config.SandboxKernelManager.mpl_font_list = font_list
    manager = SandboxKernelManager(config=config)
    await manager.start_kernel(cwd=str(folder))
    client = manager.client()
    client.start_channels()
    said: list[str] = []
    try:
        await client.wait_for_ready(timeout=60)
        await client.execute_interactive(
            code, timeout=60,
            output_hook=lambda msg: said.append(msg["content"].get("text", "")))
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    return "".join(said)


def test_kernels_are_given_the_font_list_and_do_not_scan_the_fonts(tmp_path, monkeypatch):
    import asyncio

    require_bwrap()
    kernels = tempfile.mkdtemp(prefix="mff", dir="/tmp")  # short socket paths
    monkeypatch.setenv("MINIFLOW_SANDBOX_TMPDIR", kernels)
    try:
        given = asyncio.run(_kernel_says(FONT_CHECK, True, tmp_path))
        scanned = asyncio.run(_kernel_says(FONT_CHECK, False, tmp_path))
    finally:
        shutil.rmtree(kernels, ignore_errors=True)
    # matplotlib logs "generated new fontManager" when it scans the fonts.
    assert "generated new fontManager" not in given, given
    assert "generated new fontManager" in scanned, scanned
    # Either way the fonts are found, text is drawn, and matplotlib's folder is writable.
    assert "FOUND True True" in given and "FOUND True True" in scanned


def _fonts(listed: bytes) -> dict:
    """A font list's entries, in no order (matplotlib lists them in the order it met them)."""
    found = json.loads(listed)
    for kind in ("ttflist", "afmlist"):
        found[kind] = sorted(json.dumps(font, sort_keys=True) for font in found[kind])
    return found


def test_the_font_list_is_made_once_for_every_worker(tmp_path, monkeypatch):
    from autograder.sandbox import manager as sandbox
    from autograder.sandbox.visible import FONT_LIST_AHEAD

    monkeypatch.delenv(FONT_LIST_AHEAD, raising=False)
    font_list = sandbox.font_list
    font_list.cache_clear()
    try:
        built = sandbox.font_list()
        assert built is not None
        # Made in a process of its own, into the folder, under matplotlib's own name.
        making = sandbox_files.start_font_list(tmp_path / "fonts")
        assert making.wait(timeout=60) == 0
        assert [p.name for p in (tmp_path / "fonts").iterdir()] == [built[0]]
        assert _fonts((tmp_path / "fonts" / built[0]).read_bytes()) == _fonts(built[1])
        # A worker that is told where takes it from there, scanning nothing.
        monkeypatch.setenv(FONT_LIST_AHEAD, str(tmp_path / "fonts"))

        def no_scan(*args, **kwargs):
            raise AssertionError("the fonts were scanned again")

        monkeypatch.setattr("matplotlib.font_manager.FontManager", no_scan)
        sandbox.font_list.cache_clear()
        name, listed = sandbox.font_list()
        assert name == built[0] and _fonts(listed) == _fonts(built[1])
        # A course that turned the font list off: its workers do not build one.
        sandbox.font_list.cache_clear()
        monkeypatch.setattr(sandbox, "font_list", no_scan)
        warm_up({"root": str(tmp_path), "assignment": "none", "notebook": "none.ipynb",
                 "sandbox": "none", "fonts": False})
    finally:
        font_list.cache_clear()


def test_the_font_list_s_process_imports_no_kernel_manager(tmp_path, monkeypatch):
    # It runs beside the grader's imports, which the workers wait for: importing
    # the sandbox's kernel manager (jupyter_client, zmq) would add 0.1 s to it.

    given: list[list[str]] = []
    monkeypatch.setattr(subprocess, "Popen", lambda args, **kwargs: given.append(args))
    sandbox_files.start_font_list(tmp_path / "fonts")
    (command,) = given
    code = command[command.index("-c") + 1] + (
        "\nprint(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jupyter_client', 'zmq', 'tornado', 'nbgrader') or m == 'autograder.sandbox.manager'))")
    monkeypatch.undo()
    run = subprocess.run([*command[:command.index("-c") + 1], code, str(tmp_path / "fonts")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines()[-1] == "[]"
    assert [p.name for p in (tmp_path / "fonts").glob("fontlist-*.json")]  # and it made it


def test_the_grader_s_own_processes_run_one_maths_thread(tmp_path, monkeypatch):
    # The grader, its workers and the font list's process do small sums (the review,
    # the trusted probes): numpy's maths threads, one per core in each, would only
    # spin beside the kernels. Whatever the instructor's shell says.
    from autograder.cli import main as cli
    from autograder.pipeline import grading

    monkeypatch.delenv("MINIFLOW_DB_URL", raising=False)
    for name in sandbox_files.ONE_MATHS_THREAD:  # restored afterwards, as the grader changes them
        monkeypatch.setenv(name, "8")
    root = tmp_path / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    folder = root / "submitted" / "ann" / FIRST.name
    folder.mkdir(parents=True)
    (folder / FIRST.notebook_file).write_bytes(
        (ROOT / "release" / FIRST.name / FIRST.notebook_file).read_bytes())
    seen: dict[str, dict] = {}
    start_fonts, start_pool = sandbox_files.start_font_list, WorkerPool.__init__
    popen = subprocess.Popen

    def fonts(target):
        with monkeypatch.context() as patch:  # the environment its process is given
            patch.setattr(subprocess, "Popen", lambda *args, **kwargs: seen.setdefault(
                "fonts", kwargs["env"]) and popen(*args, **kwargs))
            return start_fonts(target)

    def pool(self, *args, **kwargs):
        seen["workers"] = dict(kwargs["environment"])
        start_pool(self, *args, **kwargs)

    monkeypatch.setattr(sandbox_files, "start_font_list", fonts)
    monkeypatch.setattr(WorkerPool, "__init__", pool)
    (result,) = grade(load_manifest(root), [FIRST], students=None, workers=1, record=False,
                      sandbox="none")
    assert result.status == "graded"
    for kind in ("fonts", "workers"):
        assert {k: seen[kind].get(k) for k in sandbox_files.ONE_MATHS_THREAD} == \
            sandbox_files.ONE_MATHS_THREAD, kind
    # The grader itself, before it imports numpy.
    monkeypatch.chdir(root)
    monkeypatch.setattr(grading, "grade", lambda *a, **k: seen.setdefault(
        "grader", {k: os.environ.get(k) for k in sandbox_files.ONE_MATHS_THREAD}) and [])
    assert cli.main(["grade", FIRST.name]) == 1  # nothing graded: the stand-in grades nothing
    assert seen["grader"] == sandbox_files.ONE_MATHS_THREAD


def test_a_worker_does_its_first_task_s_one_time_work_while_its_first_kernel_starts(
        tmp_path, monkeypatch):
    from autograder.core import nbgrader_cli
    from autograder.run import worker_task
    from autograder.sandbox import launch as sandbox_launch, manager as sandbox

    schema: list[int] = []
    planned: list[tuple[str, str]] = []
    monkeypatch.setattr(nbgrader_cli, "alembic_head", lambda: schema.append(1) or "head")
    from autograder import judge

    monkeypatch.setattr(judge, "warm_up", lambda name: planned.append(
        (name, threading.current_thread().name,
         os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) - os.getpriority(
             os.PRIO_PROCESS, os.getpid()))))
    monkeypatch.setattr(sandbox, "font_list", lambda: None)
    monkeypatch.setattr(sandbox_launch, "launched", threading.Event())

    def kernel(*args):
        time.sleep(0.2)  # the probes wait while the kernel's process is being launched
        planned.append(("kernel", threading.current_thread().name))
        sandbox_launch.launched.set()  # as the launch does

    monkeypatch.setattr(worker_task, "start_first_kernel", kernel)
    first = {"root": str(tmp_path), "assignment": FIRST.name, "notebook": "n.ipynb",
             "sandbox": "none"}
    worker_task.warm_up(first)
    # The trusted probes, in a thread of their own, once the kernel's process is
    # launched, and behind it (niceness 10 more than the worker's); the kernel in
    # the worker's.
    assert planned == [("kernel", "MainThread"), (FIRST.name, "first-task-ahead", 10)]
    assert "first-task-ahead" not in [t.name for t in threading.enumerate()]  # done first
    # A local worker is given the generated assignment: no schema version to read.
    assert schema == []
    worker_task.warm_up(None)  # a Dask worker's pool: it generates assignments itself
    assert schema == [1] and len(planned) == 2


def test_reading_notebooks_does_not_build_the_iri_grammars():
    script = ("import sys, autograder, nbformat\n"
              "nbformat.validate(nbformat.v4.new_notebook())\n"
              "print(repr(sys.modules.get('rfc3987_syntax', 'absent')))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=120)
    assert run.stdout.strip() == "None"  # marked absent: jsonschema's import of it fails


DEFERRED_SETUPTOOLS = """
import json, os, pathlib, shutil, sys, tempfile, zipfile
import autograder.cli.main  # the command line, as `python -m autograder grade` starts
from autograder.run.worker_process import import_for_workers
import_for_workers()  # what the grader imports before it forks its workers
seen = {"started": "setuptools" in sys.modules}
from nbgrader import utils
folder = pathlib.Path(tempfile.mkdtemp())
with zipfile.ZipFile(folder / "in.zip", "w") as archive:
    archive.writestr("ann/layers.ipynb", "{}")
(folder / "out").mkdir()
utils.unzip(str(folder / "in.zip"), str(folder / "out"))
seen["unpacked"] = sorted(str(p.relative_to(folder / "out")) for p in (folder / "out").rglob("*"))
seen["then"] = "setuptools" in sys.modules
seen["real"] = getattr(sys.modules["setuptools.archive_util"], "__file__", None) is not None
shutil.rmtree(folder)
print(json.dumps(seen))
"""


def test_the_command_line_imports_setuptools_only_when_nbgrader_unpacks_an_archive():
    # nbgrader imports setuptools for its zip collect: 0.1 s of every command's start.
    run = subprocess.run([sys.executable, "-c", DEFERRED_SETUPTOOLS], capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.splitlines()[-1])
    assert seen["started"] is False
    # nbgrader's unpacking still works, with the real module, imported then.
    assert seen["unpacked"] == ["ann", "ann/layers.ipynb"]
    assert seen["then"] is True and seen["real"] is True


def test_tasks_are_made_as_the_workers_need_them():
    events: list[tuple[str, int]] = []

    def tasks():
        for number in range(4):
            events.append(("made", number))
            yield {"id": number}  # not a submission: the worker answers with a failure

    with run_directory() as run_dir:
        WorkerPool(1, run_dir, deadline=120).run(
            tasks(), lambda task, answer: events.append(("answered", task["id"])))
    # One task is kept ready ahead, no more: the third is made once the first answer
    # is in (its worker takes the second at once, before the answer is recorded).
    assert events == [("made", 0), ("made", 1), ("made", 2), ("answered", 0), ("made", 3),
                      ("answered", 1), ("answered", 2), ("answered", 3)]
    assert not descendants(os.getpid())
    with run_directory() as run_dir:
        idle = WorkerPool(2, run_dir, deadline=120)
        idle.run(iter([]), lambda task, answer: events.append(("answered", -1)))
    assert idle.started == 0  # no task, no worker
    with run_directory() as run_dir:
        one = WorkerPool(2, run_dir, deadline=120)
        one.run(iter([{"id": 7}]), lambda task, answer: events.append(("answered", 7)),
                at_most=1)
    assert one.started == 1  # one submission at most: a second worker would only cost
    assert ("answered", 7) in events and not descendants(os.getpid())


def test_a_worker_gets_its_next_task_before_the_grader_records_or_reviews():
    # The grader's own work (recording an answer, reviewing a submission) never keeps
    # a worker waiting: the first review imports matplotlib and miniflow (0.7 s).
    seen: list[tuple[str, int, list[bool]]] = []
    made: list[int] = []

    def tasks():
        for number in range(5):
            made.append(number)
            yield {"id": number}  # not a submission: the worker answers with a failure

    with run_directory() as run_dir:
        pool = WorkerPool(2, run_dir, deadline=120)

        def busy() -> list[bool]:
            return [worker.task is not None for worker in pool.workers]

        def answered(task, answer):
            seen.append(("answer", task["id"], busy()))

        def idle() -> bool:
            seen.append(("idle", len(made), busy()))
            return len([s for s in seen if s[0] == "idle"]) < 3  # three pieces of work

        pool.run(tasks(), answered, idle=idle)
    answers = [s for s in seen if s[0] == "answer"]
    assert sorted(s[1] for s in answers) == [0, 1, 2, 3, 4]
    # While tasks were left, the worker that answered already had its next one (the
    # other one is busy too, or its answer is not read yet).
    for _, number, working in answers[:3]:
        assert all(working), (number, working)
    # The grader's own work came only while both workers were busy or no task was left.
    idles = [s for s in seen if s[0] == "idle"]
    assert idles and all(all(working) or made_so_far == 5 for _, made_so_far, working in idles)
    assert not descendants(os.getpid())


def test_one_submission_regraded_starts_one_worker(tmp_path, monkeypatch):
    # The everyday regrade (--student ID) with the default of a worker per core: a
    # second worker, fork server and kernel would only compete with the first.
    require_bwrap()
    monkeypatch.delenv("MINIFLOW_DB_URL", raising=False)
    root = tmp_path / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    for student in ("ann", "bo"):
        folder = root / "submitted" / student / FIRST.name
        folder.mkdir(parents=True)
        (folder / FIRST.notebook_file).write_bytes(
            (root / "source" / FIRST.name / FIRST.notebook_file).read_bytes())
    started: list[int] = []
    real = WorkerPool.start_worker

    def counted(pool):
        started.append(pool.size)
        return real(pool)

    monkeypatch.setattr(WorkerPool, "start_worker", counted)
    (result,) = grade(load_manifest(root), [FIRST], students=["bo"], workers=2, record=False)
    assert (result.student, result.status, result.score) == ("bo", "graded", FIRST.points)
    assert started == [2]  # a pool of two, of which one was started
    assert not descendants(os.getpid())


def test_workers_started_ahead_are_stopped_when_the_grader_fails_before_running():
    with pytest.raises(RuntimeError, match="review failed"), run_directory() as run_dir:
        with WorkerPool(2, run_dir, deadline=120) as pool:
            pool.start(5)
            workers = [worker.process for worker in pool.workers]
            assert len(workers) == 2  # never more than the pool's size
            raise RuntimeError("review failed")
    assert all(process.poll() is not None for process in workers)
    assert not descendants(os.getpid())
    assert not run_dir.exists()


@pytest.mark.parametrize("in_request", [True, False])
def test_the_guard_is_asked_in_each_cell_s_own_request(tmp_path, monkeypatch, in_request):
    # One round trip a cell instead of two; a cell that raised gets no user
    # expression evaluated, so the guard is then asked apart. Either way a
    # change is noticed after the cell that made it.
    asked: list[str] = []
    ask = nbgrader_plugins.SandboxedExecute.ask_kernel

    async def recording(self, code, index):
        asked.append(code)
        return await ask(self, code, index)

    monkeypatch.setattr(nbgrader_plugins.SandboxedExecute, "ask_kernel", recording)
    cells = [nbformat.v4.new_code_cell("x = 1"),
             nbformat.v4.new_code_cell("raise ValueError('a mistake')"),
             nbformat.v4.new_code_cell("import numpy as np\nnp.allclose = lambda *a, **k: True"),
             nbformat.v4.new_code_cell("assert np.allclose(1, 2)", metadata={"nbgrader": {
                 "grade": True, "solution": False, "grade_id": "t", "points": 1}})]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    execute = nbgrader_plugins.SandboxedExecute(trusted=True, guard_in_request=in_request)
    executed, _ = execute.preprocess(notebook, {"metadata": {"path": str(tmp_path)},
                                                "nbgrader": {"assignment": "none"}})
    guard_asks = [code for code in asked if "MINIFLOW-GUARD" in code]
    assert len(asked) - len(guard_asks) == 1  # installing the guard
    assert len(guard_asks) == (1 if in_request else 4)
    test_errors = [o for o in executed.cells[3].outputs if o.output_type == "error"]
    assert [o.ename for o in test_errors] == ["TamperingDetected"]
    assert "numpy.allclose was replaced (noticed after cell 3)" in test_errors[0].evalue
    assert executed.cells[0].outputs == []  # the answer is in the reply, not an output


def test_a_worker_starts_the_first_notebook_s_kernel_before_its_task(tmp_path, monkeypatch,
                                                                     claims):
    # The first notebook of a run has no notebook before it to start its
    # kernel: the worker starts it while it warms up, and the first notebook
    # claims it (the same key: configuration, kernel and data files).
    import inspect

    from autograder.sandbox import launch as sandbox_launch

    claimed, kernels = claims
    order: list[str] = []

    class Noted(threading.Event):
        def set(self):
            if not self.is_set():
                order.append(f"launched in {inspect.stack()[1].function}")
            super().set()

    monkeypatch.setattr(sandbox_launch, "launched", Noted())
    from autograder import judge

    probes = judge.warm_up
    monkeypatch.setattr(judge, "warm_up", lambda name: order.append("probes") or probes(name))
    root = tmp_path / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    notebook = ROOT / "source" / FIRST.name / FIRST.notebook_file
    task = {"id": 0, "root": str(root), "student": "s1", "notebook": str(notebook),
            "notes": [], "assignment": {**asdict(FIRST), "notebook_file": FIRST.notebook_file},
            "timestamp": None, "sandbox": "bwrap"}
    try:
        warm_up({"root": str(root), "assignment": FIRST.name,
                 "notebook": FIRST.notebook_file, "sandbox": "bwrap"})
        ahead = spare.waiting_spare()
        assert ahead is not None
        answer = grade_in_worker(task, tmp_path / "work", {})
        assert answer["success"], answer["log"][-2000:]
    finally:
        spare.discard_spare()
    assert claimed == [ahead]
    assert not ahead.has_kernel  # used once, then shut down
    # The first task's one-time work waited for the fork server's process (or, where
    # there is none, the kernel's) to be launched: it would have delayed the launch.
    assert order[0] in ("launched in __init__", "launched in _async_launch_kernel"), order
    assert order.index("probes") == 1  # then again by the task, from what was made ahead
    assert not descendants(os.getpid())
    assert not any(kernels.iterdir())
    kernels.rmdir()


def test_the_guard_s_answer_is_read_from_the_reply_and_nothing_else_passes_for_it():
    def reply(status="ok", answer=None):
        return {"content": {"status": status, "user_expressions": {} if answer is None
                            else {"guard": answer}}}

    def said(text, status="ok"):
        return {"status": status, "data": {"text/plain": text}}

    read = explain.guard_answer
    assert read(reply(answer=said("'[]'"))) == "MINIFLOW-GUARD []"
    assert read(reply(answer=said(repr('["numpy.allclose was replaced"]')))) == \
        'MINIFLOW-GUARD ["numpy.allclose was replaced"]'
    assert read(reply("error")) is None and read(None) is None  # asked apart
    for forged in (said("'[]'", "error"), said("[]"), said("__import__('os')"),
                   said("'" + "x" * 200_000 + "'"), {"status": "ok"}):
        assert read(reply(answer=forged)) == "", forged  # "the guard no longer answers"
    assert read(reply()) == ""  # no answer at all


def test_the_command_line_skips_python_s_last_collection(monkeypatch):
    import gc
    import tomllib

    from autograder.cli import main as cli

    frozen = []
    monkeypatch.setattr(cli, "main", lambda argv=None: frozen.append(gc.get_freeze_count()) or 3)
    gc.unfreeze()
    try:
        assert cli.run([]) == 3  # the command's own exit status
        # Frozen once the command is done, not before: the exit's collection skips them.
        assert frozen == [0] and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    # `autograder` installed as a command runs the same way as `python -m autograder`.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["autograder"] == "autograder.cli.main:run"


FORKED_POOL = '''
import json, os, signal, sys, threading
import autograder.cli.main, autograder.pipeline.grading  # what `grade` has loaded
from autograder.core.processes import descendants
from autograder.run.processes import single_threaded
from autograder.run.rundir import run_directory
from autograder.run.worker_process import import_for_workers
from autograder.run.workers import WorkerPool

import_for_workers()
out = {"alone": single_threaded()}
if sys.argv[1] == "thread":  # a thread of its own: forking would not be safe
    threading.Thread(target=threading.Event().wait, daemon=True).start()
answers, kinds, names = {}, [], []
with run_directory() as run_dir:
    pool = WorkerPool(2, run_dir, deadline=120)

    assign, assigned, victim = pool.assign, [], []

    def assigning(worker, pending):
        assigned.append(worker)
        if len(assigned) == 3:  # the first worker to answer: its next task, held
            os.kill(worker.process.pid, signal.SIGSTOP)  # so it cannot answer that one
            victim.append(worker)
        assign(worker, pending)

    pool.assign = assigning

    def answered(task, answer):
        answers[task["id"]] = answer.get("failure", "")
        worker = assigned[-1]  # the one that answered: it was just handed its next task
        if worker not in victim and worker.process.poll() is None:
            with open(f"/proc/{worker.process.pid}/comm") as comm:
                names.append(comm.read().strip())
        if len(answers) == 1:  # the worker that answered first dies with its next task
            os.kill(victim[0].process.pid, signal.SIGKILL)
            victim[0].process.wait()  # dead before the pool looks again: tasks are left

    pool.start(2)
    kinds = [type(worker.process).__name__ for worker in pool.workers]
    pool.run(iter([{"id": n} for n in range(8)]), answered)
    out.update(answers=answers, kinds=kinds, names=names, started=pool.started,
               left=descendants(os.getpid()))
print(json.dumps(out))
'''


@pytest.mark.parametrize("threads", ["none", "thread"])
def test_workers_are_forked_from_a_grader_that_runs_no_other_thread(threads):
    run = subprocess.run([sys.executable, "-c", FORKED_POOL, threads], capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.splitlines()[-1])
    # What the grader imports before its workers start leaves it one thread (no numpy
    # maths threads): a module that imports numpy too early turns forking off.
    assert seen["alone"] is True
    forked = threads == "none"
    assert seen["kinds"] == (["_Forked"] * 2 if forked else ["Popen"] * 2)
    assert seen["names"] and all(name == "miniflow-worker" for name in seen["names"]) == forked
    # Every task answered once (these are not submissions: each one fails in the
    # worker), the one whose worker was killed with its death, by a new worker.
    assert sorted(seen["answers"]) == [str(n) for n in range(8)]
    died = [a for a in seen["answers"].values() if "killed by SIGKILL" in a]
    assert len(died) == 1 and "died while grading" in died[0]
    assert seen["started"] == 3 and seen["left"] == []


def test_a_worker_s_submissions_share_one_gradebook_and_its_engine(tmp_path):
    require_bwrap()
    import nbgrader.api
    import sqlalchemy

    from autograder.run import worker_task

    root = tmp_path / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    run_nbgrader(["generate_assignment", FIRST.name, "--force"], root)
    notebooks = {"solution": root / "source" / FIRST.name / FIRST.notebook_file,
                 "blank": root / "release" / FIRST.name / FIRST.notebook_file}
    task = {"root": str(root), "notes": [], "timestamp": None, "sandbox": "bwrap",
            "assignment": {**asdict(FIRST), "notebook_file": FIRST.notebook_file}}
    errors = []
    templates: dict = {}
    try:
        for number, (student, kind) in enumerate([("ann", "solution"), ("bo", "blank"),
                                                  ("ann", "solution")]):
            answer = grade_in_worker({**task, "id": number, "student": student,
                                      "notebook": str(notebooks[kind])},
                                     tmp_path / "work", templates)
            assert answer["success"], answer["log"][-2000:]
            executed = nbformat.reads(answer["executed"], as_version=4)
            errors.append([any(o.output_type == "error" for o in c.get("outputs", []))
                           for c in executed.cells])
    finally:
        spare.discard_spare()
    # The same student graded again in the same gradebook: the same notebook back.
    assert errors[0] == errors[2] and not any(errors[0]) and any(errors[1])
    # One gradebook for the worker's submissions of the assignment, and one engine
    # on it; nbgrader's own create_engine is back once each autograde is done.
    gradebooks = list((tmp_path / "work").glob("gradebook-*.db"))
    assert len(gradebooks) == 1
    assert len([key for key in worker_task._ENGINES if str(gradebooks[0]) in key]) == 1
    assert nbgrader.api.create_engine is sqlalchemy.create_engine
    with nbgrader.api.Gradebook(f"sqlite:///{gradebooks[0]}") as gradebook:
        assert sorted(s.id for s in gradebook.students) == ["ann", "bo"]
    assert not list((tmp_path / "work").glob("s*"))  # each submission's folder is gone
    assert not descendants(os.getpid())


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_python_dropped_still_stops_the_run(monkeypatch):
    import signal

    from autograder.core import interrupts
    from autograder.run import workers

    monkeypatch.setattr(interrupts, "_interrupted", False)

    class Collected:
        def __del__(self):  # Ctrl-C as Python collects something: it prints and drops it
            workers.interrupt(signal.SIGINT, None)

    Collected()
    answered: list = []
    with run_directory() as run_dir, pytest.raises(KeyboardInterrupt):
        WorkerPool(1, run_dir, deadline=60).run(
            iter([{"id": n} for n in range(3)]), lambda task, answer: answered.append(task))
    assert answered == [] and not descendants(os.getpid())
