"""A real browser for the tests: Debian's Chromium driven by Playwright, and a
JupyterLab server started by the test itself.

Nothing here downloads anything: Playwright's Python package brings its driver
(from PyPI) and drives the system's Chromium (`apt-get install chromium`,
which `.ci/run` does); `playwright install` is never needed.

Screenshots go to ``test-artifacts/browser/`` at the repository root (ignored
by git), or to ``$MINIFLOW_TEST_ARTIFACTS/browser/`` when that is set.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from conftest import require

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MINIFLOW_CHROMIUM", "/usr/bin/chromium")
# What Chromium needs to run headless as root inside a container, and to stay
# offline (no update checks, no sync, no QUIC probes).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# The configuration `make lab` gives students (course/jupyter/student).
STUDENT_LAB_CONFIG = ROOT / "course" / "jupyter" / "student"


def require_browser() -> None:
    """Skip without Chromium or playwright on a laptop; fail on CI, where .ci/run installs them."""
    problems = []
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is missing (pip install -e '.[dev]')")
    require("; ".join(problems) or None, "the browser tests")


#: axe-core's impact levels that fail a check ("minor" and "moderate" are not failed).
FAILING_IMPACTS = ("serious", "critical")


def serious_violations(page, include: str | None = None) -> list[str]:
    """What axe-core (bundled with axe-playwright-python, injected into the page: no
    download) finds serious or critical, on the part ``include`` selects or the whole
    page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    context = {"include": [[include]]} if include else None
    violations = Axe().run(page, context=context).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']}: "
            + "; ".join(node["html"][:120] for node in v["nodes"][:3])
            for v in violations if v["impact"] in FAILING_IMPACTS]


def artifacts_dir() -> Path:
    """Where screenshots are kept after the run (created on demand)."""
    base = Path(os.environ.get("MINIFLOW_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    folder = base / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def chromium(profile: Path) -> Iterator:
    """A headless Chromium with a new, empty profile; yields a Playwright browser context."""
    from playwright.sync_api import sync_playwright

    profile.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        # A persistent context is how Playwright takes an explicit --user-data-dir.
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900})
        try:
            yield context
        finally:
            context.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab: where it serves, its token, its folders and its log."""

    url: str
    token: str
    root: Path
    config_dir: Path
    log: Path

    def page_url(self, path: str = "lab") -> str:
        """The address of ``path`` on this server, token included."""
        return f"{self.url}/{path}?token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log, for failure messages."""
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]


@contextmanager
def jupyter_lab(home: Path, *, config_path: list[Path] = (), timeout: float = 90) -> Iterator[Lab]:
    """``jupyter lab`` on 127.0.0.1 serving ``home/work``, stopped on exit even after a failure.

    HOME and every Jupyter folder point inside ``home``, so nothing of the
    real user's configuration, settings or kernels leaks in; ``config_path``
    folders are added with JUPYTER_CONFIG_PATH (as `make lab` does). Kernels
    are this interpreter's (the course's virtual environment).
    """
    root, config_dir = home / "work", home / "jupyter-config"
    for folder in (root, config_dir, home / "jupyter-data", home / "jupyter-runtime"):
        folder.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(config_dir),
               JUPYTER_DATA_DIR=str(home / "jupyter-data"),
               JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
               IPYTHONDIR=str(home / "ipython"), MPLCONFIGDIR=str(home / "matplotlib"),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if config_path:
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(str(p) for p in config_path)
    port, token = free_port(), secrets.token_hex(16)
    log = home / "jupyter-lab.log"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}",
               # offline: no update check, no news feed
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.news_url=None"]
    if os.geteuid() == 0:  # CI containers run as root
        command.append("--allow-root")
    with open(log, "w", encoding="utf-8") as log_file:
        # The server's folder is the students' folder, as on a JupyterHub
        # (nbgrader's extensions read nbgrader_config.py from there).
        server = subprocess.Popen(command, cwd=root, env=env, stdout=log_file,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, config_dir=config_dir,
              log=log)
    try:
        _wait_until_serving(lab, server, timeout)
        yield lab
    finally:
        _stop(server)


def _wait_until_serving(lab: Lab, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {server.returncode}:\n{lab.log_tail()}")
        try:
            with urllib.request.urlopen(lab.page_url("api/status"), timeout=5) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{lab.log_tail()}")


def _stop(server: subprocess.Popen) -> None:
    """Stop the server and its kernels (its own process group), politely first."""
    if server.poll() is not None:
        return
    group = server.pid  # start_new_session: the server leads its own group
    os.killpg(group, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)
        server.wait(timeout=10)
    # Kernels run in the same group; none may outlive the test.
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def copy_release(assignment: str, destination: Path) -> Path:
    """A copy of ``release/<assignment>`` (the committed student notebooks)."""
    target = destination / assignment
    shutil.copytree(ROOT / "release" / assignment, target)
    return target


# --- driving JupyterLab's notebook page --------------------------------------------

#: ms: generous, the machine may be busy grading
WAIT = 60_000


def shot(page, name: str) -> Path:
    """Keep a screenshot of the page as test-artifacts/browser/<name>.png."""
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def menu(page, *labels: str) -> None:
    """Click through the main menu bar: menu(page, "Run", "Run All Cells")."""
    page.locator("#jp-menu-panel").get_by_role("menuitem", name=labels[0], exact=True).click()
    for label in labels[1:]:
        page.locator(".lm-Menu").get_by_role("menuitem", name=label).first.click()


def cell_containing(page, text: str):
    """The one code cell whose source contains ``text``."""
    cells = page.locator(".jp-NotebookPanel:visible .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea", has_text=text))
    cells.first.wait_for(timeout=WAIT)
    assert cells.count() == 1, f"expected one cell containing {text!r}, found {cells.count()}"
    return cells.first


def kernel_idle(page) -> None:
    """Wait until the notebook's kernel is connected and idle (the status bar says so)."""
    page.get_by_text(re.compile(r"\(ipykernel\) \| Idle$")).first.wait_for(timeout=WAIT)


def execution_count(cell) -> int:
    """The number in the cell's prompt ([3]: is 3); 0 while it has none or runs ([*]:)."""
    match = re.fullmatch(r"\[(\d+)\]:", cell.locator(".jp-InputArea-prompt").inner_text().strip())
    return int(match.group(1)) if match else 0


def executed(cell, after: int = 0) -> None:
    """Wait until the cell has run since its prompt showed ``after`` (counts only grow)."""
    for _ in range(WAIT // 250):
        if execution_count(cell) > after:
            return
        cell.page.wait_for_timeout(250)
    prompt = cell.locator(".jp-InputArea-prompt").inner_text()
    raise AssertionError(f"the cell did not run (prompt {prompt!r})")


def type_answer(page, cell, code: str) -> None:
    """Replace the cell's source the way a student does: select all, type."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(code)
    typed = cell.locator(".cm-content").inner_text()
    # (inner_text doubles empty lines: CodeMirror draws them as <br>)
    assert code_lines(typed) == code_lines(code), f"the editor holds:\n{typed}"


def code_lines(text: str) -> list[str]:
    """The non-blank lines of ``text``, trailing spaces dropped."""
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def run_cell(page, cell) -> None:
    """Run one cell (Shift+Enter from its editor) and wait for it to finish."""
    before = execution_count(cell)
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    executed(cell, after=before)


def error_text(cell) -> str:
    """What the cell printed to stderr (a traceback), as one string."""
    errors = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return " ".join(errors.all_inner_texts())


def validate(page) -> tuple[str, str]:
    """Press nbgrader's Validate button; return the dialog's verdict class and text."""
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.locator(".jp-Toolbar").get_by_role("button", name="Validate").click()
    message = page.locator(".jp-Dialog #validation-message")
    message.wait_for(timeout=WAIT * 2)
    return message.get_attribute("class") or "", message.inner_text()


def close_dialog(page) -> None:
    """Press the open dialog's Ok and wait until it is gone."""
    page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=WAIT)
