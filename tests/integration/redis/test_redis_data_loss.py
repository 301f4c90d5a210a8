"""Issue 11, item 1: Redis restarted empty loses nothing silently.

Two relays share a real ``redis-server``; a real sidecar streams through relay A, a
dashboard watches on relay B. Redis is killed and restarted without its data. The relay
confirms output to the sidecar (the heartbeat echo that ends its drain) only once it is
in Redis; afterwards the agent is back on every relay with its record, and the output
Redis lost is announced as a gap (``subscribed.from``, ``X-Output-Offset``), never
silently missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from agent_sidecar.config import RunConfig
from relay.auth import mint_token
from relay.config import RelayConfig
from relay.server import RunningRelay, start_relay
from tests.integration.conftest import WAIT, Dashboard, Sidecar, py, rest_output
from tests.redis_server import RedisServer
from tests.timing import deadline

FINISH_AFTER_A_LINE = (
    "import os, sys\n"
    "os.write(1, b'a' * 100000)\n"
    "sys.stdin.readline()\n"
    "os.write(1, b'b' * 200000)\n"
)


def _ws(relay: RunningRelay) -> str:
    return relay.url.replace("http://", "ws://")


async def _agent(relay: RunningRelay, secret: bytes, agent_id: str) -> tuple[int, Any]:
    token = mint_token(secret, sub="tester", role="viewer", ttl=600)
    async with aiohttp.ClientSession() as s, s.get(
        f"{relay.url}/api/agents/{agent_id}", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status, await resp.json()


async def _until_status(relay: RunningRelay, status: int) -> None:
    """Poll /healthz under a deadline: no event says that a relay has resynced."""
    async with deadline(WAIT), aiohttp.ClientSession() as s:
        while True:
            async with s.get(f"{relay.url}/healthz") as resp:
                if resp.status == status:
                    return
            await asyncio.sleep(0.05)


async def test_redis_restarted_empty_while_the_agent_finishes_loses_nothing_silently(
    redis_server: RedisServer,
    redis_config: Callable[..., RelayConfig],
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    a = await start_relay(redis_config())
    b = await start_relay(redis_config())
    try:
        sidecar = start_sidecar(make_run_config(_ws(a), py(FINISH_AFTER_A_LINE),
                                                drain_timeout=60.0))
        dash = await dashboard(b)
        await dash.until(lambda: len(dash.stream) >= 100000)  # stored: B read it from Redis

        await redis_server.stop(kill=True)
        await _until_status(a, 503)
        child = sidecar.runner.child
        assert child is not None
        await child.write(b"\r")
        await sidecar.wait(sidecar.runner.exited)  # the command ends during the outage
        await redis_server.start()  # empty

        assert await sidecar.result(timeout=WAIT * 3) == 0
        assert not any("did not confirm" in n for n in sidecar.notices), sidecar.notices
        # B's dashboard got every byte exactly once (Dashboard asserts the offsets).
        # (Status events and output reach B by different paths: wait for both.)
        await dash.until(lambda: dash.info is not None and dash.info.state == "exited"
                         and len(dash.stream) >= 300002, timeout=WAIT * 3)
        assert dash.stream == b"a" * 100000 + b"\r\n" + b"b" * 200000
        for relay in (a, b):
            status, info = await _agent(relay, secret, "itest-agent")
            assert (status, info["state"], info["exit_code"]) == (200, "exited", 0)
            assert info["offset"] == 300002
        # What Redis lost (the part stored before the restart) is announced as a gap,
        # unless the sidecar resent it: without echoes it may take the relay for dead
        # (dead_after 3 s here), reconnect, and resend from the restored record's end.
        start, data = await rest_output(b.url, secret, "itest-agent")
        assert start <= 100000
        assert data == (b"a" * 100000 + b"\r\n" + b"b" * 200000)[start:]
    finally:
        await a.close()
        await b.close()


async def test_an_exited_agent_comes_back_after_redis_restarted_empty(
    redis_server: RedisServer,
    redis_config: Callable[..., RelayConfig],
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    a = await start_relay(redis_config())
    b = await start_relay(redis_config())
    try:
        code = "import os; os.write(1, b'x' * 5000)"
        sidecar = start_sidecar(make_run_config(_ws(a), py(code)))
        assert await sidecar.result() == 0
        assert (await _agent(b, secret, "itest-agent"))[0] == 200

        await redis_server.stop(kill=True)
        await _until_status(b, 503)
        await redis_server.start()
        await _until_status(a, 200)
        await _until_status(b, 200)

        for relay in (a, b):
            status, info = await _agent(relay, secret, "itest-agent")
            assert (status, info["state"], info["exit_code"], info["offset"]) == (
                200, "exited", 0, 5000)
        start, data = await rest_output(a.url, secret, "itest-agent")
        assert (start, data) == (5000, b"")  # the output went with Redis: a declared gap
        dash = await dashboard(b)
        await dash.send("subscribe", agent_id="itest-agent", since=0)
        msg = await dash.peer.wait_for("subscribed")
        assert (msg["from"], msg["offset"]) == (5000, 5000)
    finally:
        await a.close()
        await b.close()
