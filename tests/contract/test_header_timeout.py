"""Issue 11, item 8: a connection that never completes its request head is closed after
``header_timeout``, so idle half-requests cannot pile up and exhaust the relay."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp

from relay.config import RelayConfig
from relay.server import start_relay
from tests.timing import deadline


async def test_half_sent_request_heads_are_closed_after_the_header_timeout(
    make_config: Callable[..., RelayConfig], make_token: Callable[..., str],
) -> None:
    relay = await start_relay(make_config(header_timeout=0.3))
    peers = []
    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(f"{relay.url}/ws/dashboard")
        await ws.send_json({"type": "dashboard:connect", "protocol": 1,
                            "token": make_token("viewer")})
        assert (await ws.receive_json(timeout=5))["type"] == "dashboard:connected"
        for _ in range(50):
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            peers.append((reader, writer))
        async with deadline(5):
            for reader, _writer in peers:
                assert await reader.read() == b""  # closed by the relay, no answer
        # A WebSocket opened before outlives the timeout; a complete request is answered.
        await ws.send_json({"type": "heartbeat", "ts": 1})
        assert (await ws.receive_json(timeout=5)) == {"type": "heartbeat", "ts": 1}
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        async with deadline(5):
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        for _reader, writer in peers:
            writer.close()
        await session.close()
        await relay.close()
