"""One atomic write (autograder.core.atomic): the old file or the new one, never half."""

from __future__ import annotations

import pytest

from autograder.core.atomic import copy_atomically, replacing, write_text_atomically


def test_a_file_is_replaced_whole(tmp_path):
    target = tmp_path / "grades.csv"
    target.write_text("old\n")
    write_text_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]  # no temporary left


def test_a_new_file_gets_the_mode_a_plain_write_would_give(tmp_path):
    import os

    write_text_atomically(tmp_path / "grades.csv", "a\n")
    (tmp_path / "plain.csv").write_text("a\n")
    assert os.stat(tmp_path / "grades.csv").st_mode == os.stat(tmp_path / "plain.csv").st_mode


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("[1]")
    with pytest.raises(RuntimeError), replacing(target, "w", encoding="utf-8") as handle:
        handle.write("[2, half")
        raise RuntimeError("the disk is full")
    assert target.read_text() == "[1]"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_copy_and_bytes(tmp_path):
    source = tmp_path / "roster from the registrar.csv"
    source.write_bytes(b"id,name\r\nada,\xc3\xa9\r\n")
    copy_atomically(source, tmp_path / "roster.csv")
    assert (tmp_path / "roster.csv").read_bytes() == source.read_bytes()
    with replacing(tmp_path / "blob", "wb") as handle:
        handle.write(b"\x00\x01")
    assert (tmp_path / "blob").read_bytes() == b"\x00\x01"
