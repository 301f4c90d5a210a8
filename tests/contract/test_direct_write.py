"""Frames the relay writes straight to the socket (idle outbox) are exact at every
WebSocket length encoding: 7-bit, 16-bit and 64-bit payload lengths, text and binary."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import WSMsgType

from relay.protocol import encode_binary_output


@pytest.mark.parametrize("size", [1, 125, 126, 65535, 65536, 300_000])
async def test_forwarded_binary_frames_are_byte_identical_at_every_length(
    relay: Any, connect_agent: Any, connect_dashboard: Any, size: int
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, binary=True)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    frame = encode_binary_output("a1", 0, bytes(i % 251 for i in range(size)))
    await agent.send_bytes(frame)
    assert await dash.frame() == (WSMsgType.BINARY, frame)


@pytest.mark.parametrize("size", [10, 100, 40_000, 70_000])
async def test_text_frames_with_multibyte_characters_arrive_exact(
    relay: Any, connect_agent: Any, connect_dashboard: Any, size: int
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    text = ("é€𝄞\x1b[1m" * size)[:size]
    await agent.output("a1", 0, text.encode())
    kind, data = await dash.frame()
    assert kind is WSMsgType.TEXT
    msg = json.loads(data)
    assert (msg["type"], msg["offset"], msg["data"]) == ("terminal:output", 0, text)
