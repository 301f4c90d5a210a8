"""Flow control: while connected, a relay that is behind makes the command wait, up to
``max_output_stall``; then the command runs on and the oldest unsent output is dropped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import WSMsgType, web

from agent_sidecar.config import RunConfig
from relay.protocol import decode_binary_output
from tests.integration.conftest import Sidecar, py
from tests.timing import deadline

TOTAL = 24 * 1024 * 1024
RAW_BURST = f"""
import os, tty
tty.setraw(1)
block = bytes(range(256)) * 256
for _ in range({TOTAL} // len(block)):
    os.write(1, block)
os.write(1, b"<<END>>")
"""


class SlowRelay:
    """A fake relay that welcomes the agent and reads nothing until ``gate`` is set."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.done = asyncio.Event()
        self.stream = bytearray()
        self.gaps = 0

    async def agent(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        hello = json.loads((await ws.receive()).data)
        await ws.send_str(json.dumps(
            {"type": "agent:welcome", "agent_id": hello["agent_id"], "resume_from": 0}))
        await self.gate.wait()
        async for msg in ws:
            if msg.type is WSMsgType.BINARY:
                chunk = decode_binary_output(msg.data)
                self.gaps += chunk.offset != len(self.stream)
                self.stream += chunk.data
                if self.stream.endswith(b"<<END>>"):
                    self.done.set()
            elif msg.type is WSMsgType.TEXT and json.loads(msg.data)["type"] == "heartbeat":
                await ws.send_str(msg.data)  # confirms the drain
        return ws


@pytest.fixture
async def slow_relay() -> AsyncIterator[tuple[SlowRelay, str]]:
    relay = SlowRelay()
    app = web.Application()
    app.router.add_get("/ws/agent", relay.agent)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield relay, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_a_relay_that_does_not_read_pauses_the_pty_and_nothing_is_dropped(
    slow_relay: tuple[SlowRelay, str],
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    relay, url = slow_relay
    sidecar = start_sidecar(
        make_run_config(url, py(RAW_BURST), retain_bytes=256 * 1024, max_output_stall=60.0)
    )
    runner = sidecar.runner
    async with deadline(30):  # until the PTY side stops reading: flow control
        while runner.child is None or runner.child._reading or runner.link is None:
            await asyncio.sleep(0.01)
    assert runner.link.gap_bytes == 0
    relay.gate.set()
    async with deadline(30):
        await relay.done.wait()
    assert relay.gaps == 0
    assert bytes(relay.stream) == bytes(range(256)) * 256 * (TOTAL // 65536) + b"<<END>>"
    assert await sidecar.result() == 0
    assert runner.link.gap_bytes == 0


async def test_a_relay_that_stays_behind_holds_the_command_no_longer_than_the_stall_bound(
    slow_relay: tuple[SlowRelay, str],
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    relay, url = slow_relay
    config = make_run_config(
        url, py(RAW_BURST), retain_bytes=256 * 1024, max_output_stall=0.2,
        heartbeat_interval=10.0, dead_after=60.0,
    )
    sidecar = start_sidecar(config)
    runner = sidecar.runner
    async with deadline(30):  # the relay reads nothing, yet the command finishes
        await runner.exited.wait()
    relay.gate.set()
    async with deadline(30):
        await relay.done.wait()
    assert runner.link is not None
    assert runner.link.gap_bytes > 0  # the oldest unsent output was dropped
    assert relay.gaps > 0
    assert relay.stream.endswith(b"<<END>>")
    assert await sidecar.result() == 0
