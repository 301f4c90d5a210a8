"""Output of this relay's agents on its way into Redis: one append pipeline per agent.

The agent's read loop only queues a chunk (:meth:`Appends.push` never waits); a writer
task per agent appends what is queued with the idempotent script of
``relay.redis.stream``. While one append call is in flight, later chunks queue up; when
it returns, the contiguous chunks at the head of the queue (same connection, each
starting where the previous one ends) are written in ONE call, at most
:data:`MAX_BATCH` bytes, no more than the scrollback, and no more than a quarter of a
dashboard's slow-consumer bound (a batch reaches local subscribers in one burst, before
their writers run). The script checks the
batch's whole byte range against the stream's end, so a batch that overlaps a resend
after failover keeps only the bytes past the end, and it adds one entry per chunk: a
chunk is never re-cut or glued to others, so no frame to a dashboard grows past what
the sidecar sent (a 1 MiB merged entry would exceed a small ``slow_consumer_bytes``
bound at once) and local and remote subscribers see the same chunks.

Local subscribers get each original chunk (with its binary frame, when it came as one)
right after the append that stored it, sliced to what the script kept; the relay's
``XREAD`` loop reads the same entry later and :class:`relay.redis.feed.Feed` skips it by
its tail. When the feed is behind the stream's previous end, the chunk is left to the
reader (delivering it would announce a false gap).

The queue is bounded by the scrollback size: past it the oldest queued chunks are
dropped and the next append starts above the stream's end, which records a gap (what
was dropped is older than the newest scrollback's worth, so the scrollback would have
trimmed it anyway; live viewers get ``terminal:gap``). The same queue is the outage
buffer: when an append fails, the relay is degraded, the queue keeps (at most the
scrollback of) output for the next attempt, local subscribers get queued and new chunks
at once (the local view stays live), and the writer retries with backoff or when
:meth:`Appends.flush` (the hub's resynchronisation) wakes it.

"Received" (:meth:`Appends.when_received`): every chunk queued before it was appended
(stored, or refused because the connection is no longer the live one) or dropped by the
bound (the next append records the gap), or - while Redis is unreachable - is held in
the outage buffer. A heartbeat echo asks for ``stored``: the outage buffer does not
count, since a Redis that comes back without its data, or the relay dying, would lose
what it holds; the sidecar keeps its copy until the echo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.exceptions import ConnectionError as RedisConnectionError

from relay.redis.bus import REDIS_DOWN, backoff
from relay.redis.feed import Feed
from relay.redis.stream import OutputStore

log = logging.getLogger(__name__)

#: Largest merged append (bytes); a single larger chunk is appended as it is.
MAX_BATCH = 1024 * 1024


@dataclass(slots=True)
class _Chunk:
    seq: int
    conn_id: str
    offset: int
    data: bytes
    frame: bytes | None

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


@dataclass(slots=True)
class _Pipe:
    """One agent's chunks that Redis has not confirmed yet."""

    queue: deque[_Chunk] = field(default_factory=deque)
    size: int = 0
    inflight: list[_Chunk] = field(default_factory=list)
    pushed: int = 0
    #: (sequence number, callback): called with True once every chunk up to it is
    #: resolved, False when an append fails first.
    marks: deque[tuple[int, Callable[[bool], None]]] = field(default_factory=deque)
    #: The same for callers that wait for Redis itself (``stored=True``): an outage
    #: does not answer them, the append after it does.
    stored: deque[tuple[int, Callable[[bool], None]]] = field(default_factory=deque)
    outage: bool = False
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def low(self) -> int:
        """Sequence number of the oldest unresolved chunk."""
        if self.inflight:
            return self.inflight[0].seq
        if self.queue:
            return self.queue[0].seq
        return self.pushed + 1


class Appends:
    """The append pipelines of one hub. ``feeds`` and ``confirmed_end`` are the hub's
    (shared); ``is_live(agent_id, conn_id)`` says whether that connection is the agent's
    live one here; ``reassert(agent_id)`` writes a live agent back when Redis lost it."""

    def __init__(
        self,
        output: OutputStore,
        feeds: dict[str, Feed],
        confirmed_end: dict[str, int],
        *,
        limit: int,
        slow_consumer_bytes: int | None = None,
        is_live: Callable[[str, str], bool],
        reassert: Callable[[str], Awaitable[bool]],
        on_down: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._output = output
        self._feeds = feeds
        self._confirmed_end = confirmed_end
        self._limit = limit
        self._batch = min(MAX_BATCH, limit)
        if slow_consumer_bytes is not None:
            self._batch = max(1, min(self._batch, slow_consumer_bytes // 4))
        self._is_live = is_live
        self._reassert = reassert
        self._on_down = on_down
        self._clock = clock
        self._pipes: dict[str, _Pipe] = {}
        self._closed = False

    # ------------------------------------------------------------------ API

    def push(self, agent_id: str, conn_id: str, offset: int, data: bytes,
             frame: bytes | None) -> None:
        """Queue a chunk of ``agent_id`` received on ``conn_id``; never waits."""
        if self._closed:
            return
        pipe = self._pipes.get(agent_id)
        if pipe is None:
            pipe = self._pipes[agent_id] = _Pipe()
        pipe.pushed += 1
        feed = self._feeds.get(agent_id)
        chunk = _Chunk(pipe.pushed, conn_id, offset, data, frame if feed is not None else None)
        pipe.queue.append(chunk)
        pipe.size += len(data)
        if pipe.size > self._limit:
            while pipe.size > self._limit and len(pipe.queue) > 1:
                pipe.size -= len(pipe.queue.popleft().data)
            self._resolve(pipe)
        if pipe.outage and feed is not None and feed.tail >= offset:
            feed.deliver(offset, data, frame)
        if pipe.task is None:
            pipe.task = asyncio.create_task(self._run(agent_id, pipe), name="redis-append")

    def when_received(
        self, agent_id: str, callback: Callable[[bool], None], *, stored: bool = False
    ) -> None:
        """Call ``callback`` once every chunk pushed so far is received (see the module
        docstring): at once when nothing is pending or Redis is unreachable, else with
        True after the append that resolves the last of them, False if one fails first.
        With ``stored``, an outage is no answer: the callback waits for the append after
        it (True), or for :meth:`close` (False)."""
        pipe = self._pipes.get(agent_id)
        if self._closed:
            callback(False)
        elif pipe is None or pipe.low() > pipe.pushed:
            callback(True)
        elif stored:
            pipe.stored.append((pipe.pushed, callback))
        elif pipe.outage:
            callback(False)
        else:
            pipe.marks.append((pipe.pushed, callback))

    async def received(self, agent_id: str) -> bool:
        """Wait until :meth:`when_received` would call back; True: all stored."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.when_received(agent_id, _setter(future))
        return await future

    async def flush(self) -> None:
        """Redis answers again: append everything queued now, in order; raises a Redis
        error when an append fails meanwhile."""
        for agent_id, pipe in list(self._pipes.items()):
            if pipe.low() > pipe.pushed:
                continue
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            pipe.marks.append((pipe.pushed, _setter(future)))
            pipe.wake.set()
            if not await future:
                raise RedisConnectionError(f"output of agent {agent_id} is still buffered")

    async def close(self) -> None:
        """Stop the writers; everyone still waiting for an append is answered False
        (a waiter left pending would hang its handler, and with it the shutdown)."""
        self._closed = True
        tasks = [p.task for p in self._pipes.values() if p.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pipe in self._pipes.values():
            marks, pipe.marks = pipe.marks, deque()
            marks += pipe.stored
            pipe.stored = deque()
            for _seq, callback in marks:
                callback(False)
        self._pipes.clear()

    # ------------------------------------------------------------------ writer

    async def _run(self, agent_id: str, pipe: _Pipe) -> None:
        attempt = 0
        retried = False
        try:
            while pipe.queue:
                batch = self._take(pipe)
                first = batch[0]
                data = first.data if len(batch) == 1 else [c.data for c in batch]
                try:
                    appended = await self._output.append(
                        agent_id, first.conn_id, first.offset, data, self._clock()
                    )
                    if (appended is None and not retried
                            and self._is_live(agent_id, first.conn_id)
                            and await self._reassert(agent_id)):
                        retried = True  # Redis had lost the agent (restart): written back
                        self._requeue(pipe)
                        continue
                except REDIS_DOWN as exc:
                    log.debug("append of agent %s failed: %s", agent_id, type(exc).__name__)
                    self._requeue(pipe)
                    self._enter_outage(agent_id, pipe)
                    pipe.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(backoff(attempt)):
                            await pipe.wake.wait()
                    attempt += 1
                    continue
                attempt = 0
                retried = False
                pipe.inflight = []
                if appended is not None:
                    self._confirmed_end[agent_id] = appended.end
                    if appended.chunk is not None:
                        kept = appended.chunk.offset
                        before = kept if appended.gap_from is None else appended.gap_from
                        feed = self._feeds.get(agent_id)
                        if feed is not None and feed.tail >= before:
                            for chunk in batch:
                                if chunk.end <= kept:
                                    continue
                                if chunk.offset >= kept:
                                    feed.deliver(chunk.offset, chunk.data, chunk.frame)
                                else:
                                    feed.deliver(kept, chunk.data[kept - chunk.offset:])
                if not pipe.queue:
                    pipe.outage = False
                self._resolve(pipe)
        finally:
            pipe.task = None
            if not pipe.queue and not pipe.inflight and self._pipes.get(agent_id) is pipe:
                del self._pipes[agent_id]

    def _take(self, pipe: _Pipe) -> list[_Chunk]:
        """Move the head of the queue that forms one append into ``inflight``."""
        first = pipe.queue.popleft()
        batch = [first]
        size = len(first.data)
        end = first.end
        while pipe.queue:
            nxt = pipe.queue[0]
            if (nxt.conn_id != first.conn_id or nxt.offset != end
                    or size + len(nxt.data) > self._batch):
                break
            pipe.queue.popleft()
            batch.append(nxt)
            size += len(nxt.data)
            end = nxt.end
        pipe.size -= size
        pipe.inflight = batch
        return batch

    def _requeue(self, pipe: _Pipe) -> None:
        """Put the in-flight batch back at the head of the queue (the bound applies to
        what is queued behind it)."""
        batch, pipe.inflight = pipe.inflight, []
        pipe.queue.extendleft(reversed(batch))
        pipe.size += sum(len(c.data) for c in batch)
        while pipe.size > self._limit and len(pipe.queue) > 1:
            pipe.size -= len(pipe.queue.popleft().data)

    def _enter_outage(self, agent_id: str, pipe: _Pipe) -> None:
        self._on_down()
        marks, pipe.marks = pipe.marks, deque()
        for _seq, callback in marks:
            callback(False)
        if pipe.outage:
            return
        pipe.outage = True
        feed = self._feeds.get(agent_id)
        if feed is not None:
            for chunk in pipe.queue:
                if feed.tail >= chunk.offset:
                    feed.deliver(chunk.offset, chunk.data, chunk.frame)

    def _resolve(self, pipe: _Pipe) -> None:
        low = pipe.low()
        for marks in (pipe.marks, pipe.stored):
            while marks and marks[0][0] < low:
                marks.popleft()[1](True)


def _setter(future: asyncio.Future[bool]) -> Callable[[bool], None]:
    def set_result(ok: bool) -> None:
        if not future.done():
            future.set_result(ok)

    return set_result
