"""The fleet list's "time in state" comes from the relay's ``state_since``, so a page
loaded long after an agent changed state shows how long it has really been there.

The relay runs with an injected clock (the hub's ``clock`` parameter) that first lags
two hours: the agents connect and one goes idle "two hours ago" as far as the relay can
tell. Then the clock is set right and a fresh page loads. Without ``state_since`` the
page would guess: "0s" for the idle agent, ``started_at`` (3 h 17 m ago, the fake
agent's default) for the running one.
"""

from __future__ import annotations

import functools
import re
import time

import pytest
from playwright.sync_api import Locator, Page, expect

import relay.hub.factory
from relay.hub.local import LocalHub

from .harness import CustomRelay, NewPage

pytestmark = pytest.mark.browser

TWO_HOURS = 2 * 3600.0


def row(page: Page, agent_id: str) -> Locator:
    return page.locator(f'.agent-row[data-agent-id="{agent_id}"]')


@pytest.fixture
def lag(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Seconds the relays made after this fixture lag behind real time (settable)."""
    behind = [0.0]

    def clock() -> float:
        return time.time() - behind[0]

    monkeypatch.setattr(relay.hub.factory, "LocalHub", functools.partial(LocalHub, clock=clock))
    return behind


def test_a_fresh_page_shows_the_time_since_the_relay_saw_the_state_change(
    lag: list[float], custom_relay: CustomRelay, new_page: NewPage, page_errors: list[str]
) -> None:
    lag[0] = TWO_HOURS
    server, make_agent = custom_relay()
    make_agent("runner")
    make_agent("idler").status("idle")
    first = new_page()
    first.goto(server.dashboard_url("viewer"))
    # The relay has applied the idle status once a page shows it.
    expect(row(first, "idler").locator(".agent-state")).to_have_text("idle")
    lag[0] = 0.0

    page = new_page()
    page.goto(server.dashboard_url("viewer"))
    expect(row(page, "idler").locator(".agent-state")).to_have_text("idle")
    two_hours = re.compile(r"^2h 0\dm$")
    expect(row(page, "idler").locator(".agent-since")).to_have_text(two_hours)
    expect(row(page, "runner").locator(".agent-since")).to_have_text(two_hours)
    assert page_errors == []
