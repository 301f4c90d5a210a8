"""The ``dashboard:connected`` agent list, built from per-agent JSON texts kept until the
agent changes.

Every dashboard that connects gets the list of the agents its scope allows. Encoding
each ``AgentInfo`` afresh for every dashboard costs O(agents) JSON work per connect; a
relay with 1,000 agents spent most of a burst of 1,000 connects there. Instead
:class:`AgentList` keeps the encoded text of each agent and splices the texts into the
message (:func:`relay.protocol.codec.encode_dashboard_connected`), so a connect costs
a scope filter and a join.

A text is valid for exactly one ``AgentInfo`` object: ``AgentInfo`` is frozen, so every
change of an agent (state, offset, ``last_seen``, size, pid, exit code, a new hello)
makes a new object, and the cached text is used only while the hub still holds the very
object it was encoded from (an identity check, no invalidation call to forget). The
hubs never mutate an ``AgentInfo``'s ``labels`` in place. A hub calls :meth:`discard`
when it forgets an agent, so texts of removed agents are not kept.

The Redis hub shows some agents with a newer ``offset``/``last_seen`` than its copy of
the record (read from Redis at connect time): :meth:`AgentList.text` takes them as
overrides and keeps the text of the last combination asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from relay.hub.interface import DashboardConn
from relay.protocol import AgentInfo, DashboardConnected
from relay.protocol.codec import encode_agent_info, encode_dashboard_connected


@dataclass(frozen=True, slots=True)
class _Entry:
    info: AgentInfo
    offset: int
    last_seen: float
    text: str


def _same(a: float, b: float) -> bool:
    """Equal and encoded alike: 1 and 1.0, 0.0 and -0.0 compare equal but are not."""
    return a == b and type(a) is type(b) and (a != 0 or str(a) == str(b))


class AgentList:
    """Encoded agent texts, one per agent id, for ``dashboard:connected``."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def text(
        self, info: AgentInfo, *, offset: int | None = None, last_seen: float | None = None
    ) -> str:
        """The JSON text of ``info`` (with ``offset``/``last_seen`` replaced when given),
        encoded only if it is not the text of the previous call for this agent."""
        if offset is None:
            offset = info.offset
        if last_seen is None:
            last_seen = info.last_seen
        entry = self._entries.get(info.agent_id)
        if (
            entry is not None
            and entry.info is info
            and _same(entry.offset, offset)
            and _same(entry.last_seen, last_seen)
        ):
            return entry.text
        shown = info
        if not (_same(offset, info.offset) and _same(last_seen, info.last_seen)):
            shown = dataclasses.replace(info, offset=offset, last_seen=last_seen)
        text = encode_agent_info(shown)
        self._entries[info.agent_id] = _Entry(info, offset, last_seen, text)
        return text

    def discard(self, agent_id: str) -> None:
        """Drop the text of a forgotten agent."""
        self._entries.pop(agent_id, None)

    def connected(self, conn: DashboardConn, infos: Iterable[AgentInfo]) -> str:
        """``encode(DashboardConnected(...))`` for ``conn`` listing ``infos`` (in the
        order given: the caller sorts and filters by scope)."""
        return self.connected_texts(conn, [self.text(info) for info in infos])

    @staticmethod
    def connected_texts(conn: DashboardConn, texts: Iterable[str]) -> str:
        """The same from texts already taken from :meth:`text`."""
        head = DashboardConnected(
            session_id=conn.session_id, sub=conn.sub, role=conn.role, agents=(),
            input_limit=conn.input_limit,
        )
        return encode_dashboard_connected(head, texts)
