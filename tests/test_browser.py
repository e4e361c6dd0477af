"""The course as students and instructors see it: in Chromium, for real.

A student's JupyterLab (started here on 127.0.0.1, configured as `make lab`
configures it) with nbgrader's exchange: the student fetches the released
first assignment from the Assignment List, runs it, sees a visible test fail
with its diagnostic message, fixes the answer, presses nbgrader's Validate,
and submits; the submission must land in the exchange's inbound folder. Then
the class report of a small graded class is opened in the same browser.

Each step leaves a screenshot in test-artifacts/browser/ (tests/browser.py).
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from browser import (
    ROOT,
    STUDENT_LAB_CONFIG,
    WAIT,
    artifacts_dir,
    cell_containing,
    chromium,
    close_dialog,
    error_text,
    executed,
    jupyter_lab,
    kernel_idle,
    menu,
    require_browser,
    run_cell,
    shot,
    type_answer,
    validate,
)

from autograder.author.mutants import load_mutants
from autograder.core.manifest import load_manifest
from autograder.core.nbgrader_cli import nbgrader_environment, run_nbgrader
from autograder.pipeline.grading import copy_course_skeleton

COURSE = load_manifest(ROOT)
FIRST = COURSE.assignment("01_graphs")

# Exercise 2's answer with the mistake the visible test explains (the mutant
# library's): `=` where the gradients of several consumers must add up (`+=`).
MUL_OVERWRITES = next(m.source for m in load_mutants("01_graphs")
                      if m.name == "mul: overwrites instead of adding over consumers")
MUL_RIGHT = MUL_OVERWRITES.replace("self.gradients[node] = unbroadcast",
                                   "self.gradients[node] += unbroadcast")


def _solution(grade_id: str) -> str:
    """The instructor's solution of one answer cell, markers removed."""
    source = nbformat.read(ROOT / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
    for cell in source.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return "\n".join(line for line in cell.source.splitlines()
                             if "### BEGIN SOLUTION" not in line
                             and "### END SOLUTION" not in line)
    raise KeyError(grade_id)


@pytest.fixture(scope="module", autouse=True)
def browser_available():
    """Before anything is started: skip without Chromium or playwright (fail on CI)."""
    require_browser()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture(scope="module")
def exchange(tmp_path_factory) -> Path:
    """The instructor released 01_graphs to a temporary exchange (plain nbgrader)."""
    course = tmp_path_factory.mktemp("instructor")
    copy_course_skeleton(ROOT, course, [FIRST])
    (course / "release").mkdir()
    (course / "release" / FIRST.name).symlink_to(ROOT / "release" / FIRST.name)
    root = tmp_path_factory.mktemp("exchange")
    run_nbgrader(["release_assignment", FIRST.name, f"--Exchange.root={root}"], course)
    assert (root / "miniflow" / "outbound" / FIRST.name / FIRST.notebook_file).is_file()
    return root


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory, exchange):
    """A student's JupyterLab, configured as `make lab` does, with the course's exchange."""
    home = tmp_path_factory.mktemp("student-home")
    config = home / "jupyter-config"
    config.mkdir()
    # What a JupyterHub image would hold: the course id and where the exchange is.
    (config / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        "c.CourseDirectory.course_id = 'miniflow'\n"
        f"c.Exchange.root = {str(exchange)!r}\n", encoding="utf-8")
    # No first-run news prompt over the page in the screenshots.
    (config / "labconfig").mkdir()
    (config / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}',
        encoding="utf-8")
    # Every cell in the page, not only those scrolled into view.
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}',
                                                          encoding="utf-8")
    with jupyter_lab(home, config_path=[STUDENT_LAB_CONFIG]) as lab:
        yield lab


@pytest.fixture
def page(browser, request):
    """A new tab; on failure its last state is kept as <test name>-FAILED.png."""
    failures = request.session.testsfailed
    tab = browser.new_page()
    yield tab
    if request.session.testsfailed > failures:  # the call's report is in by now
        shot(tab, f"{request.node.name}-FAILED")
    tab.close()


def test_student_fetches_works_validates_and_submits(student_lab, exchange, class_report_job,
                                                     page):
    page.goto(student_lab.page_url("lab"))
    page.locator("#jp-main-dock-panel").wait_for(timeout=WAIT)

    # `make lab` for students: nbgrader's student tools, not the instructor's.
    menu(page, "Nbgrader")
    items = page.locator(".lm-Menu").get_by_role("menuitem").all_inner_texts()
    shot(page, "00-student-nbgrader-menu")
    assert any("Assignment List" in item for item in items), items
    assert not any("Formgrader" in item or "Create" in item for item in items), items
    assert page.request.get(student_lab.page_url("formgrader")).status == 404
    assert page.locator(".jp-SideBar .lm-TabBar-tab[title*='Create Assignment']").count() == 0

    # Fetch from the Assignment List; the notebook lands in the student's folder.
    page.locator(".lm-Menu").get_by_role("menuitem", name="Assignment List").click()
    released = page.locator("#released_assignments_list .list_item", has_text=FIRST.name)
    released.get_by_role("button", name="fetch").click()
    fetched = page.locator("#fetched_assignments_list .list_item", has_text=FIRST.name)
    fetched.first.wait_for(timeout=WAIT)
    assert (student_lab.root / FIRST.name / FIRST.notebook_file).is_file()
    shot(page, "01-assignment-list-fetched")

    # a. Open it from the list and run everything: the first visible test fails
    #    on the stub, and says so.
    fetched.get_by_role("button", name=FIRST.name).click()
    fetched.get_by_role("link", name=Path(FIRST.notebook_file).stem).click()
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").wait_for(timeout=WAIT)
    kernel_idle(page)
    menu(page, "Run", "Run All Cells")
    first_test = cell_containing(page, "checks.test_chain_rule(chain_rule_gradients)")
    executed(first_test)
    assert "NotImplementedError" in error_text(first_test)
    first_test.scroll_into_view_if_needed()
    shot(page, "02-run-all-first-test-fails")

    # b. A plausible wrong Mul (`=` instead of `+=`): the visible backward test
    #    names the mistake. Then the right one: both Mul tests pass.
    answer = cell_containing(page, "class Mul(Node):")
    forward_test = cell_containing(page, "checks.test_mul_forward(Mul)")
    backward_test = cell_containing(page, "checks.test_mul_backward(Mul)")
    type_answer(page, answer, MUL_OVERWRITES)
    for cell in (answer, forward_test, backward_test):
        run_cell(page, cell)
    message = error_text(backward_test)
    assert "when one Mul node feeds two consumers is wrong" in message, message
    assert "Accumulate with += over all outbound nodes" in message, message
    # The kernel is the course's Python: the checks it ran are this checkout's.
    assert str(ROOT / "autograder" / "checks" / "nodes.py") in message, message
    assert error_text(forward_test) == ""
    backward_test.scroll_into_view_if_needed()
    shot(page, "03-wrong-mul-diagnosed")
    type_answer(page, answer, MUL_RIGHT)
    for cell in (answer, forward_test, backward_test):
        run_cell(page, cell)
    assert error_text(backward_test) == "" and error_text(forward_test) == ""
    backward_test.scroll_into_view_if_needed()
    shot(page, "04-right-mul-passes")

    # c. Validate: fails while exercises 1 and 3 are stubs, passes once done.
    verdict, text = validate(page)
    shot(page, "05-validate-fails")
    assert "validation-failed" in verdict, (verdict, text)
    assert "The following cell failed" in text and "NotImplementedError" in text, text
    # Each failing test cell is a few lines that call its named check (issue 31): the
    # dialog shows the call, not the test's internals.
    shown = text.split("The following cell failed:")[1].split("-" * 20)[0]
    assert "checks.test_chain_rule(chain_rule_gradients)" in shown, text
    assert len([line for line in shown.splitlines() if line.strip()]) <= 6, shown
    close_dialog(page)
    for grade_id, marker in (("chain_rule", "def chain_rule_gradients"),
                             ("topological_sort", "def topological_sort")):
        type_answer(page, cell_containing(page, marker), _solution(grade_id))
    verdict, text = validate(page)
    shot(page, "06-validate-passes")
    assert "validation-success" in verdict, (verdict, text)
    assert "Success! Your notebook passes all the tests." in text
    close_dialog(page)

    # d. Submit from the Assignment List; the exchange receives the saved work.
    page.locator(".lm-TabBar-tab", has_text="Assignments").click()
    fetched = page.locator("#fetched_assignments_list .list_item", has_text=FIRST.name)
    fetched.get_by_role("button", name="Submit").click()
    submitted = page.locator("#submitted_assignments_list .list_item", has_text=FIRST.name)
    submitted.first.wait_for(timeout=WAIT)
    shot(page, "07-submitted")
    inbound = list((exchange / "miniflow" / "inbound").glob(f"*+{FIRST.name}+*"))
    assert len(inbound) == 1, inbound
    work = nbformat.read(inbound[0] / FIRST.notebook_file, as_version=4)
    assert any("self.gradients[node] += unbroadcast" in c.source for c in work.cells)


def _grade_small_class(root: Path) -> Path:
    """A small class graded and reported with the instructor's commands; returns the report.

    Two students, so that it stays fast: a mutant that overwrites gradients
    (loses points, with a diagnosis) and a file that is not JSON (rejected).
    """
    copy_course_skeleton(ROOT, root, [FIRST])
    commands = [[sys.executable, "-P", "-m", "nbgrader", "generate_assignment", FIRST.name,
                 "--force"],
                [sys.executable, "-m", "autograder", "grade", FIRST.name, "--workers", "1"],
                [sys.executable, "-m", "autograder", "report"]]
    env = nbgrader_environment({"MINIFLOW_CELL_TIMEOUT": "10"})
    source = root / "source" / FIRST.name / FIRST.notebook_file
    mutant = next(m for m in load_mutants(FIRST.name) if m.cell == "mul")
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == mutant.cell:
            cell.source = mutant.source
    submitted = root / "submitted"
    for student in ("mutant", "broken"):
        (submitted / student / FIRST.name).mkdir(parents=True)
    nbformat.write(notebook, submitted / "mutant" / FIRST.name / FIRST.notebook_file)
    (submitted / "broken" / FIRST.name / FIRST.notebook_file).write_text("{oops")
    for command in commands:
        run = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 0, (command, run.stdout[-3000:], run.stderr[-3000:])
    return root / "reports" / "class-report.html"


@pytest.fixture(scope="module")
def class_report_job(tmp_path_factory):
    """Grades the small class in the background while the lab test uses the browser.

    (The lab test asks for it once its server is up, so the two do not fight
    over the processor while JupyterLab starts.)
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(_grade_small_class, tmp_path_factory.mktemp("graded-course"))


@pytest.fixture(scope="module")
def class_report(class_report_job) -> Path:
    return class_report_job.result(timeout=600)


def test_class_report_renders_with_its_figures_and_no_errors(page, class_report):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.goto(class_report.as_uri())
    page.wait_for_load_state("load")
    page.screenshot(path=str(artifacts_dir() / "08-class-report.png"), full_page=True)
    # Only the structure: the report's content is being rewritten (objectives).
    heading = page.locator("h1").first.inner_text()
    assert "report" in f"{page.title()} {heading}".lower(), (page.title(), heading)
    images = page.locator("img")
    assert images.count() >= 1
    widths = page.eval_on_selector_all(
        "img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")
    assert widths and all(w > 0 for w in widths), widths
    assert page.locator("table").count() >= 1
    assert problems == [], problems
