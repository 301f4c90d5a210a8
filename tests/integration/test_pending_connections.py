"""Issue 11, item 8: at most ``max_pending_connections`` connections may be waiting for
their first complete request head; a new one past the cap closes the oldest of them, so
half-open sockets (slowloris) cannot exhaust the relay while fresh requests, dashboards'
WebSockets and connections that already sent a head keep working. Real relay, raw
sockets; ``header_timeout`` is far off so only the cap can close anything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
import pytest

from relay.config import RelayConfig
from relay.server import RunningRelay, start_relay
from tests.timing import deadline

CAP = 5
WAIT = 10.0
HALF = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
FULL = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

Peer = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open(relay: RunningRelay, data: bytes) -> Peer:
    reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
    writer.write(data)
    await writer.drain()
    return reader, writer


async def _closed_by_relay(reader: asyncio.StreamReader) -> bool:
    """True when the relay closed the socket without answering (EOF or reset)."""
    try:
        return await reader.read() == b""
    except ConnectionResetError:
        return True


async def _response(reader: asyncio.StreamReader) -> int:
    """Read one whole response (head and Content-Length body); its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _dashboard(session: aiohttp.ClientSession, relay: RunningRelay, token: str) -> (
    aiohttp.ClientWebSocketResponse
):
    ws = await session.ws_connect(f"{relay.url}/ws/dashboard")
    await ws.send_json({"type": "dashboard:connect", "protocol": 1, "token": token})
    assert (await ws.receive_json(timeout=WAIT))["type"] == "dashboard:connected"
    return ws


async def test_past_the_cap_the_oldest_connections_without_a_request_head_are_closed(
    make_config: Callable[..., RelayConfig], make_token: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="relay.listener")
    relay = await start_relay(make_config(max_pending_connections=CAP, header_timeout=300))
    session = aiohttp.ClientSession()
    peers: list[Peer] = []
    try:
        async with deadline(WAIT):
            # Connections that completed their head before the flood: a dashboard
            # WebSocket and a keep-alive HTTP connection idling after its response.
            early_ws = await _dashboard(session, relay, make_token("viewer"))
            keep = await _open(relay, FULL)
            assert await _response(keep[0]) == 200

            half = [await _open(relay, HALF) for _ in range(CAP + 3)]
            peers += [keep, *half]
            for reader, _writer in half[:3]:
                assert await _closed_by_relay(reader)

            # With the cap full of half-sent heads, a fresh request is answered (the
            # oldest pending connection makes room) ...
            fresh = await _open(relay, FULL)
            peers.append(fresh)
            assert await _response(fresh[0]) == 200
            assert await _closed_by_relay(half[3][0])
            # ... and so is a dashboard's WebSocket upgrade.
            peers.append(await _open(relay, HALF))
            late_ws = await _dashboard(session, relay, make_token("viewer"))
            assert await _closed_by_relay(half[4][0])

            # The newer pending connections were left open: finishing their heads works.
            for reader, writer in [*half[5:], peers[-1]]:
                writer.write(b"1\r\n\r\n")
                assert await _response(reader) == 200

            # Connections past their head were never closed by the cap.
            for ws in (early_ws, late_ws):
                await ws.send_json({"type": "heartbeat", "ts": 1})
                assert await ws.receive_json() == {"type": "heartbeat", "ts": 1}
            keep[1].write(FULL)
            assert await _response(keep[0]) == 200

            headers = {"Authorization": f"Bearer {make_token('admin')}"}
            async with session.get(f"{relay.url}/metrics", headers=headers) as resp:
                metrics = await resp.text()
        assert "agent_relay_connections_dropped_pending_total 5.0" in metrics
        warnings = [r for r in caplog.records if r.name == "relay.listener"]
        assert len(warnings) == 1  # one line for the burst, the rest only counted
        assert "X-Slow" not in warnings[0].getMessage()
    finally:
        for _reader, writer in peers:
            writer.close()
        await session.close()
        await relay.close()
