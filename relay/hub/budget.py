"""A total scrollback budget for the in-memory hub: without one, every agent keeps up to
``--scrollback-bytes`` for ``--forget-after`` after it ended (30 agents x 5.6 MB kept the
relay 160 MB larger for an hour).

:class:`Budget` counts the bytes all scrollbacks hold and knows the agents that are no
longer connected, in the order they ended. When the total passes the limit, the hub
frees whole scrollbacks, those of the agents that exited longest ago first, then those
of disconnected agents (oldest first); agents that are connected are never touched
(each is bounded by ``--scrollback-bytes``). A freed agent keeps its record (state, exit
code, end offset); a later read from an earlier offset is told of the gap
(``subscribed.from``, ``X-Output-Offset``).
"""

from __future__ import annotations

from collections.abc import Iterator


class Budget:
    """The byte count and the eviction order; the hub does the freeing."""

    __slots__ = ("_disconnected", "_exited", "limit", "retained")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.retained = 0
        # Insertion-ordered: the oldest first.
        self._exited: dict[str, None] = {}
        self._disconnected: dict[str, None] = {}

    def add(self, n: int) -> None:
        """The scrollbacks grew by ``n`` bytes (negative: shrank)."""
        self.retained += n

    @property
    def over(self) -> bool:
        return self.limit is not None and self.retained > self.limit

    def ended(self, agent_id: str, *, exited: bool) -> None:
        """``agent_id`` exited (or lost its sidecar) now: last in its line."""
        self.revived(agent_id)
        (self._exited if exited else self._disconnected)[agent_id] = None

    def revived(self, agent_id: str) -> None:
        """``agent_id`` is connected again, or forgotten: never evicted (any more)."""
        self._exited.pop(agent_id, None)
        self._disconnected.pop(agent_id, None)

    def candidates(self) -> Iterator[str]:
        """Agents whose scrollback may go, in eviction order (a copy: the caller may
        change the budget while iterating)."""
        yield from list(self._exited)
        yield from list(self._disconnected)
