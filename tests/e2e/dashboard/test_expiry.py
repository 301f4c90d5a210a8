"""Token expiry in the browser: the relay closes the session with 4401 at the token's
``exp``; the page says the session expired and does not reconnect with the dead token."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.timing import scaled

from .harness import MakeAgent, NewPage, Relay, token

pytestmark = pytest.mark.browser

#: Long enough for the page to load and connect before ``exp`` (whole seconds: 3-4 s).
TTL = 4


def test_an_expired_session_says_so_and_does_not_reconnect(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    make_agent("a1")
    page = new_page()
    opened: list[str] = []
    page.on("websocket", lambda ws: opened.append(ws.url))
    # Fake timers that run in real time until told otherwise: afterwards every pending
    # timer (a reconnect backoff included) can be fired at once with run_for.
    page.clock.install()
    page.goto(f"{relay.url}/#token={token('operator', sub='brief', ttl=TTL)}")
    status = page.locator("#conn-status")
    expect(page.locator("#conn-text")).to_have_text("connected")
    expect(status).to_have_attribute("data-connects", "1")
    expect(page.locator('.agent-row[data-agent-id="a1"]')).to_be_visible()

    expect(page.locator("#conn-text")).to_have_text("session expired", timeout=scaled(TTL * 1000 + 5000))
    expect(status).to_have_attribute("data-state", "refused")
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    message = page.locator("#token-message")
    expect(message).to_contain_text("Session expired")
    expect(message).to_contain_text("fresh dashboard link")
    expect(message).to_contain_text("mint a new token")
    expect(page.locator("#conn-retry")).to_be_hidden()

    # Fire every timer the page has, far past the longest backoff: a reconnect would
    # open a socket and show "connecting…" synchronously.
    page.clock.run_for(120_000)
    expect(page.locator("#conn-text")).to_have_text("session expired")
    expect(status).to_have_attribute("data-connects", "1")
    assert len(opened) == 1, opened
    # The dead token is forgotten, so a reload asks for a token instead of retrying it.
    assert page.evaluate("() => sessionStorage.length") == 0
    assert not page_errors
