"""A matplotlib backend for grading kernels: figures are made, never drawn.

Grading kernels get it through ``MPLBACKEND=module://autograder.kernel.figures``
(``c.SandboxKernelManager.mpl_backend`` in nbgrader_config.py). A figure is
built exactly as in JupyterLab (every plotting call runs, and an error in one
is still an error), but ``plt.show()`` draws nothing and writes nothing, and
each cell's figures are closed after it, as the inline backend does. Drawing
a figure into a PNG is most of what the plotting cells of a notebook cost
(docs/grading-at-scale.md, "Where grading time goes"), and nobody looks at those
pictures: grades come from the test cells.

Students and nbval never use this backend; their kernels draw inline as usual.
"""

from __future__ import annotations

from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg

__all__ = ["FigureCanvas", "show"]

FigureCanvas = FigureCanvasAgg


BACKEND = f"module://{__name__}"


def show(*args: Any, **kwargs: Any) -> None:
    """``plt.show()``: nothing is drawn; the figures are closed, as inline closes them."""
    from matplotlib import pyplot

    pyplot.close("all")


def _after_cell() -> None:
    """Close the cell's figures, while pyplot's backend is this one.

    A notebook that switched to another backend (``%matplotlib inline``) keeps
    its figures for that backend to show.
    """
    import matplotlib

    # The setting as it stands: reading rcParams["backend"] could pick a backend.
    if dict.__getitem__(matplotlib.rcParams, "backend") == BACKEND:
        show()


def close_after_each_cell() -> None:
    """In an IPython kernel, close each cell's figures after it (once, however often called).

    Called as this module is imported, and again by a grading kernel's
    preload line (autograder.execute.startup.preload_line): a kernel forked
    from a fork server that imported this module before there was a shell
    registers here.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and _after_cell not in shell.events.callbacks["post_execute"]:
        shell.events.register("post_execute", _after_cell)


close_after_each_cell()
