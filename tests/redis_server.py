"""A private ``redis-server`` for tests: its own free port, no persistence, stoppable.

``redis_server`` (function scope) yields a :class:`RedisServer` that is up (PING
answered). ``stop()`` shuts it down (``kill=True``: SIGKILL, like a crash) and
``start()`` brings it back on the same port, empty (``--save "" --appendonly no``),
which is what a Redis restart without persistence does. Tests skip with a clear reason
when the binary is missing. Never ``--port 0``: that disables TCP in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.timing import deadline

REDIS_SERVER = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    def __init__(self, binary: str, port: int) -> None:
        self.binary = binary
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 10.0) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--protected-mode", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            async with deadline(timeout):
                while True:
                    if self.proc.returncode is not None:
                        raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
                    try:
                        if await client.ping():
                            return
                    except (OSError, ConnectionError, aioredis.ConnectionError):
                        await asyncio.sleep(0.02)  # the server is binding: poll with a deadline
        finally:
            await client.aclose()

    async def stop(self, *, kill: bool = False) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        async with deadline(10):
            await proc.wait()

    def client(self, **kwargs: object) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.url, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(REDIS_SERVER, _free_port())
    await server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            await server.stop(kill=True)


async def stream_entries(client: aioredis.Redis, key: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """``XRANGE key - +`` as ``(entry id, fields)`` pairs (bytes: clients here never decode)."""
    entries = []
    for entry_id, fields in await client.xrange(key) or []:
        assert isinstance(entry_id, bytes), entry_id
        assert fields is not None, entry_id
        pairs: dict[bytes, bytes] = {}
        for name, value in fields.items():
            assert isinstance(name, bytes), name
            assert isinstance(value, bytes), value
            pairs[name] = value
        entries.append((entry_id, pairs))
    return entries


async def hash_int(client: aioredis.Redis, key: str, field: str) -> int:
    """An integer field of a hash; fails the test when it is missing."""
    value = await client.hget(key, field)
    assert value is not None, f"{key} has no field {field}"
    return int(value)
