"""One agent's output as a subscriber sees it: in order, exactly once, gaps announced.

:class:`Cursor` is the bookkeeping, without I/O: it takes what the relay sends about one
subscription (``subscribed``, ``terminal:output``, ``terminal:gap``, ``agent:status``)
and returns the events a reader should see, in stream order:

- :class:`~relay.protocol.TerminalOutput` chunks, each starting where the previous ended;
- :class:`~relay.protocol.TerminalGap` wherever bytes will never come: the relay no
  longer had them (``subscribed.from`` beyond ``since``, or a ``terminal:gap``), or a
  chunk started past the expected offset (a relay breaking the contract; reported, not
  hidden). Bytes already seen are trimmed, never repeated;
- :class:`Exited` last, once the agent exited and every byte up to its end was seen.

:class:`OutputStream` is the async iterator over those events that
:meth:`agent_sidecar.client.Client.subscribe` returns.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeAlias

from relay.protocol import AgentInfo, TerminalGap, TerminalOutput

from .errors import ClientError


@dataclass(frozen=True, slots=True)
class Exited:
    """The agent's command ended; ``info`` is its record at that moment."""

    info: AgentInfo

    @property
    def exit_code(self) -> int | None:
        return self.info.exit_code


StreamEvent: TypeAlias = TerminalOutput | TerminalGap | Exited


class Cursor:
    """The position in one agent's stream and what the reader has been given.

    ``follow=False`` ends the stream at the end the relay announced in ``subscribed``
    (the scrollback only); ``follow=True`` goes on until the agent exits.
    """

    def __init__(self, agent_id: str, since: int | None, *, follow: bool) -> None:
        self.agent_id = agent_id
        self.since = since
        self.follow = follow
        #: The next offset the reader expects; None until ``subscribed``.
        self.next: int | None = None
        #: Where a non-following stream stops.
        self.stop_at: int | None = None
        self.exited: AgentInfo | None = None
        self.done = False

    def subscribed(self, from_: int, end: int) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if self.since is not None and from_ > self.since:
            events.append(TerminalGap(agent_id=self.agent_id, from_=self.since, to=from_))
        self.next = from_
        if not self.follow:
            self.stop_at = max(from_, end)
        return events + self._maybe_done()

    def output(self, chunk: TerminalOutput) -> list[StreamEvent]:
        if self.next is None or self.done or chunk.end <= self.next:
            return []  # before subscribed (an old subscription), after the end, or seen
        events: list[StreamEvent] = []
        if chunk.offset > self.next:
            events.append(TerminalGap(agent_id=self.agent_id, from_=self.next, to=chunk.offset))
        elif chunk.offset < self.next:
            chunk = TerminalOutput(
                agent_id=chunk.agent_id,
                offset=self.next,
                data=chunk.data[self.next - chunk.offset :],
            )
        if self.stop_at is not None and chunk.end > self.stop_at:
            if chunk.offset >= self.stop_at:
                return self._maybe_done()
            chunk = TerminalOutput(
                agent_id=chunk.agent_id,
                offset=chunk.offset,
                data=chunk.data[: self.stop_at - chunk.offset],
            )
        events.append(chunk)
        self.next = chunk.end
        return events + self._maybe_done()

    def gap(self, gap: TerminalGap) -> list[StreamEvent]:
        if self.next is None or self.done or gap.to <= self.next:
            return []
        start = max(gap.from_, self.next)
        self.next = gap.to
        return [TerminalGap(agent_id=self.agent_id, from_=start, to=gap.to)]

    def status(self, info: AgentInfo) -> list[StreamEvent]:
        if info.state == "exited":
            self.exited = info
        elif self.exited is not None:
            self.exited = None  # a new sidecar took the id over: the stream goes on
        return self._maybe_done()

    def _maybe_done(self) -> list[StreamEvent]:
        if self.done or self.next is None:
            return []
        if self.stop_at is not None and self.next >= self.stop_at:
            self.done = True
            return [Exited(self.exited)] if self.exited is not None else []
        if self.exited is not None and self.next >= self.exited.offset:
            self.done = True
            return [Exited(self.exited)]
        return []


class OutputStream:
    """``async for event in stream``: the events of one subscription, then the end.

    The iteration ends after :class:`Exited`, at the end of the scrollback when not
    following, or raises the :class:`ClientError` that ended the connection (after every
    event that arrived before it). At most ``limit`` events wait for the reader: a reader
    that stops reading stalls the connection (and, past the relay's bound, gets
    :class:`~agent_sidecar.client.errors.SlowConsumer`), not the memory.
    """

    def __init__(self, cursor: Cursor, *, limit: int = 256) -> None:
        self.cursor = cursor
        self.subscribed: asyncio.Future[tuple[int, int]] = (
            asyncio.get_running_loop().create_future()
        )
        self._limit = limit
        self._items: deque[StreamEvent] = deque()
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._finished = False
        self._error: ClientError | None = None

    @property
    def agent_id(self) -> str:
        return self.cursor.agent_id

    @property
    def next_offset(self) -> int | None:
        """The offset of the next byte this stream will deliver (to resume elsewhere)."""
        return self.cursor.next

    @property
    def start(self) -> int:
        """``subscribed.from``: the first offset the relay sends."""
        return self.subscribed.result()[0]

    @property
    def end_at_subscribe(self) -> int:
        """``subscribed.offset``: the stream's end when the subscription started."""
        return self.subscribed.result()[1]

    async def put(self, events: list[StreamEvent]) -> None:
        """Queue events for the reader; waits while ``limit`` events are unread."""
        for event in events:
            while len(self._items) >= self._limit and self._error is None:
                self._room.clear()
                await self._room.wait()
            self._items.append(event)
            self._readable.set()
        if self.cursor.done:
            self._finished = True
            self._readable.set()

    def fail(self, error: ClientError) -> None:
        """End the stream with ``error`` once the reader has the events before it."""
        if not self.subscribed.done():
            self.subscribed.set_exception(error)
            self.subscribed.exception()  # retrieved: no "never retrieved" warning
        if self._error is None and not self._finished:
            self._error = error
        self._readable.set()
        self._room.set()

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[StreamEvent]:
        while True:
            if self._items:
                item = self._items.popleft()
                self._room.set()
                yield item
                continue
            if self._finished:
                return
            if self._error is not None:
                raise self._error
            self._readable.clear()
            await self._readable.wait()
