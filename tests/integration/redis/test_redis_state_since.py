"""``state_since`` on the Redis hub: every script that changes ``state`` sets it in the
same call, a status that keeps the state leaves it, and records an older relay wrote
(without the field) still load.

The hub and the sweeper run with an injected clock, so every expected time is exact.
The same scenario table as the LocalHub (``tests/unit/test_hub.py``) is played here.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from relay.hub.interface import DashboardConn
from relay.protocol import AgentHello, AgentStatus
from relay.redis.hub import RedisHub
from relay.redis.keys import Keys
from relay.redis.liveness import Liveness
from relay.redis.state import AgentStore, gone_info, status_info
from tests.redis_server import RedisServer
from tests.timing import deadline
from tests.unit.fakes import AllScope, FakePeer
from tests.unit.test_hub import STATE_SINCE, Clock, Step, play

pytestmark = pytest.mark.redis

WAIT = 10.0
PREFIXES = (f"since-{n}" for n in itertools.count())


def hello(agent_id: str = "a1") -> AgentHello:
    return AgentHello(agent_id=agent_id, name=agent_id, host="h", command=("sh",), pid=1,
                      cols=80, rows=24, started_at=1.0)


@pytest.fixture
def keys() -> Keys:
    return Keys(next(PREFIXES))


@pytest.fixture
def clock() -> Clock:
    return Clock(1.0)


@pytest.fixture
async def hub(redis_server: RedisServer, keys: Keys, clock: Clock) -> AsyncIterator[RedisHub]:
    h = RedisHub(url=redis_server.url, scrollback_bytes=1 << 16, forget_after=3600.0,
                 liveness_ttl=1.0, sweep_interval=0.2, prefix=keys.prefix, clock=clock)
    await h.start()
    try:
        yield h
    finally:
        await h.close()


async def connected_agents(hub: RedisHub) -> list[dict[str, Any]]:
    """The agents of a fresh dashboard's ``dashboard:connected``: the relay's copy, after
    it caught up with every change made before (``attach_dashboard`` waits for that)."""
    conn = DashboardConn(session_id="s", sub="d", role="viewer", scope=AllScope(),
                         binary=False, peer=FakePeer())
    await hub.attach_dashboard(conn)
    assert isinstance(conn.peer, FakePeer)
    agents: list[dict[str, Any]] = conn.peer.messages()[0]["agents"]
    await hub.detach_dashboard(conn)
    return agents


async def write_old_record(redis_client: aioredis.Redis, keys: Keys, agent_id: str, *,
                           state: str, conn: str = "", relay: str = "") -> None:
    """An agent record as a relay from before ``state_since`` wrote it."""
    static = {"name": agent_id, "host": "h", "command": ["sh"], "labels": {},
              "started_at": 1.0}
    await redis_client.hset(keys.agent(agent_id), mapping={
        "static": json.dumps(static), "state": state, "pid": "1", "cols": "80",
        "rows": "24", "exit_code": "", "seen": "5.0", "end": "0", "start": "0",
        "conn": conn, "relay": relay, "v": str(await redis_client.incr(keys.seq)),
    })
    await redis_client.sadd(keys.agents, agent_id)
    if relay:
        await redis_client.hset(keys.live, agent_id, relay)


# --------------------------------------------------------------------------- the hub


@pytest.mark.parametrize(("steps", "state", "since"), STATE_SINCE)
async def test_state_since_moves_only_when_the_state_changes(
    hub: RedisHub, clock: Clock, steps: list[Step], state: str, since: float
) -> None:
    await play(hub, clock, steps)
    info = await hub.get_agent("a1")  # read from Redis
    assert info is not None
    assert (info.state, info.state_since) == (state, since)
    [listed] = await hub.list_agents(AllScope())  # the snapshot script
    assert (listed.state, listed.state_since) == (state, since)
    [shown] = await connected_agents(hub)  # the relay's copy, kept by events
    assert (shown["state"], shown["state_since"]) == (state, since)


async def test_an_agent_on_a_dead_relay_gets_state_since_when_the_sweeper_disconnects_it(
    hub: RedisHub, redis_client: aioredis.Redis, keys: Keys, clock: Clock
) -> None:
    """The hub's own sweeper (running in the background) finds an agent whose relay has
    no alive key; the dashboard's event shows the sweeper's time."""
    dash = DashboardConn(session_id="s", sub="d", role="viewer", scope=AllScope(),
                         binary=False, peer=FakePeer())
    await hub.attach_dashboard(dash)
    store = AgentStore(redis_client, keys)
    await store.attach(hello(), "c-dead", "dead-relay", 10.0)  # never sets its alive key
    clock.now = 50.0
    assert isinstance(dash.peer, FakePeer)
    async with deadline(WAIT):
        while not any(m["agent"]["state"] == "disconnected"
                      for m in dash.peer.of_type("agent:status")):
            dash.peer.changed.clear()
            await dash.peer.changed.wait()
    states = [(m["agent"]["state"], m["agent"]["state_since"])
              for m in dash.peer.of_type("agent:status")]
    assert states == [("running", 10.0), ("disconnected", 50.0)]


# --------------------------------------------------------------------------- the scripts


@pytest.fixture
def store(redis_client: aioredis.Redis, keys: Keys) -> AgentStore:
    return AgentStore(redis_client, keys)


def sweeper(redis_client: aioredis.Redis, keys: Keys, store: AgentStore, now: float) -> Liveness:
    return Liveness(redis_client, keys, "sweeper", store, ttl=1.0, sweep_interval=0.2,
                    forget_after=3600.0, clock=lambda: now, on_down=lambda: None)


@pytest.mark.parametrize(("before", "state", "since"), [
    pytest.param("running", "disconnected", 50.0, id="running-moves"),
    pytest.param("idle", "disconnected", 50.0, id="idle-moves"),
    pytest.param("exited", "exited", 20.0, id="exited-keeps"),
])
async def test_the_sweep_sets_state_since_in_the_same_script(
    redis_client: aioredis.Redis, keys: Keys, store: AgentStore, before: str, state: str,
    since: float,
) -> None:
    await store.attach(hello(), "c1", "dead-relay", 10.0)
    if before != "running":
        info = status_info("a1", None, AgentStatus(before, 1, 80, 24, exit_code=0), 20.0, 0)  # type: ignore[arg-type]
        assert await store.status("a1", "c1", info, 20.0, 3600.0)
    await sweeper(redis_client, keys, store, 50.0).sweep()
    record = await store.get("a1")
    assert record is not None
    assert (record.info.state, record.info.state_since, record.conn) == (state, since, "")


async def test_a_record_without_state_since_loads_with_none(
    redis_server: RedisServer, redis_client: aioredis.Redis, keys: Keys, store: AgentStore
) -> None:
    await write_old_record(redis_client, keys, "old-1", state="idle")
    record = await store.get("old-1")
    assert record is not None
    assert (record.info.state, record.info.state_since) == ("idle", None)
    hub = RedisHub(url=redis_server.url, scrollback_bytes=1 << 16, forget_after=3600.0,
                   prefix=keys.prefix)
    await hub.start()  # its first sync loads the record from the snapshot
    try:
        [listed] = await hub.list_agents(AllScope())
        assert listed.state_since is None
        [shown] = await connected_agents(hub)
        assert shown["state"] == "idle"
        assert "state_since" not in shown
    finally:
        await hub.close()


async def test_an_old_record_gets_state_since_at_its_next_change_of_state(
    redis_client: aioredis.Redis, keys: Keys, store: AgentStore
) -> None:
    await write_old_record(redis_client, keys, "old-1", state="running", conn="c1", relay="r1")
    same = status_info("old-1", None, AgentStatus("running", 1, 100, 30), 20.0, 0)
    assert await store.status("old-1", "c1", same, 20.0, 3600.0)
    record = await store.get("old-1")
    assert record is not None
    assert record.info.state_since is None  # a resize: the state, and so its start, unknown
    idle = status_info("old-1", None, AgentStatus("idle", 1, 100, 30), 30.0, 0)
    assert await store.status("old-1", "c1", idle, 30.0, 3600.0)
    record = await store.get("old-1")
    assert record is not None
    assert (record.info.state, record.info.state_since) == ("idle", 30.0)


async def test_the_sweep_sets_state_since_on_an_old_record(
    redis_client: aioredis.Redis, keys: Keys, store: AgentStore
) -> None:
    await write_old_record(redis_client, keys, "old-1", state="running", conn="c1",
                           relay="dead-relay")
    await sweeper(redis_client, keys, store, 50.0).sweep()
    record = await store.get("old-1")
    assert record is not None
    assert (record.info.state, record.info.state_since) == ("disconnected", 50.0)


@pytest.mark.parametrize(("stored", "mine", "since"), [
    pytest.param(None, ("idle", 20.0), 20.0, id="record-lost-takes-the-relays"),
    pytest.param(None, ("idle", None), 70.0, id="record-lost-unknown-takes-now"),
    pytest.param(("idle", 30.0), ("idle", 20.0), 30.0, id="same-state-keeps-redis"),
    pytest.param(("running", 10.0), ("idle", 20.0), 20.0, id="other-state-takes-the-relays"),
    pytest.param(("running", 10.0), ("idle", None), 70.0, id="other-state-unknown-takes-now"),
])
async def test_reassert_writes_state_since_with_the_state(
    redis_client: aioredis.Redis, keys: Keys, store: AgentStore,
    stored: tuple[str, float] | None, mine: tuple[str, float | None], since: float,
) -> None:
    """A relay writes its view of a live agent back (Redis lost the record, or the
    sweeper took the relay for dead while Redis was out of its reach)."""
    await store.attach(hello(), "c1", "r1", 10.0)
    if stored is None:
        await redis_client.delete(keys.agent("a1"))
    elif stored[0] != "running":
        status = status_info("a1", None, AgentStatus(stored[0], 1, 80, 24), stored[1], 0)  # type: ignore[arg-type]
        await store.status("a1", "c1", status, stored[1], 3600.0)
    base = status_info("a1", None, AgentStatus(mine[0], 1, 80, 24), 60.0, 0)  # type: ignore[arg-type]
    info = dataclasses.replace(base, state_since=mine[1])
    assert await store.reassert(info, "c1", "r1", 70.0, 0)
    record = await store.get("a1")
    assert record is not None
    assert (record.info.state, record.info.state_since) == (mine[0], since)


# --------------------------------------------------------------------------- Redis down


def test_a_status_while_redis_is_down_applies_the_same_rule_to_the_relays_copy() -> None:
    running = status_info("a1", None, AgentStatus("running", 1, 80, 24), 10.0, 0)
    assert running.state_since == 10.0
    resized = status_info("a1", running, AgentStatus("running", 1, 90, 24), 20.0, 0)
    assert resized.state_since == 10.0
    idle = status_info("a1", resized, AgentStatus("idle", 1, 90, 24), 30.0, 0)
    assert idle.state_since == 30.0
    gone = gone_info(idle, 40.0)
    assert (gone.state, gone.state_since, gone.last_seen) == ("disconnected", 40.0, 40.0)
    exited = status_info("a1", idle, AgentStatus("exited", None, 90, 24, exit_code=1), 50.0, 0)
    assert gone_info(exited, 60.0).state_since == 50.0
