"""The hook socket: private, the secret checked, bad input refused and logged once, floods
bounded; and hookcall.py (the real client the agents run) end to end."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_sidecar.activity.hooks.hookcall import SECRET_ENV, SOCKET_ENV
from agent_sidecar.activity.hooks.inject import HOOKCALL
from agent_sidecar.activity.hooks.server import HookServer
from tests.timing import deadline

SECRET = "s3cret-for-this-run-only"
WAIT = 10.0


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, object]]] = []
        self.answer = ""
        self.release = asyncio.Event()
        self.hold = False

    async def __call__(self, agent: str, event: str, payload: dict[str, object]) -> str:
        self.events.append((agent, event, payload))
        if self.hold:
            await self.release.wait()
        return self.answer


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[HookServer, Recorder]]:
    directory = tmp_path / "run"
    directory.mkdir(mode=0o700)
    rec = Recorder()
    srv = HookServer(directory, SECRET, rec, rate=50.0, burst=20, max_connections=8)
    await srv.start()
    yield srv, rec
    await srv.close()


async def send(srv: HookServer, line: bytes) -> bytes:
    """What the server answers to ``line`` (b"" when it closed the connection on us)."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(srv.path))
    except OSError:
        return b""  # the listen backlog is full (a flood)
    try:
        writer.write(line)
        await writer.drain()
        async with deadline(WAIT):
            return await reader.read()
    except ConnectionError:
        return b""
    finally:
        writer.close()


def event(secret: str = SECRET, **extra: object) -> bytes:
    msg = {"secret": secret, "agent": "claude", "event": "Stop", "payload": {}, **extra}
    return json.dumps(msg).encode() + b"\n"


async def test_the_socket_is_only_for_its_owner(server: tuple[HookServer, Recorder]) -> None:
    srv, _ = server
    assert stat.S_IMODE(os.stat(srv.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(srv.path.parent).st_mode) == 0o700


async def test_a_good_event_reaches_the_handler_and_gets_its_answer(
    server: tuple[HookServer, Recorder],
) -> None:
    srv, rec = server
    rec.answer = "out"
    assert json.loads(await send(srv, event())) == {"stdout": "out"}
    assert rec.events == [("claude", "Stop", {})]


@pytest.mark.parametrize("line", [
    event(secret="wrong"),
    event(secret=SECRET[:-1]),
    b"not json\n",
    b"[1, 2]\n",
    json.dumps({"agent": "claude", "event": "Stop", "payload": {}}).encode() + b"\n",
    event(agent="vim"),
    event(payload="text"),
    event(event="x" * 65),
    b'{"secret": "' + b"a" * 2_000_000,
])
async def test_bad_input_is_refused_and_changes_nothing(
    server: tuple[HookServer, Recorder], line: bytes
) -> None:
    srv, rec = server
    assert await send(srv, line) == b""
    assert rec.events == []
    assert srv.refused == 1


async def test_each_kind_of_refusal_is_logged_once(
    server: tuple[HookServer, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    srv, _ = server
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        await send(srv, event(secret="bad-secret-value"))
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert SECRET not in caplog.text
    assert "bad-secret-value" not in caplog.text


async def test_a_flood_is_bounded(tmp_path: Path) -> None:
    rec = Recorder()
    srv = HookServer(tmp_path, SECRET, rec, rate=0.001, burst=5)
    await srv.start()
    try:
        answers = await asyncio.gather(*(send(srv, event()) for _ in range(200)))
    finally:
        await srv.close()
    served = sum(1 for a in answers if a)
    assert served == 5 == len(rec.events)
    assert srv.refused > 0


async def test_a_hook_that_goes_away_cancels_its_handler(
    server: tuple[HookServer, Recorder],
) -> None:
    srv, rec = server
    rec.hold = True
    _reader, writer = await asyncio.open_unix_connection(str(srv.path))
    writer.write(event())
    await writer.drain()
    async with deadline(WAIT):
        while not rec.events:
            await asyncio.sleep(0)  # yield to the server until the event arrived
    writer.close()
    await writer.wait_closed()
    async with deadline(WAIT):
        while srv._open:
            await asyncio.sleep(0.01)
    assert not rec.release.is_set()


async def test_hookcall_forwards_stdin_and_prints_the_answer(
    server: tuple[HookServer, Recorder],
) -> None:
    srv, rec = server
    rec.answer = '{"decision": "x"}'
    env = {**os.environ, SOCKET_ENV: str(srv.path), SECRET_ENV: SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-S", str(HOOKCALL), "claude", "PreToolUse", env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(b'{"tool_name": "Bash"}'), WAIT)
    assert proc.returncode == 0
    assert out == b'{"decision": "x"}'
    assert rec.events == [("claude", "PreToolUse", {"tool_name": "Bash"})]


async def test_hookcall_without_a_sidecar_says_nothing_and_exits_0(tmp_path: Path) -> None:
    env = {**os.environ, SOCKET_ENV: str(tmp_path / "gone.sock"), SECRET_ENV: SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-S", str(HOOKCALL), "claude", "PermissionRequest", env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(b"{}"), WAIT)
    assert (proc.returncode, out) == (0, b"")
