"""Backpressure from the relay link to the PTY reader, bounded in time.

While a connection is up and more than ``high`` retained bytes are unsent, the PTY is not
read, so a burst waits for the relay instead of overflowing the retention buffer (the
command blocks on its writes, as under any slow terminal). Reading resumes once the
backlog is below ``low``, or after ``max_stall`` seconds at the latest: a relay that is
slow or stuck never holds the command longer than that. After such a timeout no new
pause starts until the relay has caught up (backlog below ``low``); meanwhile the
retention buffer drops its oldest bytes and the relay records a gap.

``max_stall == 0`` turns backpressure off entirely. Without a connection (``backlog()``
is None) nothing ever waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class OutputFlow:
    __slots__ = (
        "_backlog",
        "_high",
        "_loop",
        "_low",
        "_max_stall",
        "_overrun",
        "_pause",
        "_resume",
        "_timer",
    )

    def __init__(
        self,
        *,
        high: int,
        low: int,
        max_stall: float,
        backlog: Callable[[], int | None],
        pause: Callable[[], None],
        resume: Callable[[], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._high = high
        self._low = low
        self._max_stall = max_stall
        self._backlog = backlog
        self._pause = pause
        self._resume = resume
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None
        #: True after a stall timed out, until the relay has caught up.
        self._overrun = False

    @property
    def paused(self) -> bool:
        return self._timer is not None

    def after_read(self) -> None:
        """Call after each PTY read: pause when the backlog passed ``high``."""
        if self._timer is not None or self._overrun or self._max_stall <= 0:
            return
        backlog = self._backlog()
        if backlog is not None and backlog > self._high:
            self._pause()
            self._timer = self._loop.call_later(self._max_stall, self._stall_expired)

    def progress(self) -> None:
        """Call after each frame sent and when a connection ends."""
        backlog = self._backlog()
        if backlog is not None and backlog >= self._low:
            return
        self._overrun = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._resume()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._resume()

    def _stall_expired(self) -> None:
        self._timer = None
        self._overrun = True
        log.warning(
            "relay fell behind for %.1f s; reading output again, oldest unsent output "
            "may be dropped",
            self._max_stall,
        )
        self._resume()
