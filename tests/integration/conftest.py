"""Fixtures for sidecar integration tests: a real relay, a sidecar Runner, a dashboard.

- ``live_relay``: :func:`relay.server.start_relay` on 127.0.0.1 port 0 (real sockets).
- ``make_run_config(relay, **overrides)``: a :class:`RunConfig` for that relay with
  millisecond timings.
- ``start_sidecar(config)``: a :class:`Runner` running as a task; ``.result()`` is its
  exit code, ``.notices`` what it told the user.
- ``dashboard(relay)``: a :class:`Dashboard` connected with an operator token.

Everything waits for events (a message, a sentinel in the stream) under a timeout;
nothing sleeps to let things settle.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from agent_sidecar.backoff import BackoffPolicy
from agent_sidecar.config import RunConfig
from agent_sidecar.runner import Runner
from relay.auth import mint_token
from relay.config import RelayConfig
from relay.protocol import (
    AgentInfo,
    AgentStatusEvent,
    CommandAck,
    DashboardConnected,
    Direction,
    Error,
    TerminalOutput,
    decode,
)
from relay.server import RunningRelay, start_relay
from tests.timing import deadline
from tests.wsclient import WsPeer

WAIT = 10.0


def py(code: str) -> tuple[str, ...]:
    """argv running ``code`` in this Python."""
    return (sys.executable, "-c", code)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def live_relay(make_config: Callable[..., RelayConfig]) -> AsyncIterator[RunningRelay]:
    relay = await start_relay(make_config())
    yield relay
    await relay.close()


@pytest.fixture
def agent_token(secret: bytes) -> Callable[[str], str]:
    def make(agent_id: str) -> str:
        return mint_token(secret, sub=agent_id, role="agent", ttl=600)

    return make


@pytest.fixture
def make_run_config(agent_token: Callable[[str], str]) -> Callable[..., RunConfig]:
    def make(url: str, command: tuple[str, ...], **overrides: Any) -> RunConfig:
        agent_id = overrides.pop("agent_id", "itest-agent")
        fields: dict[str, Any] = {
            "command": command,
            "agent_id": agent_id,
            "name": agent_id,
            "relays": (url,),
            "token": agent_token(agent_id),
            "idle_after": 5.0,
            "drain_timeout": 5.0,
            "eof_grace": 0.2,
            "utf8_flush_delay": 0.05,
            "startup_wait": 2.0,
            "heartbeat_interval": 1.0,
            "dead_after": 3.0,
            "connect_timeout": 2.0,
            "backoff": BackoffPolicy(initial=0.02, maximum=0.2),
            "mirror": False,
        }
        fields.update(overrides)
        return RunConfig(**fields)

    return make


@dataclass
class Sidecar:
    runner: Runner
    task: asyncio.Task[int]
    notices: list[str] = field(default_factory=list)
    noticed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self, text: str) -> None:
        self.notices.append(text)
        self.noticed.set()

    async def notice(self, fragment: str, timeout: float = WAIT) -> str:
        """The first notice containing ``fragment`` (waits for it)."""
        async with deadline(timeout):
            while True:
                for text in self.notices:
                    if fragment in text:
                        return text
                self.noticed.clear()
                await self.noticed.wait()

    async def wait(self, event: asyncio.Event, timeout: float = WAIT) -> None:
        async with deadline(timeout):
            await event.wait()

    async def result(self, timeout: float = WAIT) -> int:
        async with deadline(timeout):
            return await self.task


@pytest.fixture
async def start_sidecar() -> AsyncIterator[Callable[[RunConfig], Sidecar]]:
    started: list[Sidecar] = []

    def start(config: RunConfig) -> Sidecar:
        box: list[Sidecar] = []
        runner = Runner(config, notify=lambda text: box[0].notify(text), handle_signals=False)
        sidecar = Sidecar(runner, asyncio.create_task(runner.run()))
        box.append(sidecar)
        started.append(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        if sidecar.task.done():
            continue
        child = sidecar.runner.child
        if child is not None and sidecar.runner.exit is None:
            child.signal_child(signal.SIGKILL)
        try:
            async with deadline(WAIT):
                await sidecar.task
        except (Exception, asyncio.CancelledError):
            sidecar.task.cancel()


class Dashboard:
    """A dashboard WebSocket client that records what it sees of one agent."""

    def __init__(self, peer: WsPeer, agent_id: str) -> None:
        self.peer = peer
        self.agent_id = agent_id
        self.stream = bytearray()
        self.stream_start: int | None = None
        self.chunks: list[dict[str, Any]] = []
        self.infos: list[AgentInfo] = []
        self.acks: dict[str, CommandAck] = {}
        self.errors: list[Error] = []
        self.subscribed = False

    @property
    def info(self) -> AgentInfo | None:
        return self.infos[-1] if self.infos else None

    async def send(self, type_: str, **fields: Any) -> None:
        await self.peer.send(type_, **fields)

    async def _one(self) -> None:
        kind, data = await self.peer.frame()  # ClosedError (an AssertionError) at the end
        if kind is not aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"dashboard got a {kind.name} frame")
        raw = json.loads(data)
        m = decode(data, Direction.RELAY_TO_DASHBOARD)
        if isinstance(m, AgentStatusEvent) and m.agent.agent_id == self.agent_id:
            self.infos.append(m.agent)
            if not self.subscribed:
                self.subscribed = True
                await self.send("subscribe", agent_id=self.agent_id, since=0)
        elif isinstance(m, TerminalOutput) and m.agent_id == self.agent_id:
            if self.stream_start is None:
                self.stream_start = m.offset
            assert m.offset == self.stream_start + len(self.stream), "gap or duplicate"
            self.stream += m.data
            self.chunks.append(raw)
        elif isinstance(m, CommandAck):
            self.acks[m.request_id] = m
        elif isinstance(m, Error):
            self.errors.append(m)

    async def until(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        async with deadline(timeout):
            while not predicate():
                await self._one()

    async def until_output(self, sentinel: bytes, timeout: float = WAIT) -> None:
        await self.until(lambda: sentinel in self.stream, timeout)

    async def until_state(self, state: str, timeout: float = WAIT) -> AgentInfo:
        await self.until(lambda: self.info is not None and self.info.state == state, timeout)
        assert self.info is not None
        return self.info

    async def request(self, type_: str, request_id: str, **fields: Any) -> CommandAck:
        await self.send(type_, agent_id=self.agent_id, request_id=request_id, **fields)
        await self.until(lambda: request_id in self.acks)
        return self.acks[request_id]


async def connect_dashboard_to(
    session: aiohttp.ClientSession, url: str, agent_id: str, token: str
) -> Dashboard:
    """A :class:`Dashboard` of ``agent_id`` on the relay at ``url`` (subscribed to it
    already when the relay knows it)."""
    peer = WsPeer(await session.ws_connect(f"{url}/ws/dashboard"), timeout=WAIT)
    await peer.send("dashboard:connect", protocol=1, token=token)
    dash = Dashboard(peer, agent_id)
    kind, data = await peer.frame()
    assert kind is aiohttp.WSMsgType.TEXT, kind
    connected = decode(data, Direction.RELAY_TO_DASHBOARD)
    assert isinstance(connected, DashboardConnected), connected
    for info in connected.agents:
        if info.agent_id == agent_id:
            dash.infos.append(info)
            dash.subscribed = True
            await dash.send("subscribe", agent_id=agent_id, since=0)
    return dash


@pytest.fixture
async def dashboard(
    secret: bytes,
) -> AsyncIterator[Callable[[RunningRelay, str], Awaitable[Dashboard]]]:
    async with aiohttp.ClientSession() as session:

        async def connect(relay: RunningRelay, agent_id: str = "itest-agent") -> Dashboard:
            token = mint_token(secret, sub="tester", role="operator", ttl=600)
            return await connect_dashboard_to(session, relay.url, agent_id, token)

        yield connect


async def rest_output(relay_url: str, secret: bytes, agent_id: str) -> tuple[int, bytes]:
    """``(first offset, bytes)`` of the agent's stream as the relay has it (REST)."""
    token = mint_token(secret, sub="tester", role="viewer", ttl=600)
    async with aiohttp.ClientSession() as s, s.get(
        f"{relay_url}/api/agents/{agent_id}/output",
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 200, resp.status
        return int(resp.headers["X-Output-Offset"]), await resp.read()
