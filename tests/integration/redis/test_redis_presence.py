"""Presence across relays on one Redis: watchers and typists on any relay are listed for
the watchers on every relay; a relay that joins later learns who is there."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.test_presence import _presence, _watching

pytestmark = pytest.mark.redis


async def test_watchers_on_two_relays_see_each_other_and_typing(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    a, b = await make_fleet(2, typing_seconds=0.5)
    agent = await connect_agent(a, "a1")
    alice = await _watching(a, connect_dashboard, "alice", "viewer")
    bob = await _watching(b, connect_dashboard, "bob", "operator")
    both = [("alice", "viewer", 1, False), ("bob", "operator", 1, False)]
    await _presence(alice, both)
    await _presence(bob, both)
    await bob.send("terminal:input", agent_id="a1", data="y")
    await agent.expect("terminal:input")
    typing = await _presence(alice, [("bob", "operator", 1, True), ("alice", "viewer", 1, False)])
    assert typing["watchers"][0]["last_input"] == "terminal:input"
    # The lapse, announced by bob's relay; bob stays first (the most recent input).
    await _presence(alice, [("bob", "operator", 1, False), ("alice", "viewer", 1, False)])
    await bob.close()
    await _presence(alice, [("alice", "viewer", 1, False)])
    # A summary that did not change (the periodic refresh) sends nothing.
    await alice.send("heartbeat", ts=1)
    assert (await alice.expect("heartbeat"))["ts"] == 1


async def test_a_relay_that_starts_later_learns_who_is_watching(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    (a,) = await make_fleet(1)
    await connect_agent(a, "a1")
    alice = await _watching(a, connect_dashboard, "alice", "operator")
    await _presence(alice, [("alice", "operator", 1, False)])
    (late,) = await make_fleet(1)
    carol = await _watching(late, connect_dashboard, "carol", "viewer")
    both = [("alice", "operator", 1, False), ("carol", "viewer", 1, False)]
    await _presence(carol, both)
    await _presence(alice, both)
