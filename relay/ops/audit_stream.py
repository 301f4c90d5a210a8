"""The shared audit stream in Redis: every relay of a fleet appends, any relay reads.

Key ``{prefix}:audit`` (a STREAM next to the hub's keys), one entry per record with the
field ``r`` = the record's JSON line, entry ids chosen by Redis (milliseconds of its
clock), capped with ``XADD MAXLEN ~ N``. Reads page backwards with ``XREVRANGE``, so
the newest records come first and a time window maps onto entry ids.

Appends never make a handler wait for Redis: records go into a bounded queue that one
writer task drains, in order, up to ``BATCH`` records per pipelined round trip. While
Redis is unreachable the writer retries the batch with backoff; when the queue is full
new records are dropped and counted (the audit file, when configured, still has them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from relay.ops.audit_record import AuditRecord

log = logging.getLogger(__name__)

QUEUE_RECORDS: Final = 10_000
#: Records written in one pipelined round trip.
BATCH: Final = 200
#: XREVRANGE page size while filtering.
PAGE: Final = 500
CLOCK_SLACK: Final = 60.0
DRAIN_TIMEOUT: Final = 1.0
REDIS_DOWN: Final = (RedisError, OSError, TimeoutError)


class AuditStream:
    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        max_len: int,
        on_dropped: Callable[[int], None],
        on_roundtrip: Callable[[float], None],
    ) -> None:
        self._url = url
        self.key = f"{prefix}:audit"
        self._max_len = max_len
        self._on_dropped = on_dropped
        self._on_roundtrip = on_roundtrip
        self._queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_RECORDS)
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(
            self._url, socket_timeout=5.0, socket_connect_timeout=2.0
        )
        self._task = asyncio.create_task(self._run(), name="audit-stream")

    async def close(self, timeout: float = 2.0) -> None:
        """Write what is queued (at most ``timeout`` seconds), then disconnect."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def append(self, record: AuditRecord) -> None:
        try:
            self._queue.put_nowait(record.to_json())
        except asyncio.QueueFull:
            self._on_dropped(1)

    async def _run(self) -> None:
        assert self._client is not None
        delay = 0.05
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            while True:
                try:
                    started = time.perf_counter()
                    async with self._client.pipeline(transaction=False) as pipe:
                        for line in batch:
                            pipe.xadd(self.key, {"r": line}, maxlen=self._max_len,
                                      approximate=True)
                        await pipe.execute()
                    self._on_roundtrip(time.perf_counter() - started)
                    delay = 0.05
                    break
                except REDIS_DOWN as exc:
                    log.warning("audit stream: redis unreachable (%s), retrying",
                                type(exc).__name__)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
            for _ in batch:
                self._queue.task_done()

    async def read(
        self,
        keep: Callable[[AuditRecord], bool],
        *,
        since: float | None,
        until: float | None,
        limit: int,
    ) -> list[AuditRecord]:
        """Newest first: up to ``limit`` records within ``[since, until]`` that ``keep``.

        Waits (at most ``DRAIN_TIMEOUT``) for this relay's queued records first, so an
        admin who acted and then reads sees the action."""
        assert self._client is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await self._queue.join()
        # Entry ids carry Redis's clock, records the relay's: widen the id window by
        # CLOCK_SLACK and filter on the record's own time.
        high = "+" if until is None else str(int((until + CLOCK_SLACK) * 1000))
        low = "-" if since is None else str(max(0, int((since - CLOCK_SLACK) * 1000)))
        found: list[AuditRecord] = []
        while len(found) < limit:
            entries = await self._client.xrevrange(self.key, high, low, count=PAGE) or []
            for _entry_id, values in entries:
                raw = (values or {}).get(b"r")
                if raw is None:
                    continue
                record = AuditRecord.from_dict(json.loads(raw))
                if _within(record, since, until) and keep(record):
                    found.append(record)
                    if len(found) == limit:
                        break
            if len(entries) < PAGE:
                break
            high = "(" + _text(entries[-1][0] or b"")
        return found


def _within(record: AuditRecord, since: float | None, until: float | None) -> bool:
    return (since is None or record.time >= since) and (until is None or record.time <= until)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
