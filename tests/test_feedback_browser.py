"""The feedback pages and the class report in Chromium: maths typeset, long lines
wrapped, nothing fetched, and no serious accessibility violation (issue 31, points 4, 5).

Our feedback page, plain ``nbgrader generate_feedback``'s page (the course's
configuration) and the class report, built in memory (tests/feedback_pages.py),
are opened from files with every network request refused and recorded: a page
that asked for anything but itself fails. axe-core (bundled in the
axe-playwright-python package, injected into the page: no download) checks
our page and the report (plain nbgrader's page is nbgrader's template: its
language and link colours are ours, autograder/publish/exporter.py, but axe on
its 200 kB of Bootstrap takes longer than the rest of this file). One browser
for all of it; screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import artifacts_dir, chromium, require_browser, serious_violations
from feedback_pages import class_report, our_feedback_page, plain_feedback_page


@pytest.fixture(scope="module", autouse=True)
def browser_available():
    require_browser()


@pytest.fixture(scope="module")
def offline_browser(tmp_path_factory):
    """Chromium where every request but a file:// or data: one is refused, and listed."""
    requested: list[str] = []

    def refuse(route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            requested.append(url)
            route.abort()

    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        context.route("**/*", refuse)
        yield context, requested


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    (folder / "ours.html").write_text(our_feedback_page(), encoding="utf-8")
    (folder / "plain.html").write_text(plain_feedback_page(), encoding="utf-8")
    return {"ours": folder / "ours.html", "plain": folder / "plain.html",
            "report": class_report(folder / "class-report.html")}


def _open(context, path: Path, name: str, width: int = 1400):
    tab = context.new_page()
    tab.set_viewport_size({"width": width, "height": 900})
    tab.goto(path.as_uri())
    tab.wait_for_load_state("load")
    tab.screenshot(path=str(artifacts_dir() / f"feedback-{name}.png"), full_page=True)
    return tab


_MATHS = """() => {
  const maths = [...document.querySelectorAll('math')];
  // The markdown's prose: code (a sanitized cell shown as its source) may hold a $.
  const text = [...document.querySelectorAll('.markdown, .text_cell_render')].map(e => {
    const prose = e.cloneNode(true);
    prose.querySelectorAll('pre, code, annotation').forEach(c => c.remove());
    return prose.textContent;
  }).join('\\n');
  return {count: maths.length,
          typeset: maths.filter(m => getComputedStyle(m).display.includes('math')
                                     && m.getBoundingClientRect().width > 0).length,
          dollars: (text.match(/\\$/g) || []).length,
          tex: maths.map(m => m.querySelector('annotation')?.textContent || '')};
}"""
_OVERFLOW = ("() => [document.documentElement.scrollWidth,"
             " document.documentElement.clientWidth]")


@pytest.mark.parametrize("kind", ["ours", "plain"])
def test_feedback_maths_is_typeset_offline_and_long_lines_wrap(offline_browser, pages, kind):
    context, requested = offline_browser
    tab = _open(context, pages[kind], kind)
    maths = tab.evaluate(_MATHS)
    # Every formula of the notebook is MathML laid out by the browser, none left as $...$.
    assert maths["count"] >= 20 and maths["typeset"] == maths["count"], maths
    assert maths["dollars"] == 0, maths
    assert r"g = x\,W + b, \quad W \in \{0, 1\}" in maths["tex"]  # the TeX escapes kept
    scroll, client = tab.evaluate(_OVERFLOW)
    assert scroll <= client, f"the page is {scroll} px wide in a {client} px window"
    assert "Mul forward on inputs of shapes" in tab.inner_text("body")
    assert tab.evaluate("() => typeof window.alert_was_called") == "undefined"
    tab.close()
    assert requested == [], requested


def test_our_feedback_page_shows_each_message_beside_its_answer(offline_browser, pages):
    context, _ = offline_browser
    tab = _open(context, pages["ours"], "ours-beside")
    answer = tab.locator(".answer", has=tab.locator(".verdict.fail")).first
    code = answer.locator(":scope > .cell").bounding_box()
    verdict = answer.locator(".verdict.fail").bounding_box()
    assert verdict["x"] >= code["x"] + code["width"] and verdict["y"] <= code["y"] + 40
    assert "Mul forward on inputs of shapes" in answer.inner_text()
    # A narrow window: the message goes under the answer, and still nothing overflows.
    tab.set_viewport_size({"width": 480, "height": 900})
    scroll, client = tab.evaluate(_OVERFLOW)
    assert scroll <= client, (scroll, client)
    tab.screenshot(path=str(artifacts_dir() / "feedback-ours-narrow.png"), full_page=True)
    tab.close()


@pytest.mark.parametrize("kind", ["ours", "report"])
def test_axe_finds_no_serious_violation(offline_browser, pages, kind):
    context, requested = offline_browser
    tab = _open(context, pages[kind], f"axe-{kind}")
    assert serious_violations(tab) == []
    scroll, client = tab.evaluate(_OVERFLOW)
    assert scroll <= client, f"the page is {scroll} px wide in a {client} px window"
    tab.close()
    assert requested == [], requested
