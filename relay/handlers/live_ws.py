"""The relay's WebSocket: pings and dead peers on one timer per connection.

aiohttp's own keep-alive (``heartbeat=``) schedules a callback for every chunk read, and
a ``receive(timeout=...)`` enters a timeout context for every message: together about a
tenth of what a keystroke costs the relay. :class:`LiveWebSocketResponse` turns both
off (``autoping=False``, no heartbeat) and keeps the same promises with a
:class:`~relay.handlers.watchdog.Watchdog`: a frame stores the time, one timer per
connection pings a quiet peer and, when the peer is dead, makes the waiting
``receive`` raise ``TimeoutError`` (its text says why). Pings from the peer are answered
and pongs swallowed here, as ``autoping`` would.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import WSMessage, WSMsgType

from relay.handlers.linger import LingeringWebSocketResponse
from relay.handlers.liveness import Liveness
from relay.handlers.watchdog import Watchdog


class LiveWebSocketResponse(LingeringWebSocketResponse):
    def __init__(self, *, ping_after: float | None, pong_within: float, **kwargs: Any) -> None:
        super().__init__(autoping=False, heartbeat=None, **kwargs)
        self._live_args = (ping_after, pong_within)
        self._dog: Watchdog | None = None
        self._pinging: asyncio.Task[None] | None = None

    async def receive(self, timeout: float | None = None) -> WSMessage:
        dog = self._dog
        if dog is None:
            ping_after, pong_within = self._live_args
            live = Liveness(asyncio.get_running_loop().time(), ping_after=ping_after,
                            pong_within=pong_within, dead_after=timeout)
            dog = self._dog = Watchdog(live, ping=self._ping, gone=self._gone)
        else:
            dog.limit(timeout)
        while True:
            msg = await dog.receive(super().receive)
            kind = msg.type
            if kind is WSMsgType.PING:
                await self.pong(msg.data)
            elif kind is not WSMsgType.PONG:
                return msg

    async def lingered(self) -> None:
        if self._dog is not None:
            self._dog.stop()
        await super().lingered()

    def _gone(self) -> bool:
        request = self._req
        return request is None or request.transport is None

    def _ping(self) -> None:
        if self.closed:  # no ping after our close frame
            return
        if self._pinging is not None and not self._pinging.done():
            return
        self._pinging = asyncio.ensure_future(self.ping())
        # A ping that fails (the connection broke) is noticed by the reading side.
        self._pinging.add_done_callback(_ignore)


def _ignore(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(BaseException):
        task.exception()
