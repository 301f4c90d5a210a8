"""From PTY reads to the retention buffer: UTF-8 boundaries and the idle clock.

:class:`OutputPipe` keeps a trailing incomplete UTF-8 character (at most 3 bytes) out of
the retention buffer until the next read completes it, or until a short timer fires (a
program that printed half a character and went quiet), or end of output. So every chunk
the link cuts from the buffer ends on a character boundary, and bytes that are not UTF-8
pass through unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from relay.protocol import Utf8Chunker

from .retention import Retention


class OutputPipe:
    """Feeds PTY output into a :class:`Retention`, calling ``on_output`` after each append."""

    def __init__(
        self, retention: Retention, *, flush_delay: float, on_output: Callable[[], None]
    ) -> None:
        self.retention = retention
        self._flush_delay = flush_delay
        self._on_output = on_output
        self._chunker = Utf8Chunker()
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        #: Total bytes read from the PTY.
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        ready = self._chunker.feed(data)
        if ready:
            self.retention.append(ready)
            self._on_output()
        if self._chunker.held and self._timer is None:
            self._timer = self._loop.call_later(self._flush_delay, self._flush_held)
        elif not self._chunker.held and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _flush_held(self) -> None:
        self._timer = None
        held = self._chunker.flush()
        if held:
            self.retention.append(held)
            self._on_output()

    def close(self) -> None:
        """End of output: whatever is held goes in as it is."""
        if self._timer is not None:
            self._timer.cancel()
        self._flush_held()


class IdleClock:
    """Calls ``on_change(idle)`` when output stops for ``idle_after`` s and when it resumes.

    One timer, re-armed lazily: a burst of thousands of reads costs one timestamp each.
    """

    def __init__(self, idle_after: float, on_change: Callable[[bool], None]) -> None:
        self._idle_after = idle_after
        self._on_change = on_change
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self.idle = False

    def start(self) -> None:
        self._last = self._loop.time()
        self._arm(self._idle_after)

    def activity(self) -> None:
        self._last = self._loop.time()
        if self.idle:
            self.idle = False
            self._on_change(False)
        if self._timer is None:
            self._arm(self._idle_after)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, delay: float) -> None:
        self._timer = self._loop.call_later(delay, self._check)

    def _check(self) -> None:
        self._timer = None
        quiet = self._loop.time() - self._last
        if quiet >= self._idle_after:
            if not self.idle:
                self.idle = True
                self._on_change(True)
            return
        self._arm(self._idle_after - quiet)
