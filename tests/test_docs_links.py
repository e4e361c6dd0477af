"""The documentation's links hold: every relative link in README.md,
course/GUIDE.md and docs/*.md names a file that exists, and every #anchor
names a heading of the page it points to (GitHub's anchor rules)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "course" / "GUIDE.md", *sorted((ROOT / "docs").glob("*.md"))]

# [text](target) outside inline code; the target ends at the first space or ")".
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _outside_code(text: str) -> list[str]:
    """The page's lines with fenced code blocks dropped and inline code blanked."""
    lines, fence = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if not fence:
            lines.append(re.sub(r"`[^`]*`", "``", line))
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lowercase, punctuation
    removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[`*]", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    fence = False
    for line in path.read_text().split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match and not fence:
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(path: Path) -> list[str]:
    return [m.group(1) for line in _outside_code(path.read_text()) for m in LINK.finditer(line)]


def test_the_pages_exist():
    assert len(PAGES) > 2 and all(p.is_file() for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_slug_follows_github():
    assert _slug("The verdict: what wrong code cannot forge, read or talk past") == (
        "the-verdict-what-wrong-code-cannot-forge-read-or-talk-past")
    assert _slug("Grading on a Dask cluster: when one machine is not enough") == (
        "grading-on-a-dask-cluster-when-one-machine-is-not-enough")
    assert _slug("What the instructor's browser shows: outputs are data") == (
        "what-the-instructors-browser-shows-outputs-are-data")
