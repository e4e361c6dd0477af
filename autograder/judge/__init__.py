"""The judge: the verdict on a submission, computed outside the student's kernel.

The kernel that runs a submitted notebook shows the student what their code
does (the visible tests, messages, figures); it decides no score. Scores come
from here: a fresh, sandboxed process that runs only the notebook's own
definitions (``code``), with a miniflow that lacks the answers being graded
(``library``), is asked questions on inputs drawn from a secret of the
course (``secret``), one at a time (``process``, ``run``); the grader compares
each plain-data answer with the answer it computed itself, and writes the
verdict where nbgrader scores it (``verdict``).

What each test asks is declared once, in ``autograder.judge.plans``.
"""

import importlib
from typing import Any

# The judge's public names, each from the module that defines it. They are
# imported at first use (PEP 562): ``autograder.judge.review`` or
# ``.plans`` alone must not bring numpy, whose maths threads would make the
# grader unsafe to fork its workers from (``autograder.run.workers``).
_WHERE = {"judge_notebook": "run", "warm_up": "run", "SECRET_ENV": "secret",
          "SECRET_FILE": "secret", "read_secret": "secret", "FAILED": "verdict",
          "VERDICT_KEY": "verdict", "Verdict": "verdict", "apply_verdicts": "verdict"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
