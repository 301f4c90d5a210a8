"""The relay's WebSocket: pings and dead peers on one timer per connection.

aiohttp's own keep-alive (``heartbeat=``) schedules a callback for every chunk read, and
a ``receive(timeout=...)`` enters a timeout context for every message: together about a
tenth of what a keystroke costs the relay. :class:`LiveWebSocketResponse` turns both
off (``autoping=False``, no heartbeat) and keeps the same promises with
:class:`~relay.handlers.liveness.Liveness`: a frame stores the time, one timer per
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
from relay.handlers.liveness import Due, Liveness


class LiveWebSocketResponse(LingeringWebSocketResponse):
    def __init__(self, *, ping_after: float | None, pong_within: float, **kwargs: Any) -> None:
        super().__init__(autoping=False, heartbeat=None, **kwargs)
        self._live_args = (ping_after, pong_within)
        self._live: Liveness | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._receiver: asyncio.Task[Any] | None = None
        self._dead: str | None = None
        self._pinging: asyncio.Task[None] | None = None
        self._finished = False

    async def receive(self, timeout: float | None = None) -> WSMessage:
        loop = asyncio.get_running_loop()
        live = self._live
        if live is None:
            ping_after, pong_within = self._live_args
            live = self._live = Liveness(loop.time(), ping_after=ping_after,
                                         pong_within=pong_within, dead_after=timeout)
            self._check()
        elif timeout != live.dead_after:
            live.dead_after = timeout
            self._check()
        task = asyncio.current_task()
        self._receiver = task
        try:
            while True:
                msg = await super().receive()
                live.heard(loop.time())
                kind = msg.type
                if kind is WSMsgType.PING:
                    await self.pong(msg.data)
                elif kind is not WSMsgType.PONG:
                    return msg
        except asyncio.CancelledError:
            if self._dead is not None and task is not None and task.uncancel() == 0:
                raise TimeoutError(self._dead) from None
            raise
        finally:
            self._receiver = None

    async def lingered(self) -> None:
        self._finished = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await super().lingered()

    def _check(self) -> None:
        """What is due now (the timer's callback, and after a change of the limit)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        live = self._live
        if live is None or self._dead is not None or self._finished:
            return
        request = self._req
        if request is None or request.transport is None:  # the connection is gone
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        due: Due = live.check(now)
        if due.dead is not None:
            if self._receiver is None:
                # The handler is busy, not waiting: frames may be queued unread. Ask
                # again once it had time to read them.
                self._timer = loop.call_at(now + live.pong_within, self._check)
                return
            self._dead = due.dead
            self._receiver.cancel()
            return
        if due.ping and not self.closed:  # no ping after our close frame
            self._ping()
        if due.next_at != float("inf"):
            self._timer = loop.call_at(due.next_at, self._check)

    def _ping(self) -> None:
        if self._pinging is not None and not self._pinging.done():
            return
        self._pinging = asyncio.ensure_future(self.ping())
        # A ping that fails (the connection broke) is noticed by the reading side.
        self._pinging.add_done_callback(_ignore)


def _ignore(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(BaseException):
        task.exception()
