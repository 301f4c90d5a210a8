"""Frames the sidecar writes straight to the socket: a real aiohttp server must read
exactly what was sent, at every length boundary of the frame header."""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from agent_sidecar.wsdirect import DirectWriter, masked_frame

SIZES = [0, 1, 3, 4, 5, 125, 126, 127, 65535, 65536, 70_001]


async def _echo_digest(request: web.Request) -> web.WebSocketResponse:
    """Answers each message with its kind, length and SHA-256."""
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is aiohttp.WSMsgType.TEXT:
            raw = msg.data.encode()
            await ws.send_str(f"text {len(raw)} {hashlib.sha256(raw).hexdigest()}")
        elif msg.type is aiohttp.WSMsgType.BINARY:
            await ws.send_str(f"binary {len(msg.data)} {hashlib.sha256(msg.data).hexdigest()}")
    return ws


@pytest.fixture
async def echo_url(aiohttp_server: Any) -> str:
    app = web.Application()
    app.router.add_get("/ws", _echo_digest)
    server = await aiohttp_server(app)
    return f"ws://127.0.0.1:{server.port}/ws"


@pytest.mark.parametrize("size", SIZES)
async def test_a_real_server_reads_direct_frames_exactly(echo_url: str, size: int) -> None:
    binary = bytes(i * 7 % 256 for i in range(size))
    text = "".join("aé€"[i % 3] for i in range(size))  # 1-, 2- and 3-byte characters
    async with aiohttp.ClientSession() as session, session.ws_connect(
        echo_url, max_msg_size=0
    ) as ws:
        direct = DirectWriter(ws)
        assert direct.available
        assert direct.send_now(binary)
        assert direct.send_now(text)
        await ws.send_str("through aiohttp")  # interleaves with direct frames cleanly
        raw_text = text.encode()
        assert (await ws.receive_str()) == (
            f"binary {size} {hashlib.sha256(binary).hexdigest()}"
        )
        assert (await ws.receive_str()) == (
            f"text {len(raw_text)} {hashlib.sha256(raw_text).hexdigest()}"
        )
        through = b"through aiohttp"
        assert (await ws.receive_str()) == (
            f"text {len(through)} {hashlib.sha256(through).hexdigest()}"
        )


async def test_no_direct_write_once_the_socket_is_closed(echo_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(echo_url)
        direct = DirectWriter(ws)
        await ws.close()
        assert not direct.send_now(b"late")


def test_every_frame_gets_its_own_mask() -> None:
    key_a, key_b = b"\x01\x02\x03\x04", b"\xf0\x0f\xaa\x55"
    a = masked_frame(b"same payload", text=False, key=key_a)
    b = masked_frame(b"same payload", text=False, key=key_b)
    assert a[:2] == b[:2] == bytes((0x82, 0x80 | 12))
    assert a[2:6] == key_a
    assert a[6:] != b[6:]
    unmasked = bytes(x ^ key_a[i % 4] for i, x in enumerate(a[6:]))
    assert unmasked == b"same payload"
