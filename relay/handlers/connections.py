"""Every live socket of one relay: per-identity counts (4429) and shutdown (1001)."""

from __future__ import annotations

import asyncio
from collections import Counter

from relay.handlers.outbox import Outbox


class Connections:
    """The relay's open WebSocket connections, known by their :class:`Outbox`."""

    def __init__(self, max_per_identity: int) -> None:
        self._max = max_per_identity
        #: open socket -> its endpoint kind (agent, dashboard)
        self._open: dict[Outbox, str] = {}
        self._per_sub: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._open)

    def add(self, outbox: Outbox, kind: str = "other") -> None:
        self._open[outbox] = kind

    def discard(self, outbox: Outbox) -> None:
        self._open.pop(outbox, None)

    def by_kind(self) -> Counter[str]:
        """Open sockets per endpoint kind (the connections metric)."""
        return Counter(self._open.values())

    def acquire(self, sub: str) -> bool:
        """Count one more authenticated connection of ``sub``; False when over the limit."""
        if self._per_sub[sub] >= self._max:
            return False
        self._per_sub[sub] += 1
        return True

    def release(self, sub: str) -> None:
        self._per_sub[sub] -= 1
        if self._per_sub[sub] <= 0:
            del self._per_sub[sub]

    def count(self, sub: str) -> int:
        return self._per_sub[sub]

    async def close_all(self, code: int, reason: str, timeout: float) -> None:
        """Close every connection with ``code`` and wait (at most ``timeout``) for the
        close frames to be written."""
        outboxes = list(self._open)
        for outbox in outboxes:
            outbox.close(code, reason)
        if outboxes:
            waiters = [asyncio.ensure_future(o.wait_closed()) for o in outboxes]
            _, pending = await asyncio.wait(waiters, timeout=timeout)
            for waiter in pending:
                waiter.cancel()
