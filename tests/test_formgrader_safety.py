"""Issue 29, tested the way it was found: a submission opened in formgrader runs nothing.

A red team graded a notebook whose outputs and markdown held JavaScript (a
``_repr_html_`` with a ``<script>``, an ``<img onerror>``, SVG with a script,
``IPython.display.Javascript``), with a roster name holding HTML: opening it
in formgrader ran the script in the instructor's Jupyter origin, which
opened a terminal through the Jupyter API and ran a shell command.

Here a small course is graded with plain ``nbgrader autograde`` (the course's
nbgrader_config.py: ``autograder.publish.sanitize``), formgrader is started in a real
Jupyter server on 127.0.0.1, and the submission is opened in Chromium. The
attack is first run by hand in that page to show it works there (it writes
a marker file through a terminal); opened from formgrader, nothing of it
runs, while the notebook's printed text, its matplotlib PNG and the
student's name, as written, are on the page. A notebook graded before the
sanitizer existed (raw outputs in ``autograded/``) is safe too: formgrader's
own exporter sanitizes it as it renders.

Screenshots go to test-artifacts/browser/ (tests/browser.py). Skips without
Chromium or playwright on a laptop; fails when ``CI`` is set.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import nbformat
import pytest
from browser import ROOT, artifacts_dir, chromium, jupyter_lab, require_browser
from nbformat import v4

from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton

COURSE = load_manifest(ROOT)
FIRST = COURSE.assignment("01_graphs")
WAIT = 60_000  # ms
STUDENT, LEGACY = "mallory", "legacy"
FIRST_NAME = "Eve \"Evil\" O'Hara & co"
LAST_NAME = '<img src=x onerror="window.__pwned=9">'
TITLE_MARK = "PWNED"

# What the red team's script did: open a terminal through the Jupyter API with
# the page's XSRF cookie, and run a shell command in it.
ATTACK = """async (marker) => {
  const cookie = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || "";
  const reply = await fetch("/api/terminals", {method: "POST",
      headers: {"X-XSRFToken": decodeURIComponent(cookie)}, credentials: "same-origin"});
  const terminal = await reply.json();
  const socket = new WebSocket(`ws://${location.host}/terminals/websocket/${terminal.name}`);
  socket.onopen = () => socket.send(JSON.stringify(["stdin", `touch ${marker}\\r`]));
  return terminal.name;
}"""


def _script(marker: Path, flag: int) -> str:
    """The attack as a student's page would carry it: flags, a new title, the terminal."""
    return (f'window.__pwned = {flag}; document.title = "{TITLE_MARK}"; '
            f"({ATTACK})({json.dumps(str(marker))});")


def _attack_cells(marker: Path) -> list:
    script = _script(marker, 1)
    return [
        v4.new_markdown_cell('## My notes\n\nSee <img src=x onerror="window.__pwned=2; '
                             f'document.title=\'{TITLE_MARK}\'"> and '
                             "[my plot](javascript:window.__pwned=7)."),
        v4.new_code_cell(
            "class Report:\n"
            "    def _repr_html_(self):\n"
            f"        return '<b>report</b><script>' + {script!r} + '</script>'\n"
            "Report()"),
        v4.new_code_cell(
            "class Pic:\n"
            "    def _repr_svg_(self):\n"
            "        return ('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"20\">'\n"
            "                '<script>window.__pwned = 4</script><circle r=\"5\"/></svg>')\n"
            "class Js:\n"
            "    def _repr_javascript_(self):\n"
            "        return 'window.__pwned = 3'\n"
            "class Md:\n"
            "    def _repr_markdown_(self):\n"
            "        return '<img src=x onerror=\"window.__pwned = 8\">'\n"
            "display(Pic(), Js(), Md())"),
        v4.new_code_cell(
            "from IPython.display import HTML, Javascript, display\n"
            "display(Javascript('window.__pwned = 5'))\n"
            "display(HTML('<img src=x onerror=\"window.__pwned = 6\">'))"),
        v4.new_code_cell(
            "%matplotlib inline\n"
            "import matplotlib.pyplot as plt\n"
            "plt.figure(figsize=(3, 2))\n"
            "plt.plot([0, 1, 2], [0, 1, 4])\n"
            "plt.title('my loss curve')\n"
            "plt.show()\n"
            "print('PRINTED-BY-THE-STUDENT 42 <b>not bold</b>')"),
    ]


@pytest.fixture(scope="module", autouse=True)
def browser_available():
    """Before anything is started: skip without Chromium or playwright (fail on CI)."""
    require_browser()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The instructor's home: the course graded in ``work/`` (the server's root), markers."""
    home = tmp_path_factory.mktemp("instructor")
    root = home / "work"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MINIFLOW_DB_URL", raising=False)  # this course's own SQLite gradebook
        patch.setenv("MINIFLOW_CELL_TIMEOUT", "20")
        copy_course_skeleton(ROOT, root, [FIRST])
        run_nbgrader(["generate_assignment", FIRST.name, "--force"], root, timeout=600)
        notebook = nbformat.read(root / "source" / FIRST.name / FIRST.notebook_file,
                                 as_version=4)
        notebook.cells.extend(_attack_cells(home / "attack-ran"))
        folder = root / "submitted" / STUDENT / FIRST.name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / FIRST.notebook_file)
        run_nbgrader(["autograde", FIRST.name], root, timeout=900)
        _legacy_submission(root)
        _roster_names(root)
        yield home


def _gradebook(root: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE.id)


def _roster_names(root: Path) -> None:
    """The names the roster gave, stored as they are (what `roster import` writes)."""
    with _gradebook(root) as gradebook:
        gradebook.update_or_create_student(STUDENT, first_name=FIRST_NAME, last_name=LAST_NAME)


def _legacy_submission(root: Path) -> None:
    """A submission whose autograded notebook still has the raw outputs: one graded
    before autograder/publish/sanitize.py existed."""
    with _gradebook(root) as gradebook, warnings.catch_warnings():
        # nbgrader builds rows before adding them to the session, which SQLAlchemy
        # flags (harmlessly) while autoflushing: as in tests/conftest.py.
        warnings.simplefilter("ignore")
        gradebook.update_or_create_student(LEGACY, first_name="Old", last_name="Grading")
        gradebook.add_submission(FIRST.name, LEGACY)
    graded = nbformat.read(root / "autograded" / STUDENT / FIRST.name / FIRST.notebook_file,
                           as_version=4)
    graded.cells.append(v4.new_markdown_cell('<img src=x onerror="window.__pwned=12">'))
    graded.cells.append(v4.new_code_cell("Report()", outputs=[v4.new_output(
        "display_data", data={"text/html": "<script>window.__pwned = 11</script>",
                              "text/plain": "Report"})]))
    target = root / "autograded" / LEGACY / FIRST.name
    target.mkdir(parents=True)
    nbformat.write(graded, target / FIRST.notebook_file)


@pytest.fixture(scope="module")
def lab(course):
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MINIFLOW_DB_URL", raising=False)
        with jupyter_lab(course) as server:
            yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def page(browser, lab, request):
    """A tab logged in to the server (formgrader's XSRF cookie set); a shot on failure."""
    failures = request.session.testsfailed
    tab = browser.new_page()
    tab.goto(lab.page_url("formgrader"))
    tab.wait_for_load_state("domcontentloaded")
    yield tab
    if request.session.testsfailed > failures:
        tab.screenshot(path=str(artifacts_dir() / f"{request.node.name}-FAILED.png"))
    tab.close()


def _submission_id(course: Path, student: str) -> str:
    with _gradebook(course / "work") as gradebook:
        return gradebook.find_submission_notebook(FIRST.notebook, FIRST.name, student).id


def _open(page, lab, submission: str) -> None:
    page.goto(f"{lab.url}/formgrader/submissions/{submission}/")
    page.wait_for_load_state("domcontentloaded")
    page.locator("#notebook-container").first.wait_for(state="attached", timeout=WAIT)
    # What a script would need: the page's own scripts and whatever follows them.
    page.wait_for_timeout(3000)


def _wait_for(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.2)
    return path.exists()


def test_autograded_notebook_keeps_text_and_pictures_only(course):
    graded = nbformat.read(course / "work" / "autograded" / STUDENT / FIRST.name
                           / FIRST.notebook_file, as_version=4)
    kinds = {kind for cell in graded.cells if cell.cell_type == "code"
             for output in cell.outputs for kind in output.get("data", {})}
    assert kinds <= {"text/plain", "image/png"}, kinds
    assert "image/png" in kinds  # the student's plot
    notes = next(c for c in graded.cells if "My notes" in c.source)
    assert notes.source.startswith("*[Shown as text")


def test_the_attack_works_in_that_origin_when_it_runs(page, course):
    """The control: run by hand in a formgrader page, the script opens a terminal and
    writes its marker; so a marker that never appears below means the script never ran."""
    marker = course / "control-ran"
    terminal = page.evaluate(ATTACK, str(marker))
    assert terminal
    assert _wait_for(marker, 30), "the attack did not work here: the test would prove nothing"


def test_the_graded_submission_runs_nothing_and_shows_text_and_plot(page, lab, course):
    _open(page, lab, _submission_id(course, STUDENT))
    page.screenshot(path=str(artifacts_dir() / "formgrader-hostile-submission.png"),
                    full_page=True)
    assert page.evaluate("window.__pwned") is None
    assert TITLE_MARK not in page.title()
    assert not _wait_for(course / "attack-ran", 5), "a terminal ran the student's command"
    container = page.locator("#notebook-container").first
    assert container.locator("script").count() == 0
    assert container.locator("svg").count() == 0
    # What the instructor needs to see is there.
    printed = container.locator(".output_stdout", has_text="PRINTED-BY-THE-STUDENT 42 "
                                                           "<b>not bold</b>")
    assert printed.count() == 1 and printed.is_visible()
    plots = container.locator('img[src^="data:image/png"]')
    assert plots.count() >= 1
    widths = plots.evaluate_all("images => images.map(i => i.complete ? i.naturalWidth : 0)")
    assert all(w > 0 for w in widths), widths
    # The markdown is there, as text: the note and the student's own characters.
    assert container.get_by_text("Shown as text by the grader").count() == 1
    assert container.get_by_text('<img src=x onerror="window.__pwned=2;', exact=False).count() \
        == 1
    # The name as the roster gave it, character for character, and no <img> made of it.
    shown = page.locator(".name-shown").first.text_content()
    assert f"{LAST_NAME}, {FIRST_NAME}" in shown
    assert page.locator("nav img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_a_notebook_graded_before_the_sanitizer_runs_nothing_either(page, lab, course):
    _open(page, lab, _submission_id(course, LEGACY))
    page.screenshot(path=str(artifacts_dir() / "formgrader-legacy-submission.png"),
                    full_page=True)
    assert page.evaluate("window.__pwned") is None
    container = page.locator("#notebook-container").first
    assert container.locator("script").count() == 0
    assert container.get_by_text('<img src=x onerror="window.__pwned=12">').count() == 1
