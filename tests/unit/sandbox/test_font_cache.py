"""The font list is kept between grading runs (autograder.sandbox.visible).

Making it costs about 2 s of CPU per run; a run whose fonts, matplotlib and
environment are those of an earlier run takes the kept list instead.
"""

from __future__ import annotations

import os

import pytest

from autograder.sandbox import visible

pytest.importorskip("matplotlib")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    monkeypatch.setattr(visible, "FONT_FOLDERS", (str(fonts),))
    return fonts


def _made(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_second_run_takes_the_kept_list_without_making_it(cache, tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    visible.make_font_list(str(first))
    (name, data), = _made(first).items()
    assert name.startswith("fontlist-v") and data.startswith(b"{")
    assert list((visible.font_cache() / visible.font_list_key()).iterdir())[0].name == name

    def scan():
        raise AssertionError("the fonts were scanned again")

    monkeypatch.setattr(visible, "font_list", scan)
    visible.make_font_list(str(second))
    assert _made(second) == {name: data}


def test_a_font_added_or_removed_makes_a_new_key(cache):
    before = visible.font_list_key()
    assert before == visible.font_list_key()
    (cache / "extra").mkdir()
    os.utime(cache, ns=(1, 1))
    added = visible.font_list_key()
    assert added != before
    (cache / "extra" / "new.ttf").write_bytes(b"")
    os.utime(cache / "extra", ns=(2, 2))
    assert visible.font_list_key() != added


def test_a_cache_that_cannot_be_written_still_gives_the_list(cache, tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    target = tmp_path / "target"
    target.mkdir()
    visible.make_font_list(str(target))
    assert [p.name for p in target.iterdir()][0].startswith("fontlist-v")
