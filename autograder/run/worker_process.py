"""A grading worker process: started by the pool (forked, or ``python -P -m
autograder.run.worker_process``), it reads one task at a time on its stdin and
answers each on a pipe of its own.

What it does with each task is ``autograder.run.worker_task``'s; this is the
process around it: its start (a session of its own, the descriptors it keeps,
dying with the grader), its loop, and the kill of what each submission's
kernels left behind before it answers (``autograder.run.processes``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import signal
import sys
from pathlib import Path
from typing import IO, Any

from autograder.run.processes import (
    PR_SET_CHILD_SUBREAPER,
    PR_SET_NAME,
    PR_SET_PDEATHSIG,
    kill_leftovers,
    prctl,
)
from autograder.sandbox.child import close_descriptors

__all__ = ["become_worker", "import_for_workers", "main"]


def import_for_workers() -> None:
    """What every worker imports before its first task: once, here, before forking."""
    import nbclient  # noqa: F401
    import nbgrader.apps  # noqa: F401

    import autograder.execute.preprocessor  # noqa: F401
    import autograder.run.worker_task  # noqa: F401


def become_worker(tasks: int, answers: int, log: int, folder: Path, warm: dict | None,
                  environment: dict[str, str]) -> None:
    """The forked child: from here on a worker like any other; never returns."""
    code = 1
    try:
        # The grader's objects are never collected here: one of them may hold a
        # descriptor number closed below and reused, and collecting it would
        # close what now has that number (and touch, so copy, every page).
        gc.freeze()
        os.setsid()
        os.dup2(tasks, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        close_descriptors({0, 1, 2, answers})
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(environment)
        prctl(PR_SET_NAME, ctypes.c_char_p(b"miniflow-worker"))  # type: ignore[arg-type]
        main([str(answers), str(folder), json.dumps(warm)])
        code = 0
    except BaseException:  # noqa: BLE001 - a forked child must never return to the grader
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _serve(answers: IO[str], folder: Path, warm: dict | None = None) -> None:
    from autograder.execute.spare import discard_spare, spare_pid
    from autograder.run.worker_task import grade_in_worker, warm_up

    templates: dict[str, Any] = {}
    try:
        warm_up(warm)
        for line in sys.stdin:
            task = json.loads(line)
            try:
                answer = grade_in_worker(task, folder, templates)
            except Exception as error:  # report it; the next submission still gets graded
                answer = {"failure": f"the grader failed: {type(error).__name__}: {error}"}
            answer["id"] = task["id"]
            kill_leftovers(keep=spare_pid())
            answers.write(json.dumps(answer) + "\n")
            answers.flush()
    finally:
        discard_spare()


def main(argv: list[str]) -> None:
    descriptor, folder = int(argv[0]), Path(argv[1])
    warm = json.loads(argv[2]) if len(argv) > 2 else None
    parent = int(os.environ.get("MINIFLOW_GRADER_PID", "0"))
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # no worker outlives the grader
    if parent and os.getppid() != parent:
        return  # the grader died before we could ask
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker had the grader's
    with os.fdopen(descriptor, "w", encoding="utf-8") as answers:
        _serve(answers, folder, warm)


if __name__ == "__main__":
    main(sys.argv[1:])
