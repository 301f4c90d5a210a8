"""Redis lost its data, and a relay finds out late: the dataset's epoch still tells it.

Regression: a relay took "Redis lost its data" from the record version counter going
back. When other relays had already written their agents back and pushed the counter
past the version this relay had applied, it took the empty Redis for the real state:
agents of relays that had not reconnected yet were announced as removed at once (and
came back a moment later), and routing kept versions of the old dataset.

Relays A and C reach Redis through a :class:`Partition` (a TCP proxy the test can cut),
so the order of the resyncs is fixed: B first, then A, then C.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from relay.app import create_app
from relay.appkeys import HUB
from relay.config import RelayConfig
from relay.redis.hub import RedisHub
from relay.redis.keys import DEFAULT_PREFIX, Keys
from relay.redis.state import AgentStore
from tests.redis_server import RedisServer
from tests.timing import deadline
from tests.wsclient import JsonDict, WsPeer

pytestmark = pytest.mark.redis

WAIT = 15.0
KEYS = Keys(DEFAULT_PREFIX)
#: Grace period after a data loss: liveness TTL + sweep interval = 5.2 s, longer than the
#: capped reconnect backoff (2 s) of the relay that comes back last. The test does not
#: read the agents' sockets (nor answer pings) while it waits out that period.
TIMINGS = {"redis_liveness_ttl": 5.0, "redis_sweep_interval": 0.2, "dead_after": 60.0}


class Partition:
    """A TCP proxy between one relay and Redis. ``cut()`` drops its connections and
    refuses new ones (accepted, then closed at once); ``heal()`` lets them through."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._open = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}/0"

    def cut(self) -> None:
        self._open = False
        for writer in list(self._writers):
            writer.close()

    def heal(self) -> None:
        self._open = True

    async def close(self) -> None:
        self.cut()
        self._server.close()
        await self._server.wait_closed()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        pair = [writer]
        try:
            if not self._open:
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._port)
            pair.append(up_writer)
            self._writers.update(pair)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except OSError:
            pass  # Redis is down: the relay sees its connection closed
        finally:
            for w in pair:
                w.close()
                self._writers.discard(w)
            self._handlers.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@pytest.fixture
async def partitions(
    redis_server: RedisServer,
) -> AsyncIterator[Callable[[], Awaitable[Partition]]]:
    made: list[Partition] = []

    async def make() -> Partition:
        partition = Partition(redis_server.port)
        await partition.start()
        made.append(partition)
        return partition

    yield make
    for partition in made:
        await partition.close()


async def _until_healthy(client: TestClient[Any, Any]) -> None:
    """Poll /healthz under a deadline: no event announces that a relay has resynced."""
    async with deadline(WAIT):
        while (await client.get("/healthz")).status != 200:
            await asyncio.sleep(0.05)


class Log:
    """Everything a dashboard receives, kept so the test can check it at the end."""

    def __init__(self, peer: WsPeer) -> None:
        self.peer = peer
        self.messages: list[JsonDict] = []
        peer.timeout = WAIT

    async def until(self, where: Callable[[JsonDict], bool]) -> JsonDict:
        while True:
            msg = await self.peer.recv()
            self.messages.append(msg)
            if where(msg):
                return msg

    async def status(self, agent_id: str, cols: int | None = None) -> JsonDict:
        return await self.until(
            lambda m: m["type"] == "agent:status" and m["agent"]["agent_id"] == agent_id
            and (cols is None or m["agent"]["cols"] == cols)
        )

    def removed(self) -> list[str]:
        return [m["agent_id"] for m in self.messages if m["type"] == "agent:removed"]


async def _status(agent: WsPeer, cols: int) -> None:
    await agent.send("agent:status", state="running", pid=4242, cols=cols, rows=24)


async def test_a_relay_that_resyncs_after_others_pushed_the_counter_past_it_waits_for_agents(
    aiohttp_client: Any, make_config: Callable[..., RelayConfig], redis_server: RedisServer,
    partitions: Callable[[], Awaitable[Partition]], connect_agent: Any, connect_dashboard: Any,
) -> None:
    to_a, to_c = await partitions(), await partitions()
    a, b, c = [
        await aiohttp_client(create_app(make_config(redis_url=url, **TIMINGS)))
        for url in (to_a.url, redis_server.url, to_c.url)
    ]
    agents = {name: await connect_agent(relay, name)
              for name, relay in (("a1", a), ("b1", b), ("c1", c))}
    dash = await connect_dashboard(a)
    seen = Log(dash)
    ids = {i["agent_id"] for i in dash.connected["agents"]}
    while ids != set(agents):
        ids.add((await seen.until(lambda m: m["type"] == "agent:status"))["agent"]["agent_id"])
    on_b = Log(await connect_dashboard(b))
    check = redis_server.client(retry=Retry(NoBackoff(), 1))  # survives the restart
    try:
        old_seq = int(await check.get(KEYS.seq) or 0)  # A has applied at most this

        # Redis restarts empty while A and C are cut off; B writes back its agent, and
        # (issue 11) the others of its copy as disconnected until their relays return.
        to_a.cut()
        to_c.cut()
        await redis_server.stop(kill=True)
        await redis_server.start()
        await _until_healthy(b)
        # More changes on B push the counter past what A had applied.
        for cols in range(100, 100 + old_seq + 1):
            await _status(agents["b1"], cols)
        await on_b.status("b1", cols)
        assert int(await check.get(KEYS.seq) or 0) > old_seq
        assert await check.smembers(KEYS.agents) == {b"a1", b"b1", b"c1"}
        assert await check.hget(KEYS.agent("a1"), "state") == b"disconnected"

        # A resyncs: C has not had its turn yet; c1 stays disconnected, a1 runs again.
        to_a.heal()
        await _until_healthy(a)
        hub = a.server.app[HUB]
        assert isinstance(hub, RedisHub)
        assert await check.hget(KEYS.agent("c1"), "state") == b"disconnected"
        assert await check.hget(KEYS.agent("a1"), "state") == b"running"
        await _status(agents["b1"], 200)  # a fence: anything sent during A's resync is before it
        await seen.status("b1", 200)
        assert seen.removed() == []

        # C comes back within the grace period and writes c1 back.
        to_c.heal()
        await seen.until(lambda m: m["type"] == "agent:status"
                         and m["agent"]["agent_id"] == "c1" and m["agent"]["state"] == "running")
        # Control routes from A's dashboard to every agent, wherever it is.
        for name, agent in agents.items():
            await seen.peer.send("command:request", agent_id=name, request_id=f"r-{name}",
                                 input=f"to {name}")
            request = await agent.wait_for("command:request")
            assert request["input"] == f"to {name}"
            await agent.send("command:ack", request_id=request["request_id"], ok=True)
            ack = await seen.until(lambda m: m["type"] == "command:ack")
            assert (ack["agent_id"], ack["request_id"], ack["ok"]) == (name, f"r-{name}", True)

        # A spawned no delayed removal (nothing was missing after its restore).
        assert not hub._tasks
        await _status(agents["b1"], 300)
        await seen.status("b1", 300)
        assert seen.removed() == []
        fresh = await connect_dashboard(a)
        assert sorted(i["agent_id"] for i in fresh.connected["agents"]) == ["a1", "b1", "c1"]
    finally:
        await check.aclose()


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[tuple[AgentStore, aioredis.Redis]]:
    client = redis_server.client()
    try:
        yield AgentStore(client, KEYS), client
    finally:
        await client.aclose()


async def test_sync_reports_a_data_loss_by_a_new_epoch_or_a_counter_that_went_back(
    store: tuple[AgentStore, aioredis.Redis],
) -> None:
    agents, client = store
    first, lost = await agents.sync(0)
    assert not lost  # the first sync has nothing to compare with
    assert first.epoch
    assert await client.get(KEYS.epoch) == first.epoch.encode()
    other = AgentStore(client, KEYS)
    assert (await other.snapshot()).epoch == first.epoch  # every relay reads the same one

    await client.set(KEYS.seq, 40)
    snap, lost = await agents.sync(first.version)
    assert (snap.version, snap.epoch, lost) == (40, first.epoch, False)

    await client.set(KEYS.seq, 30)  # same dataset, older state (a lagging replica)
    snap, lost = await agents.sync(40)
    assert (snap.epoch, lost) == (first.epoch, True)

    await client.flushdb()
    await client.set(KEYS.seq, 99)  # others wrote a lot before this relay came back
    snap, lost = await agents.sync(30)
    assert snap.version == 99
    assert snap.epoch != first.epoch
    assert lost
    assert (await agents.sync(99))[1] is False  # the new epoch is now this relay's
