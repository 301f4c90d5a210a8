"""An agent connection inside the relay's own process: no socket, no WebSocket framing.

A process that hosts the relay and runs a sidecar too (embedded mode) attaches that
sidecar through :func:`relay.handlers.agent.attach_in_process`, which returns the agent's
end of a :class:`Pipe`. Both ends carry the very frames the WebSocket would (protocol
text, binary output frames, a close with a code and a reason), in order, and the relay's
end is served by the same handler as ``/ws/agent``: hello, token, hub, every message kind,
errors and close codes. What goes away is the TCP loopback, the frame headers, the
client's masking and the socket reads.

The agent's end has what the sidecar's link uses of aiohttp's client WebSocket
(``send_str``, ``send_bytes``, ``receive``, ``close``, ``closed``, ``close_code``); the
relay's end is written by the connection's :class:`relay.handlers.outbox.Outbox` (with
``send_now`` for its direct writes). Sending waits while the other side has not read
``LIMIT`` bytes of what was sent, so a burst cannot queue without bound (the WebSocket
has the socket buffer for that).

A receiver may also take frames synchronously (:meth:`PipeEnd.take_directly`): a frame
sent while the receiver waits with nothing queued is handed to its handler inside the
sender's call, so a keystroke and its echo cross the pipe without waking a task. Order
is kept (only an empty queue is bypassed), a close always goes through the queue, and
handlers do not nest: what a handler sends over the same pipe is queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Final

from aiohttp import WSMessage, WSMsgType

from relay.protocol import WireFrame

#: Bytes the sending side may have queued that the receiving side has not read.
LIMIT: Final = 256 * 1024

_CLOSED: Final = WSMessage(WSMsgType.CLOSED, None, None)

log = logging.getLogger(__name__)

#: A receiver's synchronous handler: True when it took the frame, False to have it queued.
Handler = Callable[[WireFrame], bool]


class _Gate:
    """Shared by both directions of a pipe: a direct handler is running."""

    __slots__ = ("busy",)

    def __init__(self) -> None:
        self.busy = False


class _Direction:
    """Frames one way, in order, then a close."""

    __slots__ = (
        "_frames", "_gate", "_queued", "_room", "_timer", "_waiter", "closed", "handler",
        "taken_at",
    )

    def __init__(self, gate: _Gate) -> None:
        self._frames: deque[WSMessage] = deque()
        self._queued = 0
        self._gate = gate
        #: The receiver's future while it waits for a frame (one receiver per direction).
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._room = asyncio.Event()
        self._room.set()
        #: A close was put (nothing after it is taken).
        self.closed = False
        #: The receiver's synchronous handler, if it takes frames directly.
        self.handler: Handler | None = None
        #: Loop time of the last frame a handler took (it counts as received).
        self.taken_at = 0.0

    def put(self, frame: WireFrame) -> bool:
        if self.closed:
            return False
        if self.handler is not None and self._direct(frame, self.handler):
            return True
        if isinstance(frame, str):
            self._frames.append(WSMessage(WSMsgType.TEXT, frame, None))
        else:
            self._frames.append(WSMessage(WSMsgType.BINARY, frame, None))
        self._queued += len(frame)
        if self._queued > LIMIT:
            self._room.clear()
        self._wake()
        return True

    def _direct(self, frame: WireFrame, handler: Handler) -> bool:
        """Hand ``frame`` to the receiver's handler if it waits with nothing queued."""
        waiter = self._waiter
        if waiter is None or waiter.done() or self._frames or self._gate.busy:
            return False
        self._gate.busy = True
        try:
            taken = handler(frame)
        except Exception as exc:
            # As if the receiving loop had raised it: its receive() does now.
            log.debug("a direct handler raised %s", type(exc).__name__)
            waiter.set_exception(exc)
            return True
        finally:
            self._gate.busy = False
        if taken:
            self.taken_at = waiter.get_loop().time()
        return taken

    def _expire(self, waiter: asyncio.Future[None], timeout: float) -> None:
        """The receiver's timer: frames its handler took count as received."""
        if waiter.done():
            return
        loop = waiter.get_loop()
        due = self.taken_at + timeout
        if due > loop.time():
            self._timer = loop.call_at(due, self._expire, waiter, timeout)
        else:
            waiter.set_exception(TimeoutError())

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def full(self) -> bool:
        return self._queued > LIMIT

    def put_close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._frames.append(WSMessage(WSMsgType.CLOSE, code, reason))
        self._room.set()
        self._wake()

    async def room(self) -> None:
        await self._room.wait()

    async def get(self, timeout: float | None) -> WSMessage:
        """The next frame; TimeoutError when none came within ``timeout`` seconds.

        A bare future and one timer instead of ``asyncio.timeout`` around an
        ``asyncio.Event``: this runs twice per keystroke in embedded mode."""
        if not self._frames:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            while not self._frames:
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiter = waiter
                if deadline is not None and timeout is not None:
                    self._timer = loop.call_at(deadline, self._expire, waiter, timeout)
                try:
                    await waiter
                finally:
                    self._waiter = None
                    if self._timer is not None:
                        self._timer.cancel()
                        self._timer = None
        msg = self._frames.popleft()
        if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
            self._queued -= len(msg.data)
            if self._queued <= LIMIT // 2:
                self._room.set()
        else:
            self._frames.appendleft(_CLOSED)  # after the close, every receive says closed
        return msg


class PipeEnd:
    """One end: receives what the other end sends."""

    __slots__ = ("_in", "_out", "close_code")

    def __init__(self, incoming: _Direction, outgoing: _Direction) -> None:
        self._in = incoming
        self._out = outgoing
        #: The code of the close that ended this end (sent or received).
        self.close_code: int | None = None

    @property
    def closed(self) -> bool:
        return self._out.closed

    def take_directly(self, handler: Handler | None) -> None:
        """Have ``handler`` take text and binary frames sent to this end while its
        receiver waits in :meth:`receive` with nothing queued (None: stop). It runs
        inside the sender's call and returns False to leave a frame to the queue;
        what it raises, :meth:`receive` raises."""
        self._in.handler = handler

    def send_now(self, frame: WireFrame) -> bool:
        """Queue ``frame`` without waiting; False (nothing queued) when closed or full."""
        if self._out.full():
            return False
        return self._out.put(frame)

    async def send_frame(self, frame: WireFrame) -> None:
        if not self._out.put(frame):
            raise ConnectionResetError("the in-process connection is closed")
        if self._out.full():
            await self._out.room()

    async def send_str(self, data: str) -> None:
        await self.send_frame(data)

    async def send_bytes(self, data: bytes) -> None:
        await self.send_frame(data)

    async def receive(self, timeout: float | None = None) -> WSMessage:
        msg = await self._in.get(timeout)
        if msg.type is WSMsgType.CLOSE:
            if self.close_code is None:
                self.close_code = int(msg.data)
            self._out.put_close(int(msg.data), "")  # answer the close, like a WebSocket
        return msg

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        if self._out.closed:
            return False
        self.close_code = code
        self._out.put_close(code, message.decode("utf-8", "replace"))
        return True

    async def lingered(self) -> None:
        """Nothing to wait for (a WebSocket drains its TCP connection here)."""


class Pipe:
    """Both ends of one in-process connection."""

    def __init__(self) -> None:
        gate = _Gate()
        to_relay, to_agent = _Direction(gate), _Direction(gate)
        self.relay = PipeEnd(to_relay, to_agent)
        self.agent = PipeEnd(to_agent, to_relay)


class PipeTransport:
    """:class:`relay.handlers.outbox.DirectTransport` over the relay's end of a pipe."""

    def __init__(self, end: PipeEnd) -> None:
        self._end = end

    async def send(self, frame: WireFrame) -> None:
        await self._end.send_frame(frame)

    def send_now(self, frame: WireFrame) -> bool:
        return self._end.send_now(frame)

    async def close(self, code: int, reason: str) -> None:
        await self._end.close(code=code, message=reason.encode("utf-8"))
