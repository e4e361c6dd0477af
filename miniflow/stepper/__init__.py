"""Step through your own graph (``step_through``); compare training settings (``explore_training``).

>>> from miniflow.stepper import step_through
>>> step_through(f, feed={x: -2.0, y: 5.0, z: -4.0})    # your nodes
>>> step_through(loss)                                  # or your Tensor

Your own ``forward()`` and ``backward()`` (or your Tensor's ``_backward``)
run, in topological order and then in reverse; after each call every value
and gradient is written down, and each gradient is compared with central
differences, so a wrong ``backward()`` is marked at the node where it is
wrong. In JupyterLab this is a widget (buttons, arrow keys); where widgets
do not run (nbconvert, feedback pages, a kernel without ipywidgets) the same
steps show as a table.

- ``record``: runs the passes and the checks (numpy only).
- ``render``: the drawing (SVG), the table (HTML) and plain text.
- ``widget``: the anywidget (needs anywidget and ipywidgets).

Notebook 04 compares learning rates and batch sizes with the student's own
training loop: ``explore_training(train, learning_rates, batch_sizes)``
(``explorer``, ``explorer_render``, ``explorer_widget``, the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miniflow.gradcheck import DEFAULT_ATOL, DEFAULT_TOLERANCE
from miniflow.stepper.explorer import TrainingExplorer, explore_training
from miniflow.stepper.record import GradientCheck, Recording, Step, record
from miniflow.stepper.render import plain_text, static_html
from miniflow.stepper.runs import TrainingRun

__all__ = ["step_through", "Stepper", "Recording", "Step", "GradientCheck", "record",
           "explore_training", "TrainingExplorer", "TrainingRun"]


class Stepper:
    """The recorded steps, shown as a table (and the graph) wherever HTML is shown."""

    def __init__(self, recording: Recording):
        self.recording = recording

    def _repr_html_(self) -> str:
        return static_html(self.recording)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/plain": plain_text(self.recording),
                "text/html": static_html(self.recording)}

    def __repr__(self) -> str:
        return plain_text(self.recording)


def step_through(output: Any, feed: Mapping[Any, Any] | None = None, check: bool = True, *,
                 tolerance: float = DEFAULT_TOLERANCE, floor: float = DEFAULT_ATOL,
                 interactive: bool = True) -> Any:
    """Step through the forward and backward pass that end at ``output``.

    ``output``: the last node of your graph (``feed`` gives its Input nodes'
    values, as for ``topological_sort``; without it they keep the values
    they have) or a Tensor. The gradients are those of ``sum(output)``.
    ``check`` compares every gradient with central differences and marks it
    wrong when the relative error is above ``tolerance`` (differences below
    ``floor`` always pass). Returns a widget when anywidget is installed and
    ``interactive`` is true, else a ``Stepper`` that shows as a table.
    """
    recording = record(output, feed, check=check, tolerance=tolerance, floor=floor)
    if interactive:
        try:
            from miniflow.stepper.widget import StepperWidget
        except ImportError:  # a grading kernel without a front end: the table is enough
            pass
        else:
            return StepperWidget(recording)
    return Stepper(recording)
