"""A real JupyterHub, used as people use it (issue 32, point 2).

The test starts JupyterHub (from PyPI) behind configurable-http-proxy (from
npm: ``npm ci --prefix course/hub``, which `.ci/run` and `make hub` do) on
127.0.0.1, with course/hub/jupyterhub_config.py, the file `make hub` uses:
PAM logins of local Unix accounts and the local-process spawner, which
starts every user's JupyterLab as that user. The accounts are made here
(an instructor and two students, names unique to this run) and removed
after; the hub must therefore run as root, as it does on a real server.

The term, through nbgrader's exchange with real permissions:

1. the instructor releases 01_graphs with the course's CLI and nbgrader;
2. in Chromium, alice signs in, fetches the assignment from the Assignment
   List, types her answers, runs a visible test, presses Validate and
   submits;
3. bob, another student's account, can neither list the exchange's inbound
   folder, nor read alice's submission (even knowing its name), nor
   overwrite it, nor read the instructor's course (its hidden tests);
4. the instructor collects with ``collect --exchange`` (the roster checked,
   owners checked: no escape hatch), grades with our CLI, writes feedback
   and releases it with ``nbgrader release_feedback``;
5. alice fetches her feedback from the Assignment List and opens the page.

Screenshots: test-artifacts/browser/hub-*.png.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import (
    ROOT,
    WAIT,
    cell_containing,
    chromium,
    close_dialog,
    error_text,
    executed,
    kernel_idle,
    menu,
    require_browser,
    shot,
    type_answer,
    validate,
)
from conftest import require

from autograder.core.manifest import load_manifest
from autograder.pipeline.grading import copy_course_skeleton

HUB = ROOT / "course" / "hub"
PROXY = HUB / "node_modules" / ".bin" / "configurable-http-proxy"
FIRST = load_manifest(ROOT).assignment("01_graphs")
SOURCE = nbformat.read(ROOT / "source" / FIRST.name / FIRST.notebook_file, as_version=4)
BIN = Path(sys.executable).parent


def _need(problem: str | None) -> None:
    require(problem, "the JupyterHub test")


@pytest.fixture(scope="module", autouse=True)
def hub_available():
    require_browser()
    _need(None if os.geteuid() == 0 else "the hub signs users in with PAM and starts "
          "their servers as them: it must run as root")
    _need(next((f"no {tool} (apt-get install {package})" for tool, package in
                (("useradd", "passwd"), ("chpasswd", "passwd"), ("setfacl", "acl"))
                if not shutil.which(tool)), None))
    _need(None if PROXY.is_file() else f"no proxy at {PROXY} (npm ci --prefix course/hub)")
    _need(None if importlib.util.find_spec("jupyterhub") else
          "jupyterhub is not installed (pip install -e '.[dev]')")


def _solution(grade_id: str) -> str:
    """The instructor's answer to one exercise, as a student would type it (no markers)."""
    cell = next(c for c in SOURCE.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                == grade_id)
    return "\n".join(line for line in cell.source.splitlines()
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


class Account:
    """A local Unix account made for this run: a login, a password, a private home."""

    def __init__(self, login: str, homes: Path) -> None:
        self.login, self.home = login, homes / login
        self.password = secrets.token_urlsafe(12)
        subprocess.run(["useradd", "--create-home", "--home-dir", str(self.home),
                        "--user-group", "--shell", "/bin/bash", login],
                       check=True, capture_output=True)
        try:
            subprocess.run(["chpasswd"], input=f"{login}:{self.password}\n", text=True,
                           check=True, capture_output=True)
        except subprocess.CalledProcessError:
            self.remove()  # not left behind half made
            raise
        # Debian's useradd leaves homes world-readable (UMASK 022): on a hub each home is
        # private, or every student reads the instructor's course (docs/jupyterhub.md).
        self.home.chmod(0o700)
        entry = pwd.getpwnam(login)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(self.home),
                "USER": self.login, "LANG": "C.UTF-8", **extra}

    def run(self, args: list[str], cwd: Path | None = None, timeout: float = 600,
            **extra: str) -> subprocess.CompletedProcess[str]:
        """``args`` as this account (its uid, its groups), failing the test on an error."""
        done = subprocess.run(args, cwd=cwd or self.home, env=self.env(**extra), user=self.uid,
                              group=self.gid, extra_groups=[], capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert done.returncode == 0, f"{' '.join(args)} as {self.login}:\n" \
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def python(self, code: str) -> str:
        """What a few lines of Python print when this account runs them."""
        return self.run([sys.executable, "-c", code]).stdout.strip()

    def remove(self) -> None:
        subprocess.run(["pkill", "-KILL", "-u", self.login], check=False, capture_output=True)
        subprocess.run(["userdel", "--remove", self.login], check=False, capture_output=True)


def _closed_ancestors() -> list[Path]:
    """The folders above the course's Python and this checkout that other accounts cannot
    pass through (a Python installed in root's home, say)."""
    closed = set()
    for target in (Path(sys.executable).resolve(), Path(sys.prefix).resolve(), ROOT):
        for folder in target.parents:
            if not folder.stat().st_mode & 0o001:
                closed.add(folder)
    return sorted(closed)


def _acl(folder: Path) -> str:
    return subprocess.run(["getfacl", "--absolute-names", str(folder)], capture_output=True,
                          text=True, check=True).stdout


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status
    except (urllib.error.URLError, OSError):
        return 0


@pytest.fixture(scope="module")
def site():
    """The machine's side: three accounts, a shared exchange, the instructor's course."""
    base = Path(tempfile.mkdtemp(prefix="miniflow-hub-"))
    base.chmod(0o755)  # every account reaches its home and the exchange through it
    homes = base / "home"
    homes.mkdir()
    suffix = f"{os.getpid() % 100000}"
    made: list[Account] = []
    closed, bare = _closed_ancestors(), []
    before = {folder: _acl(folder) for folder in closed}
    try:
        for role in ("teach", "alice", "bob"):
            made.append(Account(f"{role}{suffix}", homes))
        instructor, alice, bob = made
        # On a real hub the course's Python is installed where every account runs it (a
        # system or conda prefix). Here it may live in root's home: these accounts, and
        # only they, may pass through (an ACL, removed after).
        for folder in closed:
            if not subprocess.run(["getfacl", "--skip-base", "--absolute-names", str(folder)],
                                  capture_output=True, text=True, check=True).stdout.strip():
                bare.append(folder)  # no ACL of its own: removed whole after
            for account in made:
                subprocess.run(["setfacl", "-m", f"u:{account.login}:x", str(folder)],
                               check=True, capture_output=True)
        # Every cell drawn, not only those scrolled into view (what the test reads).
        settings = alice.home / ".jupyter/lab/user-settings/@jupyterlab/notebook-extension"
        settings.mkdir(parents=True)
        (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}',
                                                              encoding="utf-8")
        subprocess.run(["chown", "-R", f"{alice.login}:{alice.login}",
                        str(alice.home / ".jupyter")], check=True)
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o777)  # as docs/jupyterhub.md asks: nbgrader makes the rest inside
        course = instructor.home / "course"
        copy_course_skeleton(ROOT, course, [FIRST])
        (course / "roster.csv").write_text(
            "id,first_name,last_name,email,section\n"
            f"{alice.login},Alice,Abbott,alice@example.edu,A\n"
            f"{bob.login},Bob,Baker,bob@example.edu,A\n", encoding="utf-8")
        subprocess.run(["chown", "-R", f"{instructor.login}:{instructor.login}", str(course)],
                       check=True)
        teach = {"MINIFLOW_EXCHANGE": str(exchange), "MINIFLOW_CELL_TIMEOUT": "10"}
        instructor.run([sys.executable, "-m", "autograder", "roster", "import", "roster.csv"],
                       course, **teach)
        instructor.run([sys.executable, "-m", "autograder", "release", FIRST.name,
                        "--skip-selfcheck"], course, **teach)
        instructor.run([sys.executable, "-m", "nbgrader", "release_assignment", FIRST.name],
                       course, **teach)
        yield {"base": base, "exchange": exchange, "course": course, "teach": teach,
               "instructor": instructor, "alice": alice, "bob": bob}
    finally:
        for folder in closed:  # as it was: no ACL, or its own without these accounts
            removal = [["setfacl", "-b", str(folder)]] if folder in bare else \
                [["setfacl", "-x", f"u:{account.login}", str(folder)] for account in made]
            for command in removal:
                subprocess.run(command, check=False, capture_output=True)
        for account in made:
            account.remove()
        shutil.rmtree(base, ignore_errors=True)
        assert {folder: _acl(folder) for folder in closed} == before, \
            "the machine's folders must keep the ACLs they had"


@pytest.fixture(scope="module")
def hub(site):
    """JupyterHub with course/hub/jupyterhub_config.py, as `make hub` starts it."""
    from browser import free_port

    state = site["base"] / "hub-state"
    port = free_port()
    while any(_get(f"http://127.0.0.1:{p}/") for p in (port + 1, port + 2)):
        port = free_port()
    env = {**os.environ, "MINIFLOW_HUB_PORT": str(port), "MINIFLOW_HUB_STATE": str(state),
           "MINIFLOW_HUB_INSTRUCTORS": site["instructor"].login,
           "MINIFLOW_HUB_STUDENTS": f"{site['alice'].login},{site['bob'].login}",
           "MINIFLOW_EXCHANGE": str(site["exchange"]),
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    log_path = site["base"] / "hub.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(HUB / "jupyterhub_config.py")],
            cwd=site["base"], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while _get(f"{url}/hub/health") != 200:
            assert server.poll() is None, log_path.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-4000:]
            time.sleep(0.5)
        yield {"url": url, "log": log_path}
    finally:
        server.send_signal(signal.SIGTERM)  # the hub stops every user's server, then itself
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        pid_file = state / "proxy.pid"
        if pid_file.is_file():
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("hub-chromium")) as context:
        yield context


def _hub_log(hub) -> str:
    return hub["log"].read_text(errors="replace")[-4000:]


def _sign_in(page, hub, account: Account) -> None:
    page.goto(f"{hub['url']}/hub/login")
    page.locator("#username_input").fill(account.login)
    page.locator("#password_input").fill(account.password)
    page.locator("#login_submit").click()
    # The hub spawns the user's server, then sends the browser to its JupyterLab.
    page.wait_for_url(f"**/user/{account.login}/lab**", timeout=WAIT * 2)
    page.locator("#jp-main-dock-panel").wait_for(timeout=WAIT)


def _assignment_list(page) -> None:
    menu(page, "Nbgrader", "Assignment List")
    page.locator("#released_assignments_list").wait_for(timeout=WAIT)


def _attempt(account: Account, action: str) -> str:
    """Run one file operation as ``account``; "ok" or the error's name."""
    return account.python(
        "import os, shutil\n"
        f"try:\n    {action}\n    print('ok')\n"
        "except OSError as error:\n    print(type(error).__name__)")


def test_a_term_on_a_real_hub(site, hub, browser):
    alice, bob, instructor = site["alice"], site["bob"], site["instructor"]
    inbound = site["exchange"] / "miniflow" / "inbound"
    page = browser.new_page()
    try:
        # 2. alice signs in, fetches, works, runs a visible test, validates and submits.
        _sign_in(page, hub, alice)
        shot(page, "hub-01-alice-signed-in")
        assert page.locator(".jp-SideBar .lm-TabBar-tab[title*='Create Assignment']").count() == 0
        _assignment_list(page)
        released = page.locator("#released_assignments_list .list_item", has_text=FIRST.name)
        released.get_by_role("button", name="fetch").click()
        fetched = page.locator("#fetched_assignments_list .list_item", has_text=FIRST.name)
        fetched.first.wait_for(timeout=WAIT)
        notebook = alice.home / FIRST.name / FIRST.notebook_file
        assert notebook.is_file() and notebook.stat().st_uid == alice.uid
        fetched.get_by_role("button", name=FIRST.name).click()
        fetched.get_by_role("link", name=Path(FIRST.notebook_file).stem).click()
        page.locator(".jp-NotebookPanel:visible .jp-Notebook").wait_for(timeout=WAIT)
        kernel_idle(page)
        for grade_id, marker in (("chain_rule", "def chain_rule_gradients"),
                                 ("mul", "class Mul(Node):"),
                                 ("topological_sort", "def topological_sort")):
            type_answer(page, cell_containing(page, marker), _solution(grade_id))
        menu(page, "Run", "Run All Cells")
        backward_test = cell_containing(page, "checks.test_mul_backward(Mul)")
        executed(backward_test)
        assert error_text(backward_test) == ""
        verdict, text = validate(page)
        shot(page, "hub-02-alice-validates")
        assert "validation-success" in verdict, (verdict, text, _hub_log(hub))
        close_dialog(page)
        page.locator(".lm-TabBar-tab", has_text="Assignments").click()
        fetched = page.locator("#fetched_assignments_list .list_item", has_text=FIRST.name)
        fetched.get_by_role("button", name="Submit").click()
        page.locator("#submitted_assignments_list .list_item",
                     has_text=FIRST.name).first.wait_for(timeout=WAIT)
        shot(page, "hub-03-alice-submitted")
        folders = [f for f in inbound.iterdir() if f.name.startswith(f"{alice.login}+")]
        assert len(folders) == 1, folders
        submission = folders[0] / FIRST.notebook_file
        assert submission.stat().st_uid == alice.uid

        # 3. bob's account: no listing, no reading, no overwriting, no course.
        assert _attempt(bob, f"os.listdir({str(inbound)!r})") == "PermissionError"
        assert _attempt(bob, f"open({str(submission)!r}).read()") == "PermissionError"
        assert _attempt(bob, f"open({str(submission)!r}, 'w').write('x')") == "PermissionError"
        assert _attempt(bob, f"os.replace({str(submission)!r}, '/tmp/x')") == "PermissionError"
        assert _attempt(bob, f"open({str(folders[0] / 'extra.ipynb')!r}, 'w')") \
            == "PermissionError"
        hidden = site["course"] / "source" / FIRST.name / FIRST.notebook_file
        assert _attempt(bob, f"open({str(hidden)!r}).read()") == "PermissionError"
        assert _attempt(alice, f"open({str(hidden)!r}).read()") == "PermissionError"
        assert submission.read_bytes() == notebook.read_bytes()

        # 4. the instructor: collect (owners and roster checked), grade, feedback, release.
        course, teach = site["course"], site["teach"]
        collected = instructor.run([sys.executable, "-m", "autograder", "collect",
                                    "--exchange", FIRST.name], course, **teach).stdout
        assert f"{alice.login:16} {FIRST.name:14} <- exchange {folders[0].name}" in collected, \
            collected
        assert "not on the roster" not in collected and "refused" not in collected, collected
        graded = instructor.run([sys.executable, "-m", "autograder", "grade", FIRST.name,
                                 "--workers", "1"], course, **teach).stdout
        assert alice.login in graded, graded
        instructor.run([sys.executable, "-m", "autograder", "feedback", FIRST.name], course,
                       **teach)
        instructor.run([sys.executable, "-m", "nbgrader", "release_feedback", FIRST.name],
                       course, **teach)
        instructor.run([sys.executable, "-m", "autograder", "export"], course, **teach)
        with open(course / "grades.csv", encoding="utf-8", newline="") as table:
            rows = [row for row in csv.DictReader(table) if row["student_id"] == alice.login]
        assert [float(row["score"]) for row in rows] == [FIRST.points], rows

        # 5. alice fetches her feedback from the Assignment List and opens it.
        page.locator(".lm-TabBar-tab", has_text="Assignments").click()
        submitted = page.locator("#submitted_assignments_list .list_item", has_text=FIRST.name)
        submitted.get_by_role("button", name="Fetch Feedback").first.click()
        pages = []
        deadline = time.monotonic() + 60
        while not pages and time.monotonic() < deadline:
            pages = list((alice.home / FIRST.name / "feedback").glob(
                f"*/{Path(FIRST.notebook_file).stem}.html"))
            time.sleep(0.5)
        assert len(pages) == 1, (pages, _hub_log(hub))
        relative = pages[0].relative_to(alice.home).as_posix()
        feedback = browser.new_page()
        feedback.goto(f"{hub['url']}/user/{alice.login}/files/{relative}")
        body = feedback.locator("body").inner_text()
        shot(feedback, "hub-04-alice-reads-feedback")
        assert f"Score: {FIRST.points:g} / {FIRST.points:g}" in body, body[:2000]
        feedback.close()
    except BaseException:
        shot(page, "hub-FAILED")
        raise
    finally:
        page.close()
