"""The stale-grade warning of release, export and report (``print_stale``)."""

from __future__ import annotations

from autograder.cli.stale import print_stale


def test_the_warning_is_framed_and_its_ids_reach_the_terminal_as_text(capsys):
    print_stale(["WARNING: 1 grade(s) of 01_graphs were made with tests that changed\n"
                 "  students graded with the old tests: eve\x1b[2J"])
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0] == lines[-1] == "!" * 78
    assert "\x1b" not in err and "eve\\x1b[2J" in err
    assert lines[1].startswith("WARNING: 1 grade(s)")


def test_nothing_stale_prints_nothing(capsys):
    print_stale([])
    assert capsys.readouterr().err == ""
