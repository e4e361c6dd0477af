"""The interactive training explorer: an anywidget whose front end only chooses settings.

The browser holds two selectors (learning rate, batch size), Add curve,
Clear and a log-scale switch; the list of chosen settings (``curves``) is
synchronised with the kernel, where Python runs the student's ``train`` for
a new setting (once: runs are cached), draws the curves and writes the table.
Nothing is fetched: the JavaScript and CSS are below. Imported only when
anywidget is installed (``explore_training`` falls back to the static
rendering otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import traitlets

from miniflow.stepper.explorer_render import (
    EXPLORER_CSS,
    loss_svg,
    plain_text,
    static_html,
    table_html,
)
from miniflow.stepper.record import format_number
from miniflow.stepper.runs import Exploration, TrainingRun

__all__ = ["ExplorerWidget"]

_ESM = r"""
function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "mf-explorer";
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", model.get("label"));
  // Lumino (JupyterLab's shortcuts) leaves keys pressed in here to us:
  // Enter on a button presses it instead of editing the cell.
  root.setAttribute("data-lm-suppress-shortcuts", "true");

  const help = document.createElement("p");
  help.className = "mf-help";
  help.textContent = "Choose a learning rate and a batch size, then Add curve. " +
    "Tab moves between the controls; Enter or Space presses a button.";
  const bar = document.createElement("div");
  bar.className = "mf-bar";
  const selector = (text, options, trait) => {
    const label = document.createElement("label");
    label.append(text + " ");
    const select = document.createElement("select");
    options.forEach((option, i) => {
      const item = document.createElement("option");
      item.value = String(i);
      item.textContent = option;
      select.appendChild(item);
    });
    select.value = String(model.get(trait));
    select.addEventListener("change", () => {
      model.set(trait, Number(select.value));
      model.save_changes();
    });
    model.on(`change:${trait}`, () => { select.value = String(model.get(trait)); });
    label.appendChild(select);
    bar.appendChild(label);
    return select;
  };
  const button = (text) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    bar.appendChild(b);
    return b;
  };
  const rate = selector("Learning rate", model.get("rate_labels"), "rate_index");
  const batch = selector("Batch size", model.get("batch_labels"), "batch_index");
  const add = button("Add curve");
  const clear = button("Clear");
  const logLabel = document.createElement("label");
  const log = document.createElement("input");
  log.type = "checkbox";
  log.checked = model.get("log_scale");
  logLabel.append(log, " Log-scale loss axis");
  bar.appendChild(logLabel);
  const status = document.createElement("p");
  status.className = "mf-status";
  status.setAttribute("aria-live", "polite");
  const figure = document.createElement("div");
  figure.className = "mf-figure";
  const table = document.createElement("div");
  table.className = "mf-table";
  root.append(help, bar, status, figure, table);
  el.appendChild(root);

  const name = (pair) => `learning rate ${model.get("rate_labels")[pair[0]]}, ` +
    `batch ${model.get("batch_labels")[pair[1]]}`;
  add.addEventListener("click", () => {
    const pair = [Number(rate.value), Number(batch.value)];
    const curves = model.get("curves");
    if (curves.some((c) => c[0] === pair[0] && c[1] === pair[1])) {
      status.textContent = `${name(pair)} is drawn already.`;
      status.classList.remove("mf-error");
      return;
    }
    status.textContent = `Training with ${name(pair)}…`;
    model.set("curves", [...curves, pair]);
    model.save_changes();
  });
  clear.addEventListener("click", () => {
    model.set("curves", []);
    model.save_changes();
  });
  log.addEventListener("change", () => {
    model.set("log_scale", log.checked);
    model.save_changes();
  });

  function showMessage() {
    status.textContent = model.get("message");
    status.classList.toggle("mf-error", model.get("message_is_error"));
  }
  function draw() {
    // Both strings were made and escaped by miniflow.stepper.explorer_render (Python).
    figure.innerHTML = model.get("svg");
    table.innerHTML = model.get("table");
    log.checked = model.get("log_scale");
    showMessage();
  }
  model.on("change:svg", draw);
  model.on("change:table", draw);
  model.on("change:message", showMessage);
  draw();
}
export default { render };
"""

_CSS = EXPLORER_CSS + """
.mf-explorer { padding: 6px; border: 1px solid var(--jp-border-color1, #bbb); border-radius: 4px;
  color: var(--jp-content-font-color1, #000); background: var(--jp-layout-color0, #fff); }
.mf-explorer button:focus-visible, .mf-explorer select:focus-visible,
.mf-explorer input:focus-visible { outline: 3px solid #1a73e8; outline-offset: 2px; }
.mf-explorer .mf-help { margin: 0 0 4px; font-size: 12px; }
.mf-explorer .mf-bar { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; }
.mf-explorer .mf-bar button { padding: 3px 10px; font-size: 13px; }
.mf-explorer .mf-status { font-family: var(--jp-code-font-family, monospace); margin: 6px 0; }
.mf-explorer .mf-status.mf-error { color: #b71c1c; font-weight: 600; }
.mf-explorer .mf-figure { overflow-x: auto; background: #fff; }
"""


class ExplorerWidget(anywidget.AnyWidget):
    """Loss curves of the student's ``train``; ``curves`` lists the settings drawn.

    A setting is a pair of positions: (in ``learning_rates``, in ``batch_sizes``).
    """

    _esm = _ESM
    _css = _CSS
    rate_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    batch_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rate_index = traitlets.Int(0).tag(sync=True)
    batch_index = traitlets.Int(0).tag(sync=True)
    curves = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    log_scale = traitlets.Bool(False).tag(sync=True)
    svg = traitlets.Unicode("").tag(sync=True)
    table = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    message_is_error = traitlets.Bool(False).tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)

    def __init__(self, exploration: Exploration, curves: Sequence[tuple[int, int]],
                 log_scale: bool = False, **kwargs: Any):
        self.exploration = exploration
        chosen = [list(curve) for curve in dict.fromkeys(curves)]
        first = chosen[0] if chosen else [0, (len(exploration.batch_sizes) - 1) // 2]
        super().__init__(rate_labels=[format_number(r) for r in exploration.learning_rates],
                         batch_labels=[str(b) for b in exploration.batch_sizes],
                         rate_index=first[0], batch_index=first[1], curves=chosen,
                         log_scale=log_scale,
                         label="Loss curves of your train function for the learning rates "
                               "and batch sizes you choose", **kwargs)
        self._draw()
        errors = [run for run in self.runs if run.error]
        if errors:
            self.message, self.message_is_error = errors[0].summary(), True
        self.observe(self._on_new_curves, names=["curves"])
        self.observe(lambda change: self._draw(), names=["log_scale"])

    @traitlets.validate("curves")
    def _valid_curves(self, proposal: Any) -> list[list[int]]:
        rates, batches = len(self.exploration.learning_rates), len(self.exploration.batch_sizes)
        kept = dict.fromkeys((int(c[0]), int(c[1])) for c in proposal["value"]
                             if len(c) == 2 and 0 <= c[0] < rates and 0 <= c[1] < batches)
        return [list(curve) for curve in kept]

    @property
    def runs(self) -> list[TrainingRun]:
        """The runs drawn, in the order they were added."""
        return [self.exploration.run(rate, batch) for rate, batch in self.curves]

    def add(self, learning_rate: float, batch_size: int) -> TrainingRun:
        """Run (or reuse) one setting and draw its curve, as the Add curve button does."""
        rate, batch = self.exploration.index_of(learning_rate, batch_size)
        self.rate_index, self.batch_index = rate, batch
        if [rate, batch] not in self.curves:
            self.curves = [*self.curves, [rate, batch]]
        return self.exploration.run(rate, batch)

    def clear(self) -> None:
        self.curves = []

    def _on_new_curves(self, change: Any) -> None:
        added = [curve for curve in change["new"] if curve not in change["old"]]
        if added:
            run = self.exploration.run(*added[-1])   # the student's train runs here
            self.message, self.message_is_error = run.summary(), bool(run.error)
        elif not change["new"]:
            self.message, self.message_is_error = "Cleared: no curves.", False
        self._draw()

    def _draw(self) -> None:
        runs = self.runs
        self.svg = loss_svg(runs, self.exploration.epochs, self.log_scale)
        self.table = table_html(runs, self.exploration.epochs, self.exploration.seed)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # The widget where a front end runs it; its drawing and table elsewhere
        # (nbconvert, feedback pages, nbval compares text/plain and text/html).
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data or {})
        data["text/plain"] = repr(self)
        data["text/html"] = static_html(self.runs, self.exploration.epochs,
                                        self.exploration.seed, self.log_scale)
        return data, metadata

    def __repr__(self) -> str:
        return plain_text(self.runs, self.exploration.epochs, self.exploration.seed)
