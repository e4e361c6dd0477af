"""The step-through widget (miniflow.stepper) in a real JupyterLab, in Chromium.

A student's JupyterLab (configured as `make lab` does, tests/browser.py)
opens a small notebook that builds f = (x + y) * z from miniflow's nodes and
calls ``step_through``: the widget must draw its graph, step forward with the
Next button and with the arrow keys, tell the kernel which step is shown, and
load its front end from the virtual environment only (anywidget and
ipywidgets ship prebuilt lab extensions; nothing is downloaded), and leave
axe-core nothing serious or critical to report in it. A released notebook
open in the same JupyterLab leaves axe-core nothing serious or critical to
report either, thanks to the course's own lab extension
(course/jupyter/labextensions/miniflow-course-a11y).

The training explorer (``explore_training``, notebook 04) runs in the same
JupyterLab: choosing a setting and pressing Add curve (with the mouse, then
with Tab and Enter) runs the notebook's ``train`` in the kernel and adds a
curve to the drawing and a row to the table.

Screenshots go to test-artifacts/browser/stepper-*.png and explorer-*.png
(tests/browser.py).
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
from browser import (
    STUDENT_LAB_CONFIG,
    artifacts_dir,
    chromium,
    copy_release,
    jupyter_lab,
    require_browser,
    serious_violations,
)

WAIT = 45_000  # ms

CELLS = [
    "from miniflow import Add, Input, Mul\nfrom miniflow.stepper import step_through",
    'x, y, z = Input("x"), Input("y"), Input("z")\n'
    'f = Mul(Add(x, y, name="q"), z, name="f")\n'
    "stepper = step_through(f, feed={x: -2.0, y: 5.0, z: -4.0})\nstepper",
    'print("shown step:", stepper.index)',
]

EXPLORER_CELLS = [
    "import math\nfrom miniflow.stepper import explore_training",
    "def train(learning_rate, batch_size, epochs, seed):\n"
    "    # a stand-in for the notebook's loop: lr 2.5 overflows at epoch 3\n"
    "    return [math.inf if learning_rate > 2 and epoch >= 3 else\n"
    "            abs(1 - learning_rate) ** epoch * (1 + 1 / batch_size)\n"
    "            for epoch in range(1, epochs + 1)]",
    "explorer = explore_training(train, learning_rates=(0.1, 0.5, 2.5), batch_sizes=(4, 32),\n"
    "                            epochs=6, curves=[(0.1, 32)])\nexplorer",
]


@pytest.fixture(scope="module", autouse=True)
def browser_available():
    """Skip without Chromium or playwright (fail on CI), before anything starts."""
    require_browser()
    try:
        import anywidget  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must run the stepper's browser test, but anywidget is missing")
        pytest.skip("anywidget is missing (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("stepper-home")
    with jupyter_lab(home, config_path=[STUDENT_LAB_CONFIG]) as server:
        notebook = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(source) for source in CELLS],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                     "language": "python"}})
        nbformat.write(notebook, server.root / "stepper.ipynb")
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in EXPLORER_CELLS]
        nbformat.write(notebook, server.root / "explorer.ipynb")
        yield server


def _page_config(lab) -> dict:
    with urllib.request.urlopen(lab.page_url("lab"), timeout=30) as reply:
        page = reply.read().decode("utf-8")
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page, re.S)
    assert match, "JupyterLab's page has no jupyter-config-data"
    return json.loads(match.group(1))


def test_lab_loads_the_widget_front_ends_from_the_virtual_environment(lab):
    extensions = {e["name"]: e for e in _page_config(lab)["federated_extensions"]}
    for name in ("anywidget", "@jupyter-widgets/jupyterlab-manager"):
        assert name in extensions, f"{name} is not among the lab extensions: {sorted(extensions)}"
        # served by the server from the environment's prebuilt copy (share/jupyter/labextensions)
        prebuilt = Path(sys.prefix, "share", "jupyter", "labextensions", name,
                        extensions[name]["load"])
        assert prebuilt.is_file(), f"{name}: {prebuilt} is missing"


def _in_chromium(tmp_path, drive, failed: str) -> None:
    """Run ``drive(page)``; no request may leave the machine, no script may fail."""
    outside: list[str] = []
    problems: list[str] = []
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.on("request", lambda r: outside.append(r.url)
                if urlparse(r.url).hostname not in ("127.0.0.1", None) and
                not r.url.startswith("data:") else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        try:
            drive(page)
        except BaseException:
            page.screenshot(path=str(artifacts_dir() / failed))
            raise
    assert outside == [], f"the page asked for something outside the machine: {outside}"
    assert problems == [], problems


def _open_and_run_all(page, lab, notebook: str, workspace: str = "") -> None:
    # A workspace of its own: the lab would otherwise reopen the notebooks of earlier tests.
    where = f"lab/workspaces/{workspace}" if workspace else "lab"
    page.goto(lab.page_url(f"{where}/tree/{notebook}"))
    page.get_by_text(re.compile(r"\(ipykernel\) \| Idle$")).first.wait_for(timeout=WAIT)
    page.locator("#jp-menu-panel").get_by_role("menuitem", name="Run", exact=True).click()
    page.locator(".lm-Menu").get_by_role("menuitem", name="Run All Cells").first.click()


def test_the_widget_steps_with_the_buttons_and_the_keyboard(lab, tmp_path):
    _in_chromium(tmp_path, lambda page: _run_and_step(page, lab), "stepper-FAILED.png")


def _run_and_step(page, lab) -> None:
    _open_and_run_all(page, lab, "stepper.ipynb")

    stepper = page.locator(".mf-stepper")
    stepper.wait_for(timeout=WAIT)
    status = stepper.locator(".mf-status")
    assert stepper.locator(".mf-figure svg").is_visible()
    assert stepper.locator(".mf-figure svg .mf-node").count() == 5
    assert status.inner_text().startswith("Step 1 of 10 (forward): x is an input: -2")
    assert stepper.locator(".mf-current[data-node='0']").count() == 1
    assert stepper.get_by_role("button", name="Previous step").is_disabled()

    # The Next button moves one step: the text, and the node highlighted.
    stepper.get_by_role("button", name="Next step").click()
    assert status.inner_text().startswith("Step 2 of 10 (forward): y is an input: 5")
    assert stepper.locator(".mf-current[data-node='1']").count() == 1

    # The keyboard, once the widget has focus: → one step on, End to the last.
    stepper.focus()
    page.keyboard.press("ArrowRight")
    assert status.inner_text().startswith("Step 3 of 10"), status.inner_text()
    page.keyboard.press("End")
    assert status.inner_text().startswith("Step 10 of 10 (backward): gradient of x = -4")
    page.keyboard.press("ArrowLeft")
    assert status.inner_text().startswith("Step 9 of 10 (backward): gradient of y = -4")
    stepper.locator("summary").click()   # the table of all steps, opened
    assert "✓ agrees" in stepper.locator("tr[aria-current='step']").inner_text()
    stepper.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir() / "stepper-backward.png"))
    # The student's JupyterLab never asks about Jupyter's news (course/jupyter/student).
    assert page.get_by_text("official Jupyter news").count() == 0
    assert serious_violations(page, ".mf-stepper") == []

    # The kernel knows which step is shown (the index is synchronised).
    cell = page.locator(".jp-CodeCell").filter(has_text="shown step:").first
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    cell.locator(".jp-OutputArea-output", has_text="shown step: 8").wait_for(timeout=WAIT)


def test_the_explorer_adds_curves_with_the_mouse_and_the_keyboard(lab, tmp_path):
    _in_chromium(tmp_path, lambda page: _explore(page, lab), "explorer-FAILED.png")


def _explore(page, lab) -> None:
    _open_and_run_all(page, lab, "explorer.ipynb", workspace="explorer")
    explorer = page.locator(".mf-explorer")
    explorer.wait_for(timeout=WAIT)
    curves, rows = explorer.locator("svg .mf-curve"), explorer.locator("tbody tr[data-curve]")
    status = explorer.locator(".mf-status")
    assert curves.count() == 1 and rows.count() == 1
    assert rows.first.inner_text().startswith("learning rate 0.1, batch 32")

    # The mouse: a learning rate from its labelled selector, then Add curve.
    explorer.get_by_label("Learning rate").select_option(label="0.5")
    explorer.get_by_role("button", name="Add curve").click()
    curves.nth(1).wait_for(timeout=WAIT)      # the kernel ran train and drew again
    assert rows.count() == 2, rows.all_inner_texts()
    assert rows.nth(1).inner_text().split("\t")[:2] == ["learning rate 0.5, batch 32", "0.01611"]
    assert status.inner_text().startswith("learning rate 0.5, batch 32: final loss 0.01611")

    # The keyboard: Tab from the batch size to Add curve, Enter presses it.
    explorer.get_by_label("Learning rate").select_option(label="2.5")
    explorer.get_by_label("Batch size").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Add curve"
    page.keyboard.press("Enter")
    curves.nth(2).wait_for(timeout=WAIT)
    assert rows.count() == 3
    assert rows.nth(2).inner_text().endswith("diverged at epoch 3"), rows.nth(2).inner_text()
    assert "diverged at epoch 3" in status.inner_text()
    # ... and Tab, Tab, Space: the log-scale switch.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    explorer.locator("svg text", has_text="loss (log scale)").wait_for(timeout=WAIT)
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir() / "explorer-curves.png"))
    assert serious_violations(page, ".mf-explorer") == []


def test_axe_finds_nothing_serious_in_the_student_s_notebook(lab, tmp_path):
    """The whole page around a released notebook, JupyterLab's own controls included:
    what JupyterLab leaves out (names for the cell editors and for a heading's collapse
    button, articles in the notebook's feed, aria-pressed on its toolbar's <jp-button>s)
    the course's lab extension adds (course/jupyter/labextensions/miniflow-course-a11y)."""
    copy_release("01_graphs", lab.root)
    _in_chromium(tmp_path, lambda page: _check_the_whole_page(page, lab), "a11y-FAILED.png")


def _check_the_whole_page(page, lab) -> None:
    page.goto(lab.page_url("lab/workspaces/a11y/tree/01_graphs/graphs.ipynb"))
    page.get_by_text(re.compile(r"\(ipykernel\) \| Idle$")).first.wait_for(timeout=WAIT)
    notebook = page.locator(".jp-NotebookPanel:visible")
    notebook.locator(".jp-collapseHeadingButton").first.wait_for(timeout=WAIT)
    # what axe looks at is there: cell editors, headings, the feed of cells, the toolbar
    assert notebook.locator(".jp-CodeCell .cm-content[role='textbox']").count() > 0
    assert notebook.locator("[role='feed']").count() == 1
    assert notebook.locator(".jp-NotebookPanel-toolbar jp-button").count() > 0
    assert serious_violations(page) == []



def test_every_figure_in_the_notebook_has_the_text_alternative_feedback_gives_it(lab, tmp_path):
    """JupyterLab draws a figure output as an <img> without alt (axe-core: image-alt,
    critical). The course's lab extension gives each one the text alternative the
    feedback pages give the same figure (autograder/publish/alt_text.py): here in the
    solution notebook of 04, whose committed outputs hold its figures."""
    from browser import ROOT

    from autograder.publish.alt_text import figure_alt

    notebook = nbformat.read(ROOT / "source" / "04_training" / "training.ipynb", as_version=4)
    expected = {figure_alt(cell, output["data"]) for cell in notebook.cells
                if cell.cell_type == "code" for output in cell.get("outputs", [])
                if "image/png" in output.get("data", {})}
    assert len(expected) >= 3 and all(alt.startswith("Figure: ") for alt in expected), expected
    folder = lab.root / "figures"
    folder.mkdir()
    nbformat.write(notebook, folder / "training.ipynb")

    def check(page) -> None:
        page.goto(lab.page_url("lab/workspaces/figures/tree/figures/training.ipynb"))
        page.get_by_text(re.compile(r"\(ipykernel\) \| Idle$")).first.wait_for(timeout=WAIT)
        images = page.locator(".jp-NotebookPanel:visible .jp-OutputArea img")
        images.first.wait_for(timeout=WAIT)
        seen = set()
        for index in range(images.count()):
            images.nth(index).scroll_into_view_if_needed()
            page.wait_for_function("image => image.hasAttribute('alt')",
                                   arg=images.nth(index).element_handle(), timeout=WAIT)
            seen.add(images.nth(index).get_attribute("alt"))
        assert seen and seen <= expected, (seen, expected)
        page.screenshot(path=str(artifacts_dir() / "figures-alt.png"))
        assert serious_violations(page) == []

    _in_chromium(tmp_path, check, "figures-alt-FAILED.png")
