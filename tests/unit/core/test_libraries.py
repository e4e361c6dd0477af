"""The private names of libraries the grader relies on (autograder.core.libraries).

Every name must exist in the installed versions; the bounds the module
states must be the ones pyproject.toml declares; and a name that is gone
must stop grading with a sentence that names the library, its version, the
name, its job and the fix, before any kernel starts.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from autograder.core import libraries
from autograder.core.libraries import PRIVATE, TESTED, LibraryChanged, Private, check, missing

ROOT = Path(__file__).resolve().parents[3]


def test_every_private_name_the_grader_uses_is_in_the_installed_libraries():
    assert missing() == []


def test_the_installed_versions_are_the_tested_ones():
    for library, bound in TESTED.items():
        assert Requirement(f"{library}{bound}").specifier.contains(version(library)), \
            (library, version(library), bound)


def test_the_bounds_are_those_the_package_declares():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = {Requirement(r).name.replace("-", "_"): str(Requirement(r).specifier)
                for r in project["project"]["dependencies"]}
    for library, bound in TESTED.items():
        assert Requirement(f"{library}{bound}").specifier == \
            Requirement(f"{library}{declared[library]}").specifier, library
    assert {p.library for p in PRIVATE} == set(TESTED)


def test_a_name_gone_from_a_library_is_named_with_its_job_and_the_fix(monkeypatch):
    from jupyter_client.channels import HBChannel

    monkeypatch.delattr(HBChannel, "_async_run")
    said = missing()
    assert len(said) == 1, said
    assert said[0].startswith(f"jupyter_client {version('jupyter_client')} lacks what the "
                              "grader needs: jupyter_client.channels.HBChannel._async_run, "
                              "for a heartbeat that a broken kernel cannot hang")
    assert "pip install 'jupyter_client>=8.6,<9'" in said[0]
    # a module that cannot be imported at all counts as gone too
    gone = Private("nbclient", "nbclient.no_such_module", "thing", "a test")
    assert "nbclient.no_such_module.thing, for a test." in missing((gone,))[0]


def test_grading_stops_before_any_kernel_when_a_name_is_gone(monkeypatch):
    from nbgrader.preprocessors import Execute

    from autograder.execute.preprocessor import SandboxedExecute

    owner = next(c for c in Execute.__mro__ if "_check_assign_resources" in vars(c))
    monkeypatch.delattr(owner, "_check_assign_resources")
    check.cache_clear()
    try:
        gone = r"nbgrader 0\.9.*Execute\._check_assign_resources"
        with pytest.raises(LibraryChanged, match=gone):
            SandboxedExecute()
    finally:
        check.cache_clear()
    monkeypatch.undo()
    assert isinstance(SandboxedExecute(), SandboxedExecute)  # and it grades again
    assert libraries.check() is None
