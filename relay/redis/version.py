"""The record version a relay's copy of the Redis records has caught up with.

Every change of an agent record gets the next value of one counter in Redis; the hub
applies events in that order. A dashboard that connects waits (bounded) until the copy
has applied the version Redis had at that moment, so its ``dashboard:connected`` lists
every agent attached before it and no event is missed or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class AppliedVersion:
    """The last applied version, and waiters for a later one."""

    __slots__ = ("_waiters", "value")

    def __init__(self) -> None:
        self.value = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def covers(self, version: int) -> bool:
        return version <= self.value

    def advance(self, version: int) -> None:
        """Applied up to ``version`` (never moves back; see :meth:`reset`)."""
        if version > self.value:
            self.value = version
        for wanted, future in self._waiters:
            if wanted <= self.value and not future.done():
                future.set_result(None)

    def reset(self) -> None:
        """Redis lost its data: the counter starts again from zero."""
        self.value = 0

    async def wait(self, version: int, timeout: float) -> None:
        """Until ``version`` is applied, or ``timeout`` seconds (then carry on anyway)."""
        if self.covers(version):
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (version, future)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            log.debug("events up to version %d did not arrive within %g s", version, timeout)
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
