"""The judge: the verdict on a submission, computed outside the student's kernel.

The kernel that runs a submitted notebook shows the student what their code
does (the visible tests, messages, figures); it decides no score. Scores come
from here: a fresh, sandboxed process that runs only the notebook's own
definitions (``code``), with a miniflow that lacks the answers being graded
(``library``), is asked questions on inputs drawn from a secret of the
course (``secret``), one at a time (``process``, ``run``); the grader compares
each plain-data answer with the answer it computed itself, and writes the
verdict where nbgrader scores it (``verdict``).

What each test asks is declared once, in ``autograder.trusted``.
"""

from autograder.judge.run import judge_notebook, warm_up
from autograder.judge.secret import SECRET_ENV, SECRET_FILE, read_secret
from autograder.judge.verdict import FAILED, VERDICT_KEY, Verdict, apply_verdicts

__all__ = ["FAILED", "SECRET_ENV", "SECRET_FILE", "VERDICT_KEY", "Verdict", "apply_verdicts",
           "judge_notebook", "read_secret", "warm_up"]
