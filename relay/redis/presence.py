"""Presence across relays for :class:`relay.redis.hub.RedisHub`.

Each relay keeps the seats of its own dashboard connections (:class:`relay.hub.presence.
Presence`) and publishes its summary of an agent (one entry per identity) on
``{p}:presence`` whenever it changes, as ``{k: "presence", relay, agent, w: [[sub,
role, connections, last_input, last_input_at], ...]}`` (an empty ``w``: none left). The
others keep the latest summary of every relay and send their own watchers the merge.

Bounded: a summary lists at most :data:`MAX_SUMMARY` identities. Kept fresh without
per-change bookkeeping of other relays' lives: every relay republishes its non-empty
summaries every ``refresh`` seconds, and a summary not refreshed within three periods
(its relay died without saying goodbye) is dropped and the merge re-sent. A relay that
(re)joins the bus asks the others to republish (``{k: "presence?"}``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Final, cast

import redis.asyncio as aioredis

from relay.hub.interface import DashboardConn
from relay.hub.presence import Entry, Presence, merge, presence_message
from relay.protocol import ROLES, AgentPresence, Role, encode
from relay.redis.bus import REDIS_DOWN, JsonObj
from relay.redis.keys import Keys

log = logging.getLogger(__name__)

#: Identities one relay reports per agent.
MAX_SUMMARY: Final = 64
#: A summary not refreshed for this many periods is dropped.
STALE_PERIODS: Final = 3


class SharedPresence:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        relay_id: str,
        *,
        clock: Callable[[], float],
        refresh: float,
        is_known: Callable[[str], bool],
        on_down: Callable[[], None],
        typing_seconds: float,
    ) -> None:
        self._client = client
        self._keys = keys
        self._relay_id = relay_id
        self._clock = clock
        self._refresh = refresh
        self._is_known = is_known
        self._on_down = on_down
        #: Agents whose summary is to be published (by :meth:`run`, in one task, so a
        #: newer summary never overtakes an older one on the way).
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        #: What each agent's watchers were last sent: a summary that changes nothing
        #: they see (a refresh) is not sent again.
        self._shown: dict[str, AgentPresence] = {}
        self.local = Presence(announce=self._changed, clock=clock, typing_seconds=typing_seconds)
        #: agent id -> relay id -> (its entries, when they arrived)
        self._remote: dict[str, dict[str, tuple[list[Entry], float]]] = {}

    # ------------------------------------------------------------------ the hub's side

    def subscribed(self, conn: DashboardConn, agent_id: str) -> None:
        if not self.local.subscribed(conn, agent_id) and conn.presence:
            self._send(agent_id, only=conn)

    def forget(self, agent_id: str) -> None:
        self.local.forget(agent_id)
        self._remote.pop(agent_id, None)
        self._shown.pop(agent_id, None)

    def close(self) -> None:
        self.local.close()

    async def run(self) -> None:
        """Publish changed summaries; every ``refresh`` seconds republish all of them and
        drop the stale ones of others. For ever (the hub cancels it)."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self._refresh
        while True:
            try:
                async with asyncio.timeout(max(0.0, due - loop.time())):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if loop.time() >= due:
                due = loop.time() + self._refresh
                self._dirty.update(self.local.agents())
                self._drop_stale()
            while self._dirty:
                await self._publish(self._dirty.pop())

    async def rejoined(self) -> None:
        """The bus (re)subscribed: others may have missed our summaries, and we theirs."""
        self._mark(self.local.agents())
        await self._post({"k": "presence?", "relay": self._relay_id})

    # ------------------------------------------------------------------ bus messages

    async def on_message(self, message: JsonObj) -> None:
        origin = str(message["relay"])
        if origin == self._relay_id:
            return
        if message["k"] == "presence?":
            self._mark(self.local.agents())
            return
        agent_id = str(message["agent"])
        entries = [_entry(row) for row in cast(list[Any], message["w"])[:MAX_SUMMARY]]
        known = [e for e in entries if e is not None]
        relays = self._remote.get(agent_id, {})
        if known:
            relays[origin] = (known, self._clock())
            self._remote[agent_id] = relays
        elif relays.pop(origin, None) is None:
            return
        if not relays:
            self._remote.pop(agent_id, None)
        self._send(agent_id)

    # ------------------------------------------------------------------ internals

    def _changed(self, agent_id: str) -> None:
        self._mark([agent_id])
        self._send(agent_id)

    def _mark(self, agent_ids: list[str]) -> None:
        self._dirty.update(agent_ids)
        self._wake.set()

    def _send(self, agent_id: str, only: DashboardConn | None = None) -> None:
        watchers = [only] if only is not None else self.local.watchers(agent_id)
        if not watchers or not self._is_known(agent_id):
            self._shown.pop(agent_id, None)
            return
        others = [entries for entries, _ in self._remote.get(agent_id, {}).values()]
        entries = merge(self.local.entries(agent_id), *others)
        now = self._clock()
        message = presence_message(agent_id, entries, now, self.local.typing_seconds)
        if only is None:
            if self._shown.get(agent_id) == message:
                return
            self._shown[agent_id] = message
        text = encode(message)
        for conn in watchers:
            conn.peer.send_text(text)

    async def _publish(self, agent_id: str) -> None:
        entries = sorted(self.local.entries(agent_id), key=lambda e: -(e.last_input_at or 0.0))
        rows = [
            [e.sub, e.role, e.connections, e.last_input, e.last_input_at]
            for e in entries[:MAX_SUMMARY]
        ]
        await self._post({"k": "presence", "relay": self._relay_id, "agent": agent_id, "w": rows})

    async def _post(self, message: JsonObj) -> None:
        try:
            await self._client.publish(self._keys.presence, json.dumps(message))
        except REDIS_DOWN:
            self._on_down()

    def _drop_stale(self) -> None:
        oldest = self._clock() - STALE_PERIODS * self._refresh
        for agent_id, relays in list(self._remote.items()):
            stale = [r for r, (_, at) in relays.items() if at < oldest]
            for relay_id in stale:
                del relays[relay_id]
            if not relays:
                del self._remote[agent_id]
            if stale:
                log.debug("presence of %d relays for agent %s went stale", len(stale), agent_id)
                self._send(agent_id)


def _entry(row: Any) -> Entry | None:
    """A summary row, or None when it does not make sense (a newer relay's, or junk)."""
    if not isinstance(row, list) or len(row) < 5:
        return None
    sub, role, connections, kind, at = row[:5]
    if not isinstance(sub, str) or role not in ROLES or not isinstance(connections, int):
        return None
    if kind is not None and not isinstance(kind, str):
        return None
    if at is not None and not isinstance(at, int | float):
        return None
    return Entry(sub, cast(Role, role), connections, kind, None if at is None else float(at))
