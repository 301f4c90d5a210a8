"""Graceful close: the relay's close frame must reach a peer that is still writing.

Closing a TCP socket while data of the peer is unread makes the kernel answer with a
reset instead of a FIN, and discard what it had not sent yet; the peer's own write then
fails, and it sees 1006 instead of the relay's close code (1009 after a message that was
too big, 1001 at shutdown, 4401...). So when aiohttp closes a WebSocket's transport,
:class:`LingeringWebSocketResponse` closes the relay's sending half only (FIN after the
close frame) and reads and discards whatever the peer still sends, until the peer closes
its half or ``linger`` seconds pass; only then is the socket closed. The handler awaits
:meth:`LingeringWebSocketResponse.lingered` as its last step, so aiohttp neither closes
the transport under it nor cancels it while it still records the disconnect.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class _Discard(asyncio.Protocol):
    """Reads and drops the peer's bytes. The end of the connection is passed on to the
    protocol it replaced (aiohttp's request handler, whose cleanup must run) only once
    the WebSocket handler has finished with it (:meth:`release`): aiohttp may cancel a
    handler when its connection is lost, and the handler may still be recording the
    disconnect."""

    def __init__(
        self, transport: asyncio.Transport, replaced: asyncio.BaseProtocol, linger: float
    ) -> None:
        self._transport = transport
        self._replaced = replaced
        loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = loop.create_future()
        self._timer = loop.call_later(linger, self._give_up)
        self._released = False
        self._lost: tuple[Exception | None] | None = None
        self.discarded = 0

    def data_received(self, data: bytes) -> None:
        self.discarded += len(data)

    def eof_received(self) -> bool:
        return False  # the peer closed its half: nothing unread is left; close ours

    def connection_lost(self, exc: Exception | None) -> None:
        self._timer.cancel()
        if not self.done.done():
            self.done.set_result(None)
        self._lost = (exc,)
        if self._released:
            self._replaced.connection_lost(exc)

    def release(self) -> None:
        """The handler is done: pass the end on (now, or when it comes)."""
        if self._released:
            return
        self._released = True
        if self._lost is not None:
            self._replaced.connection_lost(self._lost[0])
        else:
            self._transport.close()

    def _give_up(self) -> None:
        log.debug("peer did not close within the linger time; %d bytes discarded",
                  self.discarded)
        self._transport.close()


class LingeringWebSocketResponse(web.WebSocketResponse):
    """A ``WebSocketResponse`` whose transport is closed gracefully (module docstring)."""

    def __init__(self, *, linger: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._linger = linger
        self._discard: _Discard | None = None

    def _close_transport(self) -> None:
        # aiohttp calls this on every close path (close frame exchanged, protocol error
        # such as 1009, timeout, cancellation).
        request = self._req
        transport = request.transport if request is not None else None
        if self._discard is not None or transport is None or transport.is_closing():
            return
        if not isinstance(transport, asyncio.Transport) or not transport.can_write_eof():
            transport.close()
            return
        try:
            transport.write_eof()  # FIN once the close frame and anything queued is out
        except OSError:  # the peer is already gone
            transport.close()
            return
        discard = _Discard(transport, transport.get_protocol(), self._linger)
        self._discard = discard
        transport.set_protocol(discard)
        transport.resume_reading()  # aiohttp may have paused it (flow control)

    async def lingered(self) -> None:
        """Wait until a lingering close (if one started) has finished, then let aiohttp
        clean the connection up. The handler's last await."""
        discard = self._discard
        if discard is None:
            return
        try:
            await asyncio.shield(discard.done)
        finally:
            discard.release()
