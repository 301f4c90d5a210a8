"""One timer per connection that ends a receive waiting on a dead peer.

:class:`Watchdog` drives a :class:`~relay.handlers.liveness.Liveness`: the timer asks it
what is due, sends a ping when one is (through the ``ping`` callback), and when the
peer is dead cancels the task waiting in a receive, which then raises
``TimeoutError`` with the reason. The reader receives through it::

    msg = await dog.receive(ws.receive)

A frame costs a clock read; the timer fires only when something may be due, so a
busy connection costs no timer work (``asyncio.timeout`` around every receive costs a
timer handle, a heap entry and a cancellation per message).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from relay.handlers.liveness import Liveness

T = TypeVar("T")


class Watchdog:
    def __init__(
        self,
        live: Liveness,
        *,
        ping: Callable[[], None] | None = None,
        gone: Callable[[], bool] = lambda: False,
    ) -> None:
        """``ping`` sends a ping when one is due (only if ``live`` has ``ping_after``);
        ``gone`` says the connection ended (the timer then stops)."""
        self._loop = asyncio.get_running_loop()
        self.live = live
        self._ping = ping
        self._gone = gone
        self._timer: asyncio.TimerHandle | None = None
        self._receiver: asyncio.Task[Any] | None = None
        self._dead: str | None = None
        self._stopped = False
        self.check()

    # ------------------------------------------------------------------ the reader

    async def receive(self, receive: Callable[[], Awaitable[T]]) -> T:
        """``await receive()``, counted as a sign of life; ``TimeoutError`` (with the
        reason) when the peer is found dead meanwhile."""
        task = self._waiting()
        try:
            frame = await receive()
        except asyncio.CancelledError:
            self._cancelled(task)
            raise
        finally:
            self._receiver = None
        self.heard()
        return frame

    def heard(self) -> None:
        """A frame came from the peer."""
        self.live.heard(self._loop.time())

    def limit(self, dead_after: float | None) -> None:
        """The silence limit of the next receive (checked at once when it changed)."""
        if dead_after != self.live.dead_after:
            self.live.dead_after = dead_after
            self.check()

    def _waiting(self) -> asyncio.Task[Any] | None:
        """The current task is about to wait in a receive."""
        task = asyncio.current_task()
        self._receiver = task
        return task

    def _cancelled(self, task: asyncio.Task[Any] | None) -> None:
        """The receive was cancelled: raise ``TimeoutError`` if the watchdog did it (and
        nobody else cancelled the task too), else return for the caller to re-raise."""
        if self._dead is not None and task is not None and task.uncancel() == 0:
            raise TimeoutError(self._dead) from None

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ------------------------------------------------------------------ the timer

    def check(self) -> None:
        """What is due now: the timer's callback, and after a change of the limit."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._stopped or self._dead is not None or self._gone():
            return
        now = self._loop.time()
        due = self.live.check(now)
        if due.dead is not None:
            if self._receiver is None:
                # The reader is busy, not waiting: frames may be queued unread. Ask
                # again once it had time to read them.
                self._timer = self._loop.call_at(now + self.live.pong_within, self.check)
                return
            self._dead = due.dead
            self._receiver.cancel()
            return
        if due.ping and self._ping is not None:
            self._ping()
        if due.next_at != math.inf:
            self._timer = self._loop.call_at(due.next_at, self.check)
