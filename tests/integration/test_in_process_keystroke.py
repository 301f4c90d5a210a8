"""A keystroke and its echo cross the in-process connection without a task switch.

A link attached to a relay in the same process (embedded mode) with a real hub: a
``terminal:input`` handed to the hub is applied by the sidecar's controller before the
hub's call returns, and a small output appended while the sender waits is in the
dashboard's queue before ``Link.wake`` returns. Either falls back to the tasks when the
fast path does not apply (a burst), and offsets stay exact throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable

import pytest

from agent_sidecar.config import LinkConfig
from agent_sidecar.link import Link
from agent_sidecar.retention import Retention
from relay.appkeys import HUB
from relay.handlers.agent import attach_in_process
from relay.handlers.pipe import PipeEnd
from relay.hub.interface import DashboardConn
from relay.protocol import AgentHello, AgentStatus, TerminalInput, decode_binary_output
from relay.server import RunningRelay
from tests.timing import deadline

AGENT = "inproc-keys"


class Recorder:
    """A dashboard's peer that keeps what the hub sends it."""

    def __init__(self) -> None:
        self.frames: list[str | bytes] = []
        self.closed = False
        self.queued_bytes = 0

    def send_text(self, text: str, *, agent_id: str | None = None) -> None:
        self.frames.append(text)

    def send_bytes(self, data: bytes, *, agent_id: str | None = None) -> None:
        self.frames.append(data)

    def send_replay(self, agent_id: str, frames: Iterable[str | bytes]) -> None:
        self.frames.extend(frames)

    def drop(self, agent_id: str) -> None:
        pass

    def close(self, code: int, reason: str) -> None:
        self.closed = True

    def output(self) -> bytes:
        return b"".join(decode_binary_output(f).data for f in self.frames
                        if isinstance(f, bytes))


class Everything:
    def may_see(self, agent_id: str) -> bool:
        return True


class Keys:
    def __init__(self) -> None:
        self.applied: list[str] = []

    def apply(self, msg: object) -> None:
        assert isinstance(msg, TerminalInput)
        self.applied.append(msg.data)


class Attached:
    def __init__(self, link: Link, retention: Retention, keys: Keys, dash: Recorder,
                 conn: DashboardConn) -> None:
        self.link, self.retention, self.keys, self.dash, self.conn = (
            link, retention, keys, dash, conn)


@pytest.fixture
async def attached(
    live_relay: RunningRelay, agent_token: Callable[[str], str]
) -> AsyncIterator[Attached]:
    app = live_relay.app
    retention = Retention(1 << 20)
    keys = Keys()
    ends: list[PipeEnd] = []

    def in_process() -> PipeEnd:
        end, _ = attach_in_process(app)
        ends.append(end)
        return end

    config = LinkConfig(urls=(live_relay.url + "/ws/agent",), agent_id=AGENT)
    link = Link(
        config, retention,
        hello=lambda: AgentHello(agent_id=AGENT, name=AGENT, host="here", command=("keys",),
                                 pid=1, cols=80, rows=24, started_at=0.0),
        status=lambda: AgentStatus(state="running", pid=1, cols=80, rows=24),
        controller=keys, token=lambda: agent_token(AGENT), in_process=in_process,
    )
    running = asyncio.create_task(link.run())
    hub = app[HUB]
    dash = Recorder()
    conn = DashboardConn(session_id="s", sub="watcher", role="operator", scope=Everything(),
                         binary=True, peer=dash)
    async with deadline(10):
        await link.connected.wait()
        await hub.attach_dashboard(conn)
        await hub.subscribe(conn, AGENT, 0)
        while link._parked is None:  # the sender sent hello's status and its probe
            await asyncio.sleep(0.001)
    assert ends  # no WebSocket was opened
    try:
        yield Attached(link, retention, keys, dash, conn)
    finally:
        link.stop()
        with contextlib.suppress(asyncio.CancelledError):
            async with deadline(10):
                await running


async def test_a_keystroke_is_applied_before_the_hubs_call_returns(
    attached: Attached, live_relay: RunningRelay
) -> None:
    hub = live_relay.app[HUB]
    await hub.control(attached.conn, TerminalInput(agent_id=AGENT, data="k"))
    assert attached.keys.applied == ["k"]


async def test_an_echo_reaches_the_dashboard_before_wake_returns(attached: Attached) -> None:
    for n, echo in enumerate((b"k", b"\x1b[31mx\x1b[0m", b"\xe2\x82\xac")):
        attached.retention.append(echo)
        attached.link.wake()
        assert attached.dash.output().endswith(echo), n
    assert attached.dash.output() == b"k\x1b[31mx\x1b[0m\xe2\x82\xac"


async def test_a_burst_goes_through_the_sender_and_every_offset_stays_exact(
    attached: Attached,
) -> None:
    burst = bytes(range(256)) * 64
    attached.retention.append(burst)  # a streaming-size read: the sender coalesces it
    attached.link.wake()
    assert attached.dash.output() == b""
    attached.retention.append(b"!")
    attached.link.wake()
    async with deadline(10):
        while attached.dash.output() != burst + b"!":
            await asyncio.sleep(0.001)
    attached.retention.append(b"after")
    attached.link.wake()
    assert attached.dash.output() == burst + b"!after"
