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


def pytest_collection_modifyitems(config, items) -> None:
    """Keep each file's tests on one xdist worker, in order (``--dist loadgroup``).

    ``make test`` runs two workers. A file is one group (nbval's cells of a
    notebook must run in order in one kernel, and fixtures are per module),
    except tests marked ``spread``: each of those is a group of its own, so
    the long self-checks of the six assignments share the two workers.
    """
    import pytest

    # The long spread tests first, so they start at once; a stable sort keeps
    # every file's (and notebook's) own order.
    items.sort(key=lambda item: item.get_closest_marker("spread") is None)
    for item in items:
        spread = item.get_closest_marker("spread") is not None
        group = item.nodeid if spread else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(name=group))
