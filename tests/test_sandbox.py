"""The sandbox's own decisions: when it can run, what it shows the kernel, what it says.

The attacks themselves are in test_hostile.py; here are the pieces an
instructor meets first: detecting a bubblewrap that is missing or cannot
create namespaces (with the fix in the message), the modes, the sizes in the
configuration, and the folders a kernel is allowed to see.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_bwrap

from autograder.sandbox import manager as sandbox
from autograder.sandbox.bubblewrap import (
    SandboxError,
    format_size,
    parse_size,
    probe_bwrap,
    resolve_mode,
)
from autograder.sandbox.manager import SandboxKernelManager
from autograder.sandbox.visible import python_paths

ROOT = Path(__file__).resolve().parents[1]
# What bubblewrap prints inside a container that forbids user namespaces.
NO_NAMESPACES = ("#!/bin/sh\necho 'bwrap: No permissions to create new namespace, likely "
                 "because the kernel does not allow non-privileged user namespaces.' >&2\n"
                 "exit 1\n")


@pytest.fixture
def fake_bwrap(tmp_path, monkeypatch):
    """A PATH whose only bwrap cannot create namespaces; probes are not cached."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "bwrap").write_text(NO_NAMESPACES)
    (folder / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{Path(sys.executable).parent}")
    probe_bwrap.cache_clear()
    yield folder
    probe_bwrap.cache_clear()


def test_a_missing_bubblewrap_is_reported_with_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    probe_bwrap.cache_clear()
    try:
        probe = probe_bwrap()
    finally:
        probe_bwrap.cache_clear()
    assert not probe.ok
    assert "not installed" in probe.detail and "apt-get install bubblewrap" in probe.detail
    assert "conda install -c conda-forge bubblewrap" in probe.detail


def test_a_bubblewrap_that_cannot_create_namespaces_is_detected_with_the_fix(fake_bwrap):
    probe = probe_bwrap()
    assert not probe.ok
    assert "cannot create a sandbox here" in probe.detail
    assert "No permissions to create new namespace" in probe.detail
    assert "max_user_namespaces" in probe.detail and "seccomp=unconfined" in probe.detail


def test_auto_falls_back_with_the_reason_and_bwrap_refuses(fake_bwrap):
    mode, reason = resolve_mode("auto")
    assert mode == "none" and "cannot create a sandbox" in reason
    with pytest.raises(SandboxError, match="sandbox mode 'bwrap' was asked for"):
        resolve_mode("bwrap")
    assert resolve_mode("none")[0] == "none"
    with pytest.raises(ValueError, match="choose one of auto, bwrap, none"):
        resolve_mode("docker")


def test_grade_in_auto_mode_without_a_working_bwrap_warns_loudly(fake_bwrap, tmp_path):
    from autograder.core.manifest import load_manifest
    from autograder.pipeline.grading import copy_course_skeleton

    copy_course_skeleton(ROOT, tmp_path, load_manifest(ROOT).assignments[:1])
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", "--sandbox", "auto"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "WITHOUT ISOLATION" in run.stderr
    assert "max_user_namespaces" in run.stderr


def test_a_working_bubblewrap_is_found():
    require_bwrap()
    probe = probe_bwrap()
    assert probe.ok and os.path.basename(probe.detail) == "bwrap"
    assert resolve_mode("auto")[0] == "bwrap"


@pytest.mark.parametrize("text, size", [("2 GiB", 2 * 1024 ** 3), ("512MiB", 512 * 1024 ** 2),
                                        ("1g", 1024 ** 3), ("1.5 GB", 1_500_000_000),
                                        ("4096", 4096), (100, 100)])
def test_sizes_are_read_as_people_write_them(text, size):
    assert parse_size(text) == size


def test_a_size_that_cannot_be_read_says_how_to_write_it():
    with pytest.raises(ValueError, match="write it like '2 GiB'"):
        parse_size("two gigs")
    with pytest.raises(Exception, match="2 GiB"):
        SandboxKernelManager(memory_limit="lots")


def test_sizes_are_shown_as_people_read_them():
    assert format_size(2 * 1024 ** 3) == "2 GiB"
    assert format_size(256 * 1024 ** 2) == "256 MiB"
    assert format_size(3_938_000_000) == "3.67 GiB"


def test_the_kernel_sees_the_python_environment_but_never_the_course_or_the_home(tmp_path):
    course = ROOT
    cwd = tmp_path / "autograded" / "alice" / "01_graphs"
    paths = python_paths([course, cwd, Path.home()])
    assert paths, "the Python environment must be visible"
    for path in paths:
        for forbidden in (course, cwd, Path.home(), Path("/")):
            assert not (path == forbidden or forbidden.is_relative_to(path)), path
    # The course's own packages are visible even when they live in the course
    # root (an editable install), as folders of their own.
    import autograder
    import miniflow

    for package in (miniflow, autograder):
        folder = Path(package.__file__).resolve().parent
        assert any(folder == p or folder.is_relative_to(p) for p in paths), folder
    assert Path(sys.base_prefix).resolve() in [p for p in paths] or any(
        Path(sys.base_prefix).resolve().is_relative_to(p) for p in paths)


def test_the_kernel_environment_carries_none_of_the_graders_variables(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "grader-only")
    monkeypatch.setenv("MPLBACKEND", "agg")
    env = SandboxKernelManager()._environment("/home/student", "/tmp")
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["MPLBACKEND"] == "agg" and env["PYTHONSAFEPATH"] == "1"
    assert env["PYTHONHASHSEED"] == "0" and env["HOME"] == "/home/student"


def test_the_limits_come_from_the_configuration():
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    manager = SandboxKernelManager(config=config)
    assert manager.mode == "auto"
    assert manager.limits() == {"AS": 2 * 1024 ** 3, "CPU": 600, "NPROC": 64,
                                "FSIZE": 256 * 1024 ** 2, "NOFILE": 1024}
    assert "memory 2 GiB" in sandbox.describe_limits(manager)


def test_a_stopped_kernel_is_looked_at_again_within_milliseconds(monkeypatch):
    """jupyter_client looked every 0.1 s for a killed kernel's end: each notebook
    waited 0.1 s for nothing. The sandbox looks again after 1, 2, 4... ms."""
    import asyncio

    manager = SandboxKernelManager()
    answers = iter([True] * 9 + [False])

    async def alive() -> bool:
        return next(answers)

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(manager, "_async_is_alive", alive)
    monkeypatch.setattr(asyncio, "sleep", sleep)
    asyncio.run(manager._async_wait())
    assert slept == [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.1, 0.1]
    answers = iter([True, True, False])
    slept.clear()
    asyncio.run(manager._async_wait(pollinterval=0.0015))
    assert slept == [0.001, 0.0015]
