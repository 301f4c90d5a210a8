"""What the dashboard keeps across tabs and reloads: the token (per browser session,
never in the URL), the open terminals and where they were scrolled, and `#agent=ID`
links to one agent. Also: a finished agent's pane says so instead of waiting forever."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from .harness import MakeAgent, NewPage, Relay, pane_selector, token, wait_for_buffer

pytestmark = pytest.mark.browser


def row(page: Page, agent_id: str) -> Locator:
    return page.locator(f'.agent-row[data-agent-id="{agent_id}"]')


def scroll_place(page: Page, agent_id: str) -> dict[str, int]:
    return dict(page.locator(pane_selector(agent_id)).evaluate("el => el.scrollPlace()"))


def test_a_new_tab_needs_no_token_and_forget_token_forgets_it_everywhere(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    make_agent("a1").output("hello from a1\r\n")
    first = new_page()
    first.goto(relay.dashboard_url("operator", sub="maria"))
    expect(first.locator("#conn-text")).to_have_text("connected")

    # A second tab of the same browser, opened from a bookmark: no token in its URL.
    second = new_page(context=first.context)
    second.goto(f"{relay.url}/#agent=a1")
    expect(second.locator("#conn-text")).to_have_text("connected")
    expect(second.locator("#identity")).to_have_text("maria · operator")
    expect(second.locator("#token-dialog")).to_be_hidden()
    wait_for_buffer(second, "a1", "hello from a1")
    assert "token" not in second.url
    assert second.url.endswith("#agent=a1")
    assert second.evaluate("() => localStorage.length") == 0

    second.get_by_role("button", name="Forget token").click()
    for page in (first, second):
        expect(page.locator("#token-dialog")).to_be_visible()
        expect(page.locator("#conn-text")).to_have_text("not connected")
        assert page.evaluate("() => sessionStorage.getItem('agent-sidecar.dashboard.token')") is None
    third = new_page(context=first.context)
    third.goto(relay.url + "/")
    expect(third.locator("#token-dialog")).to_be_visible()
    assert page_errors == []


def test_another_browser_gets_no_token(relay: Relay, new_page: NewPage) -> None:
    first = new_page()
    first.goto(relay.dashboard_url("operator"))
    expect(first.locator("#conn-text")).to_have_text("connected")
    stranger = new_page()  # another context: another browser profile
    stranger.goto(relay.url + "/")
    expect(stranger.locator("#token-dialog")).to_be_visible()


def test_reload_keeps_the_open_terminals_and_where_they_were_scrolled(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    make_agent("logs").output("".join(f"log line {i:04d}\r\n" for i in range(600)))
    make_agent("shell").output("$ ")
    page = new_page(1440, 900)
    page.goto(relay.dashboard_url("viewer"))
    row(page, "logs").click()
    row(page, "shell").click()
    wait_for_buffer(page, "logs", "log line 0599")
    wait_for_buffer(page, "shell", "$")
    # Scroll the log up with the mouse wheel, well away from the bottom.
    box = page.locator(pane_selector("logs")).locator(".xterm-screen").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(30):  # xterm.js scrolls a few lines per wheel event
        page.mouse.wheel(0, -300)
    page.wait_for_function(
        "(sel) => { const p = document.querySelector(sel).scrollPlace();"
        " return p.viewportY < p.baseY - 50; }", arg=pane_selector("logs"))
    place = scroll_place(page, "logs")
    # The scroll position is written once scrolling pauses.
    page.wait_for_function(
        "(y) => JSON.parse(sessionStorage.getItem('agent-sidecar.dashboard.workspace')).scroll.logs?.line === y",
        arg=place["viewportY"])

    page.reload()
    expect(page.locator("#conn-text")).to_have_text("connected")
    expect(page.locator(".pane")).to_have_count(2)
    expect(page.locator(pane_selector("logs"))).to_have_attribute("data-restored", "scroll")
    wait_for_buffer(page, "shell", "$")
    assert scroll_place(page, "logs")["viewportY"] == place["viewportY"]
    shell = scroll_place(page, "shell")
    assert shell["viewportY"] == shell["baseY"]
    expect(row(page, "logs")).to_have_class(re.compile("is-open"))

    # Closed terminals stay closed after the next reload.
    page.locator(pane_selector("logs")).get_by_role("button", name="Close terminal").click()
    page.reload()
    expect(page.locator("#conn-text")).to_have_text("connected")
    expect(page.locator(pane_selector("shell"))).to_be_visible()
    expect(page.locator(".pane")).to_have_count(1)
    assert page_errors == []


def test_an_agent_link_opens_that_agent_and_follows_the_front_pane(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    make_agent("a1", name="first").output("one\r\n")
    make_agent("a2", name="second").output("two\r\n")
    page = new_page()
    page.goto(f"{relay.url}/#agent=a2&token={token('viewer')}")
    wait_for_buffer(page, "a2", "two")
    assert page.url == f"{relay.url}/#agent=a2"
    expect(page.locator(".pane")).to_have_count(1)
    link = page.locator(pane_selector("a2")).locator(".pane-link-btn")
    expect(link).to_have_attribute("href", f"{relay.url}/#agent=a2")
    expect(page).to_have_title("second · agent-sidecar")

    row(page, "a1").click()
    wait_for_buffer(page, "a1", "one")
    expect(page).to_have_url(f"{relay.url}/#agent=a1")
    expect(page).to_have_title("first · agent-sidecar")
    page.locator(pane_selector("a2")).locator(".xterm").click()
    expect(page).to_have_url(f"{relay.url}/#agent=a2")

    # Editing the fragment by hand opens what it names; an unknown id is ignored.
    page.evaluate("() => { location.hash = 'agent=nobody'; }")
    page.evaluate("() => { location.hash = 'agent=a1'; }")
    expect(page).to_have_url(f"{relay.url}/#agent=a1")
    expect(page.locator(".pane")).to_have_count(2)
    assert page_errors == []


def test_a_link_to_an_agent_not_yet_connected_opens_it_when_it_arrives(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    page = new_page()
    page.goto(f"{relay.url}/#agent=late&token={token('viewer')}")
    expect(page.locator("#conn-text")).to_have_text("connected")
    expect(page.locator(".pane")).to_have_count(0)
    make_agent("early").output("not me\r\n")
    make_agent("late").output("here at last\r\n")
    wait_for_buffer(page, "late", "here at last")
    expect(page.locator(".pane")).to_have_count(1)
    assert page.url.endswith("#agent=late")
    assert page_errors == []


def test_a_finished_agent_says_exited_and_never_waits_to_reconnect(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    agent = make_agent("done")
    agent.output("all done\r\n")
    page = new_page()
    page.goto(relay.dashboard_url("viewer"))
    row(page, "done").click()
    pane = page.locator(pane_selector("done"))
    wait_for_buffer(page, "done", "all done")
    agent.status("exited", exit_code=3)
    expect(pane.locator(".pane-activity")).to_have_text(re.compile(r"^exited 3 · ended \S+"))
    agent.close()
    expect(row(page, "done").locator(".agent-state")).to_have_text("exited 3")

    # The relay restarts and no longer knows the agent: the pane keeps what it had and
    # says the agent finished instead of "waiting for the agent to reconnect".
    relay.restart()
    expect(page.locator("#conn-status")).to_have_attribute("data-connects", "2", timeout=20_000)
    notice = pane.locator(".pane-notice")
    expect(notice).to_contain_text("Exited 3")
    expect(notice).not_to_contain_text("reconnect")
    assert "all done" in pane.evaluate("el => el.bufferText()")
    assert page_errors == []
