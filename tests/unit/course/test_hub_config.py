"""course/hub/jupyterhub_config.py, read as JupyterHub reads it (no hub started: seconds).

tests/test_hub.py runs the same file for real; here its rules one by one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "course" / "hub" / "jupyterhub_config.py"


def _load(monkeypatch, tmp_path, **variables: str) -> Config:
    for name in ("MINIFLOW_HUB_INSTRUCTORS", "MINIFLOW_HUB_STUDENTS", "MINIFLOW_HUB_PORT",
                 "MINIFLOW_EXCHANGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MINIFLOW_HUB_STATE", str(tmp_path / "state"))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    config = Config()
    exec(compile(CONFIG.read_text(), str(CONFIG), "exec"),  # noqa: S102 (our own file)
         {"get_config": lambda: config, "__file__": str(CONFIG)})
    return config


def _spawn(config: Config, login: str) -> dict[str, str]:
    spawner = SimpleNamespace(user=SimpleNamespace(name=login), environment={})
    config.Spawner.pre_spawn_hook(spawner)
    return spawner.environment


def test_only_the_named_accounts_sign_in_and_instructors_administer(monkeypatch, tmp_path):
    config = _load(monkeypatch, tmp_path, MINIFLOW_HUB_INSTRUCTORS="ann",
                   MINIFLOW_HUB_STUDENTS="alice, bob", MINIFLOW_HUB_PORT="8100")
    assert config.Authenticator.allowed_users == {"ann", "alice", "bob"}
    assert config.Authenticator.admin_users == {"ann"}
    assert config.JupyterHub.authenticator_class == "pam"
    assert config.JupyterHub.spawner_class == "localprocess"
    # Loopback only, three ports in a row; the hub's state in its own private folder.
    assert (config.JupyterHub.ip, config.JupyterHub.port, config.JupyterHub.hub_port) == \
        ("127.0.0.1", 8100, 8102)
    assert config.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8101"
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert Path(config.Spawner.cmd[0]) == Path(sys.executable).parent / "jupyterhub-singleuser"


def test_a_student_gets_the_students_lab_and_the_instructor_keeps_the_tools(monkeypatch,
                                                                            tmp_path):
    config = _load(monkeypatch, tmp_path, MINIFLOW_HUB_INSTRUCTORS="ann",
                   MINIFLOW_HUB_STUDENTS="alice", MINIFLOW_EXCHANGE="/srv/x")
    student = _spawn(config, "alice")["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    assert student == [str(ROOT / "course" / "hub" / "student"),
                       str(ROOT / "course" / "jupyter" / "student")]
    instructor = _spawn(config, "ann")
    assert instructor["JUPYTER_CONFIG_PATH"] == str(ROOT / "course" / "hub" / "instructor")
    assert instructor["MINIFLOW_EXCHANGE"] == "/srv/x"


@pytest.mark.parametrize(("variables", "says"), [
    ({}, "nobody may sign in"),
    ({"MINIFLOW_HUB_INSTRUCTORS": "ann", "MINIFLOW_HUB_STUDENTS": "ann,bob"},
     "both instructors and students: ann"),
])
def test_a_hub_without_clear_roles_does_not_start(monkeypatch, tmp_path, variables, says):
    with pytest.raises(SystemExit, match=says):
        _load(monkeypatch, tmp_path, **variables)
