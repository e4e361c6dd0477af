"""What a grading kernel runs as it starts, before any student code."""

from __future__ import annotations

from collections.abc import Sequence


def preload_line(modules: list[str], then: Sequence[str] = ()) -> str:
    """One line of kernel start-up code that imports ``modules``, runs each line of
    ``then``, and binds no name.

    ``exec`` in a dictionary of its own: the imports land in ``sys.modules``
    (a notebook's own ``import`` then finds them there), never in the
    notebook's namespace; a module that fails to import is left to the
    notebook, which gets the error itself, and so is a line of ``then`` that fails.
    """
    program = (f"for _m in {list(modules)!r}:\n"
               "    try:\n        __import__(_m)\n    except Exception:\n        pass\n")
    for line in then:
        program += f"try:\n    {line}\nexcept Exception:\n    pass\n"
    return f"exec({program!r}, {{}})"


# Run as a grading kernel starts, before any student code. ipykernel opens the
# socket through which a thread hands work to its IOPub thread at that thread's
# first use, and its IOPub thread hands work to itself the first time it sends
# output. A cell that used up the kernel's open-files limit and then printed
# made the IOPub thread open its own then: it failed, the IOPub thread stopped,
# and the cell waited out its time limit instead of failing with "grading
# allows 1024 open files" (tests/test_hostile.py, exhaust_open_files). Both
# sockets are opened here: the kernel's main thread asks the IOPub thread to
# ask itself for nothing.
OUTPUT_READY = ("from IPython import get_ipython; _t = get_ipython().kernel.iopub_thread; "
                "_t.schedule(lambda: _t.schedule(lambda: None))")


# The backend of grading kernels that never draw (autograder.kernel.figures).
FIGURES_BACKEND = "module://autograder.kernel.figures"

