"""Try learning rates and batch sizes with your own training loop (notebook 04), side by side.

>>> from miniflow.stepper import explore_training
>>> def train(learning_rate, batch_size, epochs, seed):
...     ...                                  # your train_epoch, once per epoch
...     return losses                        # one mean loss per epoch
>>> explore_training(train, learning_rates=(0.001, 0.01, 0.1), batch_sizes=(4, 32, 331))

Your ``train`` runs once for each setting (learning rate, batch size) you
choose, when you choose it, and its losses are kept. Each run is one loss
curve; a run whose loss becomes inf or NaN is marked "diverged at epoch k";
a ``train`` that raises, or returns something else than one number per
epoch, is reported with the setting and what was wrong. In JupyterLab this
is a widget (two selectors, Add curve, Clear, a log-scale switch); where
widgets do not run (nbconvert, nbval, feedback pages) the first curves show
as a drawing and a table.

- ``runs``: the runs (numpy only); this module: the explorer itself;
- ``explorer_render``: the drawing (SVG), the table (HTML) and plain text;
- ``explorer_widget``: the anywidget (needs anywidget and ipywidgets).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from miniflow.stepper.explorer_render import plain_text, static_html
from miniflow.stepper.runs import Exploration, Train, TrainingRun

__all__ = ["TrainingExplorer", "explore_training"]


class TrainingExplorer:
    """The chosen curves, shown as a drawing and a table wherever HTML is shown."""

    def __init__(self, exploration: Exploration, curves: Sequence[tuple[int, int]],
                 log_scale: bool = False):
        self.exploration = exploration
        self.curves = list(dict.fromkeys(curves))
        self.log_scale = log_scale
        for curve in self.curves:
            exploration.run(*curve)

    @property
    def runs(self) -> list[TrainingRun]:
        return [self.exploration.run(*curve) for curve in self.curves]

    def add(self, learning_rate: float, batch_size: int) -> TrainingRun:
        """Run (or reuse) one setting and draw its curve."""
        curve = self.exploration.index_of(learning_rate, batch_size)
        if curve not in self.curves:
            self.curves.append(curve)
        return self.exploration.run(*curve)

    def clear(self) -> None:
        self.curves = []

    def _repr_html_(self) -> str:
        return static_html(self.runs, self.exploration.epochs, self.exploration.seed,
                           self.log_scale)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def __repr__(self) -> str:
        return plain_text(self.runs, self.exploration.epochs, self.exploration.seed)


def explore_training(train: Train, learning_rates: Iterable[float] = (0.001, 0.01, 0.1, 1.0),
                     batch_sizes: Iterable[int] = (4, 32, 128), epochs: int = 20,
                     seed: int = 0, *, curves: Iterable[tuple[float, int]] | None = None,
                     log_scale: bool = False, interactive: bool = True) -> Any:
    """Compare loss curves of your own training loop for several learning rates and batch sizes.

    ``train(learning_rate=..., batch_size=..., epochs=..., seed=...)`` must
    train from the same starting weights each time and return the list of
    per-epoch losses. ``curves``: the (learning rate, batch size) settings
    drawn at first (every learning rate with the middle batch size when
    None); they are what nbconvert and nbval show. ``log_scale`` starts with
    a logarithmic loss axis. Returns a widget when anywidget is installed and
    ``interactive`` is true, else a ``TrainingExplorer`` that shows as a
    drawing and a table.
    """
    exploration = Exploration(train, learning_rates, batch_sizes, epochs, seed)
    first = (exploration.default_curves() if curves is None else
             [exploration.index_of(rate, batch) for rate, batch in curves])
    if interactive:
        try:
            from miniflow.stepper.explorer_widget import ExplorerWidget
        except ImportError:  # a grading kernel without a front end: the table is enough
            pass
        else:
            return ExplorerWidget(exploration, first, log_scale=log_scale)
    return TrainingExplorer(exploration, first, log_scale=log_scale)
