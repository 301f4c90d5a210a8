"""A live agent that a sweeper wrongly took for dead (its relay missed its liveness
refresh) is written back by its relay with the state its sidecar last reported, not
with the ``disconnected`` the sweep left in the relay's copy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from relay.hub.interface import AgentConn, DashboardConn
from relay.protocol import AgentHello, AgentState, AgentStatus, TerminalOutput
from relay.redis.hub import RedisHub
from relay.redis.keys import Keys
from relay.redis.state import AgentStore
from tests.redis_server import RedisServer
from tests.timing import deadline
from tests.unit.fakes import AllScope, FakePeer

pytestmark = pytest.mark.redis

WAIT = 10.0


@pytest.fixture
async def hub(redis_server: RedisServer) -> AsyncIterator[RedisHub]:
    h = RedisHub(url=redis_server.url, scrollback_bytes=1 << 16, forget_after=3600.0,
                 liveness_ttl=5.0, sweep_interval=60.0, prefix="reassert")
    await h.start()
    try:
        yield h
    finally:
        await h.close()


async def next_status(peer: FakePeer, seen: int) -> dict[str, Any]:
    """The first ``agent:status`` after the ``seen`` ones already looked at."""
    async with deadline(WAIT):
        while len(peer.of_type("agent:status")) <= seen:
            peer.changed.clear()
            await peer.changed.wait()
    agent: dict[str, Any] = peer.of_type("agent:status")[seen]["agent"]
    return agent


@pytest.mark.parametrize("reported", ["running", "idle"])
async def test_a_wrongly_swept_agent_comes_back_in_the_state_it_reported(
    hub: RedisHub, redis_client: aioredis.Redis, reported: AgentState
) -> None:
    dash = DashboardConn(session_id="s", sub="d", role="viewer", scope=AllScope(),
                         binary=False, peer=FakePeer())
    await hub.attach_dashboard(dash)
    peer = dash.peer
    assert isinstance(peer, FakePeer)
    conn = AgentConn(agent_id="a1", conn_id="c1", sub="a1", peer=FakePeer())
    await hub.attach_agent(conn, AgentHello(agent_id="a1", name="a1", host="h",
                                            command=("sh",), pid=7, cols=80, rows=24,
                                            started_at=1.0))
    seen = 0
    while (await next_status(peer, seen))["state"] != "running":
        seen += 1
    seen += 1
    if reported != "running":
        await hub.agent_status(conn, AgentStatus(state=reported, pid=7, cols=80, rows=24))
        while (await next_status(peer, seen))["state"] != reported:
            seen += 1
        seen += 1

    # The relay misses its refresh: another relay's sweeper marks its agent disconnected.
    keys = Keys("reassert")
    store = AgentStore(redis_client, keys)
    async with deadline(WAIT):
        while True:
            await redis_client.delete(keys.alive(hub.relay_id))
            if await store.sweep_dead("a1", hub.relay_id, 100.0, 3700.0):
                break
    assert (await next_status(peer, seen))["state"] == "disconnected"
    seen += 1

    # The sidecar is still connected and writes: its relay writes the agent back.
    await hub.agent_output(conn, TerminalOutput(agent_id="a1", offset=0, data=b"still here"))
    back = await next_status(peer, seen)
    assert back["state"] == reported
    info = await hub.get_agent("a1")
    assert info is not None
    assert info.state == reported
