"""Output coalescing: a burst leaves the sidecar in frames much larger than a PTY read,
with offsets and bytes exact; a small read (a keystroke echo) is never held back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from agent_sidecar.config import LinkConfig, RunConfig
from agent_sidecar.link import Link
from agent_sidecar.retention import Retention
from relay.protocol import AgentHello, AgentStatus
from relay.server import RunningRelay
from tests.integration.conftest import Dashboard, Sidecar, py

BURST = 2 * 1024 * 1024
#: Raw mode (no \n -> \r\n), 2 MiB of varied bytes in 64 KiB writes, then a sentinel.
RAW_BURST = f"""
import os, tty
tty.setraw(1)
block = bytes(range(256)) * 256
for _ in range({BURST} // len(block)):
    os.write(1, block)
os.write(1, b"<<END>>")
"""


async def test_a_burst_arrives_exactly_in_frames_larger_than_pty_reads(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(RAW_BURST)))
    await dash.until_output(b"<<END>>")
    assert bytes(dash.stream) == bytes(range(256)) * 256 * (BURST // 65536) + b"<<END>>"
    # A PTY read is at most ~4.6 KB: without coalescing this would be >= 450 frames.
    assert len(dash.chunks) < BURST // 8192
    assert await sidecar.result() == 0


def _link(retention: Retention) -> Link:
    config = LinkConfig(urls=("ws://127.0.0.1:1/ws/agent",), agent_id="unit-agent")

    def hello() -> AgentHello:
        raise AssertionError("not connecting")

    def status() -> AgentStatus:
        raise AssertionError("not connecting")

    class NoController:
        def apply(self, msg: object) -> None:
            raise AssertionError("no control expected")

    return Link(config, retention, hello=hello, status=status, controller=NoController(),
                token=lambda: None)


async def test_a_small_read_wakes_a_sender_that_holds_a_burst() -> None:
    retention = Retention(1 << 20)
    link = _link(retention)
    wake = link._wake
    retention.append(b"x" * 4096)  # a full PTY read: streaming
    link.wake()
    assert wake.is_set()
    wake.clear()
    link._hold_until = asyncio.get_running_loop().time() + 10  # the sender is holding
    retention.append(b"y" * 4096)
    link.wake()
    assert not wake.is_set()  # more of the burst: keep holding, no wake-up per read
    retention.append(b"z")  # a keystroke echo, or the burst's last bytes
    link.wake()
    assert wake.is_set()
    assert not link._streaming  # so _hold() sends at once
