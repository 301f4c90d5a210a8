"""The relay link: absent relays, restarts, refusals, replacement, drain timeout."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from agent_sidecar.config import RunConfig
from agent_sidecar.errors import RelayRefused
from relay.auth import mint_token
from relay.config import RelayConfig
from relay.server import RunningRelay, start_relay
from tests.fakes import HANDLES_TERM
from tests.integration.conftest import Dashboard, Sidecar, free_port, py, rest_output
from tests.timing import deadline

WAIT_FOR_LINE = "import sys; print('started', flush=True); sys.stdin.readline(); print('finished')"


async def test_command_runs_while_the_relay_is_absent_and_output_arrives_once_it_starts(
    make_config: Callable[..., RelayConfig],
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
    tmp_path: Path,
) -> None:
    port = free_port()
    marker = tmp_path / "ran"
    code = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('x'); " + WAIT_FOR_LINE
    sidecar = start_sidecar(
        make_run_config(f"ws://127.0.0.1:{port}", py(code), startup_wait=0.1)
    )
    await sidecar.wait(sidecar.runner.spawned)  # the command starts without a relay
    relay = await start_relay(make_config(port=port))
    try:
        dash = await dashboard(relay)
        await dash.until_output(b"started")
        assert marker.exists()
        await dash.request("command:request", "go", input="")
        assert await sidecar.result() == 0
        _, data = await rest_output(relay.url, secret, "itest-agent")
        assert data.startswith(b"started\r\n")
        assert data.endswith(b"finished\r\n")
    finally:
        await relay.close()


async def test_a_restarted_relay_gets_every_byte_exactly_once(
    make_config: Callable[..., RelayConfig],
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    port = free_port()
    relay = await start_relay(make_config(port=port))
    code = (
        "import sys\n"
        "print('one ' * 1000, flush=True)\n"
        "sys.stdin.readline()\n"
        "print('two ' * 1000, flush=True)\n"
    )
    sidecar = start_sidecar(make_run_config(f"ws://127.0.0.1:{port}", py(code)))
    dash = await dashboard(relay)
    await dash.until_output(b"one \r\n")
    await relay.close()  # a fresh relay remembers nothing: it welcomes at 0
    relay = await start_relay(make_config(port=port))
    try:
        dash = await dashboard(relay)
        await dash.until_output(b"one \r\n")
        await dash.request("command:request", "go", input="")
        assert await sidecar.result() == 0
        start, data = await rest_output(relay.url, secret, "itest-agent")
        assert start == 0
        assert data == b"one " * 1000 + b"\r\n" + b"\r\n" + b"two " * 1000 + b"\r\n"
    finally:
        await relay.close()


async def test_a_refused_token_fails_before_the_command_starts(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    code = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('x')"
    config = make_run_config(live_relay.url, py(code), token="not-a-jwt")
    sidecar = start_sidecar(config)
    with pytest.raises(RelayRefused, match="4401"):
        await sidecar.result()
    assert not marker.exists()


async def test_an_agent_id_outside_the_token_scope_is_refused(
    live_relay: RunningRelay,
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    token = mint_token(secret, sub="other", role="agent", agents=["other-*"], ttl=60)
    sidecar = start_sidecar(make_run_config(live_relay.url, py("print(1)"), token=token))
    with pytest.raises(RelayRefused, match="4403"):
        await sidecar.result()


async def test_a_replaced_sidecar_stops_streaming_but_keeps_the_command_running(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    agent_token: Callable[[str], str],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(WAIT_FOR_LINE)))
    await dash.until_output(b"started")
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{live_relay.url}/ws/agent")
        hello = {"type": "agent:hello", "protocol": 1, "agent_id": "itest-agent",
                 "token": agent_token("itest-agent")}
        await ws.send_str(json.dumps(hello))
        assert json.loads((await ws.receive()).data)["type"] == "agent:welcome"
        notice = await sidecar.notice("4409")
        assert "keeps running" in notice
        assert sidecar.runner.exit is None
        await ws.close()
    child = sidecar.runner.child
    assert child is not None
    await child.write(b"\r")
    assert await sidecar.result() == 0


async def test_the_drain_gives_up_after_its_timeout_when_no_relay_answers(
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    config = make_run_config(url, py("import sys; sys.exit(6)"), startup_wait=0.05,
                             drain_timeout=0.3)
    sidecar = start_sidecar(config)
    assert await sidecar.result(timeout=5) == 6
    assert any("did not confirm" in n for n in sidecar.notices)


async def test_output_beyond_the_retention_is_dropped_oldest_first_and_the_relay_records_a_gap(
    make_config: Callable[..., RelayConfig],
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    port = free_port()
    code = "import sys; sys.stdout.write('x' * 200_000 + 'tail'); sys.stdout.flush()"
    config = make_run_config(f"ws://127.0.0.1:{port}", py(code), startup_wait=0.05,
                             retain_bytes=65536, drain_timeout=10.0)
    sidecar = start_sidecar(config)
    await sidecar.wait(sidecar.runner.exited)
    relay = await start_relay(make_config(port=port))
    try:
        assert await sidecar.result() == 0
        start, data = await rest_output(relay.url, secret, "itest-agent")
        assert start == 200_004 - 65536
        assert data == (b"x" * 200_000 + b"tail")[-65536:]
    finally:
        await relay.close()


async def test_sigterm_to_the_sidecar_is_forwarded_and_the_output_still_drains(
    live_relay: RunningRelay,
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(HANDLES_TERM)))
    await dash.until_output(b"armed")
    sidecar.runner._on_signal(signal.SIGTERM)  # what the installed handler calls
    assert await sidecar.result() == 9
    _, data = await rest_output(live_relay.url, secret, "itest-agent")
    assert data.endswith(b"terminated-cleanly\r\n")


async def test_relays_are_tried_in_order_until_one_answers(
    live_relay: RunningRelay,
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    dead = f"ws://127.0.0.1:{free_port()}"
    config = make_run_config(dead, py("print('via-second')"))
    config = dataclasses.replace(config, relays=(dead, live_relay.url))
    sidecar = start_sidecar(config)
    assert await sidecar.result() == 0
    _, data = await rest_output(live_relay.url, secret, "itest-agent")
    assert data == b"via-second\r\n"


async def test_a_relay_that_goes_silent_is_treated_as_dead_and_reconnected(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    connections: asyncio.Queue[str] = asyncio.Queue()
    release = asyncio.Event()

    async def silent_relay(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        hello = json.loads((await ws.receive()).data)
        await ws.send_str(json.dumps(
            {"type": "agent:welcome", "agent_id": hello["agent_id"], "resume_from": 0}
        ))
        await connections.put(hello["agent_id"])
        await release.wait()  # never answers a heartbeat
        return ws

    app = web.Application()
    app.router.add_get("/ws/agent", silent_relay)
    server = await aiohttp_server(app)
    config = make_run_config(
        f"ws://127.0.0.1:{server.port}", py("import sys; sys.stdin.readline()"),
        heartbeat_interval=0.05, dead_after=0.3, drain_timeout=0.1,
    )
    sidecar = start_sidecar(config)
    async with deadline(10):
        assert await connections.get() == "itest-agent"
        assert await connections.get() == "itest-agent"  # it gave up on the first one
    release.set()
    child = sidecar.runner.child
    assert child is not None
    await child.write(b"\r")
    assert await sidecar.result() == 0


async def test_frames_shrink_when_the_relay_says_message_too_big(
    make_config: Callable[..., RelayConfig],
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    port = free_port()
    code = "import sys; sys.stdout.write('m' * 300_000); sys.stdout.flush()"
    sidecar = start_sidecar(
        make_run_config(f"ws://127.0.0.1:{port}", py(code), startup_wait=0.05)
    )
    await sidecar.wait(sidecar.runner.exited)  # 300 kB waiting: the first frame is big
    relay = await start_relay(make_config(port=port, max_message_bytes=16 * 1024))
    try:
        assert await sidecar.result() == 0
        start, data = await rest_output(relay.url, secret, "itest-agent")
        assert (start, data) == (0, b"m" * 300_000)
    finally:
        await relay.close()
