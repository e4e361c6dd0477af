"""Shared test settings: hypothesis runs derandomized, so every run of the
suite draws the same examples (a failure on CI reproduces locally)."""

from hypothesis import settings

settings.register_profile("course", derandomize=True, deadline=None)
settings.load_profile("course")


def require_bwrap() -> None:
    """Skip without a working bubblewrap on a laptop; fail on CI, where .ci/run installs it."""
    import os

    import pytest

    from autograder.sandbox import probe_bwrap

    probe = probe_bwrap()
    if not probe.ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the sandbox tests, but {probe.detail}")
        pytest.skip(probe.detail)
