"""The whole contract suite again, with every relay on a Redis-backed hub.

``make_config`` is overridden so that each relay the contract tests start uses the
``redis_server`` of this test (fast liveness timings); nothing else changes, so every
behaviour of sections 1-9 is checked through ``relay.redis.hub.RedisHub``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from relay.config import RelayConfig
from tests.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]


@pytest.fixture
def make_config(secret: bytes, redis_server: RedisServer) -> Callable[..., RelayConfig]:
    def make(**overrides: Any) -> RelayConfig:
        base = RelayConfig(
            port=0,
            jwt_secret=secret,
            hello_timeout=1.0,
            heartbeat_interval=5.0,
            dead_after=10.0,
            shutdown_timeout=2.0,
            redis_url=redis_server.url,
            redis_liveness_ttl=1.0,
            redis_sweep_interval=0.2,
        )
        return dataclasses.replace(base, **overrides)

    return make
