"""Control routing and requests in flight for :class:`relay.redis.hub.RedisHub`.

The dashboard's relay reads the agent's live connection and relay from Redis; a remote
relay gets the message on its channel (``PUBLISH`` answering 0 means no relay listens:
``agent_offline`` at once), delivers it and publishes the sidecar's ack back. Requests
in flight: ``pending`` (asked by a dashboard here, keyed by the relay-side request id)
and ``_forwarded`` (asked elsewhere, delivered to an agent here). A request is answered
``ok: false`` when the agent's relay sees the connection go first, or when the asking
relay sees an event that moves the agent off that connection (replaced, disconnected,
swept after a hard stop), whichever comes first; the other finds nothing pending.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from relay.hub.interface import (
    Acked,
    AgentConn,
    Control,
    DashboardConn,
    HubError,
    stale_decision,
)
from relay.protocol import CommandAck, ErrorCode, PermissionDecide, encode, encode_activity
from relay.redis.bus import REDIS_DOWN, JsonObj
from relay.redis.keys import Keys, Record, activity_of

log = logging.getLogger(__name__)

DISCONNECTED_BEFORE_ACK = "the agent disconnected before it acknowledged"
REPLACED_BEFORE_ACK = "the agent's connection was replaced before the ack"


@dataclass(frozen=True, slots=True)
class _Pending:
    """A request from a dashboard on this relay."""

    dashboard: DashboardConn
    request_id: str
    agent_id: str
    conn_id: str
    #: Record version the routing decision was based on.
    version: int


@dataclass(frozen=True, slots=True)
class _Forwarded:
    """A request from another relay, delivered to an agent connected here."""

    origin: str
    conn: AgentConn


class Routing:
    """Routes control messages and their acks. ``local``, ``dashboards`` and ``agents``
    are the hub's (shared): its agent connections, its dashboards, its record copy."""

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        relay_id: str,
        *,
        local: dict[str, AgentConn],
        dashboards: dict[DashboardConn, set[str]],
        agents: dict[str, Record],
        on_down: Callable[[], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._client = client
        self._keys = keys
        self._relay_id = relay_id
        self._local = local
        self._dashboards = dashboards
        self._agents = agents
        self._on_down = on_down
        self._spawn = spawn
        self._counter = 0
        self.pending: dict[str, _Pending] = {}
        self._forwarded: dict[str, _Forwarded] = {}

    async def control(self, conn: DashboardConn, msg: Control) -> None:
        agent_id = msg.agent_id
        assert agent_id is not None
        try:
            static, conn_id, relay_id, version, activity = await self._client.hmget(
                self._keys.agent(agent_id), ["static", "conn", "relay", "v", "activity"]
            )
            route = (_s(static), _s(conn_id), _s(relay_id), int(version or 0), _s(activity))
        except REDIS_DOWN:
            self._on_down()
            route = self._cached_route(agent_id)
        known, target, relay_id, seen_version, activity_json = route
        if not known:
            raise HubError(ErrorCode.UNKNOWN_AGENT, f"unknown agent '{agent_id}'")
        offline = HubError(ErrorCode.AGENT_OFFLINE, f"agent '{agent_id}' is not connected")
        if not target:
            raise offline
        local = self._local.get(agent_id) if relay_id == self._relay_id else None
        if relay_id == self._relay_id and (local is None or local.conn_id != target):
            raise offline
        if isinstance(msg, PermissionDecide):
            stale = stale_decision(agent_id, activity_of(activity_json), msg)
            if stale is not None:
                raise stale
        rid: str | None = None
        if isinstance(msg, Acked):
            self._counter += 1
            rid = f"{self._relay_id}.{self._counter}"
            self.pending[rid] = _Pending(conn, msg.request_id, agent_id, target, seen_version)
            out: Control = dataclasses.replace(msg, agent_id=None, request_id=rid)
        else:
            out = dataclasses.replace(msg, agent_id=None)
        text = encode(out)
        if local is not None:
            local.peer.send_text(text)
            return
        message = {"k": "ctl", "rid": rid, "from": self._relay_id, "agent": agent_id,
                   "conn": target, "text": text}
        try:
            receivers = await self._client.publish(self._keys.relay(relay_id), json.dumps(message))
        except REDIS_DOWN:
            self._on_down()
            receivers = 0
        if not receivers:
            if rid is not None:
                self.pending.pop(rid, None)
            raise offline

    async def agent_ack(self, conn: AgentConn, ack: CommandAck) -> None:
        """Route a sidecar's ack to the dashboard here or to the asking relay."""
        rid = ack.request_id
        pending = self.pending.get(rid)
        if pending is not None:
            if pending.conn_id != conn.conn_id:
                return
            del self.pending[rid]
            self._answer(pending, ack.ok, ack.error)
            return
        forwarded = self._forwarded.get(rid)
        if forwarded is None or forwarded.conn is not conn:
            log.debug("ignoring an ack for an unknown request from agent %s", conn.agent_id)
            return
        del self._forwarded[rid]
        await self.send_ack(forwarded.origin, rid, ack.ok, ack.error)

    async def on_message(self, message: JsonObj) -> None:
        """A message on this relay's channel: a control message or an ack."""
        kind = message.get("k")
        if kind == "ctl":
            agent_id = str(message["agent"])
            rid = message.get("rid")
            origin = str(message["from"])
            local = self._local.get(agent_id)
            if local is None or local.conn_id != message["conn"]:
                if rid is not None:
                    await self.send_ack(origin, str(rid), False, DISCONNECTED_BEFORE_ACK)
                return
            if rid is not None:
                self._forwarded[str(rid)] = _Forwarded(origin, local)
            local.peer.send_text(str(message["text"]))
        elif kind == "ack":
            pending = self.pending.pop(str(message["rid"]), None)
            if pending is not None:
                error = message.get("error")
                self._answer(pending, bool(message["ok"]), None if error is None else str(error))

    def _cached_route(self, agent_id: str) -> tuple[str, str, str, int, str]:
        record = self._agents.get(agent_id)
        if record is None:
            return "", "", "", 0, ""
        activity = "" if record.info.activity is None else encode_activity(record.info.activity)
        return "cached", record.conn, record.relay, record.version, activity

    def _answer(self, pending: _Pending, ok: bool, error: str | None) -> None:
        if pending.dashboard not in self._dashboards:
            return
        pending.dashboard.peer.send_text(encode(CommandAck(
            agent_id=pending.agent_id, request_id=pending.request_id, ok=ok, error=error
        )))

    def fail_conn(self, conn: AgentConn, error: str) -> None:
        """Answer ``ok: false`` to every request routed through ``conn``."""
        for rid in [r for r, p in self.pending.items() if p.conn_id == conn.conn_id]:
            self._answer(self.pending.pop(rid), False, error)
        for rid in [r for r, f in self._forwarded.items() if f.conn is conn]:
            origin = self._forwarded.pop(rid).origin
            self._spawn(self.send_ack(origin, rid, False, error))

    async def send_ack(self, origin: str, rid: str, ok: bool, error: str | None) -> None:
        message = {"k": "ack", "rid": rid, "ok": ok, "error": error}
        try:
            await self._client.publish(self._keys.relay(origin), json.dumps(message))
        except REDIS_DOWN:
            self._on_down()

    def moved(self, agent_id: str, record: Record) -> None:
        """The agent's record changed: answer requests sent to a connection it left."""
        for rid, pending in list(self.pending.items()):
            if (
                pending.agent_id == agent_id
                and pending.conn_id != record.conn
                and record.version > pending.version
            ):
                del self.pending[rid]
                error = REPLACED_BEFORE_ACK if record.conn else DISCONNECTED_BEFORE_ACK
                self._answer(pending, False, error)

    def forget_dashboard(self, conn: DashboardConn) -> None:
        """Late acks for ``conn`` are dropped."""
        for rid in [r for r, p in self.pending.items() if p.dashboard is conn]:
            del self.pending[rid]

    def reset_versions(self) -> None:
        """Redis lost its data (versions start over): any later event may move them."""
        self.pending = {r: dataclasses.replace(p, version=0) for r, p in self.pending.items()}


def _s(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return "" if value is None else str(value)
