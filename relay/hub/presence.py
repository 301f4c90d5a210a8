"""Presence (a 1.1 addition, docs/protocol.md): who watches each agent, who types into it.

:class:`Presence` keeps, per agent, a seat for every dashboard connection of this relay
that is subscribed to the agent or has sent it an input-bearing message, and calls
``announce(agent_id)`` whenever what dashboards should see changes: a connection
subscribes, unsubscribes or goes away; an identity starts typing; typing lapses
(``typing_seconds``, by default :data:`TYPING_SECONDS`, after the last input, by a
timer). Input while already typing
only moves the lapse, so a burst of keystrokes announces once.

:func:`summarize` folds seats into one :class:`Entry` per identity (``sub`` and
``role``); :func:`merge` adds the entries other relays report; :func:`presence_message`
orders them (typing first, then the most recent input, then by ``sub``) and keeps at
most :data:`MAX_PRESENCE_WATCHERS`, counting the rest in ``more``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from relay.hub.interface import DashboardConn
from relay.protocol import (
    MAX_PRESENCE_WATCHERS,
    TYPING_SECONDS,
    AgentPresence,
    PresenceWatcher,
    Role,
)

#: Input-bearing messages that count as typing (a resize is sent by pages on their own).
TYPING_KINDS: Final = frozenset(
    {"command:request", "terminal:input", "command:interrupt", "permission:decide"}
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One identity's presence at one agent."""

    sub: str
    role: Role
    connections: int
    last_input: str | None = None
    last_input_at: float | None = None


@dataclass(slots=True)
class _Seat:
    subscribed: bool = False
    last_input: str | None = None
    last_input_at: float | None = None


def _typing(at: float | None, now: float, window: float) -> bool:
    return at is not None and now - at < window


@dataclass(slots=True)
class Presence:
    """This relay's seats; ``announce`` is the hub's (it knows whom to send to)."""

    announce: Callable[[str], None]
    clock: Callable[[], float]
    typing_seconds: float = TYPING_SECONDS
    _seats: dict[str, dict[DashboardConn, _Seat]] = field(default_factory=dict)
    #: agent id -> identity -> its last input, for identities announced as typing
    _typists: dict[str, dict[tuple[str, Role], float]] = field(default_factory=dict)
    #: agent id -> the timer of its next lapse (one per agent, never moved by input)
    _lapses: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    def subscribed(self, conn: DashboardConn, agent_id: str) -> bool:
        """Announces and returns True when ``conn`` was not yet watching."""
        seat = self._seats.setdefault(agent_id, {}).setdefault(conn, _Seat())
        if seat.subscribed:
            return False
        seat.subscribed = True
        self.announce(agent_id)
        return True

    def unsubscribed(self, conn: DashboardConn, agent_id: str) -> None:
        """The connection stops watching; what it typed is forgotten with it."""
        seats = self._seats.get(agent_id)
        if seats is None or seats.pop(conn, None) is None:
            return
        if not seats:
            del self._seats[agent_id]
        self.announce(agent_id)

    def typed(self, conn: DashboardConn, agent_id: str, kind: str) -> None:
        """Called for every input-bearing message that reached the agent: a few dict
        operations, no timer work, unless the identity starts typing."""
        if kind not in TYPING_KINDS:
            return
        now = self.clock()
        seat = self._seats.setdefault(agent_id, {}).setdefault(conn, _Seat())
        seat.last_input, seat.last_input_at = kind, now
        typists = self._typists.setdefault(agent_id, {})
        identity = (conn.sub, conn.role)
        started = identity not in typists
        typists[identity] = now
        if agent_id not in self._lapses:
            self._schedule_lapse(agent_id, self.typing_seconds)
        if started:
            self.announce(agent_id)

    def gone(self, conn: DashboardConn) -> None:
        for agent_id in [a for a, seats in self._seats.items() if conn in seats]:
            self.unsubscribed(conn, agent_id)

    def forget(self, agent_id: str) -> None:
        self._seats.pop(agent_id, None)
        self._typists.pop(agent_id, None)
        handle = self._lapses.pop(agent_id, None)
        if handle is not None:
            handle.cancel()

    def close(self) -> None:
        for handle in self._lapses.values():
            handle.cancel()
        self._lapses.clear()

    def agents(self) -> list[str]:
        return list(self._seats)

    def watchers(self, agent_id: str) -> list[DashboardConn]:
        """The connections subscribed to the agent that asked for presence: who gets it.
        (Every subscribed connection is counted in it, asked or not.)"""
        return [
            c for c, s in self._seats.get(agent_id, {}).items() if s.subscribed and c.presence
        ]

    def entries(self, agent_id: str) -> list[Entry]:
        return summarize(
            (c.sub, c.role, s.subscribed, s.last_input, s.last_input_at)
            for c, s in self._seats.get(agent_id, {}).items()
        )

    def _schedule_lapse(self, agent_id: str, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._lapses[agent_id] = loop.call_later(max(delay, 0.001), self._lapse, agent_id)

    def _lapse(self, agent_id: str) -> None:
        """Typists whose last input is ``typing_seconds`` old stop typing: announce that,
        then wait for the next one to lapse (input since only moved their times)."""
        self._lapses.pop(agent_id, None)
        typists = self._typists.get(agent_id)
        if not typists:
            return
        now = self.clock()
        lapsed = [i for i, at in typists.items() if now - at >= self.typing_seconds]
        for identity in lapsed:
            del typists[identity]
        if typists:
            self._schedule_lapse(agent_id, min(typists.values()) + self.typing_seconds - now)
        else:
            del self._typists[agent_id]
        if lapsed and agent_id in self._seats:
            self.announce(agent_id)


def summarize(
    seats: Iterable[tuple[str, Role, bool, str | None, float | None]],
) -> list[Entry]:
    """One entry per identity: subscribed connections counted, the newest input kept."""
    out: dict[tuple[str, Role], Entry] = {}
    for sub, role, subscribed, kind, at in seats:
        entry = out.get((sub, role)) or Entry(sub, role, 0)
        connections = entry.connections + (1 if subscribed else 0)
        if at is not None and (entry.last_input_at is None or at > entry.last_input_at):
            entry = Entry(sub, role, connections, kind, at)
        else:
            entry = Entry(sub, role, connections, entry.last_input, entry.last_input_at)
        out[(sub, role)] = entry
    return list(out.values())


def merge(*parts: Iterable[Entry]) -> list[Entry]:
    """Entries of several relays as one list (connections added, newest input kept)."""
    out: dict[tuple[str, Role], Entry] = {}
    for part in parts:
        for e in part:
            have = out.get((e.sub, e.role))
            if have is None:
                out[(e.sub, e.role)] = e
                continue
            newer = e if (e.last_input_at or 0.0) > (have.last_input_at or 0.0) else have
            out[(e.sub, e.role)] = Entry(
                e.sub,
                e.role,
                have.connections + e.connections,
                newer.last_input,
                newer.last_input_at,
            )
    return list(out.values())


def presence_message(
    agent_id: str, entries: list[Entry], now: float, typing_seconds: float = TYPING_SECONDS
) -> AgentPresence:
    def order(e: Entry) -> tuple[bool, float, str]:
        return (not _typing(e.last_input_at, now, typing_seconds), -(e.last_input_at or 0.0), e.sub)

    ranked = sorted(entries, key=order)
    shown = ranked[:MAX_PRESENCE_WATCHERS]
    return AgentPresence(
        agent_id=agent_id,
        watchers=tuple(
            PresenceWatcher(
                sub=e.sub,
                role=e.role,
                connections=e.connections,
                typing=_typing(e.last_input_at, now, typing_seconds),
                last_input=e.last_input,
                last_input_at=e.last_input_at,
            )
            for e in shown
        ),
        more=len(ranked) - len(shown),
    )
