"""Closing the append pipelines answers every waiter instead of leaving it pending.

A waiter left pending (a heartbeat echo, ``detach_agent`` waiting for the output before
it) hung its connection handler and with it the relay's shutdown. Redis is held with
``CLIENT PAUSE ... WRITE`` so the append cannot complete before ``close``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from relay.redis.keys import Keys
from relay.redis.pipeline import Appends
from relay.redis.stream import OutputStore
from tests.redis_server import RedisServer, redis_server
from tests.timing import deadline

__all__ = ["redis_server"]

pytestmark = pytest.mark.redis

KEYS = Keys("t")


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    c = redis_server.client()
    await c.hset(KEYS.agent("a"), mapping={"static": "{}", "conn": "c1", "end": 0, "start": 0})
    yield c
    await c.client_unpause()
    await c.aclose()


async def _never_reasserted(agent_id: str) -> bool:
    return False


async def test_close_answers_a_waiter_whose_append_never_completed(
    client: aioredis.Redis, redis_server: RedisServer
) -> None:
    writer = redis_server.client()
    appends = Appends(
        OutputStore(writer, KEYS, capacity=1 << 20), {}, {}, limit=1 << 20,
        is_live=lambda agent_id, conn_id: True, reassert=_never_reasserted,
        on_down=lambda: None,
    )
    await client.client_pause(60_000, all=False)
    appends.push("a", "c1", 0, b"held by the pause", None)
    waiter = asyncio.create_task(appends.received("a"))
    async with deadline(10):
        await appends.close()
        assert await waiter is False
    appends.push("a", "c1", 17, b"after close", None)  # ignored, starts nothing
    assert await appends.received("a") is False
    await writer.aclose()
