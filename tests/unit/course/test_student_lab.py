"""The JupyterLab a student gets from `make lab`: what it shows and what it asks.

Read from the configuration files and the Makefile, as JupyterLab and
jupyter_server read them, without starting a server (tests/test_browser.py
starts one, with an exchange).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
STUDENT = ROOT / "course" / "jupyter" / "student"
OFFLINE = ROOT / "course" / "jupyter" / "student-offline"


def _config_path(make_args: list[str]) -> list[str]:
    """The JUPYTER_CONFIG_PATH `make lab` would start JupyterLab with."""
    line = subprocess.run(["make", "-s", "-n", "lab", *make_args], cwd=ROOT, check=True,
                          capture_output=True, text=True,
                          env={**os.environ, "JUPYTER_CONFIG_PATH": ""}).stdout.splitlines()[-1]
    assert line.startswith('JUPYTER_CONFIG_PATH="'), line
    return line.split('"')[1].split(":")


def _server_and_page(config_path: list[str], monkeypatch) -> tuple[dict, list[str], object]:
    """The server extensions, the disabled lab plugins and the LabApp settings."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.serverapp import ServerApp
    from jupyterlab_server.config import get_page_config

    monkeypatch.setenv("JUPYTER_CONFIG_PATH", os.pathsep.join(config_path))
    app = ServerApp()
    app.load_config_file()
    app.find_server_extensions()
    page = get_page_config([os.path.join(p, "labconfig") for p in jupyter_config_path()],
                           logger=None)
    return app.jpserver_extensions, page.get("disabledExtensions", []), app.config.LabApp


@pytest.mark.skipif(not os.path.exists("/usr/bin/make") and not os.environ.get("CI"),
                    reason="make is not installed")
def test_on_a_laptop_the_assignment_list_is_hidden_and_nothing_is_fetched(monkeypatch):
    """Without an exchange the Assignment List would only say "Error fetching courses!"."""
    path = _config_path([])
    assert path == [str(OFFLINE), str(STUDENT)]
    servers, disabled, lab = _server_and_page(path, monkeypatch)
    assert servers["nbgrader.server_extensions.assignment_list"] is False
    assert "@jupyter/nbgrader:assignment-list" in disabled
    for tool in ("formgrader", "course_list"):
        assert servers[f"nbgrader.server_extensions.{tool}"] is False
    assert servers.get("nbgrader.server_extensions.validate_assignment", True) is True
    # No "get notified about Jupyter news?" pop-up, and no update check over the network.
    assert "@jupyterlab/apputils-extension:announcements" in disabled
    assert lab.news_url is None
    assert lab.check_for_updates_class.endswith("NeverCheckForUpdate")
    # The course's own lab extension (accessible names JupyterLab leaves out), found
    # wherever the server starts.
    (folder,) = lab.extra_labextensions_path
    assert (Path(folder) / "miniflow-course-a11y" / "package.json").is_file()


@pytest.mark.skipif(not os.path.exists("/usr/bin/make") and not os.environ.get("CI"),
                    reason="make is not installed")
def test_with_an_exchange_the_assignment_list_is_there(monkeypatch):
    path = _config_path(["EXCHANGE=yes"])
    assert path == [str(STUDENT)]
    servers, disabled, lab = _server_and_page(path, monkeypatch)
    assert servers["nbgrader.server_extensions.assignment_list"] is True
    assert "@jupyter/nbgrader:assignment-list" not in disabled
    assert "@jupyter/nbgrader:formgrader" in disabled
    assert "@jupyterlab/apputils-extension:announcements" in disabled
    assert lab.news_url is None
