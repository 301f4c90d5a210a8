"""Search in a terminal's scrollback: the match count, next and previous, every match
highlighted, the current one scrolled into view."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from .harness import ARTIFACTS, MakeAgent, NewPage, Relay, pane_selector, wait_for_buffer

pytestmark = pytest.mark.browser


def open_pane(page: Page, agent_id: str) -> Locator:
    page.locator(f'.agent-row[data-agent-id="{agent_id}"]').click()
    return page.locator(pane_selector(agent_id))


def test_search_finds_next_and_previous_and_highlights_matches(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    agent = make_agent("log")
    lines = [f"line {i:04d} ok" for i in range(500)]
    for i, word in ((20, "needle"), (250, "Needle"), (400, "needle"), (480, "haystack needle")):
        lines[i] = f"line {i:04d} {word}"
    agent.output("\r\n".join(lines) + "\r\n")
    page = new_page(1400, 900)
    page.goto(relay.dashboard_url("viewer"))
    pane = open_pane(page, "log")
    wait_for_buffer(page, "log", "line 0499 ok")

    pane.get_by_role("button", name="Search the scrollback").click()
    bar = pane.locator(".search-bar")
    box = bar.get_by_role("searchbox", name="Search the scrollback")
    expect(box).to_be_focused()
    box.fill("needle")
    # Incremental search starts from the end: the newest match is current.
    expect(bar.locator(".search-count")).to_have_text("4 of 4")
    expect(pane.locator(".xterm-find-result-decoration").first).to_be_attached()

    box.press("Shift+Enter")
    expect(bar.locator(".search-count")).to_have_text("3 of 4")
    box.press("Shift+Enter")
    expect(bar.locator(".search-count")).to_have_text("2 of 4")
    box.press("Shift+Enter")
    expect(bar.locator(".search-count")).to_have_text("1 of 4")
    # The first match (line 20) comes into view, far up in the scrollback.
    page.wait_for_function(
        "(sel) => { const p = document.querySelector(sel).scrollPlace();"
        " return p.viewportY <= 20 && 20 < p.viewportY + 24; }", arg=pane_selector("log"))
    box.press("Enter")
    expect(bar.locator(".search-count")).to_have_text("2 of 4")
    # The current match has its own outline (search.mjs: activeMatchBorder #f5c97b),
    # drawn when the terminal next renders.
    page.wait_for_function(
        "(sel) => [...document.querySelectorAll(`${sel} .xterm-find-result-decoration`)]"
        ".filter(e => e.style.display !== 'none'"
        " && e.style.outline.includes('rgb(245, 201, 123)')).length === 1",
        arg=pane_selector("log"))
    page.screenshot(path=str(ARTIFACTS / "search.png"))

    bar.locator("label.search-case").click()  # match case: "Needle" no longer matches
    expect(bar.locator(".search-count")).to_have_text(re.compile(r"^\d of 3$"))
    box.fill("nothing like this")
    expect(bar.locator(".search-count")).to_have_text("no match")

    box.press("Escape")
    expect(bar).to_be_hidden()
    expect(pane.locator(".xterm-find-result-decoration")).to_have_count(0)
    assert page_errors == []


def test_ctrl_shift_f_opens_search_in_the_focused_terminal(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    make_agent("t").output("find me here\r\n")
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    pane = open_pane(page, "t")
    wait_for_buffer(page, "t", "find me")
    pane.locator(".xterm").click()
    page.keyboard.press("Control+Shift+F")
    box = pane.get_by_role("searchbox", name="Search the scrollback")
    expect(box).to_be_focused()
    page.keyboard.type("me")
    expect(pane.locator(".search-count")).to_have_text("1 of 1")
