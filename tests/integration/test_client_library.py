"""The client library (:mod:`agent_sidecar.client`) against a real relay and a real
sidecar running a real command: the agent list, output in order to the exit, requests and
their acks, and one typed exception per refusal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from agent_sidecar.client import (
    AgentOffline,
    Client,
    ClientExit,
    Endpoint,
    Exited,
    Forbidden,
    RelayUnreachable,
    StreamEvent,
    TerminalGap,
    TerminalOutput,
    TokenRefused,
    UnknownAgent,
)
from agent_sidecar.config import RunConfig
from relay.auth import mint_token
from relay.server import RunningRelay
from tests.integration.conftest import WAIT, Sidecar, free_port, py, rest_output
from tests.timing import deadline

ConnectAs = Callable[..., Awaitable[Client]]


@pytest.fixture
async def connect_as(
    live_relay: RunningRelay, secret: bytes
) -> AsyncIterator[ConnectAs]:
    clients: list[Client] = []

    async def connect(role: str = "operator", agents: list[str] | None = None) -> Client:
        token = mint_token(secret, sub="lib-test", role=role, agents=agents, ttl=600)  # type: ignore[arg-type]
        client = await Client.connect(Endpoint(live_relay.url, token), timeout=WAIT)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.close()


async def collect(events: AsyncIterator[StreamEvent] | Any) -> list[StreamEvent]:
    return [event async for event in events]


READS_THEN_EXITS = (
    "import sys\n"
    "print('ready', flush=True)\n"
    "line = sys.stdin.readline()\n"
    "print('got:' + line.strip(), flush=True)\n"
    "sys.exit(5)\n"
)


async def test_follow_delivers_every_byte_once_then_the_exit_code(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    connect_as: ConnectAs,
    secret: bytes,
) -> None:
    sidecar = start_sidecar(make_run_config(live_relay.url, py(READS_THEN_EXITS)))
    client = await connect_as()
    seen = await _wait_agent(client, "itest-agent")
    assert seen.agent_id == "itest-agent"
    stream = await client.subscribe("itest-agent", since=0, follow=True)
    received = bytearray()
    exit_event: Exited | None = None
    sent = False
    async with _deadline():
        async for event in stream:
            if isinstance(event, TerminalOutput):
                assert event.offset == len(received)
                received += event.data
                if b"ready" in received and not sent:
                    sent = True
                    ack = await client.command("itest-agent", "hello", timeout=WAIT)
                    assert ack.ok, ack
            elif isinstance(event, Exited):
                exit_event = event
            else:
                raise AssertionError(f"unexpected {event}")
    assert exit_event is not None
    assert exit_event.exit_code == 5
    assert b"got:hello" in received
    assert await sidecar.result() == 5
    start, stored = await rest_output(live_relay.url, secret, "itest-agent")
    assert (start, bytes(received)) == (0, stored)


async def test_without_follow_the_stream_ends_at_the_end_it_had_when_subscribed(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    connect_as: ConnectAs,
) -> None:
    start_sidecar(make_run_config(live_relay.url, py(READS_THEN_EXITS)))
    client = await connect_as()
    await _wait_output(client, "itest-agent", b"ready\r\n")
    stream = await client.subscribe("itest-agent", since=2, follow=False)
    events = await collect(stream)
    data = b"".join(e.data for e in events if isinstance(e, TerminalOutput))
    assert stream.start == 2
    assert len(data) == stream.end_at_subscribe - 2
    assert data == b"ady\r\n"  # the command printed "ready" and waits for input
    assert not any(isinstance(e, TerminalGap | Exited) for e in events)


async def test_interrupt_is_acked_and_the_agent_reports_the_signal_exit(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    connect_as: ConnectAs,
) -> None:
    code = "import time; print('sleeping', flush=True); time.sleep(60)"
    start_sidecar(make_run_config(live_relay.url, py(code)))
    client = await connect_as()
    await _wait_output(client, "itest-agent", b"sleeping")
    stream = await client.subscribe("itest-agent", since=0)
    ack = await client.interrupt("itest-agent", "SIGINT", timeout=WAIT)
    assert ack.ok
    events = await collect(stream)
    assert isinstance(events[-1], Exited)
    assert events[-1].exit_code == 130


async def test_refusals_raise_one_typed_error_each(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    connect_as: ConnectAs,
) -> None:
    sidecar = start_sidecar(make_run_config(live_relay.url, py("print('bye')")))
    assert await sidecar.result() == 0
    operator = await connect_as()
    with pytest.raises(UnknownAgent):
        await operator.subscribe("no-such-agent", since=0)
    with pytest.raises(UnknownAgent):
        await operator.agent("no-such-agent")
    with pytest.raises(AgentOffline) as offline:
        await operator.command("itest-agent", "echo hi", timeout=WAIT)
    assert offline.value.exit_code == ClientExit.AGENT_OFFLINE
    scoped = await connect_as(agents=["other-*"])
    assert "itest-agent" not in scoped.agents
    with pytest.raises(Forbidden):
        await scoped.subscribe("itest-agent", since=0)
    with pytest.raises(Forbidden):
        await scoped.agent("itest-agent")
    viewer = await connect_as(role="viewer")
    with pytest.raises(Forbidden):
        await viewer.interrupt("itest-agent", timeout=WAIT)
    # The connection stays usable after each of them.
    assert await operator.ping(timeout=WAIT) >= 0


async def test_a_bad_token_and_a_closed_port_are_told_apart(live_relay: RunningRelay) -> None:
    with pytest.raises(TokenRefused):
        await Client.connect(Endpoint(live_relay.url, "not-a-jwt"), timeout=WAIT)
    with pytest.raises(RelayUnreachable):
        await Client.connect(
            Endpoint(f"ws://127.0.0.1:{free_port()}", "not-a-jwt"), timeout=WAIT
        )


# --------------------------------------------------------------------------- helpers


def _deadline() -> asyncio.Timeout:
    return deadline(WAIT)


async def _wait_agent(client: Client, agent_id: str) -> Any:
    if agent_id in client.agents:
        return client.agents[agent_id]
    async with _deadline():
        async for _event in client.events():
            if agent_id in client.agents:
                return client.agents[agent_id]
    raise AssertionError("events ended")


async def _wait_output(client: Client, agent_id: str, sentinel: bytes) -> None:
    await _wait_agent(client, agent_id)
    stream = await client.subscribe(agent_id, since=0)
    seen = bytearray()
    async with _deadline():
        async for event in stream:
            if isinstance(event, TerminalOutput):
                seen += event.data
                if sentinel in seen:
                    break
    await client.unsubscribe(agent_id)
