"""Presence in the page (issue 14): each pane says who else watches the agent and who
is typing into it, from the relay's ``agent:presence`` (asked for in dashboard:connect)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .harness import ARTIFACTS, MakeAgent, NewPage, Relay, pane_selector, token, wait_for_buffer

pytestmark = pytest.mark.browser


def test_a_pane_shows_who_else_watches_and_who_types(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    agent = make_agent("a1", name="claude: api")
    agent.output("ready\r\n")
    alice = new_page()
    alice.goto(f"{relay.url}/#agent=a1&token={token('operator', sub='alice')}")
    wait_for_buffer(alice, "a1", "ready")
    bob = new_page()
    bob.goto(f"{relay.url}/#agent=a1&token={token('viewer', sub='bob')}")
    wait_for_buffer(bob, "a1", "ready")
    bob_line = bob.locator(f"{pane_selector('a1')} .pane-presence")
    alice_line = alice.locator(f"{pane_selector('a1')} .pane-presence")
    expect(bob_line).to_contain_text("also watching: alice")
    expect(alice_line).to_contain_text("also watching: bob")

    alice.locator(f"{pane_selector('a1')} .xterm").click()
    alice.keyboard.type("ls")
    agent.wait_for(lambda got: any(m.get("data") == "s" for m in got))
    expect(bob_line.locator(".presence-typing")).to_have_text("alice typing")
    bob.screenshot(path=str(ARTIFACTS / "presence-typing.png"))
    expect(bob_line.locator(".presence-typing")).to_have_count(0, timeout=12_000)  # lapsed

    alice.close()
    expect(bob_line).to_be_hidden()
    assert page_errors == []
