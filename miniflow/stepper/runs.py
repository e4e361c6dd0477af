"""The explorer's runs: the student's ``train`` called once per setting, its losses checked.

numpy only; ``explorer`` shows them (``explorer_render``, ``explorer_widget``).
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from miniflow.stepper.record import format_number

__all__ = ["Exploration", "Train", "TrainingRun", "run_training", "setting_label"]

Train = Callable[..., Any]
_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlist = 40, 40, 4


@dataclass(frozen=True)
class TrainingRun:
    """What one call of ``train`` gave: its losses, or why there are none (``error``)."""

    learning_rate: float
    batch_size: int
    losses: tuple[float, ...] = ()
    error: str = ""

    @property
    def label(self) -> str:
        return setting_label(self.learning_rate, self.batch_size)

    @property
    def diverged_at(self) -> int | None:
        """The first epoch (counted from 1) whose loss is inf or NaN; None if there is none."""
        return next((k for k, loss in enumerate(self.losses, 1) if not math.isfinite(loss)), None)

    @property
    def finite_losses(self) -> tuple[float, ...]:
        """The losses before the run diverged (all of them if it did not)."""
        end = self.diverged_at
        return self.losses if end is None else self.losses[:end - 1]

    @property
    def grew(self) -> bool:
        """True if the run did not diverge but ended with a larger loss than its first epoch's."""
        return (self.diverged_at is None and len(self.losses) > 1 and
                self.losses[-1] > self.losses[0])

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None

    @property
    def best_loss(self) -> float | None:
        return min(self.finite_losses, default=None)

    def summary(self) -> str:
        """One sentence: how the run ended."""
        if self.error:
            return f"✗ {self.label}: {self.error}"
        if self.diverged_at is not None:
            return (f"{self.label}: diverged at epoch {self.diverged_at} (the loss became "
                    f"{format_number(self.losses[self.diverged_at - 1])}): a learning rate "
                    "this large overshoots the minimum further at every step.")
        if self.grew:
            return (f"{self.label}: the loss grew from {format_number(self.losses[0])} to "
                    f"{format_number(self.losses[-1])} in {len(self.losses)} epochs: the "
                    "learning rate is too large.")
        return (f"{self.label}: final loss {format_number(self.final_loss)} after "
                f"{len(self.losses)} epochs (best {format_number(self.best_loss)}).")


def setting_label(learning_rate: float, batch_size: int) -> str:
    """"learning rate 0.1, batch 32": a setting, in the legend and the table."""
    return f"learning rate {format_number(learning_rate)}, batch {batch_size}"


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    try:
        shown = _REPR.repr(value)
    except Exception:  # a student's object whose repr fails is still named
        shown = "(no repr)"
    return f"{type(value).__name__} {shown}"


def _as_number(item: Any) -> float | None:
    """A loss as a float, or None if ``item`` is not one real number."""
    if isinstance(item, (bool, np.bool_)):
        return None
    if isinstance(item, numbers.Real):
        return float(item)
    if isinstance(item, (np.ndarray, np.generic)) and item.size == 1 and \
            np.issubdtype(item.dtype, np.number) and not np.iscomplexobj(item):
        return float(np.asarray(item).reshape(-1)[0])
    return None


def _as_losses(returned: Any, epochs: int) -> tuple[tuple[float, ...], str]:
    """(the losses, "") or ((), what is wrong with what ``train`` returned)."""
    if isinstance(returned, np.ndarray) and returned.ndim == 1:
        items = list(returned)
    elif isinstance(returned, (list, tuple)):
        items = list(returned)
    else:
        hint = " (did you forget to return the losses?)" if returned is None else ""
        shape = (f" of shape {returned.shape}" if isinstance(returned, np.ndarray) else "")
        return (), (f"returned {_describe(returned)}{shape}, not a list of per-epoch "
                    f"losses{hint}")
    if not items:
        return (), f"returned an empty list: expected one loss per epoch ({epochs})"
    losses = []
    for epoch, item in enumerate(items, 1):
        number = _as_number(item)
        if number is None:
            hint = (" (does your train_epoch return the mean loss?)" if item is None else
                    " (one number per epoch: the mean of its batch losses)")
            return (), (f"returned a list whose item {epoch} (epoch {epoch}) is "
                        f"{_describe(item)}, not a number{hint}")
        losses.append(number)
    stopped_early = not math.isfinite(losses[-1]) and len(losses) < epochs
    if len(losses) != epochs and not stopped_early:
        return (), (f"returned {len(losses)} losses for {epochs} epochs: return one loss per "
                    "epoch (the mean of its batch losses), not one per batch")
    return tuple(losses), ""


def run_training(train: Train, learning_rate: float, batch_size: int, epochs: int,
                 seed: int = 0) -> TrainingRun:
    """Call ``train(learning_rate=..., batch_size=..., epochs=..., seed=...)`` once and judge it.

    Never raises for the student's mistakes: an exception, or a result that
    is not one number per epoch, becomes the run's ``error``.
    """
    name = getattr(train, "__name__", type(train).__name__)
    call = (f"{name}(learning_rate={learning_rate!r}, batch_size={batch_size}, "
            f"epochs={epochs}, seed={seed})")
    try:
        # A diverging run overflows; the explorer says so itself, so numpy need not warn.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            returned = train(learning_rate=learning_rate, batch_size=batch_size,
                             epochs=epochs, seed=seed)
    except Exception as error:
        hint = (" (the loss grew too large: the learning rate is probably too large)"
                if isinstance(error, (OverflowError, FloatingPointError)) else "")
        return TrainingRun(learning_rate, batch_size,
                           error=f"{call} raised {type(error).__name__}: {error}{hint}")
    losses, problem = _as_losses(returned, epochs)
    if problem:
        return TrainingRun(learning_rate, batch_size, error=f"{call} {problem}")
    return TrainingRun(learning_rate, batch_size, losses)


def _positive_numbers(values: Iterable[Any], what: str) -> tuple[float, ...]:
    chosen = tuple(values)
    if not chosen:
        raise ValueError(f"{what}: give at least one")
    for value in chosen:
        number = _as_number(value)
        if number is None or not (number > 0 and math.isfinite(number)):
            raise ValueError(f"{what}: {value!r} is not a positive number")
    return tuple(float(value) for value in chosen)


def _positive_integers(values: Iterable[Any], what: str) -> tuple[int, ...]:
    chosen = tuple(values)
    if not chosen:
        raise ValueError(f"{what}: give at least one")
    for value in chosen:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
                or value < 1:
            raise ValueError(f"{what}: {value!r} is not a positive whole number")
    return tuple(int(value) for value in chosen)


class Exploration:
    """The student's ``train``, the settings offered, and every run made so far (cached)."""

    def __init__(self, train: Train, learning_rates: Iterable[float],
                 batch_sizes: Iterable[int], epochs: int, seed: int = 0):
        if not callable(train):
            raise TypeError(f"train must be a function, got {_describe(train)}")
        self.train = train
        self.learning_rates = _positive_numbers(learning_rates, "learning_rates")
        self.batch_sizes = _positive_integers(batch_sizes, "batch_sizes")
        (self.epochs,) = _positive_integers([epochs], "epochs")
        self.seed = int(seed)
        self._runs: dict[tuple[int, int], TrainingRun] = {}

    def run(self, rate_index: int, batch_index: int) -> TrainingRun:
        """The run of the setting at these positions of the lists (made on first use)."""
        key = (rate_index, batch_index)
        if key not in self._runs:
            self._runs[key] = run_training(self.train, self.learning_rates[rate_index],
                                           self.batch_sizes[batch_index], self.epochs,
                                           self.seed)
        return self._runs[key]

    def index_of(self, learning_rate: float, batch_size: int) -> tuple[int, int]:
        """The positions of a setting in the lists offered; ValueError if it is not offered."""
        try:
            rate = self.learning_rates.index(float(learning_rate))
        except ValueError:
            raise ValueError(f"learning rate {learning_rate!r} is not among learning_rates "
                             f"{list(self.learning_rates)}") from None
        try:
            batch = self.batch_sizes.index(int(batch_size))
        except ValueError:
            raise ValueError(f"batch size {batch_size!r} is not among batch_sizes "
                             f"{list(self.batch_sizes)}") from None
        return rate, batch

    def default_curves(self) -> list[tuple[int, int]]:
        """Every learning rate with the middle batch size: the learning rate's lesson first."""
        middle = (len(self.batch_sizes) - 1) // 2
        return [(rate, middle) for rate in range(len(self.learning_rates))]
