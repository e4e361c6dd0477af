"""nbgrader configuration: the repository root is the course root.

Every nbgrader command (generate_assignment, autograde, generate_feedback,
export) runs from here with no extra flags; the autograder CLI wraps them.
"""

import os
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
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'gradebook.db'}"
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

# A graded test cell the student deleted is restored from the gradebook, so
# the submission is graded (that cell scores zero) instead of being stuck as
# needing manual grading.
c.OverwriteCells.add_missing_cells = True

# Kernels talk to the grader over Unix sockets, not TCP ports: graders
# running in parallel never race for the same port (autograder/kernels.py,
# which the notebook runner uses too). Windows has no Unix sockets.
from autograder.kernels import ipc_available, socket_prefix  # noqa: E402

if ipc_available():
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = socket_prefix()
