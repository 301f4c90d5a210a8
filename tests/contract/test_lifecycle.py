"""Liveness and shutdown: dead peers are dropped, internal errors close 1011 without
detail, SIGTERM closes every socket with 1001 and exits 0."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from typing import Any

import aiohttp
import pytest

from relay.app import create_app
from relay.config import RelayConfig
from relay.hub.interface import DashboardConn
from relay.hub.local import LocalHub
from relay.server import start_relay
from tests.conftest import SECRET
from tests.timing import deadline
from tests.wsclient import WsPeer


async def test_a_sidecar_that_stops_answering_pings_is_dropped(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any, make_token: Any
) -> None:
    relay = await make_relay(heartbeat_interval=0.1, dead_after=0.5)
    dash = await connect_dashboard(relay)
    ws = await relay.ws_connect("/ws/agent", autoping=False)  # never pongs, never reads
    await ws.send_json({"type": "agent:hello", "protocol": 1, "agent_id": "a1",
                        "token": make_token("agent", sub="a1")})
    await dash.wait_for("agent:status", lambda m: m["agent"]["state"] == "running")
    event = await dash.wait_for("agent:status")
    assert event["agent"]["state"] == "disconnected"
    await dash.send("heartbeat", ts=1)  # the dashboard itself is kept alive by its pongs
    assert (await dash.wait_for("heartbeat"))["ts"] == 1


async def _quiet_dashboard(relay: Any, make_token: Any) -> aiohttp.ClientWebSocketResponse:
    """A connected dashboard whose pings are seen by the test (autoping off)."""
    ws = await relay.ws_connect("/ws/dashboard", autoping=False)
    await ws.send_json({"type": "dashboard:connect", "protocol": 1, "token": make_token()})
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT
    assert '"dashboard:connected"' in msg.data
    return ws  # type: ignore[no-any-return]


async def test_a_dashboard_that_only_answers_pings_stays_past_the_silence_limit(
    make_relay: Any, make_token: Any
) -> None:
    relay = await make_relay(heartbeat_interval=0.1, dead_after=0.5)
    ws = await _quiet_dashboard(relay, make_token)
    pings = 0
    async with deadline(10):
        while pings < 10:  # each after 0.1 s of quiet: a second in all, twice the limit
            msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.PING, msg
            await ws.pong(msg.data)
            pings += 1
    await ws.send_json({"type": "heartbeat", "ts": 7})
    async with deadline(5):
        while (msg := await ws.receive()).type is aiohttp.WSMsgType.PING:
            await ws.pong(msg.data)
    assert msg.type is aiohttp.WSMsgType.TEXT
    assert '"ts":7' in msg.data.replace(" ", "")


async def test_a_dashboard_that_does_not_answer_a_ping_is_closed_1001_with_the_reason(
    make_relay: Any, make_token: Any
) -> None:
    relay = await make_relay(heartbeat_interval=0.2, dead_after=5.0)
    ws = await _quiet_dashboard(relay, make_token)
    async with deadline(10):
        assert (await ws.receive()).type is aiohttp.WSMsgType.PING  # not answered
        msg = await ws.receive()
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert (msg.data, msg.extra) == (1001, "no pong within 0.1 s")


async def test_a_ping_from_the_peer_is_answered_with_its_payload(
    make_relay: Any, make_token: Any
) -> None:
    relay = await make_relay()
    ws = await _quiet_dashboard(relay, make_token)
    await ws.ping(b"are you there")
    async with deadline(5):
        msg = await ws.receive()
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"are you there")
    await ws.send_json({"type": "heartbeat", "ts": 8})  # and the connection carries on
    async with deadline(5):
        msg = await ws.receive()
    assert msg.type is aiohttp.WSMsgType.TEXT
    assert '"ts":8' in msg.data.replace(" ", "")


class _BrokenHub(LocalHub):
    async def subscribe(self, conn: DashboardConn, agent_id: str, since: int | None) -> None:
        raise RuntimeError("secret internal detail")


async def test_an_internal_error_closes_1011_without_its_text(
    aiohttp_client: Any, relay_config: RelayConfig, connect_dashboard: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = _BrokenHub(scrollback_bytes=1024, forget_after=60)
    relay = await aiohttp_client(create_app(relay_config, hub=hub))
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1")
    async with deadline(5):
        msg = await dash.ws.receive()
    assert (msg.type, dash.ws.close_code) == (aiohttp.WSMsgType.CLOSE, 1011)
    assert "secret" not in (msg.extra or "")
    assert "secret internal detail" in caplog.text


async def test_closing_a_running_relay_sends_1001_to_every_socket(
    relay_config: RelayConfig, make_token: Any
) -> None:
    relay = await start_relay(relay_config)
    assert relay.url == f"http://127.0.0.1:{relay.port}"
    assert relay.port > 0
    async with aiohttp.ClientSession() as session:
        ws = WsPeer(await session.ws_connect(f"{relay.url}/ws/dashboard"))
        await ws.send("dashboard:connect", protocol=1, token=make_token("viewer"))
        await ws.expect("dashboard:connected")
        pending = WsPeer(await session.ws_connect(f"{relay.url}/ws/agent"))  # no hello yet
        closing = asyncio.create_task(relay.close())
        assert await ws.closed() == 1001
        assert await pending.closed() == 1001
        await closing


async def test_sigterm_closes_sockets_with_1001_and_exits_0(make_token: Any) -> None:
    code = (
        "import asyncio, sys; from relay.server import serve; from relay.config import "
        f"RelayConfig; sys.exit(asyncio.run(serve(RelayConfig(port=0, jwt_secret={SECRET!r}))))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert proc.stderr is not None
        # Other lines may come first (a warning when the xterm.js files were not fetched).
        seen: list[str] = []
        match = None
        async with deadline(20):
            while match is None:
                line = (await proc.stderr.readline()).decode()
                assert line, f"the relay exited before listening: {seen}"
                seen.append(line)
                match = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
        async with aiohttp.ClientSession() as session:
            ws = WsPeer(await session.ws_connect(f"{match[1]}/ws/dashboard"))
            await ws.send("dashboard:connect", protocol=1, token=make_token("viewer"))
            await ws.expect("dashboard:connected")
            proc.send_signal(signal.SIGTERM)
            assert await ws.closed() == 1001
        async with deadline(20):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
