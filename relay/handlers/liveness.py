"""When a quiet peer is pinged and when it counts as dead, without I/O.

Any frame from the peer (a message, a ping, a pong) proves it alive. After
``ping_after`` seconds without one the peer is pinged; a peer that then sends nothing
for ``pong_within`` seconds is dead, and so is one silent for ``dead_after`` seconds
(the contract's limit; a backstop while pings are on, the only check while they are
off). A frame only stores the time (:meth:`Liveness.heard`); the connection's one timer
asks :meth:`Liveness.check` what is due and when to ask again. A busy connection so
costs no timer work per message, where a timeout around each receive costs a timer
handle, a heap entry and a cancellation for every keystroke.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Due:
    #: Send a ping now.
    ping: bool
    #: Why the peer counts as dead, or None while it does not.
    dead: str | None
    #: When to check again (infinite when nothing can fall due).
    next_at: float


class Liveness:
    """The clock of one connection's peer. Times are the caller's clock (seconds)."""

    __slots__ = ("dead_after", "heard_at", "ping_after", "pinged_at", "pong_within")

    def __init__(
        self,
        now: float,
        *,
        ping_after: float | None,
        pong_within: float,
        dead_after: float | None = None,
    ) -> None:
        self.ping_after = ping_after
        self.pong_within = pong_within
        #: May change between checks (each receive says its own limit).
        self.dead_after = dead_after
        self.heard_at = now
        self.pinged_at: float | None = None

    def heard(self, now: float) -> None:
        """A frame came from the peer."""
        self.heard_at = now
        self.pinged_at = None

    def check(self, now: float) -> Due:
        """What is due at ``now``; a ping it asks for counts as sent."""
        pinged_at = self.pinged_at
        if pinged_at is not None and now >= pinged_at + self.pong_within:
            return Due(False, f"no pong within {self.pong_within:g} s", now)
        dead_after = self.dead_after
        if dead_after is not None and now >= self.heard_at + dead_after:
            return Due(False, f"no message or pong for {dead_after:g} s", now)
        ping = False
        if pinged_at is None and self.ping_after is not None \
                and now >= self.heard_at + self.ping_after:
            pinged_at = self.pinged_at = now
            ping = True
        next_at = math.inf
        if pinged_at is not None:
            next_at = pinged_at + self.pong_within
        elif self.ping_after is not None:
            next_at = self.heard_at + self.ping_after
        if dead_after is not None:
            next_at = min(next_at, self.heard_at + dead_after)
        return Due(ping, None, next_at)
