"""Notifications with several relays on one Redis: every relay sees every transition,
each channel gets it once (a SET NX claim per channel and transition)."""

from __future__ import annotations

from typing import Any

import pytest

from relay.appkeys import NOTIFIER
from tests.contract.test_activity import WAITING, WORKING, _is
from tests.notify_receiver import Receiver, make_receiver
from tests.timing import deadline

__all__ = ["make_receiver"]

pytestmark = pytest.mark.redis

FAST = {"notify_retry_delay": 0.01, "notify_timeout": 2.0, "public_url": "https://r.example"}


async def _all_drained(relays: list[Any], watchers: list[Any], last: str) -> None:
    """Once each relay applied the event of agent ``last``'s WAITING (events apply in
    order, and the notifier sees each before dashboards do), every relay has queued what
    it will queue: wait until each has worked through it."""
    for watcher in watchers:
        await watcher.wait_for("agent:status", _is(last, activity=WAITING))
    async with deadline(5):
        for relay in relays:
            await relay.app[NOTIFIER].drained()


async def test_two_relays_on_one_redis_deliver_each_transition_once_per_channel(
    make_fleet: Any, make_receiver: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    hook: Receiver = await make_receiver()
    ntfy: Receiver = await make_receiver()
    relays = await make_fleet(2, notify_webhooks=(hook.url,), notify_ntfy=(ntfy.url,), **FAST)
    watchers = [await connect_dashboard(r) for r in relays]
    agent = await connect_agent(relays[0], "a1")
    other = await connect_agent(relays[1], "b1")
    await agent.send("agent:activity", activity=WAITING)
    await other.send("agent:activity", activity=WORKING)
    await other.send("agent:activity", activity=WAITING)
    got = sorted([(await hook.next()).json()["agent_id"] for _ in range(2)])
    assert got == ["a1", "b1"]
    assert sorted([(await ntfy.next()).body.decode().splitlines()[-1] for _ in range(2)]) == [
        "a1 on testhost", "b1 on testhost"]
    await _all_drained(relays, watchers, "b1")
    assert (hook.count, ntfy.count) == (2, 2)


async def test_a_sidecar_that_moves_to_another_relay_does_not_notify_again(
    make_fleet: Any, make_receiver: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    hook: Receiver = await make_receiver()
    relays = await make_fleet(2, notify_webhooks=(hook.url,), **FAST)
    watchers = [await connect_dashboard(r) for r in relays]
    agent = await connect_agent(relays[0], "a1", pid=5, started_at=2.0)
    await agent.send("agent:activity", activity=WAITING)
    await hook.next()
    await agent.close()
    moved = await connect_agent(relays[1], "a1", pid=5, started_at=2.0)
    await moved.send("agent:activity", activity=WAITING)  # resent after the reconnect
    sentinel = await connect_agent(relays[1], "s1")
    await sentinel.send("agent:activity", activity=WAITING)
    assert (await hook.next()).json()["agent_id"] == "s1"
    await _all_drained(relays, watchers, "s1")
    assert hook.count == 2
