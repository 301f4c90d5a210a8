"""The relays' message bus: Redis pub/sub for record events and relay-to-relay messages.

Every relay subscribes to three channels: ``{p}:events`` (every change of an agent
record, published by the scripts of ``relay.redis.state`` in version order), its own
``{p}:relay:{rid}`` (control messages for agents connected here, acks for dashboards
connected here) and ``{p}:presence`` (``relay.redis.presence``; passed on like relay
messages). Pub/sub delivers nothing that was published while a relay was not
subscribed, so after every (re)subscription, once Redis has confirmed both channels, the
bus calls ``on_resync``: the hub reloads the records and diffs them against its copy;
events with a version the reload already covers are skipped by the hub.

Relay messages are JSON objects with ``k``:

- ``ctl``: ``{rid, from, agent, conn, text}``: deliver ``text`` (an encoded control
  message, ``request_id`` already the relay-side one) to ``conn`` of ``agent``; the ack
  goes back to relay ``from`` under ``rid``.
- ``ack``: ``{rid, ok, error}``: the sidecar's ack for request ``rid``.

The listener owns a connection without a socket timeout (it waits for messages with
``get_message(timeout=...)``) and reconnects with capped exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from relay.redis.keys import Keys
from relay.redis.state import Event, decode_event

log = logging.getLogger(__name__)

JsonObj = dict[str, Any]

#: Errors that mean "Redis is unreachable or broke the connection": retried, never fatal.
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def backoff(attempt: int, *, base: float = 0.05, cap: float = 2.0) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): capped exponential, full jitter
    above half the step so retries of several relays spread out."""
    step = min(cap, base * float(2 ** min(attempt, 16)))
    return step / 2 + random.random() * step / 2  # noqa: S311 - jitter, not crypto


class Bus:
    """Subscribes, dispatches, resubscribes. ``start``/``close`` bracket its life."""

    def __init__(
        self,
        url: str,
        keys: Keys,
        relay_id: str,
        *,
        on_event: Callable[[Event], None],
        on_message: Callable[[JsonObj], Awaitable[None]],
        on_resync: Callable[[], Awaitable[None]],
        on_down: Callable[[], None],
    ) -> None:
        self._url = url
        self._keys = keys
        self._relay_id = relay_id
        self._on_event = on_event
        self._on_message = on_message
        self._on_resync = on_resync
        self._on_down = on_down
        self._task: asyncio.Task[None] | None = None
        self._connected = False
        self._ready = asyncio.Event()

    @property
    def connected(self) -> bool:
        """True while subscribed and resynced."""
        return self._connected

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        return self._ready.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"redis-bus:{self._relay_id}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        attempt = 0
        while True:
            client = aioredis.Redis.from_url(
                self._url, socket_timeout=None, socket_connect_timeout=2.0
            )
            pubsub = client.pubsub()
            try:
                await self._subscribe(pubsub)
                await self._on_resync()
                self._connected = True
                self._ready.set()
                attempt = 0
                log.info("relay %s subscribed to the redis bus", self._relay_id)
                await self._listen(pubsub)
            except REDIS_DOWN as exc:
                if self._connected:
                    log.warning("redis bus lost (%s): reconnecting", type(exc).__name__)
                self._connected = False
                self._on_down()
            finally:
                self._connected = False
                with contextlib.suppress(*REDIS_DOWN):
                    await pubsub.aclose()
                with contextlib.suppress(*REDIS_DOWN):
                    await client.aclose()
            await asyncio.sleep(backoff(attempt))
            attempt += 1

    async def _subscribe(self, pubsub: aioredis.client.PubSub) -> None:
        channels = {self._keys.events, self._keys.relay(self._relay_id), self._keys.presence}
        await pubsub.subscribe(*channels)
        confirmed: set[str] = set()
        async with asyncio.timeout(5.0):
            while confirmed != channels:
                msg = await pubsub.get_message(timeout=1.0)
                if msg is not None and msg["type"] == "subscribe":
                    confirmed.add(_text(msg["channel"]))

    async def _listen(self, pubsub: aioredis.client.PubSub) -> None:
        events = self._keys.events
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
            if msg is None:
                await pubsub.ping()  # notices a dead connection while idle
                continue
            if msg["type"] != "message":
                continue
            data = msg["data"]
            try:
                if _text(msg["channel"]) == events:
                    event = decode_event(data)
                else:
                    await self._on_message(json.loads(data))
                    continue
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed bus message on %s", _text(msg["channel"]))
                continue
            self._on_event(event)


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
