"""nbgrader configuration: the repository root is the course root.

Every nbgrader command (generate_assignment, autograde, generate_feedback,
export) runs from here with no extra flags; the autograder CLI wraps them.
Plain nbgrader gets the same walls as the CLI: autograde runs every kernel
in the grading sandbox with its limits, and generate_feedback never shows a
hidden test (autograder/execute/preprocessor.py).
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

ROOT = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "miniflow"
c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# The gradebook: SQLite in the course root by default. A large course points it
# at PostgreSQL (pip install -e ".[postgres]"; see docs/running-a-term.md), e.g.
#   c.CourseDirectory.db_url = (os.environ.get("MINIFLOW_DB_URL")
#                               or "postgresql+psycopg://grader@db.example.edu:5432/miniflow")
# (postgresql+psycopg:// is psycopg 3, the driver of the postgres extra;
# SQLAlchemy 2.0 reads a bare postgresql:// as psycopg2). A password is best
# kept in ~/.pgpass, not here. MINIFLOW_DB_URL, when set, overrides this line,
# so a JupyterHub deployment need not edit the file (demo and selfcheck keep
# their own SQLite gradebook whatever it says).
c.CourseDirectory.db_url = (os.environ.get("MINIFLOW_DB_URL")
                            or f"sqlite:///{ROOT / 'gradebook.db'}")
# In an nbgrader command, a new gradebook is stamped with nbgrader's schema version
# read in process, where nbgrader would start `alembic heads`, a second Python, to ask
# (3 to 4 s of CPU in every command that creates a gradebook). The autograder reading
# this file has nbgrader's API unloaded and skips it (autograder/core/nbgrader_cli.py).
if "nbgrader.api" in sys.modules:
    from autograder.core.nbgrader_cli import stamp_gradebooks_in_process

    stamp_gradebooks_in_process()
# Assignments are registered from the course manifest (autograder release);
# plain `nbgrader generate_assignment` still works without that step.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# Every student notebook starts with the course header.
c.IncludeHeaderFooter.header = str(ROOT / "course" / "header.ipynb")

# The stub that replaces each solution region.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading: a cell may run at most this long; a cell that never finishes is
# stopped and the rest of the notebook still runs.
# MINIFLOW_CELL_TIMEOUT overrides it (the test suite uses a short one).
c.Execute.timeout = int(os.environ.get("MINIFLOW_CELL_TIMEOUT", "30"))
c.Execute.interrupt_on_timeout = True
# The judge may take as long to answer one of a test cell's questions as the cell
# itself may run (an answer that never returns costs that much, not more).
c.SandboxedExecute.judge_timeout = c.Execute.timeout

# A graded test cell the student deleted is restored from the gradebook and
# graded as usual (the CLI adds a note saying so), instead of the submission
# being stuck as needing manual grading.
c.OverwriteCells.add_missing_cells = True

# Student code is hostile until proven otherwise: every grading kernel runs in
# a sandbox (bubblewrap: no network, no course files, its own processes) with
# resource limits. mode: "auto" (bubblewrap where it works, else a loud
# warning and limits only), "bwrap" (refuse to grade without it) or "none".
# `python -m autograder grade --sandbox MODE` overrides the mode for one run.
c.Autograde.autograde_preprocessors = [
    "autograder.execute.preprocessor.SandboxedExecute",  # instead of nbgrader's Execute
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    # What autograded/ keeps is safe to open: student HTML, JavaScript, SVG and
    # markdown HTML show as text, pictures and text stay (autograder/publish/sanitize.py).
    # After SaveAutoGrades: the scores come from the outputs as they ran.
    "autograder.publish.sanitize.SanitizeOutputs",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# One grading run per course at a time: plain `nbgrader autograde` (and
# formgrader's autograde) holds the course folder while it works, as
# `python -m autograder grade` does; the second one stops at once, changing
# nothing, instead of both writing the gradebook (autograder/execute/preprocessor.py).
# It also checks each submission by the CLI's rule first: a notebook `grade` rejects
# (not JSON, not a notebook, too large) is recorded as `grade` records it, status
# rejected with its reason, never "graded, 0" (autograder/execute/exporter.py).
c.Autograde.exporter_class = "autograder.execute.exporter.CourseHeldExporter"
# The verdict is guarded too: a tamper guard inside the kernel, and each test
# cell of the exercises in autograder/judge/plans.py judged again outside it
# (autograder.execute.preprocessor.SandboxedExecute).
c.SandboxedExecute.trusted = True
# A kernel that dies (os._exit, a segfault, a limit) costs the cell that killed
# it: a fresh kernel re-runs the cells before it and grades the rest, at most
# this many times per notebook, within its notebook_timeout (0: the rest is lost).
c.SandboxedExecute.kernel_restarts = 2
# Output past these is dropped as it arrives (a cell that prints without end
# would otherwise be gigabytes in the grader); a cell's first error and first
# stderr output are always kept, cut short, so a failed test still fails.
c.SandboxedExecute.max_cell_output = "4 MiB"
c.SandboxedExecute.max_notebook_output = "32 MiB"
# Each grading kernel imports what every notebook imports first, as it starts
# (into sys.modules only; nothing appears in the notebook's namespace). Alone
# that only moves the time; with the grading workers' spare kernel (the next
# notebook's kernel starts while this one runs) it comes off the wait.
c.SandboxedExecute.preload = ["numpy", "matplotlib.pyplot", "miniflow", "miniflow.plotting",
                              "autograder.checks", "autograder.kernel.guard"]
c.SandboxKernelManager.mode = "auto"
c.SandboxKernelManager.memory_limit = "2 GiB"       # per process, and all processes together
c.SandboxKernelManager.cpu_limit = 600              # CPU seconds per process
c.SandboxKernelManager.process_limit = 64           # processes and threads at once
c.SandboxKernelManager.file_size_limit = "256 MiB"  # largest file written
c.SandboxKernelManager.open_files_limit = 1024
c.SandboxKernelManager.scratch_size = "512 MiB"     # the kernel's writable home and /tmp
c.SandboxKernelManager.notebook_timeout = 600       # wall-clock seconds per notebook
# Grading kernels build every figure but never draw it (plt.show() draws
# nothing; grades come from the test cells): drawing was most of what the
# plotting cells cost. "" draws them inline, as students see them.
c.SandboxKernelManager.mpl_backend = "module://autograder.kernel.figures"

# Plain `nbgrader generate_feedback`: test cells show their visible part and
# their failure message only; hidden tests, tracebacks and test output never.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "autograder.publish.hidden.HideTests",
]
# Its maths typeset as MathML when the page is written, with no MathJax from a CDN:
# the pages need no network to be read (autograder/publish/exporter.py says why not MathJax).
# A rejected submission gets the page `python -m autograder feedback` writes, and a
# page that command wrote is never replaced, even with --force: a warning names it
# and the command to use instead (autograder/publish/course_pages.py).
c.GenerateFeedback.exporter_class = "autograder.publish.exporter.FeedbackExporter"

# Formgrader renders each submission in the instructor's Jupyter origin, with
# the student's name and id written into the page unescaped: its HTML exporter
# sanitizes the notebook again (one graded before autograder/publish/sanitize.py existed
# is safe too) and escapes those fields in that page only; the gradebook keeps
# names as the roster gave them. (Plain generate_feedback's exporter runs it too.)
c.HTMLExporter.preprocessors = ["autograder.publish.sanitize.FormgraderPage"]

# Kernels talk to the grader over Unix sockets, not TCP ports: graders
# running in parallel never race for the same port (autograder/sandbox/kernels.py,
# which the notebook runner uses too). Windows has no Unix sockets.
from autograder.sandbox.kernels import ipc_available, socket_prefix  # noqa: E402

if ipc_available():
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = socket_prefix()

# Plain `nbgrader export` writes the same CSV as `python -m autograder export`:
# nbgrader's columns, then flags, the late columns, section and status, with a
# row for every roster student (autograder/execute/preprocessor.py).
c.ExportApp.plugin_class = "autograder.publish.export_plugin.CourseExportPlugin"
c.CourseExportPlugin.course_root = str(ROOT)

# Late work: nbgrader's AssignLatePenalties (in the autograde list above) asks
# this plugin, which applies course/manifest.toml's [late] policy and
# [[extension]]s exactly as `python -m autograder grade` does (autograder/record/late.py).
c.AssignLatePenalties.plugin_class = "autograder.record.late.ManifestLatePenalty"
c.ManifestLatePenalty.course_root = str(ROOT)

# The exchange students fetch from and submit to on a shared JupyterHub
# (nbgrader's release_assignment, fetch_assignment, submit, collect,
# release_feedback, fetch_feedback). MINIFLOW_EXCHANGE overrides the folder;
# it must exist, writable by everyone with the sticky bit (chmod 1777): see
# docs/jupyterhub.md, "JupyterHub".
c.Exchange.root = os.environ.get("MINIFLOW_EXCHANGE", "/srv/nbgrader/exchange")
