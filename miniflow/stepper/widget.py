"""The interactive stepper: an anywidget whose front end only shows recorded steps.

Python recorded every step (``record``) and drew every picture (``render``);
the browser swaps them as the learner presses First / Previous / Next / Last
or the arrow keys. Nothing is fetched: the JavaScript and CSS are below.
Imported only when anywidget is installed (``miniflow.stepper`` falls back to
the static rendering otherwise).
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from miniflow.stepper.record import Recording
from miniflow.stepper.render import STATIC_CSS, plain_text, static_html, svg, table_html, verdict

__all__ = ["StepperWidget"]

_ESM = r"""
function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "mf-stepper";
  root.tabIndex = 0;
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", model.get("label"));
  // Lumino (JupyterLab's shortcuts) leaves keys pressed in here to us.
  root.setAttribute("data-lm-suppress-shortcuts", "true");

  const help = document.createElement("p");
  help.className = "mf-help";
  help.textContent = "Buttons, or click here and use ← → (Home, End) to step.";
  const bar = document.createElement("div");
  bar.className = "mf-bar";
  const button = (text, name, move) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.setAttribute("aria-label", name);
    b.addEventListener("click", () => go(move(model.get("index"))));
    bar.appendChild(b);
    return b;
  };
  const first = button("First", "First step", () => 0);
  const previous = button("◀ Previous", "Previous step", (i) => i - 1);
  const next = button("Next ▶", "Next step", (i) => i + 1);
  const last = button("Last", "Last step", () => model.get("steps").length - 1);
  const status = document.createElement("p");
  status.className = "mf-status";
  status.setAttribute("aria-live", "polite");
  const figure = document.createElement("div");
  figure.className = "mf-figure";
  const verdict = document.createElement("p");
  verdict.className = "mf-verdict";
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "All steps as a table";
  const table = document.createElement("div");
  details.append(summary, table);
  root.append(help, bar, status, figure, verdict, details);
  el.appendChild(root);

  function go(index) {
    const steps = model.get("steps");
    const i = Math.max(0, Math.min(steps.length - 1, index));
    if (i !== model.get("index")) {
      model.set("index", i);
      model.save_changes();
    }
  }
  root.addEventListener("keydown", (event) => {
    const i = model.get("index");
    const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0,
                    End: model.get("steps").length - 1 };
    if (event.target.tagName === "SUMMARY" || !(event.key in moves)) return;
    event.preventDefault();
    event.stopPropagation();
    go(moves[event.key]);
  });

  function update() {
    const steps = model.get("steps");
    const i = model.get("index");
    const step = steps[i];
    // Both strings were made and escaped by miniflow.stepper.render (Python).
    figure.innerHTML = step.svg;
    status.textContent = `Step ${i + 1} of ${steps.length} (${step.phase}): ${step.title}`;
    status.classList.toggle("mf-error", step.phase === "error");
    verdict.textContent = model.get("verdict");
    for (const row of table.querySelectorAll("tr[data-step]")) {
      const here = Number(row.dataset.step) === i;
      row.classList.toggle("mf-current", here);
      if (here) row.setAttribute("aria-current", "step");
      else row.removeAttribute("aria-current");
    }
    first.disabled = previous.disabled = i === 0;
    next.disabled = last.disabled = i === steps.length - 1;
  }
  table.innerHTML = model.get("table");
  model.on("change:index", update);
  model.on("change:steps", update);
  update();
}
export default { render };
"""

_CSS = STATIC_CSS + """
.mf-stepper { padding: 6px; border: 1px solid var(--jp-border-color1, #bbb); border-radius: 4px;
  color: var(--jp-content-font-color1, #000); background: var(--jp-layout-color0, #fff); }
.mf-stepper:focus-visible, .mf-stepper button:focus-visible, .mf-stepper summary:focus-visible {
  outline: 3px solid #1a73e8; outline-offset: 2px; }
.mf-stepper .mf-help { margin: 0 0 4px; font-size: 12px; }
.mf-stepper .mf-bar button { margin-right: 4px; padding: 3px 10px; font-size: 13px; }
.mf-stepper .mf-status { font-family: var(--jp-code-font-family, monospace); margin: 6px 0; }
.mf-stepper .mf-status.mf-error { color: #b71c1c; font-weight: 600; }
.mf-stepper .mf-figure { overflow-x: auto; background: #fff; }
"""


class StepperWidget(anywidget.AnyWidget):
    """Step through a recorded forward and backward pass; ``index`` is the step shown."""

    _esm = _ESM
    _css = _CSS
    steps = traitlets.List(traitlets.Dict()).tag(sync=True)
    table = traitlets.Unicode("").tag(sync=True)
    verdict = traitlets.Unicode("").tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)

    def __init__(self, recording: Recording, **kwargs: Any):
        self.recording = recording
        steps = [{"phase": step.phase, "title": step.title, "svg": svg(recording, k)}
                 for k, step in enumerate(recording.steps)]
        output = recording.labels[recording.output]
        super().__init__(steps=steps, table=table_html(recording),
                         verdict=verdict(recording),
                         label=f"Step through the forward and backward pass of {output}",
                         **kwargs)

    @traitlets.validate("index")
    def _valid_index(self, proposal: Any) -> int:
        return max(0, min(len(self.steps) - 1, int(proposal["value"])))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # The widget where a front end runs it; its table and drawing elsewhere
        # (nbconvert, feedback pages, nbval compares text/plain and text/html).
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data or {})
        data["text/plain"] = plain_text(self.recording)
        data["text/html"] = static_html(self.recording)
        return data, metadata

    def __repr__(self) -> str:
        return plain_text(self.recording)

