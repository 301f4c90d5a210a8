"""Contract section 10 under failure: a relay stops (gracefully or hard), Redis restarts.

The sidecar is the real CLI in a subprocess (``agent-sidecar run --relay A --relay B``).
The relay that is killed hard runs in its own process (``serve`` with short liveness
timings) so SIGKILL leaves its state in Redis exactly as a crash would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from relay.auth import mint_token
from relay.hub.interface import AgentConn, DashboardConn
from relay.protocol import AgentHello, TerminalOutput
from relay.redis.hub import RedisHub
from relay.redis.keys import DEFAULT_PREFIX, Keys
from relay.server import start_relay
from tests.e2e.conftest import Cli
from tests.redis_server import RedisServer
from tests.timing import deadline
from tests.unit.fakes import AllScope, FakePeer
from tests.wsclient import WsPeer, output_bytes

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[3]
PY = sys.executable
WAIT = 15.0
KEYS = Keys(DEFAULT_PREFIX)
FAST = ("--reconnect-initial", "0.05", "--reconnect-max", "0.3", "--eof-grace", "0.2")

RELAY = """
import asyncio, os, sys
from relay.config import RelayConfig
from relay.server import serve
config = RelayConfig(
    host="127.0.0.1", port=0, jwt_secret=os.environ["SECRET"].encode(),
    redis_url=os.environ["REDIS"], redis_liveness_ttl=1.0, redis_sweep_interval=0.2,
    shutdown_timeout=2.0,
)
sys.exit(asyncio.run(serve(config)))
"""

PHASES = """
import sys
for i in range(3000):
    print(f"one {i:05d} " + "a" * 40)
print("phase-one-done", flush=True)
sys.stdin.readline()
for i in range(3000):
    print(f"two {i:05d} " + "b" * 40)
print("phase-two-done", flush=True)
sys.exit(7)
"""


def expected_phases() -> bytes:
    one = b"".join(f"one {i:05d} ".encode() + b"a" * 40 + b"\r\n" for i in range(3000))
    two = b"".join(f"two {i:05d} ".encode() + b"b" * 40 + b"\r\n" for i in range(3000))
    return one + b"phase-one-done\r\n" + b"go\r\n" + two + b"phase-two-done\r\n"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_SIDECAR", "AGENT_RELAY"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@pytest.fixture
async def spawn(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Cli]]]:
    procs: list[Cli] = []

    async def start(*argv: str, env: dict[str, str] | None = None) -> Cli:
        runtime = tmp_path / f"xdg{len(procs)}"
        runtime.mkdir(mode=0o700)
        proc = await asyncio.create_subprocess_exec(
            PY, *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, cwd=str(REPO),
            env=_env(XDG_RUNTIME_DIR=str(runtime), **(env or {})),
        )
        cli = Cli(proc)
        procs.append(cli)
        return cli

    yield start
    for cli in procs:
        if cli.proc.returncode is None:
            cli.signal(signal.SIGKILL)
            await cli.proc.wait()


@pytest.fixture
def relay_proc(
    spawn: Callable[..., Awaitable[Cli]], secret: bytes, redis_server: RedisServer
) -> Callable[[], Awaitable[tuple[Cli, int]]]:
    async def start() -> tuple[Cli, int]:
        cli = await spawn("-c", RELAY, env={"SECRET": secret.decode(), "REDIS": redis_server.url})
        match = await cli.line(r"listening on http://127\.0\.0\.1:(\d+)", timeout=WAIT)
        return cli, int(match.group(1))

    return start


class Follower:
    """A dashboard's view of one agent's stream, checked for exact continuity."""

    def __init__(self, peer: WsPeer, agent_id: str) -> None:
        self.peer = peer
        self.agent_id = agent_id
        self.data = bytearray()
        self.statuses: list[str] = []

    async def until(self, sentinel: bytes, timeout: float = WAIT) -> None:
        async with deadline(timeout):
            while sentinel not in self.data:
                msg = await self.peer.recv()
                if msg["type"] == "agent:status":
                    self.statuses.append(msg["agent"]["state"])
                if msg["type"] == "terminal:gap":
                    raise AssertionError(f"unexpected gap {msg}")
                if msg["type"] == "terminal:output" and msg["agent_id"] == self.agent_id:
                    assert msg["offset"] == len(self.data), (msg["offset"], len(self.data))
                    self.data += output_bytes(msg)

    async def request(self, input_: str, timeout: float = WAIT) -> dict[str, Any]:
        """Send a command until the agent is reachable again; its ack."""
        async with deadline(timeout):
            for attempt in range(1000):
                rid = f"r{attempt}"
                await self.peer.send("command:request", agent_id=self.agent_id,
                                     request_id=rid, input=input_)
                while True:
                    msg = await self.peer.recv()
                    if msg["type"] == "terminal:output":
                        assert msg["offset"] == len(self.data)
                        self.data += output_bytes(msg)
                    elif msg["type"] == "command:ack" and msg["request_id"] == rid:
                        if msg["ok"]:
                            return msg
                        break
                    elif msg["type"] == "error" and msg["ref"] == rid:
                        assert msg["code"] == "agent_offline", msg
                        # wait for the agent to come back on another relay
                        while (await self.peer.recv())["type"] != "agent:status":
                            pass
                        break
        raise AssertionError("unreachable")


async def _rest_output(client: TestClient[Any, Any], token: str, agent_id: str) -> bytes:
    resp = await client.get(f"/api/agents/{agent_id}/output",
                            headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    assert resp.headers["X-Output-Offset"] == "0"
    return await resp.read()


@pytest.mark.parametrize("how", ["sigkill", "close"])
async def test_the_sidecar_moves_to_another_relay_without_losing_or_doubling_a_byte(
    how: str, make_fleet: Any, redis_config: Any, relay_proc: Any, spawn: Any,
    connect_dashboard: Any, secret: bytes,
) -> None:
    b, c = await make_fleet(2)
    graceful = None
    if how == "sigkill":
        proc, port_a = await relay_proc()
    else:
        graceful = await start_relay(redis_config())
        port_a = graceful.port
    token = mint_token(secret, sub="fo", role="agent", ttl=600)
    run = await spawn(
        "-m", "agent_sidecar", "run", "--relay", f"ws://127.0.0.1:{port_a}",
        "--relay", f"ws://127.0.0.1:{b.port}", "--token", token, "--agent-id", "fo", *FAST,
        "--", PY, "-c", PHASES,
    )
    dash = await connect_dashboard(c)
    while not any(i["agent_id"] == "fo" for i in dash.connected["agents"]):
        msg = await dash.wait_for("agent:status")
        if msg["agent"]["agent_id"] == "fo":
            break
    await dash.send("subscribe", agent_id="fo", since=0)
    follower = Follower(dash, "fo")
    await follower.until(b"phase-one-done")

    if graceful is None:
        proc.signal(signal.SIGKILL)
        assert await proc.wait() == -signal.SIGKILL
    else:
        await graceful.close()
    await follower.request("go")  # reaches the agent once it is on relay B
    await follower.until(b"phase-two-done\r\n")
    async with deadline(WAIT):
        assert await run.proc.wait() == 7
    assert bytes(follower.data) == expected_phases()
    viewer = mint_token(secret, sub="v", role="viewer", ttl=600)
    assert await _rest_output(c, viewer, "fo") == expected_phases()


async def test_an_agent_whose_relay_died_shows_disconnected_elsewhere_within_the_window(
    make_fleet: Any, relay_proc: Any, connect_dashboard: Any, make_token: Any
) -> None:
    (b,) = await make_fleet(1)
    proc, port_a = await relay_proc()
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"http://127.0.0.1:{port_a}/ws/agent")
        agent = WsPeer(ws)
        await agent.send("agent:hello", protocol=1, token=make_token("agent", sub="lost"),
                         agent_id="lost", name="lost", host="h", command=["sh"], pid=1,
                         cols=80, rows=24, started_at=1.0, labels={})
        await agent.expect("agent:welcome")
        dash = await connect_dashboard(b)
        while not any(i["agent_id"] == "lost" for i in dash.connected["agents"]):
            if (await dash.wait_for("agent:status"))["agent"]["agent_id"] == "lost":
                break
        killed = time.monotonic()
        proc.signal(signal.SIGKILL)
        dash.timeout = 15.0
        event = await dash.wait_for(
            "agent:status",
            lambda m: m["agent"]["agent_id"] == "lost" and m["agent"]["state"] == "disconnected",
        )
        # TTL 1 s + sweep 0.2 s here; the defaults (10 s + 2 s) stay inside 15 s.
        assert time.monotonic() - killed < 5.0
        assert event["agent"]["state"] == "disconnected"
        await dash.send("command:request", agent_id="lost", request_id="r", input="x")
        assert (await dash.error())["code"] == "agent_offline"
        await ws.close()


async def _health(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    resp = await client.get("/healthz")
    return resp.status, await resp.json()


async def _until_health(client: TestClient[Any, Any], status: int) -> dict[str, Any]:
    """Poll /healthz under a deadline: no event announces Redis going or coming back."""
    async with deadline(WAIT):
        while True:
            got, body = await _health(client)
            if got == status:
                return body
            await asyncio.sleep(0.05)


async def test_a_redis_restart_degrades_health_and_the_relays_recover_by_themselves(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any, redis_server: RedisServer,
) -> None:
    a, b = await make_fleet(2)
    agent = await connect_agent(a, "r1")
    local = await connect_dashboard(a)
    remote = await connect_dashboard(b)
    for dash in (local, remote):
        await dash.send("subscribe", agent_id="r1")
        await dash.wait_for("subscribed")
    stream = bytearray()

    async def say(text: str) -> None:
        data = text.encode()
        await agent.output("r1", len(stream), data)
        stream.extend(data)

    await say("before the restart\n")
    for dash in (local, remote):
        assert await dash.read_output("r1", 0, len(stream)) == bytes(stream)
    assert await _health(a) == (200, {"status": "ok"})

    await redis_server.stop(kill=True)
    for relay in (a, b):
        assert (await _until_health(relay, 503))["status"] == "degraded"
    mark = len(stream)
    await say("while redis is down: local dashboards still follow\n")
    assert await local.read_output("r1", mark, len(stream)) == bytes(stream[mark:])

    await redis_server.start()
    for relay in (a, b):
        assert await _until_health(relay, 200) == {"status": "ok"}
    before = len(stream)
    await say("after the restart\n")
    # The remote dashboard gets what was buffered during the outage, then the rest,
    # exactly once; the local one only the new bytes.
    assert await remote.read_output("r1", mark, len(stream)) == bytes(stream[mark:])
    assert await local.read_output("r1", before, len(stream)) == bytes(stream[before:])
    # Control still routes across relays.
    await remote.send("terminal:input", agent_id="r1", data="q")
    assert (await agent.wait_for("terminal:input"))["data"] == "q"
    fresh = await connect_dashboard(b)
    assert [i["agent_id"] for i in fresh.connected["agents"]] == ["r1"]
    assert fresh.connected["agents"][0]["offset"] == len(stream)


async def test_after_a_redis_restart_every_pooled_connection_works_and_dashboards_get_the_end(
    redis_server: RedisServer,
) -> None:
    """Regression: the hub's client was given ``redis.retry.Retry`` (the synchronous
    class). The asyncio client awaits what its ``call_with_retry`` returns, so nothing
    was ever retried: after a Redis restart, the first command on each pooled connection
    that had sat idle through the outage failed. ``attach_dashboard`` then fell back to
    its copy of the record, whose offset appends do not update, and announced an end
    behind the stream (the flaky ``offset == len(stream)`` above)."""
    hub = RedisHub(url=redis_server.url, scrollback_bytes=1 << 20, forget_after=3600.0,
                   liveness_ttl=1.0, sweep_interval=0.2)
    await hub.start()
    check = redis_server.client(retry=Retry(NoBackoff(), 1))  # survives the restart
    try:
        agent = AgentConn(agent_id="r1", conn_id="c1", sub="r1", peer=FakePeer())
        await hub.attach_agent(agent, AgentHello(
            agent_id="r1", name="r1", host="h", command=("sh",), pid=1, cols=80, rows=24,
            started_at=1.0,
        ))
        stream = bytearray()

        async def say(text: bytes) -> None:
            await hub.agent_output(agent, TerminalOutput(agent_id="r1", offset=len(stream),
                                                          data=text))
            stream.extend(text)
            async with deadline(WAIT):
                while int(await check.hget(KEYS.agent("r1"), "end") or 0) != len(stream):
                    await asyncio.sleep(0.01)

        async def fresh_offsets(n: int) -> list[int]:
            """``n`` dashboards attaching at once: ``n`` pooled connections in use."""
            conns = [DashboardConn(session_id=f"s{i}", sub="d", role="viewer",
                                   scope=AllScope(), binary=False, peer=FakePeer())
                     for i in range(n)]
            await asyncio.gather(*(hub.attach_dashboard(c) for c in conns))
            offsets = []
            for c in conns:
                assert isinstance(c.peer, FakePeer)
                (connected,) = c.peer.of_type("dashboard:connected")
                offsets.append(connected["agents"][0]["offset"])
            return offsets

        await say(b"before the restart\n")
        assert await fresh_offsets(8) == [len(stream)] * 8  # the pool holds 8 connections

        await redis_server.stop(kill=True)
        await redis_server.start()
        async with deadline(WAIT):
            while not await hub.healthy():
                await asyncio.sleep(0.05)
        await say(b"after the restart\n")  # in Redis; no event carries the new end
        assert await fresh_offsets(8) == [len(stream)] * 8
    finally:
        await check.aclose()
        await hub.close()
