"""Live output across relays: one :class:`Feed` per watched agent, one :class:`Reader`.

A relay keeps a feed for every agent that at least one of its dashboards subscribes to.
The feed's ``tail`` is the offset up to which this relay has read the agent's stream;
every subscriber's cursor is at or past it (a new subscriber is registered only once
its replay reaches the tail). :meth:`Feed.deliver` takes a chunk from any source, drops
what is below the tail, and hands each subscriber exactly the bytes past its cursor:
the same rule as ``relay.hub.local`` (a cursor inside the chunk gets a slice of its own,
a cursor below it a ``terminal:gap`` first; each form is encoded once).

Two sources feed it, and the tail makes them idempotent with each other:

- the :class:`Reader`: one ``XREAD BLOCK`` loop per relay over the streams of all its
  feeds, on its own connection. The stream entry id is the chunk's end offset, so the
  read position is simply ``<tail>-0``; after a Redis outage the next ``XREAD`` fetches
  whatever was missed. A new feed interrupts the blocked read with ``CLIENT UNBLOCK``
  so it joins the next read at once.
- the append pipeline (``relay.redis.pipeline``), for agents connected to this relay:
  each chunk, as far as the append script kept it, is delivered as soon as that append
  returns (one Redis round trip less), and at once while Redis is down (local
  dashboards stay live); the reader sees the same entries later and skips them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from relay.hub.interface import DashboardConn
from relay.hub.scrollback import Chunk
from relay.protocol import TerminalGap, TerminalOutput, WireFrame, encode, encode_binary_output
from relay.redis.bus import REDIS_DOWN, backoff
from relay.redis.keys import Keys
from relay.redis.stream import entry_id, parse_entry

log = logging.getLogger(__name__)


#: Entries per stream per XREAD.
READ_COUNT = 512


def output_frame(agent_id: str, offset: int, data: bytes, binary: bool) -> WireFrame:
    if binary:
        return encode_binary_output(agent_id, offset, data)
    return encode(TerminalOutput(agent_id=agent_id, offset=offset, data=data))


def catch_up(
    agent_id: str, cursor: int, entries: list[Chunk], binary: bool
) -> tuple[list[WireFrame], int]:
    """Frames that take a subscriber at ``cursor`` through ``entries``; the new cursor."""
    frames: list[WireFrame] = []
    for entry in entries:
        if entry.end <= cursor:
            continue
        if entry.offset > cursor:
            frames.append(encode(TerminalGap(agent_id=agent_id, from_=cursor, to=entry.offset)))
            frames.append(output_frame(agent_id, entry.offset, entry.data, binary))
        else:
            frames.append(
                output_frame(agent_id, cursor, entry.data[cursor - entry.offset:], binary)
            )
        cursor = entry.end
    return frames, cursor


class Feed:
    """This relay's subscribers of one agent and how far it has read the stream."""

    __slots__ = ("agent_id", "subscribers", "tail")

    def __init__(self, agent_id: str, tail: int) -> None:
        self.agent_id = agent_id
        self.tail = tail
        #: subscriber -> next offset it expects (always >= tail)
        self.subscribers: dict[DashboardConn, int] = {}

    def deliver(self, offset: int, data: bytes, frame: bytes | None = None) -> None:
        """Fan out bytes ``[offset, offset + len(data))``; ``frame`` is their binary form
        when the caller has it."""
        end = offset + len(data)
        if end <= self.tail or not data:
            return
        agent_id = self.agent_id
        text: str | None = None
        binary = frame
        for dashboard, cursor in self.subscribers.items():
            if cursor >= end:
                continue  # a since beyond this chunk: wait for the stream to reach it
            peer = dashboard.peer
            if cursor > offset:
                own = output_frame(agent_id, cursor, data[cursor - offset:], dashboard.binary)
                if isinstance(own, bytes):
                    peer.send_bytes(own, agent_id=agent_id)
                else:
                    peer.send_text(own, agent_id=agent_id)
                self.subscribers[dashboard] = end
                continue
            if cursor < offset:
                gap = TerminalGap(agent_id=agent_id, from_=cursor, to=offset)
                peer.send_text(encode(gap), agent_id=agent_id)
            if dashboard.binary:
                if binary is None:
                    binary = encode_binary_output(agent_id, offset, data)
                peer.send_bytes(binary, agent_id=agent_id)
            else:
                if text is None:
                    text = encode(TerminalOutput(agent_id=agent_id, offset=offset, data=data))
                peer.send_text(text, agent_id=agent_id)
            self.subscribers[dashboard] = end
        self.tail = end


class Reader:
    """The relay's ``XREAD BLOCK`` loop over the streams of ``feeds`` (shared, owned by
    the hub). ``control`` is a client for ``CLIENT UNBLOCK``."""

    def __init__(
        self,
        url: str,
        keys: Keys,
        feeds: dict[str, Feed],
        control: aioredis.Redis,
        *,
        on_down: Callable[[], None],
        block: float = 5.0,
    ) -> None:
        self._url = url
        self._keys = keys
        self._feeds = feeds
        self._control = control
        self._on_down = on_down
        self._block_ms = max(1, int(block * 1000))
        # Deliberately longer than the block: redis-py's 5 s default would cut it.
        self._socket_timeout = block + 10.0
        self._task: asyncio.Task[None] | None = None
        self._unblocker: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._generation = 0
        self._generation_read = 0
        self._client_id: int | None = None
        self._blocked = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="redis-reader")

    async def close(self) -> None:
        for task in (self._unblocker, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._unblocker = None

    def wake(self) -> None:
        """The set of feeds changed: read the new streams from now on."""
        self._generation += 1
        self._changed.set()
        if self._unblocker is None and self._task is not None:
            self._unblocker = asyncio.create_task(self._unblock(), name="redis-unblock")

    async def _unblock(self) -> None:
        try:
            for _ in range(400):
                if self._generation_read >= self._generation:
                    return
                cid = self._client_id
                if cid is not None and self._blocked:
                    with contextlib.suppress(*REDIS_DOWN):
                        if await self._control.client_unblock(cid):
                            return
                await asyncio.sleep(0.005)
        finally:
            self._unblocker = None

    async def _run(self) -> None:
        attempt = 0
        prefix = self._keys.out_prefix
        while True:
            client = aioredis.Redis.from_url(
                self._url, socket_timeout=self._socket_timeout, socket_connect_timeout=2.0,
                single_connection_client=True,
            )
            try:
                while True:
                    if not self._feeds:
                        self._changed.clear()
                        await self._changed.wait()
                        continue
                    if self._client_id is None:
                        self._client_id = int(await client.client_id())
                    self._changed.clear()
                    self._generation_read = self._generation
                    streams = {
                        self._keys.out(aid): entry_id(feed.tail)
                        for aid, feed in self._feeds.items()
                    }
                    self._blocked = True
                    try:
                        res = await client.xread(
                            streams, count=READ_COUNT, block=self._block_ms  # type: ignore[arg-type]
                        )
                    finally:
                        self._blocked = False
                    attempt = 0
                    for key, entries in _streams(res):
                        feed = self._feeds.get(key[len(prefix):])
                        if feed is None:
                            continue
                        for _id, fields in entries:
                            entry = parse_entry(fields)
                            feed.deliver(entry.offset, entry.data)
            except REDIS_DOWN as exc:
                log.debug("redis reader: %s", type(exc).__name__)
                self._on_down()
            finally:
                self._client_id = None
                self._blocked = False
                with contextlib.suppress(*REDIS_DOWN):
                    await client.aclose()
            await asyncio.sleep(backoff(attempt))
            attempt += 1


def _streams(res: Any) -> list[tuple[str, list[Any]]]:
    """XREAD's answer as ``(key, entries)``: RESP2 gives ``[[key, entries], ...]``,
    RESP3 ``{key: [entries]}``."""
    if not res:
        return []
    if isinstance(res, dict):
        pairs = [(k, v[0] if v and isinstance(v[0], list) else v) for k, v in res.items()]
    else:
        pairs = [(k, v) for k, v in res]
    return [(k.decode() if isinstance(k, bytes) else str(k), list(v)) for k, v in pairs]
