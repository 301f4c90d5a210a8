"""Key and channel names of the Redis-backed hub, and the agent record's field codec.

One Redis (database) holds the shared state of every relay that points at it. All names
start with a prefix (default ``agent-relay``) so one Redis can hold several independent
relay fleets. Everything here is pure: no I/O, no redis import.

Data model::

    {p}:agents               SET     ids of every known agent
    {p}:agent:{id}           HASH    the agent record (fields below, all strings)
    {p}:out:{id}             STREAM  output; entry id ``<end>-0``, fields o=offset, d=bytes
    {p}:live                 HASH    agent id -> relay id holding its live connection
    {p}:forget               ZSET    agent id scored by the epoch second it is forgotten
    {p}:seq                  STRING  counter; every record change takes the next value
    {p}:epoch                STRING  random id of this dataset, set by the first snapshot
                                     that finds it missing; a new one means Redis lost
                                     its data (``relay.redis.state.AgentStore.sync``)
    {p}:events               CHANNEL record changes and removals (JSON, with ``v``)
    {p}:relay:{rid}          CHANNEL control messages and acks for one relay
    {p}:presence             CHANNEL each relay's presence summaries (relay.redis.presence)
    {p}:notify:{key}         STRING  SET NX EX: one relay delivers a notice (relay.notify)
    {p}:relay:{rid}:alive    STRING  set with a TTL while relay ``rid`` is alive
    {p}:lock:sweep           STRING  SET NX PX: one relay sweeps at a time

Record fields: ``static`` (JSON of name, host, command, labels, started_at), ``state``,
``pid``, ``cols``, ``rows``, ``exit_code`` (empty for none), ``seen`` (last_seen),
``since`` (state_since: set by every script that changes ``state``, in the same call;
missing in records an older relay wrote, read as None),
``end``/``start`` (the stream's end and oldest retained offset), ``conn``/``relay`` (the
live connection and its relay; empty when none), ``v`` (the record's version),
(1.1) ``signal`` (the signal that ended the command; empty for none) and ``activity``
(JSON of the sidecar's last activity; empty for none). Records an older relay wrote lack
the last two: read as none. An activity that does not decode (written by a newer relay
with rules this one does not know) is read as none as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from relay.protocol import (
    Activity,
    AgentHello,
    AgentInfo,
    AgentInfoState,
    ProtocolError,
    decode_activity,
    encode_activity,
)

DEFAULT_PREFIX = "agent-relay"


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

    @property
    def agents(self) -> str:
        return f"{self.prefix}:agents"

    def agent(self, agent_id: str) -> str:
        return f"{self.prefix}:agent:{agent_id}"

    def out(self, agent_id: str) -> str:
        return f"{self.prefix}:out:{agent_id}"

    @property
    def out_prefix(self) -> str:
        return f"{self.prefix}:out:"

    @property
    def live(self) -> str:
        return f"{self.prefix}:live"

    @property
    def forget(self) -> str:
        return f"{self.prefix}:forget"

    @property
    def seq(self) -> str:
        return f"{self.prefix}:seq"

    @property
    def epoch(self) -> str:
        return f"{self.prefix}:epoch"

    @property
    def events(self) -> str:
        return f"{self.prefix}:events"

    @property
    def presence(self) -> str:
        return f"{self.prefix}:presence"

    def relay(self, relay_id: str) -> str:
        return f"{self.prefix}:relay:{relay_id}"

    def alive(self, relay_id: str) -> str:
        return f"{self.prefix}:relay:{relay_id}:alive"

    @property
    def sweep_lock(self) -> str:
        return f"{self.prefix}:lock:sweep"


@dataclass(frozen=True, slots=True)
class Record:
    """An agent record as read from Redis."""

    info: AgentInfo
    conn: str
    relay: str
    version: int
    start: int


def static_json(hello: AgentHello) -> str:
    """The fields of a hello that only the next hello changes."""
    return json.dumps(
        {
            "name": hello.name,
            "host": hello.host,
            "command": list(hello.command),
            "labels": dict(hello.labels),
            "started_at": hello.started_at,
            "local_terminal": hello.local_terminal,
        },
        separators=(",", ":"),
    )


def static_of(info: AgentInfo) -> str:
    return json.dumps(
        {
            "name": info.name,
            "host": info.host,
            "command": list(info.command),
            "labels": dict(info.labels),
            "started_at": info.started_at,
            "local_terminal": info.local_terminal,
        },
        separators=(",", ":"),
    )


def opt_activity(activity: Activity | None) -> str:
    return "" if activity is None else encode_activity(activity)


def activity_of(text: str) -> Activity | None:
    if not text:
        return None
    try:
        return decode_activity(text)
    except ProtocolError:
        return None


def opt_int(value: int | None) -> str:
    return "" if value is None else str(value)


def opt_num(value: float | None) -> str:
    return "" if value is None else num(value)


def num(value: float) -> str:
    """A float as Redis stores it: ``repr`` keeps every digit."""
    return repr(float(value))


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def decode_fields(raw: Any) -> dict[str, str]:
    """HGETALL's answer (a dict, or a flat list from Lua) as ``str -> str``."""
    if isinstance(raw, dict):
        return {_text(k): _text(v) for k, v in raw.items()}
    items = list(cast(list[object], raw))
    return {_text(items[i]): _text(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def record_from_fields(agent_id: str, fields: dict[str, str]) -> Record | None:
    """The record, or None when the hash holds no agent (missing or half-written)."""
    raw_static = fields.get("static")
    if not raw_static:
        return None
    static = json.loads(raw_static)
    exit_code = fields.get("exit_code", "")
    pid = fields.get("pid", "")
    since = fields.get("since", "")
    info = AgentInfo(
        agent_id=agent_id,
        name=str(static["name"]),
        host=str(static["host"]),
        command=tuple(str(a) for a in static["command"]),
        labels={str(k): str(v) for k, v in dict(static["labels"]).items()},
        pid=int(pid) if pid else None,
        cols=int(fields.get("cols", "80")),
        rows=int(fields.get("rows", "24")),
        started_at=float(static["started_at"]),
        state=cast(AgentInfoState, fields.get("state", "disconnected")),
        exit_code=int(exit_code) if exit_code else None,
        last_seen=float(fields.get("seen", "0")),
        offset=int(fields.get("end", "0")),
        state_since=float(since) if since else None,
        signal=fields.get("signal") or None,
        activity=activity_of(fields.get("activity", "")),
        local_terminal=_opt_bool(static.get("local_terminal")),
    )
    return Record(
        info=info,
        conn=fields.get("conn", ""),
        relay=fields.get("relay", ""),
        version=int(fields.get("v", "0")),
        start=int(fields.get("start", "0")),
    )


def _opt_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None
