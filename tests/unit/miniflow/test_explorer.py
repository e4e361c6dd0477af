"""miniflow.stepper.explore_training: the learning-rate and batch-size explorer (notebook 04).

No kernel and no browser here (tests/test_stepper_browser.py has the widget
in JupyterLab): the runs of a small fake ``train``, what the table and the
drawing say about them, the messages for a ``train`` that fails, escaping,
and the static rendering that nbconvert and nbval see.
"""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pytest

from miniflow.stepper import TrainingExplorer, explore_training
from miniflow.stepper.explorer_render import epoch_ticks, loss_svg
from miniflow.stepper.runs import Exploration, run_training

RATES, BATCHES = (0.1, 0.5, 2.5), (4, 32)


def fake_train(learning_rate, batch_size, epochs, seed):
    """(1 - lr)^epoch, scaled by 1 + 1/batch_size; lr 2.5 reaches inf at epoch 3."""
    losses = []
    for epoch in range(1, epochs + 1):
        if learning_rate > 2 and epoch >= 3:
            losses.append(math.inf)
        else:
            losses.append(abs(1 - learning_rate) ** epoch * (1 + 1 / batch_size))
    return losses


def _explorer(train=fake_train, curves=None, **options) -> TrainingExplorer:
    return explore_training(train, learning_rates=RATES, batch_sizes=BATCHES, epochs=5,
                            curves=curves, interactive=False, **options)


def _rows(page: str) -> list[list[str]]:
    """The table's body rows as lists of cell texts."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body)]


def test_the_table_has_one_row_per_setting_with_final_and_best_loss():
    explorer = _explorer(curves=[(0.1, 4), (0.5, 32)])
    rows = _rows(explorer._repr_html_())
    # 0.9^5 * 1.25 = 0.7381..., 0.5^5 * (1 + 1/32) = 0.03223
    assert rows == [["learning rate 0.1, batch 4", "0.7381", "0.7381", "5", "no"],
                    ["learning rate 0.5, batch 32", "0.03223", "0.03223", "5", "no"]], rows


def test_by_default_every_learning_rate_is_drawn_with_the_middle_batch_size():
    explorer = _explorer()
    assert [run.label for run in explorer.runs] == [
        "learning rate 0.1, batch 4", "learning rate 0.5, batch 4", "learning rate 2.5, batch 4"]


def test_a_run_that_reaches_inf_is_shown_as_diverged_at_that_epoch():
    explorer = _explorer(curves=[(2.5, 32)])
    run = explorer.runs[0]
    assert run.diverged_at == 3 and len(run.finite_losses) == 2
    page = explorer._repr_html_()
    assert _rows(page) == [["learning rate 2.5, batch 32", "inf", "1.547", "5",
                            "diverged at epoch 3"]], _rows(page)
    assert "learning rate 2.5, batch 32 — diverged at epoch 3" in page   # the legend
    assert 'class="mf-diverged"' in page                                 # the × in the drawing
    assert "diverged at epoch 3 (the loss became inf)" in repr(explorer)


def test_a_nan_loss_diverges_too_and_a_run_may_stop_there():
    run = run_training(lambda **kw: [1.0, 0.5, float("nan")], 0.1, 4, epochs=10)
    assert run.error == "" and run.diverged_at == 3 and run.best_loss == 0.5


def test_a_loss_that_grows_without_overflowing_is_called_out():
    run = run_training(lambda **kw: [1.0, 10.0, 1e30], 0.9, 4, epochs=3)
    assert run.diverged_at is None and run.grew
    assert "the loss grew from 1 to 1e+30 in 3 epochs: the learning rate is too large" \
        in run.summary()


def test_a_train_that_raises_is_reported_with_the_setting_and_the_error():
    def train(learning_rate, batch_size, epochs, seed):
        raise ValueError("shapes (4,10) and (1,) not aligned")

    explorer = _explorer(train, curves=[(0.5, 32)])
    rows = _rows(explorer._repr_html_())
    assert rows == [["learning rate 0.5, batch 32",
                     "✗ train(learning_rate=0.5, batch_size=32, epochs=5, seed=0) raised "
                     "ValueError: shapes (4,10) and (1,) not aligned"]], rows


@pytest.mark.parametrize("returned, expected", [
    (None, "returned None, not a list of per-epoch losses (did you forget to return the losses?)"),
    (0.5, "returned float 0.5, not a list of per-epoch losses"),
    ([1.0, None, 0.5, 0.4, 0.3],
     "returned a list whose item 2 (epoch 2) is None, not a number (does your train_epoch "
     "return the mean loss?)"),
    ([1.0, "0.9", 0.5, 0.4, 0.3], "item 2 (epoch 2) is str '0.9', not a number"),
    ([1.0, np.ones(3), 0.5, 0.4, 0.3], "item 2 (epoch 2) is ndarray array([1., 1., 1.]), "
                                       "not a number"),
    ([], "returned an empty list: expected one loss per epoch (5)"),
    ([0.5] * 10, "returned 10 losses for 5 epochs: return one loss per epoch"),
])
def test_a_train_that_returns_something_else_is_told_what_is_wrong(returned, expected):
    run = run_training(lambda **kw: returned, 0.1, 32, epochs=5)
    assert run.losses == () and expected in run.error, run.error
    assert run.error.startswith("<lambda>(learning_rate=0.1, batch_size=32, epochs=5, seed=0) ")


def test_numpy_numbers_and_one_element_arrays_are_losses():
    returned = np.array([1.0, 0.5])
    assert run_training(lambda **kw: returned, 0.1, 4, epochs=2).losses == (1.0, 0.5)
    mixed = [np.float32(1.0), np.array(0.5), np.array([[0.25]])]
    assert run_training(lambda **kw: mixed, 0.1, 4, epochs=3).losses == (1.0, 0.5, 0.25)


def test_train_is_called_with_keywords_once_per_setting():
    calls = []

    def train(learning_rate, batch_size, epochs, seed):
        calls.append((learning_rate, batch_size, epochs, seed))
        return [1.0] * epochs

    explorer = explore_training(train, learning_rates=RATES, batch_sizes=BATCHES, epochs=3,
                                seed=7, curves=[(0.1, 32)], interactive=False)
    explorer.add(0.1, 32)
    explorer.clear()
    explorer.add(0.1, 32)
    explorer.add(0.5, 4)
    assert calls == [(0.1, 32, 3, 7), (0.5, 4, 3, 7)], "one call per setting, then the cache"
    with pytest.raises(ValueError, match=r"learning rate 0\.3 is not among learning_rates"):
        explorer.add(0.3, 4)


def test_the_drawing_labels_whole_epochs_only():
    assert epoch_ticks(5) == [1, 2, 3, 4, 5]
    assert epoch_ticks(20) == [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert epoch_ticks(100) == [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert epoch_ticks(1) == [1]
    for epochs in (1, 2, 3, 5, 7, 13, 20, 45, 100, 1000):
        exploration = Exploration(lambda **kw: [1.0 / (e + 1) for e in range(epochs)],
                                  [0.1], [4], epochs)
        drawing = loss_svg([exploration.run(0, 0)], epochs)
        labels = re.findall(r'class="mf-epoch-tick"[^>]*>([^<]*)<', drawing)
        assert labels and all(re.fullmatch(r"[1-9][0-9]*", label) for label in labels), labels
        assert labels[0] == "1" and int(labels[-1]) <= epochs and len(labels) <= 11


def test_the_drawing_has_a_curve_per_setting_a_legend_and_labelled_axes():
    drawing = loss_svg(_explorer(curves=[(0.1, 4), (0.5, 4)]).runs, 5)
    assert drawing.count('<g class="mf-curve"') == 2
    assert drawing.count('<g class="mf-legend-entry">') == 2
    assert ">Training loss per epoch</text>" in drawing
    assert ">epoch</text>" in drawing and ">loss</text>" in drawing
    assert drawing.startswith("<svg") and "<title>" in drawing


def test_the_log_scale_labels_powers_of_ten():
    explorer = _explorer(curves=[(0.5, 4)], log_scale=True)
    drawing = explorer._repr_html_()
    assert ">loss (log scale)</text>" in drawing
    labels = re.findall(r'class="mf-loss-tick"[^>]*>([^<]*)<', drawing)
    assert labels == ["0.01", "0.1", "1"], labels


def test_a_curve_that_runs_away_is_cut_off_so_the_others_stay_readable():
    def train(learning_rate, batch_size, epochs, seed):
        return [10.0 ** (10 * epoch) if learning_rate > 2 else 1.0 / epoch
                for epoch in range(1, epochs + 1)]

    drawing = _explorer(train, curves=[(0.1, 4), (2.5, 4)])._repr_html_()
    labels = re.findall(r'class="mf-loss-tick"[^>]*>([^<]*)<', drawing)
    assert labels[-1] == "2", labels                # twice the largest loss of the settled run
    assert "losses above the top are cut off: see the table" in drawing
    assert "1e+50" in drawing                       # the table keeps the number


def test_everything_the_student_controls_is_escaped():
    class Evil:
        def __repr__(self):
            return "<img src=x onerror=alert(2)>"

    def train(learning_rate, batch_size, epochs, seed):
        if batch_size == 4:
            raise RuntimeError("<script>alert('x')</script>")
        return [1.0, Evil()]

    train.__name__ = '<b onmouseover="evil()">'
    page = _explorer(train, curves=[(0.1, 4), (0.1, 32)])._repr_html_()
    assert "<script>" not in page and "<img" not in page and "<b " not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x" in page and "&lt;b onmouseover" in page


def test_the_static_rendering_is_the_same_on_every_run():
    pages, texts = set(), set()
    for _ in range(2):
        explorer = _explorer(curves=[(0.1, 4), (2.5, 32), (0.5, 4)])
        pages.add(explorer._repr_html_())
        texts.add(repr(explorer))
    assert len(pages) == 1 and len(texts) == 1
    page = pages.pop()
    assert " id=" not in page, "no ids: two explorers on one page must not clash"
    assert re.search(r"<table[^>]*><caption>Loss of each setting", page)
    assert '<th scope="col">Diverged?</th>' in page
    assert texts.pop().splitlines()[0] == "Training explorer: 3 settings, 5 epochs, seed 0."


def test_the_settings_are_checked_before_anything_runs():
    with pytest.raises(ValueError, match="learning_rates: -1 is not a positive number"):
        explore_training(fake_train, learning_rates=(0.1, -1), interactive=False)
    with pytest.raises(ValueError, match=r"batch_sizes: 2\.5 is not a positive whole number"):
        explore_training(fake_train, batch_sizes=(2.5,), interactive=False)
    with pytest.raises(TypeError, match="train must be a function"):
        explore_training([1.0, 0.5], interactive=False)


def test_without_anywidget_the_explorer_falls_back_to_the_table(monkeypatch):
    monkeypatch.setitem(sys.modules, "anywidget", None)   # import anywidget raises ImportError
    monkeypatch.delitem(sys.modules, "miniflow.stepper.explorer_widget", raising=False)
    shown = explore_training(fake_train, learning_rates=RATES, batch_sizes=BATCHES, epochs=5)
    assert isinstance(shown, TrainingExplorer)
    bundle = shown._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert "<table" in bundle["text/html"] and "<svg" in bundle["text/html"]


def test_the_widget_runs_a_setting_when_it_is_added_and_shows_the_static_rendering():
    pytest.importorskip("anywidget")
    widget = explore_training(fake_train, learning_rates=RATES, batch_sizes=BATCHES, epochs=5,
                              curves=[(0.1, 4)])
    assert type(widget).__name__ == "ExplorerWidget"
    assert widget.rate_labels == ["0.1", "0.5", "2.5"] and widget.batch_labels == ["4", "32"]
    assert widget.svg.count('class="mf-curve"') == 1
    widget.curves = [*widget.curves, [2, 1], [9, 9], [0, 0]]   # as the front end does
    assert widget.curves == [[0, 0], [2, 1]], "unknown and repeated settings are dropped"
    assert widget.svg.count('class="mf-curve"') == 2 and widget.table.count("<tr data-curve") == 2
    assert widget.message.startswith("learning rate 2.5, batch 32: diverged at epoch 3")
    widget.log_scale = True
    assert ">loss (log scale)</text>" in widget.svg
    widget.clear()
    assert widget.message == "Cleared: no curves." and "No curves yet" in widget.table
    data, _ = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"].startswith("Training explorer: 0 settings")


def test_the_widget_says_so_when_train_fails():
    pytest.importorskip("anywidget")

    def train(learning_rate, batch_size, epochs, seed):
        return None

    widget = explore_training(train, learning_rates=RATES, batch_sizes=BATCHES, epochs=5,
                              curves=[])
    widget.add(0.5, 32)
    assert widget.message_is_error
    assert widget.message.startswith("✗ learning rate 0.5, batch 32: train(learning_rate=0.5")
