"""Fixtures for several relays sharing one real ``redis-server``.

- ``redis_server``: a private Redis on a free port (``tests.redis_server``).
- ``redis_client``: a redis-py client of that server, closed after the test.
- ``make_fleet(n, **overrides)``: ``n`` relays (real apps on real ports through
  ``aiohttp_client``) pointing at it, with short liveness timings (TTL 1 s, sweep
  0.2 s) so liveness tests finish quickly; each is a ``TestClient`` usable with the
  ``connect_agent`` / ``connect_dashboard`` fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from relay.app import create_app
from relay.config import RelayConfig
from tests.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]

FAST = {"redis_liveness_ttl": 1.0, "redis_sweep_interval": 0.2}


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    c = redis_server.client()
    yield c
    await c.aclose()


@pytest.fixture
def redis_config(
    make_config: Callable[..., RelayConfig], redis_server: RedisServer
) -> Callable[..., RelayConfig]:
    def make(**overrides: Any) -> RelayConfig:
        return make_config(redis_url=redis_server.url, **{**FAST, **overrides})

    return make


@pytest.fixture
def make_fleet(
    aiohttp_client: Any, redis_config: Callable[..., RelayConfig]
) -> Callable[..., Awaitable[list[TestClient[Any, Any]]]]:
    async def make(n: int, **overrides: Any) -> list[TestClient[Any, Any]]:
        return [await aiohttp_client(create_app(redis_config(**overrides))) for _ in range(n)]

    return make
