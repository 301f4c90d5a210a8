"""Claims: "this relay delivers notice K on channel C", taken at most once.

A relay alone remembers its claims in memory (bounded). Relays sharing one Redis take
them with ``SET key 1 NX EX ttl``: the first relay to set the key delivers, the others
skip, so each transition reaches each channel at most once however many relays see it.
A claim is taken before the first delivery attempt and never released: a delivery that
fails for good is not retried by another relay (at most once, never twice).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    import redis.asyncio as aioredis

#: How long a claim is kept: a transition's key cannot come back after a day.
CLAIM_TTL_SECONDS: Final = 86400
#: Claims a relay alone remembers (oldest forgotten first).
MEMORY_CLAIMS: Final = 10_000


class Claims(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def claim(self, key: str) -> bool:
        """True exactly once per key; raises when the claim cannot be decided now."""


class MemoryClaims:
    def __init__(self, limit: int = MEMORY_CLAIMS) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def claim(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return True


class RedisClaims:
    """Claims in the fleet's Redis, under ``{prefix}:notify:``."""

    def __init__(self, url: str, prefix: str, ttl: int = CLAIM_TTL_SECONDS) -> None:
        self._url = url
        self._prefix = prefix
        self._ttl = ttl
        self._client: aioredis.Redis | None = None

    async def start(self) -> None:
        import redis.asyncio as aioredis  # only relays with --redis load redis

        self._client = aioredis.Redis.from_url(
            self._url, socket_timeout=5.0, socket_connect_timeout=2.0
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def claim(self, key: str) -> bool:
        if self._client is None:
            raise RuntimeError("claims used before start")
        done = await self._client.set(f"{self._prefix}:notify:{key}", "1", nx=True, ex=self._ttl)
        return bool(done)
