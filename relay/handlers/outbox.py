"""A connection's bounded outgoing queue and its writer task: the hub's :class:`Peer`.

Senders (the hub, the connection's own read loop) enqueue and return at once; one writer
task per connection hands frames to the socket in order. When nothing is queued and the
writer is idle, a frame goes straight to the socket if it takes it without waiting
(:meth:`DirectTransport.send_now`, optional): a keystroke echo then skips a task switch.
When the unsent bytes pass the bound the outbox closes itself with 4503 (slow consumer),
so one stalled dashboard never slows the agent or the other dashboards.

The socket is reached through :class:`Transport`; ``relay.handlers.endpoint`` adapts aiohttp's
``WebSocketResponse`` to it. No aiohttp import here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from relay.protocol import CloseCode, WireFrame

log = logging.getLogger(__name__)



class Meter(Protocol):
    """What an outbox reports (``relay.ops.metrics.RelayMetrics`` is one)."""

    def output_sent(self, nbytes: int) -> None:
        """A frame of agent output was handed to the socket (its size)."""

    def slow_consumer_closed(self) -> None:
        """The outbox closed itself, or was closed, with 4503."""


class Transport(Protocol):
    """The socket side: write one frame, close with a code."""

    async def send(self, frame: WireFrame) -> None:
        """Write one frame (text for ``str``); may wait for the peer to read."""

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame and release the connection, within a bounded time."""


class DirectTransport(Transport, Protocol):
    """A transport that can also write a frame synchronously when that needs no wait."""

    def send_now(self, frame: WireFrame) -> bool:
        """Write ``frame`` now and return True, or return False (and write nothing)
        when the socket is busy or closing; then the frame goes through the queue."""


class _Item:
    __slots__ = ("agent_id", "frame", "size")

    def __init__(self, frame: WireFrame, agent_id: str | None) -> None:
        self.frame = frame
        self.agent_id = agent_id
        self.size = len(frame)


class _Replay:
    __slots__ = ("agent_id", "frames")

    def __init__(self, agent_id: str, frames: Iterator[WireFrame]) -> None:
        self.agent_id = agent_id
        self.frames = frames


class Outbox:
    """Implements ``relay.hub.interface.Peer`` on top of a :class:`Transport`.

    ``limit`` bounds the queued bytes (text frames count characters); a replay is
    produced lazily and does not count. Call :meth:`start` once, :meth:`close` to end,
    and await :meth:`wait_closed` for the close frame to be written.
    """

    def __init__(
        self, transport: Transport, *, limit: int, name: str = "peer", meter: Meter | None = None
    ) -> None:
        self._transport = transport
        self._limit = limit
        self._name = name
        self._meter = meter
        self._items: deque[_Item | _Replay] = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self._sending = False
        self._close_code: int | None = None
        self._close_reason = ""
        self._task: asyncio.Task[None] | None = None
        self._send_now: Callable[[WireFrame], bool] | None = getattr(transport, "send_now", None)

    # ------------------------------------------------------------------ Peer

    def send_text(self, text: str, *, agent_id: str | None = None) -> None:
        self._put(_Item(text, agent_id))

    def send_bytes(self, data: bytes, *, agent_id: str | None = None) -> None:
        self._put(_Item(data, agent_id))

    def send_replay(self, agent_id: str, frames: Iterable[WireFrame]) -> None:
        if self._close_code is not None:
            return
        self._items.append(_Replay(agent_id, iter(frames)))
        self._wake.set()

    def drop(self, agent_id: str) -> None:
        if not self._items:
            return
        kept: deque[_Item | _Replay] = deque()
        for item in self._items:
            if item.agent_id == agent_id:
                if isinstance(item, _Item):
                    self._queued -= item.size
            else:
                kept.append(item)
        self._items = kept

    def close(self, code: int, reason: str) -> None:
        if self._close_code is not None:
            return
        self._close_code = code
        self._close_reason = reason
        if code == CloseCode.SLOW_CONSUMER and self._meter is not None:
            self._meter.slow_consumer_closed()
        self._items.clear()
        self._queued = 0
        self._wake.set()
        if self._task is None:
            return
        if self._sending:
            # The writer waits for a peer that does not read; the frame it was writing
            # is already in the transport's buffer, so cancelling loses nothing.
            self._task.cancel()

    @property
    def queued_bytes(self) -> int:
        return self._queued

    @property
    def closed(self) -> bool:
        return self._close_code is not None

    @property
    def close_code(self) -> int | None:
        return self._close_code

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"outbox:{self._name}")

    async def wait_closed(self) -> None:
        """Wait until the writer has finished (the close frame was written or abandoned)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    # ------------------------------------------------------------------ internals

    def _put(self, item: _Item) -> None:
        if self._close_code is not None:
            return
        if (
            self._send_now is not None
            and not self._items
            and not self._sending
            and self._task is not None
            and self._send_now(item.frame)
        ):
            if item.agent_id is not None and self._meter is not None:
                self._meter.output_sent(item.size)
            return
        self._items.append(item)
        self._queued += item.size
        if self._queued > self._limit:
            log.info("%s is a slow consumer: %d bytes unsent, closing with 4503",
                     self._name, self._queued)
            self.close(CloseCode.SLOW_CONSUMER, "slow consumer: reconnect and resume with since")
            return
        self._wake.set()

    def _next(self) -> WireFrame | None:
        while self._items:
            head = self._items[0]
            if isinstance(head, _Item):
                self._items.popleft()
                self._queued -= head.size
                if head.agent_id is not None and self._meter is not None:
                    self._meter.output_sent(head.size)
                return head.frame
            frame = next(head.frames, None)
            if frame is not None:
                if self._meter is not None:
                    self._meter.output_sent(len(frame))
                return frame
            self._items.popleft()
        return None

    async def _run(self) -> None:
        try:
            while self._close_code is None:
                frame = self._next()
                if frame is None:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                self._sending = True
                try:
                    await self._transport.send(frame)
                finally:
                    self._sending = False
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._close_code is None or task is None:
                raise
            task.uncancel()  # our own cancel from close(): go on to send the close frame
        except Exception as exc:  # the connection broke under the writer
            log.debug("%s: write failed: %s", self._name, type(exc).__name__)
            if self._close_code is None:
                self._close_code = CloseCode.GOING_AWAY
            self._items.clear()
            self._queued = 0
        code = self._close_code
        assert code is not None
        await self._transport.close(code, self._close_reason)
